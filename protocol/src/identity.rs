//! Identity cards (protocol.md §1.10): a member's signed, public description of itself.

use serde::{Deserialize, Serialize};

use crate::envelope::{self, Envelope, EnvelopeError, PayloadType, PublicKey, Signer, Verified};
use crate::ids::{MemberId, Sha256Digest};
use crate::profile::OrgProfile;
use crate::timestamp::Timestamp;

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the 32-byte key follows it.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// The TLS pin of a node whose certificate key is the Ed25519 key `tls_public_key`:
/// SHA-256 of the DER SubjectPublicKeyInfo (protocol.md §1.10).
pub fn tls_spki_pin(tls_public_key: &[u8; 32]) -> Sha256Digest {
    Sha256Digest::of_parts(&[&ED25519_SPKI_PREFIX, tls_public_key])
}

/// The SubjectPublicKeyInfo DER bytes for an Ed25519 key.
pub fn ed25519_spki_der(public_key: &[u8; 32]) -> Vec<u8> {
    let mut out = ED25519_SPKI_PREFIX.to_vec();
    out.extend_from_slice(public_key);
    out
}

/// A member's public identity. Signed by its own signing key; the member id must be the one
/// derived from `first_signing_key`, and `signing_key` is the current one (equal to the first
/// until a rotation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityCard {
    pub member: MemberId,
    /// Display name of the organisation, as its people would write it.
    pub org: String,
    pub profile: OrgProfile,
    /// The key the identity was created with; the member id is derived from it.
    pub first_signing_key: PublicKey,
    /// The current signing key.
    pub signing_key: PublicKey,
    /// The age X25519 recipient (`age1…`) bundles are encrypted to.
    pub enc_recipient: String,
    /// SHA-256 of the node's TLS SubjectPublicKeyInfo.
    pub tls_spki_sha256: Sha256Digest,
    /// Where peers reach the node (`https://host:port`), if it serves.
    pub endpoint: Option<String>,
    pub created_at: Timestamp,
}

/// Why an identity card is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    #[error("member id {stated} does not match the first signing key (expected {derived})")]
    MemberIdMismatch { stated: MemberId, derived: MemberId },
    #[error("encryption recipient is not an age X25519 recipient (age1…)")]
    BadRecipient,
    #[error("organisation name must be 1 to 100 characters without control characters")]
    BadOrgName,
    #[error("endpoint must be an https:// URL without credentials, query or fragment")]
    BadEndpoint,
}

impl IdentityCard {
    /// Checks the card's own invariants (protocol.md §1.10).
    pub fn check(&self) -> Result<(), IdentityError> {
        let derived = self.first_signing_key.member_id();
        if derived != self.member {
            return Err(IdentityError::MemberIdMismatch {
                stated: self.member.clone(),
                derived,
            });
        }
        if self
            .enc_recipient
            .parse::<age::x25519::Recipient>()
            .is_err()
        {
            return Err(IdentityError::BadRecipient);
        }
        let name_ok = !self.org.trim().is_empty()
            && self.org.chars().count() <= 100
            && !self.org.chars().any(char::is_control);
        if !name_ok {
            return Err(IdentityError::BadOrgName);
        }
        if let Some(url) = &self.endpoint {
            check_endpoint(url)?;
        }
        Ok(())
    }

    /// Signs the card with the member's current signing key.
    pub fn sign(&self, signer: &dyn Signer) -> Result<Envelope, IdentityError> {
        self.check()?;
        Ok(Envelope::sign(self, PayloadType::IdentityCard, signer)?)
    }

    /// The organisation name normalised for the one-member-per-company rule (protocol.md §2):
    /// case-folded, punctuation dropped, common legal suffixes removed, spaces collapsed.
    pub fn normalised_org(&self) -> String {
        normalise_org_name(&self.org)
    }
}

