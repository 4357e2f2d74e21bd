//! Route handlers (protocol.md §4.8–§4.11). Handlers are thin: the signed-request layer has
//! already checked the caller (an [`AuthenticatedMember`] in the request), and store work runs
//! through [`CircleHandle::with_store`].

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use debrief_protocol::envelope;
use debrief_protocol::identity;
use debrief_protocol::roster::{ForkProof, ForkStatus, InviteToken, JoinRequest, Roster};
use debrief_protocol::wire::{
    self, AUTH_HEADER, AcceptStatus, Accepted, CharterResponse, CheckpointResponse, CircleInfo,
    ForkList, INVITE_HEADER, MAX_ROSTER_PAGE, PendingKind, PendingList, ProposalList, RosterHead,
    RosterPage,
};
use debrief_protocol::{Envelope, EnvelopeId, PayloadType, Verified};
use serde::Deserialize;

use super::invites::{self, TokenStatus};
use super::storage::{self, PendingInsert};
use super::{CircleHandle, ServerState, internal};
use crate::http::auth::{
    AuthenticatedMember, authenticate, body_error, declared_length, rate_limited, too_large,
};
use crate::http::body::read_body;
use crate::http::error::{ApiError, ErrorCode};
use crate::http::rate::PeerKey;

type ApiResult<T> = Result<T, ApiError>;

/// The served circle the authenticated request is about.
fn circle_for(state: &ServerState, member: &AuthenticatedMember) -> ApiResult<Arc<CircleHandle>> {
    // The layer found the signer in this circle's roster; the circle can only be gone if it was
    // dropped in between, which reads as "not found".
    state.circle(&member.circle).ok_or_else(ApiError::not_found)
}

fn head_of(roster: &Roster) -> RosterHead {
    RosterHead {
        seq: roster.head_seq(),
        head: roster.head_id(),
        at: roster.head_at(),
    }
}

fn store_error(e: crate::store::StoreError) -> ApiError {
    internal("store failed", e)
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidObject, message)
}

/// protocol.md §4.8.1
pub async fn info(
    State(state): State<Arc<ServerState>>,
    member: AuthenticatedMember,
) -> ApiResult<Json<CircleInfo>> {
    let handle = circle_for(&state, &member)?;
    let now = state.clock.now();
    Ok(Json(handle.with_roster(|r| CircleInfo {
        circle: r.circle_id(),
        name: r.name().to_owned(),
        node: state.me.clone(),
        roster: head_of(r),
        frozen: !r.unresolved_forks().is_empty(),
        server_time: now,
    })))
}

/// Query of `roster`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RosterQuery {
    after: Option<u64>,
}

/// protocol.md §4.8.2
pub async fn roster(
    State(state): State<Arc<ServerState>>,
    member: AuthenticatedMember,
    query: Result<Query<RosterQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<RosterPage>> {
    let Query(query) = query.map_err(|_| {
        ApiError::new(
            ErrorCode::BadRequest,
            "the query must be empty or `after=SEQ` with SEQ a whole number",
        )
    })?;
    let handle = circle_for(&state, &member)?;
    Ok(Json(handle.with_roster(|r| {
        // `after` absent: from genesis (seq 0) on.
        let events: &[_] = match query.after {
            None => r.events(),
            Some(after) => r.events_after(after),
        };
        let page: Vec<Envelope> = events
            .iter()
            .take(MAX_ROSTER_PAGE)
            .map(|e| e.envelope.clone())
            .collect();
        RosterPage {
            more: events.len() > page.len(),
            events: page,
            head: head_of(r),
        }
    })))
}

/// protocol.md §4.8.3
pub async fn checkpoint(
    State(state): State<Arc<ServerState>>,
    member: AuthenticatedMember,
) -> ApiResult<Json<CheckpointResponse>> {
    let handle = circle_for(&state, &member)?;
    let now = state.clock.now();
    let found = handle
        .with_store(move |store, roster| {
            storage::current_checkpoint(store, &roster.head_id(), now).map_err(store_error)
        })
        .await?;
    found
        .map(|checkpoint| Json(CheckpointResponse { checkpoint }))
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                "this node holds no unexpired checkpoint of its roster head",
            )
        })
}

