//! Signed envelopes (protocol.md §1.1–§1.7).
//!
//! Every signed object travels in one DSSE-shaped envelope:
//! `{ "payloadType", "payload": base64(bytes), "signatures": [{ "keyid", "sig" }] }`, with each
//! Ed25519 signature over `PAE(type, body) = "DSSEv1" SP len(type) SP type SP len(body) SP body`.
//! Each kind of object has its own payload type, so a signature for one kind never passes as
//! another. The payload bytes are kept exactly as received; we never re-serialise to verify.

use std::fmt;
use std::ops::Deref;

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::canonical::{self, CanonicalError};
use crate::encoding::{base64_decode, base64_encode};
use crate::ids::{EnvelopeId, KeyId, MemberId, Sha256Digest};

/// The payload types of every kind of signed object (protocol.md §1.4). The string form is
/// `application/vnd.debrief.<kind>.v1+json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PayloadType {
    IdentityCard,
    KeyRotation,
    Invite,
    JoinRequest,
    Vouch,
    MemberRequest,
    QuorumProposal,
    RosterEvent,
    Checkpoint,
    ForkProof,
    ChainLink,
    BundleHeader,
    BundleContent,
    Approval,
    PublicContent,
    PublicLogEntry,
    PublicLogCheckpoint,
    ProvenanceClaim,
    HttpRequest,
    Feedback,
}

impl PayloadType {
    /// Every payload type, in the order of protocol.md §1.4.
    pub const ALL: [PayloadType; 20] = [
        PayloadType::IdentityCard,
        PayloadType::KeyRotation,
        PayloadType::Invite,
        PayloadType::JoinRequest,
        PayloadType::Vouch,
        PayloadType::MemberRequest,
        PayloadType::QuorumProposal,
        PayloadType::RosterEvent,
        PayloadType::Checkpoint,
        PayloadType::ForkProof,
        PayloadType::ChainLink,
        PayloadType::BundleHeader,
        PayloadType::BundleContent,
        PayloadType::Approval,
        PayloadType::PublicContent,
        PayloadType::PublicLogEntry,
        PayloadType::PublicLogCheckpoint,
        PayloadType::ProvenanceClaim,
        PayloadType::HttpRequest,
        PayloadType::Feedback,
    ];

    /// The kind part, e.g. `roster-event`.
    pub const fn kind(self) -> &'static str {
        match self {
            PayloadType::IdentityCard => "identity-card",
            PayloadType::KeyRotation => "key-rotation",
            PayloadType::Invite => "invite",
            PayloadType::JoinRequest => "join-request",
            PayloadType::Vouch => "vouch",
            PayloadType::MemberRequest => "member-request",
            PayloadType::QuorumProposal => "quorum-proposal",
            PayloadType::RosterEvent => "roster-event",
            PayloadType::Checkpoint => "checkpoint",
            PayloadType::ForkProof => "fork-proof",
            PayloadType::ChainLink => "chain-link",
            PayloadType::BundleHeader => "bundle-header",
            PayloadType::BundleContent => "bundle-content",
            PayloadType::Approval => "approval",
            PayloadType::PublicContent => "public-content",
            PayloadType::PublicLogEntry => "public-log-entry",
            PayloadType::PublicLogCheckpoint => "public-log-checkpoint",
            PayloadType::ProvenanceClaim => "provenance-claim",
            PayloadType::HttpRequest => "http-request",
            PayloadType::Feedback => "feedback",
        }
    }

    /// The full media type, e.g. `application/vnd.debrief.roster-event.v1+json`.
    pub fn media_type(self) -> String {
        format!("application/vnd.debrief.{}.v1+json", self.kind())
    }

    /// Parses a full media type.
    pub fn parse(text: &str) -> Option<PayloadType> {
        let kind = text
            .strip_prefix("application/vnd.debrief.")?
            .strip_suffix(".v1+json")?;
        PayloadType::ALL.into_iter().find(|t| t.kind() == kind)
    }
}

impl fmt::Display for PayloadType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.media_type())
    }
}

