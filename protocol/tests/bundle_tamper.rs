//! The tamper matrix, continued: every inner field, the ciphertext, the link and each signature,
//! changed in turn, refused with its rule number.
#![allow(clippy::unwrap_used)]

mod bundle_support;

use bundle_support::*;
use debrief_protocol::bundle::{BundleError, BundleKind, BundleObject, Part, open};
use debrief_protocol::envelope::{Envelope, PayloadType};
use debrief_protocol::ids::{EnvelopeId, Sha256Digest};
use debrief_protocol::membership::RosterHistory;
use serde_json::{Value, json};

fn open_as_b(w: &World, obj: &BundleObject) -> Result<(), BundleError> {
    open(obj, &w.roster, &w.b.id, std::slice::from_ref(&w.b.age), NOW).map(|_| ())
}

fn recipients_of(obj: &BundleObject) -> Vec<String> {
    header_of(obj)
        .recipients
        .iter()
        .map(|r| r.age_recipient.clone())
        .collect()
}

/// A new inner envelope, encrypted to the same recipients, under a header the author re-signs.
fn with_inner(w: &World, obj: &BundleObject, inner: &Envelope) -> BundleObject {
    let ct = encrypt_to(&recipients_of(obj), &inner.to_json());
    reframe(obj, header_value(obj), ct, &w.a.signing, true)
}

fn assert_refused(w: &World, what: &str, obj: &BundleObject, expected: BundleError, rule: &str) {
    let got = open_as_b(w, obj);
    assert_eq!(got, Err(expected), "{what}");
    assert_eq!(got.unwrap_err().rule(), rule, "{what}");
}

#[test]
fn the_reframing_helper_keeps_a_valid_bundle_valid() {
    // Guards the matrix: an unchanged inner under a re-signed header still opens, so every
    // refusal below comes from the one field changed.
    let w = World::new();
    let obj = green_report(&w);
    let inner = inner_of(&obj, &w.a);
    assert_eq!(open_as_b(&w, &with_inner(&w, &obj, &inner)), Ok(()));
}

#[test]
fn tamper_matrix_inner_fields() {
    let w = World::new();
    let obj = green_report(&w);
    let content: Value = inner_of(&obj, &w.a).unverified_payload().unwrap();
    let other = EnvelopeId(Sha256Digest::of(b"elsewhere"));
    let rows: Vec<(&str, Value, BundleError, &str)> = vec![
        (
            "circle",
            json!(other.to_hex()),
            BundleError::InnerMismatch { field: "circle" },
            "§3.25",
        ),
        (
            "author",
            json!(w.b.id.as_str()),
            BundleError::InnerMismatch { field: "author" },
            "§3.25",
        ),
        (
            "bundle",
            json!("33".repeat(16)),
            BundleError::InnerMismatch { field: "bundle id" },
            "§3.25",
        ),
        (
            "version",
            json!(2),
            BundleError::InnerMismatch { field: "version" },
            "§3.25",
        ),
        (
            "kind",
            json!("revision"),
            BundleError::InnerMismatch { field: "kind" },
            "§3.25",
        ),
        (
            "target",
            json!({"header": other.to_hex(), "author": w.a.id.as_str(), "bundle": "33".repeat(16), "version": 1}),
            BundleError::InnerMismatch { field: "target" },
            "§3.25",
        ),
        (
            "tlp",
            json!("AMBER"),
            BundleError::InnerMismatch { field: "tlp" },
            "§3.25",
        ),
        (
            "recipients_digest",
            json!(Sha256Digest::of(b"x").to_hex()),
            BundleError::InnerMismatch {
                field: "recipients digest",
            },
            "§3.25",
        ),
        (
            "body",
            json!({"text": "not a report"}),
            BundleError::KindRule {
                kind: BundleKind::Report,
                problem: "carries a report, not text",
            },
            "§3.16",
        ),
    ];
    for (field, value, expected, rule) in rows {
        let mut c = content.clone();
        c[field] = value;
        // Re-signed by the author: the field's own rule refuses it.
        let signed = Envelope::sign(&c, PayloadType::BundleContent, &w.a.signing).unwrap();
        assert_refused(&w, field, &with_inner(&w, &obj, &signed), expected, rule);
        // Not re-signed: the inner signature refuses it.
        let unsigned = Envelope::from_parts(
            PayloadType::BundleContent.media_type(),
            debrief_protocol::canonical::to_canonical_vec(&c).unwrap(),
            inner_of(&obj, &w.a).signatures().to_vec(),
        );
        assert_refused(
            &w,
            field,
            &with_inner(&w, &obj, &unsigned),
            BundleError::BadSignature { part: Part::Inner },
            "§3.24",
        );
    }
}

