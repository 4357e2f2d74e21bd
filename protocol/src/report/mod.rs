//! The postmortem format (docs/format.md is the reference).
//!
//! A report is Markdown with TOML front matter between `+++` fences. [`parse`] turns one into a
//! typed, valid [`Report`]; [`lint`] reports every problem it finds, each located by line, column
//! and field path; [`Report::to_canonical_json`] gives the bytes later issues sign, and
//! [`Report::from_canonical_json`] reads them back with the same checks; [`Report::render_markdown`]
//! writes a report back as Markdown. The vocabularies (taxonomy, roles, patterns, scales) are data
//! in [`taxonomy`].
//!
//! This module does no IO: callers read files and pass text (or bytes, to [`lint_bytes`]).

mod check;
mod diag;
mod parse;
mod render;
pub mod taxonomy;

use std::collections::BTreeMap;
use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Timestamp;
use crate::canonical::{self, CanonicalError};
pub use crate::profile::Industry;
pub use check::{SignificanceAssessment, assess_significance};
pub use diag::{Diagnostic, Level};
pub use parse::ACCEPTED_KEYS;
pub use render::template;
pub use taxonomy::{
    ActionKind, ActionStatus, DataLoss, DisclosureClass, FactorCategory, FactorRole, PatternText,
    RemediationPattern, ReportKind, ReportStatus, Severity, Significance, Tlp, Vocabulary,
};

/// A value that may be missing for one of three distinct reasons.
///
/// In TOML and canonical JSON a known value is written as itself; the three markers are the strings
/// `"unknown"` (nobody knows), `"n/a"` (does not apply to this incident) and `"withheld"` (known to
/// the author but deliberately not shared). A string field whose text is exactly one of the markers
/// is that marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field<T> {
    Known(T),
    Unknown,
    NotApplicable,
    Withheld,
}

impl<T> Field<T> {
    /// The value, if known.
    pub fn known(&self) -> Option<&T> {
        match self {
            Field::Known(v) => Some(v),
            _ => None,
        }
    }

    /// The marker spelling, or `None` for a known value.
    pub fn marker(&self) -> Option<&'static str> {
        match self {
            Field::Known(_) => None,
            Field::Unknown => Some(MARKER_UNKNOWN),
            Field::NotApplicable => Some(MARKER_NA),
            Field::Withheld => Some(MARKER_WITHHELD),
        }
    }

    /// Parses a marker spelling.
    pub fn from_marker(text: &str) -> Option<Self> {
        match text {
            MARKER_UNKNOWN => Some(Field::Unknown),
            MARKER_NA => Some(Field::NotApplicable),
            MARKER_WITHHELD => Some(Field::Withheld),
            _ => None,
        }
    }
}

/// Marker: nobody knows the value.
pub const MARKER_UNKNOWN: &str = "unknown";
/// Marker: the field does not apply.
pub const MARKER_NA: &str = "n/a";
/// Marker: the author knows the value but does not share it.
pub const MARKER_WITHHELD: &str = "withheld";

impl<T: Serialize> Serialize for Field<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::Known(v) => v.serialize(serializer),
            other => serializer.serialize_str(other.marker().unwrap_or(MARKER_UNKNOWN)),
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        if let Some(marker) = value.as_str().and_then(Field::from_marker) {
            return Ok(marker);
        }
        serde_json::from_value(value)
            .map(Field::Known)
            .map_err(serde::de::Error::custom)
    }
}

/// The four instants of an incident, in UTC (files may give any offset; see docs/format.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeline {
    /// When the failure began.
    pub started: Field<Timestamp>,
    /// When someone (or something) noticed.
    pub detected: Field<Timestamp>,
    /// When customer impact stopped or was contained.
    pub mitigated: Field<Timestamp>,
    /// When the system was fully back to normal.
    pub resolved: Field<Timestamp>,
}

/// What customers experienced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerImpact {
    /// Who was affected, in words ("customers in one region using the upload API").
    pub who: Field<String>,
    /// Order of magnitude of the number affected: `n` means 10^n to 10^(n+1) - 1 (0..=10).
    pub magnitude: Field<u8>,
    /// What they saw ("HTTP 503 on every upload").
    pub saw: Field<String>,
    /// How long customers saw it, in minutes.
    pub duration_minutes: Field<u64>,
    /// Whether data was lost.
    pub data_loss: Field<DataLoss>,
}

