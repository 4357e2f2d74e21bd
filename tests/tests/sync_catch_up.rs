//! Catching up a long history (protocol.md §4.9.3, §5.2): a new member fetches the objects it
//! lacks in batches, so one round fits in a peer's default rate limit (§4.8.8: burst 120).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use debrief_node::sync::SyncOptions;
use debrief_protocol::bundle::Tlp;
use debrief_tests::harness::TestCircle;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_history_arrives_in_one_round_within_the_default_rate_limit() {
    let mut t = TestCircle::new(3).await;
    // Node 1 syncs with the default batches, node 2 one bundle per request; both only from 0.
    for (node, fetch_batch) in [(1, SyncOptions::default().fetch_batch), (2, 1)] {
        t.restrict(node, &[0]);
        t.set_options(
            node,
            SyncOptions {
                ignore_backoff: true,
                fetch_batch,
                ..SyncOptions::default()
            },
        );
    }
    // protocol.md §5.4: node 0 shares once a peer has confirmed its own chain.
    t.sync_rounds(1).await;
    let n = 300;
    let ids: Vec<_> = (0..n).map(|_| t.share(0, Tlp::Amber, &[])).collect();

    // The harness clock stands still, so node 0's buckets (burst 120) never refill: a round
    // that needed a request per bundle could not finish.
    let r = t.sync(1).await;
    assert_eq!(r.peers.len(), 1);
    assert_eq!(r.peers[0].error, None, "{r:?}");
    assert_eq!(r.peers[0].bundles_new, n);
    assert_eq!(t.bundle_ids(1).len(), n);
    assert!(ids.iter().all(|id| t.reads(1, id)));
    t.check_invariants(1);

    // The same catch-up one bundle per request runs into the limit part way, keeping what it
    // stored (protocol.md §5.3).
    let r = t.sync(2).await;
    let error = r.peers[0].error.clone().unwrap_or_default();
    assert!(
        error.contains("429") && error.contains("rate_limited"),
        "{r:?}"
    );
    let held = t.bundle_ids(2).len();
    assert_eq!(held, r.peers[0].bundles_new);
    assert!(held > 0 && held < n, "{held} of {n}");
    t.check_invariants(2);
}
