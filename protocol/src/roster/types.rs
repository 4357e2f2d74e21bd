//! The signed objects of a circle's roster (protocol.md §2.1): invites, join requests, vouches,
//! member requests, quorum proposals, roster events and checkpoints. Each travels in an envelope
//! of its own payload type; embedded objects are embedded as their envelopes, so every signature
//! stays checkable over the exact bytes that were signed.

use serde::{Deserialize, Serialize};

use crate::encoding::{hex, parse_hex};
use crate::envelope::{Envelope, EnvelopeError, PayloadType, PublicKey, Signer};
use crate::ids::{EnvelopeId, MemberId, Sha256Digest};
use crate::membership::ChainTip;
use crate::profile::OrgProfile;
use crate::timestamp::Timestamp;

use super::policy::Policy;

/// SHA-256 of the charter text's UTF-8 bytes: what a candidate accepts in its join request.
pub fn charter_hash(charter: &str) -> Sha256Digest {
    Sha256Digest::of(charter.as_bytes())
}

/// A one-time invite token: 32 random bytes, shown as 64 lowercase hex characters. The invite
/// carries only its SHA-256, so the signed invite can be shown to others without the token.
#[derive(Clone, PartialEq, Eq)]
pub struct InviteToken([u8; 32]);

impl std::fmt::Debug for InviteToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InviteToken(…)")
    }
}

impl InviteToken {
    /// A token from 32 random bytes the caller drew.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        InviteToken(bytes)
    }

    /// Parses the hex form a candidate pastes.
    pub fn parse(text: &str) -> Option<Self> {
        parse_hex::<32>(text.trim()).map(InviteToken)
    }

    /// The hex form.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// What the invite records.
    pub fn hash(&self) -> Sha256Digest {
        Sha256Digest::of(&self.0)
    }
}

/// A maintainer's invitation to one candidate (signed by that maintainer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invite {
    pub circle: EnvelopeId,
    /// The circle's name, for the candidate's display only; the circle id is what it confirms.
    pub circle_name: String,
    pub charter_sha256: Sha256Digest,
    /// The maintainer who issued (and signed) the invite.
    pub maintainer: MemberId,
    pub maintainer_endpoint: String,
    pub maintainer_tls_spki_sha256: Sha256Digest,
    /// SHA-256 of the one-time token ([`InviteToken::hash`]).
    pub token_sha256: Sha256Digest,
    pub expires: Timestamp,
}

impl Invite {
    pub fn sign(&self, maintainer: &dyn Signer) -> Result<Envelope, EnvelopeError> {
        Envelope::sign(self, PayloadType::Invite, maintainer)
    }
}

/// A candidate's request to join, signed by the key on its identity card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    pub circle: EnvelopeId,
    /// The candidate's self-signed identity card.
    pub card: Envelope,
    /// SHA-256 of the charter text the candidate read and accepts.
    pub charter_sha256: Sha256Digest,
    /// The invite token in hex ([`InviteToken::to_hex`]).
    pub invite_token: String,
    /// The candidate's key-rotation statements (protocol.md §1.11), oldest first, leading from
    /// the card's `first_signing_key` to its `signing_key`; empty (and absent from the payload)
    /// when it never rotated. They prove the member id is the candidate's (protocol.md §2.8).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rotations: Vec<Envelope>,
}

impl JoinRequest {
    pub fn sign(&self, candidate: &dyn Signer) -> Result<Envelope, EnvelopeError> {
        Envelope::sign(self, PayloadType::JoinRequest, candidate)
    }
}

/// A sponsor's vouch, signed by the sponsor's current key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vouch {
    pub circle: EnvelopeId,
    /// The envelope id vouched for: the candidate's join request (`admit`), or the replacement
    /// identity card (`replace_keys`).
    pub subject: EnvelopeId,
    pub sponsor: MemberId,
    pub issued_at: Timestamp,
    pub expires: Timestamp,
    /// Why the sponsor vouches (shown to maintainers; free text).
    pub reason: String,
}

