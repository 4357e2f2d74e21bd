//! Sealing: what it refuses (§3.15–§3.17, §3.26, §3.27), every kind end to end, and author chain
//! proofs checked against the roster (§3.28).
#![allow(clippy::unwrap_used)]

mod bundle_support;

use bundle_support::*;
use debrief_protocol::bundle::{
    AuthorChain, BundleBody, BundleError, BundleId, BundleKind, BundleObject, ChainError,
    EquivocationProof, Tlp, check_target, open, seal, verify_link,
};
use debrief_protocol::envelope::{Envelope, PayloadType};
use debrief_protocol::membership::RosterHistory;
use debrief_protocol::timestamp::Timestamp;

fn open_as(w: &World, obj: &BundleObject, who: &Member) -> Result<BundleBody, BundleError> {
    open(obj, &w.roster, &who.id, std::slice::from_ref(&who.age), NOW)
        .map(|o| o.content().value().body.clone())
}

#[test]
fn sealing_refuses_a_frozen_or_stale_roster() {
    let mut w = World::new();
    let mut req = request(&w.roster, &w.a, BundleKind::Report, Tlp::Green, vec![]);
    req.roster_fresh_as_of = NOW.plus_seconds(-86_401);
    let err = seal(req).unwrap_err();
    assert_eq!(
        err,
        BundleError::RosterStale {
            as_of: NOW.plus_seconds(-86_401),
            max_age_secs: 86_400
        }
    );
    assert_eq!(err.rule(), "§3.27");
    // Exactly at the limit is still fresh.
    let mut req = request(&w.roster, &w.a, BundleKind::Report, Tlp::Green, vec![]);
    req.roster_fresh_as_of = NOW.plus_seconds(-86_400);
    assert!(seal(req).is_ok());
    w.roster.freeze();
    let err = seal(request(
        &w.roster,
        &w.a,
        BundleKind::Report,
        Tlp::Green,
        vec![],
    ))
    .unwrap_err();
    assert_eq!(err, BundleError::RosterFrozen);
    assert_eq!(err.rule(), "§3.27");
}

#[test]
fn sealing_refuses_an_inconsistent_chain_position() {
    let w = World::new();
    let cases = [
        (0, None, "author seq starts at 1"),
        (
            1,
            Some(w.roster.circle_id()),
            "the first bundle has no previous link",
        ),
        (
            2,
            None,
            "every bundle after the first names the previous link",
        ),
    ];
    for (seq, prev, problem) in cases {
        let mut req = request(&w.roster, &w.a, BundleKind::Report, Tlp::Green, vec![]);
        req.author_seq = seq;
        req.prev_link = prev;
        assert_eq!(seal(req).unwrap_err(), BundleError::ChainPosition(problem));
    }
}

#[test]
fn sealing_applies_the_tlp_rules() {
    let w = World::new();
    let e =
        |tlp, named| seal(request(&w.roster, &w.a, BundleKind::Report, tlp, named)).unwrap_err();
    assert_eq!(e(Tlp::Red, vec![]), BundleError::RedWithoutNamed);
    assert_eq!(
        e(Tlp::Red, vec![w.a.id.clone()]),
        BundleError::RedWithoutNamed
    );
    assert_eq!(e(Tlp::Clear, vec![]), BundleError::ClearInCircle);
    assert_eq!(
        e(Tlp::Amber, vec![w.b.id.clone()]),
        BundleError::NamedWithCircleTlp { tlp: "AMBER" }
    );
    assert_eq!(e(Tlp::Red, vec![]).rule(), "§3.15");
    // AMBER+STRICT goes to the whole circle, like GREEN and AMBER.
    let obj = seal(request(
        &w.roster,
        &w.a,
        BundleKind::Report,
        Tlp::AmberStrict,
        vec![],
    ))
    .unwrap();
    assert_eq!(header_of(&obj).recipients.len(), 4);
    assert_eq!(
        link_of(&obj).audience,
        debrief_protocol::bundle::Audience::Circle
    );
    // RED: the named and the author, deduplicated.
    let obj = seal(request(
        &w.roster,
        &w.a,
        BundleKind::Report,
        Tlp::Red,
        vec![w.c.id.clone(), w.c.id.clone()],
    ))
    .unwrap();
    assert_eq!(header_of(&obj).recipient_members().len(), 2);
    assert_eq!(
        link_of(&obj).audience,
        debrief_protocol::bundle::Audience::Named
    );
}

