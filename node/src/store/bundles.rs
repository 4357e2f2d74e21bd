//! Bundle storage: the schema of migrations 2 and 3 of a circle store, and row-level helpers
//! used by [`crate::sharing`].
//!
//! What is kept (docs/operations.md, "Bundle storage"):
//! - `links`: every verified chain link, exactly as signed (also for RED bundles this member
//!   cannot read: protocol.md §3, non-recipients see only the link).
//! - `bundles`: the exact signed header and ciphertext of every verified bundle this member may
//!   hold, the header fields queries need, and whether we could open it.
//! - `plaintext`: the decrypted inner content of bundles we are a recipient of. It is a cache:
//!   `debrief reindex` rebuilds it from `bundles` and the keystore (never for retracted lineages).
//! - `reports`: one row per report lineage (bundle id) with what `list` shows; the title and the
//!   retraction notice stay after a retraction, marked.
//! - `report_factors`, `report_actions`, `search_index` (FTS5): derived from the latest readable
//!   version of each lineage; purged for real on retraction.
//! - `quarantine`: refused objects, keyed by SHA-256 of the bytes as received, bounded.
//!
//! Every stored link and bundle takes a fresh `ingest_seq` (strictly increasing, never reused:
//! the feed cursor of the HTTPS routes pages by it).

use std::ops::RangeInclusive;

use debrief_protocol::bundle::{BundleHeader, EquivocationProof};
use debrief_protocol::roster::TipStatement;
use debrief_protocol::{Envelope, EnvelopeId, MemberId, Sha256Digest};
use rusqlite::{Connection, OptionalExtension, params};

use super::circle::CircleStore;
use super::{Migration, StoreError};

/// Migration 2: bundles, links, quarantine and plaintext.
pub const MIGRATION_BUNDLES: Migration = Migration {
    version: 2,
    name: "bundles",
    sql: "
        -- Chain links, exactly as signed (protocol.md §3). One per (author, author seq).
        CREATE TABLE links (
            link_id TEXT PRIMARY KEY,
            author TEXT NOT NULL,
            author_seq INTEGER NOT NULL,
            prev_link TEXT,
            header_id TEXT NOT NULL UNIQUE,
            audience TEXT NOT NULL CHECK (audience IN ('circle', 'named')),
            envelope BLOB NOT NULL,
            received_at INTEGER NOT NULL,
            ingest_seq INTEGER NOT NULL UNIQUE,
            UNIQUE (author, author_seq)
        ) STRICT;
        -- Verified bundles: exact header and ciphertext plus the fields queries need.
        CREATE TABLE bundles (
            header_id TEXT PRIMARY KEY REFERENCES links (header_id),
            bundle_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            kind TEXT NOT NULL,
            author TEXT NOT NULL,
            author_seq INTEGER NOT NULL,
            roster_seq INTEGER NOT NULL,
            tlp TEXT NOT NULL,
            target_header TEXT,
            target_bundle TEXT,
            recipients TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            header BLOB NOT NULL,
            ciphertext BLOB NOT NULL,
            readable INTEGER NOT NULL CHECK (readable IN (0, 1)),
            received_at INTEGER NOT NULL,
            ingest_seq INTEGER NOT NULL UNIQUE
        ) STRICT;
        CREATE INDEX bundles_by_bundle ON bundles (bundle_id, version);
        CREATE INDEX bundles_by_target ON bundles (target_bundle);
        -- Decrypted inner content (a cache of what the keystore can decrypt again).
        CREATE TABLE plaintext (
            header_id TEXT PRIMARY KEY REFERENCES bundles (header_id),
            body_kind TEXT NOT NULL CHECK (body_kind IN ('report', 'text')),
            body TEXT NOT NULL
        ) STRICT;
        -- One row per report lineage: what `list` shows. Title and notice survive retraction.
        CREATE TABLE reports (
            bundle_id TEXT PRIMARY KEY,
            author TEXT NOT NULL,
            latest_header TEXT NOT NULL,
            latest_version INTEGER NOT NULL,
            title TEXT NOT NULL,
            tlp TEXT NOT NULL,
            severity TEXT NOT NULL,
            significance TEXT NOT NULL,
            industry TEXT NOT NULL,
            report_date INTEGER NOT NULL,
            first_shared_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            retracted_at INTEGER,
            retraction_header TEXT,
            retraction_reason TEXT
        ) STRICT;
        -- Refused objects, keyed by SHA-256 of the exact bytes received (bounded).
        CREATE TABLE quarantine (
            key TEXT PRIMARY KEY,
            bytes BLOB NOT NULL,
            reason TEXT NOT NULL,
            source TEXT NOT NULL,
            first_seen INTEGER NOT NULL,
            last_seen INTEGER NOT NULL,
            times INTEGER NOT NULL
        ) STRICT;
    ",
};

