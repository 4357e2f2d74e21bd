//! Generalising free text of `generalise` fields (declassification.md §2.6): dates to quarters,
//! clock times to T+minutes, counts to orders of magnitude, long durations to buckets.

use std::sync::LazyLock;

use regex::{Captures, Regex};
use time::{Date, Month, PrimitiveDateTime, Time};

use super::generalise::{DurationBucket, magnitude, quarter};
use crate::timestamp::Timestamp;

/// One pattern with an alternative per value kind; the first alternative that matches at a
/// position wins, so a date-time is never read as a date plus a clock time.
#[allow(clippy::expect_used)]
static VALUES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?P<dt>\b(?P<dty>\d{4})-(?P<dtm>\d{2})-(?P<dtd>\d{2})[T ](?P<dth>\d{2}):(?P<dtmin>\d{2})(?::(?P<dts>\d{2}))?(?:\.\d+)?(?P<dtz>Z|[+-]\d{2}:?\d{2})?)",
        r"|(?P<date>\b(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})\b)",
        r"|(?P<clock>\b(?P<h>[01]?\d|2[0-3]):(?P<min>[0-5]\d)(?::(?P<s>[0-5]\d))?\b(?:\s?(?:UTC|GMT)\b)?)",
        r"|(?P<dur>\b(?P<dn>\d+(?:\.\d+)?)\s?(?P<du>seconds?|secs?|minutes?|mins?|hours?|hrs?|h|days?)\b)",
        r"|(?P<count>\b(?P<cn>\d{1,3}(?:,\d{3})+|\d{2,})\s+(?P<noun>(?:customers?|users?|orders?|accounts?|requests?|merchants?|devices?|sites?|tenants?|transactions?|payments?|messages?|emails?|members?|patients?|subscribers?|calls?|jobs?|events?|records?|rows?|files?|objects?|servers?|hosts?|nodes?|machines?|instances?|pods?|people|employees?|stores?|shops?|vehicles?|drivers?|riders?|students?|clients?|sessions?|tickets?|shipments?|parcels?))\b)",
    ))
    .expect("the value patterns are valid")
});

/// Durations shorter than this are technical detail (timeouts, batch times), not incident
/// timing, and pass unchanged (declassification.md §2.6).
const SHORTEST_BUCKETED_SECONDS: f64 = 300.0;

