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
use std::collections::BTreeMap;

use debrief_protocol::ids::EnvelopeId;
use debrief_protocol::publog::PublicContent;
use debrief_protocol::report::{Action, DisclosureClass, Factor, Report, Section};
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
    #[error("this report cannot be published as it stands: {0}")]
    NotPublishable(String),
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
    Ok(preview_with(
        report,
        subject,
        circle,
        identity,
        config,
        new_allowances,
        now,
    )?
    .0)
}

/// [`preview_report`], also returning the scrubber and every allowance it applied, so the
/// public content can be built from exactly the same inputs.
fn preview_with(
    report: &Report,
    subject: &Subject,
    circle: &mut Circle,
    identity: &Identity,
    config: &NodeConfig,
    new_allowances: &[Allowance],
    now: Timestamp,
) -> Result<(Preview, Scrubber, Vec<Allowance>), DeclassifyError> {
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
    Ok((preview, scrubber, all))
}

/// A report's candidate for publication: the preview reviewers read and the public content
/// (protocol.md §7.1) built from the same scrubber and allowances.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub preview: Preview,
    pub content: PublicContent,
    /// Every allowance applied (reviewers and cosigners see them with their reasons).
    pub allowances: Vec<Allowance>,
}

/// The fields of the preview's public rendering that become `facts` of the public content
/// (title, kind, severity, significance and the company have fields of their own; the author's
/// report id is never published).
const FACT_FIELDS: &[&str] = &[
    "industry",
    "services",
    "source_org",
    "source_url",
    "timeline.started",
    "timeline.detected",
    "timeline.mitigated",
    "timeline.resolved",
    "customer_impact.who",
    "customer_impact.magnitude",
    "customer_impact.saw",
    "customer_impact.duration_minutes",
    "customer_impact.data_loss",
];

/// Builds the preview and the public content of `report` for `circle` (docs/declassification.md
/// "Review, approvals and publishing on a node"). `slug` names it in the public log; `None`
/// derives one from the public title.
pub fn candidate(
    report: &Report,
    subject: &Subject,
    circle: &mut Circle,
    identity: &Identity,
    config: &NodeConfig,
    slug: Option<&str>,
    now: Timestamp,
) -> Result<Candidate, DeclassifyError> {
    let (preview, scrubber, allowances) =
        preview_with(report, subject, circle, identity, config, &[], now)?;
    let content = public_content(
        report,
        &preview,
        &scrubber,
        &allowances,
        circle.roster.circle_id(),
        slug,
    )?;
    Ok(Candidate {
        preview,
        content,
        allowances,
    })
}

