//! Attacks on bundles (issue 17; protocol.md §3): co-recipients, relays, removed members,
//! equivocating authors and thieves of retired keys try to forge, re-wrap, hide, narrow, widen
//! or flood what a circle shares. Every bundle is sealed for real against a folded roster with
//! real member keys; each refusal is the exact documented error, and nothing opens.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use debrief_protocol::bundle::{
    AgeHeaderError, AuthorChain, BundleError, BundleKind, BundleObject, ChainError,
    EquivocationProof, Inserted, Part, Recipient, TargetInfo, check_target, max_header_len,
    recipients_digest, verify_header_only, verify_link,
};
use debrief_protocol::envelope::{Envelope, PayloadType};
use debrief_protocol::roster::{
    EventBody, MemberChange, Policy, QuorumAction, Roster, TipStatement,
};
use debrief_protocol::{MemberId, Timestamp};
use debrief_tests::attack_kit::*;
use serde_json::{Value, json};

fn now() -> Timestamp {
    at(600)
}

/// What a receiver knows about a target it holds: its verified header and the recipients of
/// every bundle of its lineage.
fn target_of(bundle: &BundleObject, roster: &Roster, lineage: &[&BundleObject]) -> TargetInfo {
    let checked = verify_header_only(bundle, roster, now()).unwrap();
    let mut all: Vec<MemberId> = lineage
        .iter()
        .flat_map(|b| {
            verify_header_only(b, roster, now())
                .unwrap()
                .header()
                .value()
                .recipient_members()
        })
        .collect();
    all.sort();
    all.dedup();
    TargetInfo::from_header(checked.header().id(), checked.header().value(), all)
}

fn header_of(bundle: &BundleObject, roster: &Roster) -> debrief_protocol::bundle::BundleHeader {
    verify_header_only(bundle, roster, now())
        .unwrap()
        .header()
        .value()
        .clone()
}

/// Bravo reads Acme's AMBER report and wants Charlie to believe Acme wrote something else. It
/// re-encrypts a changed report under Acme's header and link, with Acme's inner signature or its
/// own; then it writes a header in Acme's name. Sign-encrypt-sign stops each (protocol.md §3.5,
/// §3.6, §3.18).
#[test]
fn attack_co_recipient_forgery() {
    let cast = Cast::new();
    let circle = Circle::standard(&cast);
    let report = Share::report(&cast.acme, "Failover worked")
        .seal(&circle.roster, now())
        .unwrap();
    let genuine = inner_of(&report, &cast.bravo);
    let mut content: Value = genuine.unverified_payload().unwrap();
    content["body"] = json!({"report": {"title": "Acme lost customer data"}});
    let keeps_acme_sig = Envelope::from_parts(
        PayloadType::BundleContent.media_type(),
        canonical_bytes(&content),
        genuine.signatures().to_vec(),
    );
    let bravo_signed = sign_json(&content, PayloadType::BundleContent, &cast.bravo);
    for inner in [keeps_acme_sig, bravo_signed] {
        let ct = encrypt_to(&listed_recipients(&report), &inner.to_json());
        let forged = BundleObject::new(report.link().clone(), report.header().clone(), ct);
        assert_refused(
            open_as(&forged, &circle.roster, &cast.charlie, now()),
            BundleError::CiphertextMismatch,
            "§3.18",
        );
    }
    // A whole new header in Acme's name, signed by Bravo.
    let ct = encrypt_to(&listed_recipients(&report), &genuine.to_json());
    let forged = forge_bundle(&report, header_json(&report), ct.clone(), &cast.bravo);
    assert_refused(
        open_as(&forged, &circle.roster, &cast.charlie, now()),
        BundleError::UnknownAuthorKey {
            part: Part::Header,
            author: cast.acme.member_id(),
        },
        "§3.5",
    );
    // The same, with Bravo's signature filed under Acme's key id.
    let mut h = header_json(&report);
    h["ciphertext_sha256"] = json!(debrief_protocol::Sha256Digest::of(&ct).to_hex());
    h["ciphertext_len"] = json!(ct.len());
    let bravo_header = sign_json(&h, PayloadType::BundleHeader, &cast.bravo);
    let relabelled = with_sig(
        &Envelope::from_parts(
            bravo_header.payload_type().to_owned(),
            bravo_header.payload().to_vec(),
            vec![debrief_protocol::envelope::EnvelopeSignature {
                keyid: cast.acme.signing_key_id(),
                sig: [0; 64],
            }],
        ),
        bravo_header.signatures()[0].sig,
    );
    let forged = BundleObject::new(report.link().clone(), relabelled, ct);
    assert_refused(
        open_as(&forged, &circle.roster, &cast.charlie, now()),
        BundleError::BadSignature { part: Part::Header },
        "§3.6",
    );
    // The genuine report still opens for Charlie.
    assert_eq!(
        open_as(&report, &circle.roster, &cast.charlie, now()),
        Ok(())
    );
}