/// protocol.md §4.8.4 (GET)
pub async fn forks(
    State(state): State<Arc<ServerState>>,
    member: AuthenticatedMember,
) -> ApiResult<Json<ForkList>> {
    let handle = circle_for(&state, &member)?;
    let proofs = handle
        .with_store(|store, _| storage::fork_proofs(store).map_err(store_error))
        .await?;
    Ok(Json(ForkList { proofs }))
}

/// A JSON body's content type must be `application/json` (protocol.md §4.7.3).
pub(crate) fn require_json(parts: &Parts) -> ApiResult<()> {
    let ok = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == wire::JSON_CONTENT_TYPE);
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("send the body as {}", wire::JSON_CONTENT_TYPE),
        ))
    }
}

fn parse_envelope(body: &[u8], kind: PayloadType) -> ApiResult<Envelope> {
    let env = Envelope::from_json(body).map_err(|e| {
        ApiError::new(
            ErrorCode::BadRequest,
            format!("the body is not an envelope: {e}"),
        )
    })?;
    if env.payload_type() != kind.media_type() {
        return Err(invalid(format!(
            "the body must be a {} envelope, not {}",
            kind.media_type(),
            env.payload_type()
        )));
    }
    Ok(env)
}

fn accepted(status: AcceptStatus, id: String, frozen: Option<bool>) -> Response {
    let code = match status {
        AcceptStatus::New => StatusCode::CREATED,
        AcceptStatus::Held => StatusCode::OK,
    };
    (code, Json(Accepted { id, status, frozen })).into_response()
}

/// protocol.md §4.8.4 (POST): a member reports a fork proof.
pub async fn post_fork(
    State(state): State<Arc<ServerState>>,
    member: AuthenticatedMember,
    request: Request,
) -> ApiResult<Response> {
    let (parts, body) = request.into_parts();
    require_json(&parts)?;
    // The layer already read and checked the body; this only collects the buffered bytes.
    let body: Bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(|_| ApiError::new(ErrorCode::BadRequest, "the request body could not be read"))?;
    let env = parse_envelope(&body, PayloadType::ForkProof)?;
    let handle = circle_for(&state, &member)?;
    let now = state.clock.now();
    let reporter = member.member.clone();
    handle
        .with_store(move |store, roster| {
            // The reporter's signature attributes the proof (protocol.md §2.15): it must be the
            // caller's current key.
            let key = roster
                .member(&reporter)
                .map(|m| m.signing_key)
                .ok_or_else(ApiError::not_found)?;
            let verified: Verified<ForkProof> =
                envelope::verify(&env, PayloadType::ForkProof, &key).map_err(|e| {
                    invalid(format!(
                        "the fork proof is not signed by the caller's current key: {e}"
                    ))
                })?;
            let proof = verified.value().clone();
            let mut updated = roster.clone();
            let status = updated.record_fork_proof(&proof).map_err(|e| {
                invalid(format!("fork proof refused ({}): {e}", e.rule()))
            })?;
            let id = proof.id().to_hex();
            match status {
                ForkStatus::Frozen => {
                    let new = storage::insert_fork_proof(store, &proof, &env, now)
                        .map_err(store_error)?;
                    *roster = updated;
                    tracing::warn!(circle = %roster.circle_id(), seq = proof.seq, "fork proof recorded; sharing frozen");
                    let status = if new { AcceptStatus::New } else { AcceptStatus::Held };
                    Ok(accepted(status, id, Some(true)))
                }
                ForkStatus::AlreadyRecorded | ForkStatus::Resolved => Ok(accepted(
                    AcceptStatus::Held,
                    id,
                    Some(!roster.unresolved_forks().is_empty()),
                )),
            }
        })
        .await
}

/// protocol.md §4.8.5
pub async fn pending(
    State(state): State<Arc<ServerState>>,
    member: AuthenticatedMember,
) -> ApiResult<Json<PendingList>> {
    let handle = circle_for(&state, &member)?;
    let items = handle
        .with_store(|store, _| storage::pending(store).map_err(store_error))
        .await?;
    Ok(Json(PendingList { items }))
}

/// protocol.md §4.8.6
pub async fn proposals(
    State(state): State<Arc<ServerState>>,
    member: AuthenticatedMember,
) -> ApiResult<Json<ProposalList>> {
    let handle = circle_for(&state, &member)?;
    let now = state.clock.now();
    let proposals = handle
        .with_store(move |store, _| storage::proposals(store, now).map_err(store_error))
        .await?;
    Ok(Json(ProposalList { proposals }))
}

