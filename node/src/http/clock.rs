//! The server's notion of "now", injectable so that skew, replay and rate-limit tests are
//! deterministic.

use std::sync::atomic::{AtomicI64, Ordering};

use debrief_protocol::Timestamp;

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// The current instant, in whole UTC seconds.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_datetime(time::OffsetDateTime::now_utc())
    }
}

/// A clock that says what it is told: for tests and simulations.
#[derive(Debug)]
pub struct FixedClock(AtomicI64);

impl FixedClock {
    /// A clock stopped at `now`.
    pub fn new(now: Timestamp) -> Self {
        FixedClock(AtomicI64::new(now.unix()))
    }

    /// Moves the clock to `now`.
    pub fn set(&self, now: Timestamp) {
        self.0.store(now.unix(), Ordering::SeqCst);
    }

    /// Moves the clock forward (or back, with a negative number) by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_clock_moves_only_when_told() {
        let clock = FixedClock::new(Timestamp::from_unix(100));
        assert_eq!(clock.now(), Timestamp::from_unix(100));
        clock.advance(21);
        assert_eq!(clock.now(), Timestamp::from_unix(121));
        clock.set(Timestamp::from_unix(5));
        assert_eq!(clock.now(), Timestamp::from_unix(5));
        assert!(SystemClock.now().unix() > 1_700_000_000);
    }
}
