//! `debrief archive build`: verify the log, render the site, write only what changed
//! (docs/archive.md "Incremental builds").

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use debrief_protocol::Timestamp;
use debrief_protocol::ids::{EnvelopeId, Sha256Digest};
use debrief_protocol::publog::layout;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};

use debrief_protocol::yearly::{IncidentFacts, SuppressionRules, YearlyReport, aggregate_facts};

use super::ArchiveError;
use super::logdir::read_and_verify;
use super::site::{SEARCH_JS, STYLE_CSS, Site, SiteOptions};
use crate::yearly::RenderOptions;

/// The file that records what a build wrote, so the next build can skip unchanged work.
pub const MANIFEST_FILE: &str = ".archive-manifest.json";

/// Where the copy of the signed log goes inside the site.
pub const LOG_DIR: &str = "log";

/// What `build` needs.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub log_dir: PathBuf,
    pub out_dir: PathBuf,
    /// The genesis id the circle published; without it the copy's own genesis is used and the
    /// site says so.
    pub genesis: Option<EnvelopeId>,
    pub site: SiteOptions,
    /// Show a progress bar (the CLI passes whether stderr is a terminal).
    pub progress: bool,
    /// The time the checkpoint is checked against (§7.8).
    pub now: Timestamp,
    /// Years to add a yearly report page for (docs/archive.md "Yearly report"). Years an
    /// earlier build of this site produced are kept (the manifest remembers them), recomputed
    /// from the current log.
    pub yearly: Vec<i32>,
}

/// What a build did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildSummary {
    pub reports: usize,
    pub retracted: usize,
    /// Report pages rendered / skipped because their entries did not change.
    pub pages_rendered: usize,
    pub pages_skipped: usize,
    /// Files written (new or changed), left as they were, and removed (no longer produced).
    pub written: usize,
    pub unchanged: usize,
    pub removed: usize,
    pub log_id: String,
    pub head_seq: u64,
    /// Years the site has a yearly report page for.
    pub yearly: Vec<i32>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    version: u32,
    /// Relative path → SHA-256 of the bytes written.
    files: BTreeMap<String, String>,
    /// Report page path → input key (site::Site::report_key).
    inputs: BTreeMap<String, String>,
    /// Years with a yearly report page.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    yearly: BTreeSet<i32>,
}