/// Acme sent Charlie a RED report. Charlie forwards Acme's signed inner content to Delta inside
/// a bundle of its own, so Delta reads it as if Acme had shared it with Delta (protocol.md
/// §3.24, §3.25).
#[test]
fn attack_surreptitious_forwarding() {
    let cast = Cast::new();
    let circle = Circle::standard(&cast);
    let red = Share::report(&cast.acme, "Insider incident")
        .red(&[&cast.charlie])
        .seal(&circle.roster, now())
        .unwrap();
    assert_refused(
        open_as(&red, &circle.roster, &cast.delta, now()),
        BundleError::NotARecipient,
        "§3.21",
    );
    let acme_inner = inner_of(&red, &cast.charlie);
    let carrier = Share::report(&cast.charlie, "Forwarded")
        .red(&[&cast.delta])
        .seal(&circle.roster, now())
        .unwrap();
    // Acme's signed inner, as is.
    let ct = encrypt_to(&listed_recipients(&carrier), &acme_inner.to_json());
    let forwarded = forge_bundle(&carrier, header_json(&carrier), ct, &cast.charlie);
    assert!(verify_header_only(&forwarded, &circle.roster, now()).is_ok());
    assert_refused(
        open_as(&forwarded, &circle.roster, &cast.delta, now()),
        BundleError::BadSignature { part: Part::Inner },
        "§3.24",
    );
    // Acme's content re-signed by Charlie: it still says Acme wrote it, to other readers.
    let content: Value = acme_inner.unverified_payload().unwrap();
    let resigned = sign_json(&content, PayloadType::BundleContent, &cast.charlie);
    let ct = encrypt_to(&listed_recipients(&carrier), &resigned.to_json());
    let forwarded = forge_bundle(&carrier, header_json(&carrier), ct, &cast.charlie);
    assert_refused(
        open_as(&forwarded, &circle.roster, &cast.delta, now()),
        BundleError::InnerMismatch { field: "author" },
        "§3.25",
    );
}

/// Echo was admitted at roster seq 1. It dates a bundle to roster seq 0, before it joined, so it
/// looks like part of the circle's earlier conversation (protocol.md §3.9).
#[test]
fn attack_author_not_member_at_roster_seq() {
    let cast = Cast::new();
    let mut circle = Circle::standard(&cast);
    let genesis_id = circle.roster.head_id();
    let admit = circle.admit_event(
        &cast.acme,
        &cast.acme,
        &cast.echo,
        &[&cast.charlie, &cast.delta],
    );
    circle.push(admit);
    let report = Share::report(&cast.echo, "We were there from the start")
        .seal(&circle.roster, now())
        .unwrap();
    let mut h = header_json(&report);
    h["roster"] = json!({"seq": 0, "head": genesis_id.to_hex()});
    let backdated = forge_bundle(&report, h, report.ciphertext().to_vec(), &cast.echo);
    assert_refused(
        open_as(&backdated, &circle.roster, &cast.delta, now()),
        BundleError::AuthorNotMember {
            author: cast.echo.member_id(),
            seq: 0,
        },
        "§3.9",
    );
}

