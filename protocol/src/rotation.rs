//! Node-wide key rotation statements (protocol.md §1.11).
//!
//! A member rotates its signing key and its age X25519 identity together, once, for every circle
//! it belongs to. The statement names the old and the new signing key and the new encryption
//! recipient, and carries two signatures over the same bytes: one by the old key (this member
//! asks for the change) and one by the new key (the holder of the new key agrees to it). It has
//! no `circle` field; the circle commands submit the same statement to each circle.

use serde::{Deserialize, Serialize};

use crate::envelope::{self, Envelope, EnvelopeError, PayloadType, PublicKey, Signer, Verified};
use crate::ids::MemberId;
use crate::timestamp::Timestamp;

/// A signed request to replace a member's signing key and encryption recipient, node-wide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRotation {
    /// The member whose keys rotate (stable across rotations).
    pub member: MemberId,
    /// The signing key being retired.
    pub old_signing_key: PublicKey,
    /// The signing key that replaces it.
    pub new_signing_key: PublicKey,
    /// The new age X25519 recipient (`age1…`).
    pub new_enc_recipient: String,
    /// When the rotation was made.
    pub at: Timestamp,
}

/// Why a rotation statement is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RotationError {
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    #[error(
        "the rotation statement names old key {stated}, not the member's current key {expected}"
    )]
    OldKeyMismatch { stated: String, expected: String },
    #[error("the rotation statement must be signed by both the old and the new signing key")]
    MissingSignature,
    #[error("the new signing key is the same as the old one")]
    SameKey,
    #[error("the new encryption recipient is not an age X25519 recipient (age1…)")]
    BadRecipient,
}

impl KeyRotation {
    /// Checks the statement's own invariants (protocol.md §1.11).
    pub fn check(&self) -> Result<(), RotationError> {
        // protocol.md §1.11.2: a rotation must change the key.
        if self.old_signing_key == self.new_signing_key {
            return Err(RotationError::SameKey);
        }
        // protocol.md §1.11.3: the new recipient is a well-formed age X25519 recipient.
        if self
            .new_enc_recipient
            .parse::<age::x25519::Recipient>()
            .is_err()
        {
            return Err(RotationError::BadRecipient);
        }
        Ok(())
    }

    /// Signs the statement with the old key, then cosigns it with the new key.
    pub fn sign(&self, old: &dyn Signer, new: &dyn Signer) -> Result<Envelope, RotationError> {
        self.check()?;
        if old.public_key() != self.old_signing_key || new.public_key() != self.new_signing_key {
            return Err(RotationError::MissingSignature);
        }
        let mut env = Envelope::sign(self, PayloadType::KeyRotation, old)?;
        env.add_signature(new)?;
        Ok(env)
    }
}