/// A contributing factor `F<n>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Factor {
    pub id: String,
    pub category: FactorCategory,
    pub role: FactorRole,
    pub description: String,
}

/// An action `A<n>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    pub id: String,
    pub kind: ActionKind,
    /// The remediation pattern it applies (`n/a` when none fits).
    pub pattern: Field<RemediationPattern>,
    /// A role, never a person's name ("storage on-call", "release engineering").
    pub owner_role: String,
    pub status: ActionStatus,
    /// Ids of the factors it addresses.
    pub addresses: Vec<String>,
    pub description: String,
    /// The author thinks this remediation is worth sharing on its own (significance `lesson`).
    pub worth_sharing: bool,
}

/// The fixed `##` body sections, in their required order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SectionName {
    Summary,
    Impact,
    Timeline,
    ContributingFactors,
    WhatWentWell,
    WhereWeGotLucky,
    Actions,
    Lessons,
}

impl SectionName {
    /// Every section, in the required order.
    pub const ALL: &'static [SectionName] = &[
        SectionName::Summary,
        SectionName::Impact,
        SectionName::Timeline,
        SectionName::ContributingFactors,
        SectionName::WhatWentWell,
        SectionName::WhereWeGotLucky,
        SectionName::Actions,
        SectionName::Lessons,
    ];

    /// The heading as written in the file.
    pub const fn heading(self) -> &'static str {
        match self {
            SectionName::Summary => "Summary",
            SectionName::Impact => "Impact",
            SectionName::Timeline => "Timeline",
            SectionName::ContributingFactors => "Contributing factors",
            SectionName::WhatWentWell => "What went well",
            SectionName::WhereWeGotLucky => "Where we got lucky",
            SectionName::Actions => "Actions",
            SectionName::Lessons => "Lessons",
        }
    }

    /// The slug used in field paths and JSON (`sections.where-we-got-lucky`).
    pub const fn slug(self) -> &'static str {
        match self {
            SectionName::Summary => "summary",
            SectionName::Impact => "impact",
            SectionName::Timeline => "timeline",
            SectionName::ContributingFactors => "contributing-factors",
            SectionName::WhatWentWell => "what-went-well",
            SectionName::WhereWeGotLucky => "where-we-got-lucky",
            SectionName::Actions => "actions",
            SectionName::Lessons => "lessons",
        }
    }

    /// Matches a heading, ignoring case and surrounding space.
    pub fn from_heading(text: &str) -> Option<Self> {
        let text = text.trim();
        SectionName::ALL
            .iter()
            .copied()
            .find(|s| s.heading().eq_ignore_ascii_case(text))
    }
}

impl fmt::Display for SectionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.heading())
    }
}

/// One `##` body section: its Markdown text, trimmed, with HTML comments (template guidance) removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub name: SectionName,
    pub text: String,
}

/// A parsed postmortem or book report. Field meanings: docs/format.md.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Author-chosen slug, `[a-z0-9][a-z0-9-]{2,63}`.
    pub id: String,
    pub kind: ReportKind,
    pub title: String,
    pub status: ReportStatus,
    pub severity: Severity,
    pub significance: Significance,
    pub industry: Field<Industry>,
    /// Affected services, as the author names them.
    pub services: Field<Vec<String>>,
    pub tlp: Tlp,
    /// Book reports only: where the original postmortem is published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_url: Option<String>,
    /// Book reports only: who published the original.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_org: Option<String>,
    pub timeline: Timeline,
    pub customer_impact: CustomerImpact,
    /// Explicit disclosure classes by field path; every other path has its default
    /// ([`default_disclosure`]).
    pub disclosure: BTreeMap<String, DisclosureClass>,
    pub factors: Vec<Factor>,
    pub actions: Vec<Action>,
    /// Body sections in document order.
    pub sections: Vec<Section>,
}

/// Why a report could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// The report has errors; every diagnostic (errors and warnings) is included, in file order.
    #[error("{} error(s) in report; first: {}", count_errors(.0), first_error(.0))]
    Invalid(Vec<Diagnostic>),
    /// Canonical JSON that is not canonical or does not match the report schema.
    #[error("report JSON rejected: {0}")]
    Json(String),
}