/// Delta shared one report, then rotated its signing key. A thief who copied the old key signs
/// "Delta's" next bundle with it, dated to the roster before the rotation (protocol.md §2.9,
/// §3.10, §3.19).
#[test]
fn attack_rotated_away_key_beyond_chain_tip() {
    let cast = Cast::new();
    let mut delta = company(4, "Delta GmbH");
    let thief = company(4, "Delta GmbH"); // the same keys, copied before the rotation
    let mut circle = Circle::found(
        "Payments resilience",
        &[&cast.acme, &cast.bravo],
        &[&cast.charlie, &delta],
        Policy::default(),
    );
    let first = Share::report(&delta, "First")
        .seal(&circle.roster, now())
        .unwrap();
    let before = circle.clone();
    delta
        .rotate(
            &mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(44),
            at(30),
        )
        .unwrap();
    let change = MemberChange::RotateSigningKey {
        new_key: delta.signing_public_key(),
        chain_tip: TipStatement {
            seq: 1,
            link: Some(first.link().id()),
        },
    };
    let req = circle
        .roster
        .member_request(&delta.member_id(), change.clone(), at(86_400))
        .sign_rotation(&thief, &delta)
        .unwrap();
    circle.push(circle.event(&cast.acme, EventBody::for_member_request(&change, req)));
    // The thief's seq 2, against the roster before the rotation.
    let stolen = Share::report(&thief, "Delta apologises")
        .at(ChainPos::after(&first))
        .seal(&before.roster, now())
        .unwrap();
    assert_refused(
        open_as(&stolen, &circle.roster, &cast.charlie, now()),
        BundleError::KeyRetired {
            part: Part::Header,
            author_seq: 2,
            tip_seq: 1,
        },
        "§3.10",
    );
    assert_eq!(
        verify_link(stolen.link(), &circle.roster).unwrap_err(),
        BundleError::KeyRetired {
            part: Part::Link,
            author_seq: 2,
            tip_seq: 1,
        }
    );
    // At the current head, the old key is not Delta's.
    assert_eq!(
        Share::report(&thief, "again")
            .at(ChainPos::after(&first))
            .seal(&circle.roster, now())
            .unwrap_err(),
        BundleError::UnknownAuthorKey {
            part: Part::Header,
            author: delta.member_id(),
        }
    );
    // What the old key signed up to its tip still opens; the new key continues the chain.
    assert_eq!(
        open_as(&first, &circle.roster, &cast.charlie, now()),
        Ok(())
    );
    let next = Share::report(&delta, "Second")
        .at(ChainPos::after(&first))
        .seal(&circle.roster, now())
        .unwrap();
    assert_eq!(open_as(&next, &circle.roster, &cast.charlie, now()), Ok(()));
}

