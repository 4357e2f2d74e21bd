//! The server's reads and writes of a circle store's roster-side tables (fork proofs, pending
//! join requests and vouches, quorum proposals, checkpoints). These tables are part of the
//! circle store's schema v1 (`store::circle::MIGRATIONS`); nothing here changes the schema.
//! Every write is one transaction.

use debrief_protocol::roster::{CheckpointStatus, ForkProof, Roster};
use debrief_protocol::wire::{PendingItem, PendingKind};
use debrief_protocol::{Envelope, EnvelopeId, Timestamp};
use rusqlite::{OptionalExtension, params};

use crate::store::StoreError;
use crate::store::circle::{CircleStore, next_ingest_seq};

fn corrupt(what: &str, id: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(format!("stored {what} {id} is corrupt: {e}"))
}

/// Every stored fork-proof envelope, oldest first.
pub fn fork_proofs(store: &CircleStore) -> Result<Vec<Envelope>, StoreError> {
    let mut stmt = store
        .conn()
        .prepare("SELECT proof_id, envelope FROM fork_proofs ORDER BY ingest_seq")?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, bytes) = row?;
        out.push(Envelope::from_json(&bytes).map_err(|e| corrupt("fork proof", &id, e))?);
    }
    Ok(out)
}

/// Stores a verified fork proof (its signed envelope) unless held; returns whether it was new.
pub fn insert_fork_proof(
    store: &mut CircleStore,
    proof: &ForkProof,
    envelope: &Envelope,
    now: Timestamp,
) -> Result<bool, StoreError> {
    store.put_fork_proof(&proof.id().to_hex(), proof.seq, envelope, now)
}

/// Re-records the stored fork proofs into a freshly folded roster, so a restart keeps a circle
/// frozen (protocol.md §2.15). Proofs that no longer verify are skipped (logged by the caller).
pub fn restore_fork_proofs(store: &CircleStore, roster: &mut Roster) -> Result<usize, StoreError> {
    let mut skipped = 0;
    for env in fork_proofs(store)? {
        let recorded = env
            .unverified_payload::<ForkProof>()
            .ok()
            .and_then(|proof| roster.record_fork_proof(&proof).ok());
        if recorded.is_none() {
            skipped += 1;
        }
    }
    Ok(skipped)
}

/// Every pending object, in the order this node received them.
pub fn pending(store: &CircleStore) -> Result<Vec<PendingItem>, StoreError> {
    let mut stmt = store.conn().prepare(
        "SELECT object_id, kind, subject, envelope, received_at FROM pending
         ORDER BY rowid",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, Vec<u8>>(3)?,
            r.get::<_, i64>(4)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, kind, subject, bytes, received_at) = row?;
        let kind =
            PendingKind::parse(&kind).ok_or_else(|| corrupt("pending object", &id, &kind))?;
        let envelope =
            Envelope::from_json(&bytes).map_err(|e| corrupt("pending object", &id, e))?;
        let id: EnvelopeId = id.parse().map_err(|e| corrupt("pending object", "id", e))?;
        out.push(PendingItem {
            kind,
            id,
            subject,
            envelope,
            received_at: Timestamp::from_unix(received_at),
        });
    }
    Ok(out)
}

/// One pending object by id.
pub fn pending_object(
    store: &CircleStore,
    id: &EnvelopeId,
) -> Result<Option<(PendingKind, Envelope)>, StoreError> {
    let row: Option<(String, Vec<u8>)> = store
        .conn()
        .query_row(
            "SELECT kind, envelope FROM pending WHERE object_id = ?1",
            [id.to_hex()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((kind, bytes)) = row else {
        return Ok(None);
    };
    let kind =
        PendingKind::parse(&kind).ok_or_else(|| corrupt("pending object", &id.to_hex(), &kind))?;
    let env =
        Envelope::from_json(&bytes).map_err(|e| corrupt("pending object", &id.to_hex(), e))?;
    Ok(Some((kind, env)))
}

/// What [`insert_pending`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingInsert {
    New,
    Held,
    /// The circle already holds `max_pending` objects.
    Full,
    /// Another object holds the same exclusive `slot` (one join request per invite).
    Conflict,
}

/// Stores a verified pending object, in one transaction with its cap check. `slot` is a `meta`
/// key only one object may hold (e.g. `invite-join:<token hash>` for join requests).
pub fn insert_pending(
    store: &mut CircleStore,
    kind: PendingKind,
    envelope: &Envelope,
    subject: Option<&str>,
    slot: Option<&str>,
    max_pending: u32,
    now: Timestamp,
) -> Result<PendingInsert, StoreError> {
    let id = envelope.id().to_hex();
    let tx = store.transaction()?;
    let held: Option<String> = tx
        .query_row(
            "SELECT object_id FROM pending WHERE object_id = ?1",
            [&id],
            |r| r.get(0),
        )
        .optional()?;
    if held.is_some() {
        return Ok(PendingInsert::Held);
    }
    if let Some(slot) = slot {
        let taken: Option<String> = tx
            .query_row("SELECT value FROM meta WHERE key = ?1", [slot], |r| {
                r.get(0)
            })
            .optional()?;
        if taken.is_some_and(|other| other != id) {
            return Ok(PendingInsert::Conflict);
        }
    }
    let count: i64 = tx.query_row("SELECT count(*) FROM pending", [], |r| r.get(0))?;
    if count >= i64::from(max_pending) {
        return Ok(PendingInsert::Full);
    }
    tx.execute(
        "INSERT INTO pending (object_id, kind, subject, envelope, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, kind.as_str(), subject, envelope.to_json(), now.unix()],
    )?;
    if let Some(slot) = slot {
        crate::store::circle::set_meta(&tx, slot, &id)?;
    }
    tx.commit()?;
    Ok(PendingInsert::New)
}

/// Unexpired quorum proposals, oldest update first.
pub fn proposals(store: &CircleStore, now: Timestamp) -> Result<Vec<Envelope>, StoreError> {
    let mut stmt = store.conn().prepare(
        "SELECT proposal_id, envelope FROM proposals WHERE expires > ?1
         ORDER BY updated_at, proposal_id",
    )?;
    let rows = stmt.query_map([now.unix()], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, bytes) = row?;
        out.push(Envelope::from_json(&bytes).map_err(|e| corrupt("proposal", &id, e))?);
    }
    Ok(out)
}

