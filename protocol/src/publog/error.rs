//! Why a public-log object was refused (protocol.md §7). Each variant names its rule.

use crate::canonical::CanonicalError;
use crate::envelope::EnvelopeError;
use crate::ids::{EnvelopeId, KeyId, MemberId};
use crate::timestamp::Timestamp;

/// A refusal under protocol.md §7. [`PublogError::rule`] gives the rule number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublogError {
    #[error("§7.1 public content: {0}")]
    Content(String),
    #[error("§7.1 public content is not canonical: {0}")]
    ContentEncoding(CanonicalError),
    #[error("§7.2 approval {index}: {message}")]
    Approval { index: usize, message: String },
    #[error("§7.2 approvals insufficient: {0}")]
    ApprovalsInsufficient(String),
    #[error("§7.4 provenance claim: {0}")]
    Claim(String),
    #[error("§7.5 log genesis: {0}")]
    Genesis(String),
    #[error("§7.5 the log's genesis id {found} is not the pinned genesis id {pinned}")]
    WrongGenesis {
        pinned: EnvelopeId,
        found: EnvelopeId,
    },
    #[error("§7.5 key set: {0}")]
    KeySet(String),
    #[error("§7.6 {what}: {source}")]
    Envelope {
        what: String,
        #[source]
        source: EnvelopeError,
    },
    #[error(
        "§7.6 {what}: signed by {companies} distinct publication-key companies, {threshold} required"
    )]
    TooFewSignatures {
        what: String,
        companies: usize,
        threshold: u32,
    },
    #[error("§7.6 entry {seq}: {message}")]
    Chain { seq: u64, message: String },
    #[error("§7.7 entry {seq}: {message}")]
    Kind { seq: u64, message: String },
    #[error("§7.8 checkpoint: {0}")]
    Checkpoint(String),
    #[error("§7.8 checkpoint is stale: it expired at {expires} (now {now})")]
    CheckpointExpired { expires: Timestamp, now: Timestamp },
    #[error(
        "§7.8 rolled back: the checkpoint says the log has {checkpoint_seq} entries, this copy ends at {copy_seq}"
    )]
    RolledBack { checkpoint_seq: u64, copy_seq: u64 },
    #[error("§7.8 rolled back: {0}")]
    CheckpointRollback(String),
    #[error("§7.11 embargo: {0}")]
    Embargo(String),
    #[error("§7.9 no entry {0} in this log")]
    NoSuchEntry(u64),
    #[error("§7.5 key {key} of member {member} appears twice in the key set")]
    DuplicateKey { key: KeyId, member: MemberId },
}

impl PublogError {
    /// The rule of protocol.md §7 that refused the object, e.g. `"§7.6"`.
    pub fn rule(&self) -> &'static str {
        match self {
            PublogError::Content(_) | PublogError::ContentEncoding(_) => "§7.1",
            PublogError::Approval { .. } | PublogError::ApprovalsInsufficient(_) => "§7.2",
            PublogError::Claim(_) => "§7.4",
            PublogError::Genesis(_)
            | PublogError::WrongGenesis { .. }
            | PublogError::KeySet(_)
            | PublogError::DuplicateKey { .. } => "§7.5",
            PublogError::Envelope { .. }
            | PublogError::TooFewSignatures { .. }
            | PublogError::Chain { .. } => "§7.6",
            PublogError::Kind { .. } => "§7.7",
            PublogError::Checkpoint(_)
            | PublogError::CheckpointExpired { .. }
            | PublogError::RolledBack { .. }
            | PublogError::CheckpointRollback(_) => "§7.8",
            PublogError::NoSuchEntry(_) => "§7.9",
            PublogError::Embargo(_) => "§7.11",
        }
    }
}
