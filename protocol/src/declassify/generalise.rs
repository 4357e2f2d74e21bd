//! Value generalisers (declassification.md §2) and the quasi-identifier check (§5).
//!
//! Pure functions: the preview applies them to the fields a report marks `generalise`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::profile::{Industry, OrgProfile, Region, SizeBand};
use crate::timestamp::Timestamp;

/// The k of the quasi-identifier rule: a published (industry, size band, region) must describe
/// at least this many member companies of the circle.
pub const DEFAULT_K: usize = 3;

/// declassification.md §2.1: a date becomes its calendar quarter ("2017-Q1"), in UTC.
/// `None` when the instant is outside the representable calendar.
pub fn quarter(at: Timestamp) -> Option<String> {
    let dt = at.to_datetime()?;
    let q = (u8::from(dt.month()) - 1) / 3 + 1;
    Some(format!("{:04}-Q{q}", dt.year()))
}

/// declassification.md §2.2: a clock time becomes whole minutes from the incident's start
/// ("T+42 min", "T-5 min" for something before the start, such as a triggering deploy).
pub fn relative_minutes(start: Timestamp, at: Timestamp) -> String {
    let delta = at.unix().saturating_sub(start.unix());
    // Truncate toward zero so "59 seconds after" reads T+0 min, never a minute that did not pass.
    let minutes = delta / 60;
    if delta < 0 {
        format!("T-{} min", minutes.unsigned_abs())
    } else {
        format!("T+{minutes} min")
    }
}

/// declassification.md §2.3: a count becomes its order of magnitude.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Magnitude {
    /// Exactly zero (a real, publishable fact: nothing was lost).
    Zero,
    /// 10^exponent ≤ count < 10^(exponent+1).
    Power(u32),
}

/// The order of magnitude of `count`.
pub fn magnitude(count: u64) -> Magnitude {
    match count.checked_ilog10() {
        None => Magnitude::Zero,
        Some(e) => Magnitude::Power(e),
    }
}

impl Magnitude {
    /// In words: "thousands", "tens of millions".
    pub fn words(self) -> String {
        match self {
            Magnitude::Zero => "none".to_owned(),
            Magnitude::Power(0) => "a few".to_owned(),
            Magnitude::Power(e) => {
                let (prefix, base) = match e % 3 {
                    0 => ("", e),
                    1 => ("tens of ", e - 1),
                    _ => ("hundreds of ", e - 2),
                };
                let unit = match base {
                    0 => {
                        return if e == 1 {
                            "tens".to_owned()
                        } else {
                            "hundreds".to_owned()
                        };
                    }
                    3 => "thousands",
                    6 => "millions",
                    9 => "billions",
                    12 => "trillions",
                    _ => return format!("~10^{e}"),
                };
                format!("{prefix}{unit}")
            }
        }
    }
}

impl fmt::Display for Magnitude {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Magnitude::Zero => f.write_str("0"),
            Magnitude::Power(e) => write!(f, "~10^{e}"),
        }
    }
}

/// declassification.md §2.4: a duration becomes one of seven buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum DurationBucket {
    #[serde(rename = "<5 min")]
    UnderFiveMinutes,
    #[serde(rename = "5–30 min")]
    FiveToThirtyMinutes,
    #[serde(rename = "30 min–2 h")]
    ThirtyMinutesToTwoHours,
    #[serde(rename = "2–8 h")]
    TwoToEightHours,
    #[serde(rename = "8–24 h")]
    EightToTwentyFourHours,
    #[serde(rename = "1–3 d")]
    OneToThreeDays,
    #[serde(rename = ">3 d")]
    OverThreeDays,
}

impl DurationBucket {
    /// The bucket of a duration in seconds; `None` for a negative duration (end before start
    /// is a data error the report linter reports, not something to publish).
    pub fn of_seconds(seconds: i64) -> Option<DurationBucket> {
        const MIN: i64 = 60;
        const HOUR: i64 = 60 * MIN;
        const DAY: i64 = 24 * HOUR;
        Some(match seconds {
            s if s < 0 => return None,
            s if s < 5 * MIN => DurationBucket::UnderFiveMinutes,
            s if s < 30 * MIN => DurationBucket::FiveToThirtyMinutes,
            s if s < 2 * HOUR => DurationBucket::ThirtyMinutesToTwoHours,
            s if s < 8 * HOUR => DurationBucket::TwoToEightHours,
            s if s < DAY => DurationBucket::EightToTwentyFourHours,
            s if s < 3 * DAY => DurationBucket::OneToThreeDays,
            _ => DurationBucket::OverThreeDays,
        })
    }