/// Charlie shared once and was removed (its chain tip recorded). It keeps sharing: against
/// the roster before its removal, against the roster after it, and by re-signing its last seq
/// with other content (protocol.md §2.9, §3.9, §3.10, §3.19).
#[test]
fn attack_removed_members_new_bundle() {
    let cast = Cast::new();
    let mut circle = Circle::standard(&cast);
    let last = Share::report(&cast.charlie, "Last words")
        .seal(&circle.roster, now())
        .unwrap();
    let before = circle.clone();
    let action = QuorumAction::Remove {
        member: cast.charlie.member_id(),
        reason: "breach of charter".into(),
    };
    let proposal = circle.proposal(action, &[&cast.acme, &cast.bravo]);
    let removal = circle.event(
        &cast.acme,
        EventBody::Remove {
            proposal,
            chain_tip: TipStatement {
                seq: 1,
                link: Some(last.link().id()),
            },
        },
    );
    circle.push(removal);
    let after_removal = Share::report(&cast.charlie, "Still here")
        .at(ChainPos::after(&last))
        .seal(&before.roster, now())
        .unwrap();
    assert_refused(
        open_as(&after_removal, &circle.roster, &cast.delta, now()),
        BundleError::KeyRetired {
            part: Part::Header,
            author_seq: 2,
            tip_seq: 1,
        },
        "§3.10",
    );
    assert_eq!(
        Share::report(&cast.charlie, "Still here")
            .at(ChainPos::after(&last))
            .seal(&circle.roster, now())
            .unwrap_err(),
        BundleError::AuthorNotMember {
            author: cast.charlie.member_id(),
            seq: 1,
        }
    );
    let mut h = header_json(&after_removal);
    h["roster"] = json!({"seq": 1, "head": circle.roster.head_id().to_hex()});
    let current = forge_bundle(
        &after_removal,
        h,
        after_removal.ciphertext().to_vec(),
        &cast.charlie,
    );
    assert_refused(
        open_as(&current, &circle.roster, &cast.delta, now()),
        BundleError::AuthorNotMember {
            author: cast.charlie.member_id(),
            seq: 1,
        },
        "§3.9",
    );
    // A different seq 1: not the link the roster recorded at the tip.
    let other_first = Share::report(&cast.charlie, "Rewritten last words")
        .seal(&before.roster, now())
        .unwrap();
    assert_refused(
        open_as(&other_first, &circle.roster, &cast.delta, now()),
        BundleError::LinkTipMismatch,
        "§3.19",
    );
    // What Charlie shared before removal still opens.
    assert_eq!(open_as(&last, &circle.roster, &cast.delta, now()), Ok(()));
}

/// Acme shares three bundles; the second is RED to Bravo. A relay serving Delta drops one to
/// hide it. Chain links are visible to every member, so Delta sees the hole (protocol.md §3.28).
#[test]
fn attack_seq_gap_hidden_by_relay_detected() {
    let cast = Cast::new();
    let circle = Circle::standard(&cast);
    let b1 = Share::report(&cast.acme, "one")
        .seal(&circle.roster, now())
        .unwrap();
    let b2 = Share::report(&cast.acme, "two")
        .red(&[&cast.bravo])
        .at(ChainPos::after(&b1))
        .seal(&circle.roster, now())
        .unwrap();
    let b3 = Share::report(&cast.acme, "three")
        .at(ChainPos::after(&b2))
        .seal(&circle.roster, now())
        .unwrap();
    // Honest relay: Delta checks every link, even the RED one it cannot read.
    let mut honest = AuthorChain::new(cast.acme.member_id());
    for b in [&b1, &b2, &b3] {
        let link = verify_link(b.link(), &circle.roster).unwrap();
        assert_eq!(honest.insert(link), Ok(Inserted::New));
    }
    assert!(honest.gaps().is_empty());
    // The relay withholds seq 2.
    let mut served = AuthorChain::new(cast.acme.member_id());
    for b in [&b1, &b3] {
        served
            .insert(verify_link(b.link(), &circle.roster).unwrap())
            .unwrap();
    }
    assert_eq!(served.gaps(), vec![2..=2]);
    assert_eq!(served.contiguous_to(), 1);
    assert_eq!(served.highest(), 3);
    // It cannot paper over the hole with a link of its own making.
    let mut fake = link_json(&b2);
    fake["header"] = json!(b3.id().to_hex());
    let relay = company(90, "Relay Ops");
    assert_eq!(
        verify_link(
            &sign_json(&fake, PayloadType::ChainLink, &relay),
            &circle.roster
        )
        .unwrap_err(),
        BundleError::UnknownAuthorKey {
            part: Part::Link,
            author: cast.acme.member_id(),
        }
    );
}

