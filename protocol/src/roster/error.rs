//! Why a roster object was refused. Every variant names the rule of protocol.md §2 it enforces
//! ([`RosterError::rule`]) and says exactly what failed; the CLI prints these verbatim.

use crate::envelope::EnvelopeError;
use crate::identity::IdentityError;
use crate::ids::{EnvelopeId, KeyId, MemberId};
use crate::timestamp::Timestamp;

fn opt_id(id: &Option<EnvelopeId>) -> String {
    id.map_or_else(|| "none".to_owned(), |i| i.to_hex())
}

/// A refused roster event, request, proposal, checkpoint or fork proof.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RosterError {
    #[error("§2.1 roster event {seq}: {object} refused: {source}")]
    Envelope {
        seq: u64,
        object: String,
        source: EnvelopeError,
    },
    #[error("§2.1 roster event {seq}: {object} refused: {source}")]
    Identity {
        seq: u64,
        object: String,
        source: IdentityError,
    },
    #[error("§2.1 roster event {seq} is a {kind} event but embeds {found}")]
    KindMismatch {
        seq: u64,
        kind: &'static str,
        found: String,
    },
    #[error("§2.2 roster event {seq}: policy field {field} {message}")]
    PolicyFloor {
        seq: u64,
        field: &'static str,
        message: String,
    },
    #[error("§2.3 genesis refused: {reason}")]
    Genesis { reason: String },
    #[error("§2.3 the roster log is empty: it must start with a genesis event")]
    EmptyLog,
    #[error("§2.4 expected roster event {expected}, got seq {found}")]
    Seq { expected: u64, found: u64 },
    #[error(
        "§2.4 roster event {seq}: prev must be {} (the head), got {}",
        opt_id(expected),
        opt_id(found)
    )]
    Prev {
        seq: u64,
        expected: Option<EnvelopeId>,
        found: Option<EnvelopeId>,
    },
    #[error(
        "§2.4 roster event {seq}: {object} names circle {}, expected {expected}",
        opt_id(found)
    )]
    Circle {
        seq: u64,
        object: String,
        expected: EnvelopeId,
        found: Option<EnvelopeId>,
    },
    #[error(
        "§2.5 roster event {seq} is not signed by the current signing key of the sequencer {sequencer}"
    )]
    NotSequencer { seq: u64, sequencer: MemberId },
    #[error("§2.6 roster event {seq}: at {at} is not after the previous event's {prev_at}")]
    AtNotIncreasing {
        seq: u64,
        at: Timestamp,
        prev_at: Timestamp,
    },
    #[error(
        "§2.6 roster event {seq}: at {at} is beyond this node's clock {now} plus {skew_secs} s of skew"
    )]
    AtInFuture {
        seq: u64,
        at: Timestamp,
        now: Timestamp,
        skew_secs: i64,
    },
    #[error(
        "§2.7 roster event {seq}: {needed} vouches from distinct member companies needed, got {got}{}",
        reasons_suffix(reasons)
    )]
    VouchThreshold {
        seq: u64,
        needed: u32,
        got: u32,
        reasons: Vec<String>,
    },
    #[error("§2.8 roster event {seq}: join request refused: {reason}")]
    JoinRequest { seq: u64, reason: String },
    #[error("§2.8 roster event {seq}: invite refused: {reason}")]
    Invite { seq: u64, reason: String },
    #[error(
        "§2.8 roster event {seq}: {candidate} ({org:?}) is the same company as current member {existing}; one member per company"
    )]
    SameCompany {
        seq: u64,
        candidate: MemberId,
        org: String,
        existing: MemberId,
    },
    #[error("§2.8 roster event {seq}: {member} is already a member")]
    AlreadyMember { seq: u64, member: MemberId },
    #[error("§2.9 roster event {seq}: chain tip refused: {reason}")]
    ChainTip { seq: u64, reason: String },
    #[error("§2.10 roster event {seq}: the request is not signed by the current key of {member}")]
    RequestNotByMember { seq: u64, member: MemberId },
    #[error(
        "§2.10 roster event {seq}: request counter {got} of {member} is not above the last applied counter {last}"
    )]
    CounterNotIncreasing {
        seq: u64,
        member: MemberId,
        last: u64,
        got: u64,
    },
    #[error(
        "§2.10 roster event {seq}: the request of {member} expired on {expires} (event at {at})"
    )]
    RequestExpired {
        seq: u64,
        member: MemberId,
        expires: Timestamp,
        at: Timestamp,
    },
    #[error("§2.10 roster event {seq}: {reason}")]
    BadChange { seq: u64, reason: String },
    #[error(
        "§2.11 roster event {seq}: a signing key rotation of {member} must be signed by both the old and the new key"
    )]
    RotationSignatures { seq: u64, member: MemberId },
    #[error(
        "§2.11 roster event {seq}: key {key} was already held in this circle; a new key must be new"
    )]
    KeyReused { seq: u64, key: KeyId },
    #[error(
        "§2.12 roster event {seq}: {needed} cosigning maintainer companies needed, got {got}{}",
        reasons_suffix(reasons)
    )]
    QuorumNotMet {
        seq: u64,
        needed: u32,
        got: u32,
        reasons: Vec<String>,
    },
    #[error("§2.12 roster event {seq}: the quorum proposal expired on {expires} (event at {at})")]
    ProposalExpired {
        seq: u64,
        expires: Timestamp,
        at: Timestamp,
    },
    #[error("§2.12 roster event {seq}: the quorum proposal's base (seq {base_seq}) {reason}")]
    ProposalBase {
        seq: u64,
        base_seq: u64,
        reason: String,
    },
    #[error("§2.12 roster event {seq}: quorum proposal {proposal} was already applied")]
    ProposalReused { seq: u64, proposal: EnvelopeId },
    #[error("§2.12 roster event {seq}: {reason}")]
    ActionRefused { seq: u64, reason: String },
    #[error("§2.13 roster event {seq}: {member} is not a current member")]
    NotAMember { seq: u64, member: MemberId },
    #[error(
        "§2.13 roster event {seq}: {member} {how} at roster seq {at_seq}; nothing is accepted for it"
    )]
    Departed {
        seq: u64,
        member: MemberId,
        how: &'static str,
        at_seq: u64,
    },
    #[error("§2.14 checkpoint for seq {seq} refused: {reason}")]
    Checkpoint { seq: u64, reason: String },
    #[error("§2.15 fork proof refused: {reason}")]
    ForkProof { reason: String },
    #[error(
        "§2.15 roster object for seq {seq} is on the losing branch of the fork resolved at seq {resolved_at}; refused"
    )]
    LosingBranch { seq: u64, resolved_at: u64 },
}

