//! `debrief archive demo-log | build | serve` through the built binary (docs/archive.md): a
//! demo log of the fixtures plus seeded synthetic reports becomes a site whose pages, facets,
//! pattern pages, search index and feeds list the right reports; builds are deterministic and
//! incremental; a tampered log is refused; the copied log verifies; the server answers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use debrief_protocol::Timestamp;
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/valid");

fn debrief(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_debrief"))
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Midnight UTC of today: a checkpoint time that is in the past and valid for days.
fn today() -> Timestamp {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    Timestamp::from_unix(now - now % 86_400)
}

/// Runs `archive demo-log` and returns the genesis id it printed.
fn demo_log(out: &Path, synthetic: usize, now: Timestamp) -> String {
    let o = debrief(&[
        "archive",
        "demo-log",
        "--out",
        out.to_str().unwrap(),
        "--fixtures",
        FIXTURES,
        "--synthetic",
        &synthetic.to_string(),
        "--seed",
        "42",
        "--now",
        &now.to_string(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let stdout = String::from_utf8(o.stdout).unwrap();
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("genesis: "))
        .unwrap()
        .trim()
        .to_owned()
}

fn build(log: &Path, out: &Path, genesis: &str) -> Output {
    debrief(&[
        "archive",
        "build",
        "--log",
        log.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--genesis",
        genesis,
        "--no-progress",
    ])
}

/// Every file under `dir` (relative path → bytes).
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The `data-slug` values of report list items on a page.
fn slugs_on(page: &Path) -> BTreeSet<String> {
    let html = fs::read_to_string(page).unwrap();
    html.split("data-slug=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_owned())
        .collect()
}

/// The export as (slug → record) for live reports, plus retracted slugs.
fn export(site: &Path) -> (BTreeMap<String, Value>, BTreeSet<String>) {
    let mut live = BTreeMap::new();
    let mut retracted = BTreeSet::new();
    for line in fs::read_to_string(site.join("export.jsonl"))
        .unwrap()
        .lines()
    {
        let v: Value = serde_json::from_str(line).unwrap();
        let slug = v["slug"].as_str().unwrap().to_owned();
        if v["status"] == "retracted" {
            retracted.insert(slug);
        } else {
            live.insert(slug, v);
        }
    }
    (live, retracted)
}

struct Built {
    _tmp: tempfile::TempDir,
    log: PathBuf,
    site: PathBuf,
    genesis: String,
}

fn built(synthetic: usize) -> Built {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log");
    let site = tmp.path().join("site");
    let genesis = demo_log(&log, synthetic, today());
    let o = build(&log, &site, &genesis);
    assert!(o.status.success(), "{}", text(&o));
    Built {
        _tmp: tmp,
        log,
        site,
        genesis,
    }
}

#[test]
fn site_has_a_page_per_report_and_facets_patterns_search_and_feeds_agree() {
    let b = built(12);
    let (live, retracted) = export(&b.site);
    // 7 fixtures + 12 synthetic, one of them retracted by the demo.
    assert_eq!(live.len() + retracted.len(), 19);
    assert_eq!(retracted.len(), 1);
    for slug in live.keys().chain(&retracted) {
        assert!(
            b.site.join(format!("reports/{slug}/index.html")).is_file(),
            "no page for {slug}"
        );
    }
    // The index lists every live report, and not the retracted one in the main list.
    let index = slugs_on(&b.site.join("index.html"));
    assert_eq!(index, live.keys().cloned().collect::<BTreeSet<_>>());

    // A facet page lists exactly the live reports with that value.
    let sev1: BTreeSet<String> = live
        .iter()
        .filter(|(_, v)| v["content"]["severity"] == "sev1")
        .map(|(s, _)| s.clone())
        .collect();
    assert!(!sev1.is_empty() && sev1.len() < live.len());
    assert_eq!(
        slugs_on(&b.site.join("facets/severity/sev1/index.html")),
        sev1
    );
    // A pattern page lists exactly the reports with an action applying the pattern.
    let staged: BTreeSet<String> = live
        .iter()
        .filter(|(_, v)| {
            v["content"]["actions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["pattern"] == "staged-rollout")
        })
        .map(|(s, _)| s.clone())
        .collect();
    assert!(!staged.is_empty());
    assert_eq!(
        slugs_on(&b.site.join("patterns/staged-rollout/index.html")),
        staged
    );
    // A factor-category page lists the reports with a factor in it.
    let cascade: BTreeSet<String> = live
        .iter()
        .filter(|(_, v)| {
            v["content"]["factors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["category"] == "coupling.cascade")
        })
        .map(|(s, _)| s.clone())
        .collect();
    assert_eq!(
        slugs_on(&b.site.join("categories/coupling.cascade/index.html")),
        cascade
    );

    // The static search index holds a word from a report's body ("backtracked", from the WAF
    // fixture's summary) under that report.
    let idx: Value =
        serde_json::from_slice(&fs::read(b.site.join("search-index.json")).unwrap()).unwrap();
    let with_word: Vec<&str> = idx["docs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| {
            d["words"]
                .as_str()
                .unwrap()
                .split(' ')
                .any(|w| w == "backtracked")
        })
        .map(|d| d["slug"].as_str().unwrap())
        .collect();
    assert!(
        with_word.contains(&"global-edge-outage-after-a-firewall-rule-with-a-backtrac"),
        "{with_word:?}"
    );

    // A report page shows factors with roles, pattern links and the verify section.
    let page = fs::read_to_string(
        b.site
            .join("reports/global-edge-outage-after-a-firewall-rule-with-a-backtrac/index.html"),
    )
    .unwrap();
    assert!(
        page.contains("<code>change.config</code>"),
        "factor category"
    );
    assert!(page.contains("facets/role/trigger/"), "factor role");
    assert!(page.contains("href=\"../../patterns/staged-rollout/\""));
    assert!(page.contains("Verify this report"));
    assert!(page.contains(&format!("debrief verify log --genesis {}", b.genesis)));
    assert!(!page.contains("<script"), "report pages carry no script");

    // A book report links to the public postmortem it is about.
    let book = live
        .keys()
        .find(|s| s.starts_with("book-report"))
        .expect("the book report fixture is published");
    let page = fs::read_to_string(b.site.join(format!("reports/{book}/index.html"))).unwrap();
    assert!(
        page.contains("<dt>Original</dt><dd><a href=\"https://"),
        "{page}"
    );

    // Tombstone and erratum.
    let gone = retracted.iter().next().unwrap();
    let tomb = fs::read_to_string(b.site.join(format!("reports/{gone}/index.html"))).unwrap();
    assert!(tomb.contains("This report was retracted"));
    assert!(tomb.contains("The author found the timeline mixed up two separate incidents."));
    assert!(
        !tomb.contains("Customer impact"),
        "a tombstone shows no content"
    );
    let corrected: Vec<&Value> = live
        .values()
        .filter(|v| !v["errata"].as_array().unwrap().is_empty())
        .collect();
    assert_eq!(corrected.len(), 1);
    let slug = corrected[0]["slug"].as_str().unwrap();
    let fixed = fs::read_to_string(b.site.join(format!("reports/{slug}/index.html"))).unwrap();
    assert!(fixed.contains("<strong>Corrected</strong>"));
    assert!(
        fixed.contains("(corrected)</h1>"),
        "shows the latest version"
    );

    // Atom parses as XML and has one entry per publication, erratum and retraction.
    let atom = fs::read_to_string(b.site.join("feed.atom")).unwrap();
    let mut reader = quick_xml::Reader::from_str(&atom);
    let mut entries = 0;
    loop {
        match reader.read_event().expect("Atom must be well-formed XML") {
            quick_xml::events::Event::Start(e) if e.name().as_ref() == b"entry" => entries += 1,
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(entries, 19 + 1 + 1);
    let feed: Value = serde_json::from_slice(&fs::read(b.site.join("feed.json")).unwrap()).unwrap();
    assert_eq!(feed["version"], "https://jsonfeed.org/version/1.1");
    assert_eq!(feed["items"].as_array().unwrap().len(), 21);

    // The copied log verifies against the pinned genesis.
    let o = debrief(&[
        "verify",
        b.site.join("log").to_str().unwrap(),
        "--genesis",
        &b.genesis,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("result: VERIFIED"));
    // ... and is byte-identical to the source.
    assert_eq!(tree(&b.site.join("log")).len(), tree(&b.log).len() + 1); // + index.html
    for (rel, bytes) in tree(&b.log) {
        assert_eq!(
            fs::read(b.site.join("log").join(&rel)).unwrap(),
            bytes,
            "{rel}"
        );
    }
}

#[test]
fn same_log_same_bytes_and_rebuilds_write_only_what_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log");
    let genesis = demo_log(&log, 5, today());
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    assert!(build(&log, &a, &genesis).status.success());
    assert!(build(&log, &b, &genesis).status.success());
    assert_eq!(tree(&a), tree(&b), "same log, same bytes");

    // Nothing changed: nothing is rendered or written.
    let before = tree(&a);
    let o = build(&log, &a, &genesis);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("report pages: 0 rendered, 12 unchanged; files: 0 written"),
        "{}",
        text(&o)
    );
    assert_eq!(tree(&a), before);

    // A hand-edited page is noticed and rewritten, and only it.
    let edited = before
        .keys()
        .find(|k| k.starts_with("reports/"))
        .unwrap()
        .clone();
    fs::write(a.join(&edited), b"defaced").unwrap();
    let o = build(&log, &a, &genesis);
    assert!(
        text(&o).contains("report pages: 1 rendered, 11 unchanged; files: 1 written"),
        "{}",
        text(&o)
    );
    assert_eq!(tree(&a), before);

    // A refreshed checkpoint (same entries): no report page is re-rendered, only the
    // checkpoint file changes.
    let log2 = tmp.path().join("log2");
    let genesis2 = demo_log(&log2, 5, today().plus_seconds(60));
    assert_eq!(genesis, genesis2);
    let o = build(&log2, &a, &genesis);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("report pages: 0 rendered, 12 unchanged; files: 1 written"),
        "{}",
        text(&o)
    );
    let after = tree(&a);
    let changed: Vec<&String> = after
        .keys()
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    // The manifest records the new checkpoint's hash.
    assert_eq!(
        changed,
        vec![".archive-manifest.json", "log/checkpoint.json"]
    );
}

#[test]
fn a_tampered_or_unpinned_log_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log");
    let genesis = demo_log(&log, 0, today());
    // Flip one character of an entry's signature.
    let entry = log.join("entries/000003.json");
    let mut v: Value = serde_json::from_slice(&fs::read(&entry).unwrap()).unwrap();
    let sig = v["signatures"][0]["sig"].as_str().unwrap().to_owned();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    v["signatures"][0]["sig"] = Value::String(format!("{flipped}{}", &sig[1..]));
    fs::write(&entry, serde_json::to_vec(&v).unwrap()).unwrap();
    let out = tmp.path().join("site");
    let o = build(&log, &out, &genesis);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("REFUSED: the log does not verify"),
        "{}",
        text(&o)
    );
    assert!(!out.exists(), "nothing is written from a refused log");

    // A wrong pinned genesis is refused too.
    let log2 = tmp.path().join("log2");
    demo_log(&log2, 0, today());
    let o = build(&log2, &out, &"0".repeat(64));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("REFUSED"), "{}", text(&o));
}

#[test]
fn building_over_a_foreign_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log");
    let genesis = demo_log(&log, 0, today());
    let out = tmp.path().join("site");
    fs::create_dir_all(&out).unwrap();
    fs::write(out.join("precious.txt"), b"mine").unwrap();
    let o = build(&log, &out, &genesis);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("refusing to write a site over files it did not make"));
    assert_eq!(fs::read(out.join("precious.txt")).unwrap(), b"mine");
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `archive serve` on 127.0.0.1 port 0 and returns it with its address.
fn serve(site: &Path) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_debrief"))
        .args([
            "archive",
            "serve",
            "--dir",
            site.to_str().unwrap(),
            "--addr",
            "127.0.0.1:0",
            "--index",
            site.with_file_name("search.sqlite").to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    (Server(child), addr)
}

/// A plain HTTP/1.1 GET; returns (status, body).
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp[9..12].parse().unwrap();
    let body = resp.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

#[test]
fn serve_answers_pages_and_search_api() {
    let b = built(3);
    let (_server, addr) = serve(&b.site);
    let (status, body) = get(&addr, "/");
    assert_eq!(status, 200);
    assert!(body.contains("Debrief demo archive"));
    let (status, body) = get(&addr, "/api/search?q=backtracked");
    assert_eq!(status, 200, "{body}");
    // Chunked or not, the JSON object is in the body.
    let json = &body[body.find('{').unwrap()..=body.rfind('}').unwrap()];
    let v: Value = serde_json::from_str(json).unwrap();
    let slugs: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["slug"].as_str().unwrap())
        .collect();
    assert!(
        slugs.contains(&"global-edge-outage-after-a-firewall-rule-with-a-backtrac"),
        "{body}"
    );
    // Search without JavaScript: the same results as an HTML page.
    let (status, body) = get(&addr, "/search/server?q=backtracked");
    assert_eq!(status, 200);
    assert!(
        body.contains("data-slug=\"global-edge-outage-after-a-firewall-rule-with-a-backtrac\""),
        "{body}"
    );
    assert!(body.contains("<title>Search results — Debrief demo archive</title>"));
    let (status, _) = get(&addr, "/api/search?q=");
    assert_eq!(status, 400);
    let (status, _) = get(&addr, "/.archive-manifest.json");
    assert_eq!(status, 404);
    let (status, _) = get(&addr, "/../../etc/passwd");
    assert_eq!(status, 404);
}

#[test]
fn an_expired_checkpoint_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log");
    // Checkpoints live at most 7 days; this one was issued 10 days ago.
    let genesis = demo_log(&log, 0, today().plus_seconds(-10 * 86_400));
    let o = build(&log, &tmp.path().join("site"), &genesis);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("REFUSED"), "{}", text(&o));
    assert!(text(&o).contains("expired"), "{}", text(&o));
}

