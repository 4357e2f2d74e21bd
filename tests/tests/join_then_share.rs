//! Issue 12, end to end: a circle of three (TestCircle: real nodes, real HTTPS servers, real
//! Syncers) takes a fourth member over the network — invite, join over HTTPS, two vouches over
//! HTTPS, admission by the sequencer — and the new member then syncs. It receives the next
//! circle-wide share and can read it, but not the reports shared before it joined
//! (protocol.md §3: recipients are the members at the share's roster seq), until the author
//! reshares them to it (§3.26); then it reads them too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use debrief_keys::Passphrase;
use debrief_node::circle_ops as ops;
use debrief_node::home::Home;
use debrief_node::join::{self, JoinOutcome, PeerAddr};
use debrief_node::node::Node;
use debrief_node::server::{ServerLimits, ServerState};
use debrief_node::sharing;
use debrief_node::sync::{self, NodeSigner, Syncer};
use debrief_protocol::EnvelopeId;
use debrief_protocol::bundle::Tlp;
use debrief_protocol::profile::{Industry, OrgProfile, Region, SizeBand};
use debrief_tests::harness::{TestCircle, test_options};
use zeroize::Zeroizing;

fn pass() -> Passphrase {
    // The passphrase TestCircle gives every node.
    Passphrase::new(Zeroizing::new("correct horse battery".to_owned())).unwrap()
}

