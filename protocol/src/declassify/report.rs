//! The preview of a whole report (declassification.md §1, §9): fields by disclosure class,
//! generalisation, scrubbing, the quasi-identifier rule, the diff and the verdict.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::finding::{Allowance, Finding};
use super::generalise::{
    DurationBucket, GeneralisedProfile, Magnitude, generalise_profile, quarter, relative_minutes,
};
use super::scrub::Scrubber;
use super::text::generalise_text;
use super::unified_diff;
use crate::profile::OrgProfile;
use crate::report::{DisclosureClass, Field, Report, ReportKind};
use crate::timestamp::Timestamp;

/// What the preview needs besides the report and the scrubber.
#[derive(Debug, Clone, Copy)]
pub struct PreviewContext<'a> {
    /// The author's org name (identity card); shown only on the original side.
    pub author_org: &'a str,
    /// The author's profile (identity card).
    pub author_profile: &'a OrgProfile,
    /// The profile of every current member company of the circle, the author included.
    pub member_profiles: &'a [OrgProfile],
    /// The quasi-identifier threshold (`DEFAULT_K`).
    pub k: usize,
}

/// A finding, located in the field it was found in and in the preview's original rendering
/// (the left side of the diff).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocatedFinding {
    /// The field path (`sections.timeline`, `factors.F2`, `title`).
    pub field: String,
    /// 1-based line and column in the original rendering.
    pub line: usize,
    pub column: usize,
    pub finding: Finding,
    /// Why it was flagged.
    pub reason: String,
}

/// A finding kept because of an allowance, with the recorded justification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocatedAllowed {
    pub field: String,
    pub line: usize,
    pub column: usize,
    pub matched: String,
    pub because: String,
}

/// What was done to a field that does not pass as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generalisation {
    pub field: String,
    /// What the public text says instead, or why it says less.
    pub note: String,
}

/// A field left out of the public text, and its class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dropped {
    pub field: String,
    pub class: DisclosureClass,
}

/// The preview's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// No unresolved finding: the public text may go to review.
    Publishable,
    /// At least one finding is unresolved (declassification.md §3.1).
    Blocked,
}

/// Everything `debrief declassify preview` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preview {
    /// The report as the author wrote it, in the preview layout (secret fields not shown).
    pub original: String,
    /// The candidate public text.
    pub public: String,
    /// `unified_diff(original, public)`.
    pub diff: String,
    /// Unresolved findings, in document order; any of them blocks.
    pub findings: Vec<LocatedFinding>,
    /// Findings kept because the author allowed them.
    pub allowed: Vec<LocatedAllowed>,
    /// Allowances that matched nothing in this report.
    pub unused_allowances: Vec<Allowance>,
    pub generalisations: Vec<Generalisation>,
    pub dropped: Vec<Dropped>,
    /// What the public text says about the author's company (§5).
    pub company: GeneralisedProfile,
    pub verdict: Verdict,
}

impl Preview {
    pub fn blocks_publication(&self) -> bool {
        self.verdict == Verdict::Blocked
    }
}

/// One field as it enters the two renderings.
struct Line {
    path: String,
    /// Markdown written before the value on the first line (`- title: `), or a heading.
    prefix: String,
    class: DisclosureClass,
    original: String,
    /// The value to publish when it differs from the scrubbed original (generalised values).
    public: Option<String>,
    /// Free text: scrubbed (all classes that are published) and generalised (class generalise).
    text: bool,
    /// A block (section) rather than a `- key: value` line.
    block: bool,
}

