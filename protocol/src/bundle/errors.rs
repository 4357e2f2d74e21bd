//! Why a bundle, header, link or chain was refused. Every variant names the rule of
//! docs/protocol.md §3 it enforces ([`BundleError::rule`]); crypto failures stay coarse.

use std::fmt;

use crate::envelope::EnvelopeError;
use crate::ids::{EnvelopeId, MemberId};
use crate::timestamp::Timestamp;

use super::age_header::AgeHeaderError;
use super::types::BundleKind;

/// Which signed part of a bundle a problem is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The outer header.
    Header,
    /// The chain link.
    Link,
    /// The inner content.
    Inner,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Header => "bundle header",
            Part::Link => "chain link",
            Part::Inner => "bundle content",
        })
    }
}

/// Why a bundle was refused or could not be sealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("{what} is {len} bytes, more than the limit of {max}")]
    TooLarge {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("malformed bundle object: {0} (expected {{\"link\", \"header\", \"ciphertext\"}})")]
    Framing(String),
    #[error("{part}: wrong payload type {found:?}")]
    WrongPayloadType { part: Part, found: String },
    #[error("{part}: carries {count} signatures; exactly one (the author's) is required")]
    SignatureCount { part: Part, count: usize },
    #[error("{part}: payload unreadable: {message}")]
    Malformed { part: Part, message: String },
    #[error(
        "bundle names roster seq {stated}, but this node's roster reaches only seq {have}: sync the roster, then retry"
    )]
    RosterBehind { stated: u64, have: u64 },
    #[error("{part}: the signing key is not one that member {author} held")]
    UnknownAuthorKey { part: Part, author: MemberId },
    #[error("{part}: signature invalid")]
    BadSignature { part: Part },
    #[error("{part}: payload is not in the one canonical form of its schema: {message}")]
    NotCanonical { part: Part, message: String },
    #[error("{part}: belongs to circle {found}, not this circle ({expected})")]
    WrongCircle {
        part: Part,
        expected: EnvelopeId,
        found: EnvelopeId,
    },
    #[error(
        "bundle names roster seq {seq} with a head that is not this circle's event at that seq"
    )]
    RosterMismatch { seq: u64 },
    #[error("author {author} was not a member at roster seq {seq}")]
    AuthorNotMember { author: MemberId, seq: u64 },
    #[error("author {author} did not hold the signing key at roster seq {seq}")]
    KeyNotHeldAt { author: MemberId, seq: u64 },
    #[error("{part}: author seq must be 1 or more")]
    ZeroAuthorSeq { part: Part },
    #[error(
        "{part}: author seq {author_seq} is beyond seq {tip_seq}, the last one the signing key may sign (it was retired)"
    )]
    KeyRetired {
        part: Part,
        author_seq: u64,
        tip_seq: u64,
    },
    #[error("bundle created at {created_at}, later than now ({now}) plus the allowed clock skew")]
    FromTheFuture {
        created_at: Timestamp,
        now: Timestamp,
    },
    #[error("unknown encryption scheme {0:?} (this version knows only age-x25519-v1)")]
    UnknownEnc(String),
    #[error("bundle lists {count} recipients; between 1 and {max} are allowed")]
    RecipientCount { count: usize, max: usize },
    #[error("recipients are not sorted by member id without duplicates")]
    RecipientsUnsorted,
    #[error("recipient {0} was not a member at the bundle's roster seq")]
    RecipientNotMember(MemberId),
    #[error(
        "recipient {0} is listed with an age recipient that is not its key at the bundle's roster seq"
    )]
    RecipientKeyMismatch(MemberId),
    #[error("the author must be one of the recipients")]
    AuthorNotRecipient,
    #[error("recipients digest does not match the recipients")]
    DigestMismatch,
    #[error("TLP CLEAR is for the public archive only, never inside a circle")]
    ClearInCircle,
    #[error("TLP {tlp} goes to every member, but the recipients leave out {missing}")]
    PartialCircleAudience {
        tlp: &'static str,
        missing: MemberId,
    },
    #[error("TLP RED needs at least one named recipient besides the author")]
    RedWithoutNamed,
    #[error("TLP {tlp} goes to every member; named recipients are only for RED")]
    NamedWithCircleTlp { tlp: &'static str },
    #[error("{kind}: {problem}")]
    KindRule {
        kind: BundleKind,
        problem: &'static str,
    },
    #[error("only the author of the target may send a {kind} of it")]
    NotTargetAuthor { kind: BundleKind },
    #[error(
        "a declassification thread is TLP RED to named members and every maintainer; maintainer {missing:?} is missing or the TLP is not RED"
    )]
    DeclassAudience { missing: Option<MemberId> },
    #[error("ciphertext does not match the length and SHA-256 in the header")]
    CiphertextMismatch,
    #[error("chain link: {0}")]
    LinkShape(&'static str),
    #[error("chain link at the retired key's tip seq is not the link the roster recorded")]
    LinkTipMismatch,
    #[error("chain link does not match its header ({field})")]
    LinkHeaderMismatch { field: &'static str },
    #[error("not a recipient of this bundle: it was not encrypted to this member")]
    NotARecipient,
    #[error(
        "this member is a recipient, but none of the given age identities is the listed recipient (was the encryption key changed?)"
    )]
    NoMatchingIdentity,
    #[error("age header refused: {0}")]
    AgeHeader(AgeHeaderError),
    #[error("cannot decrypt the bundle")]
    Decrypt,
    #[error("inner content does not match the header ({field})")]
    InnerMismatch { field: &'static str },
    #[error("the target is not the bundle this one names ({field})")]
    TargetMismatch { field: &'static str },
    #[error("a {kind} cannot target a {target_kind}")]
    TargetKind {
        kind: BundleKind,
        target_kind: BundleKind,
    },
    #[error("a retraction must reach every earlier reader still in the circle; {0} is missing")]
    RetractionNarrows(MemberId),
    #[error("a comment may go only to readers of its parent; {0} was not one")]
    CommentWidens(MemberId),
    #[error("sharing is frozen in this circle by an unresolved roster fork; see `circle status`")]
    RosterFrozen,
    #[error(
        "the roster was last confirmed at {as_of}, older than the allowed {max_age_secs} s: fetch a checkpoint or compare heads with a peer, then share"
    )]
    RosterStale { as_of: Timestamp, max_age_secs: u64 },
    #[error("not a proof of equivocation: {0}")]
    NotAProof(&'static str),
    #[error("author chain position: {0}")]
    ChainPosition(&'static str),
    #[error("cannot encrypt: {0}")]
    Encrypt(String),
    #[error("cannot sign: {0}")]
    Sign(EnvelopeError),
}

impl BundleError {
    /// The rule of docs/protocol.md §3 this refusal enforces, e.g. `"§3.13"`.
    pub fn rule(&self) -> &'static str {
        use BundleError as E;
        let by_part = |part: &Part, header: &'static str| match part {
            Part::Header => header,
            Part::Link => "§3.19",
            Part::Inner => "§3.24",
        };
        match self {
            E::TooLarge { .. } => "§3.1",
            E::Framing(_) => "§3.2",
            E::WrongPayloadType { part, .. }
            | E::SignatureCount { part, .. }
            | E::Malformed { part, .. } => by_part(part, "§3.3"),
            E::RosterBehind { .. } => "§3.4",
            E::UnknownAuthorKey { part, .. } => by_part(part, "§3.5"),
            E::BadSignature { part } | E::NotCanonical { part, .. } => by_part(part, "§3.6"),
            E::WrongCircle { part, .. } => by_part(part, "§3.7"),
            E::RosterMismatch { .. } => "§3.8",
            E::AuthorNotMember { .. } | E::KeyNotHeldAt { .. } => "§3.9",
            E::ZeroAuthorSeq { .. } | E::KeyRetired { .. } => "§3.10",
            E::FromTheFuture { .. } => "§3.11",
            E::UnknownEnc(_) => "§3.12",
            E::RecipientCount { .. }
            | E::RecipientsUnsorted
            | E::RecipientNotMember(_)
            | E::RecipientKeyMismatch(_)
            | E::AuthorNotRecipient => "§3.13",
            E::DigestMismatch => "§3.14",
            E::ClearInCircle
            | E::PartialCircleAudience { .. }
            | E::RedWithoutNamed
            | E::NamedWithCircleTlp { .. } => "§3.15",
            E::KindRule { .. } | E::NotTargetAuthor { .. } => "§3.16",
            E::DeclassAudience { .. } => "§3.17",
            E::CiphertextMismatch => "§3.18",
            E::LinkShape(_) | E::LinkTipMismatch => "§3.19",
            E::LinkHeaderMismatch { .. } => "§3.20",
            E::NotARecipient | E::NoMatchingIdentity => "§3.21",
            E::AgeHeader(_) => "§3.22",
            E::Decrypt => "§3.23",
            E::InnerMismatch { .. } => "§3.25",
            E::TargetMismatch { .. }
            | E::TargetKind { .. }
            | E::RetractionNarrows(_)
            | E::CommentWidens(_) => "§3.26",
            E::RosterFrozen
            | E::RosterStale { .. }
            | E::ChainPosition(_)
            | E::Encrypt(_)
            | E::Sign(_) => "§3.27",
            E::NotAProof(_) => "§3.28",
        }
    }

    /// Whether the same bytes may verify later (the roster has to catch up first): such a bundle
    /// is held back, not quarantined as bad (protocol.md §3.4).
    pub fn is_retryable(&self) -> bool {
        matches!(self, BundleError::RosterBehind { .. })
    }
}

/// Maps an envelope failure during verification to the bundle rule it breaks.
pub(crate) fn from_envelope_error(part: Part, err: EnvelopeError) -> BundleError {
    match err {
        EnvelopeError::WrongPayloadType { found, .. } => {
            BundleError::WrongPayloadType { part, found }
        }
        EnvelopeError::BadSignature(_) | EnvelopeError::NoTrustedSignature => {
            BundleError::BadSignature { part }
        }
        EnvelopeError::DuplicateSignature(_) => BundleError::SignatureCount { part, count: 2 },
        EnvelopeError::NonCanonicalPayload(e) => BundleError::NotCanonical {
            part,
            message: e.to_string(),
        },
        EnvelopeError::Schema { message, .. } => BundleError::NotCanonical { part, message },
        other => BundleError::Malformed {
            part,
            message: other.to_string(),
        },
    }
}
