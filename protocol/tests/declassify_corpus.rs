//! The declassification corpus (docs/declassification.md §7): reports with planted identifiers
//! of every kind and ordinary technical text that must survive. Each `NN-name.md` has a sidecar
//! `NN-name.toml` with the scrubber config, the planted identifiers and the keep-words.
//!
//! Run with `cargo test -p debrief-protocol --test declassify_corpus -- --nocapture` to see
//! the figures.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use std::time::{Duration, Instant};

use debrief_protocol::declassify::{
    Allowance, DEFAULT_K, FindingKind, PreviewContext, ScrubConfig, Scrubber, Verdict, preview,
};
use debrief_protocol::profile::{Industry, OrgProfile, Region, SizeBand};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sidecar {
    org_names: Vec<String>,
    deny_terms: Vec<String>,
    private_terms: Vec<String>,
    people: Vec<String>,
    planted: Vec<Planted>,
    keep: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Planted {
    text: String,
    kind: FindingKind,
}

struct Outcome {
    name: String,
    planted: usize,
    removed: usize,
    keep: usize,
    kept: usize,
    findings: usize,
    true_findings: usize,
    misses: Vec<String>,
    lost_keep_words: Vec<String>,
    false_positives: Vec<String>,
    residual: Vec<String>,
    kinds: BTreeSet<FindingKind>,
}

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/declassify")
}

fn run_one(md: &PathBuf) -> Outcome {
    let name = md.file_name().unwrap().to_string_lossy().into_owned();
    let original = fs::read_to_string(md).unwrap();
    let sidecar: Sidecar = toml::from_str(&fs::read_to_string(md.with_extension("toml")).unwrap())
        .unwrap_or_else(|e| panic!("{name}: bad sidecar: {e}"));
    let scrubber = Scrubber::new(&ScrubConfig {
        org_names: sidecar.org_names,
        deny_terms: sidecar.deny_terms,
        private_terms: sidecar.private_terms,
        people: sidecar.people,
    })
    .unwrap();
    let scrubbed = scrubber.scrub(&original);
    let public_lower = scrubbed.text.to_lowercase();
    let original_lower = original.to_lowercase();

    let mut misses = Vec::new();
    for p in &sidecar.planted {
        let needle = p.text.to_lowercase();
        assert!(
            original_lower.contains(&needle),
            "{name}: planted {:?} is not in the report",
            p.text
        );
        if public_lower.contains(&needle) {
            misses.push(format!("{:?} ({:?})", p.text, p.kind));
        }
    }
    let mut lost_keep_words = Vec::new();
    for k in &sidecar.keep {
        let before = original.matches(k.as_str()).count();
        assert!(before > 0, "{name}: keep-word {k:?} is not in the report");
        // Occurrences inside a planted identifier (a port inside a URL) go with it.
        let inside_planted: usize = sidecar
            .planted
            .iter()
            .map(|p| p.text.matches(k.as_str()).count() * original.matches(p.text.as_str()).count())
            .sum();
        let expected = before.saturating_sub(inside_planted);
        assert!(
            expected > 0,
            "{name}: keep-word {k:?} only occurs inside planted identifiers"
        );
        if scrubbed.text.matches(k.as_str()).count() < expected {
            lost_keep_words.push(k.clone());
        }
    }
    // A finding is true when it overlaps a planted identifier (contains it or is part of it).
    let planted_lower: Vec<String> = sidecar
        .planted
        .iter()
        .map(|p| p.text.to_lowercase())
        .collect();
    let mut false_positives = Vec::new();
    let mut true_findings = 0;
    for f in &scrubbed.findings {
        let m = f.matched.to_lowercase();
        if planted_lower
            .iter()
            .any(|p| p.contains(&m) || m.contains(p.as_str()))
        {
            true_findings += 1;
        } else {
            false_positives.push(format!(
                "{}:{} {:?} {:?}",
                f.line, f.column, f.kind, f.matched
            ));
        }
    }
    let residual = scrubber
        .scan(&scrubbed.text)
        .iter()
        .map(|f| format!("{}:{} {:?} {:?}", f.line, f.column, f.kind, f.matched))
        .collect();
    Outcome {
        name,
        planted: sidecar.planted.len(),
        removed: sidecar.planted.len() - misses.len(),
        keep: sidecar.keep.len(),
        kept: sidecar.keep.len() - lost_keep_words.len(),
        findings: scrubbed.findings.len(),
        true_findings,
        misses,
        lost_keep_words,
        false_positives,
        residual,
        kinds: sidecar.planted.iter().map(|p| p.kind).collect(),
    }
}

