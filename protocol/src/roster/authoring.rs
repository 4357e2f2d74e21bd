//! Helpers for the sequencer, maintainers and members to build the objects the roster rules
//! accept. They fill in what the roster already knows (circle, seq, prev, counters, base head);
//! the caller signs.

use crate::envelope::{Envelope, Signer};
use crate::ids::{MemberId, Sha256Digest};
use crate::membership::RosterHistory;
use crate::timestamp::Timestamp;

use super::state::Roster;
use super::types::{
    EventBody, Invite, InviteToken, MemberChange, MemberRequest, QuorumAction, QuorumProposal,
    RosterEvent, Vouch,
};

impl Roster {
    /// The next event for the sequencer to sign: seq, prev and circle filled in.
    pub fn next_event(&self, at: Timestamp, event: EventBody) -> RosterEvent {
        RosterEvent {
            seq: self.head_seq() + 1,
            prev: Some(self.head_id()),
            at,
            circle: Some(self.circle_id()),
            event,
        }
    }

    /// Builds and signs the next event, then checks it against every rule, so the sequencer
    /// never publishes an event the circle would refuse.
    pub fn sequence(
        &self,
        at: Timestamp,
        event: EventBody,
        sequencer: &dyn Signer,
        now: Option<Timestamp>,
    ) -> Result<Envelope, super::RosterError> {
        let seq = self.head_seq() + 1;
        let env = self
            .next_event(at, event)
            .sign(sequencer)
            .map_err(|source| super::RosterError::Envelope {
                seq,
                object: "roster event".into(),
                source,
            })?;
        self.check_next(&env, now)?;
        Ok(env)
    }

    /// A quorum proposal against the current head.
    pub fn propose(&self, action: QuorumAction, expires: Timestamp) -> QuorumProposal {
        let (base_seq, base_head) = self.head();
        QuorumProposal {
            circle: self.circle_id(),
            base_seq,
            base_head,
            expires,
            action,
        }
    }

    /// A member request with the next counter for `member`.
    pub fn member_request(
        &self,
        member: &MemberId,
        change: MemberChange,
        expires: Timestamp,
    ) -> MemberRequest {
        let last = self.member(member).map_or(0, |m| m.last_counter);
        MemberRequest {
            circle: self.circle_id(),
            member: member.clone(),
            counter: last + 1,
            expires,
            change,
        }
    }

    /// An invite by `maintainer` for one candidate, with the token the caller drew.
    pub fn invite(
        &self,
        maintainer: &MemberId,
        endpoint: String,
        tls_spki_sha256: Sha256Digest,
        token: &InviteToken,
        expires: Timestamp,
    ) -> Invite {
        Invite {
            circle: self.circle_id(),
            circle_name: self.name().to_owned(),
            charter_sha256: self.charter_sha256(),
            maintainer: maintainer.clone(),
            maintainer_endpoint: endpoint,
            maintainer_tls_spki_sha256: tls_spki_sha256,
            token_sha256: token.hash(),
            expires,
        }
    }

    /// A vouch by `sponsor` for `subject` (a join request id or a replacement card id).
    pub fn vouch(
        &self,
        sponsor: &MemberId,
        subject: crate::ids::EnvelopeId,
        issued_at: Timestamp,
        expires: Timestamp,
        reason: String,
    ) -> Vouch {
        Vouch {
            circle: self.circle_id(),
            subject,
            sponsor: sponsor.clone(),
            issued_at,
            expires,
            reason,
        }
    }
}
