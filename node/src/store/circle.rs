//! One circle's store: `data/circles/<circle-id>/store.sqlite`.
//!
//! Signed objects are stored exactly as received (the envelope JSON bytes) with a local
//! `ingest_seq`, which orders everything this node learned and backs the feed cursors of the
//! HTTPS routes. The folded roster is not stored: it is recomputed from the signed events when
//! the store is opened (the fold is the only way to a `Roster`, protocol.md §2), and kept in
//! memory by the caller. `meta.roster_head` records the head the events fold to, so an
//! inconsistency between the log and what we last accepted is detected at open.

use std::path::{Path, PathBuf};

use debrief_protocol::roster::{Roster, RosterBuilder, RosterError, fold};
use debrief_protocol::{Envelope, EnvelopeId, Timestamp};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{Migration, StoreError, open_database};

/// The circle store's schema, in order. Append only (docs/operations.md, "Schema upgrades").
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "roster",
        sql: "
        CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) STRICT;
        -- One counter for everything this store accepts: feed and roster cursors use it.
        CREATE TABLE counters (
            name TEXT PRIMARY KEY,
            value INTEGER NOT NULL
        ) STRICT;
        INSERT INTO counters (name, value) VALUES ('ingest_seq', 0);
        -- The signed roster log, exactly as received (protocol.md §2).
        CREATE TABLE roster_events (
            seq INTEGER PRIMARY KEY,
            event_id TEXT NOT NULL UNIQUE,
            envelope BLOB NOT NULL,
            ingest_seq INTEGER NOT NULL UNIQUE
        ) STRICT;
        -- Signed checkpoints, kept whole; the newest per head is what we serve.
        CREATE TABLE checkpoints (
            checkpoint_id TEXT PRIMARY KEY,
            seq INTEGER NOT NULL,
            head TEXT NOT NULL,
            at INTEGER NOT NULL,
            expires INTEGER NOT NULL,
            envelope BLOB NOT NULL,
            ingest_seq INTEGER NOT NULL UNIQUE
        ) STRICT;
        -- Fork proofs: the evidence that the sequencer equivocated. Never deleted.
        CREATE TABLE fork_proofs (
            proof_id TEXT PRIMARY KEY,
            seq INTEGER NOT NULL,
            envelope BLOB NOT NULL,
            received_at INTEGER NOT NULL,
            ingest_seq INTEGER NOT NULL UNIQUE
        ) STRICT;
        -- Quorum proposals being cosigned; replaced by the copy with the most signatures.
        CREATE TABLE proposals (
            proposal_id TEXT PRIMARY KEY,
            envelope BLOB NOT NULL,
            expires INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        ) STRICT;
        -- Join requests, vouches and member requests waiting for the sequencer.
        CREATE TABLE pending (
            object_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('join-request', 'vouch', 'member-request')),
            subject TEXT,
            envelope BLOB NOT NULL,
            received_at INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX pending_by_subject ON pending (subject);
        -- Evidence of roster freshness: the last time a head comparison succeeded, per source.
        CREATE TABLE freshness (
            source TEXT PRIMARY KEY,
            head_seq INTEGER NOT NULL,
            head_id TEXT NOT NULL,
            checked_at INTEGER NOT NULL
        ) STRICT;
    ",
    },
    Migration {
        version: 4,
        name: "declassification allowances",
        sql: "
        -- Justified allowances of declassification findings (docs/declassification.md §3):
        -- the exact flagged text the author allows in the public text of one report, why,
        -- who allowed it and when. Subject: 'report:<report id>' or 'bundle:<bundle id>'.
        CREATE TABLE declassify_allowances (
            subject TEXT NOT NULL,
            text TEXT NOT NULL,
            because TEXT NOT NULL,
            allowed_by TEXT NOT NULL,
            allowed_at INTEGER NOT NULL,
            PRIMARY KEY (subject, text)
        ) STRICT;
    ",
    },
];

/// A circle's SQLite store.
#[derive(Debug)]
pub struct CircleStore {
    conn: Connection,
    path: PathBuf,
}

