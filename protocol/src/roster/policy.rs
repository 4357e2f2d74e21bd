//! Circle policy and its floors (protocol.md §2.2).

use serde::{Deserialize, Serialize};

use super::error::RosterError;

const DAY: u64 = 24 * 60 * 60;

/// The circle's tunable rules. Durations are whole seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Vouches from distinct member companies an `admit` (or `replace_keys`) needs.
    pub vouches: u32,
    /// Longest a vouch may stay valid: `expires - issued_at` must not exceed it.
    pub vouch_lifetime_secs: u64,
    /// Cosigning maintainer companies a quorum event needs (capped by the number of maintainers).
    pub maintainer_quorum: u32,
    /// A node shares only while its view of the roster is confirmed no older than this.
    pub max_roster_age_secs: u64,
    /// How often the sequencer issues a checkpoint.
    pub checkpoint_interval_secs: u64,
    /// Longest a checkpoint may stay valid: `expires - at` must not exceed it.
    pub checkpoint_expiry_secs: u64,
    /// Approvals from distinct companies a declassified report needs.
    pub declassification_approvals: u32,
    /// Minimum delay after an incident is resolved before its report may be published.
    pub embargo_secs: u64,
    /// Publication keys from distinct companies that must cosign a public log entry.
    pub publication_threshold: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            vouches: 2,
            vouch_lifetime_secs: 30 * DAY,
            maintainer_quorum: 2,
            max_roster_age_secs: DAY,
            checkpoint_interval_secs: 6 * 60 * 60,
            checkpoint_expiry_secs: 2 * DAY,
            declassification_approvals: 3,
            embargo_secs: 30 * DAY,
            publication_threshold: 2,
        }
    }
}

impl Policy {
    /// Checks the floors (protocol.md §2.2). `seq` names the event that states the policy.
    pub fn check(&self, seq: u64) -> Result<(), RosterError> {
        let fail = |field: &'static str, message: &str| {
            Err(RosterError::PolicyFloor {
                seq,
                field,
                message: message.to_owned(),
            })
        };
        if self.vouches < 1 {
            return fail("vouches", "must be at least 1");
        }
        if self.maintainer_quorum < 1 {
            return fail("maintainer_quorum", "must be at least 1");
        }
        if self.declassification_approvals < 1 {
            return fail("declassification_approvals", "must be at least 1");
        }
        if self.publication_threshold < 1 {
            return fail("publication_threshold", "must be at least 1");
        }
        if self.vouch_lifetime_secs == 0 {
            return fail("vouch_lifetime_secs", "must be more than 0");
        }
        if self.max_roster_age_secs == 0 {
            return fail("max_roster_age_secs", "must be more than 0");
        }
        if self.checkpoint_interval_secs == 0 {
            return fail("checkpoint_interval_secs", "must be more than 0");
        }
        if self.checkpoint_expiry_secs < self.checkpoint_interval_secs {
            return fail(
                "checkpoint_expiry_secs",
                "must be at least checkpoint_interval_secs, or checkpoints lapse between issues",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn default_passes_and_floors_hold() {
        assert_eq!(Policy::default().check(0), Ok(()));
        let p = Policy {
            vouches: 0,
            ..Policy::default()
        };
        let err = p.check(4).unwrap_err();
        assert_eq!(err.rule(), "§2.2");
        assert_eq!(
            err.to_string(),
            "§2.2 roster event 4: policy field vouches must be at least 1"
        );
        let p = Policy {
            maintainer_quorum: 0,
            ..Policy::default()
        };
        assert!(matches!(
            p.check(0),
            Err(RosterError::PolicyFloor {
                field: "maintainer_quorum",
                ..
            })
        ));
    }
}
