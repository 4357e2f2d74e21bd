use super::corpus::{self, CorpusReport};
use super::*;
use crate::report::{self as rep, Level};

fn company(c: u8) -> MemberId {
    MemberId::from_first_key(&[c + 1; 32])
}

fn facts(
    source: Option<MemberId>,
    year: i32,
    factors: Vec<(FactorCategory, FactorRole)>,
) -> IncidentFacts {
    IncidentFacts {
        source,
        year: Some(year),
        severity: Severity::Sev2,
        significance: Significance::Significant,
        factors,
        actions: vec![(ActionKind::Prevent, Some(RemediationPattern::StagedRollout))],
        detection_delay: None,
        recovery_delay: None,
        impact: ImpactBand::Hundreds,
        data_loss: Some(DataLoss::None),
    }
}

/// 40 reports in 2026 from 5 companies (report i from company i % 5), 3 in 2025, 1 undated.
/// - every report: change.config / trigger (report 7 has a second change.config, an amplifier);
/// - i < 6: change.code / amplifier (6 reports, 5 companies);
/// - i in {0, 5, 10, 15, 20}: load.surge / latent-condition (5 reports, all company 0);
/// - i in {1, 2, 3}: defect.latent / detection-delay (3 reports);
/// - detection delay (i + 1) min; recovery (i + 1) × 10 min, except i ≥ 36 (the fallback to
///   mitigation) with (i + 1) × 5 min;
/// - data loss: 30 none, 6 recovered, 4 permanent; significance major for i ≥ 35.
fn hand_corpus() -> Vec<IncidentFacts> {
    let mut out = Vec::new();
    for i in 0..40u8 {
        let mut factors = vec![(FactorCategory::ChangeConfig, FactorRole::Trigger)];
        if i < 6 {
            factors.push((FactorCategory::ChangeCode, FactorRole::Amplifier));
        }
        if i % 5 == 0 && i <= 20 {
            factors.push((FactorCategory::LoadSurge, FactorRole::LatentCondition));
        }
        if (1..=3).contains(&i) {
            factors.push((FactorCategory::DefectLatent, FactorRole::DetectionDelay));
        }
        // A report with the same category twice counts once there.
        if i == 7 {
            factors.push((FactorCategory::ChangeConfig, FactorRole::Amplifier));
        }
        let mut f = facts(Some(company(i % 5)), 2026, factors);
        let n = i64::from(i) + 1;
        f.detection_delay = Some(n * 60);
        f.recovery_delay = Some(if i < 36 { n * 600 } else { n * 300 });
        f.data_loss = Some(match i {
            0..=29 => DataLoss::None,
            30..=35 => DataLoss::Recovered,
            _ => DataLoss::Permanent,
        });
        if i >= 35 {
            f.significance = Significance::Major;
        }
        out.push(f);
    }
    for c in 0..3 {
        out.push(facts(
            Some(company(c)),
            2025,
            vec![(FactorCategory::ChangeConfig, FactorRole::Trigger)],
        ));
    }
    // A report without any known instant: counted as undated only.
    let mut undated = facts(Some(company(4)), 2026, vec![]);
    undated.year = None;
    out.push(undated);
    out
}

fn shown(count: u64, percent_tenths: Option<u32>) -> Cell {
    Cell::Shown {
        count,
        percent_tenths,
    }
}

const FEW: Cell = Cell::Suppressed {
    why: Reason::FewReports { min: 5 },
};
const FEW_COMPANIES: Cell = Cell::Suppressed {
    why: Reason::FewCompanies { min: 3 },
};

