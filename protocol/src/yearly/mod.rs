//! The yearly report: DBIR-style aggregates over a year of incident reports, with small cells
//! suppressed (docs/yearly-report.md is the reference; its § numbers are cited below).
//!
//! Pure: the caller passes the reports (and who contributed each) and the year; [`aggregate`]
//! returns a typed [`YearlyReport`] that renderers turn into Markdown or HTML. Every count in the
//! output is a [`Cell`] that is either shown or suppressed with a [`Reason`], so a renderer cannot
//! print a number the rules forbid.
//!
//! Two rule sets ([`SuppressionRules`]): [`SuppressionRules::PUBLIC`] for the public archive
//! (VERIS practice: no cell under 5 reports, no percentage on a denominator under 30) and
//! [`SuppressionRules::CIRCLE`] for a member's circle-internal report, which adds k-anonymity
//! over contributing companies (k = 3).
//!
//! Input comes in two shapes: [`Contribution`] (a parsed [`Report`] with its author's member id)
//! for circle reports, and [`IncidentFacts`] for anything else that knows the same facts — the
//! public archive builds them from generalised public content (year from the quarter, delays
//! from `T+N min`, see [`parse_quarter_year`] and [`parse_relative_minutes`]).

pub mod corpus;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::MemberId;
use crate::declassify::DurationBucket;
use crate::report::{
    ActionKind, DataLoss, FactorCategory, FactorRole, Field, RemediationPattern, Report, Severity,
    Significance,
};

/// A circle report and the member company that contributed it.
#[derive(Debug, Clone, Copy)]
pub struct Contribution<'a> {
    pub report: &'a Report,
    /// The author's member id; `None` for public reports, whose source is the circle as a whole.
    pub source: Option<&'a MemberId>,
}

/// The affected-customer band of a report (yearly-report.md §2.5), from
/// `customer_impact.magnitude`. The bounds follow the significance criteria (≥ 100 is
/// `significant`, ≥ 100,000 is `major`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImpactBand {
    /// `n/a`: no customer impact.
    None,
    /// Magnitude 0–1: fewer than 100 affected.
    Under100,
    /// Magnitude 2–4: 100 to 99,999.
    Hundreds,
    /// Magnitude 5–6: 100,000 to 9,999,999.
    HundredThousands,
    /// Magnitude ≥ 7: ten million or more.
    TenMillions,
    /// `unknown` or `withheld`.
    Unknown,
}

impl ImpactBand {
    pub const ALL: &'static [ImpactBand] = &[
        ImpactBand::None,
        ImpactBand::Under100,
        ImpactBand::Hundreds,
        ImpactBand::HundredThousands,
        ImpactBand::TenMillions,
        ImpactBand::Unknown,
    ];

    /// The band of an order of magnitude (`n` means 10^n to 10^(n+1) − 1).
    pub fn of_magnitude(m: &Field<u8>) -> ImpactBand {
        match m {
            Field::NotApplicable => ImpactBand::None,
            Field::Unknown | Field::Withheld => ImpactBand::Unknown,
            Field::Known(0..=1) => ImpactBand::Under100,
            Field::Known(2..=4) => ImpactBand::Hundreds,
            Field::Known(5..=6) => ImpactBand::HundredThousands,
            Field::Known(_) => ImpactBand::TenMillions,
        }
    }

    /// The row key used in tables.
    pub const fn key(self) -> &'static str {
        match self {
            ImpactBand::None => "none",
            ImpactBand::Under100 => "under-100",
            ImpactBand::Hundreds => "100-99999",
            ImpactBand::HundredThousands => "100000-9999999",
            ImpactBand::TenMillions => "10000000-or-more",
            ImpactBand::Unknown => "unknown",
        }
    }

    /// Words for readers.
    pub const fn label(self) -> &'static str {
        match self {
            ImpactBand::None => "no customer impact",
            ImpactBand::Under100 => "fewer than 100 customers",
            ImpactBand::Hundreds => "100 to 99,999 customers",
            ImpactBand::HundredThousands => "100,000 to 9,999,999 customers",
            ImpactBand::TenMillions => "10 million customers or more",
            ImpactBand::Unknown => "unknown or withheld",
        }
    }
}

