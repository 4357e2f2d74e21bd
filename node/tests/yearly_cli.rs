//! `debrief stats --yearly` through the built binary, on three real homes that shared reports
//! with each other (docs/yearly-report.md §4: the circle-internal report, k = 3).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sharing_support;

use std::fs;

use debrief_protocol::report::{FactorCategory, FactorRole};
use debrief_protocol::yearly::corpus::{self, CorpusSpec};
use sharing_support::*;

/// Writes report `i` of a generated 2026 corpus for `home`: every report has a change.config
/// trigger; with `surge`, also a load.surge amplifier. Returns the file path.
fn write_report(home: &Home, i: usize, surge: bool) -> String {
    let mut c = corpus::generate(&CorpusSpec {
        seed: 40 + i as u64,
        companies: 1,
        years: vec![2026],
        per_year: 1,
    });
    let mut r = c.remove(0).report;
    r.id = format!("{}-2026-{i:02}", home.org.to_lowercase());
    r.factors.truncate(1);
    r.factors[0].category = FactorCategory::ChangeConfig;
    r.factors[0].role = FactorRole::Trigger;
    if surge {
        let mut f = r.factors[0].clone();
        f.id = "F2".into();
        f.category = FactorCategory::LoadSurge;
        f.role = FactorRole::Amplifier;
        r.factors.push(f);
    }
    let ids: Vec<String> = r.factors.iter().map(|f| f.id.clone()).collect();
    for a in &mut r.actions {
        a.addresses = ids.clone();
    }
    let path = home.path(&format!("{}.md", r.id));
    fs::write(&path, r.render_markdown()).unwrap();
    path
}

#[test]
fn circle_yearly_report_applies_k_3_over_shared_reports() {
    let c3 = circle3();
    let (a, b, c) = (&c3.a, &c3.b, &c3.c);
    // Acme shares 4 (one later retracted), Bravo and Charlie 3 each. load.surge appears only in
    // Acme's and Bravo's reports: 6 reports from 2 companies.
    let mut retract = String::new();
    for i in 0..4 {
        let v = a.json(&["share", &write_report(a, i, true), "--json"]);
        if i == 3 {
            retract = shared_id(&v);
        }
    }
    a.ok(&[
        "retract",
        &retract,
        "--reason",
        "duplicate of another report",
    ]);
    for i in 0..3 {
        b.ok(&["share", &write_report(b, i, true), "--json"]);
        c.ok(&["share", &write_report(c, i, false), "--json"]);
    }
    for (from, to) in [(a, b), (c, b)] {
        let file = from.path(&format!("{}-out.jsonl", from.org));
        from.ok(&["export", "--out", &file]);
        to.ok(&["import", &file]);
    }

    let v = b.json(&["stats", "--yearly", "--year", "2026", "--json"]);
    assert_eq!(v["year"], 2026);
    assert_eq!(v["reports"]["current"]["count"], 9, "{v}");
    assert_eq!(v["rules"]["min_companies"], 3);
    let row = |table: &str, key: &str| {
        v["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == table)
            .unwrap()["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == key)
            .unwrap()
            .clone()
    };
    let config = row("factor-category", "change.config");
    assert_eq!(config["current"]["state"], "shown");
    assert_eq!(config["current"]["count"], 9);
    // Nine reports is below 30: no percentage.
    assert!(config["current"]["percent_tenths"].is_null());
    // Six load.surge reports, but only from Acme and Bravo: suppressed by k = 3.
    let surge = row("factor-category", "load.surge");
    assert_eq!(surge["current"]["state"], "suppressed");
    assert_eq!(surge["current"]["why"]["reason"], "few-companies");
    assert_eq!(surge["current"]["why"]["min"], 3);
    // Amplifiers: the same six reports, the same rule.
    assert_eq!(
        row("factor-role", "amplifier")["current"]["state"],
        "suppressed"
    );
    assert_eq!(row("factor-role", "trigger")["current"]["count"], 9);

    // Markdown to a file.
    let md = b.path("yearly.md");
    b.ok(&["stats", "--yearly", "--year", "2026", "--out", &md]);
    let text = fs::read_to_string(&md).unwrap();
    assert!(
        text.starts_with("# Yearly report 2026 — circle \"ops\""),
        "{text}"
    );
    assert!(
        text.contains("| `change.config` | 9 | suppressed | – |"),
        "{text}"
    );
    assert!(text.contains("| `load.surge` | suppressed | suppressed | – | 2026: fewer than 3 member companies; 2025: fewer than 5 reports |"), "{text}");
    assert!(text.contains("at least 3 different member companies"));

    // HTML with charts.
    let html = b.path("yearly.html");
    b.ok(&[
        "stats", "--yearly", "--year", "2026", "--format", "html", "--out", &html,
    ]);
    let page = fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<svg role=\"img\""));
    assert!(page.contains("<desc id=\"chart-factor-category-desc\">"));
    assert!(page.contains("change.config: 2026 9, 2025 suppressed."));
    assert!(page.contains("load.surge (suppressed)"));

    // Charlie holds only its own three reports: everything is suppressed, and it says so.
    let v = c.json(&["stats", "--yearly", "--year", "2026", "--json"]);
    assert_eq!(v["reports"]["current"]["state"], "suppressed");
    let md = c.ok(&["stats", "--yearly", "--year", "2026"]);
    assert!(md.contains("Reports counted: suppressed in 2026"), "{md}");

    // The plain stats command is unchanged; --year without --yearly is refused by clap.
    let plain = b.ok(&["stats"]);
    assert!(plain.contains("reports ("), "{plain}");
    let out = b.run(&["stats", "--year", "2026"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--yearly"), "{}", stderr(&out));
}
