//! Checkpoints (protocol.md §2.14) and forks (§2.15).
#![allow(clippy::unwrap_used)]

mod roster_support;

use debrief_protocol::Signer;
use debrief_protocol::envelope::Envelope;
use debrief_protocol::membership::RosterHistory;
use debrief_protocol::roster::{
    CheckpointStatus, EventBody, EventObservation, ForkProof, ForkStatus, MemberChange,
    QuorumAction, RosterError,
};
use roster_support::*;

/// Two different, validly signed events for seq 1: `ours` is appended, `theirs` is not.
fn forked() -> (Fixture, Envelope) {
    let mut f = Fixture::genesis();
    let ours = f.member_event(
        3,
        MemberChange::SetDenyTerms {
            terms: vec!["ours".into()],
        },
    );
    let theirs = f.member_event(
        3,
        MemberChange::SetDenyTerms {
            terms: vec!["theirs".into()],
        },
    );
    f.push(ours);
    (f, theirs)
}

#[test]
fn rule_2_14_checkpoints() {
    let (f, theirs) = forked();
    let r = &f.roster;
    let now = t(f.clock + 10);
    // A checkpoint of the head, and the same head re-issued later: both current.
    let cp = r
        .checkpoint(t(f.clock + 5), t(f.clock + 3_600))
        .sign(&key(1))
        .unwrap();
    assert_eq!(
        r.observe_checkpoint(&cp, now).unwrap().1,
        CheckpointStatus::Current
    );
    let again = r
        .checkpoint(t(f.clock + 9), t(f.clock + 7_200))
        .sign(&key(1))
        .unwrap();
    assert_eq!(
        r.observe_checkpoint(&again, now).unwrap().1,
        CheckpointStatus::Current
    );
    // An older checkpoint is behind; one beyond our head is ahead.
    let mut old = r.checkpoint(t(f.clock + 5), t(f.clock + 3_600));
    old.seq = 0;
    old.head = r.circle_id();
    assert_eq!(
        r.observe_checkpoint(&old.sign(&key(1)).unwrap(), now)
            .unwrap()
            .1,
        CheckpointStatus::Behind
    );
    let mut ahead = r.checkpoint(t(f.clock + 5), t(f.clock + 3_600));
    ahead.seq = 7;
    assert_eq!(
        r.observe_checkpoint(&ahead.sign(&key(1)).unwrap(), now)
            .unwrap()
            .1,
        CheckpointStatus::Ahead { seq: 7 }
    );
    // Freshness and checkpoint cadence follow the policy (24 h, 6 h by default).
    assert!(r.is_fresh(t(0), t(86_400)));
    assert!(!r.is_fresh(t(0), t(86_401)));
    assert!(r.checkpoint_due(None, t(0)));
    assert!(!r.checkpoint_due(Some(t(0)), t(21_599)));
    assert!(r.checkpoint_due(Some(t(0)), t(21_600)));
    // Refusals.
    let cases = [
        (
            r.checkpoint(t(f.clock + 5), t(f.clock + 8))
                .sign(&key(1))
                .unwrap(),
            "§2.14 checkpoint for seq 1 refused: expired on 2026-11-25T00:01:08Z",
        ),
        (
            r.checkpoint(t(f.clock + 5), t(f.clock + 5 + 3 * 86_400))
                .sign(&key(1))
                .unwrap(),
            "§2.14 checkpoint for seq 1 refused: valid for 259200 s, longer than the policy's checkpoint expiry of 172800 s",
        ),
        (
            r.checkpoint(t(f.clock + 5), t(f.clock + 3_600))
                .sign(&key(2))
                .unwrap(),
            "§2.14 checkpoint for seq 1 refused: not validly signed by the sequencer's key (no signature by a trusted key)",
        ),
        (
            r.checkpoint(t(f.clock + 500), t(f.clock + 3_600))
                .sign(&key(1))
                .unwrap(),
            "§2.14 checkpoint for seq 1 refused: at 2026-11-25T00:09:20Z is beyond this node's clock 2026-11-25T00:01:10Z",
        ),
    ];
    for (env, want) in cases {
        let err = r.observe_checkpoint(&env, now).unwrap_err();
        assert_eq!(err.rule(), "§2.14");
        assert_eq!(err.to_string(), want);
    }
    // A checkpoint naming the other branch's head is a fork.
    let mut fork_cp = r.checkpoint(t(f.clock + 5), t(f.clock + 3_600));
    fork_cp.head = theirs.id();
    let fork_cp = fork_cp.sign(&key(1)).unwrap();
    let CheckpointStatus::Fork(proof) = r.observe_checkpoint(&fork_cp, now).unwrap().1 else {
        panic!("expected a fork")
    };
    assert_eq!(proof.seq, 1);
    assert!(r.verify_fork_proof(&proof).is_ok());
}

