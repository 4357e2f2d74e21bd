//! In-process nodes for the sync tests (`tests/tests/sync_*.rs`): [`TestCircle::new`] makes n
//! real nodes (`Node::init` in temp homes, low scrypt work factor), one circle among them
//! founded by node 0 (its sequencer) with every node's signed identity card, and a real HTTPS
//! server on 127.0.0.1 with real TLS for every node that has an endpoint. Time comes from one
//! injectable [`FixedClock`]. Helpers share, sync and inspect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use debrief_keys::Passphrase;
use debrief_node::home::Home;
use debrief_node::http::clock::{Clock, FixedClock};
use debrief_node::http::serve::{RunningServer, serve_tls_on};
use debrief_node::node::{Circle, Node};
use debrief_node::server::{CircleHandle, ServerLimits, ServerState};
use debrief_node::sharing::{self, ShareRequest};
use debrief_node::sync::{self, NodeSigner, SyncOptions, SyncReport, Syncer};
use debrief_node::tls::NodeTlsIdentity;
use debrief_protocol::bundle::{BundleKind, Tlp};
use debrief_protocol::profile::{Industry, OrgProfile, Region, SizeBand};
use debrief_protocol::roster::Policy;
use debrief_protocol::{EnvelopeId, MemberId, Timestamp};
use zeroize::Zeroizing;

/// A report every test bundle carries.
pub const REPORT: &str = include_str!("../fixtures/valid/2017-01-database-directory-deleted.md");

/// One in-process node.
#[derive(Debug)]
pub struct TestNode {
    pub org: String,
    pub me: MemberId,
    pub node: Arc<Mutex<Node>>,
    /// Its circles (the same handles its server and syncer use).
    pub state: Arc<ServerState>,
    pub server: Option<RunningServer>,
    pub endpoint: Option<String>,
    pub syncer: Syncer,
}

/// n nodes in one circle.
#[derive(Debug)]
pub struct TestCircle {
    pub dir: tempfile::TempDir,
    pub clock: Arc<FixedClock>,
    pub nodes: Vec<TestNode>,
    pub circle: EnvelopeId,
}

fn profile() -> OrgProfile {
    OrgProfile {
        industry: Industry::Saas,
        size_band: SizeBand::M,
        region: Region::Europe,
    }
}

impl TestCircle {
    /// n nodes, every one with an endpoint and a server.
    pub async fn new(n: usize) -> TestCircle {
        TestCircle::with_endpoints(&vec![true; n]).await
    }

    /// One node per entry; `false` gives that node no endpoint (nobody can call it; it only
    /// pulls, and offers its own bundles with PUT).
    pub async fn with_endpoints(endpoints: &[bool]) -> TestCircle {
        let dir = tempfile::tempdir().unwrap();
        let now = debrief_node::node::now();
        let clock = Arc::new(FixedClock::new(now));
        let mut made = Vec::new();
        for (i, has) in endpoints.iter().enumerate() {
            let listener = has.then(|| TcpListener::bind("127.0.0.1:0").unwrap());
            let endpoint = listener
                .as_ref()
                .map(|l| format!("https://127.0.0.1:{}", l.local_addr().unwrap().port()));
            let org = format!("Org {i}");
            let pass = Passphrase::new(Zeroizing::new("correct horse battery".to_owned())).unwrap();
            let node = Node::init(
                Home::at(dir.path().join(format!("n{i}"))),
                &org,
                profile(),
                endpoint.as_deref(),
                pass,
                Some(10),
                now,
            )
            .unwrap();
            made.push((org, node, listener, endpoint));
        }
        let cards: Vec<_> = made[1..]
            .iter()
            .map(|(_, n, _, _)| n.signed_card(now).unwrap())
            .collect();
        let founded = made[0]
            .1
            .create_circle(
                "ops",
                "Share what went wrong.",
                Policy::default(),
                cards,
                now,
            )
            .unwrap();
        let circle = founded.roster.circle_id();
        let events = founded.store.roster_envelopes().unwrap();
        drop(founded);
        for (_, node, _, _) in &made[1..] {
            node.add_circle("ops", &events, now).unwrap();
        }
        let mut nodes = Vec::new();
        for (org, node, listener, endpoint) in made {
            nodes.push(start(org, node, listener, endpoint, &clock, now).await);
        }
        TestCircle {
            dir,
            clock,
            nodes,
            circle,
        }
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone() as Arc<dyn Clock>
    }