/// Builds the preview of `report` (declassification.md §1): drop `secret`/`confidential`
/// fields, generalise `generalise` fields, scrub every published text with `scrubber` and the
/// author's `allowances`, apply the quasi-identifier rule to the company, diff, and decide.
pub fn preview(
    report: &Report,
    ctx: &PreviewContext<'_>,
    scrubber: &Scrubber,
    allowances: &[Allowance],
) -> Preview {
    let start = report.timeline.started.known().copied();
    let mut generalisations = Vec::new();
    let mut dropped = Vec::new();

    // §5: the company.
    let (company, notes) = generalise_profile(ctx.author_profile, ctx.member_profiles, ctx.k);
    for note in notes {
        generalisations.push(Generalisation {
            field: "company".into(),
            note,
        });
    }

    let lines = lines_of(report, start);

    let mut original = String::new();
    let mut public = String::new();
    let mut findings = Vec::new();
    let mut allowed = Vec::new();
    let mut used = vec![false; allowances.len()];
    let mut section_started = false;

    let _ = writeln!(original, "# Incident report\n");
    let _ = writeln!(public, "# Incident report\n");
    let _ = writeln!(
        original,
        "- company: {} ({}, {}, {})",
        ctx.author_org,
        ctx.author_profile.industry,
        ctx.author_profile.size_band,
        ctx.author_profile.region
    );
    let _ = writeln!(public, "- company: {company}");

    for l in lines {
        if l.block && !section_started {
            section_started = true;
            original.push('\n');
            public.push('\n');
        }
        // Secret values are never copied into anything derived from the report (format.md,
        // disclosure classes), not even the preview's left side.
        let shown = if l.class == DisclosureClass::Secret {
            "[secret: not shown]".to_owned()
        } else {
            l.original.clone()
        };
        // Where the value starts in the original rendering: after the prefix, which for a
        // section is a heading and a blank line.
        let first_line = original.matches('\n').count() + 1 + l.prefix.matches('\n').count();
        let prefix_cols = l
            .prefix
            .rsplit('\n')
            .next()
            .map_or(0, |p| p.chars().count());
        original.push_str(&l.prefix);
        original.push_str(&shown);
        original.push('\n');
        if l.block {
            original.push('\n');
        }

        match l.class {
            DisclosureClass::Secret | DisclosureClass::Confidential => {
                dropped.push(Dropped {
                    field: l.path.clone(),
                    class: l.class,
                });
                continue;
            }
            DisclosureClass::Public | DisclosureClass::Generalise => {}
        }
        let value = if l.text {
            let scrubbed = scrubber.scrub_allowing(&l.original, allowances);
            let locate = |line: usize, column: usize| {
                (
                    first_line + line - 1,
                    if line == 1 {
                        prefix_cols + column
                    } else {
                        column
                    },
                )
            };
            for f in scrubbed.findings {
                let (line, column) = locate(f.line, f.column);
                findings.push(LocatedFinding {
                    field: l.path.clone(),
                    line,
                    column,
                    reason: f.reason().to_owned(),
                    finding: f,
                });
            }
            for a in scrubbed.allowed {
                let (line, column) = locate(a.finding.line, a.finding.column);
                allowed.push(LocatedAllowed {
                    field: l.path.clone(),
                    line,
                    column,
                    matched: a.finding.matched,
                    because: a.because,
                });
            }
            for (i, a) in allowances.iter().enumerate() {
                if !scrubbed.unused_allowances.contains(a) {
                    used[i] = true;
                }
            }
            if l.class == DisclosureClass::Generalise {
                let (text, notes) = generalise_text(&scrubbed.text, start);
                if text != scrubbed.text {
                    generalisations.push(Generalisation {
                        field: l.path.clone(),
                        note: "dates to quarters, clock times to T+minutes, counts to orders of magnitude, long durations to buckets".into(),
                    });
                }
                for note in notes {
                    generalisations.push(Generalisation {
                        field: l.path.clone(),
                        note,
                    });
                }
                text
            } else {
                scrubbed.text
            }
        } else if l.class == DisclosureClass::Generalise {
            match &l.public {
                Some(p) => {
                    generalisations.push(Generalisation {
                        field: l.path.clone(),
                        note: format!("{} → {p}", l.original),
                    });
                    p.clone()
                }
                None => l.original.clone(),
            }
        } else {
            l.original.clone()
        };
        public.push_str(&l.prefix);
        public.push_str(&value);
        public.push('\n');
        if l.block {
            public.push('\n');
        }
    }

    let unused_allowances = allowances
        .iter()
        .zip(used)
        .filter(|(_, u)| !u)
        .map(|(a, _)| a.clone())
        .collect();
    let diff = unified_diff(&original, &public);
    let verdict = if findings.is_empty() {
        Verdict::Publishable
    } else {
        Verdict::Blocked
    };
    Preview {
        original,
        public,
        diff,
        findings,
        allowed,
        unused_allowances,
        generalisations,
        dropped,
        company,
        verdict,
    }
}

fn field_str<T>(f: &Field<T>, show: impl FnOnce(&T) -> String) -> String {
    match f {
        Field::Known(v) => show(v),
        other => other.marker().unwrap_or("unknown").to_owned(),
    }
}

