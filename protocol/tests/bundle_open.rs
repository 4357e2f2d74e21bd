//! Opening bundles: the happy paths and the tamper matrix (every header field, every inner field,
//! the ciphertext, the link, each signature), each refused with its rule number.
#![allow(clippy::unwrap_used)]

mod bundle_support;

use bundle_support::*;
use debrief_protocol::bundle::{
    BundleBody, BundleError, BundleKind, BundleObject, Part, Tlp, open, seal, verify_header_only,
};
use debrief_protocol::envelope::{Envelope, PayloadType};
use debrief_protocol::ids::{EnvelopeId, Sha256Digest};
use serde_json::{Value, json};

fn open_as(w: &World, obj: &BundleObject, who: &Member) -> Result<BundleBody, BundleError> {
    open(obj, &w.roster, &who.id, std::slice::from_ref(&who.age), NOW)
        .map(|o| o.content().value().body.clone())
}

#[test]
fn every_recipient_opens_a_green_report() {
    let w = World::new();
    let obj = green_report(&w);
    for m in [&w.a, &w.b, &w.c, &w.d] {
        let opened = open(&obj, &w.roster, &m.id, std::slice::from_ref(&m.age), NOW).unwrap();
        assert_eq!(
            opened.content().value().body,
            BundleBody::Report(json!({"title": "DNS outage", "severity": 2}))
        );
        assert_eq!(opened.header().id(), obj.id());
        assert_eq!(opened.link().value().header, obj.id());
        assert_eq!(opened.header().value().recipients.len(), 4);
    }
    // The wire form round-trips byte for byte.
    let again = BundleObject::parse(obj.as_bytes()).unwrap();
    assert_eq!(again, obj);
    assert!(open_as(&w, &again, &w.b).is_ok());
}

#[test]
fn a_non_recipient_gets_not_a_recipient_and_can_still_check_the_header() {
    let w = World::new();
    let obj = seal(request(
        &w.roster,
        &w.a,
        BundleKind::Report,
        Tlp::Red,
        vec![w.b.id.clone()],
    ))
    .unwrap();
    let err = open_as(&w, &obj, &w.c).unwrap_err();
    assert_eq!(err, BundleError::NotARecipient);
    assert_eq!(err.rule(), "§3.21");
    let checked = verify_header_only(&obj, &w.roster, NOW).unwrap();
    assert_eq!(checked.header().value().recipients.len(), 2);
    assert!(open_as(&w, &obj, &w.b).is_ok());
    // A recipient without the matching age identity is told so, not given a crypto error.
    let err = open(
        &obj,
        &w.roster,
        &w.b.id,
        std::slice::from_ref(&w.c.age),
        NOW,
    )
    .unwrap_err();
    assert_eq!(err, BundleError::NoMatchingIdentity);
}

/// One row of the matrix: a description, the tampered object, the expected error.
struct Case {
    what: &'static str,
    object: BundleObject,
    expected: BundleError,
    rule: &'static str,
}