/// Whether the circle on `state` holds the object and can read it.
fn holds_and_reads(state: &ServerState, circle: &EnvelopeId, id: &EnvelopeId) -> (bool, bool) {
    let id = id.to_hex();
    state
        .circle(circle)
        .unwrap()
        .with_circle_blocking(move |c| {
            let held: i64 = c
                .store
                .conn()
                .query_row(
                    "SELECT count(*) FROM bundles WHERE header_id = ?1",
                    [&id],
                    |r| r.get(0),
                )
                .unwrap();
            (held == 1, sharing::report_of(c, &id).unwrap().is_some())
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_joined_over_https_reads_the_next_share_and_earlier_ones_only_when_reshared() {
    let t = TestCircle::new(3).await;
    let circle = t.circle;
    t.sync_rounds(1).await;
    // Two circle-wide reports before the fourth member exists.
    let early = [t.share(0, Tlp::Green, &[]), t.share(1, Tlp::Amber, &[])];
    t.sync_rounds(1).await;
    for id in &early {
        assert!((0..3).all(|i| t.reads(i, id)));
    }

    // --- Node 0 (maintainer and sequencer) invites over its served endpoint.
    let url = t.nodes[0].endpoint.clone().unwrap();
    let now = t.now();
    let node0 = Arc::clone(&t.nodes[0].node);
    let info = t.with_circle(0, move |c| {
        let node = node0.lock().unwrap();
        join::invite(&node, c, &url, 3600, now).unwrap()
    });

    // --- Delta joins over HTTPS.
    let delta = Node::init(
        Home::at(t.dir.path().join("delta")),
        "Delta",
        OrgProfile {
            industry: Industry::Saas,
            size_band: SizeBand::M,
            region: Region::Europe,
        },
        None,
        pass(),
        Some(10),
        now,
    )
    .unwrap();
    let d_id = delta.identity().member_id();
    let record = join::join_over_network(&delta, &info, None, now)
        .await
        .unwrap();
    assert!(matches!(
        join::finish_join(&delta, &record, now).await.unwrap(),
        JoinOutcome::NotYetAdmitted
    ));
    let prefix = record.join_request.id().to_hex()[..12].to_owned();

    // --- Nodes 1 and 2 vouch over HTTPS (the default policy needs two vouches).
    for i in [1, 2] {
        let sponsor =
            Node::open_with(Home::at(t.dir.path().join(format!("n{i}"))), pass()).unwrap();
        let theirs = sponsor.circle(Some("ops"), now).unwrap();
        let sequencer = PeerAddr::sequencer(&theirs.roster).unwrap();
        join::vouch_over_network(
            &sponsor,
            &theirs,
            &sequencer,
            &prefix,
            "We worked an incident with them.",
            None,
            now,
        )
        .await
        .unwrap();
    }

    // --- The sequencer admits from its pending store, on the served circle.
    let (node0, me0) = (Arc::clone(&t.nodes[0].node), t.id(0));
    let admitted = t.with_circle(0, move |c| {
        let node = node0.lock().unwrap();
        let pending = ops::pending_admissions(c, now).unwrap();
        assert_eq!(pending.len(), 1);
        assert!(pending[0].ready(), "{:?}", pending[0].vouches);
        let event = ops::admit_pending(c, node.identity(), &me0, &prefix, now).unwrap();
        ops::issue_checkpoint(c, node.identity(), &me0, now).unwrap();
        event
    });
    assert_eq!(admitted.kind, "admit");
    let JoinOutcome::Admitted(joined) = join::finish_join(&delta, &record, now).await.unwrap()
    else {
        panic!("Delta was admitted");
    };
    assert!(joined.roster.member(&d_id).is_some());
    drop(joined);
    // The other members pull the admission.
    t.sync_rounds(1).await;
    for i in 0..3 {
        let d = d_id.clone();
        assert!(
            t.with_circle(i, move |c| c.roster.member(&d).is_some()),
            "node {i}"
        );
    }

    // --- Delta runs its own Syncer (it has no endpoint: it pulls, and offers with PUT).
    let d_state = ServerState::new(
        d_id.clone(),
        delta.circles(now).unwrap(),
        t.clock(),
        ServerLimits::default(),
    )
    .unwrap();
    // As `debrief serve` does: the syncer opens bundles with the node's age identities.
    d_state.set_identities(delta.identity().age_identities());
    let d_syncer = Syncer::new(
        d_id.clone(),
        Arc::new(NodeSigner(Arc::new(Mutex::new(delta)))),
        Arc::clone(&d_state),
        test_options(),
    );

    // The next circle-wide share names Delta as a recipient.
    t.clock.advance(1);
    let next = t.share(2, Tlp::Green, &[]);
    let report = sync::sync_circle_once(&d_syncer, &circle, t.clock())
        .await
        .unwrap();
    for p in &report.peers {
        assert_eq!(p.error, None, "{report:?}");
    }
    let quarantined: Vec<(String, String)> =
        d_state.circle(&circle).unwrap().with_circle_blocking(|c| {
            let mut stmt = c
                .store
                .conn()
                .prepare("SELECT reason, source FROM quarantine")
                .unwrap();
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        });
    assert_eq!(quarantined, Vec::new(), "nothing refused");
    assert_eq!(
        holds_and_reads(&d_state, &circle, &next),
        (true, true),
        "{report:#?}"
    );
    // The earlier reports: stored (circle-wide), but not to Delta, so not readable.
    for id in &early {
        assert_eq!(
            holds_and_reads(&d_state, &circle, id),
            (true, false),
            "shared before Delta joined"
        );
    }

    // --- Each author reshares its earlier report to Delta; after a sync Delta reads both.
    t.clock.advance(1);
    let mut reshared = Vec::new();
    for (author, id) in [0usize, 1].into_iter().zip(early) {
        let node = Arc::clone(&t.nodes[author].node);
        let (d, later) = (d_id.clone(), t.now());
        let object = t.with_circle(author, move |c| {
            let node = node.lock().unwrap();
            let bundle_id: String = c
                .store
                .conn()
                .query_row(
                    "SELECT bundle_id FROM bundles WHERE header_id = ?1",
                    [id.to_hex()],
                    |r| r.get(0),
                )
                .unwrap();
            let me = node.identity().member_id();
            let r = sharing::reshare(
                c,
                &me,
                node.identity(),
                &node.identity().age_identities(),
                &bundle_id,
                &[d],
                later,
            )
            .unwrap();
            assert_eq!(r.new_readers.len(), 1);
            r.shared.object.parse::<EnvelopeId>().unwrap()
        });
        reshared.push(object);
    }
    sync::sync_circle_once(&d_syncer, &circle, t.clock())
        .await
        .unwrap();
    for id in &reshared {
        assert_eq!(holds_and_reads(&d_state, &circle, id), (true, true));
    }
    // The originals stay unreadable to Delta; only the reshared versions open.
    for id in &early {
        assert_eq!(holds_and_reads(&d_state, &circle, id), (true, false));
    }
    d_state.circle(&circle).unwrap().with_circle_blocking(|c| {
        debrief_node::store::bundles::check_invariants(&c.store).unwrap();
    });
}
