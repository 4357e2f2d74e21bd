//! Durations ("30s", "24h") and sizes ("10MiB") as written in config.toml.

use std::time::Duration;

/// Parses a whole number followed by one unit: `s`, `m`, `h` or `d` (e.g. "30s", "24h").
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let err = || {
        format!(
            "{text:?} is not a duration; write a whole number followed by s, m, h or d, \
             like \"30s\" or \"24h\""
        )
    };
    let unit_at = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?;
    let (digits, unit) = text.split_at(unit_at);
    if digits.is_empty() || digits.len() > 12 {
        return Err(err());
    }
    let n: u64 = digits.parse().map_err(|_| err())?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(err()),
    };
    Ok(Duration::from_secs(n * scale))
}

/// Formats a whole-second duration in the largest unit that divides it exactly.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "0s".to_owned(),
        _ if s.is_multiple_of(86_400) => format!("{}d", s / 86_400),
        _ if s.is_multiple_of(3600) => format!("{}h", s / 3600),
        _ if s.is_multiple_of(60) => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

/// Parses a size: a whole number of bytes, optionally followed by `KiB`, `MiB` or `GiB`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let err = || {
        format!(
            "{text:?} is not a size; write a whole number of bytes, optionally followed by \
             KiB, MiB or GiB, like \"10MiB\""
        )
    };
    let unit_at = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(unit_at);
    if digits.is_empty() || digits.len() > 12 {
        return Err(err());
    }
    let n: u64 = digits.parse().map_err(|_| err())?;
    let scale: u64 = match unit {
        "" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return Err(err()),
    };
    n.checked_mul(scale).ok_or_else(err)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("24h").unwrap(), Duration::from_secs(86_400));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604_800));
        for bad in [
            "",
            "s",
            "30",
            "30 s",
            "1.5h",
            "-1s",
            "30S",
            "1h30m",
            "9999999999999s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        assert_eq!(format_duration(Duration::from_secs(86_400)), "1d");
        assert_eq!(format_duration(Duration::from_secs(90)), "90s");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512").unwrap(), 512);
        assert_eq!(parse_size("64KiB").unwrap(), 65_536);
        assert_eq!(parse_size("10MiB").unwrap(), 10_485_760);
        assert_eq!(parse_size("1GiB").unwrap(), 1_073_741_824);
        for bad in ["", "MiB", "10MB", "10 MiB", "1.5MiB", "-1"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn duration_format_round_trips(secs in 0u64..10_000_000) {
            let d = Duration::from_secs(secs);
            prop_assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
        }

        #[test]
        fn parsers_never_panic(text in ".{0,20}") {
            let _ = parse_duration(&text);
            let _ = parse_size(&text);
        }
    }
}
