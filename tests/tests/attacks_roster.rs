//! Attacks on a circle's roster (issue 17; protocol.md §2). Each test is one attacker's story:
//! a relay, an outsider, a removed member, a lone maintainer or the sequencer itself tries to
//! change who reads what, and the folded roster refuses with the exact rule, unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use debrief_protocol::bundle::BundleError;
use debrief_protocol::envelope::Signer;
use debrief_protocol::identity::IdentityCard;
use debrief_protocol::membership::RosterHistory;
use debrief_protocol::roster::{
    CheckpointStatus, EventBody, EventObservation, ForkStatus, JoinRequest, MemberChange, Policy,
    QuorumAction, QuorumProposal, RosterError, TipStatement, fold,
};
use debrief_protocol::{Envelope, EnvelopeId};
use debrief_tests::attack_kit::*;

fn endpoint(member: &debrief_keys::Identity, host: &str) -> MemberChange {
    MemberChange::SetEndpoint {
        endpoint: Some(format!("https://{host}.example.net:8443")),
        tls_spki_sha256: member.tls_spki_pin(),
    }
}

/// A circle three events past genesis: Echo admitted, then Delta and Charlie moved endpoints.
fn grown(cast: &Cast) -> (Circle, Circle) {
    let mut c = Circle::standard(cast);
    let admit = c.admit_event(
        &cast.acme,
        &cast.acme,
        &cast.echo,
        &[&cast.charlie, &cast.delta],
    );
    c.push(admit);
    let at_seq_1 = c.clone();
    for (who, host) in [(&cast.delta, "delta2"), (&cast.charlie, "charlie2")] {
        let change = endpoint(who, host);
        let req = c.request(who, change.clone());
        let e = c.event(&cast.acme, EventBody::for_member_request(&change, req));
        c.push(e);
    }
    (c, at_seq_1)
}

/// A relay serves an older roster: an old checkpoint and old events. The node holds seq 3 and
/// never goes back; a node that only ever saw the old log learns it is behind from the first
/// current checkpoint, and holds back bundles made against the newer head (protocol.md §2.4,
/// §2.14, §3.4).
#[test]
fn attack_roster_rollback() {
    let cast = Cast::new();
    let (circle, old) = grown(&cast);
    assert_eq!(circle.roster.head_seq(), 3);
    let now = at(circle.clock + 30);
    let old_cp = old
        .roster
        .checkpoint(at(old.clock + 10), at(old.clock + 3_600))
        .sign(&cast.acme)
        .unwrap();
    let (_, status) = circle.roster.observe_checkpoint(&old_cp, now).unwrap();
    assert_eq!(status, CheckpointStatus::Behind);
    // Old events replayed: already known, and never appended again.
    assert_eq!(
        circle.roster.observe_event(&circle.log[1]).unwrap(),
        EventObservation::Known
    );
    circle.refuses(
        &circle.log[1],
        RosterError::Seq {
            expected: 4,
            found: 1,
        },
        "§2.4",
    );
    // A node fed only the rolled-back log.
    let victim = fold(&circle.log[..2], Some(now)).unwrap();
    let current_cp = circle
        .roster
        .checkpoint(at(circle.clock + 10), at(circle.clock + 3_600))
        .sign(&cast.acme)
        .unwrap();
    let (_, status) = victim.observe_checkpoint(&current_cp, now).unwrap();
    assert_eq!(status, CheckpointStatus::Ahead { seq: 3 });
    let report = Share::report(&cast.delta, "Rollback drill")
        .seal(&circle.roster, now)
        .unwrap();
    let err = open_as(&report, &victim, &cast.charlie, now).unwrap_err();
    assert_eq!(err, BundleError::RosterBehind { stated: 3, have: 1 });
    assert_eq!(err.rule(), "§3.4");
    assert!(
        err.is_retryable(),
        "held back until the roster catches up, never accepted"
    );
}