/// Why an envelope was refused. Crypto failures stay coarse on purpose (protocol.md §1.7).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("malformed envelope: {0}")]
    Malformed(String),
    #[error("wrong payload type: expected {expected}, found {found:?}")]
    WrongPayloadType {
        expected: PayloadType,
        found: String,
    },
    #[error("the envelope carries two signatures with key id {0}")]
    DuplicateSignature(KeyId),
    #[error("signature invalid (key id {0})")]
    BadSignature(KeyId),
    #[error("no signature by a trusted key")]
    NoTrustedSignature,
    #[error("weak (small-order) Ed25519 public key refused")]
    WeakKey,
    #[error("public key is not a valid Ed25519 point")]
    InvalidKey,
    #[error("payload is not canonical JSON: {0}")]
    NonCanonicalPayload(CanonicalError),
    #[error("payload does not match the {payload_type} schema: {message}")]
    Schema {
        payload_type: PayloadType,
        message: String,
    },
    #[error("cannot encode payload: {0}")]
    Encode(CanonicalError),
    #[error("key id {0} already signed this envelope")]
    AlreadySigned(KeyId),
}

/// An Ed25519 public key that is known not to be weak (protocol.md §1.6).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parses 32 bytes, refusing points that do not decode and small-order (weak) keys.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, EnvelopeError> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| EnvelopeError::InvalidKey)?;
        if key.is_weak() {
            return Err(EnvelopeError::WeakKey);
        }
        Ok(PublicKey(key))
    }

    /// The raw 32 bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// DSSE key id: SHA-256 of the 32 raw bytes.
    pub fn key_id(&self) -> KeyId {
        KeyId(Sha256Digest::of(self.0.as_bytes()))
    }

    /// The member id an identity created with this key has.
    pub fn member_id(&self) -> MemberId {
        MemberId::from_first_key(self.0.as_bytes())
    }

    /// `verify_strict` only: plain `verify` accepts some forgeries under weak keys.
    pub fn verify_strict(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        let sig = Signature::from_bytes(signature);
        self.0.verify_strict(message, &sig).is_ok()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", base64_encode(self.0.as_bytes()))
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64_encode(self.0.as_bytes()))
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = base64_decode(&text)
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| serde::de::Error::custom("public key must be 32 bytes in base64"))?;
        PublicKey::from_bytes(&bytes).map_err(serde::de::Error::custom)
    }
}

/// Something that can sign: a key in the keystore, or a fixed test key. The pure crate signs
/// through this trait and never touches key storage.
pub trait Signer {
    /// The public half of the signing key.
    fn public_key(&self) -> PublicKey;
    /// An Ed25519 signature over `message`.
    fn sign_message(&self, message: &[u8]) -> [u8; 64];
}

impl Signer for SigningKey {
    fn public_key(&self) -> PublicKey {
        PublicKey(self.verifying_key())
    }
    fn sign_message(&self, message: &[u8]) -> [u8; 64] {
        self.sign(message).to_bytes()
    }
}

/// One signature in an envelope.
#[derive(Clone, PartialEq, Eq)]
pub struct EnvelopeSignature {
    pub keyid: KeyId,
    pub sig: [u8; 64],
}

impl fmt::Debug for EnvelopeSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "EnvelopeSignature({}, {})",
            self.keyid,
            base64_encode(&self.sig)
        )
    }
}

/// A DSSE envelope. The payload bytes are exactly the bytes that were signed.
#[derive(Clone, PartialEq, Eq)]
pub struct Envelope {
    payload_type: String,
    payload: Vec<u8>,
    signatures: Vec<EnvelopeSignature>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvelope {
    #[serde(rename = "payloadType")]
    payload_type: String,
    payload: String,
    signatures: Vec<RawSignature>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSignature {
    keyid: String,
    sig: String,
}

impl fmt::Debug for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("payload_type", &self.payload_type)
            .field("payload_len", &self.payload.len())
            .field("signatures", &self.signatures)
            .finish()
    }
}

/// `PAE(type, body)` exactly as DSSE v1 defines it (protocol.md §1.1).
pub fn pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + payload_type.len() + body.len());
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(body.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(body);
    out
}

