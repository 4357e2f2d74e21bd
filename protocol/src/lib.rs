//! Debrief's protocol: pure data types and rules.
//!
//! Nothing in this crate performs IO. Time (`now`) and randomness are passed in by the caller, so
//! every rule can be tested with fixed inputs and pinned by vectors. The normative text is
//! `docs/protocol.md`; checks in code cite its rule numbers (`// protocol.md §1.4`).

pub mod bundle;
pub mod canonical;
pub mod declassify;
pub mod encoding;
pub mod envelope;
pub mod identity;
pub mod ids;
pub mod membership;
pub mod profile;
pub mod publog;
pub mod report;
pub mod roster;
pub mod rotation;
pub mod timestamp;
pub mod wire;
pub mod yearly;

pub use envelope::{Envelope, EnvelopeError, PayloadType, PublicKey, Signer, Verified};
pub use ids::{EnvelopeId, KeyId, MemberId, Sha256Digest};
pub use timestamp::Timestamp;
