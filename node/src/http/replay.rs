//! The replay memory (protocol.md §4.4 step 9, §4.5): every accepted (signer, nonce) is
//! remembered until no copy of that request could pass the skew check any more. Capacity is bounded; when
//! it is full, new requests are refused rather than anything being forgotten early, because
//! forgetting early would let a captured request be replayed.

use std::collections::{BTreeSet, HashSet};
use std::sync::Mutex;

use debrief_protocol::wire::RequestNonce;
use debrief_protocol::{MemberId, Timestamp};

/// Default number of remembered requests: at 40k requests/s for 240 s this would fill, which
/// is far beyond what one node serves; at ~120 bytes per entry it costs ~24 MiB when full.
pub const DEFAULT_REPLAY_CAPACITY: usize = 200_000;

/// Why a request was refused by the replay memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    #[error("this request (signer and nonce) was already accepted; sign a new one")]
    Replayed,
    #[error("the server's replay memory is full; retry in {retry_after} s")]
    Full { retry_after: u64 },
}

#[derive(Debug, Default)]
struct Entries {
    /// (signer, nonce) pairs currently remembered.
    seen: HashSet<(MemberId, RequestNonce)>,
    /// The same pairs ordered by the last second they could still pass the skew check.
    by_expiry: BTreeSet<(i64, MemberId, RequestNonce)>,
}

/// The bounded (signer, nonce) memory. Time is passed in.
#[derive(Debug)]
pub struct ReplayMemory {
    capacity: usize,
    skew_seconds: i64,
    entries: Mutex<Entries>,
}

impl ReplayMemory {
    /// A memory for at most `capacity` requests, for requests accepted within ±`skew_seconds`.
    pub fn new(capacity: usize, skew_seconds: i64) -> Self {
        ReplayMemory {
            capacity,
            skew_seconds,
            entries: Mutex::new(Entries::default()),
        }
    }

    /// How many requests are remembered now.
    pub fn len(&self) -> usize {
        self.lock().seen.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic while holding the lock cannot leave the sets inconsistent in a way that
        // matters more than refusing service, so recover the data.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a request signed at `request_time` by `signer` with `nonce`, accepted at `now`.
    /// Refuses a pair already remembered, and any new pair while the memory is full.
    pub fn check_and_insert(
        &self,
        signer: &MemberId,
        nonce: RequestNonce,
        request_time: Timestamp,
        now: Timestamp,
    ) -> Result<(), ReplayError> {
        let mut entries = self.lock();
        // An entry may go once `now` is past the last second at which its request could
        // still pass the skew check; not a second earlier (protocol.md §4.5.1).
        while let Some(first) = entries.by_expiry.first().cloned() {
            if first.0 >= now.unix() {
                break;
            }
            entries.by_expiry.remove(&first);
            entries.seen.remove(&(first.1, first.2));
        }
        let key = (signer.clone(), nonce);
        if entries.seen.contains(&key) {
            return Err(ReplayError::Replayed);
        }
        // protocol.md §4.5.2: when full, refuse; never forget early.
        if entries.seen.len() >= self.capacity {
            // The earliest entry leaves one second after its expiry.
            let retry_after = entries
                .by_expiry
                .first()
                .map(|e| e.0.saturating_sub(now.unix()).saturating_add(1))
                .unwrap_or(1)
                .clamp(1, 2 * self.skew_seconds + 1);
            return Err(ReplayError::Full {
                retry_after: u64::try_from(retry_after).unwrap_or(1),
            });
        }
        let expires = request_time.unix().saturating_add(self.skew_seconds);
        entries.by_expiry.insert((expires, signer.clone(), nonce));
        entries.seen.insert(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(n: u8) -> MemberId {
        MemberId::from_first_key(&[n; 32])
    }

    fn t(s: i64) -> Timestamp {
        Timestamp::from_unix(s)
    }

    #[test]
    fn a_pair_is_accepted_once() {
        let memory = ReplayMemory::new(10, 120);
        let n = RequestNonce([1; 16]);
        assert_eq!(
            memory.check_and_insert(&member(1), n, t(1000), t(1000)),
            Ok(())
        );
        assert_eq!(
            memory.check_and_insert(&member(1), n, t(1000), t(1001)),
            Err(ReplayError::Replayed)
        );
        // The same nonce from another member is another request.
        assert_eq!(
            memory.check_and_insert(&member(2), n, t(1000), t(1001)),
            Ok(())
        );
    }

    #[test]
    fn entries_live_exactly_as_long_as_the_window() {
        let memory = ReplayMemory::new(10, 120);
        let n = RequestNonce([1; 16]);
        memory
            .check_and_insert(&member(1), n, t(1000), t(1000))
            .ok();
        // At 1120 the request would still pass the skew check, so it must still be known.
        assert_eq!(
            memory.check_and_insert(&member(1), n, t(1000), t(1120)),
            Err(ReplayError::Replayed)
        );
        // At 1121 it would be stale anyway; the entry may go.
        assert_eq!(
            memory.check_and_insert(&member(2), RequestNonce([2; 16]), t(1121), t(1121)),
            Ok(())
        );
        assert_eq!(memory.len(), 1);
    }

    #[test]
    fn full_memory_refuses_instead_of_forgetting() {
        let memory = ReplayMemory::new(2, 120);
        memory
            .check_and_insert(&member(1), RequestNonce([1; 16]), t(1000), t(1000))
            .ok();
        memory
            .check_and_insert(&member(1), RequestNonce([2; 16]), t(1010), t(1010))
            .ok();
        assert_eq!(
            memory.check_and_insert(&member(1), RequestNonce([3; 16]), t(1020), t(1020)),
            Err(ReplayError::Full { retry_after: 101 })
        );
        // Both old entries are still there.
        assert_eq!(
            memory.check_and_insert(&member(1), RequestNonce([1; 16]), t(1000), t(1020)),
            Err(ReplayError::Replayed)
        );
        // Once the first expires, there is room again.
        assert_eq!(
            memory.check_and_insert(&member(1), RequestNonce([3; 16]), t(1100), t(1121)),
            Ok(())
        );
        assert_eq!(memory.len(), 2);
    }
}
