//! The archive's pages, feeds and indexes, computed from a verified log (docs/archive.md).
//!
//! Everything here is a pure function of the log: no clock, no randomness, sorted maps only, so
//! the same log gives the same bytes (docs/archive.md "Determinism").

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use debrief_protocol::Timestamp;
use debrief_protocol::encoding::base64_encode;
use debrief_protocol::ids::Sha256Digest;
use debrief_protocol::publog::{EntryBody, PublicContent, VerifiedLog};
use debrief_protocol::report::{
    FactorCategory, FactorRole, Field, RemediationPattern, SectionName, Severity, Significance,
};
use serde_json::{Value, json};

use super::html::{esc, markdown, plain_text, safe_url, xml_esc};

/// Bumped whenever the page templates change, so incremental builds re-render every page.
pub const RENDER_VERSION: &str = "archive-render-4";

/// Site-wide settings that are not in the log.
#[derive(Debug, Clone, Default)]
pub struct SiteOptions {
    /// Absolute URL the site is served from (ending in `/`); feeds use it for absolute links.
    /// Without it, feed links are relative to the feed's own URL.
    pub base_url: Option<String>,
}

/// One report of the archive: a publication with its errata and possibly a retraction.
#[derive(Debug, Clone)]
pub struct Record {
    pub slug: String,
    /// The original publication's seq.
    pub original: u64,
    /// The seq whose content is shown (the latest erratum, or the original).
    pub latest: u64,
    pub content: PublicContent,
    pub content_sha256: Sha256Digest,
    pub provenance: Sha256Digest,
    pub published_at: Timestamp,
    pub updated_at: Timestamp,
    /// (seq, note, at) per erratum, in order.
    pub errata: Vec<(u64, String, Timestamp)>,
    /// (seq, reason, at).
    pub retraction: Option<(u64, String, Timestamp)>,
    /// The incident's year (from the generalised start quarter), else the publication year.
    pub year: String,
}

impl Record {
    pub fn live(&self) -> bool {
        self.retraction.is_none()
    }

    /// Every entry seq that touches this report, in order.
    pub fn seqs(&self) -> Vec<u64> {
        let mut s = vec![self.original];
        s.extend(self.errata.iter().map(|e| e.0));
        s.extend(self.retraction.iter().map(|r| r.0));
        s
    }

    pub fn summary(&self) -> String {
        let text = self
            .content
            .sections
            .iter()
            .find(|s| s.name == SectionName::Summary)
            .map(|s| plain_text(&s.text))
            .unwrap_or_default();
        truncate(&text, 280)
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max).collect();
    match cut.rfind(' ') {
        Some(i) => format!("{}…", &cut[..i]),
        None => format!("{cut}…"),
    }
}

/// The reports of a verified log, by original seq.
pub fn records(log: &VerifiedLog) -> Vec<Record> {
    let mut by_original: BTreeMap<u64, Record> = BTreeMap::new();
    for e in log.entries() {
        let seq = e.seq;
        match &e.entry {
            EntryBody::Publish(p) => {
                if let Some((content, hash)) = log.content(seq) {
                    let year = year_of(content, e.at);
                    by_original.insert(
                        seq,
                        Record {
                            slug: content.slug.clone(),
                            original: seq,
                            latest: seq,
                            content: content.clone(),
                            content_sha256: hash,
                            provenance: p.provenance,
                            published_at: e.at,
                            updated_at: e.at,
                            errata: Vec::new(),
                            retraction: None,
                            year,
                        },
                    );
                }
            }
            EntryBody::Erratum(er) => {
                if let (Some(r), Some((content, hash))) =
                    (by_original.get_mut(&er.corrects), log.content(seq))
                {
                    r.latest = seq;
                    r.content = content.clone();
                    r.content_sha256 = hash;
                    r.provenance = er.provenance;
                    r.updated_at = e.at;
                    r.errata.push((seq, er.note.clone(), e.at));
                    r.year = year_of(content, r.published_at);
                }
            }
            EntryBody::Retraction(rt) => {
                if let Some(r) = by_original.get_mut(&rt.retracts) {
                    r.updated_at = e.at;
                    r.retraction = Some((seq, rt.reason.clone(), e.at));
                }
            }
            EntryBody::KeySet(_) => {}
        }
    }
    by_original.into_values().collect()
}

fn year_of(content: &PublicContent, published: Timestamp) -> String {
    if let Some(q) = content.facts.get("timeline.started")
        && q.len() >= 4
        && q.as_bytes()[..4].iter().all(u8::is_ascii_digit)
    {
        return q[..4].to_owned();
    }
    published.to_string().chars().take(4).collect()
}

/// The facets of the index (docs/archive.md "Facets"), in display order.
pub const FACETS: &[(&str, &str)] = &[
    ("year", "Year"),
    ("category", "Factor category"),
    ("role", "Factor role"),
    ("pattern", "Remediation pattern"),
    ("industry", "Industry"),
    ("severity", "Severity"),
    ("significance", "Significance"),
];

/// The values a live record has for one facet (sorted, deduplicated).
pub fn facet_values(r: &Record, facet: &str) -> BTreeSet<String> {
    let c = &r.content;
    match facet {
        "year" => [r.year.clone()].into(),
        "category" => c
            .factors
            .iter()
            .map(|f| f.category.as_str().to_owned())
            .collect(),
        "role" => c
            .factors
            .iter()
            .map(|f| f.role.as_str().to_owned())
            .collect(),
        "pattern" => c
            .actions
            .iter()
            .filter_map(|a| a.pattern.known().map(|p| p.as_str().to_owned()))
            .collect(),
        "industry" => [industry_of(c)].into(),
        "severity" => [c.severity.as_str().to_owned()].into(),
        "significance" => [c.significance.as_str().to_owned()].into(),
        _ => BTreeSet::new(),
    }
}

/// The report's industry when published (a fact), else the generalised company's industry.
pub fn industry_of(c: &PublicContent) -> String {
    match c.facts.get("industry") {
        Some(i) if i.parse::<debrief_protocol::profile::Industry>().is_ok() => i.clone(),
        _ => c.profile.industry.as_str().to_owned(),
    }
}

/// facet → value → indexes into `records` (live records only, in record order).
pub type FacetIndex = BTreeMap<&'static str, BTreeMap<String, Vec<usize>>>;