/// Verifies a self-signed identity card: signed by its own current signing key, canonical,
/// and internally consistent.
pub fn verify_card(envelope: &Envelope) -> Result<Verified<IdentityCard>, IdentityError> {
    let claimed: IdentityCard = envelope.unverified_payload()?;
    let verified: Verified<IdentityCard> =
        envelope::verify(envelope, PayloadType::IdentityCard, &claimed.signing_key)?;
    verified.value().check()?;
    Ok(verified)
}

/// Checks an endpoint URL: `https://host[:port][/]`, nothing else.
pub fn check_endpoint(url: &str) -> Result<(), IdentityError> {
    let rest = url
        .strip_prefix("https://")
        .ok_or(IdentityError::BadEndpoint)?;
    let host_port = rest.strip_suffix('/').unwrap_or(rest);
    let ok = !host_port.is_empty()
        && host_port.len() <= 255
        && !host_port.contains(['/', '?', '#', '@', ' '])
        && host_port
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if ok {
        Ok(())
    } else {
        Err(IdentityError::BadEndpoint)
    }
}

/// Normalises an organisation name for comparison: "ACME, Inc." and "Acme" are one company.
pub fn normalise_org_name(name: &str) -> String {
    const SUFFIXES: &[&str] = &[
        "inc",
        "incorporated",
        "llc",
        "ltd",
        "limited",
        "gmbh",
        "ag",
        "sa",
        "sas",
        "bv",
        "nv",
        "plc",
        "corp",
        "corporation",
        "co",
        "company",
        "oy",
        "ab",
        "as",
        "srl",
        "spa",
        "pty",
    ];
    let lowered: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_lowercase().next().unwrap_or(c)
            } else {
                ' '
            }
        })
        .collect();
    let mut words: Vec<&str> = lowered.split_whitespace().collect();
    while words.len() > 1 && words.last().is_some_and(|w| SUFFIXES.contains(w)) {
        words.pop();
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Industry, Region, SizeBand};
    use ed25519_dalek::SigningKey;

    fn card(key: &SigningKey) -> IdentityCard {
        IdentityCard {
            member: key.public_key().member_id(),
            org: "Example Corp".into(),
            profile: OrgProfile {
                industry: Industry::Saas,
                size_band: SizeBand::M,
                region: Region::Europe,
            },
            first_signing_key: key.public_key(),
            signing_key: key.public_key(),
            enc_recipient: age::x25519::Identity::generate().to_public().to_string(),
            tls_spki_sha256: tls_spki_pin(&[9u8; 32]),
            endpoint: Some("https://127.0.0.1:8443".into()),
            created_at: Timestamp::from_unix(1_795_602_000),
        }
    }

    #[test]
    fn card_signs_and_verifies() {
        let key = SigningKey::from_bytes(&[5u8; 32]);
        let env = card(&key).sign(&key).unwrap();
        let v = verify_card(&env).unwrap();
        assert_eq!(v.value().org, "Example Corp");
    }

    #[test]
    fn card_with_foreign_member_id_is_refused() {
        let key = SigningKey::from_bytes(&[5u8; 32]);
        let mut c = card(&key);
        c.member = SigningKey::from_bytes(&[6u8; 32]).public_key().member_id();
        assert!(matches!(
            c.sign(&key),
            Err(IdentityError::MemberIdMismatch { .. })
        ));
    }

    #[test]
    fn org_names_normalise() {
        assert_eq!(normalise_org_name("ACME, Inc."), "acme");
        assert_eq!(normalise_org_name("  Acme  "), "acme");
        assert_eq!(normalise_org_name("Fiasco Co. Ltd"), "fiasco");
        assert_eq!(normalise_org_name("Inc"), "inc");
    }

    #[test]
    fn endpoints() {
        assert!(check_endpoint("https://node.example.com:8443").is_ok());
        assert!(check_endpoint("https://[::1]:8443/").is_ok());
        assert!(check_endpoint("http://node.example.com").is_err());
        assert!(check_endpoint("https://u:p@node.example.com").is_err());
        assert!(check_endpoint("https://node.example.com/x?y").is_err());
    }
}
