//! Sync: pull what peers hold and this node lacks, verify it, store it (protocol.md §5).
//!
//! For every circle and every peer in its roster (a member other than us with an endpoint and a
//! TLS pin), one round:
//!
//! 1. **Roster**: `roster?after=<our head seq>` until `more` is false, each page imported with
//!    [`crate::circle_ops::import_log`] (every event verified by the fold; a conflicting one stores a
//!    fork proof and freezes the circle). Then the peer's head is compared with ours: equal heads
//!    are recorded as freshness evidence (a live head comparison, protocol.md §3.27); a peer head
//!    at a seq we hold but with another id makes us fetch that event, which yields the fork proof.
//!    The peer's `forks` and `checkpoint` are imported the same way.
//! 2. **Links**: `links?after=<cursor>` from the cursor saved for this peer; each link verified
//!    and stored ([`crate::sharing::accept_link`]), a bad one quarantined.
//! 3. **Feed**: `feed?after=<cursor>`; every header we do not hold is fetched with
//!    `bundles/{id}`, verified and stored ([`crate::sharing::accept_bundle`]); a bad object is
//!    quarantined and sync goes on; one that names a roster seq beyond ours is left for the next
//!    round (the cursor does not pass it).
//! 4. **Offer**: our own bundles stored since the offer cursor are `PUT` to the peer as a hint
//!    (RED only to its recipients), so a peer we can reach but that cannot reach us still gets them.
//!
//! Peers are synced concurrently, each within its own timeout, so a slow peer never stalls the
//! others. A peer that fails is retried after an exponential backoff with jitter
//! ([`backoff::Backoff`]). After the round, author-chain gaps ([`crate::sharing::chain_gaps`]) and
//! circle-wide links whose bundle is missing are asked of every peer that answered.
//!
//! Cursors are saved per (circle, peer) in the circle store (`sync_cursors`, migration v6),
//! always after the objects they cover are committed: an interrupted sync fetches a few objects
//! again (deduplicated by id) and never skips one.
//!
//! The entry points are [`sync_circle_once`] and [`sync_all_once`].

pub mod backoff;
pub mod peer;
pub mod state;

/// Named points where `DEBRIEF_CRASH_POINT` aborts a sync (crash tests, docs/operations.md
/// "Durability"); inert unless the variable names one of them. A page's objects and its cursor
/// share one transaction, so there is no point "stored but cursor not saved": the meaningful
/// moments are between committed transactions.
pub const CRASH_POINTS: &[&str] = &[
    "sync-links-after-page",
    "sync-feed-after-batch",
    "sync-feed-after-page",
];

/// Aborts the process if `DEBRIEF_CRASH_POINT` names `point`, as a power cut would stop it.
pub(crate) fn crash_point(point: &str) {
    if std::env::var("DEBRIEF_CRASH_POINT").as_deref() == Ok(point) {
        eprintln!("DEBRIEF_CRASH_POINT={point}: aborting here, as a crash would");
        std::process::abort();
    }
}

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use debrief_protocol::{EnvelopeId, MemberId, Sha256Digest, Signer, Timestamp};
use serde::Serialize;

use crate::http::client::ClientTimeouts;
use crate::http::clock::Clock;
use crate::node::Circle;
use crate::server::{CircleHandle, ServerState};
use crate::store::StoreError;
use backoff::Backoff;

/// How sync behaves.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Connect and per-request timeouts of the HTTPS client.
    pub timeouts: ClientTimeouts,
    /// The longest one peer's whole round may take before it is abandoned (and backed off);
    /// what it fetched until then stays stored, with its cursors.
    pub peer_timeout: Duration,
    /// First retry delay after a failure; doubles per failure up to `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Contact peers even while they are backed off (`debrief sync --once`).
    pub ignore_backoff: bool,
    /// When set, only these peers are contacted (tests and partial topologies).
    pub only_peers: Option<BTreeSet<MemberId>>,
    /// `limit` of each `feed` request (1 to 200).
    pub feed_limit: usize,
    /// Bundles asked for in one `bundles?ids=` request and stored in one commit (1 to 32,
    /// `sync.fetch_batch`).
    pub fetch_batch: usize,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            timeouts: ClientTimeouts::default(),
            peer_timeout: Duration::from_secs(120),
            backoff_base: Duration::from_secs(30),
            backoff_max: Duration::from_secs(3600),
            ignore_backoff: false,
            only_peers: None,
            feed_limit: debrief_protocol::wire::MAX_FEED_PAGE,
            fetch_batch: debrief_protocol::wire::MAX_BUNDLE_BATCH,
        }
    }
}

