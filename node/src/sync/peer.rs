//! One round with one peer (protocol.md §5.2): roster, forks, checkpoint, links, feed, offer.

use std::sync::Arc;

use debrief_protocol::bundle::{BundleHeader, Tlp};
use debrief_protocol::wire::{
    self, CheckpointResponse, ErrorResponse, FeedPage, ForkList, LinksPage, RosterPage,
};
use debrief_protocol::{Envelope, EnvelopeId, MemberId};
use reqwest::{Method, StatusCode};
use rusqlite::{OptionalExtension, params};

use super::state::{self, CursorKind};
use super::{PeerReport, PeerTarget, SyncReport, Syncer};
use crate::circle_ops::{self, CheckpointOutcome, ImportOutcome};
use crate::http::client::{ClientError, PeerClient, PeerRequest, SendError};
use crate::http::clock::Clock;
use crate::node::Circle;
use crate::server::CircleHandle;
use crate::sharing::{self, Accepted, SharingError};
use crate::store::StoreError;

/// Why a round with a peer failed.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("cannot reach the peer: {0}")]
    Send(#[from] SendError),
    #[error("the peer answered {status} to {route}: {code}: {message}")]
    Status {
        route: String,
        status: u16,
        code: String,
        message: String,
    },
    #[error("the peer's answer to {route} is malformed: {error}")]
    Malformed { route: String, error: String },
    #[error("this node's store failed: {0}")]
    Store(String),
    #[error("roster from the peer refused: {0}")]
    Roster(String),
}

impl From<StoreError> for PeerError {
    fn from(e: StoreError) -> Self {
        PeerError::Store(e.to_string())
    }
}

/// Runs `f` on the circle, on the blocking pool.
pub async fn on_store<T, F>(handle: &Arc<CircleHandle>, f: F) -> Result<T, PeerError>
where
    T: Send + 'static,
    F: FnOnce(&mut Circle) -> T + Send + 'static,
{
    let handle = Arc::clone(handle);
    tokio::task::spawn_blocking(move || handle.with_circle_blocking(f))
        .await
        .map_err(|e| PeerError::Store(format!("store task failed: {e}")))
}

/// A signing client for `target`.
fn client_for(syncer: &Syncer, target: &PeerTarget) -> Result<PeerClient, PeerError> {
    Ok(PeerClient::new(
        &target.endpoint,
        target.member.clone(),
        target.pin,
        syncer.0.me.clone(),
        Arc::clone(&syncer.0.signer),
        syncer.0.options.timeouts,
    )?)
}

/// The most a peer's answer may hold: a bundle object's limit plus framing.
const MAX_ANSWER_BYTES: usize = debrief_protocol::bundle::MAX_BUNDLE_OBJECT_BYTES + 64 * 1024;

/// The most a `bundles?ids=` answer may hold (protocol.md §4.9.3): the answer's byte budget,
/// one object past it, and framing.
const MAX_BATCH_ANSWER_BYTES: usize = wire::BUNDLE_BATCH_ANSWER_BYTES + MAX_ANSWER_BYTES;

/// Sends a signed request; returns the status and body (read up to [`MAX_ANSWER_BYTES`]).
async fn call(
    client: &PeerClient,
    clock: &Arc<dyn Clock>,
    circle: EnvelopeId,
    method: Method,
    route: &str,
    body: Option<Vec<u8>>,
) -> Result<(StatusCode, Vec<u8>), PeerError> {
    call_capped(client, clock, circle, method, route, body, MAX_ANSWER_BYTES).await
}

/// [`call`], reading at most `cap` bytes of answer.
async fn call_capped(
    client: &PeerClient,
    clock: &Arc<dyn Clock>,
    circle: EnvelopeId,
    method: Method,
    route: &str,
    body: Option<Vec<u8>>,
    cap: usize,
) -> Result<(StatusCode, Vec<u8>), PeerError> {
    let request = PeerRequest {
        method,
        circle,
        path_and_query: format!("/v1/c/{circle}/{route}"),
        body: body.map(|b| (wire::JSON_CONTENT_TYPE.to_owned(), b)),
    };
    let mut response = client.call(request, clock.as_ref()).await?;
    let status = response.status();
    let mut out = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(SendError::Http)? {
        if out.len() + chunk.len() > cap {
            return Err(PeerError::Malformed {
                route: route.to_owned(),
                error: format!("the answer is larger than {cap} bytes"),
            });
        }
        out.extend_from_slice(&chunk);
    }
    Ok((status, out))
}

