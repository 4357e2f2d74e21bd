//! Checkpoints and fork proofs (protocol.md §2.14, §2.15).

use serde::{Deserialize, Serialize};

use crate::canonical;
use crate::envelope::{self, Envelope, EnvelopeError, PayloadType, PublicKey, Signer, Verified};
use crate::ids::{EnvelopeId, KeyId, Sha256Digest};
use crate::membership::RosterHistory;
use crate::timestamp::Timestamp;

use super::error::RosterError;
use super::fold::MAX_CLOCK_SKEW_SECS;
use super::state::Roster;
use super::types::{Checkpoint, RosterEvent};

/// Two validly signed roster objects (events or checkpoints) for the same seq with different
/// heads: proof that the sequencer equivocated. Anyone holding the sequencer's key can check it.
/// The two sides are kept in envelope-id order, so one fork has one proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForkProof {
    pub circle: EnvelopeId,
    pub seq: u64,
    pub first: Envelope,
    pub second: Envelope,
}

/// One side of a fork proof, after verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForkSide {
    /// The head this side claims at the proof's seq (an event's own id, a checkpoint's `head`).
    pub head: EnvelopeId,
    /// The key that signed it.
    pub signer: KeyId,
}

/// A fork that a quorum `set_sequencer` resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedFork {
    pub proof_id: Sha256Digest,
    /// The seq at which the branches part.
    pub seq: u64,
    /// The seq of the `set_sequencer` event that resolved it.
    pub resolved_at: u64,
    /// The head kept (on this roster's branch) and the head refused.
    pub kept: EnvelopeId,
    pub refused: EnvelopeId,
    /// The key of the sequencer that equivocated.
    pub equivocator: KeyId,
}

/// What recording a fork proof did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForkStatus {
    /// A new fork: sharing in the circle is frozen until a quorum resolves it.
    Frozen,
    /// This proof was already recorded (still frozen).
    AlreadyRecorded,
    /// A quorum `set_sequencer` already resolved this fork: it does not freeze.
    Resolved,
}

/// How a verified checkpoint compares with this roster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointStatus {
    /// Names this roster's head (a re-issued checkpoint for an unchanged head is normal).
    Current,
    /// Names an earlier event of this roster: valid, but older than what we hold.
    Behind,
    /// Names a seq beyond our head: fetch the roster.
    Ahead { seq: u64 },
    /// Names a different head for a seq we hold: the proof to store and spread.
    Fork(Box<ForkProof>),
}

/// How a roster event received from a peer compares with this roster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventObservation {
    /// We hold exactly this event.
    Known,
    /// The next event: append it with [`super::RosterBuilder::append`].
    Next,
    /// Beyond the next seq: fetch the events in between.
    Ahead { seq: u64 },
    /// A different, validly signed event for a seq we hold.
    Fork(Box<ForkProof>),
}

impl ForkProof {
    /// Builds the proof from two conflicting objects, ordering the sides by envelope id.
    pub fn new(circle: EnvelopeId, seq: u64, a: Envelope, b: Envelope) -> ForkProof {
        let (first, second) = if a.id() <= b.id() { (a, b) } else { (b, a) };
        ForkProof {
            circle,
            seq,
            first,
            second,
        }
    }

    /// Names the proof: SHA-256 of its canonical JSON.
    pub fn id(&self) -> Sha256Digest {
        Sha256Digest::of(&canonical::to_canonical_vec(self).unwrap_or_default())
    }

    /// Signs the proof for spreading (the reporter's signature only attributes it; the proof
    /// stands on the sequencer's own signatures inside).
    pub fn sign(&self, reporter: &dyn Signer) -> Result<Envelope, EnvelopeError> {
        Envelope::sign(self, PayloadType::ForkProof, reporter)
    }

    /// Checks the proof against the sequencer keys that could have signed objects at its seq
    /// (protocol.md §2.15): both sides validly signed by one of `keys`, same circle, same seq,
    /// different heads.
    pub fn verify(&self, keys: &[PublicKey]) -> Result<[ForkSide; 2], RosterError> {
        if self.seq == 0 {
            return Err(RosterError::ForkProof {
                reason: "two different genesis events are two circles, not a fork".into(),
            });
        }
        let first = self.side(&self.first, keys, "first")?;
        let second = self.side(&self.second, keys, "second")?;
        if first.head == second.head {
            return Err(RosterError::ForkProof {
                reason: format!("both sides name head {} for seq {}", first.head, self.seq),
            });
        }
        if self.first.id() > self.second.id() {
            return Err(RosterError::ForkProof {
                reason: "sides must be in envelope-id order".into(),
            });
        }
        Ok([first, second])
    }