impl Envelope {
    /// Signs `value` as canonical JSON under `payload_type` (protocol.md §1.3, §1.4).
    pub fn sign<T: Serialize + ?Sized>(
        value: &T,
        payload_type: PayloadType,
        signer: &dyn Signer,
    ) -> Result<Envelope, EnvelopeError> {
        let payload = canonical::to_canonical_vec(value).map_err(EnvelopeError::Encode)?;
        let mut env = Envelope {
            payload_type: payload_type.media_type(),
            payload,
            signatures: Vec::new(),
        };
        env.add_signature(signer)?;
        Ok(env)
    }

    /// Adds a cosignature over the same bytes (quorum proposals, key rotation, public log).
    pub fn add_signature(&mut self, signer: &dyn Signer) -> Result<(), EnvelopeError> {
        let keyid = signer.public_key().key_id();
        if self.signatures.iter().any(|s| s.keyid == keyid) {
            return Err(EnvelopeError::AlreadySigned(keyid));
        }
        let sig = signer.sign_message(&self.pae());
        self.signatures.push(EnvelopeSignature { keyid, sig });
        Ok(())
    }

    /// Builds an envelope from parts, e.g. when a test or a vector needs exact control.
    pub fn from_parts(
        payload_type: String,
        payload: Vec<u8>,
        signatures: Vec<EnvelopeSignature>,
    ) -> Envelope {
        Envelope {
            payload_type,
            payload,
            signatures,
        }
    }

    /// Parses the JSON form. Only the envelope's shape is checked here; nothing is trusted until
    /// a verify function returns a [`Verified`].
    pub fn from_json(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
        let raw: RawEnvelope =
            serde_json::from_slice(bytes).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        Envelope::from_raw(raw)
    }

    /// Parses the envelope from an already-parsed JSON value (an envelope nested in another
    /// object, such as a bundle object).
    pub fn from_value(value: serde_json::Value) -> Result<Envelope, EnvelopeError> {
        let raw: RawEnvelope =
            serde_json::from_value(value).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        Envelope::from_raw(raw)
    }

    fn from_raw(raw: RawEnvelope) -> Result<Envelope, EnvelopeError> {
        let payload = base64_decode(&raw.payload)
            .ok_or_else(|| EnvelopeError::Malformed("payload is not standard base64".into()))?;
        let mut signatures = Vec::with_capacity(raw.signatures.len());
        for s in raw.signatures {
            let keyid: KeyId = s
                .keyid
                .parse()
                .map_err(|e: crate::ids::IdError| EnvelopeError::Malformed(e.to_string()))?;
            let sig = base64_decode(&s.sig)
                .and_then(|b| <[u8; 64]>::try_from(b).ok())
                .ok_or_else(|| {
                    EnvelopeError::Malformed("signature is not 64 bytes of base64".into())
                })?;
            signatures.push(EnvelopeSignature { keyid, sig });
        }
        Ok(Envelope {
            payload_type: raw.payload_type,
            payload,
            signatures,
        })
    }

    /// The canonical JSON form of the envelope (the envelope itself is not signed, but one
    /// spelling keeps stored and exported copies byte-identical).
    pub fn to_json(&self) -> Vec<u8> {
        let raw = self.to_raw();
        // A RawEnvelope holds only strings, so this cannot fail.
        canonical::to_canonical_vec(&raw).unwrap_or_default()
    }

    fn to_raw(&self) -> RawEnvelope {
        RawEnvelope {
            payload_type: self.payload_type.clone(),
            payload: base64_encode(&self.payload),
            signatures: self
                .signatures
                .iter()
                .map(|s| RawSignature {
                    keyid: s.keyid.to_hex(),
                    sig: base64_encode(&s.sig),
                })
                .collect(),
        }
    }

    /// The payload type string as received.
    pub fn payload_type(&self) -> &str {
        &self.payload_type
    }

    /// The payload bytes exactly as signed.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The signatures as received.
    pub fn signatures(&self) -> &[EnvelopeSignature] {
        &self.signatures
    }

