//! The node-level index of circles this node belongs to (`data/node.sqlite`).
//!
//! Each circle's data lives in its own file, `data/circles/<circle-id>/store.sqlite`; this index
//! only maps local names to circle ids, so `--circle NAME` works and two circles never share a
//! table.

use std::path::{Path, PathBuf};

use debrief_protocol::EnvelopeId;
use rusqlite::{Connection, OptionalExtension, params};

use super::{Migration, StoreError, open_database};

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "circle index",
    sql: "CREATE TABLE circles (
            circle_id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            added_at INTEGER NOT NULL
          ) STRICT;",
}];

/// A circle this node belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CircleEntry {
    pub circle_id: EnvelopeId,
    pub name: String,
    pub added_at: i64,
}

/// The node's circle index.
#[derive(Debug)]
pub struct NodeIndex {
    conn: Connection,
    data_dir: PathBuf,
}

impl NodeIndex {
    /// Opens `data_dir/node.sqlite`, creating it if needed.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let conn = open_database(&data_dir.join("node.sqlite"), MIGRATIONS)?;
        Ok(NodeIndex {
            conn,
            data_dir: data_dir.to_owned(),
        })
    }

    /// Where a circle's store file lives.
    pub fn circle_store_path(&self, circle: &EnvelopeId) -> PathBuf {
        self.data_dir
            .join("circles")
            .join(circle.to_hex())
            .join("store.sqlite")
    }

    /// Records a circle under a local name. Names are unique per node.
    pub fn add(&self, circle: &EnvelopeId, name: &str, now: i64) -> Result<(), StoreError> {
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !name_ok {
            return Err(StoreError::Invalid(format!(
                "circle name {name:?} must be 1-64 characters of letters, digits, '-', '_' or '.'"
            )));
        }
        if let Some(existing) = self.find_by_name(name)? {
            if existing.circle_id != *circle {
                return Err(StoreError::Invalid(format!(
                    "this node already has a circle named {name:?} ({}); choose another name",
                    existing.circle_id
                )));
            }
            return Ok(());
        }
        self.conn.execute(
            "INSERT INTO circles (circle_id, name, added_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (circle_id) DO NOTHING",
            params![circle.to_hex(), name, now],
        )?;
        Ok(())
    }

    /// Every circle, by name.
    pub fn list(&self) -> Result<Vec<CircleEntry>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT circle_id, name, added_at FROM circles ORDER BY name")?;
        let rows = stmt.query_map([], row_to_entry)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row??);
        }
        Ok(out)
    }

    fn find_by_name(&self, name: &str) -> Result<Option<CircleEntry>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT circle_id, name, added_at FROM circles WHERE name = ?1",
                [name],
                row_to_entry,
            )
            .optional()?;
        row.transpose()
    }

    /// Resolves `--circle`: a name, a circle id or a unique id prefix; with `None`, the only
    /// circle. Errors list the candidates so the user can pick.
    pub fn resolve(&self, selector: Option<&str>) -> Result<CircleEntry, StoreError> {
        let all = self.list()?;
        let names = || {
            all.iter()
                .map(|c| format!("{} ({})", c.name, &c.circle_id.to_hex()[..12]))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some(sel) = selector else {
            return match all.as_slice() {
                [only] => Ok(only.clone()),
                [] => Err(StoreError::Invalid(
                    "this node belongs to no circle yet: create one with `debrief circle create` \
                     or join one with `debrief circle join`"
                        .into(),
                )),
                _ => Err(StoreError::Invalid(format!(
                    "this node belongs to several circles; choose one with --circle: {}",
                    names()
                ))),
            };
        };
        if let Some(c) = all.iter().find(|c| c.name == sel) {
            return Ok(c.clone());
        }
        let matches: Vec<&CircleEntry> = all
            .iter()
            .filter(|c| !sel.is_empty() && c.circle_id.to_hex().starts_with(sel))
            .collect();
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(StoreError::Invalid(format!(
                "no circle named or with id {sel:?}; this node has: {}",
                if all.is_empty() {
                    "none".into()
                } else {
                    names()
                }
            ))),
            _ => Err(StoreError::Invalid(format!(
                "circle id prefix {sel:?} is ambiguous: {}",
                matches
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

fn row_to_entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<CircleEntry, StoreError>> {
    let id: String = row.get(0)?;
    Ok(match id.parse::<EnvelopeId>() {
        Ok(circle_id) => Ok(CircleEntry {
            circle_id,
            name: row.get(1)?,
            added_at: row.get(2)?,
        }),
        Err(e) => Err(StoreError::Invalid(format!(
            "corrupt circle index row: {e}"
        ))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use debrief_protocol::Sha256Digest;

    fn id(n: u8) -> EnvelopeId {
        EnvelopeId(Sha256Digest::of(&[n]))
    }

    #[test]
    fn resolves_by_name_prefix_or_the_only_one() {
        let dir = tempfile::tempdir().unwrap();
        let index = NodeIndex::open(dir.path()).unwrap();
        assert!(
            index
                .resolve(None)
                .unwrap_err()
                .to_string()
                .contains("no circle yet")
        );
        index.add(&id(1), "ops", 1).unwrap();
        assert_eq!(index.resolve(None).unwrap().name, "ops");
        index.add(&id(2), "fintech", 2).unwrap();
        assert!(
            index
                .resolve(None)
                .unwrap_err()
                .to_string()
                .contains("--circle")
        );
        assert_eq!(index.resolve(Some("fintech")).unwrap().circle_id, id(2));
        let prefix = &id(1).to_hex()[..8];
        assert_eq!(index.resolve(Some(prefix)).unwrap().name, "ops");
        assert!(index.resolve(Some("nope")).is_err());
        // The same name for another circle is refused; re-adding the same pair is a no-op.
        assert!(index.add(&id(3), "ops", 3).is_err());
        index.add(&id(1), "ops", 4).unwrap();
        assert_eq!(index.list().unwrap().len(), 2);
        assert!(index.add(&id(4), "bad name", 5).is_err());
    }
}