#[test]
fn hand_corpus_counts_public_rules() {
    let r = aggregate_facts(&hand_corpus(), 2026, SuppressionRules::PUBLIC);
    assert_eq!((r.year, r.previous_year), (2026, 2025));
    assert_eq!(r.reports.current, shown(40, None));
    assert_eq!(r.reports.previous, FEW);
    assert_eq!(r.reports.trend, None);
    assert_eq!(r.undated, FEW);

    let cat = r.table("factor-category").unwrap();
    let row = |k: &str| cat.row(k).unwrap();
    assert_eq!(row("change.config").current, shown(40, Some(1000)));
    assert_eq!(row("change.config").previous, FEW);
    assert_eq!(row("change.code").current, shown(6, Some(150)));
    assert_eq!(row("load.surge").current, shown(5, Some(125)));
    assert_eq!(row("defect.latent").current, FEW);
    assert_eq!(row("time.clock-cert").current, FEW);
    assert_eq!(cat.rows.len(), FactorCategory::ALL.len());
    // Shown rows first, largest first; then suppressed rows in vocabulary order.
    let keys: Vec<&str> = cat.rows.iter().take(4).map(|r| r.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "change.config",
            "change.code",
            "load.surge",
            "change.manual-op"
        ]
    );

    let role = r.table("factor-role").unwrap();
    assert_eq!(role.row("trigger").unwrap().current, shown(40, Some(1000)));
    // Report 7's second change.config factor is an amplifier: 6 + 1 reports.
    assert_eq!(role.row("amplifier").unwrap().current, shown(7, Some(175)));
    assert_eq!(
        role.row("latent-condition").unwrap().current,
        shown(5, Some(125))
    );
    assert_eq!(role.row("detection-delay").unwrap().current, FEW);

    let sig = r.table("significance").unwrap();
    assert_eq!(
        sig.row("significant").unwrap().current,
        shown(35, Some(875))
    );
    assert_eq!(sig.row("major").unwrap().current, shown(5, Some(125)));

    let loss = r.table("data-loss").unwrap();
    assert_eq!(loss.row("none").unwrap().current, shown(30, Some(750)));
    assert_eq!(loss.row("recovered").unwrap().current, shown(6, Some(150)));
    assert_eq!(loss.row("permanent").unwrap().current, FEW);

    let pat = r.table("remediation-pattern").unwrap();
    let staged = pat.row("staged-rollout").unwrap();
    assert_eq!(staged.current, shown(40, Some(1000)));
    assert_eq!(staged.children[0].key, "prevent");
    assert_eq!(staged.children[0].current, shown(40, None));
    let detect = staged.children.iter().find(|c| c.key == "detect").unwrap();
    assert_eq!(detect.current, FEW);
}

#[test]
fn hand_corpus_delays_are_exact_quantiles_and_buckets() {
    let r = aggregate_facts(&hand_corpus(), 2026, SuppressionRules::PUBLIC);
    let det = r.delay("detection-delay").unwrap();
    assert_eq!(det.current.n, shown(40, None));
    assert_eq!(
        det.current.quantiles,
        Ok(Quantiles {
            p25: 600,
            p50: 1200,
            p75: 1800,
            p90: 2160
        })
    );
    let buckets: Vec<Cell> = det.current.buckets.iter().map(|b| b.1).collect();
    assert_eq!(
        buckets,
        [
            FEW,
            shown(25, Some(625)),
            shown(11, Some(275)),
            FEW,
            FEW,
            FEW,
            FEW
        ]
    );
    assert_eq!(det.previous.quantiles, Err(Reason::FewReports { min: 5 }));
    assert_eq!(det.median_change, None);

    let rec = r.delay("recovery-delay").unwrap();
    assert_eq!(
        rec.current.quantiles,
        Ok(Quantiles {
            p25: 6000,
            p50: 11400,
            p75: 15600,
            p90: 19200
        })
    );
    let buckets: Vec<Cell> = rec.current.buckets.iter().map(|b| b.1).collect();
    assert_eq!(
        buckets,
        [
            FEW,
            FEW,
            shown(9, Some(225)),
            shown(29, Some(725)),
            FEW,
            FEW,
            FEW
        ]
    );
}

#[test]
fn nearest_rank_quantiles() {
    assert_eq!(
        quantiles(&mut [5, 1, 4, 2, 3]),
        Quantiles {
            p25: 2,
            p50: 3,
            p75: 4,
            p90: 5
        }
    );
    assert_eq!(
        quantiles(&mut [7]),
        Quantiles {
            p25: 7,
            p50: 7,
            p75: 7,
            p90: 7
        }
    );
    // A long tail moves p90, not the median: why we show quantiles, never a mean.
    let mut v: Vec<i64> = (1..=9).chain([1_000_000]).collect();
    let q = quantiles(&mut v);
    assert_eq!((q.p50, q.p90), (5, 9));
}