    /// The PAE bytes that the signatures cover.
    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }

    /// Envelope id: SHA-256 of the PAE bytes (protocol.md §1.2).
    pub fn id(&self) -> EnvelopeId {
        EnvelopeId(Sha256Digest::of(&self.pae()))
    }

    /// Reads the payload without verifying it. Only for finding out which key to verify with
    /// (a self-signed identity card names its own key); never act on the result.
    pub fn unverified_payload<T: DeserializeOwned>(&self) -> Result<T, EnvelopeError> {
        serde_json::from_slice(&self.payload).map_err(|e| EnvelopeError::Schema {
            payload_type: PayloadType::parse(&self.payload_type)
                .unwrap_or(PayloadType::IdentityCard),
            message: e.to_string(),
        })
    }
}

impl Serialize for Envelope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_raw().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Envelope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawEnvelope::deserialize(d)?;
        Envelope::from_raw(raw).map_err(serde::de::Error::custom)
    }
}

/// A value whose envelope passed verification. Only the verify functions in this module can
/// make one, so holding a `Verified<T>` is proof that the checks ran (protocol.md §1.7).
#[derive(Clone)]
pub struct Verified<T> {
    value: T,
    envelope: Envelope,
    id: EnvelopeId,
    signers: Vec<KeyId>,
}

impl<T: fmt::Debug> fmt::Debug for Verified<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verified")
            .field("id", &self.id)
            .field("signers", &self.signers)
            .field("value", &self.value)
            .finish()
    }
}

impl<T> Verified<T> {
    /// The verified value.
    pub fn value(&self) -> &T {
        &self.value
    }

    /// The envelope exactly as received.
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// The envelope id.
    pub fn id(&self) -> EnvelopeId {
        self.id
    }

    /// Key ids whose signatures verified, each once.
    pub fn signers(&self) -> &[KeyId] {
        &self.signers
    }

    /// Whether `key` is among the verified signers.
    pub fn signed_by(&self, key: &KeyId) -> bool {
        self.signers.contains(key)
    }

    /// Splits into the value and the envelope it came in.
    pub fn into_parts(self) -> (T, Envelope) {
        (self.value, self.envelope)
    }
}

impl<T> Deref for Verified<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// Verifies an envelope signed by one known key (protocol.md §1.7 steps 1–5).
pub fn verify<T: DeserializeOwned>(
    envelope: &Envelope,
    expected: PayloadType,
    key: &PublicKey,
) -> Result<Verified<T>, EnvelopeError> {
    let verified = verify_with(envelope, expected, |id| {
        (*id == key.key_id()).then_some(*key)
    })?;
    Ok(verified)
}

/// Verifies an envelope against a set of trusted keys, looked up by key id
/// (protocol.md §1.7). Signatures by unknown key ids are ignored, as DSSE allows; a signature by
/// a known key that does not verify refuses the whole envelope, so tampering is never silent.
/// At least one trusted signature must verify; thresholds are the caller's, counted over
/// [`Verified::signers`] with [`count_distinct_members`].
pub fn verify_with<T, F>(
    envelope: &Envelope,
    expected: PayloadType,
    lookup: F,
) -> Result<Verified<T>, EnvelopeError>
where
    T: DeserializeOwned,
    F: Fn(&KeyId) -> Option<PublicKey>,
{
    // §1.7.1: the payload type is the one the caller expects, before any crypto.
    if envelope.payload_type != expected.media_type() {
        return Err(EnvelopeError::WrongPayloadType {
            expected,
            found: envelope.payload_type.clone(),
        });
    }
    // §1.7.2: one signature per key id.
    for (i, s) in envelope.signatures.iter().enumerate() {
        if envelope.signatures[..i].iter().any(|o| o.keyid == s.keyid) {
            return Err(EnvelopeError::DuplicateSignature(s.keyid));
        }
    }
    // §1.7.3: verify_strict over the PAE of the received bytes.
    let message = envelope.pae();
    let mut signers = Vec::new();
    for s in &envelope.signatures {
        let Some(key) = lookup(&s.keyid) else {
            continue;
        };
        if key.key_id() != s.keyid || !key.verify_strict(&message, &s.sig) {
            return Err(EnvelopeError::BadSignature(s.keyid));
        }
        signers.push(s.keyid);
    }
    if signers.is_empty() {
        return Err(EnvelopeError::NoTrustedSignature);
    }
    // §1.7.4: only after the signature, the payload must be canonical JSON.
    let json = canonical::check_canonical(&envelope.payload)
        .map_err(EnvelopeError::NonCanonicalPayload)?;
    // §1.7.5: and match the schema of its type (signed types deny unknown fields).
    let value: T = serde_json::from_value(json).map_err(|e| EnvelopeError::Schema {
        payload_type: expected,
        message: e.to_string(),
    })?;
    Ok(Verified {
        value,
        envelope: envelope.clone(),
        id: envelope.id(),
        signers,
    })
}

