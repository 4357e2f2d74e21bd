//! One circle's store: `data/circles/<circle-id>/store.sqlite`.
//!
//! Signed objects are stored exactly as received (the envelope JSON bytes) with a local
//! `ingest_seq`, which orders everything this node learned and backs the feed cursors of the
//! HTTPS routes. The folded roster is not stored: it is recomputed from the signed events when
//! the store is opened (the fold is the only way to a `Roster`, protocol.md §2), and kept in
//! memory by the caller. `meta.roster_head` records the head the events fold to, so an
//! inconsistency between the log and what we last accepted is detected at open.

use std::path::{Path, PathBuf};

use debrief_protocol::roster::{ForkProof, Roster, RosterBuilder, RosterError, fold};
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
    super::bundles::MIGRATION_BUNDLES,
    super::bundles::MIGRATION_SEARCH,
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
    super::bundles::MIGRATION_CHAIN_PROOFS,
    Migration {
        version: 6,
        name: "sync cursors",
        sql: "
        -- Where sync stands with each peer (protocol.md §5): the opaque cursor the peer gave
        -- for its `links` and `feed`, and how far our own bundles were offered to it
        -- (`offer`, one of our ingest seqs). Written only after what they cover is stored.
        CREATE TABLE sync_cursors (
            peer TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('links', 'feed', 'offer')),
            cursor TEXT NOT NULL,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (peer, kind)
        ) STRICT;
        -- The last contact with each peer, for `debrief status` and the backoff.
        CREATE TABLE sync_peers (
            peer TEXT PRIMARY KEY,
            last_attempt INTEGER NOT NULL,
            last_success INTEGER,
            failures INTEGER NOT NULL,
            not_before INTEGER NOT NULL,
            last_error TEXT,
            head_seq INTEGER,
            head_id TEXT
        ) STRICT;
    ",
    },
    Migration {
        version: 7,
        name: "links by previous link",
        sql: "
        -- protocol.md §3.28: checking a new link looks up the held link that names it as
        -- previous; without this index that lookup read every link of the author, so accepting
        -- a bundle slowed down as the author's chain grew (docs/benchmarks.md, ingest).
        CREATE INDEX links_by_prev ON links (prev_link);
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
        let mut roster = fold(&envelopes, now).map_err(|e| {
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
        // protocol.md §2.15: a stored, unresolved fork proof freezes the circle. The proof
        // stands on the sequencer's signatures inside it, so it is re-checked on every load.
        for env in self.fork_proofs()? {
            let proof: ForkProof = env.unverified_payload().map_err(|e| {
                StoreError::Invalid(format!("stored fork proof {} is unreadable: {e}", env.id()))
            })?;
            roster.record_fork_proof(&proof).map_err(|e| {
                StoreError::Invalid(format!(
                    "stored fork proof {} no longer verifies: {e}",
                    env.id()
                ))
            })?;
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

    /// Stores a pending object (a join request, a vouch or a member request waiting for the
    /// sequencer) as its exact signed bytes, with `extra_meta` (e.g. the invite a join request
    /// answers) in the same transaction. Storing the same object again is a no-op.
    pub fn put_pending(
        &mut self,
        kind: PendingKind,
        env: &Envelope,
        subject: Option<&EnvelopeId>,
        extra_meta: &[(String, String)],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO pending (object_id, kind, subject, envelope, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (object_id) DO NOTHING",
            params![
                env.id().to_hex(),
                kind.as_str(),
                subject.map(EnvelopeId::to_hex),
                env.to_json(),
                now.unix()
            ],
        )?;
        for (key, value) in extra_meta {
            set_meta(&tx, key, value)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Pending objects of `kind` (all subjects when `subject` is `None`), oldest first.
    pub fn pending(
        &self,
        kind: PendingKind,
        subject: Option<&EnvelopeId>,
    ) -> Result<Vec<PendingObject>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT object_id, subject, envelope, received_at FROM pending
             WHERE kind = ?1 AND (?2 IS NULL OR subject = ?2) ORDER BY received_at, object_id",
        )?;
        let rows = stmt.query_map(
            params![kind.as_str(), subject.map(EnvelopeId::to_hex)],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            },
        )?;
        let mut out = Vec::new();
        for row in rows {
            let (id, subject, bytes, at) = row?;
            let envelope = Envelope::from_json(&bytes).map_err(|e| {
                StoreError::Invalid(format!("stored pending object {id} is corrupt: {e}"))
            })?;
            out.push(PendingObject {
                kind,
                subject,
                envelope,
                received_at: Timestamp::from_unix(at),
            });
        }
        Ok(out)
    }

    /// Forgets pending objects once the event that embeds them is stored.
    pub fn remove_pending(&mut self, ids: &[EnvelopeId]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        for id in ids {
            tx.execute("DELETE FROM pending WHERE object_id = ?1", [id.to_hex()])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Stores a quorum proposal envelope, keeping the copy with the most signatures
    /// (cosignatures only ever add).
    pub fn put_proposal(
        &self,
        env: &Envelope,
        expires: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let id = env.id().to_hex();
        let held: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT envelope FROM proposals WHERE proposal_id = ?1",
                [&id],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(bytes) = held
            && let Ok(old) = Envelope::from_json(&bytes)
            && old.signatures().len() >= env.signatures().len()
        {
            return Ok(());
        }
        self.conn.execute(
            "INSERT INTO proposals (proposal_id, envelope, expires, updated_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (proposal_id) DO UPDATE SET envelope = excluded.envelope,
                 updated_at = excluded.updated_at",
            params![id, env.to_json(), expires.unix(), now.unix()],
        )?;
        Ok(())
    }

    /// Stored quorum proposals, newest first.
    pub fn proposals(&self) -> Result<Vec<Envelope>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT proposal_id, envelope FROM proposals ORDER BY updated_at DESC")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, bytes) = row?;
            out.push(Envelope::from_json(&bytes).map_err(|e| {
                StoreError::Invalid(format!("stored proposal {id} is corrupt: {e}"))
            })?);
        }
        Ok(out)
    }

    /// Forgets a proposal once applied.
    pub fn remove_proposal(&self, id: &EnvelopeId) -> Result<(), StoreError> {
        self.conn.execute(
            "DELETE FROM proposals WHERE proposal_id = ?1",
            [id.to_hex()],
        )?;
        Ok(())
    }

    /// Stores a verified checkpoint envelope (exact bytes).
    pub fn put_checkpoint(
        &mut self,
        env: &Envelope,
        seq: u64,
        head: &EnvelopeId,
        at: Timestamp,
        expires: Timestamp,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let exists: Option<i64> = tx
            .query_row(
                "SELECT 1 FROM checkpoints WHERE checkpoint_id = ?1",
                [env.id().to_hex()],
                |r| r.get(0),
            )
            .optional()?;
        if exists.is_none() {
            let ingest = next_ingest_seq(&tx)?;
            tx.execute(
                "INSERT INTO checkpoints (checkpoint_id, seq, head, at, expires, envelope, ingest_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    env.id().to_hex(),
                    seq as i64,
                    head.to_hex(),
                    at.unix(),
                    expires.unix(),
                    env.to_json(),
                    ingest
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Every stored checkpoint, oldest first.
    pub fn checkpoints(&self) -> Result<Vec<Envelope>, StoreError> {
        self.envelopes("SELECT checkpoint_id, envelope FROM checkpoints ORDER BY at, checkpoint_id")
    }

    /// The newest checkpoint's (seq, at, expires), if any.
    pub fn latest_checkpoint(&self) -> Result<Option<(u64, Timestamp, Timestamp)>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT seq, at, expires FROM checkpoints ORDER BY at DESC, seq DESC LIMIT 1",
                [],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                },
            )
            .optional()?
            .map(|(seq, at, exp)| {
                (
                    u64::try_from(seq).unwrap_or(0),
                    Timestamp::from_unix(at),
                    Timestamp::from_unix(exp),
                )
            }))
    }

    /// Stores a fork proof envelope (signed by whoever reported it; never deleted). Returns
    /// whether it was new.
    pub fn put_fork_proof(
        &mut self,
        proof_id: &str,
        seq: u64,
        env: &Envelope,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let tx = self.conn.transaction()?;
        let exists: Option<i64> = tx
            .query_row(
                "SELECT 1 FROM fork_proofs WHERE proof_id = ?1",
                [proof_id],
                |r| r.get(0),
            )
            .optional()?;
        if exists.is_some() {
            return Ok(false);
        }
        let ingest = next_ingest_seq(&tx)?;
        tx.execute(
            "INSERT INTO fork_proofs (proof_id, seq, envelope, received_at, ingest_seq)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![proof_id, seq as i64, env.to_json(), now.unix(), ingest],
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Every stored fork proof envelope, oldest first.
    pub fn fork_proofs(&self) -> Result<Vec<Envelope>, StoreError> {
        self.envelopes("SELECT proof_id, envelope FROM fork_proofs ORDER BY ingest_seq")
    }

    fn envelopes(&self, sql: &str) -> Result<Vec<Envelope>, StoreError> {
        let mut stmt = self.conn.prepare(sql)?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, bytes) = row?;
            out.push(
                Envelope::from_json(&bytes).map_err(|e| {
                    StoreError::Invalid(format!("stored object {id} is corrupt: {e}"))
                })?,
            );
        }
        Ok(out)
    }

    /// Sets one `meta` value in its own transaction.
    pub fn put_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        set_meta(&tx, key, value)?;
        tx.commit()?;
        Ok(())
    }

    /// A value from the `meta` table.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }
}

/// The kinds of pending objects (the `pending.kind` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingKind {
    JoinRequest,
    Vouch,
    MemberRequest,
}

impl PendingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PendingKind::JoinRequest => "join-request",
            PendingKind::Vouch => "vouch",
            PendingKind::MemberRequest => "member-request",
        }
    }
}

/// One pending object, as stored.
#[derive(Debug, Clone)]
pub struct PendingObject {
    pub kind: PendingKind,
    pub subject: Option<String>,
    pub envelope: Envelope,
    pub received_at: Timestamp,
}

/// Sets a `meta` value inside a transaction.
pub fn set_meta(tx: &Connection, key: &str, value: &str) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// Takes the next local ingest sequence number inside a transaction.
pub fn next_ingest_seq(tx: &Connection) -> Result<i64, StoreError> {
    // Two cached statements rather than one `UPDATE … RETURNING`, which SQLite prepared again
    // on every call (docs/benchmarks.md, ingest).
    tx.prepare_cached("UPDATE counters SET value = value + 1 WHERE name = 'ingest_seq'")?
        .execute([])?;
    Ok(tx
        .prepare_cached("SELECT value FROM counters WHERE name = 'ingest_seq'")?
        .query_row([], |r| r.get(0))?)
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