fn run_corpus() -> Vec<Outcome> {
    let mut reports: Vec<PathBuf> = fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    reports.sort();
    reports.iter().map(run_one).collect()
}

fn pct(n: usize, d: usize) -> f64 {
    if d == 0 {
        100.0
    } else {
        100.0 * n as f64 / d as f64
    }
}

#[test]
fn corpus_recall_and_keep_rate() {
    let outcomes = run_corpus();
    assert!(
        outcomes.len() >= 8,
        "the corpus needs at least 8 reports, found {}",
        outcomes.len()
    );
    let (mut planted, mut removed, mut keep, mut kept, mut findings, mut true_findings) =
        (0, 0, 0, 0, 0, 0);
    let mut kinds = BTreeSet::new();
    println!("report                              recall        keep          precision");
    for o in &outcomes {
        println!(
            "{:<34} {:>3}/{:<3} {:>5.1}%  {:>3}/{:<3} {:>5.1}%  {:>3}/{:<3} {:>5.1}%",
            o.name,
            o.removed,
            o.planted,
            pct(o.removed, o.planted),
            o.kept,
            o.keep,
            pct(o.kept, o.keep),
            o.true_findings,
            o.findings,
            pct(o.true_findings, o.findings)
        );
        for m in &o.misses {
            println!("    missed {m}");
        }
        for k in &o.lost_keep_words {
            println!("    lost keep-word {k:?}");
        }
        for f in &o.false_positives {
            println!("    false positive {f}");
        }
        for r in &o.residual {
            println!("    residual {r}");
        }
        planted += o.planted;
        removed += o.removed;
        keep += o.keep;
        kept += o.kept;
        findings += o.findings;
        true_findings += o.true_findings;
        kinds.extend(o.kinds.iter().copied());
    }
    let recall = pct(removed, planted);
    let keep_rate = pct(kept, keep);
    let precision = pct(true_findings, findings);
    println!(
        "TOTAL {} reports: recall {removed}/{planted} = {recall:.1}%, keep rate {kept}/{keep} = {keep_rate:.1}%, precision {true_findings}/{findings} = {precision:.1}%",
        outcomes.len()
    );
    let missing_kinds: Vec<_> = FindingKind::ALL
        .iter()
        .filter(|k| !kinds.contains(k))
        .collect();
    assert!(
        missing_kinds.is_empty(),
        "no planted identifier of kinds {missing_kinds:?}"
    );
    assert!(recall >= 98.0, "recall {recall:.1}% is below 98%");
    assert!(keep_rate >= 90.0, "keep rate {keep_rate:.1}% is below 90%");
    for o in &outcomes {
        assert!(
            o.residual.is_empty(),
            "{}: the public text still has findings {:?}",
            o.name,
            o.residual
        );
    }
}

/// The strict form: every planted identifier is gone and every keep-word survives.
#[test]
fn corpus_every_planted_identifier_gone_and_every_keep_word_intact() {
    for o in run_corpus() {
        assert!(
            o.misses.is_empty(),
            "{}: still present: {:?}",
            o.name,
            o.misses
        );
        assert!(
            o.lost_keep_words.is_empty(),
            "{}: keep-words lost: {:?}",
            o.name,
            o.lost_keep_words
        );
    }
}

fn full_report() -> debrief_protocol::report::Report {
    let text = fs::read_to_string(corpus_dir().join("reports/consumer-rebalance.md")).unwrap();
    debrief_protocol::report::parse(&text).unwrap()
}

fn profile(region: Region) -> OrgProfile {
    OrgProfile {
        industry: Industry::Saas,
        size_band: SizeBand::M,
        region,
    }
}

