//! Sync and membership (protocol.md §5): a removed member receives nothing new; a node
//! restored from an old backup recovers its own author chain before it shares again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use debrief_node::circle_ops;
use debrief_node::store::circle::CircleStore;
use debrief_node::sync::NodeSigner;
use debrief_protocol::bundle::{BundleHeader, Tlp};
use debrief_protocol::roster::QuorumAction;
use debrief_tests::harness::TestCircle;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_member_receives_nothing_new() {
    let t = TestCircle::new(4).await;
    t.sync_rounds(1).await;
    let before = t.share(0, Tlp::Green, &[]);
    t.sync_rounds(1).await;
    assert!(t.holds(3, &before));
    // The sole maintainer (node 0, also the sequencer) removes node 3.
    let signer = NodeSigner(t.nodes[0].node.clone());
    let (me, gone, now) = (t.id(0), t.id(3), t.now());
    t.clock.advance(1);
    let later = t.now();
    t.with_circle(0, move |c| {
        let (env, status) = circle_ops::propose(
            c,
            &signer,
            &me,
            QuorumAction::Remove {
                member: gone,
                reason: "left the industry".into(),
            },
            now,
        )
        .unwrap();
        assert!(status.is_met());
        circle_ops::apply_proposal(c, &signer, &me, &env, &[], later).unwrap();
    });
    let after = t.share(0, Tlp::Green, &[]);
    let reports = t.sync_rounds(2).await;
    for i in 0..3 {
        assert!(t.holds(i, &after), "node {i}");
        assert!(!t.with_circle(i, |c| c.roster.member(&t.id(3)).is_some()));
    }
    assert!(!t.holds(3, &after));
    assert!(!t.holds_link(3, &after));
    // Node 3's own rounds were refused by every peer: it is no longer a member.
    let node3 = &reports[reports.len() - 1];
    assert!(
        node3
            .peers
            .iter()
            .all(|p| p.error.as_deref().is_some_and(|e| e.contains("404"))),
        "{node3:?}"
    );
    // And nobody calls node 3 any more.
    for r in &reports[reports.len() - 4..reports.len() - 1] {
        assert!(
            r.peers.iter().all(|p| p.peer != t.id(3).to_string()),
            "{r:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restored_from_backup_recovers_its_author_seq_before_sharing() {
    let t = TestCircle::new(2).await;
    t.sync_rounds(1).await;
    // Node 0's backup, taken before it shared anything.
    let backup = t.dir.path().join("backup.sqlite");
    let path = backup.clone();
    t.with_circle(0, move |c| {
        c.store
            .conn()
            .execute("VACUUM INTO ?1", [path.to_str().unwrap()])
            .unwrap();
    });
    let first = t.share(0, Tlp::Green, &[]);
    let second = t.share(0, Tlp::Green, &[]);
    t.sync_rounds(1).await;
    assert!(t.holds(1, &first) && t.holds(1, &second));

    // Restore node 0's store from the backup, a day and more later.
    t.with_circle(0, move |c| {
        let store = CircleStore::open(&backup).unwrap();
        c.roster = store.load_roster(None).unwrap();
        c.store = store;
    });
    t.clock.advance(2 * 24 * 3600);
    assert!(!t.holds(0, &first));
    let refused = t.try_share(0, Tlp::Green, &[]).unwrap_err();
    assert!(refused.contains("own author chain"), "{refused}");

    // One sync fetches its own links and bundles back; then it shares seq 3, not seq 1 again.
    t.sync(0).await;
    assert!(t.holds(0, &first) && t.holds(0, &second));
    let third = t.share(0, Tlp::Green, &[]);
    let seq = t.with_circle(0, move |c| {
        let header: Vec<u8> = c
            .store
            .conn()
            .query_row(
                "SELECT header FROM bundles WHERE header_id = ?1",
                [third.to_hex()],
                |r| r.get(0),
            )
            .unwrap();
        let env = debrief_protocol::Envelope::from_json(&header).unwrap();
        env.unverified_payload::<BundleHeader>().unwrap().author_seq
    });
    assert_eq!(seq, 3);
    let r = t.sync(1).await;
    assert_eq!(r.peers[0].quarantined, 0, "{r:?}");
    assert!(t.holds(1, &third));
    for i in 0..2 {
        t.check_invariants(i);
        assert!(t.with_circle(i, |c| {
            debrief_node::sharing::chain_gaps(c).unwrap().is_empty()
        }));
    }
}
