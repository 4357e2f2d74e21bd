//! Numbered schema migrations, tracked in SQLite's `user_version`.
//!
//! Migration N moves a database from version N-1 to N, in one transaction together with the
//! version bump, so a crash leaves either the old or the new schema. Migrations are append-only:
//! once released, a migration's SQL never changes (tests open databases built at every earlier
//! version).

use std::path::Path;

use rusqlite::Connection;

use super::StoreError;

/// One schema step.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The version this migration produces (1, 2, …, in order).
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// The schema version of an open database.
pub fn current_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
}

/// Applies every migration newer than the database, refusing a database newer than the code.
pub fn apply(
    conn: &mut Connection,
    path: &Path,
    migrations: &[Migration],
) -> Result<(), StoreError> {
    let latest = migrations.last().map_or(0, |m| m.version);
    let found = current_version(conn)?;
    if found > latest {
        return Err(StoreError::TooNew {
            path: path.to_owned(),
            found,
            supported: latest,
        });
    }
    for m in migrations.iter().filter(|m| m.version > found) {
        let err = |source| StoreError::Migration {
            path: path.to_owned(),
            version: m.version,
            name: m.name,
            source,
        };
        let tx = conn.transaction().map_err(err)?;
        tx.execute_batch(m.sql).map_err(err)?;
        tx.pragma_update(None, "user_version", m.version)
            .map_err(err)?;
        tx.commit().map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEPS: &[Migration] = &[
        Migration {
            version: 1,
            name: "notes",
            sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
        },
        Migration {
            version: 2,
            name: "note tags",
            sql: "ALTER TABLE notes ADD COLUMN tag TEXT NOT NULL DEFAULT '';",
        },
    ];

    #[test]
    fn applies_in_order_and_only_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        let mut conn = Connection::open(&path).unwrap();
        apply(&mut conn, &path, &STEPS[..1]).unwrap();
        conn.execute("INSERT INTO notes (body) VALUES ('kept')", [])
            .unwrap();
        apply(&mut conn, &path, STEPS).unwrap();
        apply(&mut conn, &path, STEPS).unwrap();
        assert_eq!(current_version(&conn).unwrap(), 2);
        let (body, tag): (String, String) = conn
            .query_row("SELECT body, tag FROM notes", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((body.as_str(), tag.as_str()), ("kept", ""));
    }

    #[test]
    fn refuses_a_newer_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        let mut conn = Connection::open(&path).unwrap();
        apply(&mut conn, &path, STEPS).unwrap();
        let err = apply(&mut conn, &path, &STEPS[..1]).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::TooNew {
                    found: 2,
                    supported: 1,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_failing_migration_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        let mut conn = Connection::open(&path).unwrap();
        apply(&mut conn, &path, &STEPS[..1]).unwrap();
        let broken = [
            STEPS[0],
            Migration {
                version: 2,
                name: "broken",
                sql: "CREATE TABLE half (x); THIS IS NOT SQL;",
            },
        ];
        let err = apply(&mut conn, &path, &broken).unwrap_err();
        assert!(
            matches!(err, StoreError::Migration { version: 2, .. }),
            "{err}"
        );
        assert_eq!(current_version(&conn).unwrap(), 1);
        let half: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'half'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(half, 0, "the half-applied table must be rolled back");
    }
}