/// The report's fields in preview order, each with its class and generalised form.
fn lines_of(r: &Report, start: Option<Timestamp>) -> Vec<Line> {
    let mut out = Vec::new();
    let mut push = |path: &str, original: String, public: Option<String>, text: bool| {
        out.push(Line {
            prefix: format!("- {path}: "),
            class: r.disclosure_of(path),
            path: path.to_owned(),
            original,
            public,
            text,
            block: false,
        });
    };
    push("id", r.id.clone(), None, true);
    push("kind", r.kind.as_str().to_owned(), None, false);
    push("title", r.title.clone(), None, true);
    push("severity", r.severity.as_str().to_owned(), None, false);
    push(
        "significance",
        r.significance.as_str().to_owned(),
        None,
        false,
    );
    push(
        "industry",
        field_str(&r.industry, |i| i.as_str().to_owned()),
        None,
        false,
    );
    match &r.services {
        Field::Known(list) => {
            let n = list.len();
            push(
                "services",
                list.join(", "),
                Some(format!("{n} service{}", if n == 1 { "" } else { "s" })),
                // Published as a list only when the class is public; then each name is scrubbed.
                r.disclosure_of("services") == DisclosureClass::Public,
            );
        }
        other => push("services", field_str(other, |_| String::new()), None, false),
    }
    if r.kind == ReportKind::BookReport {
        if let Some(org) = &r.source_org {
            push("source_org", org.clone(), None, true);
        }
        if let Some(url) = &r.source_url {
            push("source_url", url.clone(), None, true);
        }
    }
    let t = &r.timeline;
    for (path, field) in [
        ("timeline.started", &t.started),
        ("timeline.detected", &t.detected),
        ("timeline.mitigated", &t.mitigated),
        ("timeline.resolved", &t.resolved),
    ] {
        let public = match (field, start) {
            // The start itself is dated by its quarter; later instants are T+minutes, which keeps
            // the time-to-detect and time-to-mitigate that readers learn from.
            (Field::Known(at), Some(s)) if path != "timeline.started" => {
                Some(relative_minutes(s, *at))
            }
            (Field::Known(at), _) => quarter(*at),
            _ => None,
        };
        push(path, field_str(field, |at| at.to_string()), public, false);
    }
    let c = &r.customer_impact;
    push(
        "customer_impact.who",
        field_str(&c.who, Clone::clone),
        None,
        matches!(c.who, Field::Known(_)),
    );
    push(
        "customer_impact.magnitude",
        field_str(&c.magnitude, |m| format!("10^{m}")),
        c.magnitude
            .known()
            .map(|m| Magnitude::Power(u32::from(*m)).words()),
        false,
    );
    push(
        "customer_impact.saw",
        field_str(&c.saw, Clone::clone),
        None,
        matches!(c.saw, Field::Known(_)),
    );
    push(
        "customer_impact.duration_minutes",
        field_str(&c.duration_minutes, |m| format!("{m} min")),
        c.duration_minutes.known().and_then(|m| {
            DurationBucket::of_seconds(i64::try_from(*m).ok()?.saturating_mul(60))
                .map(|b| b.label().to_owned())
        }),
        false,
    );
    push(
        "customer_impact.data_loss",
        field_str(&c.data_loss, |d| d.as_str().to_owned()),
        None,
        false,
    );
    for f in &r.factors {
        out.push(Line {
            path: format!("factors.{}", f.id),
            prefix: format!("- {} ({}, {}): ", f.id, f.category, f.role),
            class: r.disclosure_of(&format!("factors.{}", f.id)),
            original: f.description.clone(),
            public: None,
            text: true,
            block: false,
        });
    }
    for a in &r.actions {
        let pattern = field_str(&a.pattern, |p| p.as_str().to_owned());
        out.push(Line {
            path: format!("actions.{}", a.id),
            prefix: format!(
                "- {} ({}, {pattern}, {}; addresses {}): ",
                a.id,
                a.kind,
                a.status,
                a.addresses.join(", "),
            ),
            class: r.disclosure_of(&format!("actions.{}", a.id)),
            // The owner role is free text too ("owner: Dana's team" must be scrubbed).
            original: format!("{} (owner: {})", a.description, a.owner_role),
            public: None,
            text: true,
            block: false,
        });
    }
    for s in &r.sections {
        out.push(Line {
            path: format!("sections.{}", s.name.slug()),
            prefix: format!("## {}\n\n", s.name.heading()),
            class: r.disclosure_of(&format!("sections.{}", s.name.slug())),
            original: s.text.clone(),
            public: None,
            text: true,
            block: true,
        });
    }
    out
}