/// `text` with its values generalised, and notes on assumptions made (e.g. the time zone of
/// clock times). `start` anchors T+minutes; without it, clock times are relative to the first
/// one in the text.
pub fn generalise_text(text: &str, start: Option<Timestamp>) -> (String, Vec<String>) {
    let mut notes = Vec::new();
    let clocks: Vec<i64> = VALUES
        .captures_iter(text)
        .filter(|c| c.name("clock").is_some())
        .filter_map(|c| clock_seconds(&c))
        .collect();
    // The anchor as local seconds of the day, in the (unknown) zone the text writes times in.
    let anchor = match start.and_then(Timestamp::to_datetime) {
        Some(dt) => {
            let start_utc =
                i64::from(dt.hour()) * 3600 + i64::from(dt.minute()) * 60 + i64::from(dt.second());
            let offset = zone_offset(text, start_utc, &clocks);
            match offset {
                Some(o) if o != 0 => notes.push(format!(
                    "clock times read as UTC{}{}:{:02} (the offset at which one of them is the start time)",
                    if o < 0 { '-' } else { '+' },
                    o.abs() / 3600,
                    (o.abs() % 3600) / 60
                )),
                Some(_) => {}
                None if !clocks.is_empty() => notes.push(
                    "clock times read as UTC (the text names no zone and no time in it is the start time)"
                        .to_owned(),
                ),
                None => {}
            }
            Some(start_utc + offset.unwrap_or(0))
        }
        None => {
            if !clocks.is_empty() {
                notes.push(
                    "the start time is not known: clock times are relative to the first one"
                        .to_owned(),
                );
            }
            clocks.first().copied()
        }
    };

    let mut day = 0i64;
    let mut previous: Option<i64> = None;
    let out = VALUES.replace_all(text, |c: &Captures<'_>| {
        let whole = c.get(0).map_or("", |m| m.as_str()).to_owned();
        if c.name("dt").is_some() {
            return match (datetime(c), start) {
                (Some(at), Some(s)) => super::generalise::relative_minutes(s, at),
                (Some(at), None) => quarter(at).unwrap_or(whole),
                _ => whole,
            };
        }
        if c.name("date").is_some() {
            return date(c).and_then(quarter).unwrap_or(whole);
        }
        if c.name("clock").is_some() {
            let (Some(t), Some(anchor)) = (clock_seconds(c), anchor) else {
                return whole;
            };
            // A time much earlier than the previous one is on the next day (an incident over
            // midnight); a time up to 12 h before the start is before it (a triggering deploy).
            if previous.is_some_and(|p| p - t > 6 * 3600) {
                day += 1;
            }
            previous = Some(t);
            let mut delta = day * 86_400 + t - anchor;
            if day == 0 && delta < -12 * 3600 {
                delta += 86_400;
            }
            return minutes_label(delta);
        }
        if c.name("dur").is_some() {
            let n: f64 = c
                .name("dn")
                .and_then(|m| m.as_str().parse().ok())
                .unwrap_or(0.0);
            let unit = c.name("du").map_or("", |m| m.as_str());
            let seconds = n * unit_seconds(unit);
            if seconds < SHORTEST_BUCKETED_SECONDS {
                return whole;
            }
            // Whole seconds are enough to pick a bucket.
            #[allow(clippy::cast_possible_truncation)]
            return DurationBucket::of_seconds(seconds as i64)
                .map_or(whole, |b| b.label().to_owned());
        }
        if c.name("count").is_some() {
            let n: Option<u64> = c
                .name("cn")
                .and_then(|m| m.as_str().replace(',', "").parse().ok());
            let noun = c.name("noun").map_or("", |m| m.as_str());
            return match n {
                Some(n) => format!("{} of {noun}", magnitude(n).words()),
                None => whole,
            };
        }
        whole
    });
    (out.into_owned(), notes)
}

fn minutes_label(delta_seconds: i64) -> String {
    let minutes = delta_seconds / 60;
    if delta_seconds < 0 {
        format!("T-{} min", minutes.unsigned_abs())
    } else {
        format!("T+{minutes} min")
    }
}

fn unit_seconds(unit: &str) -> f64 {
    match unit.chars().next() {
        Some('s') => 1.0,
        Some('m') => 60.0,
        Some('h') => 3600.0,
        _ => 86_400.0,
    }
}

fn num(c: &Captures<'_>, name: &str) -> Option<u32> {
    c.name(name).and_then(|m| m.as_str().parse().ok())
}

fn clock_seconds(c: &Captures<'_>) -> Option<i64> {
    let h = i64::from(num(c, "h")?);
    let m = i64::from(num(c, "min")?);
    let s = i64::from(num(c, "s").unwrap_or(0));
    Some(h * 3600 + m * 60 + s)
}

fn date(c: &Captures<'_>) -> Option<Timestamp> {
    let y = i32::try_from(num(c, "y")?).ok()?;
    let m = Month::try_from(u8::try_from(num(c, "m")?).ok()?).ok()?;
    let d = Date::from_calendar_date(y, m, u8::try_from(num(c, "d")?).ok()?).ok()?;
    Some(Timestamp::from_datetime(
        PrimitiveDateTime::new(d, Time::MIDNIGHT).assume_utc(),
    ))
}

