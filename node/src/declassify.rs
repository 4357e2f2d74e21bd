//! Declassification on a node (docs/declassification.md §9): gathers what the pure preview
//! needs — the author's identity card, the circle roster (org names, members' published deny
//! terms, member profiles) and the node's private deny list — and keeps the author's justified
//! allowances in the circle store.
//!
//! Any way of obtaining a [`Report`] works: a file the author holds (`--file`), or a shared
//! report decrypted from the bundle store; [`preview_report`] only needs the parsed value and a
//! [`Subject`] naming it.

use debrief_config::NodeConfig;
use debrief_keys::Identity;
use debrief_protocol::Timestamp;
use debrief_protocol::declassify::{
    self, Allowance, AllowanceError, DEFAULT_K, Preview, PreviewContext, ScrubConfig,
    ScrubConfigError, Scrubber,
};
use debrief_protocol::profile::OrgProfile;
use debrief_protocol::report::Report;
use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::node::Circle;
use crate::store::StoreError;
use crate::store::circle::CircleStore;

/// What allowances are kept for: a report file the author holds, or a shared bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// The author's slug (`id` in the front matter).
    Report(String),
    /// A shared report's bundle id (hex), the name the network uses (DESIGN §3).
    Bundle(String),
}

impl Subject {
    /// The key in the `declassify_allowances` table.
    pub fn key(&self) -> String {
        match self {
            Subject::Report(id) => format!("report:{id}"),
            Subject::Bundle(id) => format!("bundle:{id}"),
        }
    }
}

/// One recorded allowance, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowanceRecord {
    pub text: String,
    pub because: String,
    /// Member id of who allowed it.
    pub allowed_by: String,
    pub allowed_at: Timestamp,
}

/// Why a preview could not be made or an allowance not kept.
#[derive(Debug, thiserror::Error)]
pub enum DeclassifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the deny lists cannot be used: {0}")]
    Terms(#[from] ScrubConfigError),
    #[error(transparent)]
    Allowance(#[from] AllowanceError),
    #[error(
        "--allow {text:?} matches no finding in this report, so nothing was recorded; \
         copy the flagged text exactly as the preview shows it"
    )]
    AllowsNothing { text: String },
}

/// The allowances recorded for `subject`, oldest first.
pub fn allowances(
    store: &CircleStore,
    subject: &Subject,
) -> Result<Vec<AllowanceRecord>, DeclassifyError> {
    let mut stmt = store
        .conn()
        .prepare(
            "SELECT text, because, allowed_by, allowed_at FROM declassify_allowances
             WHERE subject = ?1 ORDER BY allowed_at, text",
        )
        .map_err(StoreError::from)?;
    let rows = stmt
        .query_map(params![subject.key()], |row| {
            Ok(AllowanceRecord {
                text: row.get(0)?,
                because: row.get(1)?,
                allowed_by: row.get(2)?,
                allowed_at: Timestamp::from_unix(row.get(3)?),
            })
        })
        .map_err(StoreError::from)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row.map_err(StoreError::from)?);
    }
    Ok(out)
}

/// The scrubber's lists for this circle and node (declassification.md §4.4): every org name in
/// the roster, every member's published deny terms, and `[declassify] private_terms`.
pub fn scrub_config(circle: &Circle, config: &NodeConfig) -> ScrubConfig {
    let mut org_names = Vec::new();
    let mut deny_terms = Vec::new();
    for m in circle.roster.members() {
        org_names.push(m.org.clone());
        deny_terms.extend(m.deny_terms.iter().cloned());
    }
    ScrubConfig {
        org_names,
        deny_terms,
        private_terms: config.declassify.private_terms.clone(),
        people: Vec::new(),
    }
}

/// The profiles the quasi-identifier rule counts (§5): every current member, and the author if
/// the roster does not (yet) list this node.
pub fn member_profiles(circle: &Circle, identity: &Identity) -> Vec<OrgProfile> {
    let mut profiles: Vec<OrgProfile> =
        circle.roster.members().map(|m| m.profile.clone()).collect();
    if circle.roster.member(&identity.member_id()).is_none() {
        profiles.push(identity.profile().clone());
    }
    profiles
}

/// Previews `report` for publication from `circle`, with the allowances recorded for `subject`
/// plus `new_allowances`. When `new_allowances` is not empty and every one of them matches a
/// finding, they are recorded (one transaction, by `who` at `now`); an allowance that matches
/// nothing is refused and nothing is recorded.
pub fn preview_report(
    report: &Report,
    subject: &Subject,
    circle: &mut Circle,
    identity: &Identity,
    config: &NodeConfig,
    new_allowances: &[Allowance],
    now: Timestamp,
) -> Result<Preview, DeclassifyError> {
    let scrubber = Scrubber::new(&scrub_config(circle, config))?;
    let profiles = member_profiles(circle, identity);
    let ctx = PreviewContext {
        author_org: identity.org(),
        author_profile: identity.profile(),
        member_profiles: &profiles,
        k: DEFAULT_K,
    };
    let mut all: Vec<Allowance> = allowances(&circle.store, subject)?
        .into_iter()
        // A stored row always has both parts; `Allowance::new` re-checks rather than trusts.
        .filter_map(|r| Allowance::new(&r.text, &r.because).ok())
        .collect();
    all.retain(|a| !new_allowances.iter().any(|n| n.text == a.text));
    all.extend(new_allowances.iter().cloned());
    let preview = declassify::preview(report, &ctx, &scrubber, &all);
    if let Some(unused) = new_allowances
        .iter()
        .find(|n| preview.unused_allowances.contains(n))
    {
        return Err(DeclassifyError::AllowsNothing {
            text: unused.text.clone(),
        });
    }
    if !new_allowances.is_empty() {
        let who = identity.member_id().to_string();
        let tx = circle.store.transaction()?;
        for a in new_allowances {
            tx.execute(
                "INSERT INTO declassify_allowances (subject, text, because, allowed_by, allowed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (subject, text) DO UPDATE SET
                   because = excluded.because, allowed_by = excluded.allowed_by,
                   allowed_at = excluded.allowed_at",
                params![subject.key(), a.text, a.because, who, now.unix()],
            )
            .map_err(StoreError::from)?;
        }
        tx.commit().map_err(StoreError::from)?;
    }
    Ok(preview)
}
