//! What the bundle rules need to know about a circle's membership history (protocol.md §2.9).
//!
//! The roster fold (`crate::roster`) produces the history; the bundle rules (`crate::bundle`) and
//! the node consult it through this trait, so that bundles are checked against the roster *as it
//! was* at the sequence number a bundle names, not only against the current head.

use crate::envelope::PublicKey;
use crate::ids::{EnvelopeId, KeyId, MemberId};
use crate::profile::OrgProfile;

/// The position of an author's chain when one of its keys was retired (removed, left, rotated,
/// replaced): nothing signed by that key beyond `seq` is ever accepted (protocol.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainTip {
    /// The last author sequence number signed with the retired key (0 = it signed nothing).
    pub seq: u64,
    /// The id of that chain link, if any.
    pub link: Option<EnvelopeId>,
}

/// A member as it stood at one roster sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberAt {
    pub member: MemberId,
    pub org: String,
    pub profile: OrgProfile,
    /// The signing key current at that roster seq.
    pub signing_key: PublicKey,
    /// The age X25519 recipient current at that roster seq.
    pub enc_recipient: String,
    pub is_maintainer: bool,
    /// Terms that identify this member (its products, domains, codenames) for scrubbers.
    pub deny_terms: Vec<String>,
}

/// A signing key a member held, with the author-chain bound under which it may sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthorKey {
    pub key: PublicKey,
    /// `None` while the key is current; `Some(tip)` once retired: only author seqs `<= tip.seq`
    /// may carry this key.
    pub retired_at: Option<ChainTip>,
}

/// Read access to a folded roster's history.
pub trait RosterHistory {
    /// The circle id (envelope id of the genesis event).
    fn circle_id(&self) -> EnvelopeId;

    /// The current head: (seq, envelope id of the last event).
    fn head(&self) -> (u64, EnvelopeId);

    /// The envelope id of the event at `seq`, if the history reaches that far.
    fn event_id_at(&self, seq: u64) -> Option<EnvelopeId>;

    /// The member as it stood at roster `seq`, or `None` if it was not a member then
    /// (not yet admitted, or already removed or gone).
    fn member_at(&self, seq: u64, member: &MemberId) -> Option<MemberAt>;

    /// Every member at roster `seq`, sorted by member id.
    fn members_at(&self, seq: u64) -> Vec<MemberAt>;

    /// The signing key `key` of `member`, if the member held it at or before roster `seq`,
    /// with the chain tip recorded when it was retired.
    fn author_key(&self, seq: u64, member: &MemberId, key: &KeyId) -> Option<AuthorKey>;

    /// Whether sharing in the circle is frozen by an unresolved fork proof.
    fn is_frozen(&self) -> bool;
}
