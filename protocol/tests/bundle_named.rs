//! The named attack and mistake cases of issue 7, each refused with its exact error and rule.
#![allow(clippy::unwrap_used)]

mod bundle_support;

use bundle_support::*;
use debrief_protocol::bundle::{
    AgeHeaderError, BundleError, BundleKind, BundleObject, Part, SealRequest, Tlp, check_target,
    open, seal, verify_header_only, verify_link,
};
use debrief_protocol::envelope::{Envelope, PayloadType, Signer};
use debrief_protocol::membership::{ChainTip, RosterHistory};
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

fn open_as(w: &World, obj: &BundleObject, who: &Member) -> Result<(), BundleError> {
    open(obj, &w.roster, &who.id, std::slice::from_ref(&who.age), NOW).map(|_| ())
}

fn expect(got: Result<(), BundleError>, expected: BundleError, rule: &str) {
    let err = got.unwrap_err();
    assert_eq!(err, expected);
    assert_eq!(err.rule(), rule);
}

fn seal_err(req: SealRequest<'_>) -> BundleError {
    seal(req).unwrap_err()
}

#[test]
fn co_recipient_forgery_is_refused() {
    // B, a recipient, re-encrypts a changed inner under A's original header and link.
    let w = World::new();
    let obj = green_report(&w);
    let mut content: Value = inner_of(&obj, &w.b).unverified_payload().unwrap();
    content["body"] = json!({"report": {"title": "A admits everything"}});
    // B cannot sign as A: it either keeps A's signature over changed bytes or signs itself.
    for inner in [
        Envelope::from_parts(
            PayloadType::BundleContent.media_type(),
            debrief_protocol::canonical::to_canonical_vec(&content).unwrap(),
            inner_of(&obj, &w.b).signatures().to_vec(),
        ),
        Envelope::sign(&content, PayloadType::BundleContent, &w.b.signing).unwrap(),
    ] {
        let recips: Vec<String> = header_of(&obj)
            .recipients
            .iter()
            .map(|r| r.age_recipient.clone())
            .collect();
        let ct = encrypt_to(&recips, &inner.to_json());
        let forged = BundleObject::new(obj.link().clone(), obj.header().clone(), ct);
        expect(
            open_as(&w, &forged, &w.c),
            BundleError::CiphertextMismatch,
            "§3.18",
        );
    }
}

#[test]
fn surreptitious_forwarding_is_refused() {
    // C takes A's valid inner and re-wraps it under its own header and link, as its author.
    let w = World::new();
    let a_bundle = green_report(&w);
    let a_inner = inner_of(&a_bundle, &w.c);
    let c_bundle = seal(request(
        &w.roster,
        &w.c,
        BundleKind::Report,
        Tlp::Green,
        vec![],
    ))
    .unwrap();
    let recips: Vec<String> = header_of(&c_bundle)
        .recipients
        .iter()
        .map(|r| r.age_recipient.clone())
        .collect();
    let ct = encrypt_to(&recips, &a_inner.to_json());
    let forwarded = reframe(&c_bundle, header_value(&c_bundle), ct, &w.c.signing, true);
    // The header and link are C's and valid; the inner is signed by A, not by the header's key.
    assert!(verify_header_only(&forwarded, &w.roster, NOW).is_ok());
    expect(
        open_as(&w, &forwarded, &w.b),
        BundleError::BadSignature { part: Part::Inner },
        "§3.24",
    );
}

#[test]
fn wrong_circle_is_refused() {
    let w = World::new();
    let mut elsewhere = FixtureRoster::new("another circle", &[&w.a, &w.b]);
    elsewhere.admit(&w.c);
    elsewhere.admit(&w.d);
    let obj = seal(request(
        &elsewhere,
        &w.a,
        BundleKind::Report,
        Tlp::Green,
        vec![],
    ))
    .unwrap();
    expect(
        open_as(&w, &obj, &w.b),
        BundleError::WrongCircle {
            part: Part::Header,
            expected: w.roster.circle_id(),
            found: elsewhere.circle_id(),
        },
        "§3.7",
    );
}

#[test]
fn author_removed_before_the_roster_seq_is_refused() {
    let mut w = World::new();
    let obj = green_report(&w);
    let tip = ChainTip {
        seq: 1,
        link: Some(obj.link().id()),
    };
    let removed_at = w.roster.remove(&w.a.id, tip);
    // What A sent before removal still opens.
    assert_eq!(open_as(&w, &obj, &w.b), Ok(()));
    // A refuses to seal after it.
    let mut req = request(&w.roster, &w.a, BundleKind::Report, Tlp::Green, vec![]);
    req.author_seq = 2;
    req.prev_link = Some(obj.link().id());
    assert_eq!(
        seal_err(req),
        BundleError::AuthorNotMember {
            author: w.a.id.clone(),
            seq: removed_at
        }
    );
    // A header that claims the roster after the removal is refused.
    let mut h = header_value(&obj);
    h["roster"] =
        json!({"seq": removed_at, "head": w.roster.event_id_at(removed_at).unwrap().to_hex()});
    let crafted = reframe(&obj, h, obj.ciphertext().to_vec(), &w.a.signing, false);
    expect(
        open_as(&w, &crafted, &w.b),
        BundleError::AuthorNotMember {
            author: w.a.id.clone(),
            seq: removed_at,
        },
        "§3.9",
    );
}