impl SyncOptions {
    /// The options from `[sync]` of the configuration: `sync.peer_timeout` bounds each
    /// exchange (request) with a peer; a whole round with one peer may take 20 of them, so a
    /// large backlog is not cut short, while a dead peer costs at most one connect timeout.
    pub fn from_config(sync: &debrief_config::SyncConfig) -> Self {
        SyncOptions {
            peer_timeout: sync.peer_timeout.saturating_mul(20),
            timeouts: ClientTimeouts {
                connect: ClientTimeouts::default().connect.min(sync.peer_timeout),
                total: sync.peer_timeout,
            },
            fetch_batch: sync.fetch_batch,
            ..SyncOptions::default()
        }
    }
}

/// Why a sync could not run at all (a peer's failure is in its [`PeerReport`] instead).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("this node does not hold circle {0}")]
    UnknownCircle(EnvelopeId),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("sync task failed: {0}")]
    Task(String),
    #[error(transparent)]
    Node(#[from] crate::node::NodeError),
}

/// What one round with one peer did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PeerReport {
    pub peer: String,
    pub org: String,
    pub endpoint: String,
    /// Roster events imported.
    pub roster_events: usize,
    /// Chain links stored.
    pub links_new: usize,
    /// Bundle objects stored.
    pub bundles_new: usize,
    /// Feed entries or links we already held.
    pub already_held: usize,
    /// Objects refused and put in quarantine.
    pub quarantined: usize,
    /// Bundles naming a roster seq beyond ours, left for the next round.
    pub deferred: usize,
    /// Our bundles the peer took with `PUT` (new to it).
    pub offered: usize,
    /// Whether the peer's roster head equals ours after the round.
    pub head_agrees: Option<bool>,
    /// The peer's roster head seq and event id.
    pub peer_head_seq: Option<u64>,
    pub peer_head: Option<String>,
    /// Whether the round found (or received) a fork proof.
    pub frozen: bool,
    /// Skipped: backed off until this time.
    pub backed_off_until: Option<String>,
    /// Why the round with this peer failed, if it did.
    pub error: Option<String>,
}

/// What one sync round of one circle did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    pub circle: String,
    pub name: String,
    pub peers: Vec<PeerReport>,
    /// Bundles fetched after the round because a link named them and no peer's feed gave them.
    pub missing_fetched: usize,
    /// Author-chain gaps still open after the round: (author, first seq, last seq).
    pub gaps: Vec<(String, u64, u64)>,
    /// Whether sharing is frozen in this circle (an unresolved fork proof is held).
    pub frozen: bool,
}

impl SyncReport {
    /// Totals over peers: (new bundles, already held, quarantined, peers with errors).
    pub fn totals(&self) -> (usize, usize, usize, usize) {
        self.peers.iter().fold((0, 0, 0, 0), |t, p| {
            (
                t.0 + p.bundles_new,
                t.1 + p.already_held,
                t.2 + p.quarantined,
                t.3 + usize::from(p.error.is_some()),
            )
        })
    }
}

/// A peer of one circle, from its roster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerTarget {
    pub member: MemberId,
    pub org: String,
    pub endpoint: String,
    pub pin: Sha256Digest,
}

/// The peers of a circle: current members other than `me` with an endpoint.
pub fn peers_of(circle: &Circle, me: &MemberId) -> Vec<PeerTarget> {
    circle
        .roster
        .members()
        .filter(|m| &m.id != me)
        .filter_map(|m| {
            m.endpoint.as_ref().map(|e| PeerTarget {
                member: m.id.clone(),
                org: m.org.clone(),
                endpoint: e.clone(),
                pin: m.tls_spki_sha256,
            })
        })
        .collect()
}

/// What a [`Syncer`] tells its progress hook ([`Syncer::with_progress`]).
#[derive(Debug, Clone)]
pub enum SyncEvent {
    /// A round with this peer of this circle starts.
    PeerStarted { circle: String, peer: PeerTarget },
    /// It ended (successfully or not, see [`PeerReport::error`]).
    PeerDone { circle: String, report: PeerReport },
}

/// A progress hook.
pub type ProgressHook = Arc<dyn Fn(SyncEvent) + Send + Sync>;

struct Inner {
    progress: Option<ProgressHook>,
    me: MemberId,
    signer: Arc<dyn Signer + Send + Sync>,
    state: Arc<ServerState>,
    options: SyncOptions,
    backoff: Mutex<BTreeMap<(EnvelopeId, MemberId), Backoff>>,
}

/// A node's sync engine: its identity, its circles (the same handles the HTTPS server uses, so
/// a sync inside `debrief serve` and requests to it see one store and one roster) and the
/// per-peer backoff. Cheap to clone.
#[derive(Clone)]
pub struct Syncer(Arc<Inner>);