/// Migration 3: the search index and the derived factor and action tables.
pub const MIGRATION_SEARCH: Migration = Migration {
    version: 3,
    name: "search",
    sql: "
        -- Full-text index of the latest readable version of each report lineage (rowid is the
        -- `reports` rowid). secure-delete: deleted terms are removed from the index b-tree, not
        -- just marked, so a retraction leaves no trace of the body (docs/threat-model.md).
        CREATE VIRTUAL TABLE search_index USING fts5 (
            title, summary, body, factors, actions,
            tokenize = 'unicode61 remove_diacritics 2'
        );
        INSERT INTO search_index (search_index, rank) VALUES ('secure-delete', 1);
        CREATE TABLE report_factors (
            bundle_id TEXT NOT NULL REFERENCES reports (bundle_id),
            factor_id TEXT NOT NULL,
            category TEXT NOT NULL,
            role TEXT NOT NULL,
            PRIMARY KEY (bundle_id, factor_id)
        ) STRICT;
        CREATE TABLE report_actions (
            bundle_id TEXT NOT NULL REFERENCES reports (bundle_id),
            action_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            pattern TEXT NOT NULL,
            owner_role TEXT NOT NULL,
            status TEXT NOT NULL,
            description TEXT NOT NULL,
            PRIMARY KEY (bundle_id, action_id)
        ) STRICT;
        CREATE INDEX report_actions_by_status ON report_actions (status);
    ",
};

/// Migration 5: author-chain equivocation proofs (protocol.md §3.28). Migration 4 belongs to
/// another part of the store; the numbers stay in order when both are merged.
pub const MIGRATION_CHAIN_PROOFS: Migration = Migration {
    version: 5,
    name: "chain-proofs",
    sql: "
        -- Two links by one author that cannot both be honest (protocol.md §3.28), kept whole so
        -- anyone with the roster can check them. Never deleted.
        CREATE TABLE chain_equivocations (
            first_link TEXT NOT NULL,
            second_link TEXT NOT NULL,
            author TEXT NOT NULL,
            author_seq INTEGER NOT NULL,
            form TEXT NOT NULL CHECK (form IN ('same-seq', 'broken-prev', 'reordered')),
            proof BLOB NOT NULL,
            detected_at INTEGER NOT NULL,
            ingest_seq INTEGER NOT NULL UNIQUE,
            PRIMARY KEY (first_link, second_link)
        ) STRICT;
        CREATE INDEX chain_equivocations_by_author ON chain_equivocations (author);
    ",
};

/// An author's chain tip as this store holds it (protocol.md §2.9): the highest author seq up
/// to which every link is held, and that link's id. This is what `leave`, `rotate_signing_key`,
/// `remove` and `replace_keys` record: a link beyond a gap cannot be vouched for by this node,
/// so it is not covered, and nothing signed by the retired key past the tip is accepted.
pub fn author_tip(conn: &Connection, author: &MemberId) -> Result<TipStatement, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT author_seq, link_id FROM links WHERE author = ?1 ORDER BY author_seq",
    )?;
    let rows = stmt.query_map([author.as_str()], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut tip = TipStatement::EMPTY;
    for row in rows {
        let (seq, link) = row?;
        if u64::try_from(seq).ok() != tip.seq.checked_add(1) {
            break;
        }
        let link: EnvelopeId = link
            .parse()
            .map_err(|e| StoreError::Invalid(format!("stored link id {link:?}: {e}")))?;
        tip = TipStatement {
            seq: tip.seq + 1,
            link: Some(link),
        };
    }
    Ok(tip)
}