#[test]
fn sealing_refuses_a_non_member_author_and_a_body_of_the_wrong_kind() {
    let w = World::new();
    let err = seal(request(
        &w.roster,
        &w.e,
        BundleKind::Report,
        Tlp::Green,
        vec![],
    ))
    .unwrap_err();
    assert_eq!(
        err,
        BundleError::AuthorNotMember {
            author: w.e.id.clone(),
            seq: w.roster.head().0
        }
    );
    let mut req = request(&w.roster, &w.a, BundleKind::Report, Tlp::Green, vec![]);
    req.body = BundleBody::Text("just text".into());
    assert_eq!(
        seal(req).unwrap_err(),
        BundleError::KindRule {
            kind: BundleKind::Report,
            problem: "carries a report, not text"
        }
    );
    // A report body must be canonical-JSON representable.
    let mut req = request(&w.roster, &w.a, BundleKind::Report, Tlp::Green, vec![]);
    req.body = BundleBody::Report(serde_json::json!({"ratio": 0.5}));
    assert!(matches!(seal(req).unwrap_err(), BundleError::Sign(_)));
}

/// Seals the author's next bundle in its chain, advancing `pos` (seq, previous link).
#[allow(clippy::too_many_arguments)]
fn next(
    pos: &mut (u64, debrief_protocol::ids::EnvelopeId),
    kind: BundleKind,
    tlp: Tlp,
    named: Vec<debrief_protocol::ids::MemberId>,
    target: &debrief_protocol::bundle::TargetInfo,
    id: BundleId,
    roster: &FixtureRoster,
    author: &Member,
) -> BundleObject {
    let mut req = request(roster, author, kind, tlp, named);
    req.target = Some(target);
    req.author_seq = pos.0 + 1;
    req.prev_link = Some(pos.1);
    req.bundle_id = id;
    let obj = seal(req).unwrap();
    *pos = (pos.0 + 1, obj.link().id());
    obj
}

#[test]
fn a_lineage_of_every_kind_seals_and_opens() {
    let mut w = World::new();
    let report = green_report(&w);
    let mut pos = (1u64, report.link().id());
    // A revision: same bundle id, version 2.
    let t1 = target_of(&report, &[&report]);
    let revision = next(
        &mut pos,
        BundleKind::Revision,
        Tlp::Green,
        vec![],
        &t1,
        t1.bundle,
        &w.roster,
        &w.a,
    );
    assert_eq!(header_of(&revision).version, 2);
    assert!(open_as(&w, &revision, &w.d).is_ok());
    // A newcomer joins; a reshare of version 2 reaches it.
    let f = Member::new(6);
    w.roster.admit(&f);
    let t2 = target_of(&revision, &[&report, &revision]);
    let reshare = next(
        &mut pos,
        BundleKind::Reshare,
        Tlp::Green,
        vec![],
        &t2,
        t2.bundle,
        &w.roster,
        &w.a,
    );
    assert_eq!(header_of(&reshare).version, 2);
    assert!(
        open(
            &reshare,
            &w.roster,
            &f.id,
            std::slice::from_ref(&f.age),
            NOW
        )
        .is_ok()
    );
    // The newcomer cannot read the original.
    assert_eq!(
        open(&report, &w.roster, &f.id, std::slice::from_ref(&f.age), NOW).unwrap_err(),
        BundleError::NotARecipient
    );
    // A reshare may not change the label.
    let mut req = request(&w.roster, &w.a, BundleKind::Reshare, Tlp::Amber, vec![]);
    req.target = Some(&t2);
    req.bundle_id = t2.bundle;
    req.author_seq = 9;
    req.prev_link = Some(pos.1);
    assert_eq!(
        seal(req).unwrap_err(),
        BundleError::TargetMismatch { field: "tlp" }
    );
    // A retraction to every reader of every version.
    let t3 = target_of(&revision, &[&report, &revision, &reshare]);
    let retraction = next(
        &mut pos,
        BundleKind::Retraction,
        Tlp::Green,
        vec![],
        &t3,
        BundleId([0xaa; 16]),
        &w.roster,
        &w.a,
    );
    assert_eq!(
        open_as(&w, &retraction, &w.b),
        Ok(BundleBody::Text("a note".into()))
    );
    // A retraction cannot be revised.
    let t4 = target_of(&retraction, &[&retraction]);
    let mut req = request(&w.roster, &w.a, BundleKind::Revision, Tlp::Green, vec![]);
    req.target = Some(&t4);
    req.bundle_id = t4.bundle;
    req.author_seq = 9;
    req.prev_link = Some(pos.1);
    assert_eq!(
        seal(req).unwrap_err(),
        BundleError::TargetKind {
            kind: BundleKind::Revision,
            target_kind: BundleKind::Retraction
        }
    );
}

