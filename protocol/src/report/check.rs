//! Cross-checks on a typed report (docs/format.md "Lint codes"). They run on reports parsed from
//! Markdown (and are then located through the source map) and on reports read from canonical JSON,
//! so both ways in accept exactly the same reports.

use std::collections::BTreeSet;

use super::diag::{Diagnostic, Level};
use super::taxonomy::closest;
use super::{
    DISCLOSABLE_FIELDS, DataLoss, FactorCategory, FactorRole, Field, Report, ReportKind,
    ReportStatus, SectionName, Severity, Significance,
};
use crate::canonical::MAX_SAFE_INTEGER;

/// A finding before it is located in a file.
#[derive(Debug)]
pub(crate) struct Finding {
    pub(crate) level: Level,
    pub(crate) code: &'static str,
    pub(crate) path: String,
    pub(crate) message: String,
    pub(crate) help: Option<String>,
}

struct Findings {
    incomplete: Level,
    out: Vec<Finding>,
}

impl Findings {
    fn push(
        &mut self,
        level: Level,
        code: &'static str,
        path: impl Into<String>,
        message: String,
        help: impl Into<String>,
    ) {
        self.out.push(Finding {
            level,
            code,
            path: path.into(),
            message,
            help: Some(help.into()),
        });
    }
    fn error(
        &mut self,
        code: &'static str,
        path: impl Into<String>,
        message: String,
        help: impl Into<String>,
    ) {
        self.push(Level::Error, code, path, message, help);
    }
    fn warn(
        &mut self,
        code: &'static str,
        path: impl Into<String>,
        message: String,
        help: impl Into<String>,
    ) {
        self.push(Level::Warning, code, path, message, help);
    }
    /// Missing content: a warning while the report is a draft, an error once it is in review or final.
    fn incomplete(
        &mut self,
        code: &'static str,
        path: impl Into<String>,
        message: String,
        help: impl Into<String>,
    ) {
        self.push(self.incomplete, code, path, message, help);
    }
}

/// Runs every cross-check; used by the Markdown path (then located) and the JSON path.
pub(crate) fn check(r: &Report) -> Vec<Finding> {
    let incomplete = if r.status == ReportStatus::Draft {
        Level::Warning
    } else {
        Level::Error
    };
    let mut f = Findings {
        incomplete,
        out: Vec::new(),
    };
    check_header(r, &mut f);
    check_timeline(r, &mut f);
    check_impact(r, &mut f);
    check_factors_and_actions(r, &mut f);
    check_sections(r, &mut f);
    check_disclosure(r, &mut f);
    check_significance(r, &mut f);
    f.out
}

/// The checks for a report that has no source text: every diagnostic sits at 1:1.
pub(crate) fn check_unlocated(r: &Report) -> Vec<Diagnostic> {
    check(r)
        .into_iter()
        .map(|x| Diagnostic {
            level: x.level,
            code: x.code,
            path: x.path,
            line: 1,
            column: 1,
            message: x.message,
            help: x.help,
        })
        .collect()
}