pub fn facet_index(records: &[Record]) -> FacetIndex {
    let mut out: FacetIndex = BTreeMap::new();
    for (facet, _) in FACETS {
        let values = out.entry(facet).or_default();
        for (i, r) in records.iter().enumerate().filter(|(_, r)| r.live()) {
            for v in facet_values(r, facet) {
                values.entry(v).or_default().push(i);
            }
        }
    }
    out
}

/// Describes a facet value for people (the vocabulary's description where there is one).
fn value_description(facet: &str, value: &str) -> Option<&'static str> {
    match facet {
        "category" => value
            .parse::<FactorCategory>()
            .ok()
            .map(|v| v.description()),
        "role" => value.parse::<FactorRole>().ok().map(|v| v.description()),
        "pattern" => value
            .parse::<RemediationPattern>()
            .ok()
            .map(|p| p.text().problem),
        "severity" => value.parse::<Severity>().ok().map(|v| v.description()),
        "significance" => value.parse::<Significance>().ok().map(|v| v.description()),
        _ => None,
    }
}

/// The URL (relative to the site root) of a facet value's page. Category and pattern facets
/// point at the pattern-language pages, which list the same reports with more context.
pub fn facet_url(facet: &str, value: &str) -> String {
    match facet {
        "category" => format!("categories/{value}/"),
        "pattern" => format!("patterns/{value}/"),
        _ => format!("facets/{facet}/{value}/"),
    }
}

// ---------------------------------------------------------------------------------------------
// Page frame

const NAV: &[(&str, &str)] = &[
    ("", "Reports"),
    ("patterns/", "Patterns"),
    ("categories/", "Factor categories"),
    ("yearly/", "Yearly report"),
    ("search/", "Search"),
    ("feedback/", "Feedback"),
    ("verify/", "Verify"),
];

/// A whole HTML page. `root` is the relative path to the site root ("", "../", ...).
fn page(root: &str, archive_name: &str, title: &str, current: &str, body: &str) -> String {
    let mut nav = String::new();
    for (href, label) in NAV {
        let aria = if *href == current {
            " aria-current=\"page\""
        } else {
            ""
        };
        let _ = write!(nav, "<li><a href=\"{root}{href}\"{aria}>{label}</a></li>");
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<title>{t} — {n}</title>\n<link rel=\"stylesheet\" href=\"{root}assets/style.css\">\n\
<link rel=\"alternate\" type=\"application/atom+xml\" title=\"{n} (Atom)\" href=\"{root}feed.atom\">\n\
<link rel=\"alternate\" type=\"application/feed+json\" title=\"{n} (JSON Feed)\" href=\"{root}feed.json\">\n\
</head>\n<body>\n<a class=\"skip\" href=\"#main\">Skip to content</a>\n\
<header class=\"site\">\n<p class=\"brand\"><a href=\"{root}\">{n}</a></p>\n\
<nav aria-label=\"Site\"><ul>{nav}</ul></nav>\n\
<form class=\"quick-search\" role=\"search\" action=\"{root}search/\" method=\"get\">\
<label for=\"q-top\">Search reports</label> <input id=\"q-top\" name=\"q\" type=\"search\"> \
<button type=\"submit\">Search</button></form>\n</header>\n\
<main id=\"main\" tabindex=\"-1\">\n{body}</main>\n\
<footer class=\"site\"><p>Published from a signed public log. \
<a href=\"{root}verify/\">How to verify</a> · <a href=\"{root}feed.atom\">Atom</a> · \
<a href=\"{root}feed.json\">JSON Feed</a> · <a href=\"{root}export.jsonl\">JSONL export</a> · \
<a href=\"{root}log/\">Signed log</a></p></footer>\n</body>\n</html>\n",
        t = esc(title),
        n = esc(archive_name),
    )
}

fn date(at: Timestamp) -> String {
    at.to_string().chars().take(10).collect()
}

/// The feedback form (docs/archive.md "Reader feedback"): a plain POST form, so it works
/// without JavaScript; `archive serve` answers it with a thank-you page. `report` is the slug
/// of the report it sits under, if any.
fn feedback_form(root: &str, report: Option<&str>) -> String {
    let (heading, hidden) = match report {
        Some(slug) => (
            "Feedback on this report",
            format!(
                "<input type=\"hidden\" name=\"report\" value=\"{}\">\n",
                esc(slug)
            ),
        ),
        None => ("Feedback on the archive", String::new()),
    };
    format!(
        "<section class=\"feedback\" aria-labelledby=\"feedback-h\">\n<h2 id=\"feedback-h\">{heading}</h2>\n\
<form class=\"feedback\" action=\"{root}feedback\" method=\"post\">\n{hidden}\
<p><label for=\"fb-useful\">What was useful?</label><br><textarea id=\"fb-useful\" name=\"useful\" rows=\"3\" maxlength=\"4096\"></textarea></p>\n\
<p><label for=\"fb-missing\">What was missing?</label><br><textarea id=\"fb-missing\" name=\"missing\" rows=\"3\" maxlength=\"4096\"></textarea></p>\n\
<p><label for=\"fb-learn\">What would you like to learn about?</label><br><textarea id=\"fb-learn\" name=\"learn\" rows=\"3\" maxlength=\"4096\"></textarea></p>\n\
<p class=\"meta\">At most 4 KiB of text in all. Only the text you write, the report it is about and \
the time are stored: no cookies, no address, no tracking. Feedback is read by the archive's maintainers \
and not published.</p>\n<p><button type=\"submit\">Send feedback</button></p>\n</form>\n</section>\n"
    )
}

/// One line of a report list.
fn report_item(root: &str, r: &Record) -> String {
    let c = &r.content;
    let mut s = format!(
        "<li class=\"report\" data-slug=\"{slug}\"><h3><a href=\"{root}reports/{slug}/\">{title}</a></h3>\
<p class=\"meta\"><span class=\"sev sev-{sev}\">{sev}</span> · {sig} · {ind} · {year}",
        slug = esc(&r.slug),
        title = esc(&c.title),
        sev = c.severity.as_str(),
        sig = c.significance.as_str(),
        ind = esc(&industry_of(c)),
        year = esc(&r.year),
    );
    if !r.errata.is_empty() {
        s.push_str(" · <span class=\"badge\">corrected</span>");
    }
    s.push_str("</p>");
    let summary = r.summary();
    if !summary.is_empty() {
        let _ = write!(s, "<p>{}</p>", esc(&summary));
    }
    s.push_str("</li>\n");
    s
}