impl Vouch {
    pub fn sign(&self, sponsor: &dyn Signer) -> Result<Envelope, EnvelopeError> {
        Envelope::sign(self, PayloadType::Vouch, sponsor)
    }
}

/// An author-chain position as stated in a signed payload (protocol.md §2.9): the last author
/// seq signed with a retiring key, and that link's id (`null` exactly when `seq` is 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TipStatement {
    pub seq: u64,
    pub link: Option<EnvelopeId>,
}

impl TipStatement {
    /// A tip for a key that never signed a chain link.
    pub const EMPTY: TipStatement = TipStatement { seq: 0, link: None };

    /// Whether the tip is well formed: a link exactly when seq > 0.
    pub fn is_well_formed(&self) -> bool {
        (self.seq == 0) == self.link.is_none()
    }
}

impl From<TipStatement> for ChainTip {
    fn from(t: TipStatement) -> ChainTip {
        ChainTip {
            seq: t.seq,
            link: t.link,
        }
    }
}

/// The change a member asks for its own entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum MemberChange {
    /// Leave the circle; `chain_tip` is the member's last author-chain position.
    Leave { chain_tip: TipStatement },
    /// New endpoint (or none) and TLS pin.
    SetEndpoint {
        endpoint: Option<String>,
        tls_spki_sha256: Sha256Digest,
    },
    /// New age X25519 recipient.
    SetEncKey { enc_recipient: String },
    /// New organisation profile.
    SetProfile { profile: OrgProfile },
    /// Terms that identify this company, for every member's scrubber.
    SetDenyTerms { terms: Vec<String> },
    /// Replace the signing key; signed by the old AND the new key. `chain_tip` is the last
    /// author-chain position signed with the old key.
    RotateSigningKey {
        new_key: PublicKey,
        chain_tip: TipStatement,
    },
}

impl MemberChange {
    /// The roster event kind that carries this change.
    pub fn event_kind(&self) -> &'static str {
        match self {
            MemberChange::Leave { .. } => "leave",
            MemberChange::SetEndpoint { .. } => "set_endpoint",
            MemberChange::SetEncKey { .. } => "set_enc_key",
            MemberChange::SetProfile { .. } => "set_profile",
            MemberChange::SetDenyTerms { .. } => "set_deny_terms",
            MemberChange::RotateSigningKey { .. } => "rotate_signing_key",
        }
    }
}

/// A member's signed request to change its own entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberRequest {
    pub circle: EnvelopeId,
    pub member: MemberId,
    /// Strictly increasing per member: must exceed the last counter applied for it.
    pub counter: u64,
    pub expires: Timestamp,
    pub change: MemberChange,
}

impl MemberRequest {
    /// Signs with the member's current key. For `rotate_signing_key`, add the new key's
    /// signature with [`Envelope::add_signature`] (or use [`MemberRequest::sign_rotation`]).
    pub fn sign(&self, member: &dyn Signer) -> Result<Envelope, EnvelopeError> {
        Envelope::sign(self, PayloadType::MemberRequest, member)
    }

    /// Signs a rotation with the old key and then the new key.
    pub fn sign_rotation(
        &self,
        old_key: &dyn Signer,
        new_key: &dyn Signer,
    ) -> Result<Envelope, EnvelopeError> {
        let mut env = self.sign(old_key)?;
        env.add_signature(new_key)?;
        Ok(env)
    }
}

/// The fork a `set_sequencer` resolves, embedded whole so anyone can check it.
pub use super::fork::ForkProof;

/// What a quorum of maintainers agrees to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum QuorumAction {
    /// Remove a member (its chain tip is recorded by the sequencer in the event).
    Remove { member: MemberId, reason: String },
    /// Grant or withdraw the maintainer role.
    SetRole { member: MemberId, maintainer: bool },
    /// Replace the policy.
    ChangePolicy { policy: Policy },
    /// Hand sequencing to `member`; `resolves` names the fork proof this resolves.
    SetSequencer {
        member: MemberId,
        resolves: Option<Box<ForkProof>>,
    },
    /// Recovery after key loss or compromise: the member's new identity card (same member id,
    /// signed by its new key). The event also needs fresh vouches for the card.
    ReplaceKeys { member: MemberId, card: Envelope },
}