#[test]
fn a_rotated_away_key_beyond_its_tip_is_refused() {
    let mut w = World::new();
    let before = w.roster.clone();
    let first = green_report(&w);
    let new_key = SigningKey::from_bytes(&[11; 32]);
    let tip = ChainTip {
        seq: 1,
        link: Some(first.link().id()),
    };
    w.roster.rotate(&w.a.id, new_key.public_key(), tip);
    // The old key's seq 1 still opens; its link still verifies.
    assert_eq!(open_as(&w, &first, &w.b), Ok(()));
    assert!(verify_link(first.link(), &w.roster).is_ok());
    // The old key signs seq 2 against the roster as it was before the rotation (back-dated).
    let mut req = request(&before, &w.a, BundleKind::Report, Tlp::Green, vec![]);
    req.author_seq = 2;
    req.prev_link = Some(first.link().id());
    req.bundle_id = debrief_protocol::bundle::BundleId([77; 16]);
    let backdated = seal(req).unwrap();
    expect(
        open_as(&w, &backdated, &w.b),
        BundleError::KeyRetired {
            part: Part::Header,
            author_seq: 2,
            tip_seq: 1,
        },
        "§3.10",
    );
    assert_eq!(
        verify_link(backdated.link(), &w.roster).unwrap_err(),
        BundleError::KeyRetired {
            part: Part::Link,
            author_seq: 2,
            tip_seq: 1
        }
    );
    // A second seq-1 link by the old key is not the link the roster recorded at the tip.
    let mut other_first = link_of(&first);
    other_first.header = backdated.id();
    let env = Envelope::sign(&other_first, PayloadType::ChainLink, &w.a.signing).unwrap();
    let err = verify_link(&env, &w.roster).unwrap_err();
    assert_eq!(err, BundleError::LinkTipMismatch);
    assert_eq!(err.rule(), "§3.19");
    // Signing with the old key at the current head is refused at seal time.
    let mut req = request(&w.roster, &w.a, BundleKind::Report, Tlp::Green, vec![]);
    req.author_seq = 2;
    req.prev_link = Some(first.link().id());
    assert_eq!(
        seal_err(req),
        BundleError::UnknownAuthorKey {
            part: Part::Header,
            author: w.a.id.clone()
        }
    );
    // The new key continues the chain.
    let mut req = request(&w.roster, &w.a, BundleKind::Report, Tlp::Green, vec![]);
    req.signer = &new_key;
    req.author_seq = 2;
    req.prev_link = Some(first.link().id());
    req.bundle_id = debrief_protocol::bundle::BundleId([78; 16]);
    let next = seal(req).unwrap();
    assert_eq!(open_as(&w, &next, &w.b), Ok(()));
}

#[test]
fn a_header_listing_a_non_member_is_refused() {
    let w = World::new();
    assert_eq!(
        seal_err(request(
            &w.roster,
            &w.a,
            BundleKind::Report,
            Tlp::Red,
            vec![w.e.id.clone()]
        )),
        BundleError::RecipientNotMember(w.e.id.clone())
    );
    let obj = seal(request(
        &w.roster,
        &w.a,
        BundleKind::Report,
        Tlp::Red,
        vec![w.b.id.clone()],
    ))
    .unwrap();
    let mut h = header_value(&obj);
    let mut recips: Vec<debrief_protocol::bundle::Recipient> = header_of(&obj).recipients;
    recips.push(debrief_protocol::bundle::Recipient {
        member: w.e.id.clone(),
        age_recipient: w.e.recipient(),
    });
    recips.sort();
    h["recipients"] = serde_json::to_value(&recips).unwrap();
    h["recipients_digest"] = json!(debrief_protocol::bundle::recipients_digest(&recips).to_hex());
    let crafted = reframe(&obj, h, obj.ciphertext().to_vec(), &w.a.signing, false);
    expect(
        open_as(&w, &crafted, &w.b),
        BundleError::RecipientNotMember(w.e.id.clone()),
        "§3.13",
    );
}

