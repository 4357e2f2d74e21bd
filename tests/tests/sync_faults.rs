//! Sync under faults (protocol.md §5): a peer serving a tampered copy, a sync interrupted
//! between pages, a fork introduced at one node.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use debrief_node::circle_ops;
use debrief_node::http::client::ClientTimeouts;
use debrief_node::sharing;
use debrief_node::sync::state::{self, CursorKind};
use debrief_node::sync::{NodeSigner, SyncOptions};
use debrief_protocol::bundle::Tlp;
use debrief_protocol::roster::{EventBody, QuorumAction};
use debrief_tests::harness::TestCircle;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_copy_is_quarantined_and_the_genuine_one_arrives_from_another_peer() {
    let mut t = TestCircle::new(3).await;
    t.sync_rounds(1).await;
    let id = t.share(0, Tlp::Green, &[]);
    // Node 1 fetches it, then its store is corrupted: it now serves a tampered copy.
    t.restrict(1, &[0]);
    t.sync(1).await;
    assert!(t.holds(1, &id));
    let hex = id.to_hex();
    t.with_circle(1, move |c| {
        c.store
            .conn()
            .execute(
                "UPDATE bundles SET ciphertext = CAST(zeroblob(length(ciphertext)) AS BLOB)
                 WHERE header_id = ?1",
                [hex],
            )
            .unwrap();
    });
    // Node 2 first hears only from node 1: the copy is refused and quarantined.
    t.restrict(2, &[1]);
    let r = t.sync(2).await;
    assert_eq!(r.peers.len(), 1);
    assert_eq!(r.peers[0].error, None);
    assert_eq!(r.peers[0].quarantined, 1, "{:?}", r.peers[0]);
    assert_eq!(r.peers[0].bundles_new, 0);
    assert!(!t.holds(2, &id));
    let quarantined = t.with_circle(2, |c| sharing::quarantine_list(c).unwrap());
    assert_eq!(quarantined.len(), 1);
    assert!(
        quarantined[0].reason.contains("§3.18"),
        "{}",
        quarantined[0].reason
    );
    // Then from node 0 (and 1 again): the genuine copy is accepted; the bad one never blocks it.
    t.restrict(2, &[0, 1]);
    let r = t.sync(2).await;
    assert!(t.holds(2, &id));
    assert!(t.reads(2, &id));
    let new: usize = r.peers.iter().map(|p| p.bundles_new).sum();
    assert_eq!(new, 1, "{r:?}");
    t.check_invariants(2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_sync_resumes_from_its_cursors_with_nothing_missing_or_repeated() {
    let t = TestCircle::new(2).await;
    t.sync_rounds(1).await;
    let mut ids = Vec::new();
    for i in 0..12 {
        let tlp = if i % 4 == 3 { Tlp::Red } else { Tlp::Green };
        let named: &[usize] = if tlp == Tlp::Red { &[1] } else { &[] };
        ids.push(t.share(0, tlp, named));
    }
    // Drop node 1's sync as soon as it stored a first page (feed pages hold 3 headers).
    let interrupted = tokio::select! {
        _ = t.sync(1) => false,
        () = async {
            loop {
                if t.bundle_ids(1).len() >= 3 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        } => true,
    };
    let after_cut = t.bundle_ids(1).len();
    t.check_invariants(1);
    // The saved feed cursor never runs ahead of what is stored: every bundle node 0 stored at
    // or before it is held by node 1 (protocol.md §5.3).
    let peer = t.id(0);
    let cursor: i64 = t
        .with_circle(1, move |c| {
            state::cursor(c, &peer, CursorKind::Feed).unwrap()
        })
        .map_or(0, |s| s.parse().unwrap());
    let covered: Vec<String> = t.with_circle(0, move |c| {
        let mut stmt = c
            .store
            .conn()
            .prepare("SELECT header_id FROM bundles WHERE ingest_seq <= ?1")
            .unwrap();
        stmt.query_map([cursor], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    });
    let held = t.bundle_ids(1);
    assert!(
        covered.iter().all(|id| held.contains(id)),
        "cursor {cursor} skipped some"
    );
    let r = t.sync(1).await;
    let fetched: usize = r.peers.iter().map(|p| p.bundles_new).sum();
    assert_eq!(after_cut + fetched, 12, "interrupted={interrupted} {r:?}");
    for id in &ids {
        assert!(t.holds(1, id));
        assert!(t.reads(1, id));
    }
    assert_eq!(t.bundle_ids(1).len(), 12);
    t.check_invariants(1);
    // The cursors cover everything now: a further round fetches nothing.
    let r = t.sync(1).await;
    assert_eq!(r.peers[0].bundles_new + r.peers[0].links_new, 0, "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_introduced_at_one_node_freezes_every_node() {
    let t = TestCircle::new(4).await;
    t.sync_rounds(1).await;
    // The sequencer (node 0) signs two different seq-1 events; node 0 keeps one, node 1 is
    // given the other.
    let signer = NodeSigner(t.nodes[0].node.clone());
    let now = t.now();
    let roster = t.with_circle(0, |c| c.roster.clone());
    let proposal = roster
        .propose(
            QuorumAction::SetRole {
                member: t.id(2),
                maintainer: true,
            },
            now.plus_seconds(3600),
        )
        .sign(&signer)
        .unwrap();
    let one = roster
        .next_event(
            now.plus_seconds(1),
            EventBody::SetRole {
                proposal: proposal.clone(),
            },
        )
        .sign(&signer)
        .unwrap();
    let two = roster
        .next_event(now.plus_seconds(2), EventBody::SetRole { proposal })
        .sign(&signer)
        .unwrap();
    t.clock.advance(3);
    let now = t.now();
    for (i, event) in [(0, one), (1, two)] {
        let s = signer.clone();
        let outcome = t.with_circle(i, move |c| {
            circle_ops::import_log(c, &[event], &[], &[], &s, now).unwrap()
        });
        assert_eq!(outcome, circle_ops::ImportOutcome::Extended { added: 1 });
    }
    assert!((0..4).all(|i| !t.frozen(i)));
    t.sync_rounds(2).await;
    for i in 0..4 {
        assert!(t.frozen(i), "node {i} is not frozen");
    }
    // Frozen means no sharing (protocol.md §3.27).
    let refused = t.try_share(2, Tlp::Green, &[]).unwrap_err();
    assert!(
        refused.contains("fork") || refused.contains("frozen"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_gap_left_after_the_cursors_is_filled_from_the_peers() {
    let t = TestCircle::new(3).await;
    t.sync_rounds(1).await;
    let first = t.share(0, Tlp::Green, &[]);
    let red = t.share(0, Tlp::Red, &[1]);
    let third = t.share(0, Tlp::Green, &[]);
    t.sync(2).await;
    assert!(t.holds(2, &first) && t.holds(2, &third));
    assert!(t.holds_link(2, &red) && !t.holds(2, &red));
    // Node 2 loses the RED link (it holds only the link): its cursors are past it.
    let hex = red.to_hex();
    t.with_circle(2, move |c| {
        c.store
            .conn()
            .execute("DELETE FROM links WHERE header_id = ?1", [hex])
            .unwrap();
    });
    let gaps = t.with_circle(2, |c| sharing::chain_gaps(c).unwrap());
    assert_eq!(gaps.len(), 1);
    assert_eq!(*gaps[0].1.start(), 2);
    let r = t.sync(2).await;
    assert!(r.gaps.is_empty(), "{r:?}");
    assert!(t.holds_link(2, &red));
    assert!(!t.holds(2, &red));
    let refetched: usize = r.peers.iter().map(|p| p.links_new).sum();
    assert!(refetched >= 1, "{r:?}");
    t.check_invariants(2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_peer_costs_only_its_own_round() {
    let mut t = TestCircle::new(3).await;
    t.sync_rounds(1).await;
    let id = t.share(1, Tlp::Green, &[]);
    let _held = t.stall(2).await;
    t.set_options(
        0,
        SyncOptions {
            timeouts: ClientTimeouts {
                connect: Duration::from_secs(2),
                total: Duration::from_secs(3),
            },
            peer_timeout: Duration::from_secs(5),
            ..debrief_tests::harness::test_options()
        },
    );
    let r = t.sync(0).await;
    assert!(t.holds(0, &id));
    let by_peer = |i: usize| {
        r.peers
            .iter()
            .find(|p| p.peer == t.id(i).to_string())
            .unwrap()
            .clone()
    };
    assert_eq!(by_peer(1).error, None);
    assert_eq!(by_peer(1).bundles_new, 1);
    assert!(by_peer(2).error.is_some(), "{r:?}");
    // The failure is recorded for `debrief status`.
    let statuses = t.with_circle(0, |c| state::peer_statuses(c).unwrap());
    let stalled = statuses
        .iter()
        .find(|s| s.peer == t.id(2).to_string())
        .unwrap();
    assert!(stalled.failures >= 1 && stalled.last_error.is_some());
}