/// Stores a proposal envelope, replacing a held copy only when this one carries more
/// signatures (cosigning only ever adds). The caller verified it.
pub fn upsert_proposal(
    store: &mut CircleStore,
    envelope: &Envelope,
    expires: Timestamp,
    now: Timestamp,
) -> Result<(), StoreError> {
    // Cosignatures change the envelope id, so proposals are keyed by their payload's hash.
    let key = debrief_protocol::Sha256Digest::of(envelope.payload()).to_hex();
    let tx = store.transaction()?;
    let held: Option<Vec<u8>> = tx
        .query_row(
            "SELECT envelope FROM proposals WHERE proposal_id = ?1",
            [&key],
            |r| r.get(0),
        )
        .optional()?;
    let better = match held {
        None => true,
        Some(bytes) => Envelope::from_json(&bytes)
            .map(|h| h.signatures().len() < envelope.signatures().len())
            .unwrap_or(true),
    };
    if better {
        tx.execute(
            "INSERT INTO proposals (proposal_id, envelope, expires, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (proposal_id) DO UPDATE SET envelope = excluded.envelope,
                 updated_at = excluded.updated_at",
            params![key, envelope.to_json(), expires.unix(), now.unix()],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Why a checkpoint was not stored.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint refused: {0}")]
    Rule(#[from] debrief_protocol::roster::RosterError),
    #[error(
        "the checkpoint does not name this node's head ({0:?}); fetch the roster or record the fork"
    )]
    NotCurrent(Box<CheckpointStatus>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Verifies a checkpoint of `roster`'s head (protocol.md §2.14) and stores it for the
/// `checkpoint` route. Checkpoints that are behind, ahead or forked are refused here: the
/// caller handles those (sync, fork proofs).
pub fn record_checkpoint(
    store: &mut CircleStore,
    roster: &Roster,
    envelope: &Envelope,
    now: Timestamp,
) -> Result<(), CheckpointError> {
    let (v, status) = roster.observe_checkpoint(envelope, now)?;
    if status != CheckpointStatus::Current {
        return Err(CheckpointError::NotCurrent(Box::new(status)));
    }
    let tx = store.transaction()?;
    let ingest = next_ingest_seq(&tx)?;
    tx.execute(
        "INSERT INTO checkpoints (checkpoint_id, seq, head, at, expires, envelope, ingest_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (checkpoint_id) DO NOTHING",
        params![
            envelope.id().to_hex(),
            v.seq as i64,
            v.head.to_hex(),
            v.at.unix(),
            v.expires.unix(),
            envelope.to_json(),
            ingest
        ],
    )
    .map_err(StoreError::from)?;
    tx.commit().map_err(StoreError::from)?;
    Ok(())
}

/// The newest unexpired checkpoint of `head`, if any.
pub fn current_checkpoint(
    store: &CircleStore,
    head: &EnvelopeId,
    now: Timestamp,
) -> Result<Option<Envelope>, StoreError> {
    let bytes: Option<Vec<u8>> = store
        .conn()
        .query_row(
            "SELECT envelope FROM checkpoints WHERE head = ?1 AND expires > ?2
             ORDER BY at DESC, checkpoint_id LIMIT 1",
            params![head.to_hex(), now.unix()],
            |r| r.get(0),
        )
        .optional()?;
    bytes
        .map(|b| Envelope::from_json(&b).map_err(|e| corrupt("checkpoint", &head.to_hex(), e)))
        .transpose()
}