/// Every run of author seqs that is missing below an author's highest held link, per author
/// (protocol.md §3.28: withheld, or not fetched yet), in (author, seq) order. The same answer
/// as [`debrief_protocol::bundle::AuthorChain::gaps`] over the stored links, in one query.
pub fn chain_gaps(conn: &Connection) -> Result<Vec<(MemberId, RangeInclusive<u64>)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT author, below + 1, author_seq - 1 FROM (
             SELECT author, author_seq,
                 lag(author_seq, 1, 0) OVER (PARTITION BY author ORDER BY author_seq) AS below
             FROM links)
         WHERE author_seq > below + 1 ORDER BY author, author_seq",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (author, from, to) = row?;
        let author: MemberId = author
            .parse()
            .map_err(|e| StoreError::Invalid(format!("stored author {author:?}: {e}")))?;
        let (Ok(from), Ok(to)) = (u64::try_from(from), u64::try_from(to)) else {
            return Err(StoreError::Invalid(format!(
                "stored author seq of {author} is negative"
            )));
        };
        out.push((author, from..=to));
    }
    Ok(out)
}

/// One stored equivocation proof.
#[derive(Debug, Clone)]
pub struct StoredEquivocation {
    pub author: MemberId,
    pub author_seq: u64,
    pub form: &'static str,
    pub proof: EquivocationProof,
    pub detected_at: i64,
}

fn proof_parts(p: &EquivocationProof) -> (&'static str, &Envelope, &Envelope) {
    match p {
        EquivocationProof::SameSeq { first, second } => ("same-seq", first, second),
        EquivocationProof::BrokenPrev { earlier, later } => ("broken-prev", earlier, later),
        EquivocationProof::Reordered { pointed, later } => ("reordered", pointed, later),
    }
}

/// Stores a verified equivocation proof by `author` at `author_seq` (protocol.md §3.28).
/// Idempotent: the same pair of links is stored once. Returns whether it was new.
pub fn equivocation_insert(
    tx: &Connection,
    author: &MemberId,
    author_seq: u64,
    proof: &EquivocationProof,
    now: i64,
) -> Result<bool, StoreError> {
    let (form, a, b) = proof_parts(proof);
    let bytes = serde_json::to_vec(proof)
        .map_err(|e| StoreError::Invalid(format!("cannot encode the proof: {e}")))?;
    let held: Option<i64> = tx
        .query_row(
            "SELECT 1 FROM chain_equivocations WHERE first_link = ?1 AND second_link = ?2",
            [a.id().to_hex(), b.id().to_hex()],
            |r| r.get(0),
        )
        .optional()?;
    if held.is_some() {
        return Ok(false);
    }
    let ingest = super::circle::next_ingest_seq(tx)?;
    tx.execute(
        "INSERT INTO chain_equivocations (first_link, second_link, author, author_seq, form,
             proof, detected_at, ingest_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            a.id().to_hex(),
            b.id().to_hex(),
            author.as_str(),
            author_seq as i64,
            form,
            bytes,
            now,
            ingest
        ],
    )?;
    Ok(true)
}

