//! The node's HTTPS server (protocol.md §4.7–§4.12): the member routes under
//! `/v1/c/{circle}/…`, the invite-token routes, and the admin listener with `/healthz` and
//! `/metrics`.
//!
//! [`ServerState`] holds every circle this node serves (its store and folded roster), the
//! clock, the limits, the replay memory, the rate limiter and the metrics. [`ServerState::router`]
//! builds the peer-facing router; [`ServerState::admin_router`] the admin one. Route groups
//! differ only in their body cap: each group gets its own [`AuthLayerState`] from
//! [`ServerState::auth_layer`].

pub mod bundle_routes;
pub mod invites;
pub mod metrics;
pub mod public_routes;
pub mod routes;
pub mod storage;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use debrief_config::Limits;
use debrief_protocol::roster::Roster;
use debrief_protocol::wire::MAX_CLOCK_SKEW_SECONDS;
use debrief_protocol::{EnvelopeId, MemberId};

use crate::http::auth::{
    AuthLayerState, Membership, MembershipLookup, MembershipLookupFailed, require_signed_request,
};
use crate::http::clock::Clock;
use crate::http::error::{ApiError, ErrorCode};
use crate::http::rate::RateLimiter;
use crate::http::replay::{DEFAULT_REPLAY_CAPACITY, ReplayMemory};
use crate::node::Circle;
use crate::store::StoreError;
use crate::store::circle::CircleStore;

pub use metrics::Metrics;

/// The server's limits (protocol.md §4.8.7–§4.8.8), normally from `[limits]` in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Cap on a `forks` POST body (and on any member route that takes a body).
    pub max_request_body: usize,
    /// Cap on a `join` POST body.
    pub max_join_body: usize,
    /// Cap on a `bundles/{id}` PUT body (protocol.md §4.9.4).
    pub max_bundle: usize,
    pub rate_limit_per_minute: u32,
    pub rate_limit_burst: u32,
    pub rate_limit_unit: u64,
    /// Whole request, from headers read to the answer.
    pub request_timeout: Duration,
    /// Longest pause while a body arrives.
    pub idle_timeout: Duration,
    /// Pending join requests and vouches held per circle.
    pub max_pending: u32,
    /// Entries of the replay memory.
    pub replay_capacity: usize,
}

impl ServerLimits {
    /// The limits from a validated configuration.
    pub fn from_config(limits: &Limits) -> Self {
        ServerLimits {
            max_request_body: usize::try_from(limits.max_request_body).unwrap_or(usize::MAX),
            max_join_body: usize::try_from(limits.max_join_body).unwrap_or(usize::MAX),
            max_bundle: usize::try_from(limits.max_bundle).unwrap_or(usize::MAX),
            rate_limit_per_minute: limits.rate_limit_per_minute,
            rate_limit_burst: limits.rate_limit_burst,
            rate_limit_unit: limits.rate_limit_unit,
            request_timeout: limits.request_timeout,
            idle_timeout: limits.idle_timeout,
            max_pending: limits.max_pending,
            replay_capacity: DEFAULT_REPLAY_CAPACITY,
        }
    }
}

impl Default for ServerLimits {
    fn default() -> Self {
        use debrief_config::defaults as d;
        ServerLimits {
            max_request_body: usize::try_from(d::MAX_REQUEST_BODY).unwrap_or(usize::MAX),
            max_join_body: usize::try_from(d::MAX_JOIN_BODY).unwrap_or(usize::MAX),
            max_bundle: usize::try_from(d::MAX_BUNDLE).unwrap_or(usize::MAX),
            rate_limit_per_minute: d::RATE_LIMIT_PER_MINUTE,
            rate_limit_burst: d::RATE_LIMIT_BURST,
            rate_limit_unit: d::RATE_LIMIT_UNIT,
            request_timeout: d::REQUEST_TIMEOUT,
            idle_timeout: d::IDLE_TIMEOUT,
            max_pending: d::MAX_PENDING,
            replay_capacity: DEFAULT_REPLAY_CAPACITY,
        }
    }
}

