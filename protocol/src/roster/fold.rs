//! Folding the roster log (protocol.md §2.3–§2.13). Every event is checked against the roster
//! as it stood before it, into an [`Effect`], and only then committed, so a refused event
//! leaves the roster unchanged.

use std::collections::{BTreeMap, BTreeSet};

use crate::envelope::{self, Envelope, EnvelopeError, PayloadType, PublicKey, Verified};
use crate::identity::{self, IdentityCard, normalise_org_name};
use crate::ids::{EnvelopeId, MemberId};
use crate::membership::{ChainTip, RosterHistory};
use crate::timestamp::Timestamp;

use super::error::RosterError;
use super::fork::ResolvedFork;
use super::policy::Policy;
use super::state::{Departure, KeyRecord, LoggedEvent, Member, Roster};
use super::types::{
    EventBody, Genesis, Invite, InviteToken, JoinRequest, MemberChange, MemberRequest,
    QuorumAction, QuorumProposal, RosterEvent, TipStatement, Vouch, charter_hash,
};

/// How far ahead of a node's clock an event's `at` may be (protocol.md §2.6).
pub const MAX_CLOCK_SKEW_SECS: i64 = 120;

/// Most deny terms a member may list, and the longest term (protocol.md §2.10).
pub const MAX_DENY_TERMS: usize = 500;
pub const MAX_DENY_TERM_CHARS: usize = 200;

/// Folds a whole log into a roster, checking every rule (protocol.md §2). `now` (the node's
/// clock) refuses events dated beyond it plus [`MAX_CLOCK_SKEW_SECS`]; `None` skips that check
/// (e.g. when re-reading a log this node already accepted).
pub fn fold(events: &[Envelope], now: Option<Timestamp>) -> Result<Roster, RosterError> {
    let mut builder = RosterBuilder::new(now);
    for env in events {
        builder.append(env)?;
    }
    builder.finish()
}

/// Appends verified events one at a time; resumes from a roster snapshot (a clone).
#[derive(Debug, Clone)]
pub struct RosterBuilder {
    roster: Option<Roster>,
    now: Option<Timestamp>,
}

impl RosterBuilder {
    /// Starts an empty log; the first event appended must be genesis.
    pub fn new(now: Option<Timestamp>) -> Self {
        RosterBuilder { roster: None, now }
    }

    /// Continues from a roster already folded.
    pub fn resume(roster: Roster, now: Option<Timestamp>) -> Self {
        RosterBuilder {
            roster: Some(roster),
            now,
        }
    }

    /// Sets the clock used for the `at` check of later appends.
    pub fn set_now(&mut self, now: Option<Timestamp>) {
        self.now = now;
    }

    /// Checks and appends one event. On error nothing changes.
    pub fn append(&mut self, env: &Envelope) -> Result<&Roster, RosterError> {
        let roster = match self.roster.take() {
            None => Roster::from_genesis(env, self.now)?,
            Some(mut roster) => {
                let checked = roster.check_event(env, self.now);
                match checked {
                    Ok(effect) => {
                        roster.commit(effect);
                        roster
                    }
                    Err(e) => {
                        self.roster = Some(roster);
                        return Err(e);
                    }
                }
            }
        };
        Ok(self.roster.insert(roster))
    }

    /// The roster so far, if genesis was appended.
    pub fn roster(&self) -> Option<&Roster> {
        self.roster.as_ref()
    }

    /// The folded roster.
    pub fn finish(self) -> Result<Roster, RosterError> {
        self.roster.ok_or(RosterError::EmptyLog)
    }
}

/// The outcome of the vouch count for one admission or key replacement (protocol.md §2.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VouchCount {
    pub needed: u32,
    /// The distinct member companies whose vouches count.
    pub counted: Vec<MemberId>,
    /// Why each other vouch does not count.
    pub refused: Vec<String>,
}

impl VouchCount {
    /// Whether the threshold is met.
    pub fn is_met(&self) -> bool {
        self.counted.len() >= self.needed as usize
    }

    /// The §2.7 error for an event at `seq` if the threshold is not met.
    pub fn check(&self, seq: u64) -> Result<(), RosterError> {
        if self.is_met() {
            return Ok(());
        }
        Err(RosterError::VouchThreshold {
            seq,
            needed: self.needed,
            got: u32::try_from(self.counted.len()).unwrap_or(u32::MAX),
            reasons: self.refused.clone(),
        })
    }
}

/// What an accepted event changes.
#[derive(Debug)]
pub(crate) struct Effect {
    seq: u64,
    id: EnvelopeId,
    at: Timestamp,
    kind: &'static str,
    envelope: Envelope,
    change: Change,
}

#[derive(Debug)]
enum Change {
    Admit {
        member: Box<Member>,
        token: crate::ids::Sha256Digest,
    },
    Update {
        member: Box<Member>,
    },
    Rotate {
        member: Box<Member>,
        tip: ChainTip,
        proposal: Option<EnvelopeId>,
    },
    Depart {
        member: MemberId,
        how: &'static str,
        tip: ChainTip,
        proposal: Option<EnvelopeId>,
    },
    SetRole {
        member: Box<Member>,
        proposal: EnvelopeId,
    },
    Policy {
        policy: Policy,
        proposal: EnvelopeId,
    },
    Sequencer {
        member: MemberId,
        proposal: EnvelopeId,
        resolved: Option<ResolvedFork>,
    },
}

fn member_from_card(card: &IdentityCard, seq: u64, maintainer: bool) -> Member {
    Member {
        id: card.member.clone(),
        org: card.org.clone(),
        profile: card.profile.clone(),
        first_signing_key: card.first_signing_key,
        signing_key: card.signing_key,
        enc_recipient: card.enc_recipient.clone(),
        endpoint: card.endpoint.clone(),
        tls_spki_sha256: card.tls_spki_sha256,
        deny_terms: Vec::new(),
        maintainer,
        admitted_seq: seq,
        last_counter: 0,
    }
}

