//! Writing reports: Markdown with front matter (parses back to an equal report), a terminal
//! rendering, and the `report new` templates.

use std::fmt::Write as _;

use super::taxonomy::Vocabulary;
use super::{Field, Report, ReportKind, SectionName};
use crate::Timestamp;

/// A TOML basic string: quotes, backslashes and control characters escaped.
fn toml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn toml_list(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|s| toml_str(s))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn field_toml<T>(f: &Field<T>, known: impl FnOnce(&T) -> String) -> String {
    match f {
        Field::Known(v) => known(v),
        other => toml_str(other.marker().unwrap_or("unknown")),
    }
}

fn term<T: Vocabulary>(t: &T) -> String {
    toml_str(t.as_str())
}

pub(crate) fn render_markdown(r: &Report) -> String {
    let mut o = String::new();
    let line = |o: &mut String, key: &str, value: String| {
        let _ = writeln!(o, "{key} = {value}");
    };
    o.push_str("+++\n");
    line(&mut o, "id", toml_str(&r.id));
    line(&mut o, "kind", term(&r.kind));
    line(&mut o, "title", toml_str(&r.title));
    line(&mut o, "status", term(&r.status));
    line(&mut o, "severity", term(&r.severity));
    line(&mut o, "significance", term(&r.significance));
    line(
        &mut o,
        "industry",
        field_toml(&r.industry, |i| toml_str(i.as_str())),
    );
    line(
        &mut o,
        "services",
        field_toml(&r.services, |s| toml_list(s)),
    );
    line(&mut o, "tlp", term(&r.tlp));
    if let Some(url) = &r.source_url {
        line(&mut o, "source_url", toml_str(url));
    }
    if let Some(org) = &r.source_org {
        line(&mut o, "source_org", toml_str(org));
    }
    let instant = |t: &Field<Timestamp>| field_toml(t, |t| t.to_string());
    o.push_str("\n[timeline]\n");
    line(&mut o, "started", instant(&r.timeline.started));
    line(&mut o, "detected", instant(&r.timeline.detected));
    line(&mut o, "mitigated", instant(&r.timeline.mitigated));
    line(&mut o, "resolved", instant(&r.timeline.resolved));
    let c = &r.customer_impact;
    o.push_str("\n[customer_impact]\n");
    line(&mut o, "who", field_toml(&c.who, |s| toml_str(s)));
    line(
        &mut o,
        "magnitude",
        field_toml(&c.magnitude, |m| m.to_string()),
    );
    line(&mut o, "saw", field_toml(&c.saw, |s| toml_str(s)));
    line(
        &mut o,
        "duration_minutes",
        field_toml(&c.duration_minutes, |d| d.to_string()),
    );
    line(&mut o, "data_loss", field_toml(&c.data_loss, term));
    if !r.disclosure.is_empty() {
        o.push_str("\n[disclosure]\n");
        for (path, class) in &r.disclosure {
            line(&mut o, &toml_str(path), term(class));
        }
    }
    for x in &r.factors {
        o.push_str("\n[[factors]]\n");
        line(&mut o, "id", toml_str(&x.id));
        line(&mut o, "category", term(&x.category));
        line(&mut o, "role", term(&x.role));
        line(&mut o, "description", toml_str(&x.description));
    }
    for a in &r.actions {
        o.push_str("\n[[actions]]\n");
        line(&mut o, "id", toml_str(&a.id));
        line(&mut o, "kind", term(&a.kind));
        line(&mut o, "pattern", field_toml(&a.pattern, term));
        line(&mut o, "owner_role", toml_str(&a.owner_role));
        line(&mut o, "status", term(&a.status));
        line(&mut o, "addresses", toml_list(&a.addresses));
        line(&mut o, "description", toml_str(&a.description));
        if a.worth_sharing {
            line(&mut o, "worth_sharing", "true".into());
        }
    }
    o.push_str("+++\n");
    for s in &r.sections {
        let _ = write!(o, "\n## {}\n", s.name.heading());
        if !s.text.is_empty() {
            let _ = write!(o, "\n{}\n", s.text);
        }
    }
    o
}

fn shown<T>(f: &Field<T>, known: impl FnOnce(&T) -> String) -> String {
    match f {
        Field::Known(v) => known(v),
        other => format!("({})", other.marker().unwrap_or("unknown")),
    }
}

fn minutes_between(a: &Field<Timestamp>, b: &Field<Timestamp>) -> Option<i64> {
    Some((b.known()?.unix() - a.known()?.unix()) / 60)
}