#[test]
fn circle_rules_need_three_companies() {
    let r = aggregate_facts(&hand_corpus(), 2026, SuppressionRules::CIRCLE);
    let cat = r.table("factor-category").unwrap();
    // Five reports, all from one company: shown publicly, suppressed in the circle.
    assert_eq!(cat.row("load.surge").unwrap().current, FEW_COMPANIES);
    assert_eq!(cat.row("change.code").unwrap().current, shown(6, Some(150)));
    assert!(r.suppressed.contains(&SuppressedCell {
        table: "factor-category".into(),
        key: "load.surge".into(),
        year: 2026,
        why: Reason::FewCompanies { min: 3 },
    }));
}

#[test]
fn category_from_two_companies_is_suppressed_in_the_circle_even_with_many_reports() {
    // 12 reports of dependency.failure, all from companies 0 and 1; 30 others from 6 companies.
    let mut all = Vec::new();
    for i in 0..12u8 {
        all.push(facts(
            Some(company(i % 2)),
            2026,
            vec![(FactorCategory::DependencyFailure, FactorRole::Trigger)],
        ));
    }
    for i in 0..30u8 {
        all.push(facts(
            Some(company(i % 6)),
            2026,
            vec![(FactorCategory::ChangeCode, FactorRole::Trigger)],
        ));
    }
    let circle = aggregate_facts(&all, 2026, SuppressionRules::CIRCLE);
    let public = aggregate_facts(&all, 2026, SuppressionRules::PUBLIC);
    let row =
        |r: &YearlyReport, k: &str| r.table("factor-category").unwrap().row(k).unwrap().current;
    assert_eq!(row(&circle, "dependency.failure"), FEW_COMPANIES);
    assert_eq!(row(&public, "dependency.failure"), shown(12, Some(286)));
    assert_eq!(row(&circle, "change.code"), shown(30, Some(714)));
    // The role table mixes both: 42 triggers from 6 companies, shown.
    let trigger = circle.table("factor-role").unwrap().row("trigger").unwrap();
    assert_eq!(trigger.current, shown(42, Some(1000)));
}

#[test]
fn no_percentage_below_thirty() {
    let all: Vec<IncidentFacts> = (0..29u8)
        .map(|i| {
            facts(
                Some(company(i % 4)),
                2026,
                vec![(FactorCategory::ChangeCode, FactorRole::Trigger)],
            )
        })
        .collect();
    let r = aggregate_facts(&all, 2026, SuppressionRules::CIRCLE);
    let row = r
        .table("factor-category")
        .unwrap()
        .row("change.code")
        .unwrap();
    assert_eq!(row.current, shown(29, None));
    // 29 values: a count, but no quantiles.
    let mut with_delay = all.clone();
    for f in &mut with_delay {
        f.detection_delay = Some(600);
    }
    let r = aggregate_facts(&with_delay, 2026, SuppressionRules::CIRCLE);
    let det = r.delay("detection-delay").unwrap();
    assert_eq!(det.current.n, shown(29, None));
    assert_eq!(det.current.quantiles, Err(Reason::SmallSample { min: 30 }));
}

#[test]
fn one_suppressed_row_of_a_partition_hides_the_smallest_other() {
    // Data loss: 30 none, 6 recovered, 4 permanent, 5 unknown: only `permanent` fails the rule,
    // so total − the rest would reveal it; the smallest shown row (unknown, 5) goes too.
    let mut all = Vec::new();
    for i in 0..45u8 {
        let mut f = facts(
            Some(company(i % 5)),
            2026,
            vec![(FactorCategory::ChangeCode, FactorRole::Trigger)],
        );
        f.data_loss = match i {
            0..=29 => Some(DataLoss::None),
            30..=35 => Some(DataLoss::Recovered),
            36..=39 => Some(DataLoss::Permanent),
            _ => None,
        };
        all.push(f);
    }
    let r = aggregate_facts(&all, 2026, SuppressionRules::PUBLIC);
    let loss = r.table("data-loss").unwrap();
    assert_eq!(loss.row("none").unwrap().current, shown(30, Some(667)));
    assert_eq!(loss.row("recovered").unwrap().current, shown(6, Some(133)));
    assert_eq!(loss.row("permanent").unwrap().current, FEW);
    assert_eq!(
        loss.row("unknown").unwrap().current,
        Cell::Suppressed {
            why: Reason::Complementary
        }
    );
    // Only partition tables get complementary suppression.
    let complementary: Vec<(&str, &str)> = r
        .suppressed
        .iter()
        .filter(|s| s.why == Reason::Complementary)
        .map(|s| (s.table.as_str(), s.key.as_str()))
        .collect();
    assert_eq!(complementary, [("data-loss", "unknown")]);
}