impl QuorumAction {
    /// The roster event kind that carries this action.
    pub fn event_kind(&self) -> &'static str {
        match self {
            QuorumAction::Remove { .. } => "remove",
            QuorumAction::SetRole { .. } => "set_role",
            QuorumAction::ChangePolicy { .. } => "change_policy",
            QuorumAction::SetSequencer { .. } => "set_sequencer",
            QuorumAction::ReplaceKeys { .. } => "replace_keys",
        }
    }
}

/// A proposal cosigned by maintainers until the quorum is met.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuorumProposal {
    pub circle: EnvelopeId,
    /// The roster seq and head the proposal was made against.
    pub base_seq: u64,
    pub base_head: EnvelopeId,
    pub expires: Timestamp,
    pub action: QuorumAction,
}

impl QuorumProposal {
    /// The first signature; others add theirs with [`cosign`].
    pub fn sign(&self, maintainer: &dyn Signer) -> Result<Envelope, EnvelopeError> {
        Envelope::sign(self, PayloadType::QuorumProposal, maintainer)
    }
}

/// Adds a maintainer's cosignature to a proposal envelope.
pub fn cosign(proposal: &mut Envelope, maintainer: &dyn Signer) -> Result<(), EnvelopeError> {
    proposal.add_signature(maintainer)
}

/// A publication key declared at genesis: the key a member company uses to cosign public log
/// entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicationKey {
    pub member: MemberId,
    pub key: PublicKey,
}

/// The body of the first event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// Display name of the circle.
    pub name: String,
    /// Founding maintainers' self-signed identity cards.
    pub maintainers: Vec<Envelope>,
    /// Optional founding members (so a young circle can reach its vouch threshold).
    pub members: Vec<Envelope>,
    pub policy: Policy,
    pub charter: String,
    pub publication_keys: Vec<PublicationKey>,
    /// The founding maintainer that sequences (and signs this event).
    pub sequencer: MemberId,
}

/// What a roster event does. Serialised as `{"kind": "...", "body": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    content = "body",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum EventBody {
    Genesis(Box<Genesis>),
    /// Embeds the invite, the join request and the vouches.
    Admit {
        invite: Envelope,
        join_request: Envelope,
        vouches: Vec<Envelope>,
    },
    Leave {
        request: Envelope,
    },
    SetEndpoint {
        request: Envelope,
    },
    SetEncKey {
        request: Envelope,
    },
    SetProfile {
        request: Envelope,
    },
    SetDenyTerms {
        request: Envelope,
    },
    RotateSigningKey {
        request: Envelope,
    },
    /// The sequencer states the removed member's chain tip.
    Remove {
        proposal: Envelope,
        chain_tip: TipStatement,
    },
    SetRole {
        proposal: Envelope,
    },
    ChangePolicy {
        proposal: Envelope,
    },
    SetSequencer {
        proposal: Envelope,
    },
    /// The sequencer states the chain tip of the replaced key; vouches are for the new card.
    ReplaceKeys {
        proposal: Envelope,
        chain_tip: TipStatement,
        vouches: Vec<Envelope>,
    },
}