    /// The bucket of the time from `start` to `end`.
    pub fn between(start: Timestamp, end: Timestamp) -> Option<DurationBucket> {
        DurationBucket::of_seconds(end.unix().saturating_sub(start.unix()))
    }

    pub const fn label(self) -> &'static str {
        match self {
            DurationBucket::UnderFiveMinutes => "<5 min",
            DurationBucket::FiveToThirtyMinutes => "5–30 min",
            DurationBucket::ThirtyMinutesToTwoHours => "30 min–2 h",
            DurationBucket::TwoToEightHours => "2–8 h",
            DurationBucket::EightToTwentyFourHours => "8–24 h",
            DurationBucket::OneToThreeDays => "1–3 d",
            DurationBucket::OverThreeDays => ">3 d",
        }
    }
}

impl fmt::Display for DurationBucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// declassification.md §2.5: what the public text says about the author's company. `None`
/// means the value was withheld by the quasi-identifier rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneralisedProfile {
    pub industry: Industry,
    pub size_band: Option<SizeBand>,
    pub region: Option<Region>,
}

impl From<&OrgProfile> for GeneralisedProfile {
    fn from(p: &OrgProfile) -> Self {
        GeneralisedProfile {
            industry: p.industry,
            size_band: Some(p.size_band),
            region: Some(p.region),
        }
    }
}

impl fmt::Display for GeneralisedProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // "a company" when even the industry is withheld; "an ecommerce company".
        if self.industry == Industry::Other {
            f.write_str("a company")?;
        } else {
            let name = self.industry.as_str();
            let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            write!(f, "{article} {name} company")?;
        }
        if let Some(size) = self.size_band {
            write!(f, " of {size} people")?;
        }
        if let Some(region) = self.region {
            write!(f, " in {}", region.description())?;
        }
        Ok(())
    }
}