pub(crate) fn render_text(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{}", r.title);
    let _ = writeln!(o, "{}", "=".repeat(r.title.chars().count().clamp(3, 78)));
    let _ = writeln!(o, "{} {} · {} · TLP:{}", r.kind, r.id, r.status, r.tlp);
    let _ = writeln!(
        o,
        "severity {} ({})\nsignificance {} ({})",
        r.severity,
        r.severity.description(),
        r.significance,
        r.significance.description()
    );
    let _ = writeln!(o, "industry {}", shown(&r.industry, |i| i.to_string()));
    let _ = writeln!(o, "services {}", shown(&r.services, |s| s.join(", ")));
    if let (Some(url), Some(org)) = (&r.source_url, &r.source_org) {
        let _ = writeln!(o, "source   {org}: {url}");
    }
    let t = &r.timeline;
    let _ = writeln!(o, "\nTimeline (UTC)");
    for (name, value) in [
        ("started", &t.started),
        ("detected", &t.detected),
        ("mitigated", &t.mitigated),
        ("resolved", &t.resolved),
    ] {
        let offset =
            minutes_between(&t.started, value).map_or(String::new(), |m| format!("  (T+{m} min)"));
        let _ = writeln!(o, "  {name:<10}{}{offset}", shown(value, |t| t.to_string()));
    }
    let c = &r.customer_impact;
    let _ = writeln!(o, "\nCustomer impact");
    let _ = writeln!(o, "  who       {}", shown(&c.who, String::clone));
    let _ = writeln!(
        o,
        "  how many  {}",
        shown(&c.magnitude, |m| format!("about 10^{m}"))
    );
    let _ = writeln!(o, "  saw       {}", shown(&c.saw, String::clone));
    let _ = writeln!(
        o,
        "  duration  {}",
        shown(&c.duration_minutes, |d| format!("{d} min"))
    );
    let _ = writeln!(o, "  data loss {}", shown(&c.data_loss, |d| d.to_string()));
    if !r.factors.is_empty() {
        let _ = writeln!(o, "\nContributing factors");
        for x in &r.factors {
            let _ = writeln!(
                o,
                "  {} [{} / {}] {}",
                x.id, x.category, x.role, x.description
            );
        }
    }
    if !r.actions.is_empty() {
        let _ = writeln!(o, "\nActions");
        for a in &r.actions {
            let pattern = shown(&a.pattern, |p| p.text().name.to_owned());
            let star = if a.worth_sharing {
                " ★ worth sharing"
            } else {
                ""
            };
            let _ = writeln!(
                o,
                "  {} {} ({}) → {} · {} · pattern: {}{star}\n     {}",
                a.id,
                a.kind,
                a.status,
                a.addresses.join(", "),
                a.owner_role,
                pattern,
                a.description
            );
        }
    }
    for s in &r.sections {
        let _ = writeln!(
            o,
            "\n{}\n{}",
            s.name.heading(),
            "-".repeat(s.name.heading().len())
        );
        let _ = writeln!(
            o,
            "{}",
            if s.text.is_empty() {
                "(empty)"
            } else {
                &s.text
            }
        );
    }
    o
}

