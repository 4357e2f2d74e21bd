//! Publication to the public archive (protocol.md §7; docs/declassification.md "The public log,
//! keys and provenance"). Pure: time and randomness (salts) are passed in.
//!
//! The node's publish flow calls, in order:
//! 1. [`PublicContent::sha256`] on the content the preview produced;
//! 2. [`provenance_commitment`] with a fresh salt the author's keystore keeps;
//! 3. [`check_approvals`] over the collected [`Approval`] envelopes, [`check_embargo`] on the
//!    report's resolution time, and the scrubber's residual scan (declassify);
//!    the key set for a new log comes from [`KeySet::from_roster`];
//! 4. [`VerifiedLog::next_entry`] + [`LogEntry::sign`] / [`Envelope::add_signature`] by each
//!    publication-key holder ([`VerifiedLog::cosign_progress`] says who signed so far), then
//!    [`VerifiedLog::append`] once t companies signed;
//! 5. a fresh [`LogCheckpoint`] signed the same way, and [`layout::files`] to write the copy.
//!
//! Readers call [`verify_log`] with the pinned genesis id, then
//! [`VerifiedLog::check_checkpoint`], [`VerifiedLog::status`] and [`check_claim`].
//!
//! [`Envelope::add_signature`]: crate::envelope::Envelope::add_signature

mod approval;
mod content;
mod embargo;
mod error;
pub mod layout;
mod log;
mod provenance;

pub use approval::{Approval, ApprovalRole, ApprovalSet, MIN_APPROVING_COMPANIES, check_approvals};
pub use content::{MAX_PUBLIC_CONTENT_BYTES, PublicContent};
pub use embargo::check_embargo;
pub use error::PublogError;
pub use log::{
    CosignProgress, EntryBody, EntryStatus, Erratum, Freshness, KeySet, KeySetChange,
    LogCheckpoint, LogEntry, LogGenesis, MAX_LOG_CHECKPOINT_LIFETIME_SECS,
    MIN_PUBLICATION_THRESHOLD, Publication, Retraction, Statement, VerifiedLog, sign_all,
    verify_log,
};
pub use provenance::{
    CheckedClaim, PROVENANCE_DOMAIN, ProvenanceClaim, check_claim, provenance_commitment,
};