fn count_errors(d: &[Diagnostic]) -> usize {
    d.iter().filter(|d| d.level == Level::Error).count()
}

fn first_error(d: &[Diagnostic]) -> String {
    d.iter()
        .find(|d| d.level == Level::Error)
        .map_or_else(String::new, |d| d.to_string())
}

/// Everything the linter found, and the report if the file could be read into one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintOutcome {
    /// `Some` when the structure was readable, even if semantic checks found errors.
    pub report: Option<Report>,
    /// In file order (line, column), errors first at equal positions.
    pub diagnostics: Vec<Diagnostic>,
}

impl LintOutcome {
    /// True if any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.level == Level::Error)
    }
}

/// Lints a report's text: structure, types, vocabularies, then the cross-checks.
pub fn lint(source: &str) -> LintOutcome {
    parse::lint_text(source)
}

/// Lints raw bytes; bytes that are not UTF-8 give one located `not-utf8` error.
pub fn lint_bytes(bytes: &[u8]) -> LintOutcome {
    match std::str::from_utf8(bytes) {
        Ok(text) => lint(text),
        Err(err) => {
            let valid = &bytes[..err.valid_up_to()];
            // The prefix is valid UTF-8 by construction, so this never falls back.
            let prefix = std::str::from_utf8(valid).unwrap_or("");
            let mut sink = diag::Sink::new(prefix);
            sink.error(
                "not-utf8",
                "(file)",
                prefix.len()..prefix.len(),
                format!(
                    "the file is not valid UTF-8 (bad byte at offset {})",
                    valid.len()
                ),
                "save the file as UTF-8",
            );
            LintOutcome {
                report: None,
                diagnostics: sink.diagnostics,
            }
        }
    }
}

/// Parses a report; succeeds only if the linter finds no errors (warnings are allowed).
pub fn parse(source: &str) -> Result<Report, ReportError> {
    let outcome = lint(source);
    match outcome.report {
        Some(report) if !outcome.has_errors() => Ok(report),
        _ => Err(ReportError::Invalid(outcome.diagnostics)),
    }
}

/// The disclosure class a field path has when the report does not set one.
///
/// Paths: the front-matter fields (`title`, `timeline.started`, `customer_impact.who`, ...),
/// `sections.<slug>`, `factors.F<n>` and `actions.A<n>`. Unlisted paths are `confidential`, the
/// safe default for anything declassification does not know.
pub fn default_disclosure(path: &str) -> DisclosureClass {
    use DisclosureClass::*;
    match path {
        "id"
        | "kind"
        | "title"
        | "status"
        | "severity"
        | "significance"
        | "industry"
        | "tlp"
        | "source_url"
        | "source_org"
        | "customer_impact.saw"
        | "customer_impact.data_loss" => Public,
        "services"
        | "timeline.started"
        | "timeline.detected"
        | "timeline.mitigated"
        | "timeline.resolved"
        | "customer_impact.who"
        | "customer_impact.magnitude"
        | "customer_impact.duration_minutes"
        | "sections.timeline" => Generalise,
        p if p.starts_with("sections.")
            || p.starts_with("factors.")
            || p.starts_with("actions.") =>
        {
            Public
        }
        _ => Confidential,
    }
}

/// Every diagnostic code the parser and linter emit (stable; documented in docs/format.md).
pub const LINT_CODES: &[&str] = &[
    "not-utf8",
    "front-matter-missing",
    "front-matter-unclosed",
    "toml-syntax",
    "unknown-key",
    "missing-field",
    "wrong-type",
    "unknown-value",
    "invalid-value",
    "field-not-allowed",
    "empty-field",
    "body-preamble",
    "section-unknown",
    "section-duplicate",
    "section-order",
    "section-missing",
    "section-empty",
    "timeline-order",
    "id-sequence",
    "duplicate-id",
    "unknown-factor",
    "action-addresses",
    "factor-unaddressed",
    "no-factors",
    "no-actions",
    "no-trigger",
    "disclosure-path",
    "severity-impact",
    "significance-unsupported",
    "significance-understated",
    "significance-unverified",
];

