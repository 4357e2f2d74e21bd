//! The report fixtures: every valid one lints clean and round-trips; every invalid one produces
//! exactly the diagnostics listed in its `.expected` file (`line:column level code path`).

use std::path::{Path, PathBuf};

use debrief_protocol::report::{self, LINT_CODES, Report};

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixture directory exists")
        .map(|e| e.expect("fixture directory is readable").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    files
}

#[test]
fn valid_fixtures_lint_clean_and_round_trip() {
    let files = fixtures("valid");
    assert!(files.len() >= 7, "need six postmortems and a book report");
    let mut book_reports = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let outcome = report::lint(&text);
        assert_eq!(outcome.diagnostics, vec![], "{}", file.display());
        let parsed = report::parse(&text).unwrap();
        if parsed.kind == report::ReportKind::BookReport {
            book_reports += 1;
        }
        let rendered = parsed.render_markdown();
        assert_eq!(
            report::parse(&rendered).unwrap(),
            parsed,
            "{}",
            file.display()
        );
        let json = parsed.to_canonical_json().unwrap();
        assert_eq!(Report::from_canonical_json(&json).unwrap(), parsed);
        assert_eq!(
            report::parse(&rendered)
                .unwrap()
                .to_canonical_json()
                .unwrap(),
            json
        );
    }
    assert!(book_reports >= 1);
}

#[test]
fn invalid_fixtures_give_exactly_the_expected_diagnostics() {
    let files = fixtures("invalid");
    assert!(files.len() >= 15);
    let mut seen_codes = std::collections::BTreeSet::new();
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        let expected_file = file.with_extension("expected");
        let expected = std::fs::read_to_string(&expected_file)
            .unwrap_or_else(|_| panic!("missing {}", expected_file.display()));
        let expected: Vec<&str> = expected
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        let outcome = report::lint_bytes(&bytes);
        let got: Vec<String> = outcome.diagnostics.iter().map(|d| d.short()).collect();
        assert_eq!(got, expected, "{}", file.display());
        assert!(!expected.is_empty(), "{} expects nothing", file.display());
        for d in &outcome.diagnostics {
            seen_codes.insert(d.code);
            assert!(LINT_CODES.contains(&d.code), "undocumented code {}", d.code);
            assert!(
                d.help.as_deref().is_some_and(|h| !h.is_empty()),
                "{} has no help",
                d.code
            );
        }
        // Whatever lint says, parse agrees: an error means no report.
        if let Ok(text) = std::str::from_utf8(&bytes) {
            assert_eq!(report::parse(text).is_ok(), !outcome.has_errors());
        }
    }
    let unexercised: Vec<&&str> = LINT_CODES
        .iter()
        .filter(|c| !seen_codes.contains(*c))
        .collect();
    assert!(
        unexercised.is_empty(),
        "no invalid fixture produces {unexercised:?}"
    );
}