#[test]
fn x25519_stanza_count_must_match_the_recipients() {
    let w = World::new();
    let obj = green_report(&w);
    let inner = inner_of(&obj, &w.a).to_json();
    let listed: Vec<String> = header_of(&obj)
        .recipients
        .iter()
        .map(|r| r.age_recipient.clone())
        .collect();
    // A hidden fifth reader, an outsider.
    let mut more = listed.clone();
    more.push(w.e.recipient());
    let hidden = reframe(
        &obj,
        header_value(&obj),
        encrypt_to(&more, &inner),
        &w.a.signing,
        true,
    );
    expect(
        open_as(&w, &hidden, &w.b),
        BundleError::AgeHeader(AgeHeaderError::X25519Count {
            found: 5,
            expected: 4,
        }),
        "§3.22",
    );
    // A listed reader left out.
    let fewer: Vec<String> = listed
        .iter()
        .filter(|r| **r != w.c.recipient())
        .cloned()
        .collect();
    let short = reframe(
        &obj,
        header_value(&obj),
        encrypt_to(&fewer, &inner),
        &w.a.signing,
        true,
    );
    expect(
        open_as(&w, &short, &w.b),
        BundleError::AgeHeader(AgeHeaderError::X25519Count {
            found: 3,
            expected: 4,
        }),
        "§3.22",
    );
}

/// Inserts `stanza` into the age header just before its MAC line.
fn splice_before_mac(ct: &[u8], stanza: &str) -> Vec<u8> {
    let at = ct.windows(5).position(|w| w == b"\n--- ").unwrap() + 1;
    let mut out = ct[..at].to_vec();
    out.extend_from_slice(stanza.as_bytes());
    out.extend_from_slice(&ct[at..]);
    out
}

#[test]
fn two_extra_stanzas_are_refused() {
    let w = World::new();
    let obj = green_report(&w);
    // age already added one grease stanza; add a second.
    let ct = splice_before_mac(obj.ciphertext(), "-> x-grease\n\n");
    let crafted = reframe(&obj, header_value(&obj), ct, &w.a.signing, true);
    expect(
        open_as(&w, &crafted, &w.b),
        BundleError::AgeHeader(AgeHeaderError::ExtraStanzas { found: 2 }),
        "§3.22",
    );
}

#[test]
fn an_oversized_age_header_is_refused() {
    let w = World::new();
    let obj = green_report(&w);
    let line = format!("{}\n", "A".repeat(64));
    // One stanza larger than any grease stanza, first in the header.
    let big = format!("-> big-grease\n{}AAAA\n", line.repeat(8));
    let at = b"age-encryption.org/v1\n".len();
    let mut ct = obj.ciphertext()[..at].to_vec();
    ct.extend_from_slice(big.as_bytes());
    ct.extend_from_slice(&obj.ciphertext()[at..]);
    let crafted = reframe(&obj, header_value(&obj), ct, &w.a.signing, true);
    expect(
        open_as(&w, &crafted, &w.b),
        BundleError::AgeHeader(AgeHeaderError::OtherStanzaTooLarge { len: 539, max: 512 }),
        "§3.22",
    );
    // A header that runs past the bound for its recipients.
    let endless = format!("-> big-grease\n{}", line.repeat(40));
    let ct = splice_before_mac(obj.ciphertext(), &endless);
    let crafted = reframe(&obj, header_value(&obj), ct, &w.a.signing, true);
    expect(
        open_as(&w, &crafted, &w.b),
        BundleError::AgeHeader(AgeHeaderError::TooLarge {
            max: debrief_protocol::bundle::max_header_len(4),
        }),
        "§3.22",
    );
}

#[test]
fn a_revision_by_a_non_author_is_refused() {
    let w = World::new();
    let report = green_report(&w);
    let target = target_of(&report, &[&report]);
    let mut req = request(&w.roster, &w.b, BundleKind::Revision, Tlp::Green, vec![]);
    req.target = Some(&target);
    req.bundle_id = target.bundle;
    assert_eq!(
        seal_err(req),
        BundleError::NotTargetAuthor {
            kind: BundleKind::Revision
        }
    );
    // The same for retractions and reshares.
    for kind in [BundleKind::Retraction, BundleKind::Reshare] {
        let mut req = request(&w.roster, &w.b, kind, Tlp::Green, vec![]);
        req.target = Some(&target);
        if kind == BundleKind::Reshare {
            req.bundle_id = target.bundle;
        }
        assert_eq!(seal_err(req), BundleError::NotTargetAuthor { kind });
    }
    // B lies about the target's author to get past its own node: receivers that hold the
    // target catch it (§3.26), and the header already names B's own lineage.
    let mut lie = target.clone();
    lie.author = w.b.id.clone();
    let mut req = request(&w.roster, &w.b, BundleKind::Revision, Tlp::Green, vec![]);
    req.target = Some(&lie);
    req.bundle_id = target.bundle;
    let forged = seal(req).unwrap();
    let checked = verify_header_only(&forged, &w.roster, NOW).unwrap();
    let err = check_target(checked.header().value(), &target, &w.roster).unwrap_err();
    assert_eq!(err, BundleError::TargetMismatch { field: "author" });
    assert_eq!(err.rule(), "§3.26");
    // A header naming A as the target's author but signed by B is refused statically.
    let mut h = header_value(&forged);
    h["target"]["author"] = json!(w.a.id.as_str());
    let crafted = reframe(
        &forged,
        h,
        forged.ciphertext().to_vec(),
        &w.b.signing,
        false,
    );
    expect(
        open_as(&w, &crafted, &w.c),
        BundleError::NotTargetAuthor {
            kind: BundleKind::Revision,
        },
        "§3.16",
    );
}

