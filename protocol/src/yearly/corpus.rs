//! A seeded synthetic corpus of valid reports, for tests and demos of the yearly report and the
//! public archive (yearly-report.md §5).
//!
//! Pure and deterministic: the same seed gives the same reports on every platform (integer
//! arithmetic only, with a SplitMix64 generator). Every report lints clean (warnings allowed) and
//! round-trips through Markdown. Category and pattern frequencies are skewed on purpose, so a
//! yearly report over the [`standard`] corpus shows most cells and suppresses a few.

use std::collections::BTreeMap;

use time::{Date, Month, PrimitiveDateTime, Time};

use crate::report::{
    Action, ActionKind, ActionStatus, CustomerImpact, DataLoss, Factor, FactorCategory, FactorRole,
    Field, Industry, RemediationPattern, Report, ReportKind, ReportStatus, Section, SectionName,
    Severity, Significance, Timeline, Tlp, assess_significance,
};
use crate::{MemberId, Timestamp};

/// One generated report and the company that wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorpusReport {
    /// Index of the company, `0..companies`.
    pub company: usize,
    /// A member id for that company, derived from a fixed key (`[company + 1; 32]`), stable
    /// across runs. Real nodes have other ids; callers that publish through real members map
    /// `company` to their own.
    pub source: MemberId,
    pub report: Report,
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorpusSpec {
    pub seed: u64,
    /// Number of distinct companies (at most 255).
    pub companies: usize,
    /// Years to cover, each with `per_year` reports.
    pub years: Vec<i32>,
    pub per_year: usize,
}

/// The standard corpus: 12 companies, 2025 and 2026, 160 reports a year (320 in all).
pub fn standard(seed: u64) -> Vec<CorpusReport> {
    generate(&CorpusSpec {
        seed,
        companies: 12,
        years: vec![2025, 2026],
        per_year: 160,
    })
}

/// A tiny corpus in which every cell of a yearly report for 2026 must be suppressed, under the
/// public and the circle rules alike: four reports in 2026 and two in 2025, from two companies.
pub fn tiny(seed: u64) -> Vec<CorpusReport> {
    generate(&CorpusSpec {
        seed,
        companies: 2,
        years: vec![2025, 2026, 2026],
        per_year: 2,
    })
}

/// SplitMix64: small, well-studied, and the same on every platform.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0); the modulo bias is irrelevant for test data.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        let span = u64::try_from(hi.saturating_sub(lo)).unwrap_or(1).max(1);
        lo + i64::try_from(self.below(span)).unwrap_or(0)
    }

    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    /// An index drawn with the given weights.
    fn weighted(&mut self, weights: &[u64]) -> usize {
        let total: u64 = weights.iter().sum();
        let mut x = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        0
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        let i = usize::try_from(self.below(items.len() as u64)).unwrap_or(0);
        items[i.min(items.len() - 1)]
    }
}

/// Skewed weights over a vocabulary: the first values are common, the last rare.
fn skewed(n: usize) -> Vec<u64> {
    (0..n as u64)
        .map(|i| (n as u64 - i).pow(2) / 4 + 1)
        .collect()
}

/// Delay buckets in seconds (lower, upper), roughly logarithmic, with their weights.
const DETECTION: &[(i64, i64, u64)] = &[
    (30, 300, 30),
    (300, 1_800, 35),
    (1_800, 7_200, 20),
    (7_200, 28_800, 9),
    (28_800, 86_400, 4),
    (86_400, 259_200, 2),
];
const REPAIR: &[(i64, i64, u64)] = &[
    (120, 1_800, 25),
    (1_800, 7_200, 35),
    (7_200, 28_800, 25),
    (28_800, 86_400, 10),
    (86_400, 345_600, 5),
];

fn span(rng: &mut Rng, table: &[(i64, i64, u64)]) -> i64 {
    let weights: Vec<u64> = table.iter().map(|t| t.2).collect();
    let (lo, hi, _) = table[rng.weighted(&weights)];
    rng.range(lo, hi)
}

fn year_start(year: i32) -> i64 {
    Date::from_calendar_date(year, Month::January, 1)
        .map(|d| {
            PrimitiveDateTime::new(d, Time::MIDNIGHT)
                .assume_utc()
                .unix_timestamp()
        })
        .unwrap_or(0)
}

/// Generates reports per `spec`, in (year, company) order.
pub fn generate(spec: &CorpusSpec) -> Vec<CorpusReport> {
    let mut rng = Rng(spec.seed);
    let companies = spec.companies.clamp(1, 255);
    let cat_weights = skewed(FactorCategory::ALL.len());
    let pat_weights = skewed(RemediationPattern::ALL.len());
    let mut serial: BTreeMap<(usize, i32), usize> = BTreeMap::new();
    let mut out = Vec::new();
    for &year in &spec.years {
        for i in 0..spec.per_year {
            // Spread reports over companies unevenly but so that every company writes some.
            let company = if i < companies {
                i
            } else {
                usize::try_from(rng.below(companies as u64)).unwrap_or(0)
            };
            let n = serial.entry((company, year)).or_insert(0);
            *n += 1;
            let id = format!("c{company:02}-{year}-{n:03}");
            let report = one(&mut rng, id, year, &cat_weights, &pat_weights);
            let key_byte = u8::try_from(company + 1).unwrap_or(u8::MAX);
            out.push(CorpusReport {
                company,
                source: MemberId::from_first_key(&[key_byte; 32]),
                report,
            });
        }
    }
    out
}

