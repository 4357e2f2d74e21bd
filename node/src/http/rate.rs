//! Per-peer token buckets weighted by bytes (protocol.md §4.8.8). Time comes from the caller
//! (the server's [`super::Clock`]), so rate-limit tests are deterministic.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use debrief_protocol::{MemberId, Timestamp};

/// Whom a bucket belongs to: a member whose request signature verified, or, on the invite-token
/// routes where nobody is a member yet, the client's IP address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PeerKey {
    Member(MemberId),
    Address(IpAddr),
    /// A connection whose address is not known (in-process callers).
    Unknown,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Available units × 1000.
    milli: u64,
    /// Last refill, unix seconds.
    updated: i64,
}

/// Buckets above this many peers are pruned of the full (idle) ones.
const PRUNE_ABOVE: usize = 10_000;

/// Token buckets: each peer holds up to `burst` units and regains `per_minute` units a minute; a
/// request costs 1 unit plus 1 per started `unit_bytes` of body.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    burst: u32,
    unit_bytes: u64,
    buckets: Mutex<HashMap<PeerKey, Bucket>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32, burst: u32, unit_bytes: u64) -> Self {
        RateLimiter {
            per_minute: per_minute.max(1),
            burst: burst.max(1),
            unit_bytes: unit_bytes.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// What a request with a body of `body_bytes` costs, in units (at most the burst, so every
    /// request the body cap allows can eventually pass).
    pub fn cost(&self, body_bytes: u64) -> u64 {
        1u64.saturating_add(body_bytes.div_ceil(self.unit_bytes))
            .min(u64::from(self.burst))
    }

    /// Takes `cost` units from `peer`'s bucket at `now`, or says in how many whole seconds
    /// enough will have come back (the `Retry-After`).
    pub fn take(&self, peer: &PeerKey, cost: u64, now: Timestamp) -> Result<(), u64> {
        let capacity = u64::from(self.burst) * 1000;
        // Units per second × 1000, rounded down but never zero.
        let refill = (u64::from(self.per_minute) * 1000 / 60).max(1);
        let need = cost.saturating_mul(1000).min(capacity);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            let now_s = now.unix();
            buckets.retain(|_, b| {
                let elapsed = u64::try_from(now_s.saturating_sub(b.updated)).unwrap_or(0);
                b.milli.saturating_add(elapsed.saturating_mul(refill)) < capacity
            });
        }
        let bucket = buckets.entry(peer.clone()).or_insert(Bucket {
            milli: capacity,
            updated: now.unix(),
        });
        // A clock that went back refills nothing (and takes nothing back).
        let elapsed = u64::try_from(now.unix().saturating_sub(bucket.updated)).unwrap_or(0);
        bucket.milli = bucket
            .milli
            .saturating_add(elapsed.saturating_mul(refill))
            .min(capacity);
        bucket.updated = bucket.updated.max(now.unix());
        if bucket.milli >= need {
            bucket.milli -= need;
            Ok(())
        } else {
            Err((need - bucket.milli).div_ceil(refill).max(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_unix(s)
    }

    #[test]
    fn burst_then_rate() {
        // 60 a minute = 1 a second, burst 3.
        let limiter = RateLimiter::new(60, 3, 1024);
        let p = PeerKey::Unknown;
        for _ in 0..3 {
            assert_eq!(limiter.take(&p, 1, t(100)), Ok(()));
        }
        assert_eq!(limiter.take(&p, 1, t(100)), Err(1));
        assert_eq!(limiter.take(&p, 1, t(101)), Ok(()));
        assert_eq!(limiter.take(&p, 2, t(101)), Err(2));
        // Another peer has its own bucket.
        assert_eq!(
            limiter.take(&PeerKey::Address([127, 0, 0, 1].into()), 3, t(101)),
            Ok(())
        );
    }

    #[test]
    fn bytes_cost_units() {
        let limiter = RateLimiter::new(60, 100, 1024);
        assert_eq!(limiter.cost(0), 1);
        assert_eq!(limiter.cost(1), 2);
        assert_eq!(limiter.cost(1024), 2);
        assert_eq!(limiter.cost(1025), 3);
        assert_eq!(limiter.cost(10_000_000), 100);
    }
}