fn report_list(root: &str, records: &[Record], idx: &[usize]) -> String {
    if idx.is_empty() {
        return "<p>No reports.</p>\n".into();
    }
    let mut s = String::from("<ol class=\"reports\">\n");
    // Newest publication first.
    for i in idx.iter().rev() {
        s.push_str(&report_item(root, &records[*i]));
    }
    s.push_str("</ol>\n");
    s
}

// ---------------------------------------------------------------------------------------------
// The whole site

/// Everything the archive needs to render, computed once per build.
#[derive(Debug)]
pub struct Site<'a> {
    pub log: &'a VerifiedLog,
    pub records: Vec<Record>,
    pub facets: FacetIndex,
    pub options: SiteOptions,
    pub name: String,
}

impl<'a> Site<'a> {
    pub fn new(log: &'a VerifiedLog, options: SiteOptions) -> Site<'a> {
        let records = records(log);
        let facets = facet_index(&records);
        Site {
            log,
            name: log.genesis().name.clone(),
            records,
            facets,
            options,
        }
    }

    fn live(&self) -> Vec<usize> {
        (0..self.records.len())
            .filter(|i| self.records[*i].live())
            .collect()
    }

    /// The input key of a report page: what it is rendered from (docs/archive.md
    /// "Incremental builds"). Entry ids chain to everything before them, so they cover the
    /// key sets used to name signers too.
    pub fn report_key(&self, r: &Record) -> String {
        let mut parts: Vec<Vec<u8>> = vec![
            RENDER_VERSION.as_bytes().to_vec(),
            self.name.as_bytes().to_vec(),
            self.log.genesis_id().to_hex().into_bytes(),
            self.options
                .base_url
                .clone()
                .unwrap_or_default()
                .into_bytes(),
        ];
        for seq in r.seqs() {
            if let Some(id) = self.log.id_at(seq) {
                parts.push(id.to_hex().into_bytes());
            }
        }
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        Sha256Digest::of_parts(&refs).to_hex()
    }

    pub fn report_path(r: &Record) -> String {
        format!("reports/{}/index.html", r.slug)
    }

    /// The index page: facets and every live report, newest first.
    pub fn index_page(&self) -> String {
        let live = self.live();
        let mut b = format!(
            "<h1>{}</h1>\n<p class=\"lede\">{} reports published by the circle, declassified and signed. \
Browse by facet, read by pattern, or <a href=\"search/\">search the full text</a>.</p>\n",
            esc(&self.name),
            live.len()
        );
        b.push_str("<div class=\"layout\">\n<aside class=\"facets\" aria-labelledby=\"facets-h\">\n<h2 id=\"facets-h\">Narrow by</h2>\n");
        b.push_str(&self.facet_nav(""));
        b.push_str("</aside>\n<section class=\"list\" aria-labelledby=\"all-h\">\n<h2 id=\"all-h\">All reports</h2>\n");
        b.push_str(&report_list("", &self.records, &live));
        let retracted: Vec<&Record> = self.records.iter().filter(|r| !r.live()).collect();
        if !retracted.is_empty() {
            b.push_str("<h2>Retracted</h2>\n<ul class=\"retracted\">\n");
            for r in retracted {
                let _ = writeln!(
                    b,
                    "<li><a href=\"reports/{}/\">{}</a> (retracted)</li>",
                    esc(&r.slug),
                    esc(&r.content.title)
                );
            }
            b.push_str("</ul>\n");
        }
        b.push_str("</section>\n</div>\n");
        page("", &self.name, "Reports", "", &b)
    }

    fn facet_nav(&self, root: &str) -> String {
        let mut b = String::new();
        for (facet, label) in FACETS {
            let Some(values) = self.facets.get(facet) else {
                continue;
            };
            if values.is_empty() {
                continue;
            }
            let _ = write!(
                b,
                "<details open><summary>{label}</summary>\n<ul class=\"facet\" data-facet=\"{facet}\">\n"
            );
            for (value, idx) in values {
                let _ = writeln!(
                    b,
                    "<li><a href=\"{root}{}\">{}</a> <span class=\"count\">({})</span></li>",
                    facet_url(facet, value),
                    esc(value),
                    idx.len()
                );
            }
            b.push_str("</ul>\n</details>\n");
        }
        b
    }

    /// Every facet value page (except categories and patterns, which have their own pages).
    pub fn facet_pages(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (facet, label) in FACETS {
            if matches!(*facet, "category" | "pattern") {
                continue;
            }
            let Some(values) = self.facets.get(facet) else {
                continue;
            };
            let root = "../../../";
            for (value, idx) in values {
                let mut b = format!(
                    "<p class=\"crumbs\"><a href=\"{root}\">All reports</a> › {label}</p>\n<h1>{label}: {}</h1>\n",
                    esc(value)
                );
                if let Some(d) = value_description(facet, value) {
                    let _ = writeln!(b, "<p class=\"lede\">{}</p>", esc(d));
                }
                let _ = writeln!(
                    b,
                    "<p>{} report{} match. <a href=\"{root}\">Clear this filter</a>.</p>",
                    idx.len(),
                    if idx.len() == 1 { "" } else { "s" }
                );
                b.push_str("<h2>Reports</h2>\n");
                b.push_str(&report_list(root, &self.records, idx));
                out.push((
                    format!("facets/{facet}/{value}/index.html"),
                    page(root, &self.name, &format!("{label}: {value}"), "none", &b),
                ));
            }
        }
        out
    }

    /// The pattern-language pages: an index of every remediation pattern and one page each.
    pub fn pattern_pages(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let used = self.facets.get("pattern").cloned().unwrap_or_default();
        let mut b = String::from(
            "<h1>Remediation patterns</h1>\n<p class=\"lede\">Named, reusable answers to recurring problems. \
Each pattern lists the published reports whose actions apply it.</p>\n<dl class=\"patterns\">\n",
        );
        for p in RemediationPattern::ALL {
            let t = p.text();
            let n = used.get(p.as_str()).map_or(0, Vec::len);
            let _ = writeln!(
                b,
                "<dt><a href=\"{}/\">{}</a> <span class=\"count\">({n} report{})</span></dt><dd>{}</dd>",
                p.as_str(),
                esc(t.name),
                if n == 1 { "" } else { "s" },
                esc(t.problem)
            );
        }
        b.push_str("</dl>\n");
        out.push((
            "patterns/index.html".to_owned(),
            page("../", &self.name, "Remediation patterns", "patterns/", &b),
        ));
        let root = "../../";
        for p in RemediationPattern::ALL {
            let t = p.text();
            let idx = used.get(p.as_str()).cloned().unwrap_or_default();
            let mut b = format!(
                "<p class=\"crumbs\"><a href=\"../\">Patterns</a> › {name}</p>\n<h1>{name}</h1>\n\
<p class=\"pattern-id\"><code>{id}</code></p>\n<h2>Problem</h2>\n<p>{problem}</p>\n<h2>Solution</h2>\n<p>{solution}</p>\n",
                name = esc(t.name),
                id = p.as_str(),
                problem = esc(t.problem),
                solution = esc(t.solution),
            );
            let _ = writeln!(b, "<h2>Reports applying it ({})</h2>", idx.len());
            if idx.is_empty() {
                b.push_str("<p>No published report applies this pattern yet.</p>\n");
            } else {
                b.push_str("<ol class=\"reports\">\n");
                for i in idx.iter().rev() {
                    let r = &self.records[*i];
                    let actions: Vec<String> = r
                        .content
                        .actions
                        .iter()
                        .filter(|a| a.pattern.known() == Some(p))
                        .map(|a| format!("{} ({}): {}", a.id, a.kind, plain_text(&a.description)))
                        .collect();
                    let _ = writeln!(
                        b,
                        "<li class=\"report\" data-slug=\"{slug}\"><h3><a href=\"{root}reports/{slug}/\">{title}</a></h3><ul>{acts}</ul></li>",
                        slug = esc(&r.slug),
                        title = esc(&r.content.title),
                        acts = actions
                            .iter()
                            .map(|a| format!("<li>{}</li>", esc(a)))
                            .collect::<String>()
                    );
                }
                b.push_str("</ol>\n");
            }
            out.push((
                format!("patterns/{}/index.html", p.as_str()),
                page(root, &self.name, t.name, "none", &b),
            ));
        }
        out
    }

    /// The factor-category pages: the taxonomy and, per category, the reports with a factor in
    /// it grouped by the factor's role.
    pub fn category_pages(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let used = self.facets.get("category").cloned().unwrap_or_default();
        let mut b = String::from(
            "<h1>Factor categories</h1>\n<p class=\"lede\">The contributing-factor taxonomy. \
Each category lists the reports with a factor of that kind, by the role the factor played.</p>\n<dl class=\"patterns\">\n",
        );
        for c in FactorCategory::ALL {
            let n = used.get(c.as_str()).map_or(0, Vec::len);
            let _ = writeln!(
                b,
                "<dt><a href=\"{id}/\"><code>{id}</code></a> <span class=\"count\">({n} report{})</span></dt><dd>{}</dd>",
                if n == 1 { "" } else { "s" },
                esc(c.description()),
                id = c.as_str(),
            );
        }
        b.push_str("</dl>\n");
        out.push((
            "categories/index.html".to_owned(),
            page("../", &self.name, "Factor categories", "categories/", &b),
        ));
        let root = "../../";
        for c in FactorCategory::ALL {
            let idx = used.get(c.as_str()).cloned().unwrap_or_default();
            let mut b = format!(
                "<p class=\"crumbs\"><a href=\"../\">Factor categories</a> › {id}</p>\n<h1><code>{id}</code></h1>\n<p class=\"lede\">{d}</p>\n",
                id = c.as_str(),
                d = esc(c.description()),
            );
            let _ = writeln!(
                b,
                "<p>{} report(s) have a factor in this category.</p>",
                idx.len()
            );
            for role in FactorRole::ALL {
                let with_role: Vec<usize> = idx
                    .iter()
                    .copied()
                    .filter(|i| {
                        self.records[*i]
                            .content
                            .factors
                            .iter()
                            .any(|f| f.category == *c && f.role == *role)
                    })
                    .collect();
                if with_role.is_empty() {
                    continue;
                }
                let _ = writeln!(
                    b,
                    "<h2>As {} <span class=\"count\">({})</span></h2>",
                    role.as_str(),
                    with_role.len()
                );
                b.push_str(&report_list(root, &self.records, &with_role));
            }
            out.push((
                format!("categories/{}/index.html", c.as_str()),
                page(root, &self.name, c.as_str(), "none", &b),
            ));
        }
        out
    }

    /// One report's page: the latest version with errata notes, or a tombstone.
    pub fn report_page(&self, r: &Record) -> String {
        let root = "../../";
        let c = &r.content;
        let mut b = String::new();
        if let Some((seq, reason, at)) = &r.retraction {
            let _ = write!(
                b,
                "<article class=\"report tombstone\">\n<h1>Retracted: {title}</h1>\n\
<div class=\"notice retracted\" role=\"note\"><p><strong>This report was retracted</strong> on {d} \
(log entry {seq}). It must no longer be relied on.</p><p>Reason: {reason}</p></div>\n",
                title = esc(&c.title),
                d = date(*at),
                reason = esc(reason),
            );
            b.push_str(&self.verify_section(r));
            b.push_str("</article>\n");
            return page(
                root,
                &self.name,
                &format!("Retracted: {}", c.title),
                "none",
                &b,
            );
        }
        let _ = writeln!(b, "<article class=\"report\">\n<h1>{}</h1>", esc(&c.title));
        if let Some((seq, note, at)) = r.errata.last() {
            let _ = writeln!(
                b,
                "<div class=\"notice erratum\" role=\"note\"><p><strong>Corrected</strong> on {} (log entry {seq}): {}</p>\
<p>This page shows the latest version; {} earlier version{} {} in the signed log.</p></div>",
                date(*at),
                esc(note),
                r.errata.len(),
                if r.errata.len() == 1 { "" } else { "s" },
                if r.errata.len() == 1 {
                    "remains"
                } else {
                    "remain"
                },
            );
        }
        b.push_str("<dl class=\"facts\">\n");
        let mut fact = |k: &str, v: String| {
            let _ = writeln!(b, "<dt>{}</dt><dd>{v}</dd>", esc(k));
        };
        fact(
            "Kind",
            esc(match c.kind {
                debrief_protocol::report::ReportKind::Postmortem => "postmortem",
                debrief_protocol::report::ReportKind::BookReport => "book report",
            }),
        );
        fact(
            "Severity",
            format!(
                "<a href=\"{root}facets/severity/{v}/\">{v}</a> — {}",
                esc(c.severity.description()),
                v = c.severity.as_str()
            ),
        );
        fact(
            "Significance",
            format!(
                "<a href=\"{root}facets/significance/{v}/\">{v}</a> — {}",
                esc(c.significance.description()),
                v = c.significance.as_str()
            ),
        );
        fact("Company", esc(&c.profile.to_string()));
        fact(
            "Industry",
            format!(
                "<a href=\"{root}facets/industry/{i}/\">{i}</a>",
                i = esc(&industry_of(c))
            ),
        );
        fact(
            "Year",
            format!(
                "<a href=\"{root}facets/year/{y}/\">{y}</a>",
                y = esc(&r.year)
            ),
        );
        fact("Published", date(r.published_at));
        // Book reports: whose public postmortem this is about, and where to read it.
        if let Some(org) = c.facts.get("source_org") {
            fact("Original by", esc(org));
        }
        if let Some(url) = c.facts.get("source_url") {
            let shown = if safe_url(url) {
                format!(
                    "<a href=\"{u}\" rel=\"nofollow noopener\">{u}</a>",
                    u = esc(url)
                )
            } else {
                esc(url)
            };
            fact("Original", shown);
        }
        for (k, label) in [
            ("timeline.started", "Started"),
            ("timeline.detected", "Detected"),
            ("timeline.mitigated", "Mitigated"),
            ("timeline.resolved", "Resolved"),
            ("services", "Services"),
        ] {
            if let Some(v) = c.facts.get(k) {
                fact(label, esc(v));
            }
        }
        b.push_str("</dl>\n");

        // Customer impact.
        let impact: Vec<(&str, &str)> = [
            ("customer_impact.who", "Who"),
            ("customer_impact.magnitude", "How many"),
            ("customer_impact.saw", "What they saw"),
            ("customer_impact.duration_minutes", "For how long"),
            ("customer_impact.data_loss", "Data loss"),
        ]
        .into_iter()
        .filter_map(|(k, l)| c.facts.get(k).map(|v| (l, v.as_str())))
        .collect();
        b.push_str(
            "<section aria-labelledby=\"impact-h\">\n<h2 id=\"impact-h\">Customer impact</h2>\n",
        );
        if impact.is_empty() {
            b.push_str("<p>Not published.</p>\n");
        } else {
            b.push_str("<dl class=\"facts\">\n");
            for (l, v) in impact {
                let _ = writeln!(b, "<dt>{l}</dt><dd>{}</dd>", esc(v));
            }
            b.push_str("</dl>\n");
        }
        b.push_str("</section>\n");

        // Factors.
        b.push_str("<section aria-labelledby=\"factors-h\">\n<h2 id=\"factors-h\">Factors by category and role</h2>\n");
        if c.factors.is_empty() {
            b.push_str("<p>None published.</p>\n");
        } else {
            b.push_str("<table class=\"factors\">\n<caption>Factors with taxonomy category and role</caption>\n\
<thead><tr><th scope=\"col\">Id</th><th scope=\"col\">Category</th><th scope=\"col\">Role</th><th scope=\"col\">Description</th></tr></thead>\n<tbody>\n");
            for f in &c.factors {
                let _ = writeln!(
                    b,
                    "<tr><th scope=\"row\" id=\"{id}\">{id}</th><td><a href=\"{root}categories/{cat}/\"><code>{cat}</code></a></td>\
<td><a href=\"{root}facets/role/{role}/\">{role}</a></td><td>{d}</td></tr>",
                    id = esc(&f.id),
                    cat = f.category.as_str(),
                    role = f.role.as_str(),
                    d = markdown_inline(&f.description),
                );
            }
            b.push_str("</tbody>\n</table>\n");
        }
        b.push_str("</section>\n");

        // Actions.
        b.push_str("<section aria-labelledby=\"actions-h\">\n<h2 id=\"actions-h\">Actions and remediation patterns</h2>\n");
        if c.actions.is_empty() {
            b.push_str("<p>None published.</p>\n");
        } else {
            b.push_str("<table class=\"actions\">\n<caption>Actions with remediation pattern, kind and status</caption>\n\
<thead><tr><th scope=\"col\">Id</th><th scope=\"col\">Kind</th><th scope=\"col\">Pattern</th><th scope=\"col\">Status</th>\
<th scope=\"col\">Addresses</th><th scope=\"col\">Owner</th><th scope=\"col\">Description</th></tr></thead>\n<tbody>\n");
            for a in &c.actions {
                let pattern = match &a.pattern {
                    Field::Known(p) => format!(
                        "<a href=\"{root}patterns/{}/\">{}</a>",
                        p.as_str(),
                        esc(p.text().name)
                    ),
                    other => esc(other.marker().unwrap_or("n/a")),
                };
                let addresses: Vec<String> = a
                    .addresses
                    .iter()
                    .map(|id| {
                        if c.factors.iter().any(|f| f.id == *id) {
                            format!("<a href=\"#{0}\">{0}</a>", esc(id))
                        } else {
                            esc(id)
                        }
                    })
                    .collect();
                let _ = writeln!(
                    b,
                    "<tr><th scope=\"row\">{}</th><td>{}</td><td>{pattern}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&a.id),
                    a.kind.as_str(),
                    a.status.as_str(),
                    addresses.join(", "),
                    esc(&a.owner_role),
                    markdown_inline(&a.description),
                );
            }
            b.push_str("</tbody>\n</table>\n");
        }
        b.push_str("</section>\n");

        // Body sections.
        for s in &c.sections {
            let _ = write!(
                b,
                "<section aria-labelledby=\"s-{slug}\">\n<h2 id=\"s-{slug}\">{h}</h2>\n{body}</section>\n",
                slug = s.name.slug(),
                h = esc(s.name.heading()),
                body = markdown(&s.text),
            );
        }
        b.push_str(&self.verify_section(r));
        b.push_str("</article>\n");
        b.push_str(&feedback_form(root, Some(&r.slug)));
        page(root, &self.name, &c.title, "none", &b)
    }

    /// The general feedback page (docs/archive.md "Reader feedback").
    pub fn feedback_page(&self) -> String {
        let mut b = String::from(
            "<h1>Feedback</h1>\n<p class=\"lede\">Tell the maintainers what was useful, what was \
missing, and what you would like to learn about. There is a form like this one under every report, \
for feedback on that report.</p>\n",
        );
        b.push_str(&feedback_form("../", None));
        page("../", &self.name, "Feedback", "feedback/", &b)
    }

    /// The page that answers a feedback form (`archive serve`, `POST /feedback`): `ok` says
    /// whether it was stored; `message` says why not; `back` is the page to return to.
    pub fn feedback_answer_page(name: &str, ok: bool, message: &str, back: &str) -> String {
        let (title, b) = if ok {
            (
                "Thank you",
                format!(
                    "<h1>Thank you</h1>\n<p role=\"status\">Your feedback was received. {}</p>\n\
<p><a href=\"{}\">Back</a></p>\n",
                    esc(message),
                    esc(back)
                ),
            )
        } else {
            (
                "Feedback not sent",
                format!(
                    "<h1>Feedback not sent</h1>\n<p role=\"alert\">{}</p>\n<p>Nothing was stored. \
<a href=\"{}\">Back</a></p>\n",
                    esc(message),
                    esc(back)
                ),
            )
        };
        page("/", name, title, "none", &b)
    }

    /// The yearly report pages: `yearly/index.html` (the list of years, newest first) and, per
    /// year, `yearly/YYYY/index.html` (wrapped in the site template) and `yearly/YYYY/report.md`.
    /// `years` maps a year to its rendered (HTML fragment, Markdown).
    pub fn yearly_pages(&self, years: &BTreeMap<i32, (String, String)>) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut b = String::from(
            "<h1>Yearly report</h1>\n<p class=\"lede\">Counts, delays and trends across the \
published reports of a year, compared with the year before. Small numbers are suppressed: a cell \
with fewer than 5 reports is not shown, and no percentage is shown when it is a share of fewer \
than 30 reports.</p>\n",
        );
        if years.is_empty() {
            b.push_str(
                "<p>No yearly report has been built for this archive yet. Maintainers build one \
with <code>debrief archive yearly --year YYYY --out SITE_DIR</code>.</p>\n",
            );
        } else {
            b.push_str("<ul class=\"years\">\n");
            for y in years.keys().rev() {
                let _ = writeln!(
                    b,
                    "<li><a href=\"{y}/\">{y}</a> (<a href=\"{y}/report.md\">Markdown</a>)</li>"
                );
            }
            b.push_str("</ul>\n");
        }
        out.push((
            "yearly/index.html".to_owned(),
            page("../", &self.name, "Yearly report", "yearly/", &b),
        ));
        for (y, (fragment, md)) in years {
            let body = format!(
                "<p class=\"crumbs\"><a href=\"../\">Yearly reports</a> › {y} · \
<a href=\"report.md\">Markdown version</a></p>\n{fragment}"
            );
            out.push((
                format!("yearly/{y}/index.html"),
                page(
                    "../../",
                    &self.name,
                    &format!("Yearly report {y}"),
                    "yearly/",
                    &body,
                ),
            ));
            out.push((format!("yearly/{y}/report.md"), md.clone()));
        }
        out
    }