#[test]
fn declassification_threads_go_red_to_every_maintainer() {
    let mut w = World::new();
    w.roster.set_maintainer(&w.c.id);
    let report = green_report(&w);
    let t = target_of(&report, &[&report]);
    let mut req = request(
        &w.roster,
        &w.a,
        BundleKind::DeclassRequest,
        Tlp::Amber,
        vec![],
    );
    req.target = Some(&t);
    req.author_seq = 2;
    req.prev_link = Some(report.link().id());
    req.bundle_id = BundleId([0xd1; 16]);
    assert_eq!(
        seal(req).unwrap_err(),
        BundleError::DeclassAudience { missing: None }
    );
    let mut req = request(
        &w.roster,
        &w.a,
        BundleKind::DeclassRequest,
        Tlp::Red,
        vec![w.b.id.clone()],
    );
    req.target = Some(&t);
    req.author_seq = 2;
    req.prev_link = Some(report.link().id());
    req.bundle_id = BundleId([0xd1; 16]);
    let err = seal(req).unwrap_err();
    assert_eq!(
        err,
        BundleError::DeclassAudience {
            missing: Some(w.c.id.clone())
        }
    );
    assert_eq!(err.rule(), "§3.17");
    let mut req = request(
        &w.roster,
        &w.a,
        BundleKind::DeclassRequest,
        Tlp::Red,
        vec![w.b.id.clone(), w.c.id.clone()],
    );
    req.target = Some(&t);
    req.author_seq = 2;
    req.prev_link = Some(report.link().id());
    req.bundle_id = BundleId([0xd1; 16]);
    let request_obj = seal(req).unwrap();
    assert!(open_as(&w, &request_obj, &w.c).is_ok());
    // B reviews it, to the same people.
    let t2 = target_of(&request_obj, &[&request_obj]);
    let mut req = request(
        &w.roster,
        &w.b,
        BundleKind::DeclassReview,
        Tlp::Red,
        vec![w.a.id.clone(), w.c.id.clone()],
    );
    req.target = Some(&t2);
    req.bundle_id = BundleId([0xd2; 16]);
    let review = seal(req).unwrap();
    assert!(open_as(&w, &review, &w.a).is_ok());
    assert!(check_target(&header_of(&review), &t2, &w.roster).is_ok());
    // A review cannot target the report itself.
    assert_eq!(
        check_target(&header_of(&review), &t, &w.roster).unwrap_err(),
        BundleError::TargetMismatch { field: "header id" }
    );
}

#[test]
fn a_circle_wide_comment_after_a_newcomer_must_be_red() {
    let mut w = World::new();
    let report = green_report(&w);
    w.roster.admit(&Member::new(6));
    let parent = target_of(&report, &[&report]);
    let mut req = request(&w.roster, &w.b, BundleKind::Comment, Tlp::Green, vec![]);
    req.target = Some(&parent);
    req.bundle_id = BundleId([0xc0; 16]);
    assert_eq!(
        seal(req).unwrap_err(),
        BundleError::CommentWidens(Member::new(6).id)
    );
    let mut req = request(
        &w.roster,
        &w.b,
        BundleKind::Comment,
        Tlp::Red,
        parent.recipients.clone(),
    );
    req.target = Some(&parent);
    req.bundle_id = BundleId([0xc0; 16]);
    assert!(seal(req).is_ok());
}