/// Counts the distinct member companies behind a set of verified signer key ids
/// (protocol.md §1.8): two keys of one member count once, unknown keys not at all.
pub fn count_distinct_members<F>(signers: &[KeyId], member_of: F) -> usize
where
    F: Fn(&KeyId) -> Option<MemberId>,
{
    let mut members: Vec<MemberId> = signers.iter().filter_map(member_of).collect();
    members.sort();
    members.dedup();
    members.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Note {
        text: String,
        n: u32,
    }

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn pae_matches_dsse_spec_example() {
        // The example from the DSSE v1 protocol description.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn payload_types_round_trip() {
        for t in PayloadType::ALL {
            assert_eq!(PayloadType::parse(&t.media_type()), Some(t));
        }
        assert_eq!(
            PayloadType::parse("application/vnd.debrief.nope.v1+json"),
            None
        );
    }

    #[test]
    fn sign_then_verify_and_json_round_trip() {
        let k = key(1);
        let env = Envelope::sign(
            &Note {
                text: "hi".into(),
                n: 3,
            },
            PayloadType::Feedback,
            &k,
        )
        .unwrap();
        let again = Envelope::from_json(&env.to_json()).unwrap();
        assert_eq!(again, env);
        let v: Verified<Note> = verify(&again, PayloadType::Feedback, &k.public_key()).unwrap();
        assert_eq!(
            v.value(),
            &Note {
                text: "hi".into(),
                n: 3
            }
        );
        assert_eq!(v.id(), env.id());
        assert_eq!(v.signers(), &[k.public_key().key_id()]);
    }

    #[test]
    fn wrong_type_is_refused_before_crypto() {
        let k = key(1);
        let env = Envelope::sign(
            &Note {
                text: "x".into(),
                n: 1,
            },
            PayloadType::Vouch,
            &k,
        )
        .unwrap();
        let err = verify::<Note>(&env, PayloadType::Feedback, &k.public_key()).unwrap_err();
        assert!(matches!(
            err,
            EnvelopeError::WrongPayloadType {
                expected: PayloadType::Feedback,
                ..
            }
        ));
    }

    #[test]
    fn threshold_counts_members_not_keys() {
        let (a, b, c) = (key(1), key(2), key(3));
        let mut env = Envelope::sign(
            &Note {
                text: "q".into(),
                n: 1,
            },
            PayloadType::QuorumProposal,
            &a,
        )
        .unwrap();
        env.add_signature(&b).unwrap();
        env.add_signature(&c).unwrap();
        assert_eq!(
            env.add_signature(&c),
            Err(EnvelopeError::AlreadySigned(c.public_key().key_id()))
        );
        let keys = [a.public_key(), b.public_key(), c.public_key()];
        let v: Verified<Note> = verify_with(&env, PayloadType::QuorumProposal, |id| {
            keys.iter().copied().find(|k| k.key_id() == *id)
        })
        .unwrap();
        assert_eq!(v.signers().len(), 3);
        // a and b belong to one company, c to another.
        let company_1 = a.public_key().member_id();
        let company_2 = c.public_key().member_id();
        let n = count_distinct_members(v.signers(), |id| {
            if *id == c.public_key().key_id() {
                Some(company_2.clone())
            } else {
                Some(company_1.clone())
            }
        });
        assert_eq!(n, 2);
    }
}