/// Why a batch of roster events was refused: which event, and the rule it broke.
#[derive(Debug, thiserror::Error)]
pub enum RosterImportError {
    #[error("{source}")]
    Rule {
        seq: u64,
        #[source]
        source: RosterError,
    },
    #[error(
        "roster event {seq} differs from the event this node holds for that seq: \
         a possible fork (protocol.md §2); compare with `debrief circle status`"
    )]
    Conflict { seq: u64, event: Box<Envelope> },
    #[error("roster event at position {index} is not a valid envelope: {message}")]
    Malformed { index: usize, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CircleStore {
    /// Opens (creating and migrating) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = open_database(path, MIGRATIONS)?;
        Ok(CircleStore {
            conn,
            path: path.to_owned(),
        })
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The raw connection, for modules that add their own tables through migrations.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// A write transaction. Every acceptance of a signed object is one transaction.
    pub fn transaction(&mut self) -> Result<Transaction<'_>, StoreError> {
        Ok(self.conn.transaction()?)
    }

    /// The roster log in seq order, exactly as stored.
    pub fn roster_envelopes(&self) -> Result<Vec<Envelope>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, envelope FROM roster_events ORDER BY seq")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, bytes) = row?;
            let env = Envelope::from_json(&bytes).map_err(|e| {
                StoreError::Invalid(format!("stored roster event {seq} is corrupt: {e}"))
            })?;
            out.push(env);
        }
        Ok(out)
    }

    /// Folds the stored log into the roster (protocol.md §2). `now` bounds future `at`s.
    pub fn load_roster(&self, now: Option<Timestamp>) -> Result<Roster, StoreError> {
        let envelopes = self.roster_envelopes()?;
        let roster = fold(&envelopes, now).map_err(|e| {
            StoreError::Invalid(format!(
                "the stored roster log of {} no longer folds ({e}); restore a backup",
                self.path.display()
            ))
        })?;
        if let Some(recorded) = self.meta("roster_head")?
            && recorded != roster.head_id().to_hex()
        {
            return Err(StoreError::Invalid(format!(
                "the roster log folds to head {} but the store recorded {recorded}",
                roster.head_id()
            )));
        }
        Ok(roster)
    }

    /// Verifies `events` on top of `roster` (or from genesis when `roster` is `None`) and stores
    /// the ones that are new, all in one transaction: either every new event is stored or none
    /// is. Events we already hold (same seq, same id) are skipped; a different event for a seq we
    /// hold is a fork, reported by the roster rules. Returns the new roster and how many events
    /// were added.
    pub fn append_roster_events(
        &mut self,
        roster: Option<&Roster>,
        events: &[Envelope],
        now: Timestamp,
    ) -> Result<(Roster, usize), RosterImportError> {
        let mut builder = match roster {
            Some(r) => RosterBuilder::resume(r.clone(), Some(now)),
            None => RosterBuilder::new(Some(now)),
        };
        let mut fresh = Vec::new();
        for (index, env) in events.iter().enumerate() {
            let seq = event_seq(env).ok_or_else(|| RosterImportError::Malformed {
                index,
                message: "payload has no seq".into(),
            })?;
            if let Some(current) = builder.roster()
                && seq <= current.head_seq()
            {
                // Already covered by our log: identical is a no-op; a different event for a
                // held seq is a possible fork, which the caller turns into a proof with
                // `Roster::observe_event` (protocol.md §2).
                let held = current.events().iter().find(|e| e.seq == seq).map(|e| e.id);
                if held == Some(env.id()) {
                    continue;
                }
                return Err(RosterImportError::Conflict {
                    seq,
                    event: Box::new(env.clone()),
                });
            }
            builder
                .append(env)
                .map_err(|source| RosterImportError::Rule { seq, source })?;
            fresh.push((seq, env));
        }
        let roster = builder
            .finish()
            .map_err(|source| RosterImportError::Rule { seq: 0, source })?;
        let tx = self.conn.transaction().map_err(StoreError::from)?;
        for (seq, env) in &fresh {
            let ingest = next_ingest_seq(&tx)?;
            tx.execute(
                "INSERT INTO roster_events (seq, event_id, envelope, ingest_seq)
                 VALUES (?1, ?2, ?3, ?4)",
                params![*seq as i64, env.id().to_hex(), env.to_json(), ingest],
            )
            .map_err(StoreError::from)?;
        }
        set_meta(&tx, "roster_head", &roster.head_id().to_hex())?;
        tx.commit().map_err(StoreError::from)?;
        Ok((roster, fresh.len()))
    }

    /// Records that the roster head `(seq, id)` was confirmed at `at` by `source` (a checkpoint
    /// id or a peer's member id): the evidence that makes sharing possible (protocol.md §2,
    /// roster freshness).
    pub fn record_freshness(
        &self,
        source: &str,
        head_seq: u64,
        head_id: &EnvelopeId,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO freshness (source, head_seq, head_id, checked_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (source) DO UPDATE SET head_seq = excluded.head_seq,
                 head_id = excluded.head_id, checked_at = excluded.checked_at
             WHERE excluded.checked_at >= freshness.checked_at",
            params![source, head_seq as i64, head_id.to_hex(), at.unix()],
        )?;
        Ok(())
    }

    /// The latest time our current head `head_id` was confirmed by any source, if ever.
    pub fn fresh_as_of(&self, head_id: &EnvelopeId) -> Result<Option<Timestamp>, StoreError> {
        let at: Option<i64> = self.conn.query_row(
            "SELECT max(checked_at) FROM freshness WHERE head_id = ?1",
            [head_id.to_hex()],
            |r| r.get(0),
        )?;
        Ok(at.map(Timestamp::from_unix))
    }

    /// A value from the `meta` table.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }
}

/// Sets a `meta` value inside a transaction.
pub fn set_meta(tx: &Transaction<'_>, key: &str, value: &str) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// Takes the next local ingest sequence number inside a transaction.
pub fn next_ingest_seq(tx: &Transaction<'_>) -> Result<i64, StoreError> {
    Ok(tx.query_row(
        "UPDATE counters SET value = value + 1 WHERE name = 'ingest_seq' RETURNING value",
        [],
        |r| r.get(0),
    )?)
}

/// The `seq` a roster event envelope claims, read without trusting it (the fold verifies).
fn event_seq(env: &Envelope) -> Option<u64> {
    let value: serde_json::Value = serde_json::from_slice(env.payload()).ok()?;
    value.get("seq")?.as_u64()
}

/// The circle id a stored log belongs to, if it has a genesis.
pub fn circle_id_of(roster: &Roster) -> EnvelopeId {
    roster.circle_id()
}