/// One served circle: its folded roster (read on every request) and its store.
///
/// Lock order: `circle` before `roster`. Every change to the roster happens while the circle
/// lock is held, and the reader copy is updated before it is released, so the two never
/// disagree.
#[derive(Debug)]
pub struct CircleHandle {
    pub id: EnvelopeId,
    /// The local name this node gave the circle.
    pub local_name: String,
    /// A copy of the roster for readers (the signed-request layer); always equal to
    /// `circle.roster` outside a `with_*` call.
    roster: RwLock<Roster>,
    /// The opened circle: its store and the authoritative roster.
    circle: Mutex<Circle>,
}

impl CircleHandle {
    /// Wraps an opened circle, re-recording its stored fork proofs so a frozen circle stays
    /// frozen across restarts (protocol.md §2.15).
    pub fn new(circle: Circle) -> Result<Self, StoreError> {
        let mut circle = circle;
        let skipped = storage::restore_fork_proofs(&circle.store, &mut circle.roster)?;
        if skipped > 0 {
            tracing::warn!(circle = %circle.entry.circle_id, skipped, "stored fork proofs that no longer verify were skipped");
        }
        Ok(CircleHandle {
            id: circle.entry.circle_id,
            local_name: circle.entry.name.clone(),
            roster: RwLock::new(circle.roster.clone()),
            circle: Mutex::new(circle),
        })
    }

    /// Runs `f` on the current roster (read lock; keep it short).
    pub fn with_roster<T>(&self, f: impl FnOnce(&Roster) -> T) -> T {
        let roster = self.roster.read().unwrap_or_else(|p| p.into_inner());
        f(&roster)
    }

    /// Runs `f` with the store and the roster locked, on the blocking pool (SQLite must not
    /// block the async workers). `f` may replace the roster; it does so only after its store
    /// transaction committed.
    pub async fn with_store<T, F>(self: &Arc<Self>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut CircleStore, &mut Roster) -> Result<T, ApiError> + Send + 'static,
    {
        self.with_circle(move |circle| {
            let Circle { store, roster, .. } = circle;
            f(store, roster)
        })
        .await
    }

    /// Runs `f` with the whole opened circle locked, on the blocking pool (the sharing
    /// functions take a [`Circle`]). If `f` changed the roster, readers see the change once
    /// `f` returns.
    pub async fn with_circle<T, F>(self: &Arc<Self>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Circle) -> Result<T, ApiError> + Send + 'static,
    {
        let handle = Arc::clone(self);
        tokio::task::spawn_blocking(move || handle.with_circle_blocking(f))
            .await
            .map_err(|e| internal("store task failed", e))?
    }

    /// [`CircleHandle::with_circle`] on the calling thread (for callers already on a blocking
    /// thread, such as sync).
    pub fn with_circle_blocking<T>(&self, f: impl FnOnce(&mut Circle) -> T) -> T {
        let mut circle = self.circle.lock().unwrap_or_else(|p| p.into_inner());
        let before = roster_fingerprint(&circle.roster);
        let out = f(&mut circle);
        if roster_fingerprint(&circle.roster) != before {
            let mut roster = self.roster.write().unwrap_or_else(|p| p.into_inner());
            *roster = circle.roster.clone();
        }
        out
    }

    /// Folds the roster again from the store (after events were appended by another process or
    /// by sync) and re-records stored fork proofs.
    pub fn reload(&self, now: debrief_protocol::Timestamp) -> Result<(), StoreError> {
        let mut circle = self.circle.lock().unwrap_or_else(|p| p.into_inner());
        let mut fresh = circle.store.load_roster(Some(now))?;
        storage::restore_fork_proofs(&circle.store, &mut fresh)?;
        let mut roster = self.roster.write().unwrap_or_else(|p| p.into_inner());
        *roster = fresh.clone();
        circle.roster = fresh;
        Ok(())
    }
}

/// What changes when the roster does: its head, and its unresolved forks.
fn roster_fingerprint(roster: &Roster) -> (EnvelopeId, usize) {
    (roster.head_id(), roster.unresolved_forks().len())
}

/// Logs `e` and returns the opaque 500 answer (protocol.md §4.6: no internals leak).
pub fn internal(what: &str, e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "{what}");
    ApiError::new(ErrorCode::Internal, "internal error")
}

/// Everything the routes share.
pub struct ServerState {
    /// This node's member id: requests must be signed for it.
    pub me: MemberId,
    pub clock: Arc<dyn Clock>,
    pub limits: ServerLimits,
    pub metrics: Arc<Metrics>,
    pub replay: Arc<ReplayMemory>,
    pub rate: Arc<RateLimiter>,
    circles: RwLock<BTreeMap<EnvelopeId, Arc<CircleHandle>>>,
    /// This node's age identities, to open bundles PUT to it that list it as a recipient
    /// (protocol.md §3.29). Empty until [`ServerState::set_identities`].
    identities: RwLock<Vec<age::x25519::Identity>>,
}