fn env_err(seq: u64, object: impl Into<String>) -> impl FnOnce(EnvelopeError) -> RosterError {
    let object = object.into();
    move |source| RosterError::Envelope {
        seq,
        object,
        source,
    }
}

fn check_tip(seq: u64, tip: &TipStatement) -> Result<ChainTip, RosterError> {
    // protocol.md §2.9: a link exactly when the tip is past seq 0.
    if tip.is_well_formed() {
        Ok((*tip).into())
    } else if tip.seq == 0 {
        Err(RosterError::ChainTip {
            seq,
            reason: "a tip at author seq 0 names no link".into(),
        })
    } else {
        Err(RosterError::ChainTip {
            seq,
            reason: format!("a tip at author seq {} must name its link id", tip.seq),
        })
    }
}

/// Most rotation statements a join request may carry (protocol.md §2.8).
const MAX_JOIN_ROTATIONS: usize = 64;

/// protocol.md §2.8: the card's signing key is the key its member id derives from, or is reached
/// from it by the candidate's own rotation statements (§1.11), each signed by the old and the new
/// key. Without this, anyone could join under another company's member id by naming its first
/// key (public in every card) next to a key of its own.
fn check_key_lineage(
    seq: u64,
    card: &IdentityCard,
    rotations: &[Envelope],
) -> Result<(), RosterError> {
    let refuse = |reason: String| RosterError::JoinRequest { seq, reason };
    if rotations.len() > MAX_JOIN_ROTATIONS {
        return Err(refuse(format!(
            "{} rotation statements; at most {MAX_JOIN_ROTATIONS} are allowed",
            rotations.len()
        )));
    }
    let mut key = card.first_signing_key;
    for (i, env) in rotations.iter().enumerate() {
        let r = crate::rotation::verify_rotation(env, &key).map_err(|e| {
            refuse(format!(
                "rotation statement {} does not continue the key chain from the first signing key: {e}",
                i + 1
            ))
        })?;
        if r.member != card.member {
            return Err(refuse(format!(
                "rotation statement {} is for member {}, not {}",
                i + 1,
                r.member,
                card.member
            )));
        }
        key = r.new_signing_key;
    }
    if key != card.signing_key {
        return Err(refuse(
            "the card's signing key is neither the key its member id derives from nor reached \
             from it by the rotation statements given"
                .into(),
        ));
    }
    Ok(())
}

fn check_time(seq: u64, at: Timestamp, now: Option<Timestamp>) -> Result<(), RosterError> {
    // protocol.md §2.6: never beyond the node's clock plus skew.
    if let Some(now) = now
        && at > now.plus_seconds(MAX_CLOCK_SKEW_SECS)
    {
        return Err(RosterError::AtInFuture {
            seq,
            at,
            now,
            skew_secs: MAX_CLOCK_SKEW_SECS,
        });
    }
    Ok(())
}