fn valid_id(id: &str) -> bool {
    let b = id.as_bytes();
    (3..=64).contains(&b.len())
        && b[0].is_ascii_lowercase() | b[0].is_ascii_digit()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

// format.md "Front matter fields" (id, title, services, book-report source fields).
fn check_header(r: &Report, f: &mut Findings) {
    if !valid_id(&r.id) {
        f.error(
            "invalid-value",
            "id",
            format!("id `{}` is not a slug", r.id),
            "use 3 to 64 lowercase letters, digits and dashes, starting with a letter or digit, e.g. 2017-02-storage-outage",
        );
    }
    if r.title.trim().is_empty() {
        f.incomplete(
            "empty-field",
            "title",
            "the title is empty".into(),
            "write a one-line title: what broke, for whom",
        );
    }
    if let Field::Known(services) = &r.services {
        if services.is_empty() {
            f.incomplete(
                "empty-field",
                "services",
                "no services are named".into(),
                "name the affected services, or write services = \"unknown\"",
            );
        }
        for (i, s) in services.iter().enumerate() {
            if s.trim().is_empty() {
                f.error(
                    "empty-field",
                    format!("services[{i}]"),
                    "empty service name".into(),
                    "remove the empty entry",
                );
            }
        }
    }
    match r.kind {
        ReportKind::Postmortem => {
            for (key, value) in [("source_url", &r.source_url), ("source_org", &r.source_org)] {
                if value.is_some() {
                    f.error(
                        "field-not-allowed",
                        key,
                        format!("`{key}` is only for book reports"),
                        "remove it, or set kind = \"book-report\"",
                    );
                }
            }
        }
        ReportKind::BookReport => {
            for (key, value, hint) in [
                (
                    "source_url",
                    &r.source_url,
                    "add source_url = \"https://...\" (where the original postmortem is published)",
                ),
                (
                    "source_org",
                    &r.source_org,
                    "add source_org = \"...\" (who published the original)",
                ),
            ] {
                match value {
                    None => f.error(
                        "missing-field",
                        key,
                        format!("a book report needs `{key}`"),
                        hint,
                    ),
                    Some(v) if v.trim().is_empty() => {
                        f.incomplete("empty-field", key, format!("`{key}` is empty"), hint)
                    }
                    Some(_) => {}
                }
            }
            if let Some(url) = r.source_url.as_deref()
                && !url.trim().is_empty()
                && !(url.starts_with("https://") || url.starts_with("http://"))
            {
                f.error(
                    "invalid-value",
                    "source_url",
                    format!("`{url}` is not an http(s) URL"),
                    "give the full address of the original, starting with https://",
                );
            }
        }
    }
}

// format.md "[timeline]": started <= detected <= mitigated <= resolved.
fn check_timeline(r: &Report, f: &mut Findings) {
    let t = &r.timeline;
    let order = [
        ("started", &t.started),
        ("detected", &t.detected),
        ("mitigated", &t.mitigated),
        ("resolved", &t.resolved),
    ];
    // Each known instant must not precede any earlier-named known instant.
    for (i, (name, value)) in order.iter().enumerate() {
        let Some(at) = value.known() else { continue };
        // Canonical timestamps have four-digit years; an offset can push 0000-01-01 out of range.
        if !at
            .to_datetime()
            .is_some_and(|d| (1900..=9999).contains(&d.year()))
        {
            f.error(
                "invalid-value",
                format!("timeline.{name}"),
                format!("{name} ({at}) is outside the years 1900 to 9999"),
                "check the date",
            );
            continue;
        }
        if let Some((before, before_at)) = order[..i]
            .iter()
            .rev()
            .find_map(|(n, v)| v.known().filter(|b| *b > at).map(|b| (*n, *b)))
        {
            f.error(
                "timeline-order",
                format!("timeline.{name}"),
                format!("{name} ({at}) is before {before} ({before_at})"),
                "the order must be started <= detected <= mitigated <= resolved; check the date and the UTC offset",
            );
        }
    }
}

// format.md "[customer_impact]" and "Severity".
fn check_impact(r: &Report, f: &mut Findings) {
    let c = &r.customer_impact;
    if let Field::Known(m) = c.magnitude
        && m > 10
    {
        f.error(
            "invalid-value",
            "customer_impact.magnitude",
            format!("magnitude {m} is out of range"),
            "use 0 to 10 (3 means thousands)",
        );
    }
    if let Field::Known(d) = c.duration_minutes
        && d > MAX_SAFE_INTEGER
    {
        f.error(
            "invalid-value",
            "customer_impact.duration_minutes",
            format!("{d} minutes is out of range"),
            "use whole minutes",
        );
    }
    for (key, value) in [("who", &c.who), ("saw", &c.saw)] {
        if let Field::Known(text) = value
            && text.trim().is_empty()
        {
            f.incomplete(
                "empty-field",
                format!("customer_impact.{key}"),
                format!("customer_impact.{key} is empty"),
                "describe it, or write \"unknown\", \"n/a\" or \"withheld\"",
            );
        }
    }
    if r.severity == Severity::Sev4 {
        let impact = matches!(c.magnitude, Field::Known(m) if m >= 1)
            || matches!(
                c.data_loss,
                Field::Known(DataLoss::Recovered | DataLoss::Permanent)
            );
        if impact {
            f.warn(
                "severity-impact",
                "severity",
                "severity `sev4` means no customer impact, but customer_impact records some".into(),
                "raise severity to sev3 or higher, or correct customer_impact",
            );
        }
    }
}

/// Ids must be `<prefix>1`, `<prefix>2`, ... in order, without gaps or repeats.
fn check_ids<'a>(prefix: char, list: &str, ids: impl Iterator<Item = &'a str>, f: &mut Findings) {
    let mut seen = BTreeSet::new();
    for (i, id) in ids.enumerate() {
        let expected = format!("{prefix}{}", i + 1);
        if !seen.insert(id) {
            f.error(
                "duplicate-id",
                format!("{list}[{i}].id"),
                format!("id `{id}` is used twice"),
                format!("give this entry the id `{expected}`"),
            );
        } else if id != expected {
            f.error(
                "id-sequence",
                format!("{list}[{i}].id"),
                format!("expected id `{expected}` here, found `{id}`"),
                format!("number {list} {prefix}1, {prefix}2, ... in order without gaps, and update references"),
            );
        }
    }
}

