//! Instants in signed payloads: RFC 3339 in UTC with `Z`, whole seconds (protocol.md §1.5).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A whole-second UTC instant. Serialises as `YYYY-MM-DDTHH:MM:SSZ` and parses only that form,
/// so a signed timestamp has exactly one spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// A timestamp that was not in the one accepted form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid timestamp {0:?}: expected RFC 3339 UTC with whole seconds, like 2026-01-31T09:30:00Z"
)]
pub struct TimestampError(pub String);

impl Timestamp {
    /// Seconds since the Unix epoch.
    pub const fn from_unix(seconds: i64) -> Self {
        Timestamp(seconds)
    }

    /// Seconds since the Unix epoch.
    pub const fn unix(self) -> i64 {
        self.0
    }

    /// This instant plus `seconds` (saturating).
    pub const fn plus_seconds(self, seconds: i64) -> Self {
        Timestamp(self.0.saturating_add(seconds))
    }

    /// Parses the canonical form only (protocol.md §1.5).
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        let err = || TimestampError(text.to_owned());
        // Shape check first: `time` accepts offsets and fractions we do not want in signed data.
        let b = text.as_bytes();
        let shape_ok = b.len() == 20
            && b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b'T'
            && b[13] == b':'
            && b[16] == b':'
            && b[19] == b'Z'
            && b.iter()
                .enumerate()
                .all(|(i, c)| matches!(i, 4 | 7 | 10 | 13 | 16 | 19) || c.is_ascii_digit());
        if !shape_ok {
            return Err(err());
        }
        let parsed = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| err())?;
        Ok(Timestamp(parsed.unix_timestamp()))
    }

    /// Converts any `OffsetDateTime` to UTC whole seconds (fractions are truncated).
    pub fn from_datetime(dt: OffsetDateTime) -> Self {
        Timestamp(dt.unix_timestamp())
    }

    /// The instant as a UTC `OffsetDateTime`, or `None` outside the representable range.
    pub fn to_datetime(self) -> Option<OffsetDateTime> {
        OffsetDateTime::from_unix_timestamp(self.0).ok()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_datetime() {
            Some(dt) => write!(
                f,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                dt.year(),
                u8::from(dt.month()),
                dt.day(),
                dt.hour(),
                dt.minute(),
                dt.second()
            ),
            None => write!(f, "@{}", self.0),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.to_datetime() {
            Some(dt) if (0..=9999).contains(&dt.year()) => serializer.collect_str(self),
            _ => Err(serde::ser::Error::custom(
                "timestamp outside years 0000-9999",
            )),
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_canonical_form() {
        let t = Timestamp::parse("2026-11-25T10:20:00Z").unwrap();
        assert_eq!(t.unix(), 1_795_602_000);
        assert_eq!(t.to_string(), "2026-11-25T10:20:00Z");
    }

    #[test]
    fn refuses_other_spellings() {
        for bad in [
            "2026-11-25T10:20:00+00:00",
            "2026-11-25T10:20:00.5Z",
            "2026-11-25t10:20:00z",
            "2026-11-25 10:20:00Z",
            "2026-02-30T10:20:00Z",
            "",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad} must be refused");
        }
    }
}