fn status_error(route: &str, status: StatusCode, body: &[u8]) -> PeerError {
    let (code, message) = serde_json::from_slice::<ErrorResponse>(body)
        .map(|e| (e.error, e.message))
        .unwrap_or_else(|_| ("?".into(), "unreadable error answer".into()));
    PeerError::Status {
        route: route.to_owned(),
        status: status.as_u16(),
        code,
        message,
    }
}

/// GET `route` and parse a 200 answer as `T`; `404` is `None` when `absent_ok`.
async fn get_json<T: serde::de::DeserializeOwned>(
    client: &PeerClient,
    clock: &Arc<dyn Clock>,
    circle: EnvelopeId,
    route: &str,
    absent_ok: bool,
) -> Result<Option<T>, PeerError> {
    let (status, body) = call(client, clock, circle, Method::GET, route, None).await?;
    if status == StatusCode::NOT_FOUND && absent_ok {
        return Ok(None);
    }
    if status != StatusCode::OK {
        return Err(status_error(route, status, &body));
    }
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| PeerError::Malformed {
            route: route.to_owned(),
            error: e.to_string(),
        })
}

fn with_after(route: &str, cursor: Option<&str>, extra: &str) -> String {
    match (cursor, extra.is_empty()) {
        (Some(c), true) => format!("{route}?after={c}"),
        (Some(c), false) => format!("{route}?after={c}&{extra}"),
        (None, true) => route.to_owned(),
        (None, false) => format!("{route}?{extra}"),
    }
}

/// One round with one peer, filling `out` as it goes (so a timeout still reports progress).
pub async fn sync_peer(
    syncer: &Syncer,
    handle: &Arc<CircleHandle>,
    target: &PeerTarget,
    clock: &Arc<dyn Clock>,
    out: &mut PeerReport,
) -> Result<(), PeerError> {
    let client = client_for(syncer, target)?;
    let circle = handle.id;
    sync_roster(syncer, handle, target, &client, clock, out).await?;
    if out.frozen {
        // protocol.md §2.15: a fork freezes sharing; the evidence is all that moves now.
        return Ok(());
    }
    pull_links(&syncer.0.me, handle, target, &client, clock, out, false).await?;
    pull_feed(syncer, handle, target, &client, clock, out).await?;
    offer(syncer, handle, target, &client, clock, out).await?;
    tracing::debug!(peer = %target.member, %circle, "sync round done");
    Ok(())
}

