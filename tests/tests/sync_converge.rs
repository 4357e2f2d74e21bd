//! Sync over real HTTPS between in-process nodes (protocol.md §5): convergence through relays,
//! RED only to its recipients.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use debrief_protocol::bundle::Tlp;
use debrief_tests::harness::TestCircle;

/// Five nodes; 3 and 4 have no endpoint (nobody can call them), 3 calls only 0 and 1, 4 calls
/// only 2: 3 and 4 never talk to each other, and reach the rest only through relays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_nodes_converge_through_relays_and_red_reaches_only_its_recipients() {
    let mut t = TestCircle::with_endpoints(&[true, true, true, false, false]).await;
    t.restrict(3, &[0, 1]);
    t.restrict(4, &[2]);
    // A first round gives every node a live head comparison, which sharing requires.
    t.sync_rounds(1).await;

    let from0 = t.share(0, Tlp::Green, &[]);
    let from3 = t.share(3, Tlp::Amber, &[]);
    let from4 = t.share(4, Tlp::Green, &[]);
    let red = t.share(1, Tlp::Red, &[2, 4]);
    let reports = t.sync_rounds(3).await;
    for r in &reports {
        for p in &r.peers {
            assert_eq!(p.error, None, "{}: {p:?}", r.circle);
            assert_eq!(p.quarantined, 0);
        }
    }

    for i in 0..5 {
        for id in [&from0, &from3, &from4] {
            assert!(t.holds(i, id), "node {i} lacks {id}");
            assert!(t.reads(i, id), "node {i} cannot read {id}");
        }
        // Every member holds every link (protocol.md §3.32).
        assert!(t.holds_link(i, &red), "node {i} lacks the RED link");
        let recipient = [1, 2, 4].contains(&i);
        assert_eq!(t.holds(i, &red), recipient, "node {i}");
        assert_eq!(t.reads(i, &red), recipient, "node {i}");
        t.check_invariants(i);
    }
    // Nothing was stored twice.
    assert_eq!(t.bundle_ids(0).len(), 3);
    assert_eq!(t.bundle_ids(4).len(), 4);
    // Another round finds nothing new anywhere.
    for r in t.sync_rounds(1).await {
        for p in &r.peers {
            assert_eq!(
                (p.bundles_new, p.links_new, p.roster_events),
                (0, 0, 0),
                "{p:?}"
            );
            assert_eq!(p.head_agrees, Some(true));
        }
        assert!(r.gaps.is_empty());
    }
}