    /// "Verify this report": the entries, their signatures, and the exact command.
    fn verify_section(&self, r: &Record) -> String {
        let root = "../../";
        let genesis = self.log.genesis_id();
        // A retracted report is checked at its original entry: verify then reports the
        // retraction with its reason (and exits 1).
        let shown = if r.live() { r.latest } else { r.original };
        let mut b = String::from(
            "<section class=\"verify\" id=\"verify\" aria-labelledby=\"verify-h\">\n<h2 id=\"verify-h\">Verify this report</h2>\n",
        );
        let _ = writeln!(
            b,
            "<p>This report is entry {shown} of the circle's signed public log \
(log id <code class=\"id\">{genesis}</code>). Compare the log id with the one the circle published, then run, \
in a copy of this site:</p>\n<pre class=\"command\"><code>debrief verify log --genesis {genesis} --entry {shown}</code></pre>\n\
<p>or download just the <a href=\"{root}log/\">signed log</a> and run <code>debrief verify LOG_DIR --genesis {genesis} --entry {shown}</code>. \
<a href=\"{root}verify/\">What verification proves, and what it does not.</a></p>"
        );
        if !r.live() {
            b.push_str("<p>For a retracted entry, verify reports the retraction and its reason, and exits 1.</p>\n");
        } else {
            let _ = writeln!(
                b,
                "<dl class=\"ids\"><dt>Content SHA-256</dt><dd><code class=\"id\">{}</code></dd>\
<dt>Provenance commitment</dt><dd><code class=\"id\">{}</code></dd></dl>",
                r.content_sha256, r.provenance
            );
        }
        b.push_str("<ul class=\"entries\">\n");
        for seq in r.seqs() {
            let Some(e) = self.log.entry(seq) else {
                continue;
            };
            let set = self.log.key_set_for(seq);
            let _ = write!(
                b,
                "<li><p>Entry {seq} ({kind}, {at}): <a href=\"{root}log/{path}\">{path}</a>, id <code class=\"id\">{id}</code></p>\n<ul class=\"sigs\">",
                kind = e.entry.kind(),
                at = e.at,
                path = debrief_protocol::publog::layout::entry_path(seq),
                id = e.id(),
            );
            for s in e.envelope().signatures() {
                let company = set
                    .member_of(&s.keyid)
                    .map_or_else(|| "unknown key".to_owned(), |m| m.grouped());
                let _ = write!(
                    b,
                    "<li>key <code class=\"id\">{}</code> of company <code>{}</code>: signature <code class=\"sig\">{}</code></li>",
                    s.keyid,
                    esc(&company),
                    base64_encode(&s.sig)
                );
            }
            b.push_str("</ul></li>\n");
        }
        b.push_str("</ul>\n</section>\n");
        b
    }

