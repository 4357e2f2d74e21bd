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

use rusqlite::{OptionalExtension, Transaction, params};

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

/// Most quarantined objects kept; the oldest are dropped first.
pub const QUARANTINE_MAX_ENTRIES: i64 = 1000;
/// Most bytes of quarantined objects kept; the oldest are dropped first.
pub const QUARANTINE_MAX_BYTES: i64 = 64 * 1024 * 1024;

/// Records a refused object under `key` (SHA-256 of its bytes), then trims the quarantine to
/// its bounds. Repeated deliveries of the same bytes count up instead of adding rows.
pub fn quarantine_insert(
    tx: &Transaction<'_>,
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
fn trim_quarantine(
    tx: &Transaction<'_>,
    max_entries: i64,
    max_bytes: i64,
) -> Result<(), StoreError> {
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