/// The public content (protocol.md §7.1) of `report`: every published text scrubbed with
/// `scrubber` and `allowances` (and generalised where its class says so), secret and
/// confidential fields left out, generalised facts exactly as the preview's public side shows
/// them, and the company as the quasi-identifier rule left it.
pub fn public_content(
    report: &Report,
    preview: &Preview,
    scrubber: &Scrubber,
    allowances: &[Allowance],
    circle: EnvelopeId,
    slug: Option<&str>,
) -> Result<PublicContent, DeclassifyError> {
    let start = report.timeline.started.known().copied();
    let text = |path: &str, t: &str| -> Option<String> {
        match report.disclosure_of(path) {
            DisclosureClass::Secret | DisclosureClass::Confidential => None,
            DisclosureClass::Public => Some(scrubber.scrub_allowing(t, allowances).text),
            DisclosureClass::Generalise => Some(
                declassify::generalise_text(&scrubber.scrub_allowing(t, allowances).text, start).0,
            ),
        }
    };
    for path in ["severity", "significance", "kind"] {
        if matches!(
            report.disclosure_of(path),
            DisclosureClass::Secret | DisclosureClass::Confidential
        ) {
            return Err(DeclassifyError::NotPublishable(format!(
                "`{path}` is marked {} but every public report states it; mark it public",
                report.disclosure_of(path)
            )));
        }
    }
    let title = text("title", &report.title).unwrap_or_else(|| "Incident report".to_owned());
    // The facts are read back from the preview's public side, so they are byte for byte what
    // the author and reviewers saw there.
    let mut facts = BTreeMap::new();
    for line in preview.public.lines() {
        if line.starts_with("## ") {
            break;
        }
        if let Some((key, value)) = line.strip_prefix("- ").and_then(|l| l.split_once(": "))
            && FACT_FIELDS.contains(&key)
        {
            facts.insert(key.to_owned(), value.to_owned());
        }
    }
    let factors = report
        .factors
        .iter()
        .filter_map(|f| {
            let description = text(&format!("factors.{}", f.id), &f.description)?;
            Some(Factor {
                description,
                ..f.clone()
            })
        })
        .collect();
    let actions = report
        .actions
        .iter()
        .filter_map(|a| {
            let path = format!("actions.{}", a.id);
            let description = text(&path, &a.description)?;
            let owner_role = text(&path, &a.owner_role)?;
            Some(Action {
                description,
                owner_role,
                ..a.clone()
            })
        })
        .collect();
    let sections = report
        .sections
        .iter()
        .filter_map(|s| {
            let t = text(&format!("sections.{}", s.name.slug()), &s.text)?;
            Some(Section {
                name: s.name,
                text: t,
            })
        })
        .collect();
    let slug = match slug {
        Some(s) => s.to_owned(),
        None => slug_of(&title),
    };
    let content = PublicContent {
        circle,
        slug,
        kind: report.kind,
        title,
        severity: report.severity,
        significance: report.significance,
        profile: preview.company,
        facts,
        factors,
        actions,
        sections,
    };
    content
        .check()
        .map_err(|e| DeclassifyError::NotPublishable(e.to_string()))?;
    Ok(content)
}

/// A slug from the public title: lowercase letters and digits, other runs as one `-`, at most
/// 48 characters, cut at a word boundary.
pub fn slug_of(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.len() > 48 {
        match out.rfind('-') {
            Some(i) => out.truncate(i),
            None => out.truncate(48),
        }
    }
    let out = out.trim_end_matches('-').to_owned();
    if out.len() < 3 {
        format!("report-{out}x")
    } else {
        out
    }
}

/// Scans every text of a public content again (declassification.md §3): what a cosigner runs
/// before signing. Returns the remaining findings as (field, matched text, reason).
pub fn rescan(
    content: &PublicContent,
    scrubber: &Scrubber,
    allowances: &[Allowance],
) -> Vec<(String, String, String)> {
    let mut texts: Vec<(String, &str)> = vec![("title".into(), content.title.as_str())];
    for (k, v) in &content.facts {
        texts.push((format!("facts.{k}"), v.as_str()));
    }
    for f in &content.factors {
        texts.push((format!("factors.{}", f.id), f.description.as_str()));
    }
    for a in &content.actions {
        texts.push((format!("actions.{}", a.id), a.description.as_str()));
        texts.push((
            format!("actions.{}.owner_role", a.id),
            a.owner_role.as_str(),
        ));
    }
    for s in &content.sections {
        texts.push((format!("sections.{}", s.name.slug()), s.text.as_str()));
    }
    let mut out = Vec::new();
    for (field, t) in texts {
        for f in scrubber.scan_allowing(t, allowances).findings {
            let reason = f.reason().to_owned();
            out.push((field.clone(), f.matched, reason));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::slug_of;

    #[test]
    fn slugs_from_public_titles() {
        assert_eq!(
            slug_of("Global edge outage after a [host] rule exhausted CPU"),
            "global-edge-outage-after-a-host-rule-exhausted"
        );
        assert_eq!(slug_of("DNS: 503s!"), "dns-503s");
        assert_eq!(slug_of("?!"), "report-x");
        assert!(slug_of(&"a".repeat(80)).len() <= 48);
    }
}