/// What the yearly report needs to know about one incident. Build it from a circle report with
/// [`IncidentFacts::from_report`], or field by field from public content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentFacts {
    /// The contributing company; `None` when unknown (public reports).
    pub source: Option<MemberId>,
    /// The incident's year (UTC) — of `started`, else the first known later instant (§2.1).
    /// `None`: no instant known, so the report cannot be placed in a year and is not counted.
    pub year: Option<i32>,
    pub severity: Severity,
    pub significance: Significance,
    /// Every factor's (category, role).
    pub factors: Vec<(FactorCategory, FactorRole)>,
    /// Every action's (kind, pattern); `None` for an action with no pattern (`n/a`).
    pub actions: Vec<(ActionKind, Option<RemediationPattern>)>,
    /// detected − started, in seconds, when both are known (§2.3).
    pub detection_delay: Option<i64>,
    /// resolved − started, in seconds; mitigated − started when `resolved` is not known (§2.3).
    pub recovery_delay: Option<i64>,
    pub impact: ImpactBand,
    /// `None` for `unknown`, `n/a` or `withheld`.
    pub data_loss: Option<DataLoss>,
}

impl IncidentFacts {
    /// The facts of a parsed report (yearly-report.md §2).
    pub fn from_report(report: &Report, source: Option<&MemberId>) -> IncidentFacts {
        let t = &report.timeline;
        let started = t.started.known().copied();
        let year = [&t.started, &t.detected, &t.mitigated, &t.resolved]
            .into_iter()
            .find_map(|f| f.known())
            .and_then(|ts| ts.to_datetime())
            .map(|dt| dt.year());
        let since_start = |f: &Field<crate::Timestamp>| -> Option<i64> {
            let (s, e) = (started?, f.known()?);
            // The linter keeps instants in order; a negative span is refused here too so a
            // malformed input cannot put a report into a bucket it does not belong to.
            let d = e.unix().checked_sub(s.unix())?;
            (d >= 0).then_some(d)
        };
        IncidentFacts {
            source: source.cloned(),
            year,
            severity: report.severity,
            significance: report.significance,
            factors: report
                .factors
                .iter()
                .map(|f| (f.category, f.role))
                .collect(),
            actions: report
                .actions
                .iter()
                .map(|a| (a.kind, a.pattern.known().copied()))
                .collect(),
            detection_delay: since_start(&t.detected),
            recovery_delay: since_start(&t.resolved).or_else(|| since_start(&t.mitigated)),
            impact: ImpactBand::of_magnitude(&report.customer_impact.magnitude),
            data_loss: report.customer_impact.data_loss.known().copied(),
        }
    }
}

impl IncidentFacts {
    /// The facts of a published report (public content, protocol.md §7.1): the year from the
    /// quarter of `timeline.started`, delays from the `T+N min` of the later instants (minute
    /// precision), the impact band from the magnitude in words, and no source (yearly-report.md
    /// §5). A value that is missing, a marker or not in the generalised form counts as unknown.
    pub fn from_public_content(content: &crate::publog::PublicContent) -> IncidentFacts {
        IncidentFacts::from_public_facts(
            content.severity,
            content.significance,
            &content.facts,
            &content.factors,
            &content.actions,
        )
    }

    /// [`IncidentFacts::from_public_content`] on the content's parts.
    pub fn from_public_facts(
        severity: Severity,
        significance: Significance,
        facts: &BTreeMap<String, String>,
        factors: &[crate::report::Factor],
        actions: &[crate::report::Action],
    ) -> IncidentFacts {
        let get = |k: &str| facts.get(k).map(String::as_str);
        let since = |k: &str| get(k).and_then(parse_relative_minutes);
        let impact = match get("customer_impact.magnitude") {
            Some(crate::report::MARKER_NA) => ImpactBand::None,
            Some(words) => (0u8..=10)
                .find(|m| {
                    crate::declassify::Magnitude::Power(u32::from(*m)).words() == words
                        || format!("10^{m}") == words
                })
                .map_or(ImpactBand::Unknown, |m| {
                    ImpactBand::of_magnitude(&Field::Known(m))
                }),
            None => ImpactBand::Unknown,
        };
        IncidentFacts {
            source: None,
            year: get("timeline.started").and_then(parse_quarter_year),
            severity,
            significance,
            factors: factors.iter().map(|f| (f.category, f.role)).collect(),
            actions: actions
                .iter()
                .map(|a| (a.kind, a.pattern.known().copied()))
                .collect(),
            detection_delay: since("timeline.detected"),
            recovery_delay: since("timeline.resolved").or_else(|| since("timeline.mitigated")),
            impact,
            data_loss: get("customer_impact.data_loss").and_then(|d| d.parse().ok()),
        }
    }
}