/// Verifies a rotation statement against the member's current signing key `old_key`
/// (protocol.md §1.11). The caller checks that `member` is the member that key belongs to.
pub fn verify_rotation(
    envelope: &Envelope,
    old_key: &PublicKey,
) -> Result<Verified<KeyRotation>, RotationError> {
    // Only to learn which new key to verify with; nothing is trusted until both signatures pass.
    let claimed: KeyRotation = envelope.unverified_payload()?;
    let new_key = claimed.new_signing_key;
    let old_id = old_key.key_id();
    let new_id = new_key.key_id();
    // protocol.md §1.7: type, duplicates, verify_strict, canonical form, schema.
    let verified: Verified<KeyRotation> =
        envelope::verify_with(envelope, PayloadType::KeyRotation, |id| {
            if *id == old_id {
                Some(*old_key)
            } else if *id == new_id {
                Some(new_key)
            } else {
                None
            }
        })?;
    let rotation = verified.value();
    // protocol.md §1.11.1: the statement names the key it retires.
    if rotation.old_signing_key != *old_key {
        return Err(RotationError::OldKeyMismatch {
            stated: rotation.old_signing_key.key_id().to_hex(),
            expected: old_id.to_hex(),
        });
    }
    rotation.check()?;
    // protocol.md §1.11.4: both the old and the new key signed these exact bytes.
    let new_id = rotation.new_signing_key.key_id();
    if !verified.signed_by(&old_id) || !verified.signed_by(&new_id) {
        return Err(RotationError::MissingSignature);
    }
    Ok(verified)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn statement(old: &SigningKey, new: &SigningKey) -> KeyRotation {
        KeyRotation {
            member: old.public_key().member_id(),
            old_signing_key: old.public_key(),
            new_signing_key: new.public_key(),
            new_enc_recipient: age::x25519::Identity::generate().to_public().to_string(),
            at: Timestamp::from_unix(1_795_602_000),
        }
    }

    /// Pins the signed bytes: keys from seeds 1 (old) and 2 (new), the age recipient of the
    /// X25519 secret [3; 32], at 2026-11-25T10:20:00Z.
    #[test]
    fn fixed_vector() {
        let (old, new) = (key(1), key(2));
        let statement = KeyRotation {
            new_enc_recipient: "age1thld6wmt63lklg5wu9wed82mkr49xa6dfz9a47wlr3hqzf9nau3qqx6458"
                .into(),
            ..statement(&old, &new)
        };
        let env = statement.sign(&old, &new).unwrap();
        let expected_payload = format!(
            "{{\"at\":\"2026-11-25T10:20:00Z\",\"member\":\"{}\",\
             \"new_enc_recipient\":\"age1thld6wmt63lklg5wu9wed82mkr49xa6dfz9a47wlr3hqzf9nau3qqx6458\",\
             \"new_signing_key\":\"{}\",\"old_signing_key\":\"{}\"}}",
            old.public_key().member_id(),
            crate::encoding::base64_encode(&new.public_key().to_bytes()),
            crate::encoding::base64_encode(&old.public_key().to_bytes()),
        );
        assert_eq!(
            std::str::from_utf8(env.payload()).unwrap(),
            expected_payload
        );
        assert_eq!(
            env.payload_type(),
            "application/vnd.debrief.key-rotation.v1+json"
        );
        // Old key first, then new; Ed25519 is deterministic, so the id is fixed.
        assert_eq!(env.signatures()[0].keyid, old.public_key().key_id());
        assert_eq!(env.signatures()[1].keyid, new.public_key().key_id());
        assert_eq!(
            env.id().to_hex(),
            "9af01e121dbb54a70e65c8af6578917f4baac910cded06132fa3633f5ce58bec"
        );
    }

    #[test]
    fn signed_by_old_and_new_verifies() {
        let (old, new) = (key(1), key(2));
        let env = statement(&old, &new).sign(&old, &new).unwrap();
        assert_eq!(env.signatures().len(), 2);
        let v = verify_rotation(&env, &old.public_key()).unwrap();
        assert_eq!(v.value().new_signing_key, new.public_key());
        assert!(v.signed_by(&old.public_key().key_id()));
        assert!(v.signed_by(&new.public_key().key_id()));
    }

    #[test]
    fn only_old_signature_is_refused() {
        let (old, new) = (key(1), key(2));
        let env = Envelope::sign(&statement(&old, &new), PayloadType::KeyRotation, &old).unwrap();
        assert_eq!(
            verify_rotation(&env, &old.public_key()).unwrap_err(),
            RotationError::MissingSignature
        );
    }

    #[test]
    fn only_new_signature_is_refused() {
        let (old, new) = (key(1), key(2));
        let env = Envelope::sign(&statement(&old, &new), PayloadType::KeyRotation, &new).unwrap();
        assert_eq!(
            verify_rotation(&env, &old.public_key()).unwrap_err(),
            RotationError::MissingSignature
        );
    }

    #[test]
    fn verifying_against_another_old_key_is_refused() {
        let (old, new, other) = (key(1), key(2), key(3));
        let env = statement(&old, &new).sign(&old, &new).unwrap();
        // The other key signed nothing here, so the only trusted signature is the new key's and
        // the statement names a different old key.
        assert!(matches!(
            verify_rotation(&env, &other.public_key()).unwrap_err(),
            RotationError::OldKeyMismatch { .. }
        ));
    }

    #[test]
    fn wrong_payload_type_is_refused() {
        let (old, new) = (key(1), key(2));
        let mut env =
            Envelope::sign(&statement(&old, &new), PayloadType::MemberRequest, &old).unwrap();
        env.add_signature(&new).unwrap();
        assert!(matches!(
            verify_rotation(&env, &old.public_key()).unwrap_err(),
            RotationError::Envelope(EnvelopeError::WrongPayloadType { .. })
        ));
    }

    #[test]
    fn same_key_and_bad_recipient_are_refused_at_signing() {
        let old = key(1);
        assert_eq!(
            statement(&old, &old).sign(&old, &old).unwrap_err(),
            RotationError::SameKey
        );
        let new = key(2);
        let mut s = statement(&old, &new);
        s.new_enc_recipient = "age1nope".into();
        assert_eq!(s.sign(&old, &new).unwrap_err(), RotationError::BadRecipient);
    }

    #[test]
    fn flipped_payload_bit_is_refused() {
        let (old, new) = (key(1), key(2));
        let env = statement(&old, &new).sign(&old, &new).unwrap();
        let mut payload = env.payload().to_vec();
        // `{"at":"2026-…`: turn the year's last digit from 6 into 7, so the payload still parses.
        assert_eq!(payload[10], b'6');
        payload[10] ^= 1;
        let tampered = Envelope::from_parts(
            env.payload_type().into(),
            payload,
            env.signatures().to_vec(),
        );
        assert!(matches!(
            verify_rotation(&tampered, &old.public_key()).unwrap_err(),
            RotationError::Envelope(EnvelopeError::BadSignature(_))
        ));
    }
}