impl Roster {
    /// Verifies and folds a genesis event (protocol.md §2.3).
    fn from_genesis(env: &Envelope, now: Option<Timestamp>) -> Result<Roster, RosterError> {
        // protocol.md §2.1: the payload type before anything else.
        if env.payload_type() != PayloadType::RosterEvent.media_type() {
            return Err(RosterError::Envelope {
                seq: 0,
                object: "genesis event".into(),
                source: EnvelopeError::WrongPayloadType {
                    expected: PayloadType::RosterEvent,
                    found: env.payload_type().to_owned(),
                },
            });
        }
        let claimed: RosterEvent = env
            .unverified_payload()
            .map_err(env_err(0, "genesis event"))?;
        // protocol.md §2.4: the log starts at seq 0 with no prev and no circle.
        if claimed.seq != 0 {
            return Err(RosterError::Seq {
                expected: 0,
                found: claimed.seq,
            });
        }
        if claimed.prev.is_some() {
            return Err(RosterError::Prev {
                seq: 0,
                expected: None,
                found: claimed.prev,
            });
        }
        let EventBody::Genesis(genesis) = &claimed.event else {
            return Err(RosterError::Genesis {
                reason: format!(
                    "the first event must be genesis, got {}",
                    claimed.event.kind()
                ),
            });
        };
        if claimed.circle.is_some() {
            return Err(RosterError::Genesis {
                reason: "genesis names no circle (its own envelope id is the circle id)".into(),
            });
        }
        // protocol.md §2.3: founding cards verify, and the sequencer is a founding maintainer
        // whose card key signs the event.
        let mut founders: Vec<(Verified<IdentityCard>, bool)> = Vec::new();
        for (i, card) in genesis.maintainers.iter().enumerate() {
            let v = identity::verify_card(card).map_err(|source| RosterError::Identity {
                seq: 0,
                object: format!("founding maintainer card {}", i + 1),
                source,
            })?;
            founders.push((v, true));
        }
        for (i, card) in genesis.members.iter().enumerate() {
            let v = identity::verify_card(card).map_err(|source| RosterError::Identity {
                seq: 0,
                object: format!("founding member card {}", i + 1),
                source,
            })?;
            founders.push((v, false));
        }
        if genesis.maintainers.is_empty() {
            return Err(RosterError::Genesis {
                reason: "at least one founding maintainer is needed".into(),
            });
        }
        let Some((seq_card, _)) = founders
            .iter()
            .find(|(c, m)| *m && c.member == genesis.sequencer)
        else {
            return Err(RosterError::Genesis {
                reason: format!(
                    "the sequencer {} is not a founding maintainer",
                    genesis.sequencer
                ),
            });
        };
        let v: Verified<RosterEvent> =
            envelope::verify(env, PayloadType::RosterEvent, &seq_card.signing_key).map_err(
                |e| match e {
                    EnvelopeError::NoTrustedSignature => RosterError::NotSequencer {
                        seq: 0,
                        sequencer: genesis.sequencer.clone(),
                    },
                    other => RosterError::Envelope {
                        seq: 0,
                        object: "genesis event".into(),
                        source: other,
                    },
                },
            )?;
        let EventBody::Genesis(genesis) = &v.event else {
            return Err(RosterError::Genesis {
                reason: "the first event must be genesis".into(),
            });
        };
        check_time(0, v.at, now)?;
        // protocol.md §2.2: floors.
        genesis.policy.check(0)?;
        if genesis.charter.trim().is_empty() {
            return Err(RosterError::Genesis {
                reason: "the charter text is empty".into(),
            });
        }
        if genesis.name.trim().is_empty() || genesis.name.chars().any(char::is_control) {
            return Err(RosterError::Genesis {
                reason: "the circle name must be non-empty without control characters".into(),
            });
        }
        let circle = v.id();
        let mut members: BTreeMap<MemberId, Member> = BTreeMap::new();
        for (card, maintainer) in &founders {
            // protocol.md §2.8: one member per company, from the start.
            if members.contains_key(&card.member) {
                return Err(RosterError::AlreadyMember {
                    seq: 0,
                    member: card.member.clone(),
                });
            }
            let org = normalise_org_name(&card.org);
            if let Some(existing) = members.values().find(|m| normalise_org_name(&m.org) == org) {
                return Err(RosterError::SameCompany {
                    seq: 0,
                    candidate: card.member.clone(),
                    org: card.org.clone(),
                    existing: existing.id.clone(),
                });
            }
            if members.values().any(|m| m.signing_key == card.signing_key) {
                return Err(RosterError::KeyReused {
                    seq: 0,
                    key: card.signing_key.key_id(),
                });
            }
            members.insert(card.member.clone(), member_from_card(card, 0, *maintainer));
        }
        for pk in &genesis.publication_keys {
            if !members.contains_key(&pk.member) {
                return Err(RosterError::Genesis {
                    reason: format!("publication key of {} names no founding member", pk.member),
                });
            }
        }
        let versions = members
            .values()
            .map(|m| (m.id.clone(), vec![(0, Some(m.snapshot()))]))
            .collect();
        let keys = members
            .values()
            .map(|m| {
                (
                    m.id.clone(),
                    vec![KeyRecord {
                        key: m.signing_key,
                        from_seq: 0,
                        retired: None,
                    }],
                )
            })
            .collect();
        let genesis: &Genesis = genesis;
        Ok(Roster {
            circle,
            name: genesis.name.clone(),
            charter: genesis.charter.clone(),
            charter_sha256: charter_hash(&genesis.charter),
            policy: genesis.policy.clone(),
            sequencer: genesis.sequencer.clone(),
            publication_keys: genesis.publication_keys.clone(),
            members,
            departed: BTreeMap::new(),
            events: vec![LoggedEvent {
                seq: 0,
                id: circle,
                at: v.at,
                kind: "genesis",
                envelope: env.clone(),
            }],
            versions,
            keys,
            sequencers: vec![(0, genesis.sequencer.clone())],
            used_invites: BTreeSet::new(),
            used_proposals: BTreeSet::new(),
            forks: Vec::new(),
            resolved: Vec::new(),
        })
    }

    /// Checks an event against the current roster without changing it: what the sequencer
    /// runs before publishing an event, and what a node runs before storing one.
    pub fn check_next(&self, env: &Envelope, now: Option<Timestamp>) -> Result<(), RosterError> {
        self.check_event(env, now).map(|_| ())
    }

    /// The current member `id`, or the §2.13 error saying why it is not one.
    fn current(&self, seq: u64, id: &MemberId) -> Result<&Member, RosterError> {
        if let Some(m) = self.members.get(id) {
            return Ok(m);
        }
        // protocol.md §2.13: nothing is accepted for a removed or departed member.
        match self.departed.get(id) {
            Some(d) => Err(RosterError::Departed {
                seq,
                member: id.clone(),
                how: d.how,
                at_seq: d.seq,
            }),
            None => Err(RosterError::NotAMember {
                seq,
                member: id.clone(),
            }),
        }
    }

