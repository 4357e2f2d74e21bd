//! Sync: pull what peers have and this node lacks, verify it, store it (protocol.md §4, "Sync").

pub mod backoff;
