//! Search, list, actions and stats over a circle's readable reports (docs/search.md).
//!
//! Full text goes through SQLite FTS5 (title, summary, body, factor and action text), ranked by
//! bm25 with the title weighted highest; filters are plain SQL over the derived tables that
//! [`crate::sharing`] keeps for the latest version of each lineage.

use rusqlite::params_from_iter;
use rusqlite::types::Value;
use serde::Serialize;

use crate::node::Circle;
use crate::sharing::SharingError;
use debrief_protocol::Timestamp;

/// Filters shared by `search` and `list`. Every set filter must hold.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// Factor category, exact (`change.config`) or a prefix ending in `.` (`change.`).
    pub category: Option<String>,
    /// Factor role (`trigger`, `amplifier`, …).
    pub role: Option<String>,
    /// Remediation pattern of an action.
    pub pattern: Option<String>,
    pub severity: Option<String>,
    pub significance: Option<String>,
    pub industry: Option<String>,
    pub tlp: Option<String>,
    /// Author: an org name (case-insensitive) or a member id prefix.
    pub author: Option<String>,
    /// Incident date on or after (unix seconds).
    pub since: Option<i64>,
    /// Incident date before (unix seconds).
    pub until: Option<i64>,
    /// Only reports with at least one action neither `done` nor `wont-do`.
    pub open_actions: bool,
    /// Show retracted reports too (marked; they have no body to match).
    pub include_retracted: bool,
}

/// One report in a result list.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub bundle: String,
    pub title: String,
    pub author: String,
    pub author_org: String,
    pub tlp: String,
    pub severity: String,
    pub significance: String,
    pub industry: String,
    pub date: String,
    pub version: i64,
    pub retracted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rank: Option<f64>,
}

/// Turns what a user typed into an FTS5 query: words are quoted (so `-`, `.` and `:` are not
/// operators), `OR` is kept, a trailing `*` is a prefix search, and `"…"` is a phrase.
pub fn fts_query(text: &str) -> String {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('"') {
            let end = after.find('"').unwrap_or(after.len());
            let phrase = &after[..end];
            if !phrase.trim().is_empty() {
                out.push(format!("\"{}\"", phrase.replace('"', "")));
            }
            rest = after.get(end + 1..).unwrap_or("").trim_start();
            continue;
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..end];
        rest = rest[end..].trim_start();
        if word == "OR" || word == "AND" || word == "NOT" {
            out.push(word.to_owned());
        } else if let Some(stem) = word.strip_suffix('*') {
            if !stem.is_empty() {
                out.push(format!("\"{}\"*", stem.replace('"', "")));
            }
        } else {
            out.push(format!("\"{}\"", word.replace('"', "")));
        }
    }
    out.join(" ")
}