#[test]
fn one_suppressed_histogram_bucket_hides_the_smallest_other() {
    // 40 detection delays: 30 under 5 min, 6 of 10 min, 4 of 1 h: the 1 h bucket alone fails
    // the rule, so the 6 (the smallest shown) is hidden too.
    let all: Vec<IncidentFacts> = (0..40u8)
        .map(|i| {
            let mut f = facts(
                Some(company(i % 5)),
                2026,
                vec![(FactorCategory::ChangeCode, FactorRole::Trigger)],
            );
            f.detection_delay = Some(match i {
                0..=29 => 60,
                30..=35 => 600,
                _ => 3600,
            });
            f
        })
        .collect();
    let r = aggregate_facts(&all, 2026, SuppressionRules::PUBLIC);
    let cells: Vec<Cell> = r
        .delay("detection-delay")
        .unwrap()
        .current
        .buckets
        .iter()
        .map(|b| b.1)
        .collect();
    let hidden = Cell::Suppressed {
        why: Reason::Complementary,
    };
    // Zero buckets are suppressed too, so here three or more are hidden and nothing changes...
    assert_eq!(cells[0], shown(30, Some(750)));
    assert_eq!(cells[1], shown(6, Some(150)));
    assert_eq!(cells[2], FEW);
    assert!(cells[3..].iter().all(|c| *c == FEW));
    assert!(!cells.contains(&hidden));
    // ...unless every other bucket is filled (5 reports each): then the lone small bucket
    // drags the smallest shown one with it (5 reports; the tie goes to the first label in byte
    // order, "1–3 d").
    let mut full = all.clone();
    for (k, secs) in [
        (0u8, 3 * 3600),
        (1, 12 * 3600),
        (2, 2 * 86_400),
        (3, 5 * 86_400),
    ] {
        for j in 0..5u8 {
            let mut f = facts(
                Some(company((k + j) % 5)),
                2026,
                vec![(FactorCategory::ChangeCode, FactorRole::Trigger)],
            );
            f.detection_delay = Some(secs);
            full.push(f);
        }
    }
    let r = aggregate_facts(&full, 2026, SuppressionRules::PUBLIC);
    let cells: Vec<Cell> = r
        .delay("detection-delay")
        .unwrap()
        .current
        .buckets
        .iter()
        .map(|b| b.1)
        .collect();
    assert_eq!(
        cells,
        [
            shown(30, Some(500)),
            shown(6, Some(100)),
            FEW,
            shown(5, Some(83)),
            shown(5, Some(83)),
            hidden,
            shown(5, Some(83)),
        ]
    );
    assert!(r.suppressed.iter().any(|s| s.table == "detection-delay"
        && s.key == "1–3 d"
        && s.why == Reason::Complementary));
}

#[test]
fn trends_compare_shown_cells_only() {
    let mut all = Vec::new();
    for (year, n) in [(2025, 32u8), (2026, 40)] {
        for i in 0..n {
            let cat = if i < 10 {
                FactorCategory::ChangeConfig
            } else {
                FactorCategory::ChangeCode
            };
            all.push(facts(
                Some(company(i % 4)),
                year,
                vec![(cat, FactorRole::Trigger)],
            ));
        }
    }
    let r = aggregate_facts(&all, 2026, SuppressionRules::CIRCLE);
    assert_eq!(
        r.reports.trend,
        Some(Trend {
            change: 8,
            share_change_tenths: None
        })
    );
    let cat = r.table("factor-category").unwrap();
    let code = cat.row("change.code").unwrap();
    // 30/40 = 75.0 % against 22/32 = 68.8 %.
    assert_eq!(code.current, shown(30, Some(750)));
    assert_eq!(code.previous, shown(22, Some(688)));
    assert_eq!(
        code.trend,
        Some(Trend {
            change: 8,
            share_change_tenths: Some(62)
        })
    );
    assert_eq!(cat.row("time.clock-cert").unwrap().trend, None);
}

fn contributions(c: &[CorpusReport]) -> Vec<Contribution<'_>> {
    c.iter()
        .map(|c| Contribution {
            report: &c.report,
            source: Some(&c.source),
        })
        .collect()
}

