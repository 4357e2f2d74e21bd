//! Bundles: sign-encrypt-sign sharing of reports inside a circle (protocol.md §3).
//!
//! An author signs the inner [`BundleContent`], encrypts it with age (in memory) to the
//! recipients' X25519 keys (always including itself), signs the outer [`BundleHeader`] over the
//! ciphertext hash, and signs a [`ChainLink`] over the header id. [`seal`] does that; [`open`]
//! checks a received [`BundleObject`] cheapest first, each check citing its rule, and decrypts
//! only when this member is a recipient; [`verify_header_only`] runs every check before
//! decryption (relays, non-recipients); [`seal_own`] and [`open_own`] let the author's node
//! store its own bundle without decrypting it again (protocol.md §3.33); [`verify_link`]
//! checks a chain link on its own; and [`AuthorChain`] finds gaps, reordering and
//! equivocation in an author's chain.
//!
//! Everything here is checked against the roster *as it was* at the seq a header names, through
//! the [`RosterHistory`](crate::membership::RosterHistory) trait.

mod age_header;
mod chain;
mod errors;
mod open;
mod rules;
mod seal;
mod types;

pub use age_header::{
    AGE_INTRO, AgeHeaderError, AgeHeaderInfo, MAX_OTHER_STANZA_LEN, X25519_STANZA_LEN,
    check_age_header, max_header_len,
};
pub use chain::{AuthorChain, ChainError, EquivocationProof, Inserted};
pub use errors::{BundleError, Part};
pub use open::{
    CheckedBundle, OpenedBundle, open, open_checked, open_own, open_own_checked,
    verify_header_only, verify_link,
};
pub use rules::{TargetInfo, check_target};
pub use seal::{SealRequest, Sealed, seal, seal_own};
pub use types::{
    Audience, BundleBody, BundleContent, BundleHeader, BundleId, BundleKind, BundleObject,
    ChainLink, ENC_AGE_X25519_V1, Recipient, RosterRef, TargetRef, Tlp, recipients_digest,
};

/// Largest bundle object accepted, in bytes (protocol.md §3.1).
pub const MAX_BUNDLE_OBJECT_BYTES: usize = 12 * 1024 * 1024;
/// Largest ciphertext (the whole age file), in bytes (protocol.md §3.1).
pub const MAX_CIPHERTEXT_BYTES: usize = 8 * 1024 * 1024;
/// Largest outer header payload, in bytes (protocol.md §3.1).
pub const MAX_HEADER_PAYLOAD_BYTES: usize = 256 * 1024;
/// Largest chain link payload, in bytes (protocol.md §3.1).
pub const MAX_LINK_PAYLOAD_BYTES: usize = 4 * 1024;
/// Most recipients one bundle may have (protocol.md §3.13). age 0.12 parses headers in O(N²)
/// time; a larger circle needs a per-epoch circle key, which `enc` leaves room for.
pub const MAX_RECIPIENTS: usize = 1000;
/// How far a header's `created_at` may be ahead of the receiver's clock (protocol.md §3.11).
pub const CLOCK_SKEW_SECS: i64 = 120;