/// Every stored equivocation proof, by author and seq.
pub fn equivocations(conn: &Connection) -> Result<Vec<StoredEquivocation>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT author, author_seq, proof, detected_at FROM chain_equivocations
         ORDER BY author, author_seq, ingest_seq",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, Vec<u8>>(2)?,
            r.get::<_, i64>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (author, seq, bytes, detected_at) = row?;
        let bad = |e: String| StoreError::Invalid(format!("stored equivocation proof: {e}"));
        let proof: EquivocationProof =
            serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
        out.push(StoredEquivocation {
            author: author.parse().map_err(|e| bad(format!("{e}")))?,
            author_seq: u64::try_from(seq).map_err(|e| bad(e.to_string()))?,
            form: proof_parts(&proof).0,
            proof,
            detected_at,
        });
    }
    Ok(out)
}

/// Checks the invariants a crash must never break (docs/operations.md, "Durability"), with a
/// separate read of the store: SQLite's own integrity and foreign keys; every bundle fully
/// present (its link, its exact header, and a ciphertext of the length and SHA-256 the header
/// names) or absent; plaintext only for stored bundles we could open; search rows only for
/// stored, unretracted plaintext; every counter and cursor at or beyond what is stored. Returns
/// every broken invariant, each in a sentence. For crash tests, `debrief` support and sync.
pub fn check_invariants(store: &CircleStore) -> Result<(), Vec<String>> {
    let mut broken = Vec::new();
    if let Err(e) = invariants(store.conn(), &mut broken) {
        broken.push(format!("the store could not be read: {e}"));
    }
    if broken.is_empty() {
        Ok(())
    } else {
        Err(broken)
    }
}

fn invariants(conn: &Connection, broken: &mut Vec<String>) -> Result<(), StoreError> {
    let strings = |sql: &str| -> Result<Vec<String>, StoreError> {
        let mut stmt = conn.prepare(sql)?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    };
    let integrity = strings("PRAGMA integrity_check")?;
    if integrity != ["ok"] {
        broken.push(format!("integrity_check: {}", integrity.join("; ")));
    }
    let fk: i64 = conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
        r.get(0)
    })?;
    if fk != 0 {
        broken.push(format!(
            "{fk} rows point at missing rows (foreign_key_check)"
        ));
    }
    let mut check = |sql: &str, what: &str| -> Result<(), StoreError> {
        for id in strings(sql)? {
            broken.push(format!("{what}: {id}"));
        }
        Ok(())
    };
    check(
        "SELECT b.header_id FROM bundles b LEFT JOIN links l ON l.header_id = b.header_id
         WHERE l.link_id IS NULL OR l.author != b.author OR l.author_seq != b.author_seq",
        "bundle without its chain link",
    )?;
    check(
        "SELECT header_id FROM bundles WHERE length(header) = 0",
        "bundle without its header",
    )?;
    check(
        "SELECT p.header_id FROM plaintext p LEFT JOIN bundles b ON b.header_id = p.header_id
         WHERE b.header_id IS NULL OR b.readable = 0",
        "plaintext without a stored, readable bundle",
    )?;
    check(
        "SELECT bundle_id FROM reports r WHERE NOT EXISTS
             (SELECT 1 FROM bundles b WHERE b.header_id = r.latest_header)",
        "report whose latest version is not stored",
    )?;
    check(
        "SELECT CAST(s.rowid AS TEXT) FROM search_index s LEFT JOIN reports r ON r.rowid = s.rowid
         WHERE r.rowid IS NULL OR r.retracted_at IS NOT NULL OR NOT EXISTS
             (SELECT 1 FROM plaintext p WHERE p.header_id = r.latest_header)",
        "search row without stored, unretracted plaintext",
    )?;
    check(
        "SELECT bundle_id FROM report_factors WHERE bundle_id NOT IN
             (SELECT bundle_id FROM reports WHERE retracted_at IS NULL)
         UNION SELECT bundle_id FROM report_actions WHERE bundle_id NOT IN
             (SELECT bundle_id FROM reports WHERE retracted_at IS NULL)",
        "factor or action rows of a missing or retracted report",
    )?;
    // Every bundle is whole: the ciphertext is the one its signed header names.
    let mut stmt = conn.prepare("SELECT header_id, header, ciphertext FROM bundles")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Vec<u8>>(1)?,
            r.get::<_, Vec<u8>>(2)?,
        ))
    })?;
    for row in rows {
        let (id, header, ct) = row?;
        let parsed = Envelope::from_json(&header)
            .map_err(|e| e.to_string())
            .and_then(|env| {
                let h: Result<BundleHeader, _> = env.unverified_payload();
                h.map(|h| (env.id(), h)).map_err(|e| e.to_string())
            });
        match parsed {
            Err(e) => broken.push(format!("bundle {id}: stored header unreadable: {e}")),
            Ok((env_id, h)) => {
                if env_id.to_hex() != id {
                    broken.push(format!("bundle {id}: stored header has id {env_id}"));
                }
                if ct.len() as u64 != h.ciphertext_len
                    || Sha256Digest::of(&ct) != h.ciphertext_sha256
                {
                    broken.push(format!("bundle {id}: ciphertext incomplete or altered"));
                }
            }
        }
    }
    // The ingest counter is never behind what it numbered (a reused cursor would skip data).
    let counter: i64 = conn.query_row(
        "SELECT value FROM counters WHERE name = 'ingest_seq'",
        [],
        |r| r.get(0),
    )?;
    let tables: Vec<String> = strings(
        "SELECT m.name FROM sqlite_master m WHERE m.type = 'table' AND EXISTS
             (SELECT 1 FROM pragma_table_info(m.name) c WHERE c.name = 'ingest_seq')",
    )?;
    for t in tables {
        let max: i64 = conn.query_row(
            &format!("SELECT coalesce(max(ingest_seq), 0) FROM \"{t}\""),
            [],
            |r| r.get(0),
        )?;
        if max > counter {
            broken.push(format!(
                "table {t} holds ingest seq {max}, beyond the counter {counter}"
            ));
        }
    }
    // Cursors kept in meta never point past what is stored.
    let head: i64 = conn.query_row(
        "SELECT coalesce(max(seq), -1) FROM roster_events",
        [],
        |r| r.get(0),
    )?;
    let last_share: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'last_share_roster_seq'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(v) = last_share
        && v.parse::<i64>().map_or(true, |s| s > head)
    {
        broken.push(format!(
            "last_share_roster_seq {v} is beyond the roster head {head}"
        ));
    }
    let mut stmt = conn.prepare("SELECT key, value FROM meta WHERE key LIKE 'cursor%'")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (k, v) = row?;
        if v.parse::<i64>().map_or(true, |c| c > counter) {
            broken.push(format!(
                "cursor {k} = {v} is beyond the ingest counter {counter}"
            ));
        }
    }
    Ok(())
}