/// The year of a generalised date such as `2026-Q3` (declassification.md §2.1).
pub fn parse_quarter_year(text: &str) -> Option<i32> {
    let (year, q) = text.split_once("-Q")?;
    if year.len() != 4 || !matches!(q, "1" | "2" | "3" | "4") {
        return None;
    }
    year.parse().ok()
}

/// Seconds from the start of a generalised clock time such as `T+42 min`
/// (declassification.md §2.2); `None` for anything else, including times before the start.
pub fn parse_relative_minutes(text: &str) -> Option<i64> {
    let minutes: i64 = text
        .strip_prefix("T+")?
        .strip_suffix(" min")?
        .parse()
        .ok()?;
    (minutes >= 0).then_some(minutes.checked_mul(60)?)
}

/// Which small-number rules apply (yearly-report.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SuppressionRules {
    /// A cell with fewer reports than this is suppressed.
    pub min_reports: u64,
    /// No percentage is shown when the denominator is below this; quantiles likewise need a
    /// sample of at least this size.
    pub min_denominator: u64,
    /// When set, a cell is shown only if its reports come from at least this many distinct
    /// member companies (k-anonymity).
    pub min_companies: Option<usize>,
}

impl SuppressionRules {
    /// The public archive's rules (VERIS practice; yearly-report.md §3.1).
    pub const PUBLIC: SuppressionRules = SuppressionRules {
        min_reports: 5,
        min_denominator: 30,
        min_companies: None,
    };

    /// The circle-internal rules: the public ones plus k = 3 companies (yearly-report.md §3.2).
    pub const CIRCLE: SuppressionRules = SuppressionRules {
        min_reports: 5,
        min_denominator: 30,
        min_companies: Some(3),
    };

    /// The rules in words, for the page that shows the numbers.
    pub fn describe(&self) -> Vec<String> {
        let mut out = vec![
            format!(
                "A count of fewer than {} reports is not shown (\"suppressed\").",
                self.min_reports
            ),
            format!(
                "No percentage is shown when the number it is a share of is below {}.",
                self.min_denominator
            ),
            format!(
                "Quantiles of a delay are shown only when at least {} reports give that delay.",
                self.min_denominator
            ),
        ];
        if let Some(k) = self.min_companies {
            out.push(format!(
                "A count is shown only when its reports come from at least {k} different member \
                 companies (k-anonymity, k = {k})."
            ));
        }
        out.push(
            "When exactly one row of a table whose rows add up to the total is suppressed, the \
             smallest shown row is suppressed too, so the hidden value cannot be worked out by \
             subtraction."
                .to_owned(),
        );
        out
    }
}

/// Why a number is not shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Reason {
    /// Fewer than `min` reports (§3.1).
    FewReports { min: u64 },
    /// The reports come from fewer than `min` member companies (§3.2).
    FewCompanies { min: usize },
    /// A quantile needs at least `min` values (§3.3).
    SmallSample { min: u64 },
    /// Hidden so that another suppressed cell cannot be derived by subtraction (§3.4).
    Complementary,
}

impl Reason {
    /// Words for readers.
    pub fn describe(&self) -> String {
        match self {
            Reason::FewReports { min } => format!("fewer than {min} reports"),
            Reason::FewCompanies { min } => format!("fewer than {min} member companies"),
            Reason::SmallSample { min } => format!("fewer than {min} values"),
            Reason::Complementary => "would reveal another suppressed row".to_owned(),
        }
    }
}

/// One number of the report, shown or suppressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Cell {
    /// `percent_tenths` is the share of the table's denominator in tenths of a percent (rounded
    /// half up); `None` when the denominator is below the rule's minimum.
    Shown {
        count: u64,
        percent_tenths: Option<u32>,
    },
    Suppressed {
        why: Reason,
    },
}

impl Cell {
    /// The count, if shown.
    pub fn count(&self) -> Option<u64> {
        match self {
            Cell::Shown { count, .. } => Some(*count),
            Cell::Suppressed { .. } => None,
        }
    }

    /// The share in tenths of a percent, if shown.
    pub fn percent_tenths(&self) -> Option<u32> {
        match self {
            Cell::Shown { percent_tenths, .. } => *percent_tenths,
            Cell::Suppressed { .. } => None,
        }
    }

    pub fn is_suppressed(&self) -> bool {
        matches!(self, Cell::Suppressed { .. })
    }