#[test]
fn a_retraction_narrowing_the_audience_is_refused() {
    let mut w = World::new();
    let report = seal(request(
        &w.roster,
        &w.a,
        BundleKind::Report,
        Tlp::Red,
        vec![w.b.id.clone(), w.c.id.clone()],
    ))
    .unwrap();
    let target = target_of(&report, &[&report]);
    let mut req = request(
        &w.roster,
        &w.a,
        BundleKind::Retraction,
        Tlp::Red,
        vec![w.b.id.clone()],
    );
    req.target = Some(&target);
    req.author_seq = 2;
    req.prev_link = Some(report.link().id());
    req.bundle_id = debrief_protocol::bundle::BundleId([0xee; 16]);
    let err = seal_err(req);
    assert_eq!(err, BundleError::RetractionNarrows(w.c.id.clone()));
    assert_eq!(err.rule(), "§3.26");
    // Once C has left the circle, it cannot be reached and is not required.
    w.roster.remove(&w.c.id, ChainTip { seq: 0, link: None });
    let mut req = request(
        &w.roster,
        &w.a,
        BundleKind::Retraction,
        Tlp::Red,
        vec![w.b.id.clone()],
    );
    req.target = Some(&target);
    req.author_seq = 2;
    req.prev_link = Some(report.link().id());
    req.bundle_id = debrief_protocol::bundle::BundleId([0xee; 16]);
    let retraction = seal(req).unwrap();
    assert_eq!(open_as(&w, &retraction, &w.b), Ok(()));
}

#[test]
fn a_comment_widening_its_parents_audience_is_refused() {
    let w = World::new();
    let report = seal(request(
        &w.roster,
        &w.a,
        BundleKind::Report,
        Tlp::Red,
        vec![w.b.id.clone()],
    ))
    .unwrap();
    let parent = target_of(&report, &[&report]);
    let mut req = request(
        &w.roster,
        &w.b,
        BundleKind::Comment,
        Tlp::Red,
        vec![w.a.id.clone(), w.c.id.clone()],
    );
    req.target = Some(&parent);
    let err = seal_err(req);
    assert_eq!(err, BundleError::CommentWidens(w.c.id.clone()));
    assert_eq!(err.rule(), "§3.26");
    // Within the parent's readers it is fine, and the author can read it.
    let mut req = request(
        &w.roster,
        &w.b,
        BundleKind::Comment,
        Tlp::Red,
        vec![w.a.id.clone()],
    );
    req.target = Some(&parent);
    let comment = seal(req).unwrap();
    assert_eq!(open_as(&w, &comment, &w.a), Ok(()));
    assert!(check_target(&header_of(&comment), &parent, &w.roster).is_ok());
}

#[test]
fn a_chain_link_whose_audience_contradicts_its_header_is_refused() {
    let w = World::new();
    // A RED bundle whose link claims the whole circle.
    let red = seal(request(
        &w.roster,
        &w.a,
        BundleKind::Report,
        Tlp::Red,
        vec![w.b.id.clone()],
    ))
    .unwrap();
    let mut link: Value = red.link().unverified_payload().unwrap();
    link["audience"] = json!("circle");
    expect(
        open_as(&w, &with_link(&red, link, &w.a.signing), &w.b),
        BundleError::LinkHeaderMismatch { field: "audience" },
        "§3.20",
    );
    // And a GREEN bundle whose link says named.
    let green = green_report(&w);
    let mut link: Value = green.link().unverified_payload().unwrap();
    link["audience"] = json!("named");
    expect(
        open_as(&w, &with_link(&green, link, &w.a.signing), &w.b),
        BundleError::LinkHeaderMismatch { field: "audience" },
        "§3.20",
    );
}

#[test]
fn signer_trait_objects_work_for_seal() {
    // The keystore's signer is a trait object; nothing in seal needs the concrete type.
    let w = World::new();
    let signer: &dyn Signer = &w.a.signing;
    let mut req = request(&w.roster, &w.a, BundleKind::Report, Tlp::Green, vec![]);
    req.signer = signer;
    assert!(seal(req).is_ok());
}
