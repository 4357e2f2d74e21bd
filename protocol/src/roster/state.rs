//! The folded roster and its history (protocol.md §2.9).

use std::collections::{BTreeMap, BTreeSet};

use crate::envelope::{Envelope, PublicKey};
use crate::ids::{EnvelopeId, KeyId, MemberId, Sha256Digest};
use crate::membership::{AuthorKey, ChainTip, MemberAt, RosterHistory};
use crate::profile::OrgProfile;
use crate::timestamp::Timestamp;

use super::fork::{ForkProof, ResolvedFork};
use super::policy::Policy;
use super::types::PublicationKey;

/// A current member of the circle, as the roster stands at its head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: MemberId,
    pub org: String,
    pub profile: OrgProfile,
    /// The key the identity was created with (its member id derives from it).
    pub first_signing_key: PublicKey,
    /// The current signing key.
    pub signing_key: PublicKey,
    /// The current age X25519 recipient (`age1…`).
    pub enc_recipient: String,
    pub endpoint: Option<String>,
    /// SHA-256 of the node's TLS SubjectPublicKeyInfo.
    pub tls_spki_sha256: Sha256Digest,
    pub deny_terms: Vec<String>,
    pub maintainer: bool,
    /// The roster seq of the event that admitted it (0 for founders).
    pub admitted_seq: u64,
    /// The last member-request counter applied for it (0 = none yet).
    pub last_counter: u64,
}

/// The roles a member holds in a circle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Member,
    Maintainer,
    Sequencer,
}

impl Member {
    pub(crate) fn snapshot(&self) -> MemberAt {
        MemberAt {
            member: self.id.clone(),
            org: self.org.clone(),
            profile: self.profile.clone(),
            signing_key: self.signing_key,
            enc_recipient: self.enc_recipient.clone(),
            is_maintainer: self.maintainer,
            deny_terms: self.deny_terms.clone(),
        }
    }
}

/// How and when a member stopped being one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Departure {
    pub seq: u64,
    /// `"was removed"` or `"left"`.
    pub how: &'static str,
    pub tip: ChainTip,
}

/// One signing key a member held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyRecord {
    pub key: PublicKey,
    pub from_seq: u64,
    pub retired: Option<(u64, ChainTip)>,
}

/// One accepted event, kept exactly as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEvent {
    pub seq: u64,
    pub id: EnvelopeId,
    pub at: Timestamp,
    pub kind: &'static str,
    pub envelope: Envelope,
}

/// A circle's membership, folded from its verified roster log. Only [`super::fold`] and
/// [`super::RosterBuilder`] make one, so holding a `Roster` means every rule of protocol.md §2
/// was checked. Cloning is the snapshot a node resumes from.
#[derive(Debug, Clone)]
pub struct Roster {
    pub(crate) circle: EnvelopeId,
    pub(crate) name: String,
    pub(crate) charter: String,
    pub(crate) charter_sha256: Sha256Digest,
    pub(crate) policy: Policy,
    pub(crate) sequencer: MemberId,
    pub(crate) publication_keys: Vec<PublicationKey>,
    pub(crate) members: BTreeMap<MemberId, Member>,
    pub(crate) departed: BTreeMap<MemberId, Departure>,
    pub(crate) events: Vec<LoggedEvent>,
    /// Per member: (from seq, state from then on; `None` = not a member).
    pub(crate) versions: BTreeMap<MemberId, Vec<(u64, Option<MemberAt>)>>,
    pub(crate) keys: BTreeMap<MemberId, Vec<KeyRecord>>,
    /// (from seq, sequencer from then on).
    pub(crate) sequencers: Vec<(u64, MemberId)>,
    pub(crate) used_invites: BTreeSet<Sha256Digest>,
    pub(crate) used_proposals: BTreeSet<EnvelopeId>,
    pub(crate) forks: Vec<ForkProof>,
    pub(crate) resolved: Vec<ResolvedFork>,
}