    pub fn search_page(&self) -> String {
        let b = "<h1>Search</h1>\n<form id=\"search-form\" role=\"search\" action=\"./\" method=\"get\">\n\
<label for=\"q\">Words to find in reports</label>\n<input id=\"q\" name=\"q\" type=\"search\" autocomplete=\"off\">\n\
<button type=\"submit\">Search</button>\n</form>\n\
<h2>Results</h2>\n<p id=\"search-status\" role=\"status\" aria-live=\"polite\"></p>\n<ol id=\"results\" class=\"reports\"></ol>\n\
<noscript><p>Search in the page needs JavaScript. Without it, browse by <a href=\"../\">facet</a>, \
<a href=\"../patterns/\">pattern</a> or <a href=\"../categories/\">factor category</a>; a site served by \
<code>debrief archive serve</code> also searches on the server:</p>\n\
<form role=\"search\" action=\"server\" method=\"get\"><label for=\"q-server\">Words to find (server search)</label>\n\
<input id=\"q-server\" name=\"q\" type=\"search\"> <button type=\"submit\">Search on the server</button></form></noscript>\n\
<script src=\"../assets/search.js\" defer></script>\n";
        page("../", &self.name, "Search", "search/", b)
    }

    /// The server-side search results page (`archive serve`, `/search/server?q=`): `results`
    /// are (url, title, snippet) from the FTS5 index.
    pub fn server_results_page(
        name: &str,
        query: &str,
        results: &[(String, String, String)],
    ) -> String {
        let mut b = format!(
            "<h1>Search results</h1>\n<form role=\"search\" action=\"server\" method=\"get\">\
<label for=\"q\">Words to find in reports</label>\n<input id=\"q\" name=\"q\" type=\"search\" value=\"{}\">\n\
<button type=\"submit\">Search</button>\n</form>\n<h2>Results</h2>\n<p role=\"status\">{} report{} match \u{201c}{}\u{201d}.</p>\n<ol class=\"reports\">\n",
            esc(query),
            results.len(),
            if results.len() == 1 { "" } else { "s" },
            esc(query),
        );
        for (url, title, snippet) in results {
            let slug = url.trim_start_matches("reports/").trim_end_matches('/');
            let _ = writeln!(
                b,
                "<li class=\"report\" data-slug=\"{}\"><h3><a href=\"../{}\">{}</a></h3><p>{}</p></li>",
                esc(slug),
                esc(url),
                esc(title),
                esc(snippet)
            );
        }
        b.push_str("</ol>\n");
        page("../", name, "Search results", "search/", &b)
    }

