//! Markdown + TOML front matter to a typed [`Report`], with every problem located.
//!
//! The front matter is parsed with `toml`'s spanned document model (`DeTable`) rather than serde,
//! so that each wrong type, unknown key or bad value is reported at its own line and column, and
//! all of them are reported at once instead of stopping at the first.

use std::collections::BTreeMap;
use std::ops::Range;

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::check;
use super::diag::{Level, Sink};
use super::taxonomy::{Vocabulary, closest};
use super::{
    Action, CustomerImpact, DataLoss, Factor, Field, Industry, LintOutcome, MARKER_NA,
    MARKER_UNKNOWN, MARKER_WITHHELD, Report, ReportKind, Section, SectionName, Timeline,
};
use crate::Timestamp;
use crate::canonical::MAX_SAFE_INTEGER;

/// Field path -> byte span in the source, used to locate the cross-checks' findings.
pub(crate) type SourceMap = BTreeMap<String, Range<usize>>;

const ROOT_KEYS: &[&str] = &[
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
    "timeline",
    "customer_impact",
    "disclosure",
    "factors",
    "actions",
];
const TIMELINE_KEYS: &[&str] = &["started", "detected", "mitigated", "resolved"];
const IMPACT_KEYS: &[&str] = &["who", "magnitude", "saw", "duration_minutes", "data_loss"];
const FACTOR_KEYS: &[&str] = &["id", "category", "role", "description"];
const ACTION_KEYS: &[&str] = &[
    "id",
    "kind",
    "pattern",
    "owner_role",
    "status",
    "addresses",
    "description",
    "worth_sharing",
];

/// Every front-matter key the parser accepts, as `table.key` paths (docs/format.md must name each).
pub const ACCEPTED_KEYS: &[(&str, &[&str])] = &[
    ("", ROOT_KEYS),
    ("timeline", TIMELINE_KEYS),
    ("customer_impact", IMPACT_KEYS),
    ("factors", FACTOR_KEYS),
    ("actions", ACTION_KEYS),
];

pub(crate) fn lint_text(source: &str) -> LintOutcome {
    let mut sink = Sink::new(source);
    let mut map = SourceMap::new();
    let report = read(source, &mut sink, &mut map);
    if let Some(report) = &report {
        for finding in check::check(report) {
            let span = locate(&map, &finding.path);
            sink.push(
                finding.level,
                finding.code,
                finding.path,
                span,
                finding.message,
                finding.help,
            );
        }
    }
    let mut diagnostics = sink.diagnostics;
    diagnostics.sort_by_key(|d| (d.line, d.column, d.level));
    LintOutcome {
        report,
        diagnostics,
    }
}

/// The span of a path, or of its nearest recorded parent (`factors[2].role` -> `factors[2]`).
fn locate(map: &SourceMap, path: &str) -> Range<usize> {
    let mut p = path;
    loop {
        if let Some(span) = map.get(p) {
            return span.clone();
        }
        match p.rfind(['.', '[']) {
            Some(i) => p = &p[..i],
            None => return map.get("").cloned().unwrap_or(0..0),
        }
    }
}

fn read(source: &str, sink: &mut Sink<'_>, map: &mut SourceMap) -> Option<Report> {
    let start = if source.starts_with('\u{feff}') {
        '\u{feff}'.len_utf8()
    } else {
        0
    };
    let (fence, toml_range, body_start) = split_front_matter(source, start, sink)?;
    map.insert(String::new(), fence);
    let toml_text = &source[toml_range.clone()];
    let doc = match DeTable::parse(toml_text) {
        Ok(doc) => doc,
        Err(err) => {
            let at = err.span().map_or(0, |s| s.start) + toml_range.start;
            let message = err
                .message()
                .lines()
                .next()
                .unwrap_or("invalid TOML")
                .trim()
                .to_owned();
            sink.error(
                "toml-syntax",
                "(front matter)",
                at..at,
                format!("TOML syntax error: {message}"),
                "fix the TOML syntax: strings need double quotes, tables go after plain keys; see docs/format.md",
            );
            return None;
        }
    };
    let mut ctx = Ctx {
        sink,
        map,
        base: toml_range.start,
    };
    let front = ctx.front_matter(doc.get_ref());
    let body = &source[body_start..];
    let sections = read_body(body, body_start, ctx.sink, ctx.map);
    ctx.map
        .insert("sections".into(), source.len()..source.len());
    let front = front?;
    Some(Report { sections, ..front })
}