#[test]
fn a_bundle_from_the_future_is_refused_but_skew_is_allowed() {
    let w = World::new();
    let mut req = request(&w.roster, &w.a, BundleKind::Report, Tlp::Green, vec![]);
    req.now = NOW.plus_seconds(120);
    let obj = seal(req).unwrap();
    assert!(open_as(&w, &obj, &w.b).is_ok());
    let mut req = request(&w.roster, &w.a, BundleKind::Report, Tlp::Green, vec![]);
    req.now = NOW.plus_seconds(121);
    req.roster_fresh_as_of = req.now;
    let obj = seal(req).unwrap();
    let created_at = Timestamp::from_unix(NOW.unix() + 121);
    assert_eq!(
        open_as(&w, &obj, &w.b).unwrap_err(),
        BundleError::FromTheFuture {
            created_at,
            now: NOW
        }
    );
}

#[test]
fn equivocation_proofs_verify_against_the_roster() {
    let w = World::new();
    let first = green_report(&w);
    let second = {
        let mut req = request(&w.roster, &w.a, BundleKind::Report, Tlp::Green, vec![]);
        req.bundle_id = BundleId([0x51; 16]);
        seal(req).unwrap()
    };
    // Two different seq-1 links by A.
    let mut chain = AuthorChain::new(w.a.id.clone());
    chain
        .insert(verify_link(first.link(), &w.roster).unwrap())
        .unwrap();
    let err = chain
        .insert(verify_link(second.link(), &w.roster).unwrap())
        .unwrap_err();
    let ChainError::Equivocation(proof) = err else {
        panic!("expected a proof, got {err:?}")
    };
    assert_eq!(proof.verify(&w.roster).unwrap(), (w.a.id.clone(), 1));
    // It survives serialisation (proofs spread between members).
    let json = serde_json::to_vec(&*proof).unwrap();
    let again: EquivocationProof = serde_json::from_slice(&json).unwrap();
    assert_eq!(again.verify(&w.roster).unwrap(), (w.a.id.clone(), 1));
    // The same link twice is not a proof.
    let fake = EquivocationProof::SameSeq {
        first: first.link().clone(),
        second: first.link().clone(),
    };
    let err = fake.verify(&w.roster).unwrap_err();
    assert_eq!(
        err,
        BundleError::NotAProof("the links do not contradict each other")
    );
    assert_eq!(err.rule(), "§3.28");
    // Links by two authors are not a proof.
    let by_b = seal(request(
        &w.roster,
        &w.b,
        BundleKind::Report,
        Tlp::Green,
        vec![],
    ))
    .unwrap();
    let fake = EquivocationProof::SameSeq {
        first: first.link().clone(),
        second: by_b.link().clone(),
    };
    assert_eq!(
        fake.verify(&w.roster).unwrap_err(),
        BundleError::NotAProof("the links have different authors")
    );
    // A forged link in a proof fails its signature.
    let mut forged_link = link_of(&second);
    forged_link.author_seq = 1;
    let unsigned = Envelope::from_parts(
        PayloadType::ChainLink.media_type(),
        debrief_protocol::canonical::to_canonical_vec(&forged_link).unwrap(),
        first.link().signatures().to_vec(),
    );
    let fake = EquivocationProof::SameSeq {
        first: first.link().clone(),
        second: unsigned,
    };
    assert_eq!(
        fake.verify(&w.roster).unwrap_err(),
        BundleError::BadSignature {
            part: debrief_protocol::bundle::Part::Link
        }
    );
}

#[test]
fn a_bundle_from_a_newer_roster_is_held_back_then_accepted() {
    let w = World::new();
    let mut ahead = w.roster.clone();
    ahead.admit(&Member::new(6));
    let obj = seal(request(
        &ahead,
        &w.a,
        BundleKind::Report,
        Tlp::Green,
        vec![],
    ))
    .unwrap();
    let err = open_as(&w, &obj, &w.b).unwrap_err();
    let have = w.roster.head().0;
    assert_eq!(
        err,
        BundleError::RosterBehind {
            stated: have + 1,
            have
        }
    );
    assert!(err.is_retryable());
    assert_eq!(err.rule(), "§3.4");
    // Once this node's roster has caught up, the same bytes open.
    let caught_up = World {
        roster: ahead,
        ..World::new()
    };
    assert!(open_as(&caught_up, &obj, &caught_up.b).is_ok());
    // Other refusals are not retryable.
    assert!(!BundleError::CiphertextMismatch.is_retryable());
}