/// A relay keeps serving the last checkpoint it saw, long after it expired, to hide newer
/// events (a freeze). The node refuses the stale checkpoint, its view goes stale, and it stops
/// sharing (protocol.md §2.14, §3.27).
#[test]
fn attack_roster_freeze() {
    let cast = Cast::new();
    let circle = Circle::standard(&cast);
    let policy = circle.roster.policy().clone();
    let issued = at(60);
    let expires = issued.plus_seconds(policy.checkpoint_expiry_secs as i64);
    let cp = circle
        .roster
        .checkpoint(issued, expires)
        .sign(&cast.acme)
        .unwrap();
    // While valid it is accepted.
    assert!(circle.roster.observe_checkpoint(&cp, at(120)).is_ok());
    let later = expires.plus_seconds(1);
    let err = circle.roster.observe_checkpoint(&cp, later).unwrap_err();
    assert_eq!(
        err,
        RosterError::Checkpoint {
            seq: 0,
            reason: format!("expired on {expires}"),
        }
    );
    assert_eq!(err.rule(), "§2.14");
    // The last confirmation is too old to share on.
    assert!(!circle.roster.is_fresh(issued, later));
    let err = debrief_protocol::bundle::seal(debrief_protocol::bundle::SealRequest {
        roster: &circle.roster,
        roster_fresh_as_of: issued,
        max_roster_age_secs: policy.max_roster_age_secs,
        author: cast.charlie.member_id(),
        signer: &cast.charlie,
        author_seq: 1,
        prev_link: None,
        bundle_id: debrief_protocol::bundle::BundleId([3; 16]),
        kind: debrief_protocol::bundle::BundleKind::Report,
        target: None,
        tlp: debrief_protocol::bundle::Tlp::Amber,
        named: vec![],
        body: debrief_protocol::bundle::BundleBody::Text("x".into()),
        now: later,
    })
    .unwrap_err();
    assert_eq!(
        err,
        BundleError::RosterStale {
            as_of: issued,
            max_age_secs: policy.max_roster_age_secs,
        }
    );
    assert_eq!(err.rule(), "§3.27");
}

/// Events past the real head: Charlie (not the sequencer) signs the next event; a relay skips
/// ahead to an event the node cannot chain; Charlie forges a checkpoint far ahead; a bundle
/// names a roster seq nobody holds (protocol.md §2.4, §2.5, §2.14, §3.4).
#[test]
fn attack_roster_fast_forward() {
    let cast = Cast::new();
    let (grown, _) = grown(&cast);
    let circle = Circle::standard(&cast);
    let change = endpoint(&cast.charlie, "charlie-evil");
    let req = circle.request(&cast.charlie, change.clone());
    let by_charlie = circle.event(&cast.charlie, EventBody::for_member_request(&change, req));
    circle.refuses(
        &by_charlie,
        RosterError::NotSequencer {
            seq: 1,
            sequencer: cast.acme.member_id(),
        },
        "§2.5",
    );
    // The genuine seq 3, served to a node at seq 0.
    assert_eq!(
        circle.roster.observe_event(&grown.log[3]).unwrap(),
        EventObservation::Ahead { seq: 3 }
    );
    circle.refuses(
        &grown.log[3],
        RosterError::Seq {
            expected: 1,
            found: 3,
        },
        "§2.4",
    );
    // Charlie's checkpoint for seq 9.
    let mut forged = circle.roster.checkpoint(at(60), at(3_600));
    forged.seq = 9;
    forged.head = EnvelopeId(debrief_protocol::Sha256Digest::of(b"nowhere"));
    let err = circle
        .roster
        .observe_checkpoint(&forged.sign(&cast.charlie).unwrap(), at(120))
        .unwrap_err();
    assert_eq!(
        err,
        RosterError::Checkpoint {
            seq: 9,
            reason: "not validly signed by the sequencer's key (no signature by a trusted key)"
                .into(),
        }
    );
    // A bundle claiming roster seq 9.
    let report = Share::report(&cast.charlie, "FF")
        .seal(&circle.roster, at(60))
        .unwrap();
    let mut h = header_json(&report);
    h["roster"]["seq"] = 9.into();
    let crafted = forge_bundle(&report, h, report.ciphertext().to_vec(), &cast.charlie);
    assert_refused(
        open_as(&crafted, &circle.roster, &cast.delta, at(61)),
        BundleError::RosterBehind { stated: 9, have: 0 },
        "§3.4",
    );
}