    pub(crate) fn check_event(
        &self,
        env: &Envelope,
        now: Option<Timestamp>,
    ) -> Result<Effect, RosterError> {
        let expected = self.head_seq() + 1;
        // protocol.md §2.1: payload type first.
        if env.payload_type() != PayloadType::RosterEvent.media_type() {
            return Err(RosterError::Envelope {
                seq: expected,
                object: "roster event".into(),
                source: EnvelopeError::WrongPayloadType {
                    expected: PayloadType::RosterEvent,
                    found: env.payload_type().to_owned(),
                },
            });
        }
        let claimed: RosterEvent = env
            .unverified_payload()
            .map_err(env_err(expected, "roster event"))?;
        // protocol.md §2.4: the next seq, nothing else.
        if claimed.seq != expected {
            return Err(RosterError::Seq {
                expected,
                found: claimed.seq,
            });
        }
        let seq = expected;
        // protocol.md §2.5: signed by the current sequencer's current key; a set_sequencer may
        // instead be signed by the maintainer it appoints (the quorum speaks for it).
        let mut signers: Vec<PublicKey> = self.sequencer_key().into_iter().collect();
        if let EventBody::SetSequencer { proposal } = &claimed.event
            && let Ok(p) = proposal.unverified_payload::<QuorumProposal>()
            && let QuorumAction::SetSequencer { member, .. } = &p.action
            && let Some(m) = self.members.get(member)
        {
            signers.push(m.signing_key);
        }
        let v: Verified<RosterEvent> = envelope::verify_with(env, PayloadType::RosterEvent, |id| {
            signers.iter().copied().find(|k| k.key_id() == *id)
        })
        .map_err(|e| match e {
            EnvelopeError::NoTrustedSignature => RosterError::NotSequencer {
                seq,
                sequencer: self.sequencer.clone(),
            },
            other => RosterError::Envelope {
                seq,
                object: "roster event".into(),
                source: other,
            },
        })?;
        let event = v.value();
        // protocol.md §2.4: chained to the head, in this circle.
        if event.prev != Some(self.head_id()) {
            return Err(RosterError::Prev {
                seq,
                expected: Some(self.head_id()),
                found: event.prev,
            });
        }
        if event.circle != Some(self.circle) {
            return Err(RosterError::Circle {
                seq,
                object: "roster event".into(),
                expected: self.circle,
                found: event.circle,
            });
        }
        // protocol.md §2.6: strictly increasing `at`.
        if event.at <= self.head_at() {
            return Err(RosterError::AtNotIncreasing {
                seq,
                at: event.at,
                prev_at: self.head_at(),
            });
        }
        check_time(seq, event.at, now)?;
        let at = event.at;
        let change = match &event.event {
            EventBody::Genesis(_) => {
                return Err(RosterError::Genesis {
                    reason: format!("a second genesis at seq {seq}"),
                });
            }
            EventBody::Admit {
                invite,
                join_request,
                vouches,
            } => self.check_admit(seq, at, invite, join_request, vouches)?,
            EventBody::Leave { request }
            | EventBody::SetEndpoint { request }
            | EventBody::SetEncKey { request }
            | EventBody::SetProfile { request }
            | EventBody::SetDenyTerms { request }
            | EventBody::RotateSigningKey { request } => {
                self.check_member_request(seq, at, event.event.kind(), request)?
            }
            EventBody::Remove { proposal, .. }
            | EventBody::SetRole { proposal }
            | EventBody::ChangePolicy { proposal }
            | EventBody::SetSequencer { proposal }
            | EventBody::ReplaceKeys { proposal, .. } => {
                self.check_quorum_event(seq, at, &event.event, proposal)?
            }
        };
        // protocol.md §2.5: only the appointed maintainer may sign in the old sequencer's place.
        let by_sequencer = self
            .sequencer_key()
            .is_some_and(|k| v.signed_by(&k.key_id()));
        if !by_sequencer && !matches!(change, Change::Sequencer { .. }) {
            return Err(RosterError::NotSequencer {
                seq,
                sequencer: self.sequencer.clone(),
            });
        }
        Ok(Effect {
            seq,
            id: v.id(),
            at,
            kind: event.event.kind(),
            envelope: env.clone(),
            change,
        })
    }

    /// Counts the vouches for `subject` (a join request id, or a replacement card id) as the
    /// roster stands now, judged at `at` (protocol.md §2.7): only unexpired vouches signed by the
    /// current key of a current member company other than the candidate count, each company once.
    pub fn count_vouches(
        &self,
        subject: EnvelopeId,
        candidate: &MemberId,
        vouches: &[Envelope],
        at: Timestamp,
    ) -> VouchCount {
        let mut counted: Vec<MemberId> = Vec::new();
        let mut refused = Vec::new();
        let lifetime = i64::try_from(self.policy.vouch_lifetime_secs).unwrap_or(i64::MAX);
        for (i, env) in vouches.iter().enumerate() {
            let claimed: Vouch = match env.unverified_payload() {
                Ok(v) if env.payload_type() == PayloadType::Vouch.media_type() => v,
                _ => {
                    refused.push(format!("vouch {} is not a readable vouch", i + 1));
                    continue;
                }
            };
            let s = &claimed.sponsor;
            if s == candidate {
                refused.push(format!("the vouch from {s} is the candidate's own"));
                continue;
            }
            let sponsor = match self.current(0, s) {
                Ok(m) => m,
                Err(RosterError::Departed { how, at_seq, .. }) => {
                    refused.push(format!(
                        "the vouch from {s}: it {how} at roster seq {at_seq}"
                    ));
                    continue;
                }
                Err(_) => {
                    refused.push(format!("the vouch from {s}: not a current member"));
                    continue;
                }
            };
            let v: Verified<Vouch> =
                match envelope::verify(env, PayloadType::Vouch, &sponsor.signing_key) {
                    Ok(v) => v,
                    Err(e) => {
                        refused.push(format!(
                            "the vouch from {s} is not validly signed by its current key ({e})"
                        ));
                        continue;
                    }
                };
            if v.circle != self.circle {
                refused.push(format!("the vouch from {s} is for circle {}", v.circle));
            } else if v.subject != subject {
                refused.push(format!(
                    "the vouch from {s} is for {}, not {subject}",
                    v.subject
                ));
            } else if v.issued_at > at {
                refused.push(format!(
                    "the vouch from {s} was issued at {}, after the event ({at})",
                    v.issued_at
                ));
            } else if v.expires <= at {
                refused.push(format!("the vouch from {s} expired on {}", v.expires));
            } else if v.expires.unix() - v.issued_at.unix() > lifetime {
                refused.push(format!(
                    "the vouch from {s} is valid for longer than the policy's vouch lifetime of {lifetime} s"
                ));
            } else if counted.contains(s) {
                refused.push(format!(
                    "the vouch from {s} repeats a company already counted"
                ));
            } else {
                counted.push(s.clone());
            }
        }
        VouchCount {
            needed: self.policy.vouches,
            counted,
            refused,
        }
    }

    /// Checks a join request and the invite it answers as the sequencer will when it admits
    /// (protocol.md §2.8), plus the invite's expiry at `now`: what a node runs when a candidate
    /// posts a join request, before it stores it for sponsors and the sequencer.
    pub fn check_join(
        &self,
        invite_env: &Envelope,
        join_env: &Envelope,
        now: Timestamp,
    ) -> Result<Verified<JoinRequest>, RosterError> {
        let seq = self.head_seq() + 1;
        let (invite, join, _) = self.verify_admission(seq, invite_env, join_env)?;
        if invite.expires <= now {
            return Err(RosterError::Invite {
                seq,
                reason: format!("it expired on {}", invite.expires),
            });
        }
        Ok(join)
    }