    fn side(
        &self,
        env: &Envelope,
        keys: &[PublicKey],
        which: &str,
    ) -> Result<ForkSide, RosterError> {
        let lookup = |id: &KeyId| keys.iter().copied().find(|k| k.key_id() == *id);
        let bad = |e: EnvelopeError| RosterError::ForkProof {
            reason: format!("{which} side is not validly signed by the sequencer: {e}"),
        };
        let (seq, circle, head, signers) =
            if env.payload_type() == PayloadType::Checkpoint.media_type() {
                let v: Verified<Checkpoint> =
                    envelope::verify_with(env, PayloadType::Checkpoint, lookup).map_err(bad)?;
                (v.seq, Some(v.circle), v.head, v.signers().to_vec())
            } else {
                let v: Verified<RosterEvent> =
                    envelope::verify_with(env, PayloadType::RosterEvent, lookup).map_err(bad)?;
                (v.seq, v.circle, v.id(), v.signers().to_vec())
            };
        if seq != self.seq {
            return Err(RosterError::ForkProof {
                reason: format!(
                    "{which} side is for seq {seq}, the proof names seq {}",
                    self.seq
                ),
            });
        }
        if circle != Some(self.circle) {
            return Err(RosterError::ForkProof {
                reason: format!("{which} side is not for circle {}", self.circle),
            });
        }
        let signer = signers
            .first()
            .copied()
            .ok_or_else(|| RosterError::ForkProof {
                reason: format!("{which} side has no sequencer signature"),
            })?;
        Ok(ForkSide { head, signer })
    }
}

impl Roster {
    /// The sequencer keys that could sign objects at `seq`: the sequencer's key before the event
    /// at `seq` (events) and after it (checkpoints), judged on this roster's history.
    fn sequencer_keys_for(&self, seq: u64) -> Vec<PublicKey> {
        let head = self.head_seq();
        let mut keys = Vec::new();
        for s in [seq.saturating_sub(1).min(head), seq.min(head)] {
            if let Some(k) = self.sequencer_key_at(s)
                && !keys.contains(&k)
            {
                keys.push(k);
            }
        }
        keys
    }

    /// Verifies a fork proof against this roster's sequencer keys (protocol.md §2.15).
    pub fn verify_fork_proof(&self, proof: &ForkProof) -> Result<[ForkSide; 2], RosterError> {
        if proof.circle != self.circle {
            return Err(RosterError::ForkProof {
                reason: format!("it is for circle {}, not {}", proof.circle, self.circle),
            });
        }
        proof.verify(&self.sequencer_keys_for(proof.seq))
    }

    /// Whether an object at `seq` with `head`, signed by `signer`, is on the losing branch of
    /// a resolved fork (protocol.md §2.15).
    pub(crate) fn losing_branch(&self, seq: u64, head: EnvelopeId, signer: KeyId) -> Option<u64> {
        if self.event_id_at(seq) == Some(head) {
            return None;
        }
        self.resolved
            .iter()
            .find(|r| seq >= r.seq && signer == r.equivocator)
            .map(|r| r.resolved_at)
    }

    /// Records a verified fork proof; an unresolved one freezes sharing (protocol.md §2.15).
    pub fn record_fork_proof(&mut self, proof: &ForkProof) -> Result<ForkStatus, RosterError> {
        let sides = self.verify_fork_proof(proof)?;
        let id = proof.id();
        if self.resolved.iter().any(|r| r.proof_id == id) {
            return Ok(ForkStatus::Resolved);
        }
        for side in &sides {
            if let Some(resolved_at) = self.losing_branch(proof.seq, side.head, side.signer) {
                // Only a side that is not ours can be on the losing branch; if the other side
                // is ours, this is the settled fork seen again at a later seq.
                if sides
                    .iter()
                    .any(|s| self.event_id_at(proof.seq) == Some(s.head))
                {
                    return Ok(ForkStatus::Resolved);
                }
                return Err(RosterError::LosingBranch {
                    seq: proof.seq,
                    resolved_at,
                });
            }
        }
        if self.forks.iter().any(|f| f.id() == id) {
            return Ok(ForkStatus::AlreadyRecorded);
        }
        self.forks.push(proof.clone());
        Ok(ForkStatus::Frozen)
    }