    pub fn verify_page(&self, checkpoint_seq: u64) -> String {
        let g = self.log.genesis_id();
        let set = self.log.current_key_set();
        let mut keys = String::new();
        for k in &set.keys {
            let _ = write!(
                keys,
                "<li>key <code class=\"id\">{}</code> held by company <code>{}</code></li>",
                k.key.key_id(),
                k.member.grouped()
            );
        }
        let b = format!(
            "<h1>Verify this archive</h1>\n\
<p>Every report here is an entry of the circle's public log, signed by publication keys of at least {t} distinct \
member companies. The site carries a byte-identical copy of that log under <a href=\"../log/\"><code>log/</code></a> \
(genesis, entries, checkpoint, keys).</p>\n\
<h2>Steps</h2>\n<ol>\n<li>Get the log id the circle published out of band (its charter page, a talk, its README). \
This copy's log id is <code class=\"id\">{g}</code>; if they differ, stop.</li>\n\
<li>Copy the site (or only <code>log/</code>) and run <pre class=\"command\"><code>debrief verify log --genesis {g}</code></pre></li>\n\
<li>For one report, add <code>--entry SEQ</code> (each report page shows its entry and the exact command).</li>\n</ol>\n\
<h2>What it checks</h2>\n<p>The genesis is the pinned one; every entry chains to the previous one and carries \
signatures of the threshold of publication-key companies in force; key-set changes are signed by the previous set; \
the checkpoint (here covering seq {checkpoint_seq} of {head}) is signed and unexpired, so a stale or rolled-back copy is refused; \
each report's status (current, corrected, retracted).</p>\n\
<h2>What it cannot check</h2>\n<p>Who wrote a report (approvals stay in the circle), or that the scrubbed text reveals \
nothing identifying; the circle's reviewers judged that. The pages of this site are a rendering of the log: \
if in doubt, read the entry files themselves.</p>\n\
<h2>Publication keys in force</h2>\n<p>Threshold {t} of:</p>\n<ul>{keys}</ul>\n",
            t = set.threshold,
            head = self.log.head_seq(),
        );
        page("../", &self.name, "Verify", "verify/", &b)
    }

