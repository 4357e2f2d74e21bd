//! Property tests of the fold (protocol.md §2): replay from any snapshot gives the same roster;
//! reordering, dropping, duplicating or altering events is refused with the rule that broke;
//! vouch thresholds count distinct current member companies only.
#![allow(clippy::unwrap_used)]

mod roster_support;

use std::sync::OnceLock;

use debrief_protocol::Signer;
use debrief_protocol::envelope::{Envelope, EnvelopeError};
use debrief_protocol::membership::RosterHistory;
use debrief_protocol::roster::{
    EventBody, MemberChange, QuorumAction, Roster, RosterBuilder, RosterError, RosterEvent,
    TipStatement, fold,
};
use proptest::prelude::*;
use roster_support::*;

fn log() -> &'static Fixture {
    static LOG: OnceLock<Fixture> = OnceLock::new();
    LOG.get_or_init(standard_log)
}

/// Everything the history answers, for comparing two rosters.
fn fingerprint(r: &Roster) -> String {
    let mut out = format!("{:?} {:?} {:?}\n", r.head(), r.sequencer(), r.policy());
    for seq in 0..=r.head_seq() {
        out.push_str(&format!(
            "{seq}: {:?} {:?}\n",
            r.event_id_at(seq),
            r.members_at(seq)
        ));
    }
    for m in r.members() {
        out.push_str(&format!("{m:?}\n"));
    }
    out
}