async fn sync_roster(
    syncer: &Syncer,
    handle: &Arc<CircleHandle>,
    target: &PeerTarget,
    client: &PeerClient,
    clock: &Arc<dyn Clock>,
    out: &mut PeerReport,
) -> Result<(), PeerError> {
    let circle = handle.id;
    let head = loop {
        let ours = on_store(handle, |c| c.roster.head_seq()).await?;
        let route = format!("roster?after={ours}");
        let page: RosterPage = get_json(client, clock, circle, &route, false)
            .await?
            .ok_or_else(|| PeerError::Roster("no roster".into()))?;
        if !page.events.is_empty() {
            let outcome = import(syncer, handle, page.events, Vec::new(), clock).await?;
            match outcome {
                ImportOutcome::Extended { added } => out.roster_events += added,
                ImportOutcome::Forked { .. } => out.frozen = true,
            }
        }
        if !page.more || out.frozen {
            break page.head;
        }
    };
    out.peer_head_seq = Some(head.seq);
    out.peer_head = Some(head.head.to_hex());
    // protocol.md §5.1: compare heads live.
    let now = clock.now();
    let peer_label = format!("peer:{}", target.member);
    let ours_at_peer_seq = on_store(handle, move |c| {
        let ours = c
            .roster
            .events()
            .get(usize::try_from(head.seq).unwrap_or(usize::MAX))
            .map(|e| e.id);
        if ours == Some(head.head) && head.seq == c.roster.head_seq() {
            c.store
                .record_freshness(&peer_label, head.seq, &head.head, now)
                .map(|()| ours)
        } else {
            Ok(ours)
        }
    })
    .await??;
    match ours_at_peer_seq {
        Some(id) if id == head.head => {
            let ours = on_store(handle, |c| c.roster.head_seq()).await?;
            out.head_agrees = Some(ours == head.seq);
        }
        Some(_) if head.seq > 0 => {
            // Same seq, another event: fetch the peer's copy; importing it yields the proof.
            out.head_agrees = Some(false);
            let route = format!("roster?after={}", head.seq - 1);
            if let Some(page) = get_json::<RosterPage>(client, clock, circle, &route, false).await?
            {
                let first: Vec<Envelope> = page.events.into_iter().take(1).collect();
                if let ImportOutcome::Forked { .. } =
                    import(syncer, handle, first, Vec::new(), clock).await?
                {
                    out.frozen = true;
                }
            }
        }
        _ => out.head_agrees = Some(false),
    }
    // Fork proofs travel like roster events (protocol.md §2.15).
    if let Some(list) = get_json::<ForkList>(client, clock, circle, "forks", true).await?
        && !list.proofs.is_empty()
    {
        let was = on_store(handle, |c| c.roster.unresolved_forks().len()).await?;
        import(syncer, handle, Vec::new(), list.proofs, clock).await?;
        let now_frozen = on_store(handle, |c| c.roster.unresolved_forks().len()).await?;
        if now_frozen > was || now_frozen > 0 {
            out.frozen = true;
        }
    }
    if let Some(cp) =
        get_json::<CheckpointResponse>(client, clock, circle, "checkpoint", true).await?
    {
        let signer = Arc::clone(&syncer.0.signer);
        let now = clock.now();
        let outcome = on_store(handle, move |c| {
            circle_ops::accept_checkpoint(c, &cp.checkpoint, signer.as_ref(), now)
        })
        .await?;
        // An expired or not-yet-reachable checkpoint is no fault of the peer.
        if let Ok(CheckpointOutcome::Forked { .. }) = outcome {
            out.frozen = true;
        }
    }
    Ok(())
}

async fn import(
    syncer: &Syncer,
    handle: &Arc<CircleHandle>,
    events: Vec<Envelope>,
    proofs: Vec<Envelope>,
    clock: &Arc<dyn Clock>,
) -> Result<ImportOutcome, PeerError> {
    let signer = Arc::clone(&syncer.0.signer);
    let now = clock.now();
    on_store(handle, move |c| {
        circle_ops::import_log(c, &events, &[], &proofs, signer.as_ref(), now)
    })
    .await?
    .map_err(|e| PeerError::Roster(e.to_string()))
}