/// Finds the `+++` fences. Returns (opening fence span, TOML span, body start).
fn split_front_matter(
    source: &str,
    start: usize,
    sink: &mut Sink<'_>,
) -> Option<(Range<usize>, Range<usize>, usize)> {
    let mut lines = line_spans(source, start);
    let opening = lines
        .next()
        .filter(|(s, e)| source[*s..*e].trim_end() == "+++");
    let Some((open_start, open_end)) = opening else {
        sink.error(
            "front-matter-missing",
            "(file)",
            start..start,
            "the report has no front matter: the first line must be `+++`",
            "start the file with a `+++` line, the TOML fields, and another `+++` line (run `debrief report new` for a template)",
        );
        return None;
    };
    let toml_start = (open_end + 1).min(source.len());
    for (s, e) in lines {
        if source[s..e].trim_end() == "+++" {
            return Some((
                open_start..open_end,
                toml_start..s,
                (e + 1).min(source.len()),
            ));
        }
    }
    sink.error(
        "front-matter-unclosed",
        "(file)",
        open_start..open_end,
        "the front matter opened here is never closed",
        "add a line containing only `+++` after the last TOML field",
    );
    None
}

/// (start, end-before-newline) of each line from `start`.
fn line_spans(source: &str, start: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut pos = start;
    std::iter::from_fn(move || {
        if pos >= source.len() {
            return None;
        }
        let end = source[pos..].find('\n').map_or(source.len(), |i| pos + i);
        let line = (pos, end);
        pos = end + 1;
        Some(line)
    })
}

type Value<'i> = Spanned<DeValue<'i>>;

struct Ctx<'s, 'a> {
    sink: &'s mut Sink<'a>,
    map: &'s mut SourceMap,
    base: usize,
}

/// The known keys of one TOML table, with unknown ones already reported.
struct Fields<'t, 'i> {
    path: String,
    at: Range<usize>,
    entries: BTreeMap<&'t str, &'t Value<'i>>,
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

impl<'a> Ctx<'_, 'a> {
    fn span(&self, s: Range<usize>) -> Range<usize> {
        s.start + self.base..s.end + self.base
    }

    fn fields<'t, 'i>(
        &mut self,
        path: &str,
        at: Range<usize>,
        table: &'t DeTable<'i>,
        allowed: &[&str],
    ) -> Fields<'t, 'i> {
        let mut entries = BTreeMap::new();
        for (key, value) in table.iter() {
            let name: &str = key.get_ref();
            let key_span = self.span(key.span());
            let full = join(path, name);
            if allowed.contains(&name) {
                self.map.insert(full, self.span(value.span()));
                entries.insert(name, value);
            } else {
                let help = match closest(name, allowed.iter().copied()) {
                    Some(s) => {
                        format!("did you mean `{s}`? (allowed here: {})", allowed.join(", "))
                    }
                    None => format!("remove it; allowed here: {}", allowed.join(", ")),
                };
                self.sink.error(
                    "unknown-key",
                    full,
                    key_span,
                    format!("unknown key `{name}`"),
                    help,
                );
            }
        }
        Fields {
            path: path.to_owned(),
            at,
            entries,
        }
    }

    fn required<'t, 'i>(
        &mut self,
        f: &Fields<'t, 'i>,
        key: &str,
        hint: &str,
    ) -> Option<&'t Value<'i>> {
        let found = f.entries.get(key).copied();
        if found.is_none() {
            let path = join(&f.path, key);
            self.sink.error(
                "missing-field",
                path,
                f.at.clone(),
                format!("required field `{key}` is missing"),
                hint.to_owned(),
            );
        }
        found
    }

    fn wrong_type(&mut self, path: &str, v: &Value<'_>, expected: &str, help: &str) {
        let span = self.span(v.span());
        self.sink.error(
            "wrong-type",
            path,
            span,
            format!("expected {expected}, found {}", type_name(v.get_ref())),
            help.to_owned(),
        );
    }

