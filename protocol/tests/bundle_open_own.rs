//! Storing one's own bundle (protocol.md §3.33): `open_own` on what `seal_own` returned gives
//! what `open` gives the author, and refuses whatever `open` refuses before decrypting.
#![allow(clippy::unwrap_used)]

mod bundle_support;

use bundle_support::*;
use debrief_protocol::bundle::{
    BundleError, BundleKind, BundleObject, OpenedBundle, Part, Sealed, Tlp, open, open_own,
    seal_own,
};
use debrief_protocol::envelope::Signer;
use debrief_protocol::ids::MemberId;
use debrief_protocol::membership::ChainTip;
use debrief_protocol::timestamp::Timestamp;
use ed25519_dalek::SigningKey;

fn open_as(
    roster: &FixtureRoster,
    obj: &BundleObject,
    who: &Member,
    now: Timestamp,
) -> Result<OpenedBundle, BundleError> {
    open(obj, roster, &who.id, std::slice::from_ref(&who.age), now)
}

fn sealed(w: &World, tlp: Tlp, named: Vec<MemberId>) -> Sealed {
    seal_own(request(&w.roster, &w.a, BundleKind::Report, tlp, named)).unwrap()
}

fn assert_same(own: &OpenedBundle, opened: &OpenedBundle) {
    assert_eq!(own.header().id(), opened.header().id());
    assert_eq!(own.header().value(), opened.header().value());
    assert_eq!(own.link().id(), opened.link().id());
    assert_eq!(own.link().value(), opened.link().value());
    assert_eq!(own.content().id(), opened.content().id());
    assert_eq!(own.content().value(), opened.content().value());
}

#[test]
fn open_own_gives_the_author_what_open_gives() {
    let w = World::new();
    for (tlp, named) in [
        (Tlp::Green, vec![]),
        (Tlp::AmberStrict, vec![]),
        (Tlp::Red, vec![w.b.id.clone()]),
    ] {
        let sealed = sealed(&w, tlp, named);
        let own = open_own(&sealed, &w.roster, &w.a.id, NOW).unwrap();
        let opened = open_as(&w.roster, sealed.object(), &w.a, NOW).unwrap();
        assert_same(&own, &opened);
        assert_eq!(own.header().id(), sealed.object().id());
        assert_eq!(own.content().value().tlp, tlp);
        // The object handed on is the one checked.
        let obj = sealed.into_object();
        assert_eq!(obj.id(), own.header().id());
    }
}

#[test]
fn open_own_refuses_a_member_the_bundle_does_not_name() {
    let w = World::new();
    let sealed = sealed(&w, Tlp::Red, vec![w.b.id.clone()]);
    let err = open_own(&sealed, &w.roster, &w.c.id, NOW).unwrap_err();
    assert_eq!(err, BundleError::NotARecipient);
    assert_eq!(err.rule(), "§3.21");
    assert_eq!(
        open_as(&w.roster, sealed.object(), &w.c, NOW).unwrap_err(),
        err
    );
    // A named recipient passes, as with open.
    let own = open_own(&sealed, &w.roster, &w.b.id, NOW).unwrap();
    let opened = open_as(&w.roster, sealed.object(), &w.b, NOW).unwrap();
    assert_same(&own, &opened);
}

#[test]
fn open_own_refuses_a_bundle_created_too_far_ahead_of_now() {
    let w = World::new();
    let sealed = sealed(&w, Tlp::Green, vec![]);
    let now = NOW.plus_seconds(-86_400);
    let err = open_own(&sealed, &w.roster, &w.a.id, now).unwrap_err();
    assert_eq!(
        err,
        BundleError::FromTheFuture {
            created_at: NOW,
            now
        }
    );
    assert_eq!(err.rule(), "§3.11");
    assert_eq!(
        open_as(&w.roster, sealed.object(), &w.a, now).unwrap_err(),
        err
    );
}

#[test]
fn open_own_refuses_a_roster_that_does_not_reach_the_bundle() {
    let mut w = World::new();
    let behind = w.roster.clone();
    w.roster.other_event();
    let sealed = sealed(&w, Tlp::Green, vec![]);
    let err = open_own(&sealed, &behind, &w.a.id, NOW).unwrap_err();
    assert_eq!(err, BundleError::RosterBehind { stated: 3, have: 2 });
    assert_eq!(err.rule(), "§3.4");
    assert_eq!(
        open_as(&behind, sealed.object(), &w.a, NOW).unwrap_err(),
        err
    );
}

#[test]
fn open_own_refuses_once_the_roster_retired_the_signing_key_below_the_bundle() {
    let mut w = World::new();
    let sealed = sealed(&w, Tlp::Green, vec![]);
    // The roster advances: A's key is retired having signed nothing (tip 0), so the bundle at
    // author seq 1 is beyond its tip (§3.10).
    let new_key = SigningKey::from_bytes(&[42; 32]).public_key();
    w.roster
        .rotate(&w.a.id, new_key, ChainTip { seq: 0, link: None });
    let err = open_own(&sealed, &w.roster, &w.a.id, NOW).unwrap_err();
    assert_eq!(
        err,
        BundleError::KeyRetired {
            part: Part::Header,
            author_seq: 1,
            tip_seq: 0
        }
    );
    assert_eq!(err.rule(), "§3.10");
    assert_eq!(
        open_as(&w.roster, sealed.object(), &w.a, NOW).unwrap_err(),
        err
    );
}