    /// Verifies a checkpoint and compares it with this roster (protocol.md §2.14). A checkpoint
    /// that names a different head for a seq we hold yields the fork proof.
    pub fn observe_checkpoint(
        &self,
        env: &Envelope,
        now: Timestamp,
    ) -> Result<(Verified<Checkpoint>, CheckpointStatus), RosterError> {
        let claimed: Checkpoint =
            env.unverified_payload()
                .map_err(|e| RosterError::Checkpoint {
                    seq: 0,
                    reason: e.to_string(),
                })?;
        let seq = claimed.seq;
        let fail = |reason: String| RosterError::Checkpoint { seq, reason };
        if claimed.circle != self.circle {
            return Err(fail(format!("it is for circle {}", claimed.circle)));
        }
        let key = self
            .sequencer_key_at(seq.min(self.head_seq()))
            .ok_or_else(|| fail("no sequencer is known at that seq".into()))?;
        let v: Verified<Checkpoint> = envelope::verify(env, PayloadType::Checkpoint, &key)
            .map_err(|e| fail(format!("not validly signed by the sequencer's key ({e})")))?;
        if let Some(resolved_at) = self.losing_branch(seq, v.head, key.key_id())
            && seq <= self.head_seq()
        {
            return Err(RosterError::LosingBranch { seq, resolved_at });
        }
        if v.expires <= v.at {
            return Err(fail(format!(
                "expires {} is not after at {}",
                v.expires, v.at
            )));
        }
        let lifetime = v.expires.unix() - v.at.unix();
        let max = i64::try_from(self.policy.checkpoint_expiry_secs).unwrap_or(i64::MAX);
        if lifetime > max {
            return Err(fail(format!(
                "valid for {lifetime} s, longer than the policy's checkpoint expiry of {max} s"
            )));
        }
        if v.at > now.plus_seconds(MAX_CLOCK_SKEW_SECS) {
            return Err(fail(format!(
                "at {} is beyond this node's clock {now}",
                v.at
            )));
        }
        if v.expires <= now {
            return Err(fail(format!("expired on {}", v.expires)));
        }
        let status = match self.event_id_at(seq) {
            None => CheckpointStatus::Ahead { seq },
            Some(ours) if ours != v.head => {
                let event = self.events[usize::try_from(seq).unwrap_or(0)]
                    .envelope
                    .clone();
                CheckpointStatus::Fork(Box::new(ForkProof::new(
                    self.circle,
                    seq,
                    event,
                    env.clone(),
                )))
            }
            Some(_) if seq == self.head_seq() => CheckpointStatus::Current,
            Some(_) => CheckpointStatus::Behind,
        };
        if let Some(event) = self.events.get(usize::try_from(seq).unwrap_or(usize::MAX))
            && !matches!(status, CheckpointStatus::Ahead { .. })
            && v.at < event.at
        {
            return Err(fail(format!(
                "at {} is before the event it names ({})",
                v.at, event.at
            )));
        }
        Ok((v, status))
    }

    /// Compares a roster event received from a peer with this roster, detecting forks
    /// (protocol.md §2.15). Appending is [`super::RosterBuilder::append`]'s job.
    pub fn observe_event(&self, env: &Envelope) -> Result<EventObservation, RosterError> {
        let claimed: RosterEvent = env
            .unverified_payload()
            .map_err(|e| RosterError::Envelope {
                seq: self.head_seq() + 1,
                object: "roster event".into(),
                source: e,
            })?;
        let seq = claimed.seq;
        if seq == self.head_seq() + 1 {
            return Ok(EventObservation::Next);
        }
        if seq > self.head_seq() + 1 {
            return Ok(EventObservation::Ahead { seq });
        }
        if self.event_id_at(seq) == Some(env.id()) {
            return Ok(EventObservation::Known);
        }
        let keys = self.sequencer_keys_for(seq);
        let v: Verified<RosterEvent> = envelope::verify_with(env, PayloadType::RosterEvent, |id| {
            keys.iter().copied().find(|k| k.key_id() == *id)
        })
        .map_err(|_| RosterError::NotSequencer {
            seq,
            sequencer: self
                .sequencer_at(seq.saturating_sub(1))
                .cloned()
                .unwrap_or_else(|| self.sequencer.clone()),
        })?;
        if v.circle != Some(self.circle) {
            return Err(RosterError::Circle {
                seq,
                object: "roster event".into(),
                expected: self.circle,
                found: v.circle,
            });
        }
        let signer = v.signers().first().copied();
        if let Some(signer) = signer
            && let Some(resolved_at) = self.losing_branch(seq, v.id(), signer)
        {
            return Err(RosterError::LosingBranch { seq, resolved_at });
        }
        let ours = self.events[usize::try_from(seq).unwrap_or(0)]
            .envelope
            .clone();
        Ok(EventObservation::Fork(Box::new(ForkProof::new(
            self.circle,
            seq,
            ours,
            env.clone(),
        ))))
    }

    /// A checkpoint of the current head, for the sequencer to sign.
    pub fn checkpoint(&self, at: Timestamp, expires: Timestamp) -> Checkpoint {
        Checkpoint {
            circle: self.circle,
            seq: self.head_seq(),
            head: self.head_id(),
            at,
            expires,
        }
    }
}