fn one(rng: &mut Rng, id: String, year: i32, cat_w: &[u64], pat_w: &[u64]) -> Report {
    // Start somewhere in the year, leaving room for the delays to stay in order.
    let started = year_start(year) + rng.range(0, 360 * 86_400);
    let detected = started + span(rng, DETECTION);
    let mitigated = detected + span(rng, REPAIR);
    let resolved = mitigated + rng.range(0, 86_400);
    let known = |t: i64| Field::Known(Timestamp::from_unix(t));
    let timeline = Timeline {
        started: known(started),
        detected: if rng.percent(5) {
            Field::Unknown
        } else {
            known(detected)
        },
        mitigated: known(mitigated),
        resolved: if rng.percent(10) {
            Field::Unknown
        } else {
            known(resolved)
        },
    };

    let affected = !rng.percent(20);
    let customer_impact = if affected {
        CustomerImpact {
            who: Field::Known("customers of one synthetic service".into()),
            magnitude: if rng.percent(6) {
                Field::Withheld
            } else {
                Field::Known(u8::try_from(rng.below(9)).unwrap_or(0))
            },
            saw: Field::Known("errors and slow responses".into()),
            duration_minutes: Field::Known(u64::try_from((mitigated - started) / 60).unwrap_or(0)),
            data_loss: match rng.below(100) {
                0..=2 => Field::Known(DataLoss::Permanent),
                3..=10 => Field::Known(DataLoss::Recovered),
                11..=14 => Field::Unknown,
                _ => Field::Known(DataLoss::None),
            },
        }
    } else {
        CustomerImpact {
            who: Field::NotApplicable,
            magnitude: Field::NotApplicable,
            saw: Field::NotApplicable,
            duration_minutes: Field::NotApplicable,
            data_loss: Field::Known(DataLoss::None),
        }
    };

    let n_factors = 1 + usize::try_from(rng.below(4)).unwrap_or(0);
    let mut factors = Vec::new();
    for i in 0..n_factors {
        let category = FactorCategory::ALL[rng.weighted(cat_w)];
        let role = if i == 0 {
            FactorRole::Trigger
        } else {
            rng.pick(&[
                FactorRole::LatentCondition,
                FactorRole::LatentCondition,
                FactorRole::Amplifier,
                FactorRole::DetectionDelay,
                FactorRole::RecoveryDelay,
            ])
        };
        factors.push(Factor {
            id: format!("F{}", i + 1),
            category,
            role,
            description: format!("A synthetic {} factor ({}).", category, role),
        });
    }
    let n_actions = 1 + usize::try_from(rng.below(3)).unwrap_or(0);
    let mut actions = Vec::new();
    for i in 0..n_actions {
        // Each factor is addressed by some action: action i takes factors i, i + n, ...
        let addresses: Vec<String> = (0..n_factors)
            .filter(|f| f % n_actions == i || i >= n_factors)
            .map(|f| format!("F{}", f + 1))
            .take(2)
            .collect();
        let addresses = if addresses.is_empty() {
            vec!["F1".to_owned()]
        } else {
            addresses
        };
        let pattern = if rng.percent(12) {
            Field::NotApplicable
        } else {
            Field::Known(RemediationPattern::ALL[rng.weighted(pat_w)])
        };
        actions.push(Action {
            id: format!("A{}", i + 1),
            kind: rng.pick(ActionKind::ALL),
            pattern,
            owner_role: "platform on-call".into(),
            status: rng.pick(&[
                ActionStatus::Done,
                ActionStatus::Open,
                ActionStatus::InProgress,
            ]),
            addresses,
            description: "A synthetic action.".into(),
            worth_sharing: rng.percent(15),
        });
    }

    let industry = rng.pick(&[
        Industry::Saas,
        Industry::CloudHosting,
        Industry::Finance,
        Industry::Ecommerce,
        Industry::Media,
    ]);
    let mut report = Report {
        title: format!("Synthetic incident {id}"),
        id,
        kind: ReportKind::Postmortem,
        status: ReportStatus::Final,
        severity: Severity::Sev3,
        significance: Significance::Internal,
        industry: Field::Known(industry),
        services: Field::Known(vec!["synthetic-api".into()]),
        tlp: Tlp::Amber,
        source_url: None,
        source_org: None,
        timeline,
        customer_impact,
        disclosure: BTreeMap::new(),
        factors,
        actions,
        sections: SectionName::ALL
            .iter()
            .map(|s| Section {
                name: *s,
                text: format!("Synthetic text for the {} section.", s.heading()),
            })
            .collect(),
    };
    // Significance as the facts give it, so the linter agrees (docs/format.md "Significance").
    report.significance = assess_significance(&report).lower;
    report.severity = match (affected, report.significance) {
        (false, _) => Severity::Sev4,
        (true, Significance::Major) => rng.pick(&[Severity::Sev1, Severity::Sev2]),
        (true, Significance::Significant) => rng.pick(&[Severity::Sev2, Severity::Sev3]),
        (true, _) => Severity::Sev3,
    };
    report
}