fn check(w: &World, cases: Vec<Case>) {
    let mut failures = Vec::new();
    for case in cases {
        let got = open_as(w, &case.object, &w.b);
        match got {
            Err(e) if e == case.expected && e.rule() == case.rule => {}
            other => failures.push(format!(
                "{}: expected {:?} ({}), got {:?}",
                case.what, case.expected, case.rule, other
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "tamper matrix failures:\n{}",
        failures.join("\n")
    );
}

/// Changes one header field without re-signing: every one breaks the signature (§3.6), or, if
/// the change makes the payload unreadable to the schema, is refused before it (§3.3).
#[test]
fn tamper_matrix_header_fields_unsigned() {
    let w = World::new();
    let obj = green_report(&w);
    let h = header_value(&obj);
    let fields: Vec<(&'static str, Value)> = vec![
        ("circle", json!(EnvelopeId(Sha256Digest::of(b"x")).to_hex())),
        ("author_seq", json!(2)),
        ("roster", json!({"seq": 0, "head": h["roster"]["head"]})),
        ("bundle", json!("00".repeat(16))),
        ("version", json!(2)),
        ("kind", json!("comment")),
        ("target", Value::Null),
        ("tlp", json!("AMBER")),
        ("enc", json!("age-x25519-v2")),
        ("recipients", json!([])),
        ("recipients_digest", json!(Sha256Digest::of(b"x").to_hex())),
        ("ciphertext_sha256", json!(Sha256Digest::of(b"x").to_hex())),
        ("ciphertext_len", json!(1)),
        ("created_at", json!("2026-11-25T09:00:00Z")),
    ];
    let mut cases = Vec::new();
    for (field, value) in fields {
        let mut t = h.clone();
        t[field] = value;
        // A report's target is already null: change it to something.
        if field == "target" {
            t[field] = json!({"header": obj.id().to_hex(), "author": w.a.id.as_str(), "bundle": "11".repeat(16), "version": 1});
        }
        let payload = debrief_protocol::canonical::to_canonical_vec(&t).unwrap();
        let env = Envelope::from_parts(
            PayloadType::BundleHeader.media_type(),
            payload,
            obj.header().signatures().to_vec(),
        );
        cases.push(Case {
            what: field,
            object: with_header_env(&obj, env),
            expected: BundleError::BadSignature { part: Part::Header },
            rule: "§3.6",
        });
    }
    // The author field picks the key: someone else's name finds no such key.
    let mut t = h.clone();
    t["author"] = json!(w.b.id.as_str());
    let env = Envelope::from_parts(
        PayloadType::BundleHeader.media_type(),
        debrief_protocol::canonical::to_canonical_vec(&t).unwrap(),
        obj.header().signatures().to_vec(),
    );
    cases.push(Case {
        what: "author",
        object: with_header_env(&obj, env),
        expected: BundleError::UnknownAuthorKey {
            part: Part::Header,
            author: w.b.id.clone(),
        },
        rule: "§3.5",
    });
    check(&w, cases);
}

/// Changes one header field and re-signs it with the author's own key (a malicious or buggy
/// author): each field's own rule refuses it.
#[test]
fn tamper_matrix_header_fields_resigned() {
    let w = World::new();
    let obj = green_report(&w);
    let h = header_value(&obj);
    let ct = obj.ciphertext().to_vec();
    let resigned = |f: &dyn Fn(&mut Value)| {
        let mut t = h.clone();
        f(&mut t);
        reframe(&obj, t, ct.clone(), &w.a.signing, false)
    };
    let (head_seq, _) = debrief_protocol::membership::RosterHistory::head(&w.roster);
    let other = EnvelopeId(Sha256Digest::of(b"elsewhere"));
    let mut recips_sorted_desc = h["recipients"].as_array().unwrap().clone();
    recips_sorted_desc.reverse();
    let with_recipients = |t: &mut Value, r: Vec<Value>| {
        let rs: Vec<debrief_protocol::bundle::Recipient> =
            serde_json::from_value(Value::Array(r.clone())).unwrap();
        t["recipients"] = Value::Array(r);
        t["recipients_digest"] = json!(debrief_protocol::bundle::recipients_digest(&rs).to_hex());
    };
    let recips = h["recipients"].as_array().unwrap().clone();
    let without = |id: &str| -> Vec<Value> {
        recips
            .iter()
            .filter(|r| r[0] != json!(id))
            .cloned()
            .collect()
    };
    let cases = vec![
        Case {
            what: "circle",
            object: resigned(&|t| t["circle"] = json!(other.to_hex())),
            expected: BundleError::WrongCircle {
                part: Part::Header,
                expected: debrief_protocol::membership::RosterHistory::circle_id(&w.roster),
                found: other,
            },
            rule: "§3.7",
        },
        Case {
            what: "author (another member, A's key)",
            object: resigned(&|t| t["author"] = json!(w.b.id.as_str())),
            expected: BundleError::UnknownAuthorKey {
                part: Part::Header,
                author: w.b.id.clone(),
            },
            rule: "§3.5",
        },
        Case {
            what: "author_seq 0",
            object: resigned(&|t| t["author_seq"] = json!(0)),
            expected: BundleError::ZeroAuthorSeq { part: Part::Header },
            rule: "§3.10",
        },
        Case {
            what: "author_seq disagreeing with the link",
            object: resigned(&|t| t["author_seq"] = json!(5)),
            expected: BundleError::LinkHeaderMismatch {
                field: "author seq",
            },
            rule: "§3.20",
        },
        Case {
            what: "roster seq beyond ours",
            object: resigned(&|t| t["roster"]["seq"] = json!(head_seq + 1)),
            expected: BundleError::RosterBehind {
                stated: head_seq + 1,
                have: head_seq,
            },
            rule: "§3.4",
        },
        Case {
            what: "roster seq with another seq's head",
            object: resigned(&|t| t["roster"]["seq"] = json!(head_seq - 1)),
            expected: BundleError::RosterMismatch { seq: head_seq - 1 },
            rule: "§3.8",
        },
        Case {
            what: "roster head",
            object: resigned(&|t| t["roster"]["head"] = json!(other.to_hex())),
            expected: BundleError::RosterMismatch { seq: head_seq },
            rule: "§3.8",
        },
        Case {
            what: "created_at in the future",
            object: resigned(&|t| t["created_at"] = json!("2026-11-25T10:05:00Z")),
            expected: BundleError::FromTheFuture {
                created_at: debrief_protocol::timestamp::Timestamp::parse("2026-11-25T10:05:00Z")
                    .unwrap(),
                now: NOW,
            },
            rule: "§3.11",
        },
        Case {
            what: "enc",
            object: resigned(&|t| t["enc"] = json!("age-x25519-v2")),
            expected: BundleError::UnknownEnc("age-x25519-v2".into()),
            rule: "§3.12",
        },
        Case {
            what: "recipients empty",
            object: resigned(&|t| with_recipients(t, vec![])),
            expected: BundleError::RecipientCount {
                count: 0,
                max: 1000,
            },
            rule: "§3.13",
        },
        Case {
            what: "recipients unsorted",
            object: resigned(&|t| with_recipients(t, recips_sorted_desc.clone())),
            expected: BundleError::RecipientsUnsorted,
            rule: "§3.13",
        },
        Case {
            what: "recipient with another age key",
            object: resigned(&|t| {
                let mut r = recips.clone();
                let i = r
                    .iter()
                    .position(|x| x[0] == json!(w.b.id.as_str()))
                    .unwrap();
                r[i][1] = json!(w.e.recipient());
                with_recipients(t, r)
            }),
            expected: BundleError::RecipientKeyMismatch(w.b.id.clone()),
            rule: "§3.13",
        },
        Case {
            what: "author not a recipient",
            object: resigned(&|t| with_recipients(t, without(w.a.id.as_str()))),
            expected: BundleError::AuthorNotRecipient,
            rule: "§3.13",
        },
        Case {
            what: "recipients changed, digest not",
            object: resigned(&|t| t["recipients"] = Value::Array(without(w.c.id.as_str()))),
            expected: BundleError::DigestMismatch,
            rule: "§3.14",
        },
        Case {
            what: "recipients_digest",
            object: resigned(&|t| t["recipients_digest"] = json!(Sha256Digest::of(b"x").to_hex())),
            expected: BundleError::DigestMismatch,
            rule: "§3.14",
        },
        Case {
            what: "circle-wide TLP with a member left out",
            object: resigned(&|t| with_recipients(t, without(w.c.id.as_str()))),
            expected: BundleError::PartialCircleAudience {
                tlp: "GREEN",
                missing: w.c.id.clone(),
            },
            rule: "§3.15",
        },
        Case {
            what: "tlp CLEAR",
            object: resigned(&|t| t["tlp"] = json!("CLEAR")),
            expected: BundleError::ClearInCircle,
            rule: "§3.15",
        },
        Case {
            what: "tlp RED under a circle link",
            object: resigned(&|t| t["tlp"] = json!("RED")),
            expected: BundleError::LinkHeaderMismatch { field: "audience" },
            rule: "§3.20",
        },
        Case {
            what: "tlp AMBER (inner says GREEN)",
            object: resigned(&|t| t["tlp"] = json!("AMBER")),
            expected: BundleError::InnerMismatch { field: "tlp" },
            rule: "§3.25",
        },
        Case {
            what: "version 2 of a report",
            object: resigned(&|t| t["version"] = json!(2)),
            expected: BundleError::KindRule {
                kind: BundleKind::Report,
                problem: "a report starts its lineage at version 1",
            },
            rule: "§3.16",
        },
        Case {
            what: "kind revision without a target",
            object: resigned(&|t| t["kind"] = json!("revision")),
            expected: BundleError::KindRule {
                kind: BundleKind::Revision,
                problem: "needs a target",
            },
            rule: "§3.16",
        },
        Case {
            what: "target on a report",
            object: resigned(
                &|t| t["target"] = json!({"header": obj.id().to_hex(), "author": w.a.id.as_str(), "bundle": "11".repeat(16), "version": 1}),
            ),
            expected: BundleError::KindRule {
                kind: BundleKind::Report,
                problem: "a report has no target",
            },
            rule: "§3.16",
        },
        Case {
            what: "bundle id (inner disagrees)",
            object: resigned(&|t| t["bundle"] = json!("22".repeat(16))),
            expected: BundleError::InnerMismatch { field: "bundle id" },
            rule: "§3.25",
        },
        Case {
            what: "ciphertext_sha256",
            object: resigned(&|t| t["ciphertext_sha256"] = json!(Sha256Digest::of(b"x").to_hex())),
            expected: BundleError::CiphertextMismatch,
            rule: "§3.18",
        },
        Case {
            what: "ciphertext_len",
            object: resigned(&|t| t["ciphertext_len"] = json!(ct.len() + 1)),
            expected: BundleError::CiphertextMismatch,
            rule: "§3.18",
        },
    ];
    check(&w, cases);
}

#[test]
fn unknown_or_non_canonical_header_fields_are_refused() {
    let w = World::new();
    let obj = green_report(&w);
    let mut t = header_value(&obj);
    t["extra"] = json!(1);
    let err = open_as(
        &w,
        &reframe(&obj, t, obj.ciphertext().to_vec(), &w.a.signing, false),
        &w.b,
    )
    .unwrap_err();
    assert!(
        matches!(&err, BundleError::Malformed { part: Part::Header, message } if message.contains("unknown field `extra`")),
        "{err:?}"
    );
    assert_eq!(err.rule(), "§3.3");
    // Signed, schema-valid, but not canonical (a space after a colon).
    let payload = String::from_utf8(obj.header().payload().to_vec())
        .unwrap()
        .replacen("\"enc\":", "\"enc\": ", 1);
    let mut env = Envelope::from_parts(
        PayloadType::BundleHeader.media_type(),
        payload.into_bytes(),
        Vec::new(),
    );
    env.add_signature(&w.a.signing).unwrap();
    let relinked = {
        let mut link: Value = obj.link().unverified_payload().unwrap();
        link["header"] = json!(env.id().to_hex());
        let l = Envelope::sign(&link, PayloadType::ChainLink, &w.a.signing).unwrap();
        BundleObject::new(l, env, obj.ciphertext().to_vec())
    };
    let err = open_as(&w, &relinked, &w.b).unwrap_err();
    assert!(
        matches!(
            err,
            BundleError::NotCanonical {
                part: Part::Header,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.rule(), "§3.6");
}