// ---------------------------------------------------------------------------------------------
// Invite-token routes (protocol.md §4.11).

/// The circle named by the path, or 404 (the same answer as for outsiders).
fn path_circle(state: &ServerState, circle: &str) -> ApiResult<Arc<CircleHandle>> {
    let id: EnvelopeId = circle.parse().map_err(|_| ApiError::not_found())?;
    state.circle(&id).ok_or_else(ApiError::not_found)
}

/// The invite token from the `Debrief-Invite` header.
fn token_of(parts: &Parts) -> ApiResult<InviteToken> {
    let refuse = || {
        ApiError::new(
            ErrorCode::Unauthorized,
            "send the invite token (64 lowercase hex characters) in the Debrief-Invite header",
        )
    };
    let value = parts.headers.get(INVITE_HEADER).ok_or_else(refuse)?;
    let text = value.to_str().map_err(|_| refuse())?;
    if text.len() != 64 {
        return Err(refuse());
    }
    InviteToken::parse(text).ok_or_else(refuse)
}

/// The bucket of a caller that has only an invite token: its address.
fn address_key(parts: &Parts) -> PeerKey {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(PeerKey::Unknown, |c| PeerKey::Address(c.0.ip()))
}

/// protocol.md §4.11.1: the token's invite, or the refusal for a token that opens nothing.
async fn valid_invite(
    state: &ServerState,
    handle: &Arc<CircleHandle>,
    token: InviteToken,
) -> ApiResult<Envelope> {
    let now = state.clock.now();
    let status = handle
        .with_store(move |store, roster| {
            invites::check_token(store, roster, &token, now).map_err(store_error)
        })
        .await?;
    match status {
        TokenStatus::Valid(env) => Ok(env),
        // Unknown tokens look like unknown circles (protocol.md §4.2.3).
        TokenStatus::Unknown => Err(ApiError::not_found()),
        TokenStatus::Expired(at) => Err(ApiError::new(
            ErrorCode::InviteExpired,
            format!("the invite expired on {at}; ask the maintainer for a new one"),
        )),
        TokenStatus::Used => Err(ApiError::new(
            ErrorCode::InviteUsed,
            "the invite was already used to admit a member; ask the maintainer for a new one",
        )),
    }
}

/// protocol.md §4.11.1: `GET charter` with an invite token.
pub async fn charter(
    State(state): State<Arc<ServerState>>,
    Path(circle): Path<String>,
    request: Request,
) -> ApiResult<Json<CharterResponse>> {
    let (parts, _body) = request.into_parts();
    // Cheapest first: the bucket, the circle, the token's shape, then the store.
    let now = state.clock.now();
    state
        .rate
        .take(&address_key(&parts), 1, now)
        .map_err(rate_limited)?;
    if declared_length(&parts).is_some_and(|n| n > 0) {
        return Err(too_large(0));
    }
    let handle = path_circle(&state, &circle)?;
    let token = token_of(&parts)?;
    let invite = valid_invite(&state, &handle, token).await?;
    Ok(Json(handle.with_roster(|r| CharterResponse {
        circle: r.circle_id(),
        name: r.name().to_owned(),
        charter: r.charter().to_owned(),
        charter_sha256: r.charter_sha256(),
        invite,
    })))
}

/// protocol.md §4.11.2: `POST join`: a candidate's join request (with its invite token), or a
/// member's vouch for a pending join request (a signed request).
pub async fn join(
    State(state): State<Arc<ServerState>>,
    Path(circle): Path<String>,
    request: Request,
) -> ApiResult<Response> {
    let (parts, body) = request.into_parts();
    let cap = state.limits.max_join_body;
    if parts.headers.contains_key(AUTH_HEADER) {
        let layer = state.auth_layer(cap);
        let (member, bytes) = authenticate(&layer, &parts, body).await?;
        require_json(&parts)?;
        let handle = circle_for(&state, &member)?;
        return post_vouch(&state, handle, bytes).await;
    }
    let now = state.clock.now();
    let declared = declared_length(&parts);
    if declared.is_some_and(|n| n > cap as u64) {
        return Err(too_large(cap));
    }
    state
        .rate
        .take(
            &address_key(&parts),
            state.rate.cost(declared.unwrap_or(0)),
            now,
        )
        .map_err(rate_limited)?;
    let handle = path_circle(&state, &circle)?;
    let token = token_of(&parts)?;
    require_json(&parts)?;
    let invite = valid_invite(&state, &handle, token.clone()).await?;
    let bytes = read_body(body, cap, Some(state.limits.idle_timeout))
        .await
        .map_err(body_error)?;
    post_join_request(&state, handle, invite, token, bytes).await
}