impl std::fmt::Debug for Syncer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Syncer")
            .field("me", &self.0.me)
            .finish_non_exhaustive()
    }
}

impl Syncer {
    /// A syncer for the node with member id `me`, signing requests with `signer`, over the
    /// circles of `state` (whose age identities, [`ServerState::set_identities`], open the
    /// bundles addressed to us).
    pub fn new(
        me: MemberId,
        signer: Arc<dyn Signer + Send + Sync>,
        state: Arc<ServerState>,
        options: SyncOptions,
    ) -> Self {
        Syncer(Arc::new(Inner {
            progress: None,
            me,
            signer,
            state,
            options,
            backoff: Mutex::new(BTreeMap::new()),
        }))
    }

    /// A syncer over every circle of `node` (or only the one `selector` names, as
    /// `--circle` does), with its own [`ServerState`]. The node is kept behind a mutex for
    /// signing; the returned handle lets the caller keep using it. For a node that also serves,
    /// build the syncer with [`Syncer::new`] over the server's state instead, so both share one
    /// store handle per circle (what `debrief serve` does).
    pub fn for_node(
        node: crate::node::Node,
        selector: Option<&str>,
        clock: Arc<dyn Clock>,
        options: SyncOptions,
    ) -> Result<(Syncer, Arc<Mutex<crate::node::Node>>), SyncError> {
        let now = clock.now();
        let circles = match selector {
            Some(_) => vec![node.circle(selector, now)?],
            None => node.circles(now)?,
        };
        let me = node.identity().member_id();
        let state = ServerState::new(
            me.clone(),
            circles,
            clock,
            crate::server::ServerLimits::from_config(&node.config().limits),
        )?;
        state.set_identities(node.identity().age_identities());
        let node = Arc::new(Mutex::new(node));
        let syncer = Syncer::new(me, Arc::new(NodeSigner(Arc::clone(&node))), state, options);
        Ok((syncer, node))
    }

    /// The same syncer calling `hook` as each peer's round starts and ends (the CLI's
    /// progress display). Call it before the syncer is cloned.
    pub fn with_progress(self, hook: ProgressHook) -> Self {
        match Arc::try_unwrap(self.0) {
            Ok(mut inner) => {
                inner.progress = Some(hook);
                Syncer(Arc::new(inner))
            }
            Err(shared) => Syncer(shared),
        }
    }

    fn emit(&self, event: SyncEvent) {
        if let Some(hook) = &self.0.progress {
            hook(event);
        }
    }

    /// The circles and identities this syncer works on.
    pub fn state(&self) -> &Arc<ServerState> {
        &self.0.state
    }

    pub fn options(&self) -> &SyncOptions {
        &self.0.options
    }

    fn backoff_ready(&self, circle: EnvelopeId, peer: &MemberId, now: Timestamp) -> Option<i64> {
        if self.0.options.ignore_backoff {
            return None;
        }
        let map = self.0.backoff.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&(circle, peer.clone()))
            .filter(|b| !b.ready(now.unix()))
            .map(Backoff::not_before)
    }

    fn record_outcome(&self, circle: EnvelopeId, peer: &MemberId, ok: bool, now: Timestamp) -> i64 {
        use rand::Rng as _;
        let mut map = self.0.backoff.lock().unwrap_or_else(|p| p.into_inner());
        let b = map.entry((circle, peer.clone())).or_insert_with(|| {
            Backoff::new(self.0.options.backoff_base, self.0.options.backoff_max)
        });
        if ok {
            b.succeeded();
        } else {
            b.failed(now.unix(), rand::thread_rng().r#gen::<f64>());
        }
        b.not_before()
    }
}