/// protocol.md §5.2 step 2. With `from_start`, the saved cursor is ignored (gap filling).
pub async fn pull_links(
    syncer_me: &MemberId,
    handle: &Arc<CircleHandle>,
    target: &PeerTarget,
    client: &PeerClient,
    clock: &Arc<dyn Clock>,
    out: &mut PeerReport,
    from_start: bool,
) -> Result<(), PeerError> {
    let circle = handle.id;
    let peer = target.member.clone();
    let mut cursor = if from_start {
        None
    } else {
        let p = peer.clone();
        on_store(handle, move |c| state::cursor(c, &p, CursorKind::Links)).await??
    };
    loop {
        let route = with_after("links", cursor.as_deref(), "");
        let page: LinksPage = get_json(client, clock, circle, &route, false)
            .await?
            .ok_or_else(|| PeerError::Roster("no links".into()))?;
        let now = clock.now();
        let p = peer.clone();
        let next = page.next.clone();
        let source = format!("links from {peer}");
        let save = !from_start;
        let (new, held, bad) = on_store(handle, move |c| {
            let mut counts = (0usize, 0usize, 0usize);
            let last = page.links.len().saturating_sub(1);
            let mut saved = false;
            for (i, env) in page.links.iter().enumerate() {
                // protocol.md §5.3: the page's cursor is committed with its last new link.
                let save_here = save && i == last;
                let also = |conn: &rusqlite::Connection| {
                    if save_here {
                        state::save_cursor_on(conn, &p, CursorKind::Links, &next, now)?;
                    }
                    Ok(())
                };
                match sharing::accept_link_then(c, env, now, &also) {
                    Ok(true) => {
                        counts.0 += 1;
                        saved |= save_here;
                    }
                    Ok(false) => counts.1 += 1,
                    Err(SharingError::Store(e)) => return Err(e),
                    Err(e) => {
                        sharing::quarantine(c, &env.to_json(), &e.to_string(), &source, now)
                            .map_err(sharing_store)?;
                        counts.2 += 1;
                    }
                }
            }
            if save && !saved {
                // Nothing new in the page's tail: the cursor covers only held or refused links.
                state::save_cursor(c, &p, CursorKind::Links, &next, now)?;
            }
            Ok(counts)
        })
        .await??;
        // Between committed pages: the links and the cursor that covers them are on disk.
        super::crash_point("sync-links-after-page");
        out.links_new += new;
        out.already_held += held;
        out.quarantined += bad;
        cursor = Some(page.next);
        if !page.more {
            // protocol.md §5.4: every link of ours this peer holds, we now hold.
            let (me, p) = (syncer_me.clone(), peer.clone());
            let now = clock.now();
            on_store(handle, move |c| state::confirm_own_chain(c, &me, &p, now)).await??;
            return Ok(());
        }
    }
}

fn sharing_store(e: SharingError) -> StoreError {
    match e {
        SharingError::Store(s) => s,
        other => StoreError::Invalid(other.to_string()),
    }
}