    /// Why it is suppressed, if it is.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            Cell::Suppressed { why } => Some(*why),
            Cell::Shown { .. } => None,
        }
    }
}

/// How a shown count changed from the previous year; only when both years' cells are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Trend {
    pub change: i64,
    /// Change of the share, in tenths of a percentage point, when both shares are shown.
    pub share_change_tenths: Option<i64>,
}

/// One row of a table: this year, the year before, and the trend between them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The vocabulary spelling (`change.config`, `trigger`, `staged-rollout`, `sev1`, …).
    pub key: String,
    /// Words for readers.
    pub label: String,
    pub current: Cell,
    pub previous: Cell,
    pub trend: Option<Trend>,
    /// Breakdown of this row (a pattern's action kinds); empty elsewhere.
    pub children: Vec<Row>,
}

/// A table of counts over one dimension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    /// Stable id (`factor-category`, `factor-role`, `remediation-pattern`, `significance`,
    /// `severity`, `customer-impact`, `data-loss`).
    pub id: &'static str,
    pub title: &'static str,
    /// What one row counts, in words.
    pub counts: &'static str,
    /// True when each report is in exactly one row (rows add up to the total).
    pub partition: bool,
    pub rows: Vec<Row>,
}

impl Table {
    /// The row with this key.
    pub fn row(&self, key: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.key == key)
    }
}

/// Nearest-rank quantiles of a delay, in seconds (§2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Quantiles {
    pub p25: i64,
    pub p50: i64,
    pub p75: i64,
    pub p90: i64,
}

/// One year of a delay distribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DelayYear {
    /// How many reports give this delay.
    pub n: Cell,
    /// Shown only for a large enough sample from enough companies. In JSON:
    /// `{"state": "shown", "p25": …}` or `{"state": "suppressed", "why": …}`, like a [`Cell`].
    #[serde(serialize_with = "quantiles_json")]
    pub quantiles: Result<Quantiles, Reason>,
    /// Histogram on the declassification duration buckets (a roughly logarithmic scale).
    pub buckets: Vec<(DurationBucket, Cell)>,
}

fn quantiles_json<S: serde::Serializer>(
    q: &Result<Quantiles, Reason>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(None)?;
    match q {
        Ok(q) => {
            map.serialize_entry("state", "shown")?;
            map.serialize_entry("p25", &q.p25)?;
            map.serialize_entry("p50", &q.p50)?;
            map.serialize_entry("p75", &q.p75)?;
            map.serialize_entry("p90", &q.p90)?;
        }
        Err(why) => {
            map.serialize_entry("state", "suppressed")?;
            map.serialize_entry("why", why)?;
        }
    }
    map.end()
}

/// A delay as a distribution, this year and the year before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Distribution {
    /// `detection-delay` or `recovery-delay`.
    pub id: &'static str,
    pub title: &'static str,
    /// How the delay is computed, in words.
    pub definition: &'static str,
    pub current: DelayYear,
    pub previous: DelayYear,
    /// Change of the median in seconds, when both medians are shown.
    pub median_change: Option<i64>,
}

/// A suppressed cell, listed so the page can say what was hidden and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SuppressedCell {
    /// Table or distribution id.
    pub table: String,
    /// Row key (`reports` for a total, `quantiles` for a distribution's quantiles).
    pub key: String,
    pub year: i32,
    pub why: Reason,
}

/// The yearly report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct YearlyReport {
    pub year: i32,
    pub previous_year: i32,
    pub rules: SuppressionRules,
    /// Reports placed in the year (and the year before).
    pub reports: Row,
    /// Reports that could not be placed in any year (no instant known); not counted anywhere.
    pub undated: Cell,
    pub tables: Vec<Table>,
    pub delays: Vec<Distribution>,
    /// Every suppressed cell, in page order.
    pub suppressed: Vec<SuppressedCell>,
}

impl YearlyReport {
    /// The table with this id.
    pub fn table(&self, id: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.id == id)
    }

    /// The distribution with this id.
    pub fn delay(&self, id: &str) -> Option<&Distribution> {
        self.delays.iter().find(|d| d.id == id)
    }

    /// True when every count of the report is suppressed.
    pub fn all_suppressed(&self) -> bool {
        let cells = std::iter::once(&self.reports)
            .chain(self.tables.iter().flat_map(|t| t.rows.iter()))
            .flat_map(|r| std::iter::once(r).chain(r.children.iter()))
            .flat_map(|r| [r.current, r.previous]);
        let delay_cells = self.delays.iter().flat_map(|d| {
            [&d.current, &d.previous]
                .into_iter()
                .flat_map(|y| std::iter::once(y.n).chain(y.buckets.iter().map(|b| b.1)))
        });
        cells.chain(delay_cells).all(|c| c.is_suppressed())
            && self
                .delays
                .iter()
                .all(|d| d.current.quantiles.is_err() && d.previous.quantiles.is_err())
    }
}