#[test]
fn tamper_matrix_inner_envelope() {
    let w = World::new();
    let obj = green_report(&w);
    let content: Value = inner_of(&obj, &w.a).unverified_payload().unwrap();
    // Signed by another member's key.
    let by_b = Envelope::sign(&content, PayloadType::BundleContent, &w.b.signing).unwrap();
    assert_refused(
        &w,
        "inner by B",
        &with_inner(&w, &obj, &by_b),
        BundleError::BadSignature { part: Part::Inner },
        "§3.24",
    );
    // Signed as another payload type.
    let as_header = Envelope::sign(&content, PayloadType::BundleHeader, &w.a.signing).unwrap();
    assert_refused(
        &w,
        "inner type",
        &with_inner(&w, &obj, &as_header),
        BundleError::WrongPayloadType {
            part: Part::Inner,
            found: PayloadType::BundleHeader.media_type(),
        },
        "§3.24",
    );
    // Two signatures.
    let mut twice = Envelope::sign(&content, PayloadType::BundleContent, &w.a.signing).unwrap();
    twice.add_signature(&w.b.signing).unwrap();
    assert_refused(
        &w,
        "inner twice",
        &with_inner(&w, &obj, &twice),
        BundleError::SignatureCount {
            part: Part::Inner,
            count: 2,
        },
        "§3.24",
    );
    // Not an envelope at all.
    let ct = encrypt_to(&recipients_of(&obj), b"hello");
    let garbage = reframe(&obj, header_value(&obj), ct, &w.a.signing, true);
    let err = open_as_b(&w, &garbage).unwrap_err();
    assert!(
        matches!(
            err,
            BundleError::Malformed {
                part: Part::Inner,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.rule(), "§3.24");
}

#[test]
fn tamper_matrix_ciphertext() {
    let w = World::new();
    let obj = green_report(&w);
    let mut ct = obj.ciphertext().to_vec();
    let last = ct.len() - 1;
    ct[last] ^= 1;
    // The header commits to the ciphertext.
    let flipped = BundleObject::new(obj.link().clone(), obj.header().clone(), ct.clone());
    assert_refused(
        &w,
        "flipped, header kept",
        &flipped,
        BundleError::CiphertextMismatch,
        "§3.18",
    );
    // Even with a header re-signed over it, the payload no longer decrypts.
    let refr = reframe(&obj, header_value(&obj), ct, &w.a.signing, true);
    assert_refused(
        &w,
        "flipped, header re-signed",
        &refr,
        BundleError::Decrypt,
        "§3.23",
    );
    // Truncated.
    let short = obj.ciphertext()[..obj.ciphertext().len() - 20].to_vec();
    let refr = reframe(&obj, header_value(&obj), short, &w.a.signing, true);
    assert_refused(&w, "truncated", &refr, BundleError::Decrypt, "§3.23");
}

#[test]
fn tamper_matrix_link() {
    let w = World::new();
    let obj = green_report(&w);
    let link: Value = obj.link().unverified_payload().unwrap();
    let other = EnvelopeId(Sha256Digest::of(b"elsewhere"));
    let rows: Vec<(&str, Value, BundleError, &str)> = vec![
        (
            "circle",
            json!(other.to_hex()),
            BundleError::WrongCircle {
                part: Part::Link,
                expected: w.roster.circle_id(),
                found: other,
            },
            "§3.19",
        ),
        (
            "author",
            json!(w.b.id.as_str()),
            BundleError::UnknownAuthorKey {
                part: Part::Link,
                author: w.b.id.clone(),
            },
            "§3.19",
        ),
        (
            "author_seq",
            json!(2),
            BundleError::LinkShape("every link after the first names its previous link"),
            "§3.19",
        ),
        (
            "prev",
            json!(other.to_hex()),
            BundleError::LinkShape("author seq 1 has no previous link"),
            "§3.19",
        ),
        (
            "header",
            json!(other.to_hex()),
            BundleError::LinkHeaderMismatch { field: "header id" },
            "§3.20",
        ),
        (
            "audience",
            json!("named"),
            BundleError::LinkHeaderMismatch { field: "audience" },
            "§3.20",
        ),
    ];
    for (field, value, expected, rule) in rows {
        let mut l = link.clone();
        l[field] = value;
        assert_refused(
            &w,
            field,
            &with_link(&obj, l.clone(), &w.a.signing),
            expected,
            rule,
        );
        // Not re-signed.
        let env = Envelope::from_parts(
            PayloadType::ChainLink.media_type(),
            debrief_protocol::canonical::to_canonical_vec(&l).unwrap(),
            obj.link().signatures().to_vec(),
        );
        let unsigned = BundleObject::new(env, obj.header().clone(), obj.ciphertext().to_vec());
        let expected = if field == "author" {
            BundleError::UnknownAuthorKey {
                part: Part::Link,
                author: w.b.id.clone(),
            }
        } else {
            BundleError::BadSignature { part: Part::Link }
        };
        assert_refused(&w, field, &unsigned, expected, "§3.19");
    }
    // Seq 2 with a prev: a valid link on its own, but not this header's.
    let mut l = link.clone();
    l["author_seq"] = json!(2);
    l["prev"] = json!(other.to_hex());
    assert_refused(
        &w,
        "seq 2",
        &with_link(&obj, l, &w.a.signing),
        BundleError::LinkHeaderMismatch {
            field: "author seq",
        },
        "§3.20",
    );
    // B's own valid link naming A's header.
    let mut l = link.clone();
    l["author"] = json!(w.b.id.as_str());
    assert_refused(
        &w,
        "B's link",
        &with_link(&obj, l, &w.b.signing),
        BundleError::LinkHeaderMismatch { field: "author" },
        "§3.20",
    );
}

#[test]
fn tamper_matrix_signatures() {
    let w = World::new();
    let obj = green_report(&w);
    let h = header_value(&obj);
    // Header signed by B's key while naming A.
    let by_b = reframe(
        &obj,
        h.clone(),
        obj.ciphertext().to_vec(),
        &w.b.signing,
        false,
    );
    assert_refused(
        &w,
        "header by B",
        &by_b,
        BundleError::UnknownAuthorKey {
            part: Part::Header,
            author: w.a.id.clone(),
        },
        "§3.5",
    );
    // A second signature on the header.
    let mut twice = obj.header().clone();
    twice.add_signature(&w.b.signing).unwrap();
    assert_refused(
        &w,
        "header twice",
        &with_header_env(&obj, twice),
        BundleError::SignatureCount {
            part: Part::Header,
            count: 2,
        },
        "§3.3",
    );
    // No signature.
    let none = Envelope::from_parts(
        PayloadType::BundleHeader.media_type(),
        obj.header().payload().to_vec(),
        vec![],
    );
    assert_refused(
        &w,
        "header unsigned",
        &with_header_env(&obj, none),
        BundleError::SignatureCount {
            part: Part::Header,
            count: 0,
        },
        "§3.3",
    );
    // The header signed as another payload type.
    let as_link = Envelope::sign(&h, PayloadType::ChainLink, &w.a.signing).unwrap();
    assert_refused(
        &w,
        "header type",
        &with_header_env(&obj, as_link),
        BundleError::WrongPayloadType {
            part: Part::Header,
            found: PayloadType::ChainLink.media_type(),
        },
        "§3.3",
    );
    // A signature byte flipped.
    let mut sigs = obj.header().signatures().to_vec();
    sigs[0].sig[0] ^= 1;
    let flipped = Envelope::from_parts(
        PayloadType::BundleHeader.media_type(),
        obj.header().payload().to_vec(),
        sigs,
    );
    assert_refused(
        &w,
        "header sig flipped",
        &with_header_env(&obj, flipped),
        BundleError::BadSignature { part: Part::Header },
        "§3.6",
    );
    // The link signed by B while naming A.
    let link: Value = obj.link().unverified_payload().unwrap();
    assert_refused(
        &w,
        "link by B",
        &with_link(&obj, link, &w.b.signing),
        BundleError::UnknownAuthorKey {
            part: Part::Link,
            author: w.a.id.clone(),
        },
        "§3.19",
    );
}

#[test]
fn size_limits_come_first() {
    use debrief_protocol::bundle::{MAX_BUNDLE_OBJECT_BYTES, MAX_HEADER_PAYLOAD_BYTES};
    let big = vec![b' '; MAX_BUNDLE_OBJECT_BYTES + 1];
    let err = BundleObject::parse(&big).unwrap_err();
    assert_eq!(
        err,
        BundleError::TooLarge {
            what: "bundle object",
            len: MAX_BUNDLE_OBJECT_BYTES + 1,
            max: MAX_BUNDLE_OBJECT_BYTES
        }
    );
    assert_eq!(err.rule(), "§3.1");
    let w = World::new();
    let obj = green_report(&w);
    let huge = Envelope::from_parts(
        PayloadType::BundleHeader.media_type(),
        vec![b'x'; MAX_HEADER_PAYLOAD_BYTES + 1],
        obj.header().signatures().to_vec(),
    );
    assert_refused(
        &w,
        "huge header",
        &with_header_env(&obj, huge),
        BundleError::TooLarge {
            what: "bundle header payload",
            len: MAX_HEADER_PAYLOAD_BYTES + 1,
            max: MAX_HEADER_PAYLOAD_BYTES,
        },
        "§3.1",
    );
    let err = BundleObject::parse(br#"{"link":{},"header":{}}"#).unwrap_err();
    assert!(matches!(err, BundleError::Framing(_)), "{err:?}");
    assert_eq!(err.rule(), "§3.2");
}