impl Roster {
    /// The circle id (envelope id of genesis).
    pub fn circle_id(&self) -> EnvelopeId {
        self.circle
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn charter(&self) -> &str {
        &self.charter
    }

    pub fn charter_sha256(&self) -> Sha256Digest {
        self.charter_sha256
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The member that currently sequences.
    pub fn sequencer(&self) -> &MemberId {
        &self.sequencer
    }

    /// The sequencer's current signing key.
    pub fn sequencer_key(&self) -> Option<PublicKey> {
        self.members.get(&self.sequencer).map(|m| m.signing_key)
    }

    pub fn publication_keys(&self) -> &[PublicationKey] {
        &self.publication_keys
    }

    /// Current members, sorted by member id.
    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.values()
    }

    /// Current maintainers, sorted by member id.
    pub fn maintainers(&self) -> impl Iterator<Item = &Member> {
        self.members.values().filter(|m| m.maintainer)
    }

    pub fn member(&self, id: &MemberId) -> Option<&Member> {
        self.members.get(id)
    }

    /// The current member whose *current* signing key has this key id.
    pub fn member_by_key(&self, key: &KeyId) -> Option<&Member> {
        self.members
            .values()
            .find(|m| m.signing_key.key_id() == *key)
    }

    /// The roles `id` holds now (empty if it is not a member).
    pub fn roles(&self, id: &MemberId) -> Vec<Role> {
        let Some(m) = self.members.get(id) else {
            return Vec::new();
        };
        let mut roles = vec![Role::Member];
        if m.maintainer {
            roles.push(Role::Maintainer);
        }
        if self.sequencer == *id {
            roles.push(Role::Sequencer);
        }
        roles
    }

    /// How a former member left, if it did.
    pub fn departure(&self, id: &MemberId) -> Option<&Departure> {
        self.departed.get(id)
    }

    /// The current head seq.
    pub fn head_seq(&self) -> u64 {
        self.events.len().saturating_sub(1) as u64
    }

    /// The current head id.
    pub fn head_id(&self) -> EnvelopeId {
        self.events.last().map_or(self.circle, |e| e.id)
    }

    /// `at` of the head event.
    pub fn head_at(&self) -> Timestamp {
        self.events.last().map_or(Timestamp::from_unix(0), |e| e.at)
    }

    /// Every accepted event, in order, exactly as received.
    pub fn events(&self) -> &[LoggedEvent] {
        &self.events
    }

    /// The events after `seq` (what `roster?after=SEQ` serves).
    pub fn events_after(&self, seq: u64) -> &[LoggedEvent] {
        let start = usize::try_from(seq.saturating_add(1)).unwrap_or(usize::MAX);
        self.events.get(start..).unwrap_or(&[])
    }

    /// Fork proofs recorded and not yet resolved.
    pub fn unresolved_forks(&self) -> &[ForkProof] {
        &self.forks
    }

    /// Forks resolved by a quorum `set_sequencer`.
    pub fn resolved_forks(&self) -> &[ResolvedFork] {
        &self.resolved
    }

    /// Warning for `circle status`: a circle whose maintainers are fewer than two companies
    /// trusts one maintainer completely (DESIGN §4).
    pub fn single_maintainer_warning(&self) -> Option<String> {
        let n = self.maintainers().count();
        (n < 2).then(|| {
            format!(
                "this circle has {n} maintainer; until a second maintainer from another company \
                 is added, that maintainer alone can change who reads what"
            )
        })
    }

    /// Whether a view of the roster last confirmed at `confirmed_at` (a verified checkpoint's
    /// `at`, or a live head comparison) is still fresh enough to share at `now`
    /// (protocol.md §2.14: `policy.max_roster_age_secs`).
    pub fn is_fresh(&self, confirmed_at: Timestamp, now: Timestamp) -> bool {
        let max = i64::try_from(self.policy.max_roster_age_secs).unwrap_or(i64::MAX);
        now.unix().saturating_sub(confirmed_at.unix()) <= max
    }

    /// Whether the sequencer owes a new checkpoint at `now`, given the `at` of its last one
    /// (protocol.md §2.14: `policy.checkpoint_interval_secs`).
    pub fn checkpoint_due(&self, last_checkpoint_at: Option<Timestamp>, now: Timestamp) -> bool {
        let interval = i64::try_from(self.policy.checkpoint_interval_secs).unwrap_or(i64::MAX);
        last_checkpoint_at.is_none_or(|last| now.unix().saturating_sub(last.unix()) >= interval)
    }

    /// The sequencer member as of roster state `seq` (after applying event `seq`).
    pub(crate) fn sequencer_at(&self, seq: u64) -> Option<&MemberId> {
        self.sequencers
            .iter()
            .rev()
            .find(|(from, _)| *from <= seq)
            .map(|(_, m)| m)
    }

    /// The sequencer's signing key as of roster state `seq`.
    pub(crate) fn sequencer_key_at(&self, seq: u64) -> Option<PublicKey> {
        let id = self.sequencer_at(seq)?;
        self.member_at(seq, id).map(|m| m.signing_key)
    }

    /// Whether any member ever held this key in this circle.
    pub(crate) fn key_ever_held(&self, key: &KeyId) -> bool {
        self.keys.values().flatten().any(|r| r.key.key_id() == *key)
    }
}

impl RosterHistory for Roster {
    fn circle_id(&self) -> EnvelopeId {
        self.circle
    }

    fn head(&self) -> (u64, EnvelopeId) {
        (self.head_seq(), self.head_id())
    }

    fn event_id_at(&self, seq: u64) -> Option<EnvelopeId> {
        let i = usize::try_from(seq).ok()?;
        self.events.get(i).map(|e| e.id)
    }

    // protocol.md §2.9: membership as it stood at `seq`.
    fn member_at(&self, seq: u64, member: &MemberId) -> Option<MemberAt> {
        if seq > self.head_seq() {
            return None;
        }
        self.versions
            .get(member)?
            .iter()
            .rev()
            .find(|(from, _)| *from <= seq)
            .and_then(|(_, state)| state.clone())
    }

    fn members_at(&self, seq: u64) -> Vec<MemberAt> {
        // `versions` is keyed by member id, so the result is sorted by it.
        self.versions
            .keys()
            .filter_map(|id| self.member_at(seq, id))
            .collect()
    }

    // protocol.md §2.9: a key held at or before `seq`, with its retirement tip if it has one.
    fn author_key(&self, seq: u64, member: &MemberId, key: &KeyId) -> Option<AuthorKey> {
        if seq > self.head_seq() {
            return None;
        }
        let record = self
            .keys
            .get(member)?
            .iter()
            .find(|r| r.key.key_id() == *key && r.from_seq <= seq)?;
        Some(AuthorKey {
            key: record.key,
            retired_at: record.retired.map(|(_, tip)| tip),
        })
    }

    fn is_frozen(&self) -> bool {
        !self.forks.is_empty()
    }
}