/// Searches (with `query`) or lists (without) the circle's reports. With a query, results are
/// ranked by bm25 (title 10×, summary 4×, factors and actions 2×, body 1×); without, newest
/// first by incident date.
pub fn search(
    circle: &Circle,
    query: Option<&str>,
    filters: &Filters,
    limit: usize,
) -> Result<Vec<Hit>, SharingError> {
    let mut sql = String::from(
        "SELECT r.bundle_id, r.title, r.author, r.tlp, r.severity, r.significance, r.industry,
                r.report_date, r.latest_version, r.retracted_at IS NOT NULL",
    );
    let mut args: Vec<Value> = Vec::new();
    let q = query.map(fts_query).filter(|q| !q.is_empty());
    if q.is_some() {
        sql.push_str(
            ", snippet(search_index, -1, '[', ']', '…', 12),
               bm25(search_index, 10.0, 4.0, 1.0, 2.0, 2.0)
             FROM reports r JOIN search_index s ON s.rowid = r.rowid
             WHERE search_index MATCH ?",
        );
        args.push(Value::Text(q.clone().unwrap_or_default()));
    } else {
        sql.push_str(", NULL, NULL FROM reports r WHERE 1 = 1");
    }
    let mut eq = |col: &str, v: &Option<String>| {
        if let Some(v) = v {
            sql.push_str(&format!(" AND {col} = ?"));
            args.push(Value::Text(v.clone()));
        }
    };
    eq("r.severity", &filters.severity);
    eq("r.significance", &filters.significance);
    eq("r.industry", &filters.industry);
    eq("r.tlp", &filters.tlp);
    if let Some(c) = &filters.category {
        if c.ends_with('.') {
            sql.push_str(
                " AND EXISTS (SELECT 1 FROM report_factors f WHERE f.bundle_id = r.bundle_id
                   AND substr(f.category, 1, length(?)) = ?)",
            );
            args.push(Value::Text(c.clone()));
            args.push(Value::Text(c.clone()));
        } else {
            sql.push_str(
                " AND EXISTS (SELECT 1 FROM report_factors f WHERE f.bundle_id = r.bundle_id
                   AND f.category = ?)",
            );
            args.push(Value::Text(c.clone()));
        }
    }
    if let Some(role) = &filters.role {
        sql.push_str(
            " AND EXISTS (SELECT 1 FROM report_factors f WHERE f.bundle_id = r.bundle_id
               AND f.role = ?)",
        );
        args.push(Value::Text(role.clone()));
    }
    if let Some(p) = &filters.pattern {
        sql.push_str(
            " AND EXISTS (SELECT 1 FROM report_actions a WHERE a.bundle_id = r.bundle_id
               AND a.pattern = ?)",
        );
        args.push(Value::Text(p.clone()));
    }
    if filters.open_actions {
        sql.push_str(
            " AND EXISTS (SELECT 1 FROM report_actions a WHERE a.bundle_id = r.bundle_id
               AND a.status NOT IN ('done', 'wont-do'))",
        );
    }
    if let Some(s) = filters.since {
        sql.push_str(" AND r.report_date >= ?");
        args.push(Value::Integer(s));
    }
    if let Some(u) = filters.until {
        sql.push_str(" AND r.report_date < ?");
        args.push(Value::Integer(u));
    }
    if !filters.include_retracted {
        sql.push_str(" AND r.retracted_at IS NULL");
    }
    if q.is_some() {
        sql.push_str(" ORDER BY 12, r.report_date DESC");
    } else {
        sql.push_str(" ORDER BY r.report_date DESC, r.first_shared_at DESC, r.bundle_id");
    }
    let conn = circle.store.conn();
    let mut stmt = conn.prepare(&sql).map_err(|e| match &q {
        Some(_) => SharingError::Refused(format!("search query refused: {e}")),
        None => SharingError::from(e),
    })?;
    let rows = stmt
        .query_map(params_from_iter(args.iter()), |r| {
            Ok(Hit {
                bundle: r.get(0)?,
                title: r.get(1)?,
                author: r.get(2)?,
                author_org: String::new(),
                tlp: r.get(3)?,
                severity: r.get(4)?,
                significance: r.get(5)?,
                industry: r.get(6)?,
                date: date_of(r.get(7)?),
                version: r.get(8)?,
                retracted: r.get(9)?,
                snippet: r.get(10)?,
                rank: r.get(11)?,
            })
        })
        .map_err(|e| SharingError::Refused(format!("search query refused: {e}")))?;
    let mut out = Vec::new();
    for row in rows {
        let mut hit = row.map_err(|e| SharingError::Refused(format!("search refused: {e}")))?;
        hit.author_org = org_of(circle, &hit.author);
        if let Some(a) = &filters.author {
            let a_low = a.to_lowercase();
            if hit.author_org.to_lowercase() != a_low && !hit.author.starts_with(a.as_str()) {
                continue;
            }
        }
        out.push(hit);
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

/// The org name of a member (or a marker for a member no longer in the roster).
pub fn org_of(circle: &Circle, member: &str) -> String {
    member
        .parse::<debrief_protocol::MemberId>()
        .ok()
        .and_then(|m| circle.roster.member(&m).map(|x| x.org.clone()))
        .unwrap_or_else(|| format!("(former member {member})"))
}

/// A unix time as a date (YYYY-MM-DD).
pub fn date_of(unix: i64) -> String {
    Timestamp::from_unix(unix)
        .to_string()
        .get(..10)
        .unwrap_or_default()
        .to_owned()
}

/// One action of a report in the circle.
#[derive(Debug, Clone, Serialize)]
pub struct ActionRow {
    pub bundle: String,
    pub title: String,
    pub author_org: String,
    pub action: String,
    pub kind: String,
    pub pattern: String,
    pub owner_role: String,
    pub status: String,
    pub description: String,
}

/// Every action of every current (not retracted) report, optionally by status and pattern.
pub fn actions(
    circle: &Circle,
    status: Option<&str>,
    pattern: Option<&str>,
) -> Result<Vec<ActionRow>, SharingError> {
    let mut stmt = circle.store.conn().prepare(
        "SELECT a.bundle_id, r.title, r.author, a.action_id, a.kind, a.pattern, a.owner_role,
                a.status, a.description
         FROM report_actions a JOIN reports r ON r.bundle_id = a.bundle_id
         WHERE r.retracted_at IS NULL
           AND (?1 IS NULL OR a.status = ?1 OR (?1 = 'open' AND a.status NOT IN ('done', 'wont-do')))
           AND (?2 IS NULL OR a.pattern = ?2)
         ORDER BY r.report_date DESC, a.bundle_id, a.action_id",
    )?;
    let rows = stmt.query_map(rusqlite::params![status, pattern], |r| {
        Ok(ActionRow {
            bundle: r.get(0)?,
            title: r.get(1)?,
            author_org: r.get(2)?,
            action: r.get(3)?,
            kind: r.get(4)?,
            pattern: r.get(5)?,
            owner_role: r.get(6)?,
            status: r.get(7)?,
            description: r.get(8)?,
        })
    })?;
    let mut out = Vec::new();
    for row in rows {
        let mut a = row?;
        a.author_org = org_of(circle, &a.author_org);
        out.push(a);
    }
    Ok(out)
}

/// Counts across the circle's current reports.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub reports: i64,
    pub retracted: i64,
    pub by_category: Vec<(String, i64)>,
    pub by_role: Vec<(String, i64)>,
    pub by_pattern: Vec<(String, i64)>,
    pub by_severity: Vec<(String, i64)>,
}