/// The sequencer shows one seq-1 event to Delta's node and another to Charlie's. Whoever sees
/// both holds a fork proof, records it, and stops sharing until a quorum resolves it
/// (protocol.md §2.15, §3.27).
#[test]
fn attack_sequencer_fork() {
    let cast = Cast::new();
    let circle = Circle::standard(&cast);
    let x = {
        let change = endpoint(&cast.delta, "delta-x");
        let req = circle.request(&cast.delta, change.clone());
        circle.event(&cast.acme, EventBody::for_member_request(&change, req))
    };
    let y = {
        let change = endpoint(&cast.charlie, "charlie-y");
        let req = circle.request(&cast.charlie, change.clone());
        circle.event(&cast.acme, EventBody::for_member_request(&change, req))
    };
    let mut delta_node = circle.clone();
    delta_node.push(x.clone());
    let EventObservation::Fork(proof) = delta_node.roster.observe_event(&y).unwrap() else {
        panic!("the second event for seq 1 must be a fork");
    };
    assert_eq!(proof.seq, 1);
    assert!(delta_node.roster.verify_fork_proof(&proof).is_ok());
    // A checkpoint naming the other branch is a fork too.
    let y_cp = debrief_protocol::roster::Checkpoint {
        circle: circle.roster.circle_id(),
        seq: 1,
        head: y.id(),
        at: at(70),
        expires: at(3_600),
    }
    .sign(&cast.acme)
    .unwrap();
    let (_, status) = delta_node.roster.observe_checkpoint(&y_cp, at(80)).unwrap();
    assert!(matches!(status, CheckpointStatus::Fork(_)), "{status:?}");
    // The other branch is never appended.
    delta_node.refuses(
        &y,
        RosterError::Seq {
            expected: 2,
            found: 1,
        },
        "§2.4",
    );
    let mut frozen = delta_node.roster.clone();
    assert_eq!(frozen.record_fork_proof(&proof), Ok(ForkStatus::Frozen));
    assert!(frozen.is_frozen());
    let err = Share::report(&cast.delta, "during fork")
        .seal(&frozen, at(90))
        .unwrap_err();
    assert_eq!(err, BundleError::RosterFrozen);
    assert_eq!(err.rule(), "§3.27");
}

/// Acme is a maintainer and the sequencer. Alone, it tries to remove Charlie, promote Delta,
/// and lower the vouch threshold; it recruits Charlie (not a maintainer) to cosign. Each needs
/// two maintainer companies (protocol.md §2.12).
#[test]
fn attack_lone_maintainer_acting_without_quorum() {
    let cast = Cast::new();
    let circle = Circle::standard(&cast);
    let lowered = Policy {
        vouches: 1,
        maintainer_quorum: 1,
        ..Policy::default()
    };
    for action in [
        QuorumAction::Remove {
            member: cast.charlie.member_id(),
            reason: "I said so".into(),
        },
        QuorumAction::SetRole {
            member: cast.delta.member_id(),
            maintainer: true,
        },
        QuorumAction::ChangePolicy { policy: lowered },
    ] {
        let alone = circle.proposal(action.clone(), &[&cast.acme]);
        circle.refuses(
            &circle.event(&cast.acme, Circle::quorum_body(alone, &action)),
            RosterError::QuorumNotMet {
                seq: 1,
                needed: 2,
                got: 1,
                reasons: vec![],
            },
            "§2.12",
        );
        let with_charlie = circle.proposal(action.clone(), &[&cast.acme, &cast.charlie]);
        circle.refuses(
            &circle.event(&cast.acme, Circle::quorum_body(with_charlie, &action)),
            RosterError::QuorumNotMet {
                seq: 1,
                needed: 2,
                got: 1,
                reasons: vec![format!(
                    "the signature by key {} is not by a current maintainer's key",
                    &cast.charlie.signing_key_id().to_hex()[..16]
                )],
            },
            "§2.12",
        );
    }
    assert_eq!(circle.roster.members().count(), 4);
}

