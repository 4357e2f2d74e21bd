//! Per-peer exponential backoff with jitter (protocol.md §5.3).
//!
//! A peer that fails is retried after `base · 2^failures`, capped, with up to half of that
//! added as random jitter so that many nodes that lost the same peer do not all come back at
//! once. A success resets the peer. Time and randomness are passed in, so the schedule is
//! testable without sleeping.

use std::time::Duration;

/// The retry state of one peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    failures: u32,
    /// Unix seconds before which the peer is not contacted.
    not_before: i64,
}

impl Backoff {
    /// A peer that has not failed yet.
    pub fn new(base: Duration, max: Duration) -> Self {
        Backoff {
            base,
            max,
            failures: 0,
            not_before: 0,
        }
    }

    /// Whether the peer may be contacted at `now` (Unix seconds).
    pub fn ready(&self, now: i64) -> bool {
        now >= self.not_before
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// When the peer may next be contacted (Unix seconds).
    pub fn not_before(&self) -> i64 {
        self.not_before
    }

    /// Records a success: the next round may contact the peer at once.
    pub fn succeeded(&mut self) {
        self.failures = 0;
        self.not_before = 0;
    }

    /// Records a failure at `now`; `jitter` in `[0, 1)` picks the random share of the delay.
    /// Returns the delay chosen.
    pub fn failed(&mut self, now: i64, jitter: f64) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let exponent = self.failures.saturating_sub(1).min(20);
        let delay = self.base.saturating_mul(1u32 << exponent).min(self.max);
        let extra = delay.mul_f64(jitter.clamp(0.0, 1.0) * 0.5);
        let total = delay.saturating_add(extra);
        self.not_before = now.saturating_add(total.as_secs().try_into().unwrap_or(i64::MAX));
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets_on_success() {
        let mut b = Backoff::new(Duration::from_secs(5), Duration::from_secs(60));
        assert!(b.ready(0));
        assert_eq!(b.failed(100, 0.0), Duration::from_secs(5));
        assert!(!b.ready(104));
        assert!(b.ready(105));
        assert_eq!(b.failed(105, 0.0), Duration::from_secs(10));
        assert_eq!(b.failed(115, 0.0), Duration::from_secs(20));
        assert_eq!(b.failed(135, 0.0), Duration::from_secs(40));
        assert_eq!(b.failed(175, 0.0), Duration::from_secs(60));
        assert_eq!(b.failed(235, 0.0), Duration::from_secs(60));
        assert_eq!(b.failures(), 6);
        b.succeeded();
        assert!(b.ready(236));
        assert_eq!(b.failures(), 0);
    }

    #[test]
    fn jitter_adds_at_most_half() {
        let mut b = Backoff::new(Duration::from_secs(10), Duration::from_secs(60));
        assert_eq!(
            b.failed(0, 0.999_999),
            Duration::from_secs(10).mul_f64(1.499_999_5)
        );
        let mut c = Backoff::new(Duration::from_secs(10), Duration::from_secs(60));
        assert_eq!(
            c.failed(0, 7.0),
            Duration::from_secs(15),
            "jitter is clamped"
        );
    }
}