/// The whole-report preview (declassification.md §1): classes, generalisation, the k = 3 rule.
#[test]
fn preview_of_a_full_report() {
    let report = full_report();
    let scrubber = Scrubber::new(&ScrubConfig {
        org_names: vec!["Brightwave Inc.".into(), "Corvid Systems".into()],
        deny_terms: vec!["order-fanout".into()],
        private_terms: vec!["Northwind Traders".into()],
        people: vec!["Priya Raman".into()],
    })
    .unwrap();
    let author = profile(Region::Europe);
    // Three member companies share (saas, 250-999, europe): the full profile is published.
    let members = [author.clone(), author.clone(), author.clone()];
    let ctx = PreviewContext {
        author_org: "Brightwave Inc.",
        author_profile: &author,
        member_profiles: &members,
        k: DEFAULT_K,
    };
    let p = preview(&report, &ctx, &scrubber, &[]);
    assert_eq!(p.verdict, Verdict::Blocked);
    assert!(
        p.public
            .contains("- company: a saas company of 250-999 people in Europe\n")
    );
    assert!(!p.generalisations.iter().any(|g| g.field == "company"));
    // Secret: in nothing derived from the report; confidential: dropped from the public text.
    for text in [&p.original, &p.public, &p.diff] {
        assert!(!text.contains("Size poll intervals"));
    }
    assert!(p.original.contains("Friday sale") && !p.public.contains("Friday sale"));
    // Deny terms, people and services.
    assert!(p.public.contains("- services: 2 services\n"));
    assert!(
        p.public
            .contains("- T+26 min [person] opened [ticket] and paged [channel].\n")
    );
    assert!(p.public.contains("deploy of `[term]` (commit [commit])"));
    let kinds: BTreeSet<FindingKind> = p.findings.iter().map(|f| f.finding.kind).collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        [
            FindingKind::Host,
            FindingKind::Url,
            FindingKind::Ticket,
            FindingKind::Commit,
            FindingKind::Channel,
            FindingKind::Person,
            FindingKind::Org,
            FindingKind::Term
        ]
    );
    // Only one other company in Europe: the region is withheld, and the preview says why.
    let members = [
        author.clone(),
        profile(Region::Europe),
        profile(Region::NorthAmerica),
    ];
    let p = preview(
        &report,
        &PreviewContext {
            member_profiles: &members,
            ..ctx
        },
        &scrubber,
        &[],
    );
    assert!(
        p.public
            .contains("- company: a saas company of 250-999 people\n")
    );
    assert_eq!(
        p.generalisations[0].note,
        "only 2 member companies of the circle share (industry saas, size 250-999, region europe); fewer than 3, so the region is withheld"
    );
    // Allowing every finding's text with a reason makes it publishable.
    let texts: BTreeSet<&str> = p
        .findings
        .iter()
        .map(|f| f.finding.matched.as_str())
        .collect();
    let allow: Vec<Allowance> = texts
        .into_iter()
        .map(|t| Allowance::new(t, "checked with the owners").unwrap())
        .collect();
    let p = preview(&report, &ctx, &scrubber, &allow);
    assert_eq!(p.verdict, Verdict::Publishable, "{:?}", p.findings);
    assert!(p.unused_allowances.is_empty());
}

/// Speed figures for docs/declassification.md §7 (printed; never asserted).
#[test]
fn preview_speed() {
    let longest = fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .max_by_key(|p| fs::metadata(p).unwrap().len())
        .unwrap();
    let text = fs::read_to_string(&longest).unwrap();
    let sidecar: Sidecar =
        toml::from_str(&fs::read_to_string(longest.with_extension("toml")).unwrap()).unwrap();
    let config = ScrubConfig {
        org_names: sidecar.org_names,
        deny_terms: sidecar.deny_terms,
        private_terms: sidecar.private_terms,
        people: sidecar.people,
    };
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let runs = 21;
    let build = median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                let _ = Scrubber::new(&config).unwrap();
                t.elapsed()
            })
            .collect(),
    );
    let scrubber = Scrubber::new(&config).unwrap();
    let scrub = median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                let s = scrubber.scrub(&text);
                let _ = scrubber.scan(&s.text);
                t.elapsed()
            })
            .collect(),
    );
    let report = full_report();
    let author = profile(Region::Europe);
    let members = [author.clone()];
    let ctx = PreviewContext {
        author_org: "Brightwave Inc.",
        author_profile: &author,
        member_profiles: &members,
        k: DEFAULT_K,
    };
    let whole = median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                let _ = preview(&report, &ctx, &scrubber, &[]);
                t.elapsed()
            })
            .collect(),
    );
    println!(
        "SPEED (median of {runs}): build scrubber {build:?}; scrub + residual scan of the longest corpus report {} ({} bytes) {scrub:?}; whole-report preview of reports/consumer-rebalance.md {whole:?}",
        longest.file_name().unwrap().to_string_lossy(),
        text.len()
    );
}