/// Acme, sequencer and maintainer, wants to read Delta's traffic: it points Delta's endpoint at
/// its own host, swaps Delta's encryption key and signing key for ones it holds, and tries a
/// key replacement alone. Only Delta's own signature changes Delta's entry (protocol.md §2.10,
/// §2.11, §2.12).
#[test]
fn attack_maintainer_changes_member_keys_or_endpoint() {
    let cast = Cast::new();
    let circle = Circle::standard(&cast);
    let mallory = company(66, "Mallory Holdings");
    let delta = cast.delta.member_id();
    let by_acme = |change: MemberChange| {
        let req = circle
            .roster
            .member_request(&delta, change.clone(), at(86_400))
            .sign(&cast.acme)
            .unwrap();
        circle.event(&cast.acme, EventBody::for_member_request(&change, req))
    };
    for change in [
        MemberChange::SetEndpoint {
            endpoint: Some("https://acme-mitm.example.net:8443".into()),
            tls_spki_sha256: cast.acme.tls_spki_pin(),
        },
        MemberChange::SetEncKey {
            enc_recipient: mallory.enc_recipient().to_string(),
        },
        MemberChange::Leave {
            chain_tip: TipStatement::EMPTY,
        },
    ] {
        circle.refuses(
            &by_acme(change),
            RosterError::RequestNotByMember {
                seq: 1,
                member: delta.clone(),
            },
            "§2.10",
        );
    }
    // A rotation to a key Acme holds, signed by Acme and the new key (not by Delta's old key).
    let change = MemberChange::RotateSigningKey {
        new_key: mallory.signing_public_key(),
        chain_tip: TipStatement::EMPTY,
    };
    let req = circle
        .roster
        .member_request(&delta, change.clone(), at(86_400))
        .sign_rotation(&cast.acme, &mallory)
        .unwrap();
    circle.refuses(
        &circle.event(&cast.acme, EventBody::for_member_request(&change, req)),
        RosterError::RotationSignatures {
            seq: 1,
            member: delta.clone(),
        },
        "§2.11",
    );
    // Key replacement (recovery) alone: a card with Delta's member id and Mallory's keys.
    let card = IdentityCard {
        member: delta.clone(),
        org: "Delta GmbH".into(),
        profile: mallory.profile().clone(),
        first_signing_key: cast.delta.first_signing_key(),
        signing_key: mallory.signing_public_key(),
        enc_recipient: mallory.enc_recipient().to_string(),
        tls_spki_sha256: mallory.tls_spki_pin(),
        endpoint: None,
        created_at: at(0),
    }
    .sign(&mallory)
    .unwrap();
    let action = QuorumAction::ReplaceKeys {
        member: delta.clone(),
        card,
    };
    let alone = circle.proposal(action.clone(), &[&cast.acme]);
    circle.refuses(
        &circle.event(&cast.acme, Circle::quorum_body(alone, &action)),
        RosterError::QuorumNotMet {
            seq: 1,
            needed: 2,
            got: 1,
            reasons: vec![],
        },
        "§2.12",
    );
    let m = circle.roster.member(&delta).unwrap();
    assert_eq!(m.signing_key, cast.delta.signing_public_key());
    assert_eq!(m.enc_recipient, cast.delta.enc_recipient().to_string());
}

/// Charlie was removed by a quorum; it still vouches for its friend Echo. Only current members'
/// vouches count (protocol.md §2.7, §2.13).
#[test]
fn attack_removed_member_vouches() {
    let cast = Cast::new();
    let mut circle = Circle::standard(&cast);
    let action = QuorumAction::Remove {
        member: cast.charlie.member_id(),
        reason: "left the industry".into(),
    };
    let p = circle.proposal(action.clone(), &[&cast.acme, &cast.bravo]);
    let e = circle.event(&cast.acme, Circle::quorum_body(p, &action));
    circle.push(e);
    let admit = circle.admit_event(
        &cast.acme,
        &cast.acme,
        &cast.echo,
        &[&cast.charlie, &cast.delta],
    );
    circle.refuses(
        &admit,
        RosterError::VouchThreshold {
            seq: 2,
            needed: 2,
            got: 1,
            reasons: vec![format!(
                "the vouch from {}: it was removed at roster seq 1",
                cast.charlie.member_id()
            )],
        },
        "§2.7",
    );
    assert!(circle.roster.member(&cast.echo.member_id()).is_none());
}

/// Delta signs two vouches for Echo (different wording, different envelopes) to reach the
/// threshold of two alone. A threshold counts companies (protocol.md §1.8, §2.7).
#[test]
fn attack_two_vouches_one_company() {
    let cast = Cast::new();
    let mut circle = Circle::standard(&cast);
    let (token, invite) = circle.invite(&cast.acme);
    let jr = circle.join_request(&cast.echo, &token);
    let vouch = |reason: &str| {
        circle
            .roster
            .vouch(
                &cast.delta.member_id(),
                jr.id(),
                at(0),
                at(86_400),
                reason.into(),
            )
            .sign(&cast.delta)
            .unwrap()
    };
    let (v1, v2) = (vouch("great team"), vouch("really great team"));
    assert_ne!(v1.id(), v2.id());
    let admit = circle.event(
        &cast.acme,
        EventBody::Admit {
            invite,
            join_request: jr,
            vouches: vec![v1, v2],
        },
    );
    circle.refuses(
        &admit,
        RosterError::VouchThreshold {
            seq: 1,
            needed: 2,
            got: 1,
            reasons: vec![format!(
                "the vouch from {} repeats a company already counted",
                cast.delta.member_id()
            )],
        },
        "§2.7",
    );
}