/// Front-matter field paths that can carry a disclosure class (besides sections, factors, actions).
pub const DISCLOSABLE_FIELDS: &[&str] = &[
    "id",
    "kind",
    "title",
    "status",
    "severity",
    "significance",
    "industry",
    "services",
    "tlp",
    "source_url",
    "source_org",
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

impl Report {
    /// Canonical JSON (protocol.md §1.3): the bytes that later issues sign.
    pub fn to_canonical_json(&self) -> Result<Vec<u8>, CanonicalError> {
        canonical::to_canonical_vec(self)
    }

    /// Reads canonical JSON back; refuses non-canonical bytes, unknown fields and any report the
    /// linter would reject (errors are located by field path; line and column are 1:1).
    pub fn from_canonical_json(bytes: &[u8]) -> Result<Report, ReportError> {
        let report: Report =
            canonical::from_canonical_slice(bytes).map_err(|e| ReportError::Json(e.to_string()))?;
        let diagnostics = check::check_unlocated(&report);
        if diagnostics.iter().any(|d| d.level == Level::Error) {
            return Err(ReportError::Invalid(diagnostics));
        }
        Ok(report)
    }

    /// Markdown with TOML front matter that [`parse`]s back to an equal report.
    pub fn render_markdown(&self) -> String {
        render::render_markdown(self)
    }

    /// Readable plain-text rendering for a terminal.
    pub fn render_text(&self) -> String {
        render::render_text(self)
    }

    /// The text of one body section, if present.
    pub fn section(&self, name: SectionName) -> Option<&str> {
        self.sections
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.text.as_str())
    }

    /// The Summary section's text ("" if absent).
    pub fn summary(&self) -> &str {
        self.section(SectionName::Summary).unwrap_or("")
    }

    /// The factor with this id.
    pub fn factor(&self, id: &str) -> Option<&Factor> {
        self.factors.iter().find(|f| f.id == id)
    }

    /// The action with this id.
    pub fn action(&self, id: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.id == id)
    }

    /// The disclosure class of a field path: the report's own setting, else a section, factor or
    /// action inherits nothing and falls back to [`default_disclosure`].
    pub fn disclosure_of(&self, path: &str) -> DisclosureClass {
        self.disclosure
            .get(path)
            .copied()
            .unwrap_or_else(|| default_disclosure(path))
    }

    /// Every free-text value with its field path, in document order: what search indexes and what
    /// declassification scrubs (look up each path's class with [`Report::disclosure_of`]).
    /// Services are listed under `services`; factor and action texts under `factors.F<n>` and
    /// `actions.A<n>`, the paths that carry their disclosure class.
    pub fn text_fields(&self) -> Vec<(String, &str)> {
        let mut out: Vec<(String, &str)> = vec![("title".into(), self.title.as_str())];
        if let Field::Known(services) = &self.services {
            out.extend(services.iter().map(|s| ("services".to_owned(), s.as_str())));
        }
        if let Some(org) = &self.source_org {
            out.push(("source_org".into(), org));
        }
        if let Some(url) = &self.source_url {
            out.push(("source_url".into(), url));
        }
        let c = &self.customer_impact;
        for (path, value) in [
            ("customer_impact.who", &c.who),
            ("customer_impact.saw", &c.saw),
        ] {
            if let Field::Known(text) = value {
                out.push((path.into(), text));
            }
        }
        for f in &self.factors {
            out.push((format!("factors.{}", f.id), &f.description));
        }
        for a in &self.actions {
            out.push((format!("actions.{}", a.id), &a.owner_role));
            out.push((format!("actions.{}", a.id), &a.description));
        }
        for s in &self.sections {
            out.push((format!("sections.{}", s.name.slug()), &s.text));
        }
        out
    }

    /// Every disclosable path of this report with its effective class, in a stable order.
    pub fn disclosure_map(&self) -> Vec<(String, DisclosureClass)> {
        let mut paths: Vec<String> = DISCLOSABLE_FIELDS
            .iter()
            .filter(|p| self.kind == ReportKind::BookReport || !p.starts_with("source_"))
            .map(|p| (*p).to_owned())
            .collect();
        paths.extend(
            self.sections
                .iter()
                .map(|s| format!("sections.{}", s.name.slug())),
        );
        paths.extend(self.factors.iter().map(|f| format!("factors.{}", f.id)));
        paths.extend(self.actions.iter().map(|a| format!("actions.{}", a.id)));
        paths
            .into_iter()
            .map(|p| {
                let class = self.disclosure_of(&p);
                (p, class)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
