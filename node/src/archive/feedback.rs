//! Reader feedback on the public archive (docs/archive.md "Reader feedback"): what a reader
//! sends, checked before anything is stored; a SQLite store the maintainers read with
//! `debrief feedback list | export`; and the per-address rate limiter of `archive serve`.
//!
//! Privacy by construction: a stored row holds the reader's text, the report it is about and
//! the time it arrived, nothing else. The limiter keeps client addresses in memory only, for at
//! most one window, and never writes them anywhere.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use debrief_protocol::Timestamp;
use rusqlite::{Connection, OptionalExtension as _, params};
use serde::{Deserialize, Serialize};

/// Most bytes of text one submission may hold, all fields together.
pub const MAX_TEXT_BYTES: usize = 4096;
/// Most bytes of a request body the server reads (a form encodes text up to three times larger).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Longest report slug accepted.
const MAX_SLUG_BYTES: usize = 200;

/// What a reader sends: the answers to the three questions, and the report it is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    #[serde(default)]
    pub report: Option<String>,
    /// What was useful.
    #[serde(default)]
    pub useful: String,
    /// What was missing.
    #[serde(default)]
    pub missing: String,
    /// What the reader would like to learn about.
    #[serde(default)]
    pub learn: String,
}

/// One stored piece of feedback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Feedback {
    pub id: i64,
    /// When it arrived (UTC, seconds).
    pub received_at: String,
    /// The report's slug, or none for the general form.
    pub report: Option<String>,
    pub useful: String,
    pub missing: String,
    pub learn: String,
    /// `form` or `json`.
    pub via: String,
}

/// Why a submission was refused; each maps to one 4xx status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// More text than [`MAX_TEXT_BYTES`] (413).
    #[error("the feedback holds {0} bytes of text; at most {MAX_TEXT_BYTES} are accepted")]
    TooLarge(usize),
    /// Every field empty (400).
    #[error("the feedback is empty: answer at least one of useful, missing, learn")]
    Empty,
    /// A field holds control characters other than newlines and tabs (400).
    #[error("the field {0} holds control characters")]
    ControlCharacters(&'static str),
    /// The report named is not in the archive (400).
    #[error("no report {0:?} in this archive")]
    UnknownReport(String),
    /// The body could not be read as the expected format (400).
    #[error("the body is not valid {format}: {message}")]
    Malformed {
        format: &'static str,
        message: String,
    },
}

impl Submission {
    /// Parses an `application/x-www-form-urlencoded` body. Unknown field names are refused so a
    /// typo does not silently lose text.
    pub fn from_form(body: &[u8]) -> Result<Submission, Refusal> {
        let mut s = Submission::default();
        let mut seen = std::collections::BTreeSet::new();
        for (k, v) in form_urlencoded::parse(body) {
            if !seen.insert(k.to_string()) {
                return Err(Refusal::Malformed {
                    format: "form data",
                    message: format!("the field {k:?} is given twice"),
                });
            }
            match k.as_ref() {
                "report" => s.report = Some(v.into_owned()),
                "useful" => s.useful = v.into_owned(),
                "missing" => s.missing = v.into_owned(),
                "learn" => s.learn = v.into_owned(),
                other => {
                    return Err(Refusal::Malformed {
                        format: "form data",
                        message: format!(
                            "unknown field {other:?} (expected report, useful, missing, learn)"
                        ),
                    });
                }
            }
        }
        Ok(s)
    }

    /// Parses a JSON body (`{"report": ..., "useful": ..., "missing": ..., "learn": ...}`).
    pub fn from_json(body: &[u8]) -> Result<Submission, Refusal> {
        serde_json::from_slice(body).map_err(|e| Refusal::Malformed {
            format: "JSON",
            message: e.to_string(),
        })
    }

    /// The checks every submission passes before it is stored: size, not empty, no control
    /// characters, and a report slug that names a report of this archive (`known`).
    pub fn check(
        mut self,
        known: &std::collections::BTreeSet<String>,
    ) -> Result<Submission, Refusal> {
        let total = self.useful.len() + self.missing.len() + self.learn.len();
        if total > MAX_TEXT_BYTES {
            return Err(Refusal::TooLarge(total));
        }
        for (name, text) in [
            ("useful", &self.useful),
            ("missing", &self.missing),
            ("learn", &self.learn),
        ] {
            if text
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
            {
                return Err(Refusal::ControlCharacters(name));
            }
        }
        // Browsers send newlines as CRLF; store one form.
        for text in [&mut self.useful, &mut self.missing, &mut self.learn] {
            *text = text.replace("\r\n", "\n").trim().to_owned();
        }
        if self.useful.is_empty() && self.missing.is_empty() && self.learn.is_empty() {
            return Err(Refusal::Empty);
        }
        self.report = match self.report.take() {
            None => None,
            Some(r) if r.trim().is_empty() => None,
            Some(r) => {
                if r.len() > MAX_SLUG_BYTES || !known.contains(&r) {
                    let shown: String = r.chars().take(60).collect();
                    return Err(Refusal::UnknownReport(shown));
                }
                Some(r)
            }
        };
        Ok(self)
    }
}

