//! Declassification rules: turn a circle report into a candidate public text and show exactly
//! what would be published (docs/declassification.md is the reference; checks cite its §).
//!
//! This module is pure: it works on text and values. [`preview`] composes a whole report's
//! preview (the node's `debrief declassify preview` calls it) in four steps:
//!
//! 1. **Fields** (on the `Report`, §1–§2): drop every field marked `secret` or `confidential`;
//!    generalise `generalise` fields with [`quarter`], [`relative_minutes`], [`magnitude`],
//!    [`DurationBucket`]; replace the author's company with [`generalise_profile`]`(author,
//!    &every_member_profile, DEFAULT_K)` and show its notes (§5).
//! 2. **Scrub** (§4): build one [`Scrubber`] from a [`ScrubConfig`] (roster org names, every
//!    member's deny terms, the author's private terms and people) and call
//!    [`Scrubber::scrub_allowing`]`(text, &allowances)` on every remaining text field (or on the
//!    rendered Markdown). Findings carry 1-based line/column in that field's original text; the
//!    caller adds the field name.
//! 3. **Diff** (§6): [`unified_diff`]`(original_rendering, public_rendering)`.
//! 4. **Residual scan** (§3): [`Scrubber::scan_allowing`]`(public_rendering, &allowances)`; if
//!    [`Scan::blocks_publication`], the preview prints each finding with
//!    [`Finding::reason`] and publication is refused until the author edits the text or records
//!    an [`Allowance`] (`--allow TEXT --because REASON`, kept with the report).
//!
//! ```
//! use debrief_protocol::declassify::{Allowance, ScrubConfig, Scrubber, unified_diff};
//!
//! let scrubber = Scrubber::new(&ScrubConfig {
//!     org_names: vec!["Acme Corp".into()],
//!     ..ScrubConfig::default()
//! })?;
//! let original = "Acme's primary db-prod-07 (10.2.3.4) fell over; see OPS-1234.";
//! let public = scrubber.scrub(original);
//! assert_eq!(public.text, "[org]'s primary [host] ([ip]) fell over; see [ticket].");
//! assert!(scrubber.scan(&public.text).is_empty());
//! assert!(unified_diff(original, &public.text).contains("+[org]'s primary"));
//!
//! let allow = [Allowance::new("OPS-1234", "public issue in an open-source tracker")?];
//! let kept = scrubber.scrub_allowing(original, &allow);
//! assert!(kept.text.ends_with("see OPS-1234."));
//! assert_eq!(kept.allowed[0].because, "public issue in an open-source tracker");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod detectors;
mod diff;
mod finding;
mod generalise;
mod markdown;
mod report;
mod scrub;
mod terms;
mod text;
mod tld;

pub use diff::{DIFF_CONTEXT_LINES, unified_diff};
pub use finding::{Allowance, AllowanceError, AllowedFinding, Detector, Finding, FindingKind};
pub use generalise::{
    DEFAULT_K, DurationBucket, GeneralisedProfile, Magnitude, generalise_profile, magnitude,
    quarter, relative_minutes,
};
pub use report::{
    Dropped, Generalisation, LocatedAllowed, LocatedFinding, Preview, PreviewContext, Verdict,
    preview,
};
pub use scrub::{Scan, ScrubConfig, ScrubConfigError, Scrubbed, Scrubber};
pub use text::generalise_text;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