/// Acme tells Bravo one thing and Charlie another at the same author seq. Anyone holding both
/// links holds a proof anyone can check, and keeps the first link (protocol.md §3.28).
#[test]
fn attack_author_equivocation() {
    let cast = Cast::new();
    let circle = Circle::standard(&cast);
    let one = Share::report(&cast.acme, "one")
        .seal(&circle.roster, now())
        .unwrap();
    let to_bravo = Share::report(&cast.acme, "root cause: vendor")
        .red(&[&cast.bravo])
        .at(ChainPos::after(&one))
        .seal(&circle.roster, now())
        .unwrap();
    let to_charlie = Share::report(&cast.acme, "root cause: our change")
        .red(&[&cast.charlie])
        .at(ChainPos::after(&one))
        .seal(&circle.roster, now())
        .unwrap();
    let mut chain = AuthorChain::new(cast.acme.member_id());
    for b in [&one, &to_bravo] {
        chain
            .insert(verify_link(b.link(), &circle.roster).unwrap())
            .unwrap();
    }
    let err = chain
        .insert(verify_link(to_charlie.link(), &circle.roster).unwrap())
        .unwrap_err();
    let ChainError::Equivocation(proof) = &err else {
        panic!("expected an equivocation proof, got {err:?}");
    };
    assert_eq!(
        **proof,
        EquivocationProof::SameSeq {
            first: to_bravo.link().clone(),
            second: to_charlie.link().clone(),
        }
    );
    assert_eq!(err.rule(), "§3.28");
    assert_eq!(proof.verify(&circle.roster), Ok((cast.acme.member_id(), 2)));
    assert_eq!(chain.get(2).map(|l| l.id()), Some(to_bravo.link().id()));
    assert_eq!(chain.len(), 2);
}

/// Bravo wants Acme's embarrassing report gone. Its own node refuses to seal a retraction of
/// another's report, so Bravo crafts the header by hand: naming Acme as the target's author, or
/// lying that the target is its own (protocol.md §3.16, §3.26).
#[test]
fn attack_retraction_by_non_author() {
    let cast = Cast::new();
    let circle = Circle::standard(&cast);
    let report = Share::report(&cast.acme, "Our outage")
        .seal(&circle.roster, now())
        .unwrap();
    let target = target_of(&report, &circle.roster, &[&report]);
    assert_eq!(
        Share::report(&cast.bravo, "retract")
            .acting_on(BundleKind::Retraction, &target, "withdrawn")
            .seal(&circle.roster, now())
            .unwrap_err(),
        BundleError::NotTargetAuthor {
            kind: BundleKind::Retraction
        }
    );
    let mut lie = target.clone();
    lie.author = cast.bravo.member_id();
    let lying = Share::report(&cast.bravo, "retract")
        .acting_on(BundleKind::Retraction, &lie, "withdrawn")
        .seal(&circle.roster, now())
        .unwrap();
    let h = header_of(&lying, &circle.roster);
    let err = check_target(&h, &target, &circle.roster).unwrap_err();
    assert_eq!(err, BundleError::TargetMismatch { field: "author" });
    assert_eq!(err.rule(), "§3.26");
    let mut h = header_json(&lying);
    h["target"]["author"] = json!(cast.acme.member_id().as_str());
    let crafted = forge_bundle(&lying, h, lying.ciphertext().to_vec(), &cast.bravo);
    assert_refused(
        open_as(&crafted, &circle.roster, &cast.charlie, now()),
        BundleError::NotTargetAuthor {
            kind: BundleKind::Retraction,
        },
        "§3.16",
    );
}