    /// An HTML listing of the log copy, so `log/` is browsable on static hosts.
    pub fn log_listing(&self, files: &[String]) -> String {
        let mut b = format!(
            "<h1>The signed public log</h1>\n<p>Log id <code class=\"id\">{}</code>, {} entries. \
Download these files into a directory named <code>log</code> (keeping <code>entries/</code>) and run \
<code>debrief verify log --genesis {}</code>.</p>\n<ul>\n",
            self.log.genesis_id(),
            self.log.head_seq(),
            self.log.genesis_id()
        );
        for f in files {
            let _ = writeln!(b, "<li><a href=\"{0}\">{0}</a></li>", esc(f));
        }
        b.push_str("</ul>\n");
        page("../", &self.name, "Signed log", "none", &b)
    }

    fn link(&self, rel: &str) -> String {
        match &self.options.base_url {
            Some(base) => format!("{}{rel}", base),
            None => rel.to_owned(),
        }
    }

    /// (seq, at, kind, record index) for every publication, erratum and retraction, newest
    /// first.
    fn feed_items(&self) -> Vec<(u64, Timestamp, &'static str, usize)> {
        let mut items = Vec::new();
        for (i, r) in self.records.iter().enumerate() {
            items.push((r.original, r.published_at, "publish", i));
            for (seq, _, at) in &r.errata {
                items.push((*seq, *at, "erratum", i));
            }
            if let Some((seq, _, at)) = &r.retraction {
                items.push((*seq, *at, "retraction", i));
            }
        }
        items.sort_by_key(|b| std::cmp::Reverse(b.0));
        items
    }