/// Echo, the candidate, vouches for itself (protocol.md §2.7).
#[test]
fn attack_self_vouch() {
    let cast = Cast::new();
    let mut circle = Circle::standard(&cast);
    let (token, invite) = circle.invite(&cast.acme);
    let jr = circle.join_request(&cast.echo, &token);
    let own = circle
        .roster
        .vouch(
            &cast.echo.member_id(),
            jr.id(),
            at(0),
            at(86_400),
            "trust me".into(),
        )
        .sign(&cast.echo)
        .unwrap();
    let delta = circle.vouch(&cast.delta, jr.id());
    let admit = circle.event(
        &cast.acme,
        EventBody::Admit {
            invite,
            join_request: jr,
            vouches: vec![own, delta],
        },
    );
    circle.refuses(
        &admit,
        RosterError::VouchThreshold {
            seq: 1,
            needed: 2,
            got: 1,
            reasons: vec![format!(
                "the vouch from {} is the candidate's own",
                cast.echo.member_id()
            )],
        },
        "§2.7",
    );
}

/// Delta moved its endpoint, then its encryption key. The sequencer (or anyone who kept the
/// bytes) re-applies Delta's old endpoint request, and later an expired one (protocol.md §2.10).
#[test]
fn attack_member_request_replayed() {
    let cast = Cast::new();
    let mut circle = Circle::standard(&cast);
    let old = endpoint(&cast.delta, "delta-old");
    let old_req = circle.request(&cast.delta, old.clone());
    let e = circle.event(
        &cast.acme,
        EventBody::for_member_request(&old, old_req.clone()),
    );
    circle.push(e);
    let new = endpoint(&cast.delta, "delta-new");
    let req = circle.request(&cast.delta, new.clone());
    let e = circle.event(&cast.acme, EventBody::for_member_request(&new, req));
    circle.push(e);
    let replay = circle.event(&cast.acme, EventBody::for_member_request(&old, old_req));
    circle.refuses(
        &replay,
        RosterError::CounterNotIncreasing {
            seq: 3,
            member: cast.delta.member_id(),
            last: 2,
            got: 1,
        },
        "§2.10",
    );
    // A request signed with a fresh counter but held back until it expired.
    let change = MemberChange::SetEncKey {
        enc_recipient: cast.delta.enc_recipient().to_string(),
    };
    let expires = at(circle.clock + 600);
    let late = circle
        .roster
        .member_request(&cast.delta.member_id(), change.clone(), expires)
        .sign(&cast.delta)
        .unwrap();
    let e = circle.event_at(
        &cast.acme,
        EventBody::for_member_request(&change, late),
        circle.clock + 600,
    );
    let err = circle.offer(&e, at(circle.clock + 700)).unwrap_err();
    assert_eq!(
        err,
        RosterError::RequestExpired {
            seq: 3,
            member: cast.delta.member_id(),
            expires,
            at: expires,
        }
    );
    assert_eq!(err.rule(), "§2.10");
    assert_eq!(
        circle
            .roster
            .member(&cast.delta.member_id())
            .unwrap()
            .endpoint
            .as_deref(),
        Some("https://delta-new.example.net:8443")
    );
}

/// The sequencer dates an event before the head (to slip it under a vouch's or proposal's
/// expiry), or far in the future (protocol.md §2.6).
#[test]
fn attack_backdated_or_future_at() {
    let cast = Cast::new();
    let circle = Circle::standard(&cast);
    let body = || {
        let change = endpoint(&cast.delta, "delta-t");
        EventBody::for_member_request(&change, circle.request(&cast.delta, change.clone()))
    };
    for offset in [-3_600, 0] {
        circle.refuses(
            &circle.event_at(&cast.acme, body(), offset),
            RosterError::AtNotIncreasing {
                seq: 1,
                at: at(offset),
                prev_at: at(0),
            },
            "§2.6",
        );
    }
    let now = at(1_000);
    let future = circle.event_at(&cast.acme, body(), 1_000 + 121);
    let err = circle.offer(&future, now).unwrap_err();
    assert_eq!(
        err,
        RosterError::AtInFuture {
            seq: 1,
            at: at(1_121),
            now,
            skew_secs: 120,
        }
    );
    assert_eq!(err.rule(), "§2.6");
    // Within the allowed skew it is accepted.
    assert_eq!(
        circle.offer(&circle.event_at(&cast.acme, body(), 1_120), now),
        Ok(())
    );
}