/// Whether we hold the bundle object `id` (or, for a RED one not to us, its link).
fn holds(
    c: &Circle,
    id: &EnvelopeId,
    header: &Envelope,
    me: &MemberId,
) -> Result<bool, StoreError> {
    let bundle = c
        .store
        .conn()
        .query_row(
            "SELECT 1 FROM bundles WHERE header_id = ?1",
            [id.to_hex()],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if bundle {
        return Ok(true);
    }
    let red_not_to_us = header
        .unverified_payload::<BundleHeader>()
        .is_ok_and(|h| h.tlp == Tlp::Red && !h.is_recipient(me));
    if !red_not_to_us {
        return Ok(false);
    }
    Ok(c.store
        .conn()
        .query_row(
            "SELECT 1 FROM links WHERE header_id = ?1",
            [id.to_hex()],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// What fetching and storing one bundle did.
enum Fetched {
    New,
    Held,
    Absent,
    Quarantined,
    Deferred,
}

/// GET `bundles/{id}` from the peer and accept it (gap filling, protocol.md §5.3).
async fn fetch_bundle(
    syncer: &Syncer,
    handle: &Arc<CircleHandle>,
    client: &PeerClient,
    peer: &MemberId,
    id: EnvelopeId,
    clock: &Arc<dyn Clock>,
) -> Result<Fetched, PeerError> {
    let route = format!("bundles/{id}");
    let (status, body) = call(client, clock, handle.id, Method::GET, &route, None).await?;
    if status == StatusCode::NOT_FOUND {
        return Ok(Fetched::Absent);
    }
    if status != StatusCode::OK {
        return Err(status_error(&route, status, &body));
    }
    let me = syncer.0.me.clone();
    let identities = syncer.0.state.identities();
    let now = clock.now();
    let metrics = Arc::clone(&syncer.0.state.metrics);
    let source = format!("GET {route} from {peer}");
    let circle_id = handle.id;
    on_store(handle, move |c| {
        // The object must be the one asked for: another id is refused like any bad object.
        let result = match debrief_protocol::bundle::BundleObject::parse(&body) {
            Ok(o) if o.id() != id => Err(SharingError::Refused(format!(
                "asked for bundle object {id}, the peer sent {}",
                o.id()
            ))),
            _ => sharing::accept_bundle(c, &me, &identities, &body, now),
        };
        match result {
            Ok(Accepted::New { .. }) => {
                metrics.bundle_accepted(circle_id);
                Ok(Fetched::New)
            }
            Ok(Accepted::AlreadyHeld { .. }) => Ok(Fetched::Held),
            Err(SharingError::Store(e)) => Err(e),
            // protocol.md §3.4: not bad, only early; retried next round.
            Err(SharingError::Rejected(e)) if e.is_retryable() => Ok(Fetched::Deferred),
            Err(e) => {
                quarantine_bundle(c, &body, &refusal_reason(&e), &source, now, &metrics)?;
                Ok(Fetched::Quarantined)
            }
        }
    })
    .await?
    .map_err(PeerError::from)
}

/// protocol.md §5.2 step 3: the headers after our cursor; the objects we lack are fetched
/// `fetch_batch` at a time (`bundles?ids=`, §4.9.3) and each batch is stored in one commit with
/// the cursor that covers it (§3.29, §5.3).
async fn pull_feed(
    syncer: &Syncer,
    handle: &Arc<CircleHandle>,
    target: &PeerTarget,
    client: &PeerClient,
    clock: &Arc<dyn Clock>,
    out: &mut PeerReport,
) -> Result<(), PeerError> {
    let circle = handle.id;
    let peer = target.member.clone();
    let p = peer.clone();
    let mut cursor = on_store(handle, move |c| state::cursor(c, &p, CursorKind::Feed)).await??;
    let limit = format!("limit={}", syncer.0.options.feed_limit.clamp(1, 200));
    let batch = syncer
        .0
        .options
        .fetch_batch
        .clamp(1, wire::MAX_BUNDLE_BATCH);
    loop {
        let route = with_after("feed", cursor.as_deref(), &limit);
        let page: FeedPage = get_json(client, clock, circle, &route, false)
            .await?
            .ok_or_else(|| PeerError::Roster("no feed".into()))?;
        let items = Arc::new(page.items);
        let me = syncer.0.me.clone();
        let listed = Arc::clone(&items);
        let lacking: Vec<usize> = on_store(handle, move |c| {
            let mut lacking = Vec::new();
            for (i, item) in listed.iter().enumerate() {
                if !holds(c, &item.object, &item.header, &me)? {
                    lacking.push(i);
                }
            }
            Ok::<_, StoreError>(lacking)
        })
        .await??;
        out.already_held += items.len() - lacking.len();
        let mut deferred = false;
        let chunks: Vec<&[usize]> = lacking.chunks(batch).collect();
        let mut next = match chunks.first() {
            Some(chunk) => Some(fetch_batch(client, clock, circle, &items, chunk).await?),
            None => None,
        };
        let mut following = chunks.iter().skip(1);
        while let Some(objects) = next.take() {
            // The next batch is fetched while this one is stored (on the blocking pool), so
            // the peer's answer and our checks use both cores; it is only data until stored.
            let ahead = following.next();
            let (stored, fetched) = tokio::join!(
                store_batch(syncer, handle, &peer, &items, objects, clock, out),
                async {
                    match ahead {
                        Some(chunk) => fetch_batch(client, clock, circle, &items, chunk)
                            .await
                            .map(Some),
                        None => Ok(None),
                    }
                }
            );
            deferred = stored?;
            // After a batch's transaction (with its cursor) has committed.
            super::crash_point("sync-feed-after-batch");
            if deferred {
                break;
            }
            next = fetched?;
        }
        // After a deferral the cursor stays before the deferred bundle (saved with its batch),
        // which is asked for again once our roster has caught up (protocol.md §3.4); otherwise
        // it covers the whole page, hidden rows included.
        if !deferred {
            let (value, now, p) = (page.next.clone(), clock.now(), peer.clone());
            on_store(handle, move |c| {
                state::save_cursor(c, &p, CursorKind::Feed, &value, now)
            })
            .await??;
        }
        super::crash_point("sync-feed-after-page");
        if deferred {
            return Ok(());
        }
        cursor = Some(page.next);
        if !page.more {
            return Ok(());
        }
    }
}

/// What a batch request brought: objects by the page index of the item that asked for them,
/// and objects that answer nothing asked (kept for the quarantine).
struct BatchObjects {
    asked: Vec<(usize, Vec<u8>)>,
    unasked: Vec<Vec<u8>>,
}

/// GETs `bundles?ids=` for the items at `chunk` until each was sent or said absent. An answer
/// that stopped at its byte budget (§4.9.3) is followed by another for the rest.
async fn fetch_batch(
    client: &PeerClient,
    clock: &Arc<dyn Clock>,
    circle: EnvelopeId,
    items: &[wire::FeedItem],
    chunk: &[usize],
) -> Result<BatchObjects, PeerError> {
    let mut pending: Vec<usize> = chunk.to_vec();
    let mut got = BatchObjects {
        asked: Vec::new(),
        unasked: Vec::new(),
    };
    while !pending.is_empty() {
        let ids: Vec<String> = pending.iter().map(|&i| items[i].object.to_hex()).collect();
        let route = format!("bundles?ids={}", ids.join(","));
        let label = format!("bundles?ids= ({} ids)", ids.len());
        let (status, body) = call_capped(
            client,
            clock,
            circle,
            Method::GET,
            &route,
            None,
            MAX_BATCH_ANSWER_BYTES,
        )
        .await?;
        if status != StatusCode::OK {
            return Err(status_error(&label, status, &body));
        }
        let answer: wire::BundleBatch =
            serde_json::from_slice(&body).map_err(|e| PeerError::Malformed {
                route: label.clone(),
                error: e.to_string(),
            })?;
        let before = pending.len();
        pending.retain(|&i| !answer.absent.contains(&items[i].object));
        for raw in answer.objects {
            let bytes = raw.get().as_bytes().to_vec();
            let id = debrief_protocol::bundle::BundleObject::parse(&bytes)
                .ok()
                .map(|o| o.id());
            match pending.iter().position(|&i| Some(items[i].object) == id) {
                Some(at) => got.asked.push((pending.remove(at), bytes)),
                // Refused like any bad object: quarantined, and the round goes on.
                None => got.unasked.push(bytes),
            }
        }
        if pending.len() == before {
            // Nothing asked for came back: asking again would loop.
            return Err(PeerError::Malformed {
                route: label,
                error: "the answer holds none of the objects asked for".into(),
            });
        }
    }
    got.asked.sort_by_key(|(i, _)| *i);
    Ok(got)
}

/// protocol.md §3.4: an object naming a roster seq beyond ours is not bad, only early; it is
/// asked for again next round.
fn is_deferred(result: &sharing::BatchResult) -> bool {
    matches!(result, Err(SharingError::Rejected(e)) if e.is_retryable())
}

/// Puts a refused bundle object in the quarantine (protocol.md §5.3), counted and logged.
fn quarantine_bundle(
    c: &mut Circle,
    bytes: &[u8],
    reason: &str,
    source: &str,
    now: debrief_protocol::Timestamp,
    metrics: &crate::server::metrics::Metrics,
) -> Result<(), StoreError> {
    sharing::quarantine(c, bytes, reason, source, now).map_err(sharing_store)?;
    metrics.bundle_quarantined(c.roster.circle_id());
    tracing::warn!(%source, %reason, "bundle quarantined");
    Ok(())
}

/// The quarantine's reason for a refused object: the rule it broke, when it broke one.
fn refusal_reason(e: &SharingError) -> String {
    match e {
        SharingError::Rejected(b) => format!("{}: {e}", b.rule()),
        _ => e.to_string(),
    }
}

/// Stores one batch in one transaction (`sharing::accept_bundles`), with the feed cursor that
/// covers it: the last item of the batch, or, when an object is deferred (§3.4), the item just
/// before it. Refused objects are quarantined after the commit. Returns whether one was deferred.
async fn store_batch(
    syncer: &Syncer,
    handle: &Arc<CircleHandle>,
    peer: &MemberId,
    items: &Arc<Vec<wire::FeedItem>>,
    objects: BatchObjects,
    clock: &Arc<dyn Clock>,
    out: &mut PeerReport,
) -> Result<bool, PeerError> {
    // With every id absent, only the page's cursor (saved after the page) covers them.
    let last = objects.asked.last().map(|(i, _)| *i);
    let me = syncer.0.me.clone();
    let identities = syncer.0.state.identities();
    let now = clock.now();
    let metrics = Arc::clone(&syncer.0.state.metrics);
    let circle_id = handle.id;
    let (items, peer) = (Arc::clone(items), peer.clone());
    let counts = on_store(handle, move |c| {
        let bytes: Vec<&[u8]> = objects.asked.iter().map(|(_, b)| b.as_slice()).collect();
        let also = |conn: &rusqlite::Connection, results: &[sharing::BatchResult]| {
            let first_deferred = results.iter().position(is_deferred);
            let covered = match first_deferred {
                Some(k) => objects.asked[k].0.checked_sub(1),
                None => last,
            };
            match covered {
                Some(i) => {
                    state::save_cursor_on(conn, &peer, CursorKind::Feed, &items[i].cursor, now)
                }
                None => Ok(()),
            }
        };
        let results = sharing::accept_bundles(c, &me, &identities, &bytes, now, &also)?;
        let mut counts = PeerReport::default();
        let source = format!("GET bundles?ids= from {peer}");
        let refused = results
            .iter()
            .zip(&bytes)
            .filter_map(|(r, b)| match r {
                Ok(sharing::Accepted::New { .. }) => {
                    counts.bundles_new += 1;
                    metrics.bundle_accepted(circle_id);
                    None
                }
                Ok(sharing::Accepted::AlreadyHeld { .. }) => {
                    counts.already_held += 1;
                    None
                }
                Err(_) if is_deferred(r) => {
                    counts.deferred += 1;
                    None
                }
                Err(e) => Some((*b, refusal_reason(e))),
            })
            .chain(objects.unasked.iter().map(|b| {
                let reason = "the peer sent an object that was not asked for".to_owned();
                (b.as_slice(), reason)
            }))
            .collect::<Vec<_>>();
        for (b, reason) in refused {
            quarantine_bundle(c, b, &reason, &source, now, &metrics)?;
            counts.quarantined += 1;
        }
        Ok::<_, StoreError>(counts)
    })
    .await??;
    out.bundles_new += counts.bundles_new;
    out.already_held += counts.already_held;
    out.deferred += counts.deferred;
    out.quarantined += counts.quarantined;
    Ok(counts.deferred > 0)
}

/// protocol.md §5.2 step 4: our own bundles, offered with `PUT`.
async fn offer(
    syncer: &Syncer,
    handle: &Arc<CircleHandle>,
    target: &PeerTarget,
    client: &PeerClient,
    clock: &Arc<dyn Clock>,
    out: &mut PeerReport,
) -> Result<(), PeerError> {
    let circle = handle.id;
    let peer = target.member.clone();
    loop {
        let me = syncer.0.me.clone();
        let p = peer.clone();
        let batch = on_store(handle, move |c| own_bundles_after(c, &me, &p)).await??;
        if batch.is_empty() {
            return Ok(());
        }
        for (seq, id, bytes) in batch {
            let route = format!("bundles/{id}");
            let status_body = match bytes {
                Some(b) => Some(call(client, clock, circle, Method::PUT, &route, Some(b)).await?),
                None => None,
            };
            match status_body
                .as_ref()
                .map(|(s, _)| *s)
                .unwrap_or(StatusCode::OK)
            {
                StatusCode::CREATED => out.offered += 1,
                StatusCode::OK => {}
                // The peer's roster is behind ours: offer again next round.
                StatusCode::CONFLICT => return Ok(()),
                StatusCode::UNPROCESSABLE_ENTITY => {
                    let body = status_body
                        .as_ref()
                        .map(|(_, b)| b.as_slice())
                        .unwrap_or(&[]);
                    tracing::warn!(peer = %peer, object = %id, "the peer refused our bundle: {}",
                        String::from_utf8_lossy(body));
                }
                other => {
                    let body = status_body
                        .as_ref()
                        .map(|(_, b)| b.as_slice())
                        .unwrap_or(&[]);
                    return Err(status_error(&route, other, body));
                }
            }
            let now = clock.now();
            let p = peer.clone();
            on_store(handle, move |c| {
                state::save_cursor(c, &p, CursorKind::Offer, &seq.to_string(), now)
            })
            .await??;
        }
    }
}

/// Our own bundles stored after the offer cursor for `peer`, oldest first, at most 50: (ingest
/// seq, object id, the object's bytes or `None` when the peer may not see it).
#[allow(clippy::type_complexity)]
fn own_bundles_after(
    c: &Circle,
    me: &MemberId,
    peer: &MemberId,
) -> Result<Vec<(i64, EnvelopeId, Option<Vec<u8>>)>, StoreError> {
    let after: i64 = state::cursor(c, peer, CursorKind::Offer)?
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let rows: Vec<(i64, String)> = c
        .store
        .conn()
        .prepare(
            "SELECT ingest_seq, header_id FROM bundles WHERE author = ?1 AND ingest_seq > ?2
             ORDER BY ingest_seq LIMIT 50",
        )?
        .query_map(params![me.as_str(), after], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for (seq, id) in rows {
        let id: EnvelopeId = id
            .parse()
            .map_err(|e| StoreError::Invalid(format!("stored header id: {e}")))?;
        // RED only to its recipients (protocol.md §3.32): for others only the cursor moves.
        let object = sharing::bundle_object(c, &id, peer).map_err(sharing_store)?;
        out.push((seq, id, object.map(|o| o.as_bytes().to_vec())));
    }
    // A batch of only hidden bundles still moves the cursor.
    Ok(out)
}

/// protocol.md §5.3: after the round, open chain gaps and circle-wide links without their
/// bundle are asked of every peer that answered. Returns how many bundles were fetched.
pub async fn fill_gaps(
    syncer: &Syncer,
    handle: &Arc<CircleHandle>,
    answered: &[PeerTarget],
    clock: &Arc<dyn Clock>,
    report: &mut SyncReport,
) -> Result<usize, PeerError> {
    let gaps = on_store(handle, |c| sharing::chain_gaps(c).map(|g| g.len()))
        .await?
        .map_err(sharing_store)?;
    if gaps > 0 {
        for target in answered {
            let client = client_for(syncer, target)?;
            let mut scratch = PeerReport::default();
            if let Err(e) = pull_links(
                &syncer.0.me,
                handle,
                target,
                &client,
                clock,
                &mut scratch,
                true,
            )
            .await
            {
                tracing::warn!(peer = %target.member, error = %e, "gap fill failed");
            }
            if let Some(p) = report
                .peers
                .iter_mut()
                .find(|p| p.peer == target.member.as_str())
            {
                p.links_new += scratch.links_new;
                p.quarantined += scratch.quarantined;
            }
        }
    }
    let missing: Vec<EnvelopeId> = on_store(handle, |c| -> Result<Vec<EnvelopeId>, StoreError> {
        let ids: Vec<String> = c
            .store
            .conn()
            .prepare(
                "SELECT l.header_id FROM links l LEFT JOIN bundles b ON b.header_id = l.header_id
                 WHERE b.header_id IS NULL AND l.audience = 'circle' ORDER BY l.ingest_seq",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(ids.iter().filter_map(|s| s.parse().ok()).collect())
    })
    .await??;
    let mut fetched = 0;
    for id in missing {
        for target in answered {
            let client = client_for(syncer, target)?;
            match fetch_bundle(syncer, handle, &client, &target.member, id, clock).await {
                Ok(Fetched::New) => {
                    fetched += 1;
                    break;
                }
                Ok(Fetched::Held) => break,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(peer = %target.member, error = %e, "fetching a missing bundle failed")
                }
            }
        }
    }
    Ok(fetched)
}