/// Counts by factor category, role and remediation pattern (each counted once per report).
pub fn stats(circle: &Circle) -> Result<Stats, SharingError> {
    let conn = circle.store.conn();
    let count = |sql: &str| -> Result<Vec<(String, i64)>, SharingError> {
        let mut stmt = conn.prepare(sql)?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    };
    let live = "JOIN reports r ON r.bundle_id = x.bundle_id AND r.retracted_at IS NULL";
    Ok(Stats {
        reports: conn.query_row(
            "SELECT count(*) FROM reports WHERE retracted_at IS NULL",
            [],
            |r| r.get(0),
        )?,
        retracted: conn.query_row(
            "SELECT count(*) FROM reports WHERE retracted_at IS NOT NULL",
            [],
            |r| r.get(0),
        )?,
        by_category: count(&format!(
            "SELECT x.category, count(DISTINCT x.bundle_id) FROM report_factors x {live}
             GROUP BY 1 ORDER BY 2 DESC, 1"
        ))?,
        by_role: count(&format!(
            "SELECT x.role, count(DISTINCT x.bundle_id) FROM report_factors x {live}
             GROUP BY 1 ORDER BY 2 DESC, 1"
        ))?,
        by_pattern: count(&format!(
            "SELECT x.pattern, count(DISTINCT x.bundle_id) FROM report_actions x {live}
             GROUP BY 1 ORDER BY 2 DESC, 1"
        ))?,
        by_severity: count(
            "SELECT severity, count(*) FROM reports WHERE retracted_at IS NULL
             GROUP BY 1 ORDER BY 2 DESC, 1",
        )?,
    })
}

#[cfg(test)]
mod tests {
    use super::fts_query;

    #[test]
    fn user_text_becomes_a_safe_fts_query() {
        assert_eq!(fts_query("replica lag"), "\"replica\" \"lag\"");
        assert_eq!(
            fts_query("change.config OR dns*"),
            "\"change.config\" OR \"dns\"*"
        );
        assert_eq!(fts_query("\"leap second\" x"), "\"leap second\" \"x\"");
        assert_eq!(fts_query("   "), "");
    }
}