/// Aggregates circle (or public) reports for `year` against `year − 1`.
pub fn aggregate(inputs: &[Contribution<'_>], year: i32, rules: SuppressionRules) -> YearlyReport {
    let facts: Vec<IncidentFacts> = inputs
        .iter()
        .map(|c| IncidentFacts::from_report(c.report, c.source))
        .collect();
    aggregate_facts(&facts, year, rules)
}

/// What was seen for one cell: how many reports and from which companies.
#[derive(Debug, Default, Clone)]
struct Tally<'a> {
    reports: u64,
    companies: BTreeSet<&'a MemberId>,
}

impl<'a> Tally<'a> {
    fn add(&mut self, f: &'a IncidentFacts) {
        self.reports += 1;
        if let Some(s) = &f.source {
            self.companies.insert(s);
        }
    }
}

fn tally_all<'a>(set: &[&'a IncidentFacts]) -> Tally<'a> {
    let mut t = Tally::default();
    for f in set {
        t.add(f);
    }
    t
}

/// The cell rule (yearly-report.md §3.1, §3.2): reports first, then companies.
fn cell(t: &Tally<'_>, denominator: Option<u64>, rules: &SuppressionRules) -> Cell {
    if t.reports < rules.min_reports {
        return Cell::Suppressed {
            why: Reason::FewReports {
                min: rules.min_reports,
            },
        };
    }
    if let Some(k) = rules.min_companies
        && t.companies.len() < k
    {
        return Cell::Suppressed {
            why: Reason::FewCompanies { min: k },
        };
    }
    let percent_tenths = denominator
        .filter(|d| *d >= rules.min_denominator && *d > 0)
        .map(|d| {
            // Rounded half up, in integers: (2·1000·count + d) / 2d.
            let tenths = (2000 * u128::from(t.reports) + u128::from(d)) / (2 * u128::from(d));
            u32::try_from(tenths).unwrap_or(u32::MAX)
        });
    Cell::Shown {
        count: t.reports,
        percent_tenths,
    }
}

fn trend(current: &Cell, previous: &Cell) -> Option<Trend> {
    let (c, p) = (current.count()?, previous.count()?);
    Some(Trend {
        change: i64::try_from(c).unwrap_or(i64::MAX) - i64::try_from(p).unwrap_or(i64::MAX),
        share_change_tenths: match (current.percent_tenths(), previous.percent_tenths()) {
            (Some(a), Some(b)) => Some(i64::from(a) - i64::from(b)),
            _ => None,
        },
    })
}