    /// protocol.md §2.8: the invite, the join request and the candidate's card.
    #[allow(clippy::type_complexity)]
    fn verify_admission(
        &self,
        seq: u64,
        invite_env: &Envelope,
        join_env: &Envelope,
    ) -> Result<
        (
            Verified<Invite>,
            Verified<JoinRequest>,
            Verified<IdentityCard>,
        ),
        RosterError,
    > {
        // protocol.md §2.8: the invite, signed by a current maintainer, for this circle and
        // charter, its token used once.
        let invite_claim: Invite = invite_env
            .unverified_payload()
            .map_err(env_err(seq, "invite"))?;
        let inviter = self.current(seq, &invite_claim.maintainer)?;
        if !inviter.maintainer {
            return Err(RosterError::Invite {
                seq,
                reason: format!(
                    "issued by {}, who is not a maintainer",
                    invite_claim.maintainer
                ),
            });
        }
        let invite: Verified<Invite> =
            envelope::verify(invite_env, PayloadType::Invite, &inviter.signing_key)
                .map_err(env_err(seq, "invite"))?;
        if invite.circle != self.circle {
            return Err(RosterError::Circle {
                seq,
                object: "invite".into(),
                expected: self.circle,
                found: Some(invite.circle),
            });
        }
        if invite.charter_sha256 != self.charter_sha256 {
            return Err(RosterError::Invite {
                seq,
                reason: format!(
                    "it names charter {}, the circle's charter is {}",
                    invite.charter_sha256, self.charter_sha256
                ),
            });
        }
        if self.used_invites.contains(&invite.token_sha256) {
            return Err(RosterError::Invite {
                seq,
                reason: "its one-time token was already used by an earlier admit".into(),
            });
        }
        // The join request, signed by the key on the candidate's own card.
        let claim: JoinRequest = join_env
            .unverified_payload()
            .map_err(env_err(seq, "join request"))?;
        let card = identity::verify_card(&claim.card).map_err(|source| RosterError::Identity {
            seq,
            object: "the candidate's identity card".into(),
            source,
        })?;
        let join: Verified<JoinRequest> =
            envelope::verify(join_env, PayloadType::JoinRequest, &card.signing_key)
                .map_err(env_err(seq, "join request"))?;
        if join.card != claim.card {
            return Err(RosterError::JoinRequest {
                seq,
                reason: "the card changed between reads".into(),
            });
        }
        if join.circle != self.circle {
            return Err(RosterError::Circle {
                seq,
                object: "join request".into(),
                expected: self.circle,
                found: Some(join.circle),
            });
        }
        if join.charter_sha256 != self.charter_sha256 {
            return Err(RosterError::JoinRequest {
                seq,
                reason: format!(
                    "it accepts charter {}, the circle's charter is {}",
                    join.charter_sha256, self.charter_sha256
                ),
            });
        }
        // protocol.md §2.8: the candidate proves its member id, which derives from a public key
        // anyone can copy from its card in another circle.
        check_key_lineage(seq, &card, &join.rotations)?;
        let token_ok =
            InviteToken::parse(&join.invite_token).is_some_and(|t| t.hash() == invite.token_sha256);
        if !token_ok {
            return Err(RosterError::JoinRequest {
                seq,
                reason: "its invite token does not match the embedded invite".into(),
            });
        }
        // protocol.md §2.13: a departed member id never comes back.
        if let Some(d) = self.departed.get(&card.member) {
            return Err(RosterError::Departed {
                seq,
                member: card.member.clone(),
                how: d.how,
                at_seq: d.seq,
            });
        }
        if self.members.contains_key(&card.member) {
            return Err(RosterError::AlreadyMember {
                seq,
                member: card.member.clone(),
            });
        }
        let org = card.normalised_org();
        if let Some(existing) = self
            .members
            .values()
            .find(|m| normalise_org_name(&m.org) == org)
        {
            return Err(RosterError::SameCompany {
                seq,
                candidate: card.member.clone(),
                org: card.org.clone(),
                existing: existing.id.clone(),
            });
        }
        if self.key_ever_held(&card.signing_key.key_id()) {
            return Err(RosterError::KeyReused {
                seq,
                key: card.signing_key.key_id(),
            });
        }
        Ok((invite, join, card))
    }

    fn check_admit(
        &self,
        seq: u64,
        at: Timestamp,
        invite_env: &Envelope,
        join_env: &Envelope,
        vouches: &[Envelope],
    ) -> Result<Change, RosterError> {
        let (invite, join, card) = self.verify_admission(seq, invite_env, join_env)?;
        // protocol.md §2.7: enough vouches.
        self.count_vouches(join.id(), &card.member, vouches, at)
            .check(seq)?;
        Ok(Change::Admit {
            member: Box::new(member_from_card(&card, seq, false)),
            token: invite.token_sha256,
        })
    }