/// Acme tries to get a second seat (and a second vote in every "distinct companies" count) by
/// applying under a fresh identity with its name spelled differently (protocol.md §2.8).
#[test]
fn attack_second_member_for_existing_company() {
    let cast = Cast::new();
    let mut circle = Circle::standard(&cast);
    let sock = company(77, "ACME corp.");
    let admit = circle.admit_event(
        &cast.acme,
        &cast.bravo,
        &sock,
        &[&cast.charlie, &cast.delta],
    );
    circle.refuses(
        &admit,
        RosterError::SameCompany {
            seq: 1,
            candidate: sock.member_id(),
            org: "ACME corp.".into(),
            existing: cast.acme.member_id(),
        },
        "§2.8",
    );
}

/// Acme and Bravo once agreed to promote Delta. Acme reuses that cosigned proposal: after it
/// expired, from another circle, against a branch the circle never took, and a second time after
/// it was applied (protocol.md §2.4, §2.12).
#[test]
fn attack_quorum_proposal_reused() {
    let cast = Cast::new();
    let mut circle = Circle::standard(&cast);
    let action = QuorumAction::SetRole {
        member: cast.delta.member_id(),
        maintainer: true,
    };
    // Expired: valid a day, sequenced a day later.
    let p = circle.proposal(action.clone(), &[&cast.acme, &cast.bravo]);
    let late = circle.event_at(&cast.acme, Circle::quorum_body(p.clone(), &action), 86_400);
    let err = circle.offer(&late, at(86_500)).unwrap_err();
    assert_eq!(
        err,
        RosterError::ProposalExpired {
            seq: 1,
            expires: at(86_400),
            at: at(86_400),
        }
    );
    assert_eq!(err.rule(), "§2.12");
    // From another circle where Acme and Bravo also maintain.
    let other = Circle::found(
        "Another circle",
        &[&cast.acme, &cast.bravo],
        &[&cast.delta],
        Policy::default(),
    );
    let foreign = other.proposal(action.clone(), &[&cast.acme, &cast.bravo]);
    circle.refuses(
        &circle.event(&cast.acme, Circle::quorum_body(foreign, &action)),
        RosterError::Circle {
            seq: 1,
            object: "quorum proposal".into(),
            expected: circle.roster.circle_id(),
            found: Some(other.roster.circle_id()),
        },
        "§2.4",
    );
    // Against a branch: the sequencer signed two seq-1 events; the circle took x.
    let branch_event = |host: &str| {
        let change = endpoint(&cast.charlie, host);
        let req = circle.request(&cast.charlie, change.clone());
        circle.event(&cast.acme, EventBody::for_member_request(&change, req))
    };
    let (x, y) = (branch_event("charlie-x"), branch_event("charlie-y"));
    let mut taken = circle.clone();
    taken.push(x);
    let on_y = QuorumProposal {
        circle: circle.roster.circle_id(),
        base_seq: 1,
        base_head: y.id(),
        expires: at(86_400),
        action: action.clone(),
    };
    let mut env = on_y.sign(&cast.acme).unwrap();
    debrief_protocol::roster::cosign(&mut env, &cast.bravo).unwrap();
    taken.refuses(
        &taken.event(&cast.acme, Circle::quorum_body(env, &action)),
        RosterError::ProposalBase {
            seq: 2,
            base_seq: 1,
            reason: format!(
                "names head {}, which is not this roster's event at that seq",
                y.id()
            ),
        },
        "§2.12",
    );
    // Applied once, then replayed to undo a later demotion.
    circle.push(circle.event(&cast.acme, Circle::quorum_body(p.clone(), &action)));
    let demote = QuorumAction::SetRole {
        member: cast.delta.member_id(),
        maintainer: false,
    };
    let d = circle.proposal(demote.clone(), &[&cast.acme, &cast.bravo, &cast.delta]);
    circle.push(circle.event(&cast.acme, Circle::quorum_body(d, &demote)));
    circle.refuses(
        &circle.event(&cast.acme, Circle::quorum_body(p.clone(), &action)),
        RosterError::ProposalReused {
            seq: 3,
            proposal: p.id(),
        },
        "§2.12",
    );
    assert!(
        !circle
            .roster
            .member(&cast.delta.member_id())
            .unwrap()
            .maintainer
    );
}