// format.md "[[factors]]" and "[[actions]]": dense ids, references, coverage.
fn check_factors_and_actions(r: &Report, f: &mut Findings) {
    check_ids('F', "factors", r.factors.iter().map(|x| x.id.as_str()), f);
    check_ids('A', "actions", r.actions.iter().map(|x| x.id.as_str()), f);
    if r.factors.is_empty() {
        f.incomplete(
            "no-factors",
            "factors",
            "no contributing factors".into(),
            "add [[factors]] entries (id, category, role, description)",
        );
    } else if !r.factors.iter().any(|x| x.role == FactorRole::Trigger) {
        f.warn(
            "no-trigger",
            "factors",
            "no factor has role `trigger`".into(),
            "mark the factor that set the incident off as role = \"trigger\"",
        );
    }
    if r.actions.is_empty() {
        f.incomplete("no-actions", "actions", "no actions".into(), "add [[actions]] entries (id, kind, pattern, owner_role, status, addresses, description)");
    }
    for (i, x) in r.factors.iter().enumerate() {
        if x.description.trim().is_empty() {
            f.incomplete(
                "empty-field",
                format!("factors[{i}].description"),
                "the description is empty".into(),
                "say what the factor was and how it contributed",
            );
        }
    }
    let factor_ids: Vec<&str> = r.factors.iter().map(|x| x.id.as_str()).collect();
    let mut addressed = BTreeSet::new();
    for (i, a) in r.actions.iter().enumerate() {
        if a.addresses.is_empty() {
            f.error(
                "action-addresses",
                format!("actions[{i}].addresses"),
                format!("action {} addresses no factor", a.id),
                "list the factors it addresses, e.g. addresses = [\"F1\"]",
            );
        }
        for (j, target) in a.addresses.iter().enumerate() {
            if factor_ids.contains(&target.as_str()) {
                addressed.insert(target.as_str());
            } else {
                let help = match closest(target, factor_ids.iter().copied()) {
                    Some(s) => format!(
                        "did you mean `{s}`? factors here: {}",
                        factor_ids.join(", ")
                    ),
                    None => format!(
                        "refer to an existing factor ({})",
                        if factor_ids.is_empty() {
                            "none yet".to_owned()
                        } else {
                            factor_ids.join(", ")
                        }
                    ),
                };
                f.error(
                    "unknown-factor",
                    format!("actions[{i}].addresses[{j}]"),
                    format!(
                        "action {} refers to factor `{target}`, which does not exist",
                        a.id
                    ),
                    help,
                );
            }
        }
        for (key, text) in [
            ("owner_role", &a.owner_role),
            ("description", &a.description),
        ] {
            if text.trim().is_empty() {
                f.incomplete(
                    "empty-field",
                    format!("actions[{i}].{key}"),
                    format!("action {} has an empty {key}", a.id),
                    "fill it in (owner_role is a role, not a person)",
                );
            }
        }
    }
    if !r.actions.is_empty() {
        for (i, x) in r.factors.iter().enumerate() {
            if !addressed.contains(x.id.as_str()) {
                f.warn(
                    "factor-unaddressed",
                    format!("factors[{i}]"),
                    format!("no action addresses factor {}", x.id),
                    "add an action for it, or a `wont-do` action that says why not",
                );
            }
        }
    }
}