impl EventBody {
    /// The event kind as written in the payload.
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::Genesis(_) => "genesis",
            EventBody::Admit { .. } => "admit",
            EventBody::Leave { .. } => "leave",
            EventBody::SetEndpoint { .. } => "set_endpoint",
            EventBody::SetEncKey { .. } => "set_enc_key",
            EventBody::SetProfile { .. } => "set_profile",
            EventBody::SetDenyTerms { .. } => "set_deny_terms",
            EventBody::RotateSigningKey { .. } => "rotate_signing_key",
            EventBody::Remove { .. } => "remove",
            EventBody::SetRole { .. } => "set_role",
            EventBody::ChangePolicy { .. } => "change_policy",
            EventBody::SetSequencer { .. } => "set_sequencer",
            EventBody::ReplaceKeys { .. } => "replace_keys",
        }
    }

    /// Wraps a member request in the event kind its change names.
    pub fn for_member_request(change: &MemberChange, request: Envelope) -> EventBody {
        match change {
            MemberChange::Leave { .. } => EventBody::Leave { request },
            MemberChange::SetEndpoint { .. } => EventBody::SetEndpoint { request },
            MemberChange::SetEncKey { .. } => EventBody::SetEncKey { request },
            MemberChange::SetProfile { .. } => EventBody::SetProfile { request },
            MemberChange::SetDenyTerms { .. } => EventBody::SetDenyTerms { request },
            MemberChange::RotateSigningKey { .. } => EventBody::RotateSigningKey { request },
        }
    }
}

/// One entry of the roster log, signed by the sequencer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RosterEvent {
    pub seq: u64,
    /// Envelope id of the event at `seq - 1`; `null` in genesis.
    pub prev: Option<EnvelopeId>,
    /// Strictly increasing along the log.
    pub at: Timestamp,
    /// The circle id; absent in genesis (whose envelope id *is* the circle id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circle: Option<EnvelopeId>,
    pub event: EventBody,
}

impl RosterEvent {
    /// The genesis event of a new circle.
    pub fn genesis(at: Timestamp, genesis: Genesis) -> RosterEvent {
        RosterEvent {
            seq: 0,
            prev: None,
            at,
            circle: None,
            event: EventBody::Genesis(Box::new(genesis)),
        }
    }

    pub fn sign(&self, sequencer: &dyn Signer) -> Result<Envelope, EnvelopeError> {
        Envelope::sign(self, PayloadType::RosterEvent, sequencer)
    }
}

/// The sequencer's signed statement of the head at one seq, valid until `expires`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub circle: EnvelopeId,
    pub seq: u64,
    pub head: EnvelopeId,
    pub at: Timestamp,
    pub expires: Timestamp,
}

impl Checkpoint {
    pub fn sign(&self, sequencer: &dyn Signer) -> Result<Envelope, EnvelopeError> {
        Envelope::sign(self, PayloadType::Checkpoint, sequencer)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tagged_payloads_refuse_unknown_fields() {
        let ok = r#"{"chain_tip":{"link":null,"seq":0},"kind":"leave"}"#;
        assert_eq!(
            serde_json::from_str::<MemberChange>(ok).unwrap(),
            MemberChange::Leave {
                chain_tip: TipStatement::EMPTY
            }
        );
        let extra = r#"{"chain_tip":{"link":null,"seq":0},"kind":"leave","x":1}"#;
        assert!(serde_json::from_str::<MemberChange>(extra).is_err());
        let extra_tip = r#"{"chain_tip":{"link":null,"seq":0,"x":1},"kind":"leave"}"#;
        assert!(serde_json::from_str::<MemberChange>(extra_tip).is_err());
        let action = r#"{"kind":"set_role","maintainer":true,"member":"db1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","x":1}"#;
        assert!(serde_json::from_str::<QuorumAction>(action).is_err());
        let body = r#"{"body":{"proposal":{"payload":"","payloadType":"t","signatures":[]}},"kind":"set_role","x":1}"#;
        assert!(serde_json::from_str::<EventBody>(body).is_err());
        let body = r#"{"body":{"proposal":{"payload":"","payloadType":"t","signatures":[]}},"kind":"set_role"}"#;
        assert!(serde_json::from_str::<EventBody>(body).is_ok());
    }

    #[test]
    fn tips_and_tokens() {
        assert!(TipStatement::EMPTY.is_well_formed());
        assert!(!TipStatement { seq: 1, link: None }.is_well_formed());
        let token = InviteToken::from_bytes([7; 32]);
        assert_eq!(InviteToken::parse(&token.to_hex()), Some(token.clone()));
        assert_eq!(InviteToken::parse("07"), None);
        assert_eq!(format!("{token:?}"), "InviteToken(…)");
    }
}