fn io(path: &Path, source: std::io::Error) -> ArchiveError {
    ArchiveError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn read_manifest(out: &Path) -> Result<Option<Manifest>, ArchiveError> {
    let path = out.join(MANIFEST_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let bytes = fs::read(&path).map_err(|e| io(&path, e))?;
    match serde_json::from_slice::<Manifest>(&bytes) {
        Ok(m) if m.version == 1 => Ok(Some(m)),
        // An unreadable manifest only costs a full rebuild.
        _ => Ok(Some(Manifest::default())),
    }
}

/// Builds (or updates) the site. Refuses an unverifiable log before touching `out_dir`.
pub fn build(opts: &BuildOptions) -> Result<BuildSummary, ArchiveError> {
    let checked = read_and_verify(&opts.log_dir, opts.genesis.as_ref(), opts.now)?;
    let out = &opts.out_dir;
    if out.exists() && !out.is_dir() {
        return Err(ArchiveError::Out(format!(
            "{}: exists and is not a directory",
            out.display()
        )));
    }
    let old = read_manifest(out)?;
    if old.is_none() && out.exists() && fs::read_dir(out).map_err(|e| io(out, e))?.next().is_some()
    {
        return Err(ArchiveError::Out(format!(
            "{}: is not empty and holds no {MANIFEST_FILE}; refusing to write a site over files it did not make (choose an empty or new directory)",
            out.display()
        )));
    }
    let old = old.unwrap_or_default();
    fs::create_dir_all(out).map_err(|e| io(out, e))?;

    let site = Site::new(&checked.log, opts.site.clone());
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut inputs: BTreeMap<String, String> = BTreeMap::new();
    let mut summary = BuildSummary {
        reports: site.records.len(),
        retracted: site.records.iter().filter(|r| !r.live()).count(),
        log_id: checked.log.genesis_id().to_hex(),
        head_seq: checked.log.head_seq(),
        ..BuildSummary::default()
    };

    let bar = if opts.progress && std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(
            Some(site.records.len() as u64),
            ProgressDrawTarget::stderr(),
        )
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} report pages {msg}") {
        bar.set_style(style);
    }
    // Report pages that did not change are neither rendered nor written.
    let mut kept: BTreeMap<String, String> = BTreeMap::new();
    for r in &site.records {
        let path = Site::report_path(r);
        let key = site.report_key(r);
        let on_disk = out.join(&path);
        let same_inputs = old.inputs.get(&path) == Some(&key);
        // The file must still hold what the last build wrote (a hand edit is repaired).
        let intact = |hash: &String| {
            fs::read(&on_disk)
                .map(|b| Sha256Digest::of(&b).to_hex() == *hash)
                .unwrap_or(false)
        };
        match old.files.get(&path) {
            Some(hash) if same_inputs && intact(hash) => {
                kept.insert(path.clone(), hash.clone());
                summary.pages_skipped += 1;
            }
            _ => {
                files.insert(path.clone(), site.report_page(r).into_bytes());
                summary.pages_rendered += 1;
            }
        }
        inputs.insert(path, key);
        bar.inc(1);
    }
    bar.finish_and_clear();

    files.insert("index.html".into(), site.index_page().into_bytes());
    for (p, html) in site
        .facet_pages()
        .into_iter()
        .chain(site.pattern_pages())
        .chain(site.category_pages())
    {
        files.insert(p, html.into_bytes());
    }
    files.insert("search/index.html".into(), site.search_page().into_bytes());
    files.insert(
        "feedback/index.html".into(),
        site.feedback_page().into_bytes(),
    );
    let mut years: BTreeSet<i32> = old.yearly.clone();
    for y in &opts.yearly {
        if !(1971..=9999).contains(y) {
            return Err(ArchiveError::Out(format!(
                "yearly report: the year {y} is outside 1971–9999"
            )));
        }
        years.insert(*y);
    }
    let mut rendered = BTreeMap::new();
    for y in &years {
        let (report, _) = yearly_report(&site, *y);
        let opts = yearly_render_options(&site, *y);
        let mut fragment = crate::yearly::render_html_fragment(&report, &opts)
            .map_err(|e| ArchiveError::Out(format!("yearly report {y}: {e}")))?;
        let mut md = crate::yearly::render_markdown(&report, &opts);
        if report.all_suppressed() {
            // Said first, so nobody reads a page of "suppressed" cells as a report of zeros.
            let note = format!(
                "Every number of this report is suppressed: the archive has too few published \
                 reports for {y} and {} to show any count without risking that a reader could \
                 single out a company or an incident.",
                y - 1
            );
            fragment = format!(
                "<div class=\"notice all-suppressed\" role=\"note\"><p>{note}</p></div>\n{fragment}"
            );
            md = format!("> {note}\n\n{md}");
        }
        rendered.insert(*y, (fragment, md));
    }
    for (p, text) in site.yearly_pages(&rendered) {
        files.insert(p, text.into_bytes());
    }
    let cp_seq = checked.freshness.checkpoint.value().seq;
    files.insert(
        "verify/index.html".into(),
        site.verify_page(cp_seq).into_bytes(),
    );
    files.insert("feed.atom".into(), site.atom().into_bytes());
    files.insert("feed.json".into(), site.json_feed().into_bytes());
    files.insert("export.jsonl".into(), site.jsonl().into_bytes());
    files.insert("search-index.json".into(), site.search_index().into_bytes());
    files.insert("assets/style.css".into(), STYLE_CSS.as_bytes().to_vec());
    files.insert("assets/search.js".into(), SEARCH_JS.as_bytes().to_vec());
    // protocol.md §7.10: the log copy is byte-identical to every other copy.
    let mut log_names = Vec::new();
    for (rel, bytes) in layout::files(&checked.log, &checked.checkpoint) {
        log_names.push(rel.clone());
        files.insert(format!("{LOG_DIR}/{rel}"), bytes);
    }
    files.insert(
        format!("{LOG_DIR}/index.html"),
        site.log_listing(&log_names).into_bytes(),
    );

    // Write what changed.
    let mut new_files: BTreeMap<String, String> = kept;
    for (rel, bytes) in &files {
        let hash = Sha256Digest::of(bytes).to_hex();
        let path = out.join(rel);
        let unchanged = old.files.get(rel) == Some(&hash)
            && fs::read(&path).map(|b| b == *bytes).unwrap_or(false);
        if unchanged {
            summary.unchanged += 1;
        } else {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
            }
            write_atomically(&path, bytes)?;
            summary.written += 1;
        }
        new_files.insert(rel.clone(), hash);
    }
    summary.unchanged += summary.pages_skipped;
    // Remove files an earlier build made that this one no longer produces (a facet value
    // that disappeared); never anything the manifest does not list.
    for rel in old.files.keys() {
        if !new_files.contains_key(rel) {
            let path = out.join(rel);
            if path.is_file() {
                fs::remove_file(&path).map_err(|e| io(&path, e))?;
                summary.removed += 1;
                let mut dir = path.parent();
                while let Some(d) = dir {
                    if d == out.as_path() || fs::remove_dir(d).is_err() {
                        break;
                    }
                    dir = d.parent();
                }
            }
        }
    }
    summary.yearly = years.iter().copied().collect();
    let manifest = Manifest {
        version: 1,
        files: new_files,
        inputs,
        yearly: years,
    };
    let mut bytes = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| ArchiveError::Out(format!("manifest: {e}")))?;
    bytes.push(b'\n');
    let mpath = out.join(MANIFEST_FILE);
    if fs::read(&mpath).map(|b| b != bytes).unwrap_or(true) {
        write_atomically(&mpath, &bytes)?;
    }
    Ok(summary)
}

/// The public yearly report for `year` from the live (not retracted) reports of the log,
/// under the public rules (docs/yearly-report.md, public version); also returns how many
/// reports it was drawn from.
pub fn yearly_report(site: &Site<'_>, year: i32) -> (YearlyReport, usize) {
    let facts: Vec<IncidentFacts> = site
        .records
        .iter()
        .filter(|r| r.live())
        .map(|r| IncidentFacts::from_public_content(&r.content))
        .collect();
    (
        aggregate_facts(&facts, year, SuppressionRules::PUBLIC),
        facts.len(),
    )
}

fn yearly_render_options(site: &Site<'_>, year: i32) -> RenderOptions {
    let live = site.records.iter().filter(|r| r.live()).count();
    RenderOptions {
        title: format!("Yearly report {year}"),
        scope: format!(
            "Drawn from the {live} published, not retracted reports of the archive \"{}\", grouped \
             by the quarter the incident started (as published), and compared with {}. Published \
             reports are a selection: the circle declassifies what its members choose to share, so \
             these numbers describe the archive, not every incident. A cell with fewer than 5 \
             reports is suppressed, and no percentage is shown when it is a share of fewer than 30 \
             reports.",
            site.name,
            year - 1
        ),
    }
}

/// Writes through a temporary file and a rename, so a reader (or a crash) never sees half a
/// page.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ArchiveError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    fs::write(&tmp, bytes).map_err(|e| io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| io(path, e))
}
