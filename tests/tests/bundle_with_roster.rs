//! Bundle rules (protocol.md §3) against a real folded roster (§2) and real member identities
//! from the keys crate: the pure crates agree with each other end to end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use debrief_keys::Identity;
use debrief_protocol::bundle::{
    BundleBody, BundleError, BundleId, BundleKind, SealRequest, Tlp, open, seal,
};
use debrief_protocol::profile::{Industry, OrgProfile, Region, SizeBand};
use debrief_protocol::roster::{EventBody, Genesis, Policy, Roster, RosterEvent, fold};
use debrief_protocol::{Envelope, PayloadType, Timestamp};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;

const T0: i64 = 1_795_602_000;

fn member(seed: u64, org: &str) -> Identity {
    let profile = OrgProfile {
        industry: Industry::Saas,
        size_band: SizeBand::M,
        region: Region::Europe,
    };
    Identity::generate(
        &mut StdRng::seed_from_u64(seed),
        org,
        profile,
        Timestamp::from_unix(T0),
    )
    .unwrap()
}

/// A circle founded by `a` with `b` and `c` as founding members.
fn circle(a: &Identity, b: &Identity, c: &Identity) -> Roster {
    let t = Timestamp::from_unix(T0);
    let card = |i: &Identity| i.signed_card(None, t).unwrap();
    let genesis = RosterEvent {
        seq: 0,
        prev: None,
        at: t,
        circle: None,
        event: EventBody::Genesis(Box::new(Genesis {
            name: "ops".into(),
            maintainers: vec![card(a)],
            members: vec![card(b), card(c)],
            policy: Policy::default(),
            charter: "Be kind.".into(),
            publication_keys: Vec::new(),
            sequencer: a.member_id(),
        })),
    };
    let env = Envelope::sign(&genesis, PayloadType::RosterEvent, a).unwrap();
    fold(&[env], Some(t)).unwrap()
}

fn share(
    roster: &Roster,
    author: &Identity,
    tlp: Tlp,
    named: Vec<debrief_protocol::MemberId>,
) -> debrief_protocol::bundle::BundleObject {
    let now = Timestamp::from_unix(T0 + 60);
    seal(SealRequest {
        roster,
        roster_fresh_as_of: now,
        max_roster_age_secs: roster.policy().max_roster_age_secs,
        author: author.member_id(),
        signer: author,
        author_seq: 1,
        prev_link: None,
        bundle_id: BundleId([7; 16]),
        kind: BundleKind::Report,
        target: None,
        tlp,
        named,
        body: BundleBody::Report(json!({"title": "Replica lag took down checkout"})),
        now,
    })
    .unwrap()
}

#[test]
fn circle_wide_share_opens_for_every_member_with_real_keys() {
    let (a, b, c) = (member(1, "Acme"), member(2, "Bravo"), member(3, "Charlie"));
    let roster = circle(&a, &b, &c);
    let bundle = share(&roster, &a, Tlp::Amber, Vec::new());
    let now = Timestamp::from_unix(T0 + 61);
    for reader in [&a, &b, &c] {
        let opened = open(
            &bundle,
            &roster,
            &reader.member_id(),
            &reader.age_identities(),
            now,
        )
        .unwrap();
        assert_eq!(opened.header().value().author, a.member_id());
        match &opened.content().value().body {
            BundleBody::Report(v) => assert_eq!(v["title"], "Replica lag took down checkout"),
            other => panic!("unexpected body {other:?}"),
        }
    }
}

#[test]
fn red_share_is_refused_to_the_non_recipient_before_decryption() {
    let (a, b, c) = (member(1, "Acme"), member(2, "Bravo"), member(3, "Charlie"));
    let roster = circle(&a, &b, &c);
    let bundle = share(&roster, &a, Tlp::Red, vec![b.member_id()]);
    let now = Timestamp::from_unix(T0 + 61);
    assert!(open(&bundle, &roster, &b.member_id(), &b.age_identities(), now).is_ok());
    let err = open(&bundle, &roster, &c.member_id(), &c.age_identities(), now).unwrap_err();
    assert!(matches!(err, BundleError::NotARecipient), "{err:?}");
}

#[test]
fn a_rotated_identity_still_opens_what_was_shared_before_rotation() {
    let (a, mut b, c) = (member(1, "Acme"), member(2, "Bravo"), member(3, "Charlie"));
    let roster = circle(&a, &b, &c);
    let bundle = share(&roster, &a, Tlp::Green, Vec::new());
    b.rotate(
        &mut StdRng::seed_from_u64(99),
        Timestamp::from_unix(T0 + 30),
    )
    .unwrap();
    // The roster still lists the old recipient; the keystore kept the retired age identity.
    let now = Timestamp::from_unix(T0 + 61);
    assert!(open(&bundle, &roster, &b.member_id(), &b.age_identities(), now).is_ok());
}