/// Runs one sync round of `circle` with every peer in its roster, concurrently, and returns
/// what each peer gave (protocol.md §5). A peer that fails, times out or is backed off does not
/// stop the others: its [`PeerReport::error`] says why. Errors only when the circle is unknown
/// or this node's own store fails.
///
/// `clock` is the time used for request signatures, freshness and acceptance (tests inject a
/// fixed clock).
pub async fn sync_circle_once(
    syncer: &Syncer,
    circle: &EnvelopeId,
    clock: Arc<dyn Clock>,
) -> Result<SyncReport, SyncError> {
    let handle = syncer
        .0
        .state
        .circle(circle)
        .ok_or(SyncError::UnknownCircle(*circle))?;
    let me = syncer.0.me.clone();
    let only = syncer.0.options.only_peers.clone();
    let (peers, name) = peer::on_store(&handle, move |c| {
        let peers: Vec<PeerTarget> = peers_of(c, &me)
            .into_iter()
            .filter(|p| only.as_ref().is_none_or(|o| o.contains(&p.member)))
            .collect();
        (peers, c.roster.name().to_owned())
    })
    .await
    .map_err(|e| SyncError::Task(e.to_string()))?;
    let mut report = SyncReport {
        circle: circle.to_hex(),
        name,
        ..SyncReport::default()
    };
    let mut tasks = tokio::task::JoinSet::new();
    for target in peers {
        let now = clock.now();
        if let Some(until) = syncer.backoff_ready(*circle, &target.member, now) {
            report.peers.push(PeerReport {
                peer: target.member.to_string(),
                org: target.org.clone(),
                endpoint: target.endpoint.clone(),
                backed_off_until: Some(Timestamp::from_unix(until).to_string()),
                ..PeerReport::default()
            });
            continue;
        }
        let syncer = syncer.clone();
        let handle = Arc::clone(&handle);
        let clock = Arc::clone(&clock);
        syncer.emit(SyncEvent::PeerStarted {
            circle: report.name.clone(),
            peer: target.clone(),
        });
        let circle_name = report.name.clone();
        tasks.spawn(async move {
            let limit = syncer.0.options.peer_timeout;
            let mut out = PeerReport {
                peer: target.member.to_string(),
                org: target.org.clone(),
                endpoint: target.endpoint.clone(),
                ..PeerReport::default()
            };
            let result = tokio::time::timeout(
                limit,
                peer::sync_peer(&syncer, &handle, &target, &clock, &mut out),
            )
            .await;
            let error = match result {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(_) => Some(format!("timed out after {} s", limit.as_secs())),
            };
            let now = clock.now();
            let not_before =
                syncer.record_outcome(handle.id, &target.member, error.is_none(), now);
            let status_error = error.clone();
            let peer_id = target.member.clone();
            let head = out.peer_head_seq.zip(out.peer_head.clone());
            let _ = peer::on_store(&handle, move |c| {
                state::record_contact(c, &peer_id, now, status_error.as_deref(), head, not_before)
            })
            .await;
            if let Some(e) = &error {
                tracing::warn!(peer = %target.member, endpoint = %target.endpoint, error = %e, "sync with peer failed");
            }
            out.error = error;
            syncer.emit(SyncEvent::PeerDone {
                circle: circle_name,
                report: out.clone(),
            });
            (target, out)
        });
    }
    let mut answered = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (target, out) = joined.map_err(|e| SyncError::Task(e.to_string()))?;
        if out.error.is_none() {
            answered.push(target);
        }
        report.peers.push(out);
    }
    report
        .peers
        .sort_by(|a, b| a.org.cmp(&b.org).then(a.peer.cmp(&b.peer)));
    // protocol.md §5.3: what a round left missing is asked of every peer that answered.
    report.missing_fetched = peer::fill_gaps(syncer, &handle, &answered, &clock, &mut report)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "filling gaps failed");
            0
        });
    let (gaps, frozen) = peer::on_store(&handle, |c| {
        let gaps = crate::sharing::chain_gaps(c).unwrap_or_default();
        (gaps, !c.roster.unresolved_forks().is_empty())
    })
    .await
    .map_err(|e| SyncError::Task(e.to_string()))?;
    report.gaps = gaps
        .into_iter()
        .map(|(a, r): (MemberId, RangeInclusive<u64>)| (a.to_string(), *r.start(), *r.end()))
        .collect();
    report.frozen = frozen;
    Ok(report)
}

/// [`sync_circle_once`] for every circle of the syncer, one after the other (peers within a
/// circle run concurrently).
pub async fn sync_all_once(
    syncer: &Syncer,
    clock: Arc<dyn Clock>,
) -> Result<Vec<SyncReport>, SyncError> {
    let mut out = Vec::new();
    for handle in syncer.0.state.circles() {
        out.push(sync_circle_once(syncer, &handle.id, Arc::clone(&clock)).await?);
    }
    Ok(out)
}

/// The handle of a served circle (for callers that have only its id).
pub fn circle_handle(syncer: &Syncer, circle: &EnvelopeId) -> Option<Arc<CircleHandle>> {
    syncer.0.state.circle(circle)
}

/// A node shared between threads, signing with its identity's current key: the signer a
/// [`Syncer`] takes when the caller keeps the [`crate::node::Node`] itself (the demo, the test
/// harness, `debrief serve`).
#[derive(Clone)]
pub struct NodeSigner(pub Arc<Mutex<crate::node::Node>>);

impl std::fmt::Debug for NodeSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeSigner")
    }
}

impl Signer for NodeSigner {
    fn public_key(&self) -> debrief_protocol::PublicKey {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .identity()
            .public_key()
    }
    fn sign_message(&self, message: &[u8]) -> [u8; 64] {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .identity()
            .sign_message(message)
    }
}