/// Aggregates facts for `year` against `year − 1` under `rules`.
pub fn aggregate_facts(
    facts: &[IncidentFacts],
    year: i32,
    rules: SuppressionRules,
) -> YearlyReport {
    let previous_year = year.saturating_sub(1);
    let this: Vec<&IncidentFacts> = facts.iter().filter(|f| f.year == Some(year)).collect();
    let prev: Vec<&IncidentFacts> = facts
        .iter()
        .filter(|f| f.year == Some(previous_year))
        .collect();
    let total = |set: &[&'_ IncidentFacts]| -> u64 { set.len() as u64 };
    let (n_this, n_prev) = (total(&this), total(&prev));

    let reports_this = cell(&tally_all(&this), None, &rules);
    let reports_prev = cell(&tally_all(&prev), None, &rules);
    let reports = Row {
        key: "reports".into(),
        label: "reports".into(),
        current: reports_this,
        previous: reports_prev,
        trend: trend(&reports_this, &reports_prev),
        children: Vec::new(),
    };
    let undated_facts: Vec<&IncidentFacts> = facts.iter().filter(|f| f.year.is_none()).collect();
    let undated = cell(&tally_all(&undated_facts), None, &rules);

    let ctx = Ctx {
        this: &this,
        prev: &prev,
        n_this,
        n_prev,
        rules,
    };
    let mut tables = vec![
        ctx.table(
            "factor-category",
            "Contributing factors by category",
            "reports with at least one factor of this category",
            false,
            FactorCategory::ALL
                .iter()
                .map(|c| (c.as_str().to_owned(), c.description().to_owned()))
                .collect(),
            |f| {
                f.factors
                    .iter()
                    .map(|(c, _)| c.as_str().to_owned())
                    .collect()
            },
        ),
        ctx.table(
            "factor-role",
            "Contributing factors by role",
            "reports with at least one factor in this role",
            false,
            FactorRole::ALL
                .iter()
                .map(|r| (r.as_str().to_owned(), r.description().to_owned()))
                .collect(),
            |f| {
                f.factors
                    .iter()
                    .map(|(_, r)| r.as_str().to_owned())
                    .collect()
            },
        ),
        ctx.patterns(),
        ctx.table(
            "significance",
            "Significance",
            "reports at this significance level",
            true,
            Significance::ALL
                .iter()
                .map(|s| (s.as_str().to_owned(), s.description().to_owned()))
                .collect(),
            |f| BTreeSet::from([f.significance.as_str().to_owned()]),
        ),
        ctx.table(
            "severity",
            "Severity",
            "reports of this severity",
            true,
            Severity::ALL
                .iter()
                .map(|s| (s.as_str().to_owned(), s.description().to_owned()))
                .collect(),
            |f| BTreeSet::from([f.severity.as_str().to_owned()]),
        ),
        ctx.table(
            "customer-impact",
            "Customers affected",
            "reports in this band of affected customers",
            true,
            ImpactBand::ALL
                .iter()
                .map(|b| (b.key().to_owned(), b.label().to_owned()))
                .collect(),
            |f| BTreeSet::from([f.impact.key().to_owned()]),
        ),
        ctx.table(
            "data-loss",
            "Data loss",
            "reports with this data-loss outcome",
            true,
            DataLoss::ALL
                .iter()
                .map(|d| (d.as_str().to_owned(), d.description().to_owned()))
                .chain([("unknown".to_owned(), "unknown, withheld or n/a".to_owned())])
                .collect(),
            |f| BTreeSet::from([f.data_loss.map_or("unknown", |d| d.as_str()).to_owned()]),
        ),
    ];
    for t in tables.iter_mut().filter(|t| t.partition) {
        complementary(&mut t.rows, &reports.current, true);
        complementary(&mut t.rows, &reports.previous, false);
        for r in &mut t.rows {
            r.trend = trend(&r.current, &r.previous);
        }
    }
    for t in &mut tables {
        sort_rows(&mut t.rows);
    }

    let delays = vec![
        ctx.delay(
            "detection-delay",
            "Detection delay",
            "detected − started, for reports that know both instants",
            |f| f.detection_delay,
        ),
        ctx.delay(
            "recovery-delay",
            "Recovery delay",
            "resolved − started; mitigated − started when the resolution time is not known",
            |f| f.recovery_delay,
        ),
    ];

    let mut report = YearlyReport {
        year,
        previous_year,
        rules,
        reports,
        undated,
        tables,
        delays,
        suppressed: Vec::new(),
    };
    report.suppressed = list_suppressed(&report);
    report
}

struct Ctx<'s, 'a> {
    this: &'s [&'a IncidentFacts],
    prev: &'s [&'a IncidentFacts],
    n_this: u64,
    n_prev: u64,
    rules: SuppressionRules,
}