/// Guiding questions per section: (short form, additional questions for the long form).
fn questions(name: SectionName, kind: ReportKind) -> (&'static str, &'static [&'static str]) {
    let book = kind == ReportKind::BookReport;
    match name {
        SectionName::Summary if book => (
            "In three sentences: what happened to them, and why should a reader here care?",
            &["Which parts of their write-up are strongest, and which are missing?"],
        ),
        SectionName::Summary => (
            "In three sentences: what broke, who noticed, how it was fixed.",
            &["If a stranger reads only this paragraph, what should they take away?"],
        ),
        SectionName::Impact => (
            "What did customers see, for how long, and how many of them?",
            &[
                "Which customers were hit hardest, and did any lose data or money?",
                "What did it cost internally (people, time, trust)?",
            ],
        ),
        SectionName::Timeline => (
            "Key moments with times (say which time zone), from first cause to all clear.",
            &[
                "When could the failure first have been noticed? Who noticed, and how?",
                "Where did time go between detection and mitigation?",
            ],
        ),
        SectionName::ContributingFactors => (
            "What conditions, changes and decisions combined to make this happen? (No single root cause, no blame.)",
            &[
                "What made the action that triggered it seem reasonable at the time?",
                "What made the impact wider, or detection and recovery slower?",
            ],
        ),
        SectionName::WhatWentWell => (
            "What worked: tools, people, habits, luck that was earned?",
            &["Which safeguards did their job?"],
        ),
        SectionName::WhereWeGotLucky => (
            "What could easily have made this much worse, but did not?",
            &["Which near misses would you not bet on next time?"],
        ),
        SectionName::Actions => (
            "For each action in the front matter: why this one, and why it is enough?",
            &["Which remediation would be worth sharing with other companies even on its own?"],
        ),
        SectionName::Lessons if book => (
            "What would you change at your own company after reading this?",
            &["Would it have happened to you? Where is your version of their latent condition?"],
        ),
        SectionName::Lessons => (
            "What should another company learn from this?",
            &[
                "What surprised you? What did you believe about the system that turned out false?",
                "What would you ask a fresh pair of eyes to look at?",
            ],
        ),
    }
}

/// A new report to fill in: valid front matter with placeholder values and guiding questions as
/// comments. It lints with warnings only (the report is a `draft`): an empty title, no factors, no
/// actions and empty sections. `short` leaves out the longer question lists and field guide.
pub fn template(kind: ReportKind, short: bool, id: &str) -> String {
    let mut o = String::new();
    o.push_str("+++\n");
    if !short {
        o.push_str(
            "# Debrief report. Field reference: docs/format.md. Check with `debrief report lint FILE`.\n\
             # Missing values: \"unknown\" (nobody knows), \"n/a\" (does not apply), \"withheld\" (known, not shared).\n",
        );
    }
    let _ = writeln!(o, "id = {}", toml_str(id));
    let _ = writeln!(o, "kind = {}", toml_str(kind.as_str()));
    o.push_str("title = \"\"  # what broke, for whom, in one line\n");
    o.push_str("status = \"draft\"  # draft, review, final\n");
    o.push_str("severity = \"sev3\"  # sev1 critical .. sev4 no customer impact\n");
    o.push_str("significance = \"internal\"  # internal, lesson, significant, major (the linter checks it against the facts)\n");
    o.push_str("industry = \"unknown\"  # saas, cloud-hosting, finance, ecommerce, media, ... (docs/format.md)\n");
    o.push_str("services = \"unknown\"  # or a list: [\"api\", \"billing\"]\n");
    o.push_str("tlp = \"AMBER\"  # CLEAR, GREEN, AMBER, AMBER+STRICT, RED\n");
    if kind == ReportKind::BookReport {
        o.push_str("source_url = \"\"  # where the original postmortem is published\n");
        o.push_str("source_org = \"\"  # who published it\n");
    }
    o.push_str("\n[timeline]\n");
    if !short {
        o.push_str("# RFC 3339 with an offset, e.g. 2026-03-04T09:15:00+01:00 (stored in UTC).\n");
    }
    for key in ["started", "detected", "mitigated", "resolved"] {
        let _ = writeln!(o, "{key} = \"unknown\"");
    }
    o.push_str("\n[customer_impact]\n");
    o.push_str("who = \"unknown\"  # who was affected, in words\n");
    o.push_str("magnitude = \"unknown\"  # order of magnitude of the count: 3 means thousands\n");
    o.push_str("saw = \"unknown\"  # what they saw\n");
    o.push_str("duration_minutes = \"unknown\"\n");
    o.push_str("data_loss = \"unknown\"  # none, recovered, permanent\n");
    if !short {
        o.push_str(
            "\n# [disclosure]  # how each field may leave the circle: public, generalise, confidential, secret\n\
             # \"customer_impact.who\" = \"confidential\"\n\
             \n# One [[factors]] table per contributing factor, F1, F2, ... in order:\n\
             # [[factors]]\n\
             # id = \"F1\"\n\
             # category = \"change.config\"  # taxonomy in docs/format.md\n\
             # role = \"trigger\"  # trigger, latent-condition, amplifier, detection-delay, recovery-delay\n\
             # description = \"\"\n\
             \n# One [[actions]] table per action, A1, A2, ... in order:\n\
             # [[actions]]\n\
             # id = \"A1\"\n\
             # kind = \"prevent\"  # prevent, detect, mitigate, recover, process\n\
             # pattern = \"staged-rollout\"  # remediation patterns in docs/format.md, or \"n/a\"\n\
             # owner_role = \"\"  # a role, not a person\n\
             # status = \"open\"  # open, in-progress, done, wont-do\n\
             # addresses = [\"F1\"]\n\
             # description = \"\"\n\
             # worth_sharing = false  # true if other companies should hear about this remediation\n",
        );
    }
    o.push_str("+++\n");
    for name in SectionName::ALL {
        let (first, more) = questions(*name, kind);
        let _ = write!(o, "\n## {}\n\n<!-- {first}", name.heading());
        if !short {
            for q in more {
                let _ = write!(o, "\n     {q}");
            }
        }
        o.push_str(" -->\n");
    }
    o
}
