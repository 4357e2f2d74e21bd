//! Provenance commitments and claims (protocol.md §7.3, §7.4; DESIGN §6 step 3).
//!
//! The author's node draws a 32-byte salt, keeps it in its keystore and sends only the
//! commitment. Revealing the salt later, with a signature by the attribution key the commitment
//! names, proves that the holder of that key made the commitment — and nothing more: the claim
//! does not say which company holds the key unless the claimant says so elsewhere.

use serde::{Deserialize, Serialize};

use crate::encoding::{hex, parse_hex};
use crate::envelope::{self, Envelope, EnvelopeError, PayloadType, PublicKey, Signer, Verified};
use crate::ids::{EnvelopeId, Sha256Digest};
use crate::timestamp::Timestamp;

use super::error::PublogError;
use super::log::VerifiedLog;

/// The domain-separation prefix of a provenance commitment (§7.3).
pub const PROVENANCE_DOMAIN: &[u8] = b"debrief/v1/provenance";

/// `SHA-256("debrief/v1/provenance" ‖ circle ‖ H(public content) ‖ attribution key ‖ salt)`
/// (protocol.md §7.3): the circle id and content hash as their 32 raw digest bytes, the
/// attribution key as its 32 raw Ed25519 bytes, the salt as 32 raw bytes. Every part after the
/// fixed prefix has a fixed length, so the concatenation is unambiguous.
pub fn provenance_commitment(
    circle: &EnvelopeId,
    content_sha256: &Sha256Digest,
    attribution_key: &PublicKey,
    salt: &[u8; 32],
) -> Sha256Digest {
    Sha256Digest::of_parts(&[
        PROVENANCE_DOMAIN,
        &circle.0.0,
        &content_sha256.0,
        &attribution_key.to_bytes(),
        salt,
    ])
}

/// The signed claim payload (`application/vnd.debrief.provenance-claim.v1+json`), signed by
/// the attribution key it names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvenanceClaim {
    pub circle: EnvelopeId,
    /// The genesis id of the public log.
    pub log: EnvelopeId,
    /// The entry (publish or erratum) whose commitment is claimed.
    pub seq: u64,
    pub content_sha256: Sha256Digest,
    pub attribution_key: PublicKey,
    /// The revealed salt, 64 lowercase hex characters.
    pub salt: String,
    /// Who the claimant says it is (self-asserted; free text, may be empty).
    pub claimant: String,
    pub made_at: Timestamp,
}

impl ProvenanceClaim {
    /// Builds and signs a claim for entry `seq` of a log.
    #[allow(clippy::too_many_arguments)]
    pub fn make(
        circle: EnvelopeId,
        log: EnvelopeId,
        seq: u64,
        content_sha256: Sha256Digest,
        salt: &[u8; 32],
        claimant: &str,
        made_at: Timestamp,
        attribution: &dyn Signer,
    ) -> Result<Envelope, EnvelopeError> {
        let claim = ProvenanceClaim {
            circle,
            log,
            seq,
            content_sha256,
            attribution_key: attribution.public_key(),
            salt: hex(salt),
            claimant: claimant.to_owned(),
            made_at,
        };
        Envelope::sign(&claim, PayloadType::ProvenanceClaim, attribution)
    }
}

/// A claim that checked out: the holder of `attribution_key` made entry `seq`'s commitment.
#[derive(Debug, Clone)]
pub struct CheckedClaim {
    pub claim: Verified<ProvenanceClaim>,
    pub seq: u64,
    pub commitment: Sha256Digest,
}

/// Checks a provenance claim against a verified log (protocol.md §7.4): the envelope is signed
/// by the attribution key it names, it names this log and circle, the entry exists and carries
/// content with the claimed hash, and the commitment recomputed from the revealed salt equals
/// the entry's commitment. A wrong salt, key or content fails.
pub fn check_claim(claim: &Envelope, log: &VerifiedLog) -> Result<CheckedClaim, PublogError> {
    let fail = |m: String| PublogError::Claim(m);
    let unverified: ProvenanceClaim = claim
        .unverified_payload()
        .map_err(|e| fail(e.to_string()))?;
    let v: Verified<ProvenanceClaim> = envelope::verify(
        claim,
        PayloadType::ProvenanceClaim,
        &unverified.attribution_key,
    )
    .map_err(|e| fail(format!("not signed by the attribution key it names: {e}")))?;
    let c = v.value();
    if c.log != log.genesis_id() {
        return Err(fail(format!(
            "names log {}, this log is {}",
            c.log,
            log.genesis_id()
        )));
    }
    if c.circle != log.circle() {
        return Err(fail(format!(
            "names circle {}, not {}",
            c.circle,
            log.circle()
        )));
    }
    let Some((content_sha256, commitment)) = log.commitment_of(c.seq) else {
        return Err(fail(format!(
            "entry {} is not a publication or erratum in this log",
            c.seq
        )));
    };
    if content_sha256 != c.content_sha256 {
        return Err(fail(format!(
            "claims content {}, entry {} carries {content_sha256}",
            c.content_sha256, c.seq
        )));
    }
    let salt = parse_hex::<32>(&c.salt)
        .ok_or_else(|| fail("salt must be 64 lowercase hex characters".into()))?;
    let recomputed = provenance_commitment(&c.circle, &content_sha256, &c.attribution_key, &salt);
    if recomputed != commitment {
        return Err(fail(format!(
            "the revealed salt and key do not open entry {}'s commitment",
            c.seq
        )));
    }
    let seq = c.seq;
    Ok(CheckedClaim {
        claim: v,
        seq,
        commitment,
    })
}