impl<'a> Ctx<'_, 'a> {
    /// Counts each report once per key it has (`keys_of` returns a set, so a report with two
    /// factors of one category counts once there; yearly-report.md §2.2).
    fn tallies(
        set: &[&'a IncidentFacts],
        keys_of: &impl Fn(&IncidentFacts) -> BTreeSet<String>,
    ) -> BTreeMap<String, Tally<'a>> {
        let mut out: BTreeMap<String, Tally<'a>> = BTreeMap::new();
        for f in set {
            for k in keys_of(f) {
                out.entry(k).or_default().add(f);
            }
        }
        out
    }

    fn table(
        &self,
        id: &'static str,
        title: &'static str,
        counts: &'static str,
        partition: bool,
        keys: Vec<(String, String)>,
        keys_of: impl Fn(&IncidentFacts) -> BTreeSet<String>,
    ) -> Table {
        let this = Self::tallies(self.this, &keys_of);
        let prev = Self::tallies(self.prev, &keys_of);
        let empty = Tally::default();
        let rows = keys
            .into_iter()
            .map(|(key, label)| {
                let current = cell(
                    this.get(&key).unwrap_or(&empty),
                    Some(self.n_this),
                    &self.rules,
                );
                let previous = cell(
                    prev.get(&key).unwrap_or(&empty),
                    Some(self.n_prev),
                    &self.rules,
                );
                Row {
                    key,
                    label,
                    trend: trend(&current, &previous),
                    current,
                    previous,
                    children: Vec::new(),
                }
            })
            .collect();
        Table {
            id,
            title,
            counts,
            partition,
            rows,
        }
    }

    /// Remediation patterns, each with the action kinds it was used for (§2.6).
    fn patterns(&self) -> Table {
        let mut table = self.table(
            "remediation-pattern",
            "Remediation patterns",
            "reports with at least one action applying this pattern",
            false,
            RemediationPattern::ALL
                .iter()
                .map(|p| (p.as_str().to_owned(), p.text().name.to_owned()))
                .collect(),
            |f| {
                f.actions
                    .iter()
                    .filter_map(|(_, p)| p.map(|p| p.as_str().to_owned()))
                    .collect()
            },
        );
        for row in &mut table.rows {
            let kind_of = |f: &IncidentFacts| -> BTreeSet<String> {
                f.actions
                    .iter()
                    .filter(|(_, p)| p.map(|p| p.as_str()) == Some(row.key.as_str()))
                    .map(|(k, _)| k.as_str().to_owned())
                    .collect()
            };
            let sub = self.table("", "", "", false, kinds(), kind_of);
            row.children = sub
                .rows
                .into_iter()
                .map(|mut r| {
                    // A kind's share of all reports says little; the count is what matters.
                    for c in [&mut r.current, &mut r.previous] {
                        if let Cell::Shown { percent_tenths, .. } = c {
                            *percent_tenths = None;
                        }
                    }
                    r.trend = trend(&r.current, &r.previous);
                    r
                })
                .collect();
            sort_rows(&mut row.children);
        }
        table
    }

    fn delay(
        &self,
        id: &'static str,
        title: &'static str,
        definition: &'static str,
        value: impl Fn(&IncidentFacts) -> Option<i64>,
    ) -> Distribution {
        let year = |set: &[&'a IncidentFacts]| -> DelayYear {
            let mut all = Tally::default();
            let mut values = Vec::new();
            let mut by_bucket: BTreeMap<DurationBucket, Tally<'a>> = BTreeMap::new();
            for f in set {
                let Some(v) = value(f) else { continue };
                let Some(b) = DurationBucket::of_seconds(v) else {
                    continue;
                };
                all.add(f);
                values.push(v);
                by_bucket.entry(b).or_default().add(f);
            }
            let n = cell(&all, None, &self.rules);
            let quantiles = match n {
                Cell::Suppressed { why } => Err(why),
                Cell::Shown { count, .. } if count < self.rules.min_denominator => {
                    Err(Reason::SmallSample {
                        min: self.rules.min_denominator,
                    })
                }
                Cell::Shown { .. } => Ok(quantiles(&mut values)),
            };
            let empty = Tally::default();
            let mut buckets: Vec<(DurationBucket, Cell)> = ALL_BUCKETS
                .iter()
                .map(|b| {
                    let t = by_bucket.get(b).unwrap_or(&empty);
                    (*b, cell(t, Some(all.reports), &self.rules))
                })
                .collect();
            // The buckets add up to n: one suppressed bucket could be recovered (§3.4).
            let mut cells: Vec<(&str, &mut Cell)> =
                buckets.iter_mut().map(|(b, c)| (b.label(), c)).collect();
            complement(&n, &mut cells);
            DelayYear {
                n,
                quantiles,
                buckets,
            }
        };
        let current = year(self.this);
        let previous = year(self.prev);
        let median_change = match (&current.quantiles, &previous.quantiles) {
            (Ok(a), Ok(b)) => Some(a.p50 - b.p50),
            _ => None,
        };
        Distribution {
            id,
            title,
            definition,
            current,
            previous,
            median_change,
        }
    }
}

fn kinds() -> Vec<(String, String)> {
    ActionKind::ALL
        .iter()
        .map(|k| (k.as_str().to_owned(), k.description().to_owned()))
        .collect()
}

/// Every duration bucket, shortest first.
pub const ALL_BUCKETS: &[DurationBucket] = &[
    DurationBucket::UnderFiveMinutes,
    DurationBucket::FiveToThirtyMinutes,
    DurationBucket::ThirtyMinutesToTwoHours,
    DurationBucket::TwoToEightHours,
    DurationBucket::EightToTwentyFourHours,
    DurationBucket::OneToThreeDays,
    DurationBucket::OverThreeDays,
];