/// declassification.md §5: generalises the author's company until at least `k` member companies
/// of the circle share what is published. `circle_members` holds the profile of every current
/// member company, the author included. Steps: full profile; drop region; drop size band;
/// industry "other". Each step taken is explained in the returned notes.
pub fn generalise_profile(
    author: &OrgProfile,
    circle_members: &[OrgProfile],
    k: usize,
) -> (GeneralisedProfile, Vec<String>) {
    let mut notes = Vec::new();
    let count =
        |same: &dyn Fn(&OrgProfile) -> bool| circle_members.iter().filter(|m| same(m)).count();

    let full = count(&|m| m == author);
    if full >= k {
        return (GeneralisedProfile::from(author), notes);
    }
    notes.push(format!(
        "only {full} member compan{} of the circle share{} (industry {}, size {}, region {}); fewer than {k}, so the region is withheld",
        if full == 1 { "y" } else { "ies" },
        if full == 1 { "s" } else { "" },
        author.industry,
        author.size_band,
        author.region,
    ));
    let no_region = count(&|m| m.industry == author.industry && m.size_band == author.size_band);
    if no_region >= k {
        return (
            GeneralisedProfile {
                industry: author.industry,
                size_band: Some(author.size_band),
                region: None,
            },
            notes,
        );
    }
    notes.push(format!(
        "only {no_region} share (industry {}, size {}); the size band is withheld too",
        author.industry, author.size_band,
    ));
    let industry_only = count(&|m| m.industry == author.industry);
    if industry_only >= k {
        return (
            GeneralisedProfile {
                industry: author.industry,
                size_band: None,
                region: None,
            },
            notes,
        );
    }
    notes.push(format!(
        "only {industry_only} share industry {}; published as industry \"other\"",
        author.industry,
    ));
    (
        GeneralisedProfile {
            industry: Industry::Other,
            size_band: None,
            region: None,
        },
        notes,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    fn p(industry: Industry, size_band: SizeBand, region: Region) -> OrgProfile {
        OrgProfile {
            industry,
            size_band,
            region,
        }
    }

    #[test]
    fn quarters() {
        assert_eq!(
            quarter(ts("2017-01-01T00:00:00Z")).as_deref(),
            Some("2017-Q1")
        );
        assert_eq!(
            quarter(ts("2017-03-31T23:59:59Z")).as_deref(),
            Some("2017-Q1")
        );
        assert_eq!(
            quarter(ts("2017-04-01T00:00:00Z")).as_deref(),
            Some("2017-Q2")
        );
        assert_eq!(
            quarter(ts("2026-12-31T12:00:00Z")).as_deref(),
            Some("2026-Q4")
        );
        assert_eq!(quarter(Timestamp::from_unix(i64::MAX)), None);
    }

    #[test]
    fn relative_clock_times() {
        let start = ts("2026-03-04T10:00:00Z");
        assert_eq!(
            relative_minutes(start, ts("2026-03-04T10:42:30Z")),
            "T+42 min"
        );
        assert_eq!(
            relative_minutes(start, ts("2026-03-04T10:00:59Z")),
            "T+0 min"
        );
        assert_eq!(
            relative_minutes(start, ts("2026-03-04T09:55:00Z")),
            "T-5 min"
        );
        assert_eq!(
            relative_minutes(start, ts("2026-03-05T10:00:00Z")),
            "T+1440 min"
        );
    }

    #[test]
    fn magnitudes() {
        assert_eq!(magnitude(0).to_string(), "0");
        assert_eq!(magnitude(7).to_string(), "~10^0");
        assert_eq!(magnitude(12_345).to_string(), "~10^4");
        assert_eq!(magnitude(12_345).words(), "tens of thousands");
        assert_eq!(magnitude(3_000).words(), "thousands");
        assert_eq!(magnitude(999).words(), "hundreds");
        assert_eq!(magnitude(42).words(), "tens");
        assert_eq!(magnitude(250_000_000).words(), "hundreds of millions");
        assert_eq!(magnitude(u64::MAX).to_string(), "~10^19");
    }

    #[test]
    fn duration_buckets_have_closed_lower_bounds() {
        let b = |s| DurationBucket::of_seconds(s).map(DurationBucket::label);
        assert_eq!(b(0), Some("<5 min"));
        assert_eq!(b(299), Some("<5 min"));
        assert_eq!(b(300), Some("5–30 min"));
        assert_eq!(b(1800), Some("30 min–2 h"));
        assert_eq!(b(7200), Some("2–8 h"));
        assert_eq!(b(8 * 3600), Some("8–24 h"));
        assert_eq!(b(86_400), Some("1–3 d"));
        assert_eq!(b(3 * 86_400), Some(">3 d"));
        assert_eq!(b(-1), None);
        assert_eq!(
            DurationBucket::between(ts("2026-01-01T00:00:00Z"), ts("2026-01-01T03:10:00Z")),
            Some(DurationBucket::TwoToEightHours)
        );
        assert_eq!(
            serde_json::to_string(&DurationBucket::OverThreeDays).unwrap(),
            "\">3 d\""
        );
    }

    #[test]
    fn quasi_identifiers_keep_the_full_profile_when_k_share_it() {
        let author = p(Industry::Saas, SizeBand::M, Region::Europe);
        let members = vec![
            author.clone(),
            author.clone(),
            author.clone(),
            p(Industry::Finance, SizeBand::L, Region::Global),
        ];
        let (g, notes) = generalise_profile(&author, &members, DEFAULT_K);
        assert_eq!(g, GeneralisedProfile::from(&author));
        assert!(notes.is_empty());
        assert_eq!(g.to_string(), "a saas company of 250-999 people in Europe");
    }

    #[test]
    fn quasi_identifiers_drop_region_then_size_then_industry() {
        let author = p(Industry::Saas, SizeBand::M, Region::Europe);
        let other_region = p(Industry::Saas, SizeBand::M, Region::NorthAmerica);
        let other_size = p(Industry::Saas, SizeBand::Xl, Region::Europe);
        let finance = p(Industry::Finance, SizeBand::M, Region::Europe);

        let (g, notes) = generalise_profile(
            &author,
            &[author.clone(), other_region.clone(), other_region.clone()],
            3,
        );
        assert_eq!(
            g,
            GeneralisedProfile {
                industry: Industry::Saas,
                size_band: Some(SizeBand::M),
                region: None
            }
        );
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].contains("only 1 member company of the circle shares"),
            "{}",
            notes[0]
        );
        assert!(notes[0].contains("region is withheld"));

        let (g, notes) = generalise_profile(
            &author,
            &[author.clone(), other_region.clone(), other_size.clone()],
            3,
        );
        assert_eq!(
            g,
            GeneralisedProfile {
                industry: Industry::Saas,
                size_band: None,
                region: None
            }
        );
        assert_eq!(notes.len(), 2);
        assert!(notes[1].contains("size band is withheld"));
        assert_eq!(g.to_string(), "a saas company");

        let (g, notes) = generalise_profile(
            &author,
            &[author.clone(), other_size, finance.clone(), finance],
            3,
        );
        assert_eq!(
            g,
            GeneralisedProfile {
                industry: Industry::Other,
                size_band: None,
                region: None
            }
        );
        assert_eq!(notes.len(), 3);
        assert!(notes[2].contains("\"other\""));
    }
}