#[test]
fn replay_from_every_snapshot_gives_the_same_roster() {
    let f = log();
    let whole = fold(&f.log, None).unwrap();
    let want = fingerprint(&whole);
    assert_eq!(fingerprint(&f.roster), want);
    for k in 1..f.log.len() {
        let snapshot = fold(&f.log[..k], None).unwrap();
        let mut b = RosterBuilder::resume(snapshot, None);
        for env in &f.log[k..] {
            b.append(env).unwrap();
        }
        assert_eq!(
            fingerprint(&b.finish().unwrap()),
            want,
            "resumed after {k} events"
        );
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Drop(usize),
    Duplicate(usize),
    Swap(usize),
    FlipSignatureBit(usize, usize),
    FlipPayloadByte(usize, usize),
    ResignWithLaterAt(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // Events 1..=12; the last one cannot be "dropped" (a prefix is a valid, shorter log).
    prop_oneof![
        (1usize..12).prop_map(Mutation::Drop),
        (1usize..13).prop_map(Mutation::Duplicate),
        (1usize..12).prop_map(Mutation::Swap),
        (1usize..13, 0usize..512).prop_map(|(i, b)| Mutation::FlipSignatureBit(i, b)),
        (1usize..13, 0usize..10_000).prop_map(|(i, b)| Mutation::FlipPayloadByte(i, b)),
        (1usize..12).prop_map(Mutation::ResignWithLaterAt),
    ]
}

fn apply(m: &Mutation, log: &[Envelope]) -> Vec<Envelope> {
    let mut out = log.to_vec();
    match *m {
        Mutation::Drop(i) => {
            out.remove(i);
        }
        Mutation::Duplicate(i) => out.insert(i + 1, log[i].clone()),
        Mutation::Swap(i) => out.swap(i, i + 1),
        Mutation::FlipSignatureBit(i, bit) => {
            let e = &log[i];
            let mut sigs = e.signatures().to_vec();
            sigs[0].sig[bit / 8] ^= 1 << (bit % 8);
            out[i] = Envelope::from_parts(e.payload_type().into(), e.payload().into(), sigs);
        }
        Mutation::FlipPayloadByte(i, at) => {
            let e = &log[i];
            let mut payload = e.payload().to_vec();
            let at = at % payload.len();
            payload[at] ^= 0x01;
            out[i] =
                Envelope::from_parts(e.payload_type().into(), payload, e.signatures().to_vec());
        }
        Mutation::ResignWithLaterAt(i) => {
            let mut ev: RosterEvent = log[i].unverified_payload().unwrap();
            ev.at = ev.at.plus_seconds(1);
            // Signed by whichever key sequenced it (2 from seq 11 on).
            let signer = if i >= 11 { key(2) } else { key(1) };
            out[i] = ev.sign(&signer).unwrap();
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_mutation_is_refused_with_the_rule_that_broke(m in mutation()) {
        let f = log();
        let err = fold(&apply(&m, &f.log), None).unwrap_err();
        let seq = |e: &RosterError| match e {
            RosterError::Seq { expected, found } => Some((*expected, *found)),
            _ => None,
        };
        match m {
            Mutation::Drop(i) => {
                prop_assert_eq!(seq(&err), Some((i as u64, i as u64 + 1)));
            }
            Mutation::Duplicate(i) => {
                prop_assert_eq!(seq(&err), Some((i as u64 + 1, i as u64)));
            }
            Mutation::Swap(i) => {
                prop_assert_eq!(seq(&err), Some((i as u64, i as u64 + 1)));
            }
            Mutation::FlipSignatureBit(i, _) => {
                // verify_strict refuses any changed bit of the signature, at event i.
                let ok = matches!(
                    &err,
                    RosterError::Envelope { seq, source: EnvelopeError::BadSignature(_), .. }
                        if *seq == i as u64
                );
                prop_assert!(ok, "{}", err);
            }
            Mutation::FlipPayloadByte(i, _) => {
                // Refused at event i, before or at the signature check: unreadable (§2.1),
                // a different seq read before verifying (§2.4), or a bad signature (§2.1).
                let ok = match &err {
                    RosterError::Envelope { seq, .. } => *seq == i as u64,
                    RosterError::Seq { expected, .. } => *expected == i as u64,
                    RosterError::NotSequencer { seq, .. } => *seq == i as u64,
                    _ => false,
                };
                prop_assert!(ok, "{}", err);
            }
            Mutation::ResignWithLaterAt(i) => {
                // The altered event is validly signed, but the next one no longer chains to it.
                let ok = matches!(&err, RosterError::Prev { seq, .. } if *seq == i as u64 + 1);
                prop_assert!(ok, "{}", err);
            }
        }
        prop_assert!(err.rule() == "§2.1" || err.rule() == "§2.4" || err.rule() == "§2.5");
    }
}

/// A circle where 1, 2 (maintainers), 3 and 4 (rotated to key 14) are current members and 5
/// was removed; candidate 6 asks to join.
fn vouch_setup() -> &'static Fixture {
    static SETUP: OnceLock<Fixture> = OnceLock::new();
    SETUP.get_or_init(|| {
        let mut f = Fixture::genesis();
        f.admit(1, 4, "Delta GmbH", &[2, 3]);
        f.admit(1, 5, "Echo AB", &[2, 3]);
        let e = f.member_event(
            4,
            MemberChange::RotateSigningKey {
                new_key: key(14).public_key(),
                chain_tip: TipStatement::EMPTY,
            },
        );
        f.push(e);
        f.keys.insert(id(4), key(14));
        let b = f.quorum_body(
            QuorumAction::Remove {
                member: id(5),
                reason: "r".into(),
            },
            &[1, 2],
        );
        let e = f.event(b);
        f.push(e);
        f
    })
}

#[derive(Debug, Clone, Copy)]
enum VouchKind {
    /// Valid, by current member n (1, 2, 3 or 4 with its current key).
    Valid(u8),
    /// By 4 under its retired key.
    OldKey,
    /// By 5, removed.
    Removed,
    /// By 3, already expired at the event.
    Expired,
    /// By the candidate itself.
    Own,
}

fn vouch_kind() -> impl Strategy<Value = VouchKind> {
    prop_oneof![
        (1u8..=4).prop_map(VouchKind::Valid),
        Just(VouchKind::OldKey),
        Just(VouchKind::Removed),
        Just(VouchKind::Expired),
        Just(VouchKind::Own),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn vouch_threshold_counts_distinct_current_companies(kinds in prop::collection::vec(vouch_kind(), 0..7)) {
        let mut f = vouch_setup().clone();
        let (invite, jr) = f.join(1, 6, "Foxtrot Oy");
        let c = f.clock;
        let vouches: Vec<Envelope> = kinds
            .iter()
            .map(|k| {
                let (sponsor, signer, expires) = match k {
                    VouchKind::Valid(n) => (*n, f.key_of(*n), c + 3_600),
                    VouchKind::OldKey => (4, key(4), c + 3_600),
                    VouchKind::Removed => (5, key(5), c + 3_600),
                    VouchKind::Expired => (3, key(3), c + 30),
                    VouchKind::Own => (6, key(6), c + 3_600),
                };
                f.roster
                    .vouch(&id(sponsor), jr.id(), t(c), t(expires), "p".into())
                    .sign(&signer)
                    .unwrap()
            })
            .collect();
        let mut distinct: Vec<u8> = kinds
            .iter()
            .filter_map(|k| if let VouchKind::Valid(n) = k { Some(*n) } else { None })
            .collect();
        distinct.sort_unstable();
        distinct.dedup();
        let count = f.roster.count_vouches(jr.id(), &id(6), &vouches, t(c + 60));
        prop_assert_eq!(count.counted.len(), distinct.len());
        prop_assert_eq!(count.counted.len() + count.refused.len(), kinds.len());
        let env = f.event(EventBody::Admit { invite, join_request: jr, vouches });
        match f.try_push(&env) {
            Ok(r) => {
                prop_assert!(distinct.len() >= 2);
                prop_assert!(r.member(&id(6)).is_some());
            }
            Err(RosterError::VouchThreshold { needed, got, .. }) => {
                prop_assert!(distinct.len() < 2);
                prop_assert_eq!(needed, 2);
                prop_assert_eq!(got as usize, distinct.len());
            }
            Err(other) => prop_assert!(false, "unexpected: {}", other),
        }
    }
}