#[test]
fn rule_2_15_fork_proofs_freeze_until_a_quorum_resolves_them() {
    let (mut f, theirs) = forked();
    let EventObservation::Fork(proof) = f.roster.observe_event(&theirs).unwrap() else {
        panic!("expected a fork")
    };
    assert_eq!(
        f.roster.observe_event(&f.log[1]).unwrap(),
        EventObservation::Known
    );
    // Anyone holding the sequencer key can check it; other keys cannot.
    assert_eq!(proof.verify(&[key(1).public_key()]).unwrap().len(), 2);
    let err = proof.verify(&[key(2).public_key()]).unwrap_err();
    assert_eq!(err.rule(), "§2.15");
    // Same head twice is no fork.
    let same = ForkProof::new(f.roster.circle_id(), 1, f.log[1].clone(), f.log[1].clone());
    assert_eq!(
        same.verify(&[key(1).public_key()]).unwrap_err().to_string(),
        format!(
            "§2.15 fork proof refused: both sides name head {} for seq 1",
            f.log[1].id()
        )
    );
    // Recording it freezes sharing.
    assert_eq!(
        f.roster.record_fork_proof(&proof).unwrap(),
        ForkStatus::Frozen
    );
    assert_eq!(
        f.roster.record_fork_proof(&proof).unwrap(),
        ForkStatus::AlreadyRecorded
    );
    assert!(f.roster.is_frozen());
    // The proof spreads as a signed object and round-trips.
    let spread = proof.sign(&key(3)).unwrap();
    let back: ForkProof = spread.unverified_payload().unwrap();
    assert_eq!(&back, proof.as_ref());

    let resolve = |signers: &[u8], member: u8| {
        let p = f.roster.propose(
            QuorumAction::SetSequencer {
                member: id(member),
                resolves: Some(proof.clone()),
            },
            t(f.clock + 86_400),
        );
        let mut env = p.sign(&key(signers[0])).unwrap();
        for s in &signers[1..] {
            env.add_signature(&key(*s)).unwrap();
        }
        f.roster
            .next_event(t(f.clock + 60), EventBody::SetSequencer { proposal: env })
            .sign(&key(member))
            .unwrap()
    };
    // The sequencer that forked neither counts towards the quorum nor is reappointed.
    let err = f.try_push(&resolve(&[1], 2)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "§2.12 roster event 2: 1 cosigning maintainer companies needed, got 0: the cosignature of {}, the sequencer that forked, does not count",
            id(1)
        )
    );
    assert_eq!(
        f.try_push(&resolve(&[2], 1)).unwrap_err(),
        RosterError::ActionRefused {
            seq: 2,
            reason: format!(
                "{} is the sequencer that forked; appoint another maintainer",
                id(1)
            ),
        }
    );
    // Maintainer 2 resolves it and signs the event as the new sequencer.
    let env = resolve(&[1, 2], 2);
    let mut frozen = f.roster.clone();
    f.push(env.clone());
    f.keys.insert(id(1), key(1));
    assert!(
        !f.roster.is_frozen(),
        "the resolved proof no longer freezes"
    );
    assert_eq!(f.roster.sequencer(), &id(2));
    assert_eq!(f.roster.resolved_forks().len(), 1);
    assert_eq!(
        f.roster.record_fork_proof(&proof).unwrap(),
        ForkStatus::Resolved
    );
    // The losing branch is refused from then on.
    assert_eq!(
        f.roster.observe_event(&theirs).unwrap_err(),
        RosterError::LosingBranch {
            seq: 1,
            resolved_at: 2
        }
    );
    let mut losing_cp = f.roster.checkpoint(t(f.clock), t(f.clock + 3_600));
    losing_cp.seq = 1;
    losing_cp.head = theirs.id();
    let err = f
        .roster
        .observe_checkpoint(&losing_cp.sign(&key(1)).unwrap(), t(f.clock))
        .unwrap_err();
    assert_eq!(
        err,
        RosterError::LosingBranch {
            seq: 1,
            resolved_at: 2
        }
    );
    // The old sequencer can no longer append.
    let e = f
        .roster
        .next_event(
            t(f.clock + 60),
            f.quorum_body(
                QuorumAction::SetRole {
                    member: id(3),
                    maintainer: true,
                },
                &[1, 2],
            ),
        )
        .sign(&key(1))
        .unwrap();
    assert_eq!(
        f.try_push(&e).unwrap_err(),
        RosterError::NotSequencer {
            seq: 3,
            sequencer: id(2)
        }
    );
    // A fold of the whole log gives the same result, and a frozen snapshot resumes.
    let r = debrief_protocol::roster::fold(&f.log, None).unwrap();
    assert_eq!(r.head(), f.roster.head());
    let mut b = debrief_protocol::roster::RosterBuilder::resume(frozen.clone(), None);
    b.append(&env).unwrap();
    assert!(!b.roster().unwrap().is_frozen());
    assert!(frozen.record_fork_proof(&proof).is_ok());
}