/// Echo got an invite from Acme. It stretches the invite's expiry, uses one Charlie (not a
/// maintainer) wrote, uses it after it expired, and a second candidate reuses Echo's token
/// (protocol.md §2.8).
#[test]
fn attack_tampered_or_expired_invite() {
    let cast = Cast::new();
    let mut circle = Circle::standard(&cast);
    let (token, invite) = circle.invite(&cast.acme);
    let jr = circle.join_request(&cast.echo, &token);
    // Tampered: expiry pushed out a year, Acme's signature kept.
    let mut claim: serde_json::Value = invite.unverified_payload().unwrap();
    claim["expires"] = serde_json::json!("2027-12-01T00:00:00Z");
    let stretched = with_payload(&invite, canonical_bytes(&claim));
    let expected = RosterError::Envelope {
        seq: 1,
        object: "invite".into(),
        source: debrief_protocol::EnvelopeError::BadSignature(cast.acme.signing_key_id()),
    };
    assert_eq!(
        circle
            .roster
            .check_join(&stretched, &jr, at(60))
            .unwrap_err(),
        expected
    );
    let vouches = vec![
        circle.vouch(&cast.charlie, jr.id()),
        circle.vouch(&cast.delta, jr.id()),
    ];
    circle.refuses(
        &circle.event(
            &cast.acme,
            EventBody::Admit {
                invite: stretched,
                join_request: jr.clone(),
                vouches: vouches.clone(),
            },
        ),
        expected,
        "§2.1",
    );
    // Issued by a non-maintainer.
    let (token_c, by_charlie) = circle.invite(&cast.charlie);
    let jr_c = circle.join_request(&cast.echo, &token_c);
    assert_eq!(
        circle
            .roster
            .check_join(&by_charlie, &jr_c, at(60))
            .unwrap_err(),
        RosterError::Invite {
            seq: 1,
            reason: format!(
                "issued by {}, who is not a maintainer",
                cast.charlie.member_id()
            ),
        }
    );
    // Expired at the node that receives the join request.
    let expires: serde_json::Value = invite.unverified_payload().unwrap();
    let expires = debrief_protocol::Timestamp::parse(expires["expires"].as_str().unwrap()).unwrap();
    let err = circle.roster.check_join(&invite, &jr, expires).unwrap_err();
    assert_eq!(
        err,
        RosterError::Invite {
            seq: 1,
            reason: format!("it expired on {expires}"),
        }
    );
    assert_eq!(err.rule(), "§2.8");
    // Used once; the token cannot admit a second candidate.
    circle.push(circle.event(
        &cast.acme,
        EventBody::Admit {
            invite: invite.clone(),
            join_request: jr,
            vouches,
        },
    ));
    let second = company(88, "Foxtrot BV");
    let jr2 = circle.join_request(&second, &token);
    circle.refuses(
        &circle.event(
            &cast.acme,
            EventBody::Admit {
                invite,
                join_request: jr2,
                vouches: vec![],
            },
        ),
        RosterError::Invite {
            seq: 2,
            reason: "its one-time token was already used by an earlier admit".into(),
        },
        "§2.8",
    );
}

/// Foxtrot saw Echo's invite (it carries only the token's hash) and posts a join request with
/// a token of its own making (protocol.md §2.8; the HTTP route is tested next round).
#[test]
fn attack_join_without_a_valid_token() {
    let cast = Cast::new();
    let mut circle = Circle::standard(&cast);
    let (_token, invite) = circle.invite(&cast.acme);
    let foxtrot = company(88, "Foxtrot BV");
    let guessed = debrief_protocol::roster::InviteToken::from_bytes([0x42; 32]);
    let jr: Envelope = JoinRequest {
        circle: circle.roster.circle_id(),
        card: foxtrot.signed_card(None, at(0)).unwrap(),
        charter_sha256: circle.roster.charter_sha256(),
        invite_token: guessed.to_hex(),
        rotations: Vec::new(),
    }
    .sign(&foxtrot)
    .unwrap();
    let err = circle.roster.check_join(&invite, &jr, at(60)).unwrap_err();
    assert_eq!(
        err,
        RosterError::JoinRequest {
            seq: 1,
            reason: "its invite token does not match the embedded invite".into(),
        }
    );
    assert_eq!(err.rule(), "§2.8");
    let _ = foxtrot.public_key();
}