    fn check_member_request(
        &self,
        seq: u64,
        at: Timestamp,
        kind: &'static str,
        env: &Envelope,
    ) -> Result<Change, RosterError> {
        let claim: MemberRequest = env
            .unverified_payload()
            .map_err(env_err(seq, "member request"))?;
        // protocol.md §2.1: the event kind is the change the member asked for.
        if claim.change.event_kind() != kind {
            return Err(RosterError::KindMismatch {
                seq,
                kind,
                found: format!("a {} request", claim.change.event_kind()),
            });
        }
        let member = self.current(seq, &claim.member)?;
        // protocol.md §2.10, §2.11: the member's current key (and for a rotation, the new key).
        let mut keys = vec![member.signing_key];
        if let MemberChange::RotateSigningKey { new_key, .. } = &claim.change {
            keys.push(*new_key);
        }
        let v: Verified<MemberRequest> =
            envelope::verify_with(env, PayloadType::MemberRequest, |id| {
                keys.iter().copied().find(|k| k.key_id() == *id)
            })
            .map_err(|e| match e {
                EnvelopeError::NoTrustedSignature => RosterError::RequestNotByMember {
                    seq,
                    member: claim.member.clone(),
                },
                other => RosterError::Envelope {
                    seq,
                    object: "member request".into(),
                    source: other,
                },
            })?;
        if let MemberChange::RotateSigningKey { new_key, .. } = &v.change {
            if !(v.signed_by(&member.signing_key.key_id()) && v.signed_by(&new_key.key_id())) {
                return Err(RosterError::RotationSignatures {
                    seq,
                    member: member.id.clone(),
                });
            }
        } else if !v.signed_by(&member.signing_key.key_id()) {
            return Err(RosterError::RequestNotByMember {
                seq,
                member: member.id.clone(),
            });
        }
        if v.circle != self.circle {
            return Err(RosterError::Circle {
                seq,
                object: "member request".into(),
                expected: self.circle,
                found: Some(v.circle),
            });
        }
        // protocol.md §2.10: no replay: counter above the last, expiry not passed.
        if v.counter <= member.last_counter {
            return Err(RosterError::CounterNotIncreasing {
                seq,
                member: member.id.clone(),
                last: member.last_counter,
                got: v.counter,
            });
        }
        if v.expires <= at {
            return Err(RosterError::RequestExpired {
                seq,
                member: member.id.clone(),
                expires: v.expires,
                at,
            });
        }
        let mut updated = member.clone();
        updated.last_counter = v.counter;
        let bad = |reason: String| RosterError::BadChange { seq, reason };
        let change = match &v.change {
            MemberChange::Leave { chain_tip } => {
                let tip = check_tip(seq, chain_tip)?;
                if self.sequencer == member.id {
                    return Err(bad(
                        "the sequencer cannot leave; a quorum must hand sequencing to another \
                         maintainer first (set_sequencer)"
                            .into(),
                    ));
                }
                if member.maintainer && self.maintainers().count() == 1 {
                    return Err(bad("the last maintainer cannot leave".into()));
                }
                Change::Depart {
                    member: member.id.clone(),
                    how: "left",
                    tip,
                    proposal: None,
                }
            }
            MemberChange::SetEndpoint {
                endpoint,
                tls_spki_sha256,
            } => {
                if let Some(url) = endpoint {
                    identity::check_endpoint(url)
                        .map_err(|e| bad(format!("endpoint {url:?}: {e}")))?;
                }
                updated.endpoint = endpoint.clone();
                updated.tls_spki_sha256 = *tls_spki_sha256;
                Change::Update {
                    member: Box::new(updated),
                }
            }
            MemberChange::SetEncKey { enc_recipient } => {
                if enc_recipient.parse::<age::x25519::Recipient>().is_err() {
                    return Err(bad(format!(
                        "{enc_recipient:?} is not an age X25519 recipient (age1…)"
                    )));
                }
                updated.enc_recipient = enc_recipient.clone();
                Change::Update {
                    member: Box::new(updated),
                }
            }
            MemberChange::SetProfile { profile } => {
                updated.profile = profile.clone();
                Change::Update {
                    member: Box::new(updated),
                }
            }
            MemberChange::SetDenyTerms { terms } => {
                check_deny_terms(terms).map_err(bad)?;
                updated.deny_terms = terms.clone();
                Change::Update {
                    member: Box::new(updated),
                }
            }
            MemberChange::RotateSigningKey { new_key, chain_tip } => {
                let tip = check_tip(seq, chain_tip)?;
                if self.key_ever_held(&new_key.key_id()) {
                    return Err(RosterError::KeyReused {
                        seq,
                        key: new_key.key_id(),
                    });
                }
                updated.signing_key = *new_key;
                Change::Rotate {
                    member: Box::new(updated),
                    tip,
                    proposal: None,
                }
            }
        };
        Ok(change)
    }