/// A feedback store failed.
#[derive(Debug, thiserror::Error)]
#[error("feedback store {}: {message}", path.display())]
pub struct StoreError {
    pub path: PathBuf,
    pub message: String,
}

/// The SQLite file the feedback is kept in.
#[derive(Debug)]
pub struct FeedbackStore {
    path: PathBuf,
    conn: Connection,
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    received_at TEXT NOT NULL,
    report TEXT,
    useful TEXT NOT NULL,
    missing TEXT NOT NULL,
    learn TEXT NOT NULL,
    via TEXT NOT NULL CHECK (via IN ('form', 'json'))
);
CREATE INDEX IF NOT EXISTS feedback_report ON feedback (report);";

impl FeedbackStore {
    fn err(&self, e: rusqlite::Error) -> StoreError {
        StoreError {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// Opens (creating if missing) the store the server writes to.
    pub fn open(path: &Path) -> Result<FeedbackStore, StoreError> {
        let mk = |e: rusqlite::Error| StoreError {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let conn = Connection::open(path).map_err(mk)?;
        conn.execute_batch("PRAGMA journal_mode = WAL;")
            .map_err(mk)?;
        conn.execute_batch(SCHEMA).map_err(mk)?;
        Ok(FeedbackStore {
            path: path.to_path_buf(),
            conn,
        })
    }

    /// Opens an existing store for reading; refuses a path that holds no store.
    pub fn open_existing(path: &Path) -> Result<FeedbackStore, StoreError> {
        if !path.is_file() {
            return Err(StoreError {
                path: path.to_path_buf(),
                message: "no such file (the server creates it on start; see --feedback-db)".into(),
            });
        }
        let mk = |e: rusqlite::Error| StoreError {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(mk)?;
        let has_table: Option<String> = conn
            .query_row(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'feedback'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(mk)?;
        if has_table.is_none() {
            return Err(StoreError {
                path: path.to_path_buf(),
                message: "not a feedback store (no feedback table)".into(),
            });
        }
        Ok(FeedbackStore {
            path: path.to_path_buf(),
            conn,
        })
    }

    /// Stores one checked submission in its own transaction; returns its id.
    pub fn insert(&mut self, s: &Submission, via: &str, at: Timestamp) -> Result<i64, StoreError> {
        let path = self.path.clone();
        let mk = move |e: rusqlite::Error| StoreError {
            path: path.clone(),
            message: e.to_string(),
        };
        let tx = self.conn.transaction().map_err(&mk)?;
        tx.execute(
            "INSERT INTO feedback (received_at, report, useful, missing, learn, via)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![at.to_string(), s.report, s.useful, s.missing, s.learn, via],
        )
        .map_err(&mk)?;
        let id = tx.last_insert_rowid();
        tx.commit().map_err(&mk)?;
        Ok(id)
    }

    /// Every stored piece of feedback, oldest first; only those on `report` when given.
    pub fn list(&self, report: Option<&str>) -> Result<Vec<Feedback>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, received_at, report, useful, missing, learn, via FROM feedback
                 WHERE ?1 IS NULL OR report = ?1 ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![report], |r| {
                Ok(Feedback {
                    id: r.get(0)?,
                    received_at: r.get(1)?,
                    report: r.get(2)?,
                    useful: r.get(3)?,
                    missing: r.get(4)?,
                    learn: r.get(5)?,
                    via: r.get(6)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// How many pieces of feedback each report has (`None`: the general form).
    pub fn counts(&self) -> Result<BTreeMap<Option<String>, u64>, StoreError> {
        let mut out = BTreeMap::new();
        for f in self.list(None)? {
            *out.entry(f.report).or_insert(0) += 1;
        }
        Ok(out)
    }
}

/// A sliding-window limit of submissions per client address, kept in memory only.
#[derive(Debug)]
pub struct RateLimiter {
    per_window: usize,
    window: Duration,
    seen: HashMap<IpAddr, VecDeque<Instant>>,
}

/// Most addresses remembered at once; past it, addresses whose window has passed are dropped
/// and, if still full, new addresses are refused until some expire (a flood of addresses must
/// not grow memory without bound).
const MAX_ADDRESSES: usize = 100_000;

impl RateLimiter {
    /// At most `per_window` submissions per address in any `window`.
    pub fn new(per_window: usize, window: Duration) -> RateLimiter {
        RateLimiter {
            per_window,
            window,
            seen: HashMap::new(),
        }
    }

    /// Counts one attempt by `addr` at `now`: `Ok` if allowed, or `Err(seconds)` to wait.
    pub fn check(&mut self, addr: IpAddr, now: Instant) -> Result<(), u64> {
        let window = self.window;
        let expired = |t: &Instant| now.saturating_duration_since(*t) >= window;
        if self.seen.len() >= MAX_ADDRESSES && !self.seen.contains_key(&addr) {
            self.seen.retain(|_, q| !q.back().is_none_or(&expired));
            if self.seen.len() >= MAX_ADDRESSES {
                return Err(window.as_secs().max(1));
            }
        }
        let q = self.seen.entry(addr).or_default();
        while q.front().is_some_and(&expired) {
            q.pop_front();
        }
        if q.len() >= self.per_window {
            let wait = q.front().map_or(window, |t| {
                window.saturating_sub(now.saturating_duration_since(*t))
            });
            // Round up, so a client that waits exactly this long is let in.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Err(secs.max(1));
        }
        q.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn known() -> BTreeSet<String> {
        ["a-report".to_owned()].into_iter().collect()
    }

    #[test]
    fn forms_parse_and_check() {
        let s = Submission::from_form(
            b"report=a-report&useful=the+timeline&missing=&learn=caf%C3%A9%0D%0Ax",
        )
        .unwrap()
        .check(&known())
        .unwrap();
        assert_eq!(s.report.as_deref(), Some("a-report"));
        assert_eq!(s.useful, "the timeline");
        assert_eq!(s.learn, "café\nx");
        assert_eq!(
            Submission::from_form(b"useful=a&useful=b"),
            Err(Refusal::Malformed {
                format: "form data",
                message: "the field \"useful\" is given twice".into()
            })
        );
        assert!(matches!(
            Submission::from_form(b"email=x"),
            Err(Refusal::Malformed { .. })
        ));
    }

    #[test]
    fn checks_refuse_bad_input() {
        let k = known();
        let big = Submission {
            useful: "x".repeat(MAX_TEXT_BYTES),
            learn: "y".into(),
            ..Submission::default()
        };
        assert_eq!(big.check(&k), Err(Refusal::TooLarge(MAX_TEXT_BYTES + 1)));
        assert_eq!(
            Submission {
                useful: "  \r\n ".into(),
                ..Submission::default()
            }
            .check(&k),
            Err(Refusal::Empty)
        );
        assert_eq!(
            Submission {
                missing: "a\u{0}b".into(),
                ..Submission::default()
            }
            .check(&k),
            Err(Refusal::ControlCharacters("missing"))
        );
        assert_eq!(
            Submission {
                report: Some("nope".into()),
                useful: "x".into(),
                ..Submission::default()
            }
            .check(&k),
            Err(Refusal::UnknownReport("nope".into()))
        );
        assert!(Submission::from_json(br#"{"useful":"x","ip":"1.2.3.4"}"#).is_err());
    }

    #[test]
    fn limiter_allows_a_window_then_refuses_with_the_wait() {
        let mut l = RateLimiter::new(2, Duration::from_secs(60));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let t0 = Instant::now();
        assert_eq!(l.check(a, t0), Ok(()));
        assert_eq!(l.check(a, t0 + Duration::from_secs(10)), Ok(()));
        assert_eq!(l.check(a, t0 + Duration::from_secs(20)), Err(40));
        assert_eq!(l.check(b, t0 + Duration::from_secs(20)), Ok(()));
        assert_eq!(l.check(a, t0 + Duration::from_secs(60)), Ok(()));
    }

    #[test]
    fn store_round_trips_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feedback.sqlite");
        let mut st = FeedbackStore::open(&path).unwrap();
        let s = Submission {
            report: Some("a-report".into()),
            useful: "u".into(),
            ..Submission::default()
        };
        let at = Timestamp::from_unix(1_780_000_000);
        assert_eq!(st.insert(&s, "json", at).unwrap(), 1);
        let g = Submission {
            learn: "l".into(),
            ..Submission::default()
        };
        assert_eq!(st.insert(&g, "form", at).unwrap(), 2);
        drop(st);
        let st = FeedbackStore::open_existing(&path).unwrap();
        let all = st.list(None).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].report.as_deref(), Some("a-report"));
        assert_eq!(all[1].via, "form");
        assert_eq!(st.list(Some("a-report")).unwrap().len(), 1);
        assert!(FeedbackStore::open_existing(&dir.path().join("nope")).is_err());
    }
}