/// Mallory reads Echo's public identity card in another circle and applies to this one as
/// Echo: a card with Echo's member id and first signing key (both public), Echo's name, and
/// Mallory's own keys, self-signed by Mallory. The member id is what sponsors read aloud to
/// check who they vouch for, so the candidate must prove it: its card's signing key is the key
/// the member id derives from, or is reached from it by the candidate's own rotation
/// statements, each signed by the old and the new key (protocol.md §1.11, §2.8).
#[test]
fn attack_claimed_member_id_without_its_key() {
    let cast = Cast::new();
    let mut circle = Circle::standard(&cast);
    let mallory = company(66, "Mallory Holdings");
    let (token, invite) = circle.invite(&cast.acme);
    let posing = IdentityCard {
        member: cast.echo.member_id(),
        org: cast.echo.org().into(),
        profile: cast.echo.profile().clone(),
        first_signing_key: cast.echo.first_signing_key(),
        signing_key: mallory.signing_public_key(),
        enc_recipient: mallory.enc_recipient().to_string(),
        tls_spki_sha256: mallory.tls_spki_pin(),
        endpoint: None,
        created_at: at(0),
    }
    .sign(&mallory)
    .unwrap();
    let jr = JoinRequest {
        circle: circle.roster.circle_id(),
        card: posing.clone(),
        charter_sha256: circle.roster.charter_sha256(),
        invite_token: token.to_hex(),
        rotations: Vec::new(),
    }
    .sign(&mallory)
    .unwrap();
    let expected = RosterError::JoinRequest {
        seq: 1,
        reason: "the card's signing key is neither the key its member id derives from nor \
                 reached from it by the rotation statements given"
            .into(),
    };
    assert_eq!(
        circle.roster.check_join(&invite, &jr, at(60)).unwrap_err(),
        expected
    );
    let vouches = vec![
        circle.vouch(&cast.charlie, jr.id()),
        circle.vouch(&cast.delta, jr.id()),
    ];
    let admit = circle.event(
        &cast.acme,
        EventBody::Admit {
            invite: invite.clone(),
            join_request: jr,
            vouches,
        },
    );
    circle.refuses(&admit, expected, "§2.8");
    // A rotation statement Mallory signs itself does not help: it needs Echo's first key.
    let forged_rotation = debrief_protocol::rotation::KeyRotation {
        member: cast.echo.member_id(),
        old_signing_key: cast.echo.first_signing_key(),
        new_signing_key: mallory.signing_public_key(),
        new_enc_recipient: mallory.enc_recipient().to_string(),
        at: at(0),
    };
    let mut env = Envelope::sign(
        &forged_rotation,
        debrief_protocol::PayloadType::KeyRotation,
        &mallory,
    )
    .unwrap();
    env.add_signature(&company(67, "Another")).unwrap();
    let jr = JoinRequest {
        circle: circle.roster.circle_id(),
        card: posing,
        charter_sha256: circle.roster.charter_sha256(),
        invite_token: token.to_hex(),
        rotations: vec![env],
    }
    .sign(&mallory)
    .unwrap();
    let err = circle.roster.check_join(&invite, &jr, at(60)).unwrap_err();
    assert!(
        matches!(&err, RosterError::JoinRequest { seq: 1, reason } if reason.starts_with("rotation statement 1 does not continue the key chain")),
        "{err:?}"
    );
    // The real Echo, who rotated its keys before joining, proves its id with its statement.
    let mut echo = company(5, "Echo SA");
    let statement = echo
        .rotate(
            &mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(55),
            at(10),
        )
        .unwrap();
    let mut claim = own_join_request(&circle, &echo, &token);
    claim.rotations = vec![statement];
    let jr = claim.sign(&echo).unwrap();
    assert!(circle.roster.check_join(&invite, &jr, at(60)).is_ok());
    let vouches = vec![
        circle.vouch(&cast.charlie, jr.id()),
        circle.vouch(&cast.delta, jr.id()),
    ];
    circle.push(circle.event(
        &cast.acme,
        EventBody::Admit {
            invite,
            join_request: jr,
            vouches,
        },
    ));
    assert_eq!(
        circle
            .roster
            .member(&cast.echo.member_id())
            .unwrap()
            .signing_key,
        echo.signing_public_key()
    );
}

/// The join request `candidate` posts with its own current card.
fn own_join_request(
    circle: &Circle,
    candidate: &debrief_keys::Identity,
    token: &debrief_protocol::roster::InviteToken,
) -> JoinRequest {
    JoinRequest {
        circle: circle.roster.circle_id(),
        card: candidate.signed_card(None, at(0)).unwrap(),
        charter_sha256: circle.roster.charter_sha256(),
        invite_token: token.to_hex(),
        rotations: Vec::new(),
    }
}
