//! Durable storage: one SQLite file per circle plus a small node-level index of circles.
//!
//! Every file is opened through [`open_database`], which sets the pragmas every store relies on
//! (WAL, foreign keys, `secure_delete`, `synchronous = FULL`) and applies the numbered migrations
//! in one transaction each. Signed objects are kept exactly as received; everything else in a
//! store can be rebuilt from them (docs/operations.md, "Storage").

pub mod bundles;
pub mod circle;
pub mod migrate;
pub mod node_index;

use std::path::{Path, PathBuf};

use rusqlite::Connection;

pub use migrate::Migration;

/// A storage failure. SQLite's own message is kept for operators; nothing here carries secrets.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "database {path} has schema version {found}, newer than this debrief understands \
         ({supported}); upgrade debrief or restore a backup"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("migration {version} ({name}) failed on {path}: {source}")]
    Migration {
        path: PathBuf,
        version: i64,
        name: &'static str,
        source: rusqlite::Error,
    },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot create directory {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

/// Opens (creating if needed) a SQLite database with the pragmas every store uses, then applies
/// `migrations` that are not yet applied.
pub fn open_database(path: &Path, migrations: &[Migration]) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.to_owned(),
            source,
        })?;
    }
    let open_err = |source| StoreError::Open {
        path: path.to_owned(),
        source,
    };
    let mut conn = Connection::open(path).map_err(open_err)?;
    configure(&conn).map_err(open_err)?;
    migrate::apply(&mut conn, path, migrations)?;
    Ok(conn)
}

/// Pragmas, and why:
/// - WAL: readers never block the writer, and a crash never leaves a torn page in the main file.
/// - `synchronous = FULL`: a transaction we acknowledged (to the user or a peer) survives power
///   loss; measured cost is ~0.3–0.5 ms per commit (docs/operations.md).
/// - `foreign_keys`: the schema's references are enforced, so nothing points at a missing row.
/// - `secure_delete`: deleted content (retracted reports) is overwritten, not left in free pages.
/// - `busy_timeout`: a second process (a CLI command while `serve` runs) waits instead of failing.
/// - A statement cache large enough for the acceptance path, and plans that do not depend on
///   bound values, so cached statements are not prepared again (docs/benchmarks.md, ingest).
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "journal_mode stayed {mode}"
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // The acceptance path alone runs about twenty distinct statements per bundle; rusqlite's
    // default cache of 16 would parse some of them again every time.
    conn.set_prepared_statement_cache_capacity(64);
    // Plans never depend on the values bound: otherwise SQLite (built with STAT4) prepares the
    // chain and lineage queries again on every new binding (docs/benchmarks.md, ingest).
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// Runs `f` all-or-nothing on `conn` under a SQLite savepoint: outside a transaction the
/// savepoint is the transaction (it commits when `f` succeeds); inside one (a batch of
/// acceptances, protocol.md §3.29) it undoes only `f`'s writes when `f` fails, and the outer
/// transaction decides what becomes durable.
pub fn atomically<T, E>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<rusqlite::Error>,
{
    /// Rolls the savepoint back unless released, so a panic in `f` leaves nothing open.
    struct Open<'c>(&'c Connection, bool);
    impl Drop for Open<'_> {
        fn drop(&mut self) {
            if !self.1 {
                // A failed rollback leaves the connection in error; `f`'s error says why.
                let _ = self
                    .0
                    .execute_batch("ROLLBACK TO debrief_atomically; RELEASE debrief_atomically");
            }
        }
    }
    conn.execute_batch("SAVEPOINT debrief_atomically")?;
    let mut open = Open(conn, false);
    let value = f(conn)?;
    conn.execute_batch("RELEASE debrief_atomically")?;
    open.1 = true;
    Ok(value)
}