    fn feed_text(&self, seq: u64, kind: &str, r: &Record) -> (String, String) {
        match kind {
            "erratum" => {
                let note = r
                    .errata
                    .iter()
                    .find(|e| e.0 == seq)
                    .map_or("", |e| e.1.as_str());
                (
                    format!("Corrected: {}", r.content.title),
                    format!("Correction: {note}"),
                )
            }
            "retraction" => (
                format!("Retracted: {}", r.content.title),
                format!(
                    "Retracted: {}",
                    r.retraction.as_ref().map_or("", |x| x.1.as_str())
                ),
            ),
            _ => (r.content.title.clone(), r.summary()),
        }
    }

    pub fn atom(&self) -> String {
        let g = self.log.genesis_id();
        let updated = self
            .log
            .entries()
            .last()
            .map_or(self.log.genesis().created_at, |e| e.at);
        let mut s = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n\
<id>urn:debrief:log:{g}</id>\n<title>{}</title>\n<updated>{updated}</updated>\n\
<author><name>{}</name></author>\n<link rel=\"self\" href=\"{}\"/>\n<link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
            xml_esc(&self.name),
            xml_esc(&self.name),
            xml_esc(&self.link("feed.atom")),
            xml_esc(&self.options.base_url.clone().unwrap_or_else(|| "./".into())),
        );
        for (seq, at, kind, i) in self.feed_items() {
            let r = &self.records[i];
            let (title, summary) = self.feed_text(seq, kind, r);
            let _ = write!(
                s,
                "<entry>\n<id>urn:debrief:log:{g}:{seq}</id>\n<title>{}</title>\n<updated>{at}</updated>\n\
<published>{at}</published>\n<link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n\
<category term=\"{kind}\"/>\n<summary>{}</summary>\n</entry>\n",
                xml_esc(&title),
                xml_esc(&self.link(&format!("reports/{}/", r.slug))),
                xml_esc(&summary),
            );
        }
        s.push_str("</feed>\n");
        s
    }

    pub fn json_feed(&self) -> String {
        let items: Vec<Value> = self
            .feed_items()
            .into_iter()
            .map(|(seq, at, kind, i)| {
                let r = &self.records[i];
                let (title, summary) = self.feed_text(seq, kind, r);
                json!({
                    "id": format!("urn:debrief:log:{}:{seq}", self.log.genesis_id()),
                    "url": self.link(&format!("reports/{}/", r.slug)),
                    "title": title,
                    "content_text": summary,
                    "date_published": at.to_string(),
                    "tags": [kind],
                })
            })
            .collect();
        let mut feed = json!({
            "version": "https://jsonfeed.org/version/1.1",
            "title": self.name,
            "items": items,
        });
        if let (Some(base), Value::Object(m)) = (&self.options.base_url, &mut feed) {
            m.insert("home_page_url".into(), Value::String(base.clone()));
            m.insert("feed_url".into(), Value::String(format!("{base}feed.json")));
        }
        // serde_json's map is sorted (no preserve_order), so the bytes are deterministic.
        let mut out = serde_json::to_string_pretty(&feed).unwrap_or_default();
        out.push('\n');
        out
    }

    /// One JSON object per report, in publication order.
    pub fn jsonl(&self) -> String {
        let mut out = String::new();
        for r in &self.records {
            let v = json!({
                "slug": r.slug,
                "status": if r.live() { "current" } else { "retracted" },
                "original_seq": r.original,
                "latest_seq": r.latest,
                "published_at": r.published_at.to_string(),
                "updated_at": r.updated_at.to_string(),
                "year": r.year,
                "content_sha256": if r.live() { Value::String(r.content_sha256.to_hex()) } else { Value::Null },
                "content": if r.live() { serde_json::to_value(&r.content).unwrap_or(Value::Null) } else { Value::Null },
                "errata": r.errata.iter().map(|(seq, note, at)| json!({"seq": seq, "note": note, "at": at.to_string()})).collect::<Vec<_>>(),
                "retraction": r.retraction.as_ref().map(|(seq, reason, at)| json!({"seq": seq, "reason": reason, "at": at.to_string()})),
                "url": format!("reports/{}/", r.slug),
            });
            out.push_str(&serde_json::to_string(&v).unwrap_or_default());
            out.push('\n');
        }
        out
    }

    /// The static search index: per live report, its sorted distinct words.
    pub fn search_index(&self) -> String {
        let docs: Vec<Value> = self
            .records
            .iter()
            .filter(|r| r.live())
            .map(|r| {
                json!({
                    "slug": r.slug,
                    "url": format!("reports/{}/", r.slug),
                    "title": r.content.title,
                    "summary": r.summary(),
                    "words": words_of(r).into_iter().collect::<Vec<_>>().join(" "),
                })
            })
            .collect();
        let mut out =
            serde_json::to_string(&json!({"version": 1, "docs": docs})).unwrap_or_default();
        out.push('\n');
        out
    }
}

/// Inline Markdown for table cells: rendered, with the paragraph wrapper removed.
fn markdown_inline(text: &str) -> String {
    let html = markdown(text);
    let trimmed = html.trim_end();
    match trimmed
        .strip_prefix("<p>")
        .and_then(|t| t.strip_suffix("</p>"))
    {
        Some(inner) if !inner.contains("<p>") => inner.to_owned(),
        _ => html,
    }
}

/// The full text of a report for search: title, facts, factors, actions and sections.
pub fn full_text(r: &Record) -> String {
    content_text(&r.content)
}

/// The searchable text of public content (also what `archive serve` indexes with FTS5).
pub fn content_text(c: &PublicContent) -> String {
    let mut parts: Vec<String> = vec![c.title.clone()];
    parts.extend(c.facts.values().cloned());
    for f in &c.factors {
        parts.push(format!(
            "{} {} {}",
            f.category,
            f.role,
            plain_text(&f.description)
        ));
    }
    for a in &c.actions {
        let pattern = a.pattern.known().map_or("", |p| p.as_str());
        parts.push(format!(
            "{} {pattern} {} {}",
            a.kind,
            a.owner_role,
            plain_text(&a.description)
        ));
    }
    for s in &c.sections {
        parts.push(plain_text(&s.text));
    }
    parts.join("\n")
}

/// Lowercase words of at least two characters (letters and digits), for the static index.
pub fn words_of(r: &Record) -> BTreeSet<String> {
    full_text(r)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2)
        .map(str::to_lowercase)
        .collect()
}

pub const STYLE_CSS: &str = include_str!("style.css");
pub const SEARCH_JS: &str = include_str!("search.js");