/// Acme shared a RED report with Bravo only. Bravo comments on it to Acme and Charlie, so
/// Charlie learns of the report; it feeds its own node a parent that lists Charlie
/// (protocol.md §3.26).
#[test]
fn attack_comment_widening_audience() {
    let cast = Cast::new();
    let circle = Circle::standard(&cast);
    let report = Share::report(&cast.acme, "Secret outage")
        .red(&[&cast.bravo])
        .seal(&circle.roster, now())
        .unwrap();
    let parent = target_of(&report, &circle.roster, &[&report]);
    assert_eq!(
        Share::report(&cast.bravo, "comment")
            .red(&[&cast.acme, &cast.charlie])
            .acting_on(BundleKind::Comment, &parent, "Charlie, look at this")
            .seal(&circle.roster, now())
            .unwrap_err(),
        BundleError::CommentWidens(cast.charlie.member_id())
    );
    let mut wider = parent.clone();
    wider.recipients.push(cast.charlie.member_id());
    let comment = Share::report(&cast.bravo, "comment")
        .red(&[&cast.acme, &cast.charlie])
        .acting_on(BundleKind::Comment, &wider, "Charlie, look at this")
        .seal(&circle.roster, now())
        .unwrap();
    let err = check_target(
        &header_of(&comment, &circle.roster),
        &parent,
        &circle.roster,
    )
    .unwrap_err();
    assert_eq!(err, BundleError::CommentWidens(cast.charlie.member_id()));
    assert_eq!(err.rule(), "§3.26");
}

/// Acme shared a RED report with Bravo and Charlie, then retracts it to Bravo only, so Charlie
/// keeps acting on a report Acme disowned (protocol.md §3.26).
#[test]
fn attack_retraction_narrowing_audience() {
    let cast = Cast::new();
    let circle = Circle::standard(&cast);
    let report = Share::report(&cast.acme, "Preliminary numbers")
        .red(&[&cast.bravo, &cast.charlie])
        .seal(&circle.roster, now())
        .unwrap();
    let target = target_of(&report, &circle.roster, &[&report]);
    let retract = |t| {
        Share::report(&cast.acme, "retraction")
            .red(&[&cast.bravo])
            .at(ChainPos::after(&report))
            .acting_on(BundleKind::Retraction, t, "numbers were wrong")
            .seal(&circle.roster, now())
    };
    assert_eq!(
        retract(&target).unwrap_err(),
        BundleError::RetractionNarrows(cast.charlie.member_id())
    );
    let mut narrowed = target.clone();
    narrowed
        .lineage_recipients
        .retain(|m| *m != cast.charlie.member_id());
    let crafted = retract(&narrowed).unwrap();
    let err = check_target(
        &header_of(&crafted, &circle.roster),
        &target,
        &circle.roster,
    )
    .unwrap_err();
    assert_eq!(
        err,
        BundleError::RetractionNarrows(cast.charlie.member_id())
    );
    assert_eq!(err.rule(), "§3.26");
}

/// Acme's AMBER report goes to everyone, but Acme wants to leave Delta out without the gap
/// looking like withholding: it labels the link "named". Or it labels a RED link "circle"
/// (protocol.md §3.20).
#[test]
fn attack_chain_link_audience_lying() {
    let cast = Cast::new();
    let circle = Circle::standard(&cast);
    let amber = Share::report(&cast.acme, "for all")
        .seal(&circle.roster, now())
        .unwrap();
    let red = Share::report(&cast.acme, "for Bravo")
        .red(&[&cast.bravo])
        .seal(&circle.roster, now())
        .unwrap();
    for (bundle, lie) in [(&amber, "named"), (&red, "circle")] {
        let mut link = link_json(bundle);
        link["audience"] = json!(lie);
        let lying = with_link(bundle, &link, &cast.acme);
        assert!(
            verify_link(lying.link(), &circle.roster).is_ok(),
            "alone it is a valid link"
        );
        assert_refused(
            open_as(&lying, &circle.roster, &cast.bravo, now()),
            BundleError::LinkHeaderMismatch { field: "audience" },
            "§3.20",
        );
    }
}