#[test]
fn markup_in_a_report_cannot_script_the_site() {
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = tmp.path().join("fixtures");
    fs::create_dir_all(&fixtures).unwrap();
    let waf = fs::read_to_string(Path::new(FIXTURES).join("2019-07-waf-regex-cpu-exhaustion.md"))
        .unwrap()
        .replacen(
            "## Summary\n",
            "## Summary\n\nSee <script>alert(1)</script> <img src=x onerror=alert(3)> and [this](javascript:alert(2)).\n",
            1,
        );
    fs::write(fixtures.join("waf.md"), waf).unwrap();
    let log = tmp.path().join("log");
    let o = debrief(&[
        "archive",
        "demo-log",
        "--out",
        log.to_str().unwrap(),
        "--fixtures",
        fixtures.to_str().unwrap(),
        "--now",
        &today().to_string(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let site = tmp.path().join("site");
    let o = debrief(&[
        "archive",
        "build",
        "--log",
        log.to_str().unwrap(),
        "--out",
        site.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let (live, _) = export(&site);
    let slug = live.keys().next().unwrap();
    let page = fs::read_to_string(site.join(format!("reports/{slug}/index.html"))).unwrap();
    assert!(
        page.contains("See &lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(!page.contains("<script"));
    assert!(!page.contains("<img"));
    assert!(!page.contains("javascript:"));
    let atom = fs::read_to_string(site.join("feed.atom")).unwrap();
    assert!(!atom.contains("<script"));
}

#[test]
fn build_mirrors_a_log_from_a_url_and_verifies_it() {
    let b = built(2);
    let (_server, addr) = serve(&b.site);
    let mirror = b.site.with_file_name("mirror");
    let o = debrief(&[
        "archive",
        "build",
        "--log",
        &format!("http://{addr}/log"),
        "--out",
        mirror.to_str().unwrap(),
        "--genesis",
        &b.genesis,
        "--no-progress",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("mirrored 11 entries"), "{}", text(&o));
    assert_eq!(
        tree(&mirror),
        tree(&b.site),
        "a mirror builds the same site"
    );

    // Nothing there: refused.
    let o = debrief(&[
        "archive",
        "build",
        "--log",
        &format!("http://{addr}/nothing/"),
        "--out",
        b.site.with_file_name("none").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("REFUSED"), "{}", text(&o));
}

/// The yearly report page of a site, and its Markdown version.
fn yearly_files(site: &Path, year: i32) -> (String, String) {
    (
        fs::read_to_string(site.join(format!("yearly/{year}/index.html"))).unwrap(),
        fs::read_to_string(site.join(format!("yearly/{year}/report.md"))).unwrap(),
    )
}

#[test]
fn yearly_page_on_a_generated_archive_shows_charts_and_some_cells() {
    // 7 fixtures + 400 synthetic reports spread over 2019–2026: about 50 a year, enough for
    // some cells to clear 5 reports and the total to clear 30.
    let b = built(400);
    let o = debrief(&[
        "archive",
        "yearly",
        "--year",
        "2025",
        "--out",
        b.site.to_str().unwrap(),
        "--genesis",
        &b.genesis,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("yearly report 2025 in"), "{}", text(&o));
    let (html, md) = yearly_files(&b.site, 2025);
    // In the site's template, with the site's navigation marking the yearly section.
    assert!(html.contains("<title>Yearly report 2025 — Debrief demo archive</title>"));
    assert!(html.contains("<a href=\"../../yearly/\" aria-current=\"page\">Yearly report</a>"));
    assert!(html.contains("<link rel=\"stylesheet\" href=\"../../assets/style.css\">"));
    // SVG charts with text alternatives.
    assert!(html.contains("<svg"), "no chart");
    assert!(
        html.contains("<title") && html.contains("<desc"),
        "no text alternative"
    );
    assert!(html.contains("<table"), "no table with the same numbers");
    // The public rules are stated on the page and in the Markdown.
    for text in [&html, &md] {
        assert!(text.contains("A count of fewer than 5 reports is not shown"));
        assert!(
            text.contains("No percentage is shown when the number it is a share of is below 30")
        );
    }
    // Not everything is suppressed: the year's total is shown, with a number.
    assert!(!html.contains("Every number of this report is suppressed"));
    let total = html
        .split("Reports counted: <strong>")
        .nth(1)
        .and_then(|s| s.split("</strong>").next())
        .unwrap();
    let n: u64 = total
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("{total}"));
    assert!(n >= 30, "{n}");
    // …and some cells are suppressed too (small factor categories).
    assert!(html.contains("suppressed"));
    assert!(md.starts_with("# Yearly report 2025\n"), "{md}");

    // Linked from the archive: every page's navigation and the yearly index.
    let index = fs::read_to_string(b.site.join("index.html")).unwrap();
    assert!(index.contains("<a href=\"yearly/\">Yearly report</a>"));
    let years = fs::read_to_string(b.site.join("yearly/index.html")).unwrap();
    assert!(years.contains("<a href=\"2025/\">2025</a>"), "{years}");

    // Deterministic: a second site built the same way is byte-identical, and running it again
    // writes nothing.
    let again = b.site.with_file_name("again");
    let o = build(&b.log, &again, &b.genesis);
    assert!(o.status.success(), "{}", text(&o));
    let o = debrief(&[
        "archive",
        "yearly",
        "--year",
        "2025",
        "--log",
        b.log.to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(tree(&again), tree(&b.site));
    let o = debrief(&[
        "archive",
        "yearly",
        "--year",
        "2025",
        "--out",
        again.to_str().unwrap(),
    ]);
    assert!(text(&o).contains("files: 0 written"), "{}", text(&o));
    // A plain rebuild keeps the year (the manifest remembers it).
    let o = build(&b.log, &again, &b.genesis);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(tree(&again), tree(&b.site));
}

#[test]
fn yearly_page_on_a_tiny_archive_suppresses_everything_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log");
    let site = tmp.path().join("site");
    let genesis = demo_log(&log, 0, today());
    let o = debrief(&[
        "archive",
        "build",
        "--log",
        log.to_str().unwrap(),
        "--out",
        site.to_str().unwrap(),
        "--genesis",
        &genesis,
        "--no-progress",
        "--yearly",
        "2025",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let (html, md) = yearly_files(&site, 2025);
    assert!(
        html.contains("Every number of this report is suppressed"),
        "{html}"
    );
    assert!(md.contains("Every number of this report is suppressed"));
    assert!(
        html.contains("Reports counted: <strong>suppressed</strong>"),
        "{html}"
    );
    assert!(html.contains("A count of fewer than 5 reports is not shown"));
    // No count leaks: every table cell of the counts is "suppressed" or a dash.
    assert!(!md.contains("| 1 |") && !md.contains("| 2 |"), "{md}");

    // Years outside the range are refused before anything is written.
    let o = debrief(&[
        "archive",
        "yearly",
        "--year",
        "1200",
        "--out",
        site.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("outside 1971–9999"), "{}", text(&o));
}