async fn post_join_request(
    state: &ServerState,
    handle: Arc<CircleHandle>,
    invite: Envelope,
    token: InviteToken,
    body: Bytes,
) -> ApiResult<Response> {
    let env = parse_envelope(&body, PayloadType::JoinRequest)?;
    let claimed: JoinRequest = env
        .unverified_payload()
        .map_err(|e| invalid(format!("the join request is malformed: {e}")))?;
    if InviteToken::parse(&claimed.invite_token) != Some(token.clone()) {
        return Err(invalid(
            "the join request carries another invite token than the Debrief-Invite header",
        ));
    }
    let now = state.clock.now();
    let max_pending = state.limits.max_pending;
    handle
        .with_store(move |store, roster| {
            // protocol.md §2.8 as the sequencer will check it, plus the invite's expiry now.
            let join = roster
                .check_join(&invite, &env, now)
                .map_err(|e| invalid(format!("join request refused ({}): {e}", e.rule())))?;
            let candidate = identity::verify_card(&join.card)
                .map(|card| card.member.to_string())
                .map_err(|e| invalid(format!("the identity card is not valid: {e}")))?;
            let slot = format!("invite-join:{}", token.hash().to_hex());
            let outcome = storage::insert_pending(
                store,
                PendingKind::JoinRequest,
                &env,
                Some(&candidate),
                Some(&slot),
                max_pending,
                now,
            )
            .map_err(store_error)?;
            pending_answer(outcome, env.id())
        })
        .await
}

async fn post_vouch(
    state: &ServerState,
    handle: Arc<CircleHandle>,
    body: Bytes,
) -> ApiResult<Response> {
    let env = parse_envelope(&body, PayloadType::Vouch)?;
    let claimed: debrief_protocol::roster::Vouch = env
        .unverified_payload()
        .map_err(|e| invalid(format!("the vouch is malformed: {e}")))?;
    let now = state.clock.now();
    let max_pending = state.limits.max_pending;
    handle
        .with_store(move |store, roster| {
            let subject = claimed.subject;
            let join = match storage::pending_object(store, &subject).map_err(store_error)? {
                Some((PendingKind::JoinRequest, join)) => join,
                _ => {
                    return Err(ApiError::new(
                        ErrorCode::NotFound,
                        format!("this node holds no pending join request {subject}"),
                    ));
                }
            };
            let candidate = join
                .unverified_payload::<JoinRequest>()
                .ok()
                .and_then(|j| identity::verify_card(&j.card).ok())
                .map(|card| card.member.clone())
                .ok_or_else(|| internal("stored join request unreadable", subject))?;
            // protocol.md §2.7: the vouch counts as it would in an admit judged now.
            let count = roster.count_vouches(subject, &candidate, std::slice::from_ref(&env), now);
            if count.counted.len() != 1 {
                let why = count
                    .refused
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "it does not count".into());
                return Err(invalid(format!("vouch refused (protocol.md §2.7): {why}")));
            }
            let outcome = storage::insert_pending(
                store,
                PendingKind::Vouch,
                &env,
                Some(&subject.to_hex()),
                None,
                max_pending,
                now,
            )
            .map_err(store_error)?;
            pending_answer(outcome, env.id())
        })
        .await
}

fn pending_answer(outcome: PendingInsert, id: EnvelopeId) -> ApiResult<Response> {
    match outcome {
        PendingInsert::New => Ok(accepted(AcceptStatus::New, id.to_hex(), None)),
        PendingInsert::Held => Ok(accepted(AcceptStatus::Held, id.to_hex(), None)),
        PendingInsert::Full => Err(ApiError::new(
            ErrorCode::PendingFull,
            "this node holds as many pending join requests and vouches as it accepts; try later",
        )),
        PendingInsert::Conflict => Err(ApiError::new(
            ErrorCode::Conflict,
            "this invite token already has a different join request here",
        )),
    }
}