/// The sequencer forked: on branch Y it admitted Mallory, on branch X (which Delta holds) it did
/// not. Charlie, on branch Y, shares AMBER to a roster that includes Mallory; Delta must not
/// accept a bundle made against a head it does not hold (protocol.md §3.4, §3.8).
#[test]
fn attack_mix_and_match_roster_head() {
    let cast = Cast::new();
    let base = Circle::standard(&cast);
    let mallory = company(66, "Mallory Holdings");
    let mut branch_y = base.clone();
    let admit = branch_y.admit_event(
        &cast.acme,
        &cast.acme,
        &mallory,
        &[&cast.charlie, &cast.bravo],
    );
    branch_y.push(admit);
    let mut branch_x = base.clone();
    let change = MemberChange::SetEndpoint {
        endpoint: Some("https://delta-x.example.net:8443".into()),
        tls_spki_sha256: cast.delta.tls_spki_pin(),
    };
    let req = branch_x.request(&cast.delta, change.clone());
    branch_x.push(branch_x.event(&cast.acme, EventBody::for_member_request(&change, req)));
    let on_y = Share::report(&cast.charlie, "for everyone on Y")
        .seal(&branch_y.roster, now())
        .unwrap();
    assert!(header_of(&on_y, &branch_y.roster).is_recipient(&mallory.member_id()));
    assert_refused(
        open_as(&on_y, &branch_x.roster, &cast.delta, now()),
        BundleError::RosterMismatch { seq: 1 },
        "§3.8",
    );
    // A node still at genesis holds the bundle back rather than accept it.
    let err = open_as(&on_y, &base.roster, &cast.delta, now()).unwrap_err();
    assert_eq!(err, BundleError::RosterBehind { stated: 1, have: 0 });
    assert!(err.is_retryable());
}

/// A relay flips bytes of Acme's ciphertext; then Acme itself signs a header over a corrupted
/// ciphertext, so the header matches but the age payload does not (protocol.md §3.18, §3.23).
#[test]
fn attack_tampered_ciphertext() {
    let cast = Cast::new();
    let circle = Circle::standard(&cast);
    let report = Share::report(&cast.acme, "Replica lag")
        .seal(&circle.roster, now())
        .unwrap();
    let mut ct = report.ciphertext().to_vec();
    let last = ct.len() - 1;
    ct[last] ^= 0x01;
    let relayed = BundleObject::new(report.link().clone(), report.header().clone(), ct.clone());
    assert_refused(
        open_as(&relayed, &circle.roster, &cast.bravo, now()),
        BundleError::CiphertextMismatch,
        "§3.18",
    );
    let signed_over = forge_bundle(&report, header_json(&report), ct, &cast.acme);
    assert!(verify_header_only(&signed_over, &circle.roster, now()).is_ok());
    assert_refused(
        open_as(&signed_over, &circle.roster, &cast.bravo, now()),
        BundleError::Decrypt,
        "§3.23",
    );
}

/// A relay cuts a bundle short: the framing, then only the ciphertext, then a truncated age
/// file that the author signed (protocol.md §3.2, §3.18, §3.23).
#[test]
fn attack_truncated_bundle() {
    let cast = Cast::new();
    let circle = Circle::standard(&cast);
    let report = Share::report(&cast.acme, "Disk full")
        .seal(&circle.roster, now())
        .unwrap();
    let bytes = report.as_bytes();
    let err = BundleObject::parse(&bytes[..bytes.len() / 2]).unwrap_err();
    assert!(matches!(err, BundleError::Framing(_)), "{err:?}");
    assert_eq!(err.rule(), "§3.2");
    let ct = &report.ciphertext()[..report.ciphertext().len() - 20];
    let cut = BundleObject::new(report.link().clone(), report.header().clone(), ct.to_vec());
    assert_refused(
        open_as(&cut, &circle.roster, &cast.bravo, now()),
        BundleError::CiphertextMismatch,
        "§3.18",
    );
    let signed_over = forge_bundle(&report, header_json(&report), ct.to_vec(), &cast.acme);
    assert_refused(
        open_as(&signed_over, &circle.roster, &cast.bravo, now()),
        BundleError::Decrypt,
        "§3.23",
    );
}