    fn check_quorum_event(
        &self,
        seq: u64,
        at: Timestamp,
        body: &EventBody,
        env: &Envelope,
    ) -> Result<Change, RosterError> {
        let kind = body.kind();
        let claim: QuorumProposal = env
            .unverified_payload()
            .map_err(env_err(seq, "quorum proposal"))?;
        if claim.action.event_kind() != kind {
            return Err(RosterError::KindMismatch {
                seq,
                kind,
                found: format!("a {} proposal", claim.action.event_kind()),
            });
        }
        // protocol.md §2.12: each proposal acts once.
        if self.used_proposals.contains(&env.id()) {
            return Err(RosterError::ProposalReused {
                seq,
                proposal: env.id(),
            });
        }
        let maintainer_keys: Vec<(PublicKey, MemberId)> = self
            .maintainers()
            .map(|m| (m.signing_key, m.id.clone()))
            .collect();
        let p: Verified<QuorumProposal> =
            match envelope::verify_with(env, PayloadType::QuorumProposal, |id| {
                maintainer_keys
                    .iter()
                    .find(|(k, _)| k.key_id() == *id)
                    .map(|(k, _)| *k)
            }) {
                Ok(p) => p,
                Err(EnvelopeError::NoTrustedSignature) => {
                    return Err(RosterError::QuorumNotMet {
                        seq,
                        needed: self.quorum_needed(None),
                        got: 0,
                        reasons: vec!["no signature is by a current maintainer's key".into()],
                    });
                }
                Err(e) => return Err(env_err(seq, "quorum proposal")(e)),
            };
        if p.circle != self.circle {
            return Err(RosterError::Circle {
                seq,
                object: "quorum proposal".into(),
                expected: self.circle,
                found: Some(p.circle),
            });
        }
        // protocol.md §2.12: unexpired, and made against this roster no later than the event.
        if p.expires <= at {
            return Err(RosterError::ProposalExpired {
                seq,
                expires: p.expires,
                at,
            });
        }
        if p.base_seq >= seq {
            return Err(RosterError::ProposalBase {
                seq,
                base_seq: p.base_seq,
                reason: "is not before the event".into(),
            });
        }
        if self.event_id_at(p.base_seq) != Some(p.base_head) {
            return Err(RosterError::ProposalBase {
                seq,
                base_seq: p.base_seq,
                reason: format!(
                    "names head {}, which is not this roster's event at that seq",
                    p.base_head
                ),
            });
        }
        // A set_sequencer resolving a fork: the proof must hold, and the sequencer that forked
        // neither counts towards the quorum nor is reappointed.
        let mut resolved = None;
        let mut excluded: Option<MemberId> = None;
        if let QuorumAction::SetSequencer {
            resolves: Some(proof),
            member,
        } = &p.action
        {
            let r = self.check_resolution(seq, proof, member)?;
            excluded = self.sequencer_at(r.seq.saturating_sub(1)).cloned();
            resolved = Some(r);
        }
        // Count distinct maintainer companies among the signers.
        let mut reasons = Vec::new();
        let mut companies: Vec<MemberId> = Vec::new();
        for s in env.signatures() {
            match maintainer_keys.iter().find(|(k, _)| k.key_id() == s.keyid) {
                None => reasons.push(format!(
                    "the signature by key {} is not by a current maintainer's key",
                    &s.keyid.to_hex()[..16]
                )),
                Some((_, m)) if Some(m) == excluded.as_ref() => reasons.push(format!(
                    "the cosignature of {m}, the sequencer that forked, does not count"
                )),
                Some((_, m)) if !companies.contains(m) => companies.push(m.clone()),
                Some(_) => {}
            }
        }
        let needed = self.quorum_needed(excluded.as_ref());
        let got = u32::try_from(companies.len()).unwrap_or(u32::MAX);
        if got < needed {
            return Err(RosterError::QuorumNotMet {
                seq,
                needed,
                got,
                reasons,
            });
        }
        let proposal = p.id();
        let refuse = |reason: String| RosterError::ActionRefused { seq, reason };
        let change = match (&p.action, body) {
            (QuorumAction::Remove { member, .. }, EventBody::Remove { chain_tip, .. }) => {
                let target = self.current(seq, member)?;
                let tip = check_tip(seq, chain_tip)?;
                if *member == self.sequencer {
                    return Err(refuse(format!(
                        "{member} sequences; hand sequencing to another maintainer first"
                    )));
                }
                if target.maintainer && self.maintainers().count() == 1 {
                    return Err(refuse(format!("{member} is the last maintainer")));
                }
                Change::Depart {
                    member: member.clone(),
                    how: "was removed",
                    tip,
                    proposal: Some(proposal),
                }
            }
            (QuorumAction::SetRole { member, maintainer }, _) => {
                let target = self.current(seq, member)?;
                if target.maintainer == *maintainer {
                    return Err(refuse(format!(
                        "{member} already {} a maintainer",
                        if *maintainer { "is" } else { "is not" }
                    )));
                }
                if !maintainer && *member == self.sequencer {
                    return Err(refuse(format!(
                        "{member} sequences; hand sequencing to another maintainer first"
                    )));
                }
                if !maintainer && self.maintainers().count() == 1 {
                    return Err(refuse(format!("{member} is the last maintainer")));
                }
                let mut updated = target.clone();
                updated.maintainer = *maintainer;
                Change::SetRole {
                    member: Box::new(updated),
                    proposal,
                }
            }
            (QuorumAction::ChangePolicy { policy }, _) => {
                // protocol.md §2.2
                policy.check(seq)?;
                Change::Policy {
                    policy: policy.clone(),
                    proposal,
                }
            }
            (QuorumAction::SetSequencer { member, .. }, _) => {
                let target = self.current(seq, member)?;
                if !target.maintainer {
                    return Err(refuse(format!("{member} is not a maintainer")));
                }
                if *member == self.sequencer && resolved.is_none() {
                    return Err(refuse(format!("{member} already sequences")));
                }
                Change::Sequencer {
                    member: member.clone(),
                    proposal,
                    resolved,
                }
            }
            (
                QuorumAction::ReplaceKeys { member, card },
                EventBody::ReplaceKeys {
                    chain_tip, vouches, ..
                },
            ) => {
                let target = self.current(seq, member)?;
                let tip = check_tip(seq, chain_tip)?;
                let new = identity::verify_card(card).map_err(|source| RosterError::Identity {
                    seq,
                    object: "the replacement identity card".into(),
                    source,
                })?;
                if new.member != *member || new.first_signing_key != target.first_signing_key {
                    return Err(refuse(format!(
                        "the replacement card is for {}, not {member}",
                        new.member
                    )));
                }
                if normalise_org_name(&new.org) != normalise_org_name(&target.org) {
                    return Err(refuse(format!(
                        "the replacement card names organisation {:?}, not {:?}",
                        new.org, target.org
                    )));
                }
                if self.key_ever_held(&new.signing_key.key_id()) {
                    return Err(RosterError::KeyReused {
                        seq,
                        key: new.signing_key.key_id(),
                    });
                }
                // protocol.md §2.7: fresh vouches for the new card.
                self.count_vouches(new.id(), member, vouches, at)
                    .check(seq)?;
                let mut updated = member_from_card(&new, target.admitted_seq, target.maintainer);
                updated.deny_terms = target.deny_terms.clone();
                updated.last_counter = target.last_counter;
                Change::Rotate {
                    member: Box::new(updated),
                    tip,
                    proposal: Some(proposal),
                }
            }
            // The kinds were matched above; a remove or replace_keys body always pairs with
            // its own action.
            _ => {
                return Err(RosterError::KindMismatch {
                    seq,
                    kind,
                    found: format!("a {} proposal", p.action.event_kind()),
                });
            }
        };
        Ok(change)
    }

