//! The embargo (protocol.md §7.11): a report may be published only once the policy's minimum
//! delay after the incident was resolved has passed.

use crate::report::Field;
use crate::timestamp::Timestamp;

use super::error::PublogError;

/// §7.11: `resolved` is the report's `timeline.resolved`; `embargo_secs` the circle policy's.
/// An unknown, withheld or not-applicable resolution time refuses publication, because the
/// embargo could not be judged. Returns the time the embargo ended.
pub fn check_embargo(
    resolved: &Field<Timestamp>,
    embargo_secs: u64,
    now: Timestamp,
) -> Result<Timestamp, PublogError> {
    let Some(resolved) = resolved.known() else {
        return Err(PublogError::Embargo(
            "the report's timeline.resolved is not known, so the embargo cannot be judged".into(),
        ));
    };
    let secs = i64::try_from(embargo_secs).unwrap_or(i64::MAX);
    let ends = resolved.plus_seconds(secs);
    if now < ends {
        return Err(PublogError::Embargo(format!(
            "the embargo runs until {ends} ({embargo_secs} s after resolution at {resolved})"
        )));
    }
    Ok(ends)
}