#[test]
fn standard_corpus_is_valid_and_large_enough() {
    let c = corpus::standard(7);
    assert_eq!(c.len(), 320);
    let companies: BTreeSet<&MemberId> = c.iter().map(|r| &r.source).collect();
    assert_eq!(companies.len(), 12);
    for r in &c {
        let text = r.report.render_markdown();
        let outcome = rep::lint(&text);
        let errors: Vec<_> = outcome
            .diagnostics
            .iter()
            .filter(|d| d.level == Level::Error)
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", r.report.id);
        assert_eq!(outcome.report.as_ref(), Some(&r.report), "{}", r.report.id);
    }
    // Deterministic.
    assert_eq!(corpus::standard(7), c);
    assert_ne!(corpus::standard(8), c);

    for rules in [SuppressionRules::PUBLIC, SuppressionRules::CIRCLE] {
        let y = aggregate(&contributions(&c), 2026, rules);
        assert_eq!(y.reports.current, shown(160, None));
        assert_eq!(y.reports.previous, shown(160, None));
        assert!(!y.all_suppressed());
        assert!(
            !y.suppressed.is_empty(),
            "the rare categories are suppressed"
        );
        let det = y.delay("detection-delay").unwrap();
        assert!(det.current.quantiles.is_ok());
        assert!(y.delay("recovery-delay").unwrap().median_change.is_some());
        let cat = y.table("factor-category").unwrap();
        assert!(cat.rows.iter().filter(|r| r.trend.is_some()).count() >= 5);
    }
}

#[test]
fn tiny_corpus_suppresses_everything() {
    let c = corpus::tiny(1);
    assert_eq!(c.len(), 6);
    for r in &c {
        assert!(!rep::lint(&r.report.render_markdown()).has_errors());
    }
    for rules in [SuppressionRules::PUBLIC, SuppressionRules::CIRCLE] {
        let y = aggregate(&contributions(&c), 2026, rules);
        assert!(y.all_suppressed(), "{rules:?}");
        assert!(
            y.suppressed
                .iter()
                .any(|s| s.table == "reports" && s.year == 2026)
        );
    }
}

#[test]
fn facts_from_a_report() {
    let c = corpus::standard(3);
    let r = &c[0].report;
    let f = IncidentFacts::from_report(r, Some(&c[0].source));
    let t = &r.timeline;
    let started = t.started.known().unwrap().unix();
    assert_eq!(f.year, Some(2025));
    assert_eq!(
        f.detection_delay,
        t.detected.known().map(|d| d.unix() - started)
    );
    let expect_recovery = t
        .resolved
        .known()
        .or(t.mitigated.known())
        .map(|d| d.unix() - started);
    assert_eq!(f.recovery_delay, expect_recovery);
    assert_eq!(f.factors.len(), r.factors.len());
    assert_eq!(f.source.as_ref(), Some(&c[0].source));

    // Unknown start: no delays, and the year comes from the next known instant.
    let mut r2 = r.clone();
    r2.timeline.started = Field::Unknown;
    let f2 = IncidentFacts::from_report(&r2, None);
    assert_eq!((f2.detection_delay, f2.recovery_delay), (None, None));
    assert_eq!(f2.year, Some(2025));
}