/// Nearest-rank quantiles (yearly-report.md §2.4): the p-th quantile is the value at rank
/// ⌈p·n/100⌉ of the sorted values, so every quantile is a value some report gave, and no
/// interpolation or mean is involved. `values` must not be empty.
pub fn quantiles(values: &mut [i64]) -> Quantiles {
    values.sort_unstable();
    let n = values.len();
    let at = |p: usize| -> i64 {
        let rank = (p * n).div_ceil(100).max(1);
        values.get(rank - 1).copied().unwrap_or(0)
    };
    Quantiles {
        p25: at(25),
        p50: at(50),
        p75: at(75),
        p90: at(90),
    }
}

/// Secondary suppression (yearly-report.md §3.4): in a table whose rows add up to a shown total,
/// one suppressed row could be recovered as total − the rest, so the smallest shown row is
/// hidden too.
fn complementary(rows: &mut [Row], total: &Cell, current: bool) {
    let mut cells: Vec<(&str, &mut Cell)> = rows
        .iter_mut()
        .map(|r| {
            let c = if current {
                &mut r.current
            } else {
                &mut r.previous
            };
            (r.key.as_str(), c)
        })
        .collect();
    complement(total, &mut cells);
}

/// The rule of [`complementary`] over (key, cell) pairs that add up to `total`; ties on the
/// smallest count go to the first key in byte order.
fn complement(total: &Cell, cells: &mut [(&str, &mut Cell)]) {
    if total.is_suppressed() || cells.iter().filter(|c| c.1.is_suppressed()).count() != 1 {
        return;
    }
    let smallest = cells
        .iter()
        .enumerate()
        .filter_map(|(i, (key, c))| Some((c.count()?, *key, i)))
        .min()
        .map(|(_, _, i)| i);
    if let Some((_, cell)) = smallest.and_then(|i| cells.get_mut(i)) {
        **cell = Cell::Suppressed {
            why: Reason::Complementary,
        };
    }
}

/// Shown rows by count, largest first (then by key); rows suppressed this year after them in
/// vocabulary order, so their order reveals nothing about their hidden counts.
fn sort_rows(rows: &mut [Row]) {
    let rank: BTreeMap<String, usize> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.key.clone(), i))
        .collect();
    rows.sort_by(|a, b| match (a.current.count(), b.current.count()) {
        (Some(x), Some(y)) => y.cmp(&x).then_with(|| a.key.cmp(&b.key)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => rank.get(&a.key).cmp(&rank.get(&b.key)),
    });
}

fn list_suppressed(r: &YearlyReport) -> Vec<SuppressedCell> {
    let mut out = Vec::new();
    let mut push = |table: &str, key: &str, year: i32, c: &Cell| {
        if let Some(why) = c.reason() {
            out.push(SuppressedCell {
                table: table.to_owned(),
                key: key.to_owned(),
                year,
                why,
            });
        }
    };
    for (year, c) in [
        (r.year, &r.reports.current),
        (r.previous_year, &r.reports.previous),
    ] {
        push("reports", "reports", year, c);
    }
    push("reports", "undated", r.year, &r.undated);
    for t in &r.tables {
        for row in &t.rows {
            push(t.id, &row.key, r.year, &row.current);
            push(t.id, &row.key, r.previous_year, &row.previous);
            for child in &row.children {
                let key = format!("{}/{}", row.key, child.key);
                push(t.id, &key, r.year, &child.current);
                push(t.id, &key, r.previous_year, &child.previous);
            }
        }
    }
    for d in &r.delays {
        for (year, y) in [(r.year, &d.current), (r.previous_year, &d.previous)] {
            push(d.id, "reports", year, &y.n);
            if let Err(why) = y.quantiles {
                push(d.id, "quantiles", year, &Cell::Suppressed { why });
            }
            for (b, c) in &y.buckets {
                push(d.id, b.label(), year, c);
            }
        }
    }
    out
}

/// A duration in seconds, in words for readers: `45 s`, `12 min`, `3 h 20 min`, `2 d 4 h`.
pub fn human_duration(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// A share in tenths of a percent as text (`12.3%`).
pub fn percent_text(tenths: u32) -> String {
    format!("{}.{}%", tenths / 10, tenths % 10)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