/// The author pads the age header with a giant stanza so age's quadratic header parser burns
/// every reader's CPU. Our own bounded parse refuses it first (protocol.md §3.22).
#[test]
fn attack_huge_age_header() {
    let cast = Cast::new();
    let circle = Circle::standard(&cast);
    let report = Share::report(&cast.acme, "Slow")
        .seal(&circle.roster, now())
        .unwrap();
    let line = format!("{}\n", "A".repeat(64));
    let stanza = format!("-> grease\n{}\n", line.repeat(20_000));
    let intro = debrief_protocol::bundle::AGE_INTRO.len();
    let mut ct = report.ciphertext()[..intro].to_vec();
    ct.extend_from_slice(stanza.as_bytes());
    ct.extend_from_slice(&report.ciphertext()[intro..]);
    assert!(ct.len() > 1_000_000);
    let crafted = forge_bundle(&report, header_json(&report), ct, &cast.acme);
    assert_refused(
        open_as(&crafted, &circle.roster, &cast.bravo, now()),
        BundleError::AgeHeader(AgeHeaderError::TooLarge {
            max: max_header_len(4),
        }),
        "§3.22",
    );
}

/// Acme encrypts its AMBER report to one extra, unlisted reader (an outsider), or leaves a
/// listed reader out: the age header must hold one X25519 stanza per listed recipient
/// (protocol.md §3.22).
#[test]
fn attack_stanza_count_not_recipients() {
    let cast = Cast::new();
    let circle = Circle::standard(&cast);
    let report = Share::report(&cast.acme, "Hidden reader")
        .seal(&circle.roster, now())
        .unwrap();
    let inner = inner_of(&report, &cast.acme).to_json();
    let listed = listed_recipients(&report);
    let mallory = company(66, "Mallory Holdings");
    let mut more = listed.clone();
    more.push(mallory.enc_recipient().to_string());
    let fewer: Vec<String> = listed
        .iter()
        .filter(|r| **r != cast.charlie.enc_recipient().to_string())
        .cloned()
        .collect();
    for (recips, found) in [(more, 5), (fewer, 3)] {
        let ct = encrypt_to(&recips, &inner);
        let crafted = forge_bundle(&report, header_json(&report), ct, &cast.acme);
        assert_refused(
            open_as(&crafted, &circle.roster, &cast.bravo, now()),
            BundleError::AgeHeader(AgeHeaderError::X25519Count { found, expected: 4 }),
            "§3.22",
        );
    }
}

/// An author lists more recipients than any header may carry (to make every receiver's age
/// parse quadratic), and then a header too big to read at all (protocol.md §3.1, §3.13).
#[test]
fn attack_many_recipients() {
    let cast = Cast::new();
    let circle = Circle::standard(&cast);
    let report = Share::report(&cast.acme, "Everyone")
        .seal(&circle.roster, now())
        .unwrap();
    let flood = |n: usize| {
        let mut recips: Vec<Recipient> = (0..n as u64)
            .map(|i| {
                let mut seed = [0u8; 32];
                seed[..8].copy_from_slice(&i.to_le_bytes());
                Recipient {
                    member: MemberId::from_first_key(&seed),
                    age_recipient: cast.acme.enc_recipient().to_string(),
                }
            })
            .collect();
        recips.sort();
        let mut h = header_json(&report);
        h["recipients"] = serde_json::to_value(&recips).unwrap();
        h["recipients_digest"] = json!(recipients_digest(&recips).to_hex());
        forge_bundle(&report, h, report.ciphertext().to_vec(), &cast.acme)
    };
    let crafted = flood(1_001);
    assert_refused(
        open_as(&crafted, &circle.roster, &cast.bravo, now()),
        BundleError::RecipientCount {
            count: 1_001,
            max: 1_000,
        },
        "§3.13",
    );
    let crafted = flood(5_000);
    let len = crafted.header().payload().len();
    assert_refused(
        open_as(&crafted, &circle.roster, &cast.bravo, now()),
        BundleError::TooLarge {
            what: "bundle header payload",
            len,
            max: debrief_protocol::bundle::MAX_HEADER_PAYLOAD_BYTES,
        },
        "§3.1",
    );
}