#[test]
fn facts_from_public_content() {
    use crate::declassify::{Magnitude, quarter, relative_minutes};
    let c = corpus::standard(5);
    let r = &c[3].report;
    let t = &r.timeline;
    let start = *t.started.known().unwrap();
    // What the declassification preview publishes for these fields (declassification.md §2).
    let mut facts = BTreeMap::new();
    facts.insert("timeline.started".to_owned(), quarter(start).unwrap());
    for (k, f) in [
        ("timeline.detected", &t.detected),
        ("timeline.mitigated", &t.mitigated),
        ("timeline.resolved", &t.resolved),
    ] {
        let v = f
            .known()
            .map_or("unknown".to_owned(), |at| relative_minutes(start, *at));
        facts.insert(k.to_owned(), v);
    }
    let magnitude = match r.customer_impact.magnitude {
        Field::Known(m) => Magnitude::Power(u32::from(m)).words(),
        ref other => other.marker().unwrap().to_owned(),
    };
    facts.insert("customer_impact.magnitude".to_owned(), magnitude);
    let loss = match r.customer_impact.data_loss {
        Field::Known(d) => d.as_str().to_owned(),
        ref other => other.marker().unwrap().to_owned(),
    };
    facts.insert("customer_impact.data_loss".to_owned(), loss);

    let public = IncidentFacts::from_public_facts(
        r.severity,
        r.significance,
        &facts,
        &r.factors,
        &r.actions,
    );
    let private = IncidentFacts::from_report(r, None);
    // Same facts, except that delays lose their seconds.
    let minutes = |d: Option<i64>| d.map(|s| s / 60 * 60);
    assert_eq!(public.year, private.year);
    assert_eq!(public.detection_delay, minutes(private.detection_delay));
    assert_eq!(public.recovery_delay, minutes(private.recovery_delay));
    assert_eq!(public.impact, private.impact);
    assert_eq!(public.data_loss, private.data_loss);
    assert_eq!(public.factors, private.factors);
    assert_eq!(public.actions, private.actions);
    assert_eq!(public.source, None);

    let empty =
        IncidentFacts::from_public_facts(r.severity, r.significance, &BTreeMap::new(), &[], &[]);
    assert_eq!((empty.year, empty.impact), (None, ImpactBand::Unknown));
    let na = BTreeMap::from([("customer_impact.magnitude".to_owned(), "n/a".to_owned())]);
    let none = IncidentFacts::from_public_facts(r.severity, r.significance, &na, &[], &[]);
    assert_eq!(none.impact, ImpactBand::None);
}

#[test]
fn json_shape_of_cells_and_quantiles() {
    let r = aggregate_facts(&hand_corpus(), 2026, SuppressionRules::CIRCLE);
    let v = serde_json::to_value(&r).unwrap();
    let det = &v["delays"][0];
    assert_eq!(det["id"], "detection-delay");
    assert_eq!(
        det["current"]["quantiles"],
        serde_json::json!({"state": "shown", "p25": 600, "p50": 1200, "p75": 1800, "p90": 2160})
    );
    assert_eq!(
        det["previous"]["quantiles"],
        serde_json::json!({"state": "suppressed", "why": {"reason": "few-reports", "min": 5}})
    );
    assert_eq!(
        v["reports"]["current"],
        serde_json::json!({"state": "shown", "count": 40, "percent_tenths": null})
    );
    assert_eq!(det["current"]["buckets"][1][0], "5–30 min");
}

#[test]
fn generalised_values_parse() {
    assert_eq!(parse_quarter_year("2026-Q3"), Some(2026));
    assert_eq!(parse_quarter_year("2026-Q5"), None);
    assert_eq!(parse_quarter_year("26-Q1"), None);
    assert_eq!(parse_relative_minutes("T+42 min"), Some(2520));
    assert_eq!(parse_relative_minutes("T+0 min"), Some(0));
    assert_eq!(parse_relative_minutes("T-5 min"), None);
    assert_eq!(parse_relative_minutes("42 min"), None);
}

#[test]
fn impact_bands_follow_the_significance_bounds() {
    let band = |m| ImpactBand::of_magnitude(&m);
    assert_eq!(band(Field::NotApplicable), ImpactBand::None);
    assert_eq!(band(Field::Known(1)), ImpactBand::Under100);
    assert_eq!(band(Field::Known(2)), ImpactBand::Hundreds);
    assert_eq!(band(Field::Known(5)), ImpactBand::HundredThousands);
    assert_eq!(band(Field::Known(7)), ImpactBand::TenMillions);
    assert_eq!(band(Field::Withheld), ImpactBand::Unknown);
}

#[test]
fn rules_are_described_in_words() {
    let public = SuppressionRules::PUBLIC.describe().join(" ");
    assert!(public.contains("fewer than 5 reports"));
    assert!(public.contains("below 30"));
    assert!(!public.contains("k-anonymity"));
    let circle = SuppressionRules::CIRCLE.describe().join(" ");
    assert!(circle.contains("at least 3 different member companies"));
    assert_eq!(human_duration(45), "45 s");
    assert_eq!(human_duration(12 * 60), "12 min");
    assert_eq!(human_duration(3 * 3600 + 20 * 60), "3 h 20 min");
    assert_eq!(human_duration(2 * 86_400 + 4 * 3600), "2 d 4 h");
    assert_eq!(percent_text(125), "12.5%");
}