    pub fn id(&self, i: usize) -> MemberId {
        self.nodes[i].me.clone()
    }

    /// The served handle of the circle on node `i`.
    pub fn handle(&self, i: usize) -> Arc<CircleHandle> {
        self.nodes[i].state.circle(&self.circle).unwrap()
    }

    /// Runs `f` on node `i`'s circle.
    pub fn with_circle<T>(&self, i: usize, f: impl FnOnce(&mut Circle) -> T) -> T {
        self.handle(i).with_circle_blocking(f)
    }

    /// Node `i` shares the test report at `tlp` (RED to the nodes `named`); its object id.
    pub fn try_share(&self, i: usize, tlp: Tlp, named: &[usize]) -> Result<EnvelopeId, String> {
        let named: Vec<MemberId> = named.iter().map(|&j| self.id(j)).collect();
        let now = self.now();
        let node = Arc::clone(&self.nodes[i].node);
        self.with_circle(i, move |c| {
            let node = node.lock().unwrap();
            let report = debrief_protocol::report::parse(REPORT).unwrap();
            sharing::share(
                c,
                &node.identity().member_id(),
                node.identity(),
                &node.identity().age_identities(),
                ShareRequest {
                    kind: BundleKind::Report,
                    target: None,
                    tlp,
                    named,
                    body: sharing::report_body(&report).unwrap(),
                    bundle_id: sharing::new_bundle_id(),
                },
                now,
            )
            .map(|s| s.object.parse().unwrap())
            .map_err(|e| e.to_string())
        })
    }

    pub fn share(&self, i: usize, tlp: Tlp, named: &[usize]) -> EnvelopeId {
        self.try_share(i, tlp, named).unwrap()
    }

    /// One sync round of node `i`.
    pub async fn sync(&self, i: usize) -> SyncReport {
        sync::sync_circle_once(&self.nodes[i].syncer, &self.circle, self.clock())
            .await
            .unwrap()
    }

    /// `rounds` rounds of every node, in order.
    pub async fn sync_rounds(&self, rounds: usize) -> Vec<SyncReport> {
        let mut out = Vec::new();
        for _ in 0..rounds {
            for i in 0..self.nodes.len() {
                out.push(self.sync(i).await);
            }
        }
        out
    }

    /// Restricts node `i` to calling only the nodes `peers`.
    pub fn restrict(&mut self, i: usize, peers: &[usize]) {
        let only: BTreeSet<MemberId> = peers.iter().map(|&j| self.id(j)).collect();
        let t = &mut self.nodes[i];
        t.syncer = Syncer::new(
            t.me.clone(),
            Arc::new(NodeSigner(Arc::clone(&t.node))),
            Arc::clone(&t.state),
            SyncOptions {
                only_peers: Some(only),
                ..test_options()
            },
        );
    }

    /// Gives node `i` other sync options (its peer restriction is kept if `options` has none).
    pub fn set_options(&mut self, i: usize, options: SyncOptions) {
        let t = &mut self.nodes[i];
        let only = t.syncer.options().only_peers.clone();
        t.syncer = Syncer::new(
            t.me.clone(),
            Arc::new(NodeSigner(Arc::clone(&t.node))),
            Arc::clone(&t.state),
            SyncOptions {
                only_peers: options.only_peers.or(only),
                ..options
            },
        );
    }

