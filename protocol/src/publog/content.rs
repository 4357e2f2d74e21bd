//! Public content (protocol.md §7.1): the scrubbed, generalised report with its taxonomy and the
//! generalised profile of the author's company. It is never signed on its own: approvals and
//! the provenance commitment hash it, and a public log entry embeds it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::canonical;
use crate::declassify::GeneralisedProfile;
use crate::ids::{EnvelopeId, Sha256Digest};
use crate::report::{Action, Factor, ReportKind, Section, Severity, Significance};

use super::error::PublogError;

/// What the world reads. Field meanings: docs/declassification.md "The public log, keys and
/// provenance"; the preview (declassification.md §1–§6) produces every text in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicContent {
    /// The circle that publishes it (content is bound to one circle's log).
    pub circle: EnvelopeId,
    /// Public slug, `[a-z0-9][a-z0-9-]{2,63}`, unique among live entries of the log.
    pub slug: String,
    pub kind: ReportKind,
    pub title: String,
    pub severity: Severity,
    pub significance: Significance,
    /// The author's company, generalised until at least k member companies match.
    pub profile: GeneralisedProfile,
    /// Generalised facts by field path, e.g. `timeline.started` → `2026-Q3`,
    /// `timeline.detected` → `T+12 min`, `customer_impact.magnitude` → `thousands`.
    pub facts: BTreeMap<String, String>,
    /// Contributing factors with taxonomy category and role (descriptions scrubbed).
    pub factors: Vec<Factor>,
    /// Actions with remediation patterns (descriptions scrubbed).
    pub actions: Vec<Action>,
    /// Body sections, scrubbed, in document order.
    pub sections: Vec<Section>,
}

/// Longest text accepted in the public content as a whole (canonical bytes).
pub const MAX_PUBLIC_CONTENT_BYTES: usize = 1024 * 1024;

impl PublicContent {
    /// The canonical JSON bytes (protocol.md §1.3): what [`PublicContent::sha256`] hashes.
    pub fn to_canonical_json(&self) -> Result<Vec<u8>, PublogError> {
        canonical::to_canonical_vec(self).map_err(PublogError::ContentEncoding)
    }

    /// SHA-256 of the canonical JSON (protocol.md §7.1): what approvals and the provenance
    /// commitment name. Any change to any field changes it.
    pub fn sha256(&self) -> Result<Sha256Digest, PublogError> {
        Ok(Sha256Digest::of(&self.to_canonical_json()?))
    }

    /// Checks the shape rules of §7.1 (slug, non-empty title, size).
    pub fn check(&self) -> Result<(), PublogError> {
        if !slug_ok(&self.slug) {
            return Err(PublogError::Content(format!(
                "slug {:?} must match [a-z0-9][a-z0-9-]{{2,63}}",
                self.slug
            )));
        }
        if self.title.trim().is_empty() {
            return Err(PublogError::Content("title is empty".into()));
        }
        let len = self.to_canonical_json()?.len();
        if len > MAX_PUBLIC_CONTENT_BYTES {
            return Err(PublogError::Content(format!(
                "{len} bytes is more than the limit of {MAX_PUBLIC_CONTENT_BYTES}"
            )));
        }
        Ok(())
    }

    /// Reads public content from a JSON value embedded in a verified log entry. The value must
    /// be exactly the serialisation of the typed content (no extra or defaulted fields), so
    /// one content has one hash (§7.1).
    pub fn from_value(value: &Value) -> Result<(PublicContent, Sha256Digest), PublogError> {
        let content: PublicContent = serde_json::from_value(value.clone())
            .map_err(|e| PublogError::Content(format!("does not match the schema: {e}")))?;
        let bytes =
            canonical::value_to_canonical_vec(value).map_err(PublogError::ContentEncoding)?;
        if content.to_canonical_json()? != bytes {
            return Err(PublogError::Content(
                "not in the one serialisation of its fields".into(),
            ));
        }
        content.check()?;
        Ok((content, Sha256Digest::of(&bytes)))
    }
}

fn slug_ok(s: &str) -> bool {
    let b = s.as_bytes();
    (3..=64).contains(&b.len())
        && matches!(b[0], b'a'..=b'z' | b'0'..=b'9')
        && b.iter()
            .all(|c| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'-'))
}