fn datetime(c: &Captures<'_>) -> Option<Timestamp> {
    let y = i32::try_from(num(c, "dty")?).ok()?;
    let m = Month::try_from(u8::try_from(num(c, "dtm")?).ok()?).ok()?;
    let d = Date::from_calendar_date(y, m, u8::try_from(num(c, "dtd")?).ok()?).ok()?;
    let t = Time::from_hms(
        u8::try_from(num(c, "dth")?).ok()?,
        u8::try_from(num(c, "dtmin")?).ok()?,
        u8::try_from(num(c, "dts").unwrap_or(0)).ok()?,
    )
    .ok()?;
    let local = PrimitiveDateTime::new(d, t).assume_utc().unix_timestamp();
    // Without an offset the time is read as UTC, like the clock times next to it.
    let offset = match c.name("dtz").map(|m| m.as_str()) {
        None | Some("Z") => 0,
        Some(z) => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let digits: String = z.chars().filter(char::is_ascii_digit).collect();
            let h: i64 = digits.get(..2)?.parse().ok()?;
            let m: i64 = digits.get(2..)?.parse().ok()?;
            sign * (h * 3600 + m * 60)
        }
    };
    Some(Timestamp::from_unix(local - offset))
}

/// The offset (seconds east of UTC) the text's clock times are written in: 0 when the text says
/// UTC/GMT; otherwise the smallest offset, in whole half hours, at which some clock time in the
/// text is the start time; `None` when neither applies (times are then read as UTC).
fn zone_offset(text: &str, start_utc: i64, clocks: &[i64]) -> Option<i64> {
    static UTC: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r"\b(?:UTC|GMT)\b(?:\s*[+-]\s*\d)?").ok());
    if let Some(re) = UTC.as_ref()
        && let Some(m) = re.find(text)
        && !m.as_str().contains(['+', '-'])
    {
        return Some(0);
    }
    clocks
        .iter()
        .map(|t| {
            let mut o = t - start_utc;
            if o > 14 * 3600 {
                o -= 86_400;
            }
            if o < -12 * 3600 {
                o += 86_400;
            }
            o
        })
        .filter(|o| o % 1800 == 0)
        .min_by_key(|o| o.abs())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[test]
    fn clock_times_become_minutes_from_the_start() {
        let text = "- 14:05 deploy\n- 14:31 paged\n- 16:02 rolled back";
        let (out, notes) = generalise_text(text, Some(ts("2026-02-11T14:05:00Z")));
        assert_eq!(
            out,
            "- T+0 min deploy\n- T+26 min paged\n- T+117 min rolled back"
        );
        assert!(notes.is_empty());
    }

    #[test]
    fn the_zone_is_inferred_from_the_start_time() {
        // Times US Eastern; the incident started 13:30 UTC = 09:30 EDT.
        let text = "- 08:01 warning emails\n- 09:30 market opens\n- 10:15 router shut down";
        let (out, notes) = generalise_text(text, Some(ts("2012-08-01T13:30:00Z")));
        assert_eq!(
            out,
            "- T-89 min warning emails\n- T+0 min market opens\n- T+45 min router shut down"
        );
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("UTC-4:00"), "{notes:?}");
    }

    #[test]
    fn midnight_dates_counts_and_durations() {
        let text = "23:50 UTC alarm; 00:20 fixed. On 2026-03-04 about 41,000 orders waited 52 minutes; batches took 11 s; see 2026-03-04T10:00:00Z.";
        let (out, _) = generalise_text(text, Some(ts("2026-03-04T23:40:00Z")));
        assert_eq!(
            out,
            "T+10 min alarm; T+40 min fixed. On 2026-Q1 about tens of thousands of orders waited 30 min–2 h; batches took 11 s; see T-820 min."
        );
    }

    #[test]
    fn without_a_start_the_first_clock_time_anchors() {
        let (out, notes) = generalise_text("10:00 a, 10:42 b", None);
        assert_eq!(out, "T+0 min a, T+42 min b");
        assert_eq!(notes.len(), 1);
    }
}