    /// Makes node `i` a stalled peer: its server stops, and its port accepts connections that
    /// never answer (a hung machine). Returns the thread holding them.
    pub async fn stall(&mut self, i: usize) -> std::thread::JoinHandle<()> {
        let server = self.nodes[i].server.take().unwrap();
        let addr = server.local_addr();
        server
            .shutdown(std::time::Duration::from_secs(1))
            .await
            .unwrap();
        let listener = TcpListener::bind(addr).unwrap();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().take(64) {
                match stream {
                    Ok(s) => held.push(s),
                    Err(_) => break,
                }
            }
        })
    }

    /// Whether node `i` stores the bundle object `id` (its header and ciphertext).
    pub fn holds(&self, i: usize, id: &EnvelopeId) -> bool {
        let id = id.to_hex();
        self.with_circle(i, move |c| {
            c.store
                .conn()
                .query_row(
                    "SELECT count(*) FROM bundles WHERE header_id = ?1",
                    [id],
                    |r| r.get::<_, i64>(0),
                )
                .unwrap()
                == 1
        })
    }

    /// Whether node `i` holds the chain link of object `id`.
    pub fn holds_link(&self, i: usize, id: &EnvelopeId) -> bool {
        let id = id.to_hex();
        self.with_circle(i, move |c| {
            c.store
                .conn()
                .query_row(
                    "SELECT count(*) FROM links WHERE header_id = ?1",
                    [id],
                    |r| r.get::<_, i64>(0),
                )
                .unwrap()
                == 1
        })
    }

    /// Whether node `i` decrypted object `id`.
    pub fn reads(&self, i: usize, id: &EnvelopeId) -> bool {
        let id = id.to_hex();
        self.with_circle(i, move |c| sharing::report_of(c, &id).unwrap().is_some())
    }

    /// Every bundle object id node `i` stores.
    pub fn bundle_ids(&self, i: usize) -> BTreeSet<String> {
        self.with_circle(i, |c| {
            let mut stmt = c
                .store
                .conn()
                .prepare("SELECT header_id FROM bundles")
                .unwrap();
            stmt.query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        })
    }

    /// The store invariants of node `i` (panics with the broken ones).
    pub fn check_invariants(&self, i: usize) {
        self.with_circle(i, |c| {
            debrief_node::store::bundles::check_invariants(&c.store)
                .unwrap_or_else(|broken| panic!("node {i}: {broken:?}"))
        });
    }

    /// Whether sharing is frozen on node `i`.
    pub fn frozen(&self, i: usize) -> bool {
        self.with_circle(i, |c| !c.roster.unresolved_forks().is_empty())
    }
}

/// Sync options for tests: short timeouts, no backoff between rounds.
pub fn test_options() -> SyncOptions {
    SyncOptions {
        ignore_backoff: true,
        feed_limit: 3,
        ..SyncOptions::default()
    }
}

async fn start(
    org: String,
    node: Node,
    listener: Option<TcpListener>,
    endpoint: Option<String>,
    clock: &Arc<FixedClock>,
    now: Timestamp,
) -> TestNode {
    let me = node.identity().member_id();
    let circles = node.circles(now).unwrap();
    let state = ServerState::new(
        me.clone(),
        circles,
        clock.clone() as Arc<dyn Clock>,
        ServerLimits::default(),
    )
    .unwrap();
    state.set_identities(node.identity().age_identities());
    let server = match listener {
        Some(l) => {
            let tls = NodeTlsIdentity::from_seed(&node.identity().tls_seed()).unwrap();
            l.set_nonblocking(true).unwrap();
            Some(
                serve_tls_on(l, tls.server_config().unwrap(), state.router())
                    .await
                    .unwrap(),
            )
        }
        None => None,
    };
    let node = Arc::new(Mutex::new(node));
    let syncer = Syncer::new(
        me.clone(),
        Arc::new(NodeSigner(Arc::clone(&node))),
        Arc::clone(&state),
        test_options(),
    );
    TestNode {
        org,
        me,
        node,
        state,
        server,
        endpoint,
        syncer,
    }
}