// format.md "Body sections": all present, once each, in the fixed order.
fn check_sections(r: &Report, f: &mut Findings) {
    let mut seen = BTreeSet::new();
    let mut last: Option<SectionName> = None;
    for s in &r.sections {
        let path = format!("sections.{}", s.name.slug());
        if !seen.insert(s.name) {
            f.error(
                "section-duplicate",
                path,
                format!("section `## {}` appears twice", s.name),
                "merge the two sections into one",
            );
            continue;
        }
        if let Some(prev) = last
            && s.name < prev
        {
            f.error(
                "section-order",
                path.clone(),
                format!("section `## {}` comes after `## {}`", s.name, prev),
                format!(
                    "put the sections in this order: {}",
                    SectionName::ALL
                        .iter()
                        .map(|s| s.heading())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        last = Some(last.map_or(s.name, |p| p.max(s.name)));
        if s.text.trim().is_empty() {
            f.incomplete(
                "section-empty",
                path,
                format!("section `## {}` is empty", s.name),
                "fill it in (the template's comments list questions to answer)",
            );
        }
    }
    for name in SectionName::ALL {
        if !seen.contains(name) {
            f.error(
                "section-missing",
                format!("sections.{}", name.slug()),
                format!("section `## {}` is missing", name.heading()),
                format!(
                    "add a `## {}` section (write \"None.\" if there is nothing to say)",
                    name.heading()
                ),
            );
        }
    }
}

// format.md "[disclosure]": only paths this report has.
fn check_disclosure(r: &Report, f: &mut Findings) {
    let mut valid: Vec<String> = DISCLOSABLE_FIELDS
        .iter()
        .filter(|p| r.kind == ReportKind::BookReport || !p.starts_with("source_"))
        .map(|p| (*p).to_owned())
        .collect();
    valid.extend(
        SectionName::ALL
            .iter()
            .map(|s| format!("sections.{}", s.slug())),
    );
    valid.extend(r.factors.iter().map(|x| format!("factors.{}", x.id)));
    valid.extend(r.actions.iter().map(|x| format!("actions.{}", x.id)));
    for path in r.disclosure.keys() {
        if !valid.contains(path) {
            let help = match closest(path, valid.iter().map(String::as_str)) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "use a front-matter field path, sections.<slug>, factors.F<n> or actions.A<n> (docs/format.md)".into(),
            };
            f.error(
                "disclosure-path",
                format!("disclosure.{path}"),
                format!("`{path}` is not a field of this report"),
                help,
            );
        }
    }
}

/// How significant the facts in a report are: at least `lower` (known facts alone), at most
/// `upper` (if every unknown or withheld fact were as bad as it could be).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignificanceAssessment {
    pub lower: Significance,
    pub upper: Significance,
    /// The known facts that set `lower`.
    pub reasons: Vec<String>,
    /// Unknown or withheld fields that could raise the level.
    pub uncertain: Vec<String>,
}

/// Applies the significance criteria (docs/format.md "Significance") to a report's facts.
pub fn assess_significance(r: &Report) -> SignificanceAssessment {
    let mut a = SignificanceAssessment {
        lower: Significance::Internal,
        upper: Significance::Internal,
        reasons: Vec::new(),
        uncertain: Vec::new(),
    };
    let known = |a: &mut SignificanceAssessment, level: Significance, why: String| {
        if level > Significance::Internal {
            a.lower = a.lower.max(level);
            a.upper = a.upper.max(level);
            a.reasons.push(why);
        }
    };
    let c = &r.customer_impact;
    match c.magnitude {
        Field::Known(m) => {
            let level = match m {
                5.. => Significance::Major,
                2..=4 => Significance::Significant,
                _ => Significance::Internal,
            };
            known(&mut a, level, format!("about 10^{m} customers affected"));
        }
        Field::NotApplicable => {}
        Field::Unknown | Field::Withheld => {
            a.upper = Significance::Major;
            a.uncertain.push("customer_impact.magnitude".into());
        }
    }
    match c.duration_minutes {
        Field::Known(d) => {
            let level = match d {
                240.. => Significance::Major,
                30..=239 => Significance::Significant,
                _ => Significance::Internal,
            };
            known(&mut a, level, format!("{d} minutes of customer impact"));
        }
        Field::NotApplicable => {}
        Field::Unknown | Field::Withheld => {
            a.upper = Significance::Major;
            a.uncertain.push("customer_impact.duration_minutes".into());
        }
    }
    match c.data_loss {
        Field::Known(DataLoss::Permanent) => {
            known(&mut a, Significance::Major, "data permanently lost".into())
        }
        Field::Known(DataLoss::Recovered) => known(
            &mut a,
            Significance::Significant,
            "data lost and recovered".into(),
        ),
        Field::Known(DataLoss::None) | Field::NotApplicable => {}
        Field::Unknown | Field::Withheld => {
            a.upper = Significance::Major;
            a.uncertain.push("customer_impact.data_loss".into());
        }
    }
    if r.factors
        .iter()
        .any(|x| x.category == FactorCategory::SecurityAdversary)
    {
        known(
            &mut a,
            Significance::Significant,
            "an adversary was involved (security.adversary)".into(),
        );
    }
    if let Some(action) = r.actions.iter().find(|x| x.worth_sharing) {
        known(
            &mut a,
            Significance::Lesson,
            format!("action {} is a remediation worth sharing", action.id),
        );
    }
    a
}

/// What a level requires, for messages.
fn criteria(level: Significance) -> &'static str {
    match level {
        Significance::Internal => "nothing",
        Significance::Lesson => "an action with worth_sharing = true",
        Significance::Significant => {
            "magnitude >= 2, or duration_minutes >= 30, or data_loss = \"recovered\", or a security.adversary factor"
        }
        Significance::Major => {
            "magnitude >= 5, or duration_minutes >= 240, or data_loss = \"permanent\""
        }
    }
}

// format.md "Significance": the stated level must lie between what the facts reach and what
// they could reach.
fn check_significance(r: &Report, f: &mut Findings) {
    let a = assess_significance(r);
    let stated = r.significance;
    if stated > a.upper {
        f.error(
            "significance-unsupported",
            "significance",
            format!(
                "significance `{stated}` is higher than the facts allow (at most `{}`)",
                a.upper
            ),
            format!(
                "`{stated}` needs {}; lower the level or correct the facts",
                criteria(stated)
            ),
        );
    } else if stated < a.lower {
        f.error(
            "significance-understated",
            "significance",
            format!(
                "the facts meet `{}` ({}), but significance is `{stated}`",
                a.lower,
                a.reasons.join("; ")
            ),
            format!("set significance = \"{}\"", a.lower),
        );
    } else if stated > a.lower {
        f.warn(
            "significance-unverified",
            "significance",
            format!(
                "significance `{stated}` rests on facts that are unknown or withheld: {}",
                a.uncertain.join(", ")
            ),
            format!(
                "`{stated}` needs {}; fill in the facts so readers can check the level",
                criteria(stated)
            ),
        );
    }
}