fn reasons_suffix(reasons: &[String]) -> String {
    if reasons.is_empty() {
        String::new()
    } else {
        format!(": {}", reasons.join("; "))
    }
}

impl RosterError {
    /// The rule of protocol.md §2 that refused the object, e.g. `"§2.7"`.
    pub fn rule(&self) -> &'static str {
        match self {
            RosterError::Envelope { .. }
            | RosterError::Identity { .. }
            | RosterError::KindMismatch { .. } => "§2.1",
            RosterError::PolicyFloor { .. } => "§2.2",
            RosterError::Genesis { .. } | RosterError::EmptyLog => "§2.3",
            RosterError::Seq { .. } | RosterError::Prev { .. } | RosterError::Circle { .. } => {
                "§2.4"
            }
            RosterError::NotSequencer { .. } => "§2.5",
            RosterError::AtNotIncreasing { .. } | RosterError::AtInFuture { .. } => "§2.6",
            RosterError::VouchThreshold { .. } => "§2.7",
            RosterError::JoinRequest { .. }
            | RosterError::Invite { .. }
            | RosterError::SameCompany { .. }
            | RosterError::AlreadyMember { .. } => "§2.8",
            RosterError::ChainTip { .. } => "§2.9",
            RosterError::RequestNotByMember { .. }
            | RosterError::CounterNotIncreasing { .. }
            | RosterError::RequestExpired { .. }
            | RosterError::BadChange { .. } => "§2.10",
            RosterError::RotationSignatures { .. } | RosterError::KeyReused { .. } => "§2.11",
            RosterError::QuorumNotMet { .. }
            | RosterError::ProposalExpired { .. }
            | RosterError::ProposalBase { .. }
            | RosterError::ProposalReused { .. }
            | RosterError::ActionRefused { .. } => "§2.12",
            RosterError::NotAMember { .. } | RosterError::Departed { .. } => "§2.13",
            RosterError::Checkpoint { .. } => "§2.14",
            RosterError::ForkProof { .. } | RosterError::LosingBranch { .. } => "§2.15",
        }
    }
}
