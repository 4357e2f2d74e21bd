//! The roster: a circle's signed, hash-chained membership log (protocol.md §2).
//!
//! One maintainer, the sequencer, appends events; every node folds the log with [`fold`] (or
//! one event at a time with [`RosterBuilder`]) into a [`Roster`], checking every rule of
//! protocol.md §2. The folded roster answers history questions through
//! [`crate::membership::RosterHistory`], verifies checkpoints and detects forks.

mod authoring;
mod error;
mod fold;
mod fork;
mod policy;
mod state;
mod types;

pub use error::RosterError;
pub use fold::{
    MAX_CLOCK_SKEW_SECS, MAX_DENY_TERM_CHARS, MAX_DENY_TERMS, RosterBuilder, VouchCount, fold,
};
pub use fork::{CheckpointStatus, EventObservation, ForkProof, ForkSide, ForkStatus, ResolvedFork};
pub use policy::Policy;
pub use state::{Departure, LoggedEvent, Member, Role, Roster};
pub use types::{
    Checkpoint, EventBody, Genesis, Invite, InviteToken, JoinRequest, MemberChange, MemberRequest,
    PublicationKey, QuorumAction, QuorumProposal, RosterEvent, TipStatement, Vouch, charter_hash,
    cosign,
};