    /// min(policy quorum, maintainers), leaving out an equivocating sequencer (protocol.md §2.12).
    fn quorum_needed(&self, excluded: Option<&MemberId>) -> u32 {
        let maintainers = self
            .maintainers()
            .filter(|m| Some(&m.id) != excluded)
            .count();
        self.policy
            .maintainer_quorum
            .min(u32::try_from(maintainers).unwrap_or(u32::MAX))
            .max(1)
    }

    /// protocol.md §2.15: a resolving set_sequencer names a valid proof, one of whose sides is
    /// this roster's branch, and appoints someone other than the sequencer that forked.
    fn check_resolution(
        &self,
        seq: u64,
        proof: &super::fork::ForkProof,
        appointee: &MemberId,
    ) -> Result<ResolvedFork, RosterError> {
        let sides = self.verify_fork_proof(proof)?;
        let refuse = |reason: String| RosterError::ActionRefused { seq, reason };
        let ours = self.event_id_at(proof.seq);
        let (kept, lost) = match (ours, &sides) {
            (Some(o), [a, b]) if a.head == o => (*a, *b),
            (Some(o), [a, b]) if b.head == o => (*b, *a),
            _ => {
                return Err(refuse(
                    "neither side of the fork proof is on this roster's branch".into(),
                ));
            }
        };
        let id = proof.id();
        if self.resolved.iter().any(|r| r.proof_id == id) {
            return Err(refuse("this fork proof was already resolved".into()));
        }
        let equivocator = self.sequencer_at(proof.seq.saturating_sub(1));
        if equivocator == Some(appointee) {
            return Err(refuse(format!(
                "{appointee} is the sequencer that forked; appoint another maintainer"
            )));
        }
        Ok(ResolvedFork {
            proof_id: id,
            seq: proof.seq,
            resolved_at: seq,
            kept: kept.head,
            refused: lost.head,
            equivocator: lost.signer,
        })
    }

    pub(crate) fn commit(&mut self, effect: Effect) {
        let seq = effect.seq;
        let push_version = |roster: &mut Roster, m: &Member| {
            roster
                .versions
                .entry(m.id.clone())
                .or_default()
                .push((seq, Some(m.snapshot())));
        };
        match effect.change {
            Change::Admit { member, token } => {
                self.used_invites.insert(token);
                self.keys
                    .entry(member.id.clone())
                    .or_default()
                    .push(KeyRecord {
                        key: member.signing_key,
                        from_seq: seq,
                        retired: None,
                    });
                push_version(self, &member);
                self.members.insert(member.id.clone(), *member);
            }
            Change::Update { member } => {
                push_version(self, &member);
                self.members.insert(member.id.clone(), *member);
            }
            Change::Rotate {
                member,
                tip,
                proposal,
            } => {
                if let Some(p) = proposal {
                    self.used_proposals.insert(p);
                }
                let records = self.keys.entry(member.id.clone()).or_default();
                for r in records.iter_mut().filter(|r| r.retired.is_none()) {
                    r.retired = Some((seq, tip));
                }
                records.push(KeyRecord {
                    key: member.signing_key,
                    from_seq: seq,
                    retired: None,
                });
                push_version(self, &member);
                self.members.insert(member.id.clone(), *member);
            }
            Change::Depart {
                member,
                how,
                tip,
                proposal,
            } => {
                if let Some(p) = proposal {
                    self.used_proposals.insert(p);
                }
                if let Some(records) = self.keys.get_mut(&member) {
                    for r in records.iter_mut().filter(|r| r.retired.is_none()) {
                        r.retired = Some((seq, tip));
                    }
                }
                self.versions
                    .entry(member.clone())
                    .or_default()
                    .push((seq, None));
                self.members.remove(&member);
                self.departed.insert(member, Departure { seq, how, tip });
            }
            Change::SetRole { member, proposal } => {
                self.used_proposals.insert(proposal);
                push_version(self, &member);
                self.members.insert(member.id.clone(), *member);
            }
            Change::Policy { policy, proposal } => {
                self.used_proposals.insert(proposal);
                self.policy = policy;
            }
            Change::Sequencer {
                member,
                proposal,
                resolved,
            } => {
                self.used_proposals.insert(proposal);
                self.sequencers.push((seq, member.clone()));
                self.sequencer = member;
                if let Some(r) = resolved {
                    self.forks.retain(|f| f.id() != r.proof_id);
                    self.resolved.push(r);
                    // Other recorded proofs of the same equivocation no longer freeze.
                    let resolved = self.resolved.clone();
                    self.forks.retain(|f| {
                        !resolved.iter().any(|r| {
                            f.seq >= r.seq
                                && [&f.first, &f.second].iter().any(|e| {
                                    e.signatures().iter().any(|s| s.keyid == r.equivocator)
                                })
                        })
                    });
                }
            }
        }
        self.events.push(LoggedEvent {
            seq,
            id: effect.id,
            at: effect.at,
            kind: effect.kind,
            envelope: effect.envelope,
        });
    }
}

/// protocol.md §2.10: deny terms are non-empty, bounded, without control characters or
/// duplicates.
fn check_deny_terms(terms: &[String]) -> Result<(), String> {
    if terms.len() > MAX_DENY_TERMS {
        return Err(format!(
            "{} deny terms; at most {MAX_DENY_TERMS} are allowed",
            terms.len()
        ));
    }
    let mut seen = BTreeSet::new();
    for t in terms {
        if t.trim().is_empty()
            || t.trim() != t
            || t.chars().count() > MAX_DENY_TERM_CHARS
            || t.chars().any(char::is_control)
        {
            return Err(format!(
                "deny term {t:?} must be 1 to {MAX_DENY_TERM_CHARS} characters, trimmed, without control characters"
            ));
        }
        if !seen.insert(t.to_lowercase()) {
            return Err(format!("deny term {t:?} is listed twice"));
        }
    }
    Ok(())
}