impl std::fmt::Debug for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerState")
            .field("me", &self.me)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl ServerState {
    /// The state for a node with member id `me` serving `circles`.
    pub fn new(
        me: MemberId,
        circles: Vec<Circle>,
        clock: Arc<dyn Clock>,
        limits: ServerLimits,
    ) -> Result<Arc<Self>, StoreError> {
        let mut map = BTreeMap::new();
        for circle in circles {
            let handle = CircleHandle::new(circle)?;
            map.insert(handle.id, Arc::new(handle));
        }
        Ok(Arc::new(ServerState {
            me,
            clock,
            limits,
            metrics: Arc::new(Metrics::default()),
            replay: Arc::new(ReplayMemory::new(
                limits.replay_capacity,
                MAX_CLOCK_SKEW_SECONDS,
            )),
            rate: Arc::new(RateLimiter::new(
                limits.rate_limit_per_minute,
                limits.rate_limit_burst,
                limits.rate_limit_unit,
            )),
            circles: RwLock::new(map),
            identities: RwLock::new(Vec::new()),
        }))
    }

    /// Gives the server this node's age identities (`Identity::age_identities`), so bundles
    /// PUT to it that list this node are opened and stored with their plaintext. Without them
    /// the server refuses such PUTs with `503` rather than quarantining a good bundle.
    pub fn set_identities(&self, identities: Vec<age::x25519::Identity>) {
        *self.identities.write().unwrap_or_else(|p| p.into_inner()) = identities;
    }

    /// This node's age identities (see [`ServerState::set_identities`]).
    pub fn identities(&self) -> Vec<age::x25519::Identity> {
        self.identities
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// A served circle.
    pub fn circle(&self, id: &EnvelopeId) -> Option<Arc<CircleHandle>> {
        self.circles
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    /// Every served circle.
    pub fn circles(&self) -> Vec<Arc<CircleHandle>> {
        self.circles
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Starts serving a circle (e.g. one joined while the server runs).
    pub fn add_circle(&self, circle: Circle) -> Result<(), StoreError> {
        let handle = CircleHandle::new(circle)?;
        self.circles
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(handle.id, Arc::new(handle));
        Ok(())
    }

    /// Re-folds a circle's roster from its store: call it after roster events were stored by
    /// another process or by sync, so a removal takes effect on the next request.
    pub fn reload_circle(&self, id: &EnvelopeId) -> Result<bool, StoreError> {
        match self.circle(id) {
            Some(handle) => handle.reload(self.clock.now()).map(|()| true),
            None => Ok(false),
        }
    }

    /// Reloads every circle whose store records another roster head than the one in memory
    /// (roster events stored by another process, e.g. `debrief circle import`, or by sync).
    /// Returns how many circles were reloaded. `debrief serve` calls it every few seconds.
    pub fn refresh_changed(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let mut reloaded = 0;
        for handle in self.circles() {
            let stored = {
                let circle = handle.circle.lock().unwrap_or_else(|p| p.into_inner());
                circle.store.meta("roster_head")?
            };
            let held = handle.with_roster(|r| r.head_id().to_hex());
            if stored.is_some_and(|s| s != held) {
                handle.reload(now)?;
                tracing::info!(circle = %handle.id, "roster reloaded from the store");
                reloaded += 1;
            }
        }
        Ok(reloaded)
    }

    /// The signed-request layer state with a body cap of `max_body_bytes`.
    pub fn auth_layer(self: &Arc<Self>, max_body_bytes: usize) -> AuthLayerState {
        AuthLayerState {
            own_member: self.me.clone(),
            membership: Arc::clone(self) as Arc<dyn MembershipLookup>,
            replay: Arc::clone(&self.replay),
            clock: Arc::clone(&self.clock),
            skew_seconds: MAX_CLOCK_SKEW_SECONDS,
            max_body_bytes,
            rate: Some(Arc::clone(&self.rate)),
            idle_timeout: Some(self.limits.idle_timeout),
        }
    }

    /// The peer-facing router (protocol.md §4.7), bundle routes (§4.9) included.
    pub fn router(self: &Arc<Self>) -> Router {
        use axum::routing::post;
        // protocol.md §4.8.7: reads take no body.
        let reads = Router::new()
            .route("/v1/c/{circle}/links", get(bundle_routes::links))
            .route("/v1/c/{circle}/feed", get(bundle_routes::feed))
            .route("/v1/c/{circle}/bundles", get(bundle_routes::get_bundles))
            .route("/v1/c/{circle}/info", get(routes::info))
            .route("/v1/c/{circle}/roster", get(routes::roster))
            .route("/v1/c/{circle}/checkpoint", get(routes::checkpoint))
            .route("/v1/c/{circle}/pending", get(routes::pending))
            .route("/v1/c/{circle}/proposals", get(routes::proposals))
            .route_layer(from_fn_with_state(
                self.auth_layer(0),
                require_signed_request,
            ));
        let forks = Router::new()
            .route(
                "/v1/c/{circle}/forks",
                get(routes::forks).post(routes::post_fork),
            )
            .route_layer(from_fn_with_state(
                self.auth_layer(self.limits.max_request_body),
                require_signed_request,
            ));
        // protocol.md §4.9.3–§4.9.4: a GET has no body, a PUT up to `max_bundle`.
        let bundles = Router::new()
            .route(
                "/v1/c/{circle}/bundles/{id}",
                get(bundle_routes::get_bundle).put(bundle_routes::put_bundle),
            )
            .route_layer(from_fn_with_state(
                self.auth_layer(self.limits.max_bundle),
                require_signed_request,
            ));
        // Invite-token routes authenticate in the handler (a token, or a member's signature).
        let invite = Router::new()
            .route("/v1/c/{circle}/charter", get(routes::charter))
            .route("/v1/c/{circle}/join", post(routes::join));
        Router::new()
            .route("/healthz", get(healthz))
            .merge(reads)
            .merge(forks)
            .merge(bundles)
            .merge(invite)
            .merge(public_routes::router())
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(from_fn_with_state(
                self.limits.request_timeout,
                request_timeout,
            ))
            .layer(from_fn_with_state(
                Arc::clone(&self.metrics),
                metrics::track_requests,
            ))
            .with_state(Arc::clone(self))
    }

    /// The admin router: `/healthz` and `/metrics` (plain HTTP; bind it to loopback).
    pub fn admin_router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/healthz", get(healthz))
            .route("/metrics", get(metrics_text))
            .fallback(not_found)
            .with_state(Arc::clone(self))
    }

    /// The Prometheus text of every metric.
    pub fn render_metrics(&self) -> String {
        let heads: Vec<_> = self
            .circles()
            .iter()
            .map(|c| {
                c.with_roster(|r| {
                    (
                        c.id,
                        r.name().to_owned(),
                        r.head_seq(),
                        !r.unresolved_forks().is_empty(),
                    )
                })
            })
            .collect();
        self.metrics.render(&heads, self.replay.len())
    }
}

impl MembershipLookup for ServerState {
    fn membership(
        &self,
        circle: &EnvelopeId,
        member: &MemberId,
    ) -> Result<Membership, MembershipLookupFailed> {
        // protocol.md §4.2.2: the current roster, on every request.
        Ok(self
            .circle(circle)
            .and_then(|c| c.with_roster(|r| r.member(member).map(|m| m.signing_key)))
            .map_or(Membership::NotFound, Membership::Member))
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn metrics_text(State(state): State<Arc<ServerState>>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.render_metrics(),
    )
        .into_response()
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this route does not take that method",
    )
}

/// protocol.md §4.8.7: the whole request, body included, within `request_timeout`.
async fn request_timeout(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            ErrorCode::RequestTimeout,
            format!(
                "the request took longer than {} s; send it again",
                limit.as_secs()
            ),
        )
        .into_response(),
    }
}

/// The admin listener, running in the background.
#[derive(Debug)]
pub struct AdminServer {
    addr: SocketAddr,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl AdminServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets requests in flight finish, and waits.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.stop.send(true);
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }
}

/// Binds `addr` and serves the admin router over plain HTTP.
pub async fn serve_admin(
    addr: SocketAddr,
    state: &Arc<ServerState>,
) -> std::io::Result<AdminServer> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let router = state.admin_router();
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await
    });
    Ok(AdminServer { addr, stop, task })
}
