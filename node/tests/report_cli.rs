//! `debrief report ...` driven through the built binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn debrief(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_debrief"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the debrief binary runs")
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn lint_accepts_every_valid_fixture() {
    let dir = fixtures().join("valid");
    let mut args = vec!["report".to_owned(), "lint".to_owned()];
    for entry in std::fs::read_dir(&dir).unwrap() {
        args.push(entry.unwrap().path().display().to_string());
    }
    assert!(args.len() >= 9);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = debrief(&args, &dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert_eq!(text(&out.stdout), "");
    assert!(
        text(&out.stderr).ends_with("0 error(s), 0 warning(s)\n"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn lint_reports_located_errors_and_exits_1() {
    let dir = fixtures().join("invalid");
    let out = debrief(&["report", "lint", "timeline-order.md"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(
            "timeline-order.md:14:12: error[timeline-order] timeline.detected: detected (2026-03-04T07:20:00Z) is before started (2026-03-04T08:15:00Z)\n    help: "
        ),
        "{stdout}"
    );
}

#[test]
fn lint_json_lists_diagnostics_with_file_and_location() {
    let dir = fixtures().join("invalid");
    let out = debrief(&["report", "lint", "--json", "unknown-terms.md"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = &v[0];
    assert_eq!(first["file"], "unknown-terms.md");
    assert_eq!(first["diagnostic"]["code"], "unknown-value");
    assert_eq!(first["diagnostic"]["path"], "industry");
    assert_eq!(first["diagnostic"]["line"], 8);
    assert_eq!(first["diagnostic"]["column"], 12);
    assert_eq!(v.as_array().unwrap().len(), 5);
}

#[test]
fn missing_file_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = debrief(&["report", "lint", "nope.md"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("error: cannot read nope.md"),
        "{}",
        text(&out.stderr)
    );
    let out = debrief(&["report", "lint"], dir.path());
    assert_eq!(out.status.code(), Some(2), "clap usage errors exit 2");
}

#[test]
fn new_writes_a_template_that_lints_with_only_fill_me_in_warnings_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let out = debrief(&["report", "new", "My Outage.md"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let path = dir.path().join("My Outage.md");
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(written.contains("id = \"my-outage\""));
    assert!(
        written.contains("<!-- In three sentences"),
        "guiding questions as comments"
    );

    let out = debrief(&["report", "lint", "--json", "My Outage.md"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut codes: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .inspect(|d| assert_eq!(d["diagnostic"]["level"], "warning"))
        .map(|d| d["diagnostic"]["code"].as_str().unwrap().to_owned())
        .collect();
    codes.dedup();
    assert_eq!(
        codes,
        ["no-factors", "no-actions", "empty-field", "section-empty"]
    );

    std::fs::write(&path, "mine").unwrap();
    let out = debrief(
        &["report", "new", "--kind", "book-report", "My Outage.md"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("already exists; not overwriting it"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "mine");

    let out = debrief(
        &["report", "new", "--kind", "book-report", "--short", "b.md"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0));
    let book = std::fs::read_to_string(dir.path().join("b.md")).unwrap();
    assert!(book.contains("kind = \"book-report\"") && book.contains("source_url = \"\""));
}

#[test]
fn json_prints_canonical_bytes_and_show_renders_text() {
    let dir = fixtures().join("valid");
    let out = debrief(&["report", "json", "book-2017-leap-second-dns.md"], &dir);
    assert_eq!(out.status.code(), Some(0));
    let stdout = out.stdout.strip_suffix(b"\n").unwrap();
    let report = debrief_protocol::report::Report::from_canonical_json(stdout).unwrap();
    assert_eq!(report.to_canonical_json().unwrap(), stdout);
    assert_eq!(report.source_org.as_deref(), Some("Cloudflare"));

    let out = debrief(&["report", "show", "book-2017-leap-second-dns.md"], &dir);
    assert_eq!(out.status.code(), Some(0));
    let shown = text(&out.stdout);
    assert!(
        shown.starts_with("Book report: how a leap second made a DNS resolver fail some lookups\n")
    );
    assert!(shown.contains("  started   2017-01-01T00:00:00Z  (T+0 min)\n"));
    assert!(shown.contains("A2 detect (open) → F1, F3 · dns engineering · pattern: Game day"));

    let bad = fixtures().join("invalid");
    let out = debrief(&["report", "json", "toml-syntax.md"], &bad);
    assert_eq!(out.status.code(), Some(1), "lint errors exit 1");
    assert_eq!(out.stdout, b"");
    assert!(
        text(&out.stderr).contains("toml-syntax.md:4:9: error[toml-syntax]"),
        "{}",
        text(&out.stderr)
    );
}