/// Most quarantined objects kept; the oldest are dropped first.
pub const QUARANTINE_MAX_ENTRIES: i64 = 1000;
/// Most bytes of quarantined objects kept; the oldest are dropped first.
pub const QUARANTINE_MAX_BYTES: i64 = 64 * 1024 * 1024;

/// Records a refused object under `key` (SHA-256 of its bytes), then trims the quarantine to
/// its bounds. Repeated deliveries of the same bytes count up instead of adding rows.
pub fn quarantine_insert(
    tx: &Connection,
    key: &str,
    bytes: &[u8],
    reason: &str,
    source: &str,
    now: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO quarantine (key, bytes, reason, source, first_seen, last_seen, times)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, 1)
         ON CONFLICT (key) DO UPDATE SET last_seen = excluded.last_seen,
             reason = excluded.reason, times = quarantine.times + 1",
        params![key, bytes, reason, source, now],
    )?;
    trim_quarantine(tx, QUARANTINE_MAX_ENTRIES, QUARANTINE_MAX_BYTES)
}

/// Drops the least recently seen quarantined objects until at most `max_entries` objects and
/// `max_bytes` bytes remain (protocol.md §3.29: nobody can fill our disk with refused objects).
fn trim_quarantine(tx: &Connection, max_entries: i64, max_bytes: i64) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM quarantine WHERE key IN (
            SELECT key FROM quarantine ORDER BY last_seen DESC, key LIMIT -1 OFFSET ?1)",
        [max_entries],
    )?;
    loop {
        let total: i64 = tx.query_row(
            "SELECT coalesce(sum(length(bytes)), 0) FROM quarantine",
            [],
            |r| r.get(0),
        )?;
        if total <= max_bytes {
            break;
        }
        let oldest: Option<String> = tx
            .query_row(
                "SELECT key FROM quarantine ORDER BY last_seen, key LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        match oldest {
            Some(k) => {
                tx.execute("DELETE FROM quarantine WHERE key = ?1", [k])?;
            }
            None => break,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::circle::CircleStore;

    /// Stored links with only what gaps and tips read (author, seq, id) filled in.
    fn put_links(store: &mut CircleStore, author: &MemberId, seqs: &[u64]) {
        let tx = store.transaction().unwrap();
        for s in seqs {
            let id = Sha256Digest::of(format!("{author}{s}").as_bytes()).to_hex();
            let ingest = crate::store::circle::next_ingest_seq(&tx).unwrap();
            tx.execute(
                "INSERT INTO links (link_id, author, author_seq, prev_link, header_id, audience,
                     envelope, received_at, ingest_seq)
                 VALUES (?1, ?2, ?3, NULL, ?1, 'circle', x'00', 0, ?4)",
                params![id, author.as_str(), *s as i64, ingest],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }

    #[test]
    fn gaps_and_tips_follow_the_held_seqs_per_author() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = CircleStore::open(&dir.path().join("s.sqlite")).unwrap();
        let x = MemberId::from_first_key(&[1; 32]);
        let y = MemberId::from_first_key(&[2; 32]);
        let z = MemberId::from_first_key(&[3; 32]);
        put_links(&mut store, &x, &[1, 2, 5, 9, 10]);
        put_links(&mut store, &y, &[3]);
        put_links(&mut store, &z, &[1, 2, 3]);
        let mut want = vec![(x.clone(), 3..=4), (x.clone(), 6..=8), (y.clone(), 1..=2)];
        want.sort_by(|a, b| (a.0.as_str(), a.1.start()).cmp(&(b.0.as_str(), b.1.start())));
        assert_eq!(chain_gaps(store.conn()).unwrap(), want);
        let tip = author_tip(store.conn(), &x).unwrap();
        assert_eq!(tip.seq, 2);
        assert_eq!(
            tip.link.unwrap().to_hex(),
            Sha256Digest::of(format!("{x}2").as_bytes()).to_hex()
        );
        assert_eq!(author_tip(store.conn(), &y).unwrap(), TipStatement::EMPTY);
        assert_eq!(author_tip(store.conn(), &z).unwrap().seq, 3);
    }

    #[test]
    fn quarantine_counts_repeats_and_stays_within_its_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = CircleStore::open(&dir.path().join("s.sqlite")).unwrap();
        let tx = store.transaction().unwrap();
        for i in 0..5i64 {
            quarantine_insert(&tx, &format!("k{i}"), &[0u8; 100], "bad", "test", i).unwrap();
        }
        quarantine_insert(&tx, "k0", &[0u8; 100], "still bad", "test", 10).unwrap();
        let (n, times): (i64, i64) = tx
            .query_row(
                "SELECT count(*), (SELECT times FROM quarantine WHERE key = 'k0') FROM quarantine",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((n, times), (5, 2));
        // By count: the least recently seen go first (k1, k2), k0 was seen again.
        trim_quarantine(&tx, 3, i64::MAX).unwrap();
        let keys: Vec<String> = tx
            .prepare("SELECT key FROM quarantine ORDER BY key")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(keys, ["k0", "k3", "k4"]);
        // By bytes.
        trim_quarantine(&tx, 1000, 250).unwrap();
        let keys: Vec<String> = tx
            .prepare("SELECT key FROM quarantine ORDER BY key")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(keys, ["k0", "k4"]);
    }
}