    fn string(&mut self, path: &str, v: &Value<'_>) -> Option<String> {
        match v.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            _ => {
                self.wrong_type(path, v, "a string", "put the text in double quotes");
                None
            }
        }
    }

    fn term<T: Vocabulary>(&mut self, path: &str, v: &Value<'_>) -> Option<T> {
        let text = match v.get_ref() {
            DeValue::String(s) => s,
            _ => {
                let help = format!("write one of: {}", T::spellings().join(", "));
                self.wrong_type(path, v, &format!("a {} (string)", T::WHAT), &help);
                return None;
            }
        };
        match T::parse_term(text) {
            Ok(t) => Some(t),
            Err(_) => {
                let spellings = T::spellings();
                let help = match closest(text, spellings.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if spellings.len() <= 8 => {
                        format!("write one of: {}", spellings.join(", "))
                    }
                    None => format!("see docs/format.md for every allowed {}", T::WHAT),
                };
                let span = self.span(v.span());
                self.sink.error(
                    "unknown-value",
                    path,
                    span,
                    format!("unknown {} `{text}`", T::WHAT),
                    help,
                );
                None
            }
        }
    }

    /// A value that may be one of the markers. `inner` reads a known value.
    fn field<T>(
        &mut self,
        path: &str,
        v: &Value<'_>,
        inner: impl FnOnce(&mut Self, &str, &Value<'_>) -> Option<T>,
    ) -> Option<Field<T>> {
        if let DeValue::String(s) = v.get_ref()
            && let Some(marker) = Field::from_marker(s)
        {
            return Some(marker);
        }
        let before = self.sink.diagnostics.len();
        let value = inner(self, path, v);
        // A misspelt marker ("unkown") is more likely than a misspelt value: say so.
        if value.is_none()
            && let DeValue::String(s) = v.get_ref()
            && let Some(marker) = closest(s, [MARKER_UNKNOWN, MARKER_NA, MARKER_WITHHELD])
            && let Some(last) = self
                .sink
                .diagnostics
                .get_mut(before..)
                .and_then(|d| d.last_mut())
        {
            last.help = Some(format!("did you mean `{marker}`?"));
        }
        value.map(Field::Known)
    }

    fn timestamp(&mut self, path: &str, v: &Value<'_>) -> Option<Timestamp> {
        let span = self.span(v.span());
        let text = match v.get_ref() {
            DeValue::Datetime(dt) => {
                if dt.date.is_none() || dt.time.is_none() || dt.offset.is_none() {
                    self.sink.error(
                        "invalid-value",
                        path,
                        span,
                        format!("`{dt}` is not a full date and time with a UTC offset"),
                        "write an RFC 3339 instant with an offset, like 2017-02-28T09:37:00-08:00 or 2017-02-28T17:37:00Z",
                    );
                    return None;
                }
                dt.to_string()
            }
            DeValue::String(s) => {
                if let Some(m) = closest(s, [MARKER_UNKNOWN, MARKER_NA, MARKER_WITHHELD]) {
                    self.sink.error(
                        "invalid-value",
                        path,
                        span,
                        format!("`{s}` is neither an instant nor a missing-value marker"),
                        format!("did you mean `{m}`?"),
                    );
                    return None;
                }
                s.to_string()
            }
            _ => {
                self.wrong_type(
                    path,
                    v,
                    "an RFC 3339 instant",
                    "write e.g. 2017-02-28T17:37:00Z, or \"unknown\"",
                );
                return None;
            }
        };
        match OffsetDateTime::parse(&text, &Rfc3339) {
            Ok(dt) => Some(Timestamp::from_datetime(dt)),
            Err(_) => {
                self.sink.error(
                    "invalid-value",
                    path,
                    span,
                    format!("`{text}` is not an RFC 3339 instant with an offset"),
                    "write e.g. 2017-02-28T09:37:00-08:00, or one of \"unknown\", \"n/a\", \"withheld\"",
                );
                None
            }
        }
    }

    fn integer(&mut self, path: &str, v: &Value<'_>, max: u64, what: &str) -> Option<u64> {
        let span = self.span(v.span());
        let DeValue::Integer(i) = v.get_ref() else {
            let help = match v.get_ref() {
                DeValue::String(s) => {
                    match closest(s, [MARKER_UNKNOWN, MARKER_NA, MARKER_WITHHELD]) {
                        Some(m) => format!("did you mean `{m}`?"),
                        None => format!(
                            "write {what} without quotes, or \"unknown\", \"n/a\", \"withheld\""
                        ),
                    }
                }
                _ => format!("write {what}"),
            };
            self.wrong_type(path, v, "an integer", &help);
            return None;
        };
        match u64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) if n <= max => Some(n),
            _ => {
                self.sink.error(
                    "invalid-value",
                    path,
                    span,
                    format!("{} is out of range", i.as_str()),
                    format!("write {what} (0 to {max})"),
                );
                None
            }
        }
    }

    fn strings(&mut self, path: &str, v: &Value<'_>) -> Option<Vec<String>> {
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(path, v, "an array of strings", "write e.g. [\"a\", \"b\"]");
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match self.string(&format!("{path}[{i}]"), item) {
                Some(s) => out.push(s),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn table<'t, 'i>(
        &mut self,
        path: &str,
        v: &'t Value<'i>,
        allowed: &[&str],
    ) -> Option<Fields<'t, 'i>> {
        match v.get_ref() {
            DeValue::Table(t) => {
                let at = self
                    .map
                    .get(path)
                    .cloned()
                    .unwrap_or_else(|| self.span(v.span()));
                Some(self.fields(path, at, t, allowed))
            }
            _ => {
                self.wrong_type(path, v, "a table", &format!("write a [{path}] table"));
                None
            }
        }
    }

    fn front_matter(&mut self, doc: &DeTable<'_>) -> Option<Report> {
        let root_at = self.map.get("").cloned().unwrap_or(0..0);
        let root = self.fields("", root_at, doc, ROOT_KEYS);
        let id = self.required(&root, "id", "add e.g. id = \"2026-03-api-outage\"");
        let id = id.and_then(|v| self.string("id", v));
        let kind = self.required(
            &root,
            "kind",
            "add kind = \"postmortem\" (or \"book-report\")",
        );
        let kind = kind.and_then(|v| self.term::<ReportKind>("kind", v));
        let title = self.required(&root, "title", "add a one-line title");
        let title = title.and_then(|v| self.string("title", v));
        let status = self.required(&root, "status", "add status = \"draft\"");
        let status = status.and_then(|v| self.term("status", v));
        let severity = self.required(&root, "severity", "add severity = \"sev1\" .. \"sev4\"");
        let severity = severity.and_then(|v| self.term("severity", v));
        let significance = self.required(
            &root,
            "significance",
            "add significance (internal, lesson, significant, major)",
        );
        let significance = significance.and_then(|v| self.term("significance", v));
        let industry = self.required(
            &root,
            "industry",
            "add industry (see docs/format.md), or \"withheld\"",
        );
        let industry =
            industry.and_then(|v| self.field("industry", v, |c, p, v| c.term::<Industry>(p, v)));
        let services = self.required(
            &root,
            "services",
            "add services = [\"...\"], or \"unknown\"",
        );
        let services = services.and_then(|v| self.field("services", v, |c, p, v| c.strings(p, v)));
        let tlp = self.required(
            &root,
            "tlp",
            "add tlp = \"AMBER\" (or CLEAR, GREEN, AMBER+STRICT, RED)",
        );
        let tlp = tlp.and_then(|v| self.term("tlp", v));
        let mut source_ok = true;
        let mut source = |c: &mut Self, key: &str| match root.entries.get(key) {
            Some(v) => {
                let s = c.string(key, v);
                source_ok &= s.is_some();
                s
            }
            None => None,
        };
        let source_url = source(self, "source_url");
        let source_org = source(self, "source_org");

        let timeline = self.required(
            &root,
            "timeline",
            "add a [timeline] table with started, detected, mitigated, resolved",
        );
        let timeline = timeline.and_then(|v| self.timeline(v));
        let impact = self.required(&root, "customer_impact", "add a [customer_impact] table");
        let impact = impact.and_then(|v| self.impact(v));
        let disclosure = match root.entries.get("disclosure") {
            Some(v) => self.disclosure(v),
            None => Some(BTreeMap::new()),
        };
        let factors = match root.entries.get("factors") {
            Some(v) => self.list("factors", v, Self::factor),
            None => Some(Vec::new()),
        };
        let actions = match root.entries.get("actions") {
            Some(v) => self.list("actions", v, Self::action),
            None => Some(Vec::new()),
        };
        if !source_ok {
            return None;
        }
        Some(Report {
            id: id?,
            kind: kind?,
            title: title?,
            status: status?,
            severity: severity?,
            significance: significance?,
            industry: industry?,
            services: services?,
            tlp: tlp?,
            source_url,
            source_org,
            timeline: timeline?,
            customer_impact: impact?,
            disclosure: disclosure?,
            factors: factors?,
            actions: actions?,
            sections: Vec::new(),
        })
    }

    fn timeline(&mut self, v: &Value<'_>) -> Option<Timeline> {
        let t = self.table("timeline", v, TIMELINE_KEYS)?;
        let instant = |c: &mut Self, key: &str| {
            let path = format!("timeline.{key}");
            let hint = format!("add {key} = 2017-02-28T17:37:00Z, or {key} = \"unknown\"");
            c.required(&t, key, &hint)
                .and_then(|v| c.field(&path, v, Self::timestamp))
        };
        let started = instant(self, "started");
        let detected = instant(self, "detected");
        let mitigated = instant(self, "mitigated");
        let resolved = instant(self, "resolved");
        Some(Timeline {
            started: started?,
            detected: detected?,
            mitigated: mitigated?,
            resolved: resolved?,
        })
    }

    fn impact(&mut self, v: &Value<'_>) -> Option<CustomerImpact> {
        let t = self.table("customer_impact", v, IMPACT_KEYS)?;
        let hint =
            |k: &str| format!("add {k} = ..., or {k} = \"unknown\" / \"n/a\" / \"withheld\"");
        let who = self.required(&t, "who", &hint("who"));
        let who = who.and_then(|v| self.field("customer_impact.who", v, Self::string));
        let magnitude = self.required(&t, "magnitude", &hint("magnitude"));
        let magnitude = magnitude.and_then(|v| {
            self.field("customer_impact.magnitude", v, |c, p, v| {
                c.integer(p, v, 10, "the order of magnitude (3 means thousands)")
                    .map(|n| n as u8)
            })
        });
        let saw = self.required(&t, "saw", &hint("saw"));
        let saw = saw.and_then(|v| self.field("customer_impact.saw", v, Self::string));
        let duration = self.required(&t, "duration_minutes", &hint("duration_minutes"));
        let duration = duration.and_then(|v| {
            self.field("customer_impact.duration_minutes", v, |c, p, v| {
                c.integer(p, v, MAX_SAFE_INTEGER, "whole minutes")
            })
        });
        let data_loss = self.required(&t, "data_loss", &hint("data_loss"));
        let data_loss = data_loss.and_then(|v| {
            self.field("customer_impact.data_loss", v, |c, p, v| {
                c.term::<DataLoss>(p, v)
            })
        });
        Some(CustomerImpact {
            who: who?,
            magnitude: magnitude?,
            saw: saw?,
            duration_minutes: duration?,
            data_loss: data_loss?,
        })
    }

    fn disclosure(&mut self, v: &Value<'_>) -> Option<BTreeMap<String, super::DisclosureClass>> {
        let DeValue::Table(t) = v.get_ref() else {
            self.wrong_type(
                "disclosure",
                v,
                "a table",
                "write a [disclosure] table of \"field.path\" = \"class\"",
            );
            return None;
        };
        let mut out = BTreeMap::new();
        let mut ok = true;
        self.disclosure_entries("", t, &mut out, &mut ok);
        ok.then_some(out)
    }

    /// Dotted keys (`customer_impact.who = ...`) arrive as nested tables; flatten them to paths.
    fn disclosure_entries(
        &mut self,
        prefix: &str,
        t: &DeTable<'_>,
        out: &mut BTreeMap<String, super::DisclosureClass>,
        ok: &mut bool,
    ) {
        for (key, value) in t.iter() {
            let path = join(prefix, key.get_ref());
            if let DeValue::Table(inner) = value.get_ref() {
                self.disclosure_entries(&path, inner, out, ok);
                continue;
            }
            let full = format!("disclosure.{path}");
            self.map.insert(full.clone(), self.span(key.span()));
            match self.term(&full, value) {
                Some(class) => {
                    out.insert(path, class);
                }
                None => *ok = false,
            }
        }
    }

    fn list<T>(
        &mut self,
        path: &str,
        v: &Value<'_>,
        item: impl Fn(&mut Self, &str, &Value<'_>) -> Option<T>,
    ) -> Option<Vec<T>> {
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(
                path,
                v,
                "an array of tables",
                &format!("write each entry as a [[{path}]] table"),
            );
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (i, entry) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            self.map.insert(p.clone(), self.span(entry.span()));
            match item(self, &p, entry) {
                Some(x) => out.push(x),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn factor(&mut self, path: &str, v: &Value<'_>) -> Option<Factor> {
        let t = self.table(path, v, FACTOR_KEYS)?;
        let id = self.required(&t, "id", "add id = \"F1\" (F2, F3, ... in order)");
        let id = id.and_then(|v| self.string(&format!("{path}.id"), v));
        let category = self.required(
            &t,
            "category",
            "add a category from the taxonomy (docs/format.md)",
        );
        let category = category.and_then(|v| self.term(&format!("{path}.category"), v));
        let role = self.required(
            &t,
            "role",
            "add role (trigger, latent-condition, amplifier, detection-delay, recovery-delay)",
        );
        let role = role.and_then(|v| self.term(&format!("{path}.role"), v));
        let description = self.required(&t, "description", "add a one-paragraph description");
        let description = description.and_then(|v| self.string(&format!("{path}.description"), v));
        Some(Factor {
            id: id?,
            category: category?,
            role: role?,
            description: description?,
        })
    }

    fn action(&mut self, path: &str, v: &Value<'_>) -> Option<Action> {
        let t = self.table(path, v, ACTION_KEYS)?;
        let p = |k: &str| format!("{path}.{k}");
        let id = self.required(&t, "id", "add id = \"A1\" (A2, A3, ... in order)");
        let id = id.and_then(|v| self.string(&p("id"), v));
        let kind = self.required(
            &t,
            "kind",
            "add kind (prevent, detect, mitigate, recover, process)",
        );
        let kind = kind.and_then(|v| self.term(&p("kind"), v));
        let pattern = self.required(
            &t,
            "pattern",
            "add a remediation pattern (docs/format.md), or pattern = \"n/a\"",
        );
        let pattern =
            pattern.and_then(|v| self.field(&p("pattern"), v, |c, path, v| c.term(path, v)));
        let owner = self.required(
            &t,
            "owner_role",
            "add owner_role = \"...\" (a role, not a person)",
        );
        let owner = owner.and_then(|v| self.string(&p("owner_role"), v));
        let status = self.required(
            &t,
            "status",
            "add status (open, in-progress, done, wont-do)",
        );
        let status = status.and_then(|v| self.term(&p("status"), v));
        let addresses = self.required(&t, "addresses", "add addresses = [\"F1\"]");
        let addresses = addresses.and_then(|v| self.strings(&p("addresses"), v));
        let description = self.required(&t, "description", "add a one-line description");
        let description = description.and_then(|v| self.string(&p("description"), v));
        let worth_sharing = match t.entries.get("worth_sharing") {
            None => Some(false),
            Some(v) => match v.get_ref() {
                DeValue::Boolean(b) => Some(*b),
                _ => {
                    self.wrong_type(
                        &p("worth_sharing"),
                        v,
                        "a boolean",
                        "write true or false, without quotes",
                    );
                    None
                }
            },
        };
        Some(Action {
            id: id?,
            kind: kind?,
            pattern: pattern?,
            owner_role: owner?,
            status: status?,
            addresses: addresses?,
            description: description?,
            worth_sharing: worth_sharing?,
        })
    }
}

/// A top-level block of the body.
enum Block {
    Heading { level: HeadingLevel, text: String },
    Comment,
    Other,
}

fn read_body(body: &str, offset: usize, sink: &mut Sink<'_>, map: &mut SourceMap) -> Vec<Section> {
    let mut blocks: Vec<(Range<usize>, Block)> = Vec::new();
    let mut depth = 0usize;
    let mut heading: Option<(HeadingLevel, String)> = None;
    for (event, range) in Parser::new_ext(body, Options::empty()).into_offset_iter() {
        match event {
            Event::Start(tag) => {
                if depth == 0
                    && let Tag::Heading { level, .. } = tag
                {
                    heading = Some((level, String::new()));
                }
                depth += 1;
            }
            Event::End(end) => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    let block = match (end, heading.take()) {
                        (TagEnd::Heading(_), Some((level, text))) => Block::Heading { level, text },
                        (TagEnd::HtmlBlock, _) if is_comment(&body[range.clone()]) => {
                            Block::Comment
                        }
                        _ => Block::Other,
                    };
                    blocks.push((range, block));
                }
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some((_, text)) = heading.as_mut() {
                    text.push_str(&t);
                }
            }
            _ if depth == 0 => blocks.push((range, Block::Other)),
            _ => {}
        }
    }

    let mut sections: Vec<Section> = Vec::new();
    let mut current: Option<(SectionName, Vec<Range<usize>>)> = None;
    let mut in_unknown = false;
    let mut preamble_reported = false;
    let finish = |current: &mut Option<(SectionName, Vec<Range<usize>>)>,
                  sections: &mut Vec<Section>| {
        if let Some((name, ranges)) = current.take() {
            sections.push(Section {
                name,
                text: section_text(body, &ranges),
            });
        }
    };
    for (range, block) in blocks {
        let at = range.start + offset..range.end + offset;
        match block {
            Block::Heading {
                level: HeadingLevel::H2,
                text,
            } => {
                finish(&mut current, &mut sections);
                in_unknown = false;
                match SectionName::from_heading(&text) {
                    Some(name) => {
                        let path = format!("sections.{}", name.slug());
                        if sections.iter().any(|s| s.name == name) {
                            sink.error(
                                "section-duplicate",
                                path,
                                at,
                                format!("section `## {}` appears twice", name.heading()),
                                "merge the two sections into one",
                            );
                            in_unknown = true;
                        } else {
                            map.insert(path, at);
                            current = Some((name, Vec::new()));
                        }
                    }
                    None => {
                        let headings = SectionName::ALL.iter().map(|s| s.heading());
                        let help = match closest(&text, headings) {
                            Some(s) => format!("did you mean `## {s}`?"),
                            None => format!(
                                "use the fixed sections ({}); use ### for sub-headings",
                                SectionName::ALL
                                    .iter()
                                    .map(|s| s.heading())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        };
                        sink.error(
                            "section-unknown",
                            "sections",
                            at,
                            format!("unknown section `## {}`", text.trim()),
                            help,
                        );
                        in_unknown = true;
                    }
                }
            }
            Block::Comment => {}
            _ => {
                match current.as_mut() {
                    Some((_, ranges)) => ranges.push(range),
                    None if in_unknown => {}
                    None => {
                        if !preamble_reported {
                            sink.push(
                            Level::Error,
                            "body-preamble",
                            "sections",
                            at,
                            "text before the first `##` section",
                            Some("move it under `## Summary` (the title lives in the front matter)".into()),
                        );
                            preamble_reported = true;
                        }
                    }
                }
            }
        }
    }
    finish(&mut current, &mut sections);
    sections
}

fn is_comment(html: &str) -> bool {
    let t = html.trim();
    t.starts_with("<!--") && t.ends_with("-->")
}

/// Joins a section's blocks with the source between them, so the author's Markdown is kept as
/// written; only top-level HTML comments (the template's guidance) are left out.
fn section_text(body: &str, ranges: &[Range<usize>]) -> String {
    let Some(first) = ranges.first() else {
        return String::new();
    };
    let mut out = String::new();
    let mut pos = first.start;
    for r in ranges {
        if r.start > pos {
            let gap = &body[pos..r.start];
            // A gap holding a removed comment becomes one blank line.
            if gap.contains("<!--") {
                let kept = out.trim_end().len();
                out.truncate(kept);
                out.push_str("\n\n");
            } else {
                out.push_str(gap);
            }
        }
        out.push_str(&body[r.clone()]);
        pos = r.end;
    }
    // Line endings are normalised so that the same text signs the same on every platform.
    let out = out.replace("\r\n", "\n");
    let trimmed = out.trim_end();
    let start = trimmed.len() - trimmed.trim_start_matches(['\n', '\r']).len();
    trimmed[start..].to_owned()
}
