//! Signed-request authentication for the member routes under `/v1/c/{circle}/…`
//! (protocol.md §4.4), as an axum middleware:
//!
//! ```ignore
//! let member_routes = Router::new()
//!     .route("/v1/c/{circle}/info", get(info))
//!     .route_layer(axum::middleware::from_fn_with_state(auth_state, require_signed_request));
//! // in a handler: `member: AuthenticatedMember`
//! ```
//!
//! Checks run cheapest first: the path's circle, the declared body length, the header's shape,
//! the roster lookup, the signature, the request facts and the clock; only then is the body read
//! (up to the cap), hashed and compared; the replay memory is consulted last, so only fully
//! verified requests take a place in it.

use std::cell::Cell;
use std::sync::Arc;

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, OriginalUri, Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use debrief_protocol::encoding::base64_decode;
use debrief_protocol::wire::{
    self, AUTH_HEADER, HttpRequestClaim, MAX_AUTH_HEADER_BYTES, RequestFacts,
};
use debrief_protocol::{Envelope, EnvelopeId, MemberId, PublicKey, Sha256Digest, Verified};

use super::body::{BodyError, read_body};
use super::clock::Clock;
use super::error::{ApiError, ErrorCode};
use super::rate::{PeerKey, RateLimiter};
use super::replay::{ReplayError, ReplayMemory};

/// What the roster says about a signer in a circle, right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    /// A current member, with its current signing key.
    Member(PublicKey),
    /// Not a current member (never was, removed, left), or the circle is not held here.
    NotFound,
}

/// The roster lookup could not be made (e.g. the store failed). Answered as a 500 without
/// details; the implementation logs the cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("membership lookup failed")]
pub struct MembershipLookupFailed;

/// Access to the current roster of each circle this node holds. Called on every request, so a
/// member removed a moment ago is refused at once; keep it fast (an in-memory roster).
pub trait MembershipLookup: Send + Sync + 'static {
    /// The current signing key of `member` in `circle`.
    fn membership(
        &self,
        circle: &EnvelopeId,
        member: &MemberId,
    ) -> Result<Membership, MembershipLookupFailed>;
}

/// Everything the middleware needs; cheap to clone.
#[derive(Clone)]
pub struct AuthLayerState {
    /// This node's member id: requests must be signed for it.
    pub own_member: MemberId,
    pub membership: Arc<dyn MembershipLookup>,
    pub replay: Arc<ReplayMemory>,
    pub clock: Arc<dyn Clock>,
    /// Allowed clock skew, normally [`wire::MAX_CLOCK_SKEW_SECONDS`].
    pub skew_seconds: i64,
    /// The largest body this layer reads (the route's cap, protocol.md §4.8.7).
    pub max_body_bytes: usize,
    /// Per-member token buckets (protocol.md §4.8.8); `None` turns rate limiting off.
    pub rate: Option<Arc<RateLimiter>>,
    /// Longest pause while the body arrives (protocol.md §4.8.7); `None` waits forever.
    pub idle_timeout: Option<Duration>,
}

/// Default cap on a member request body read by the auth layer (axum's default body limit).
pub const DEFAULT_MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

impl AuthLayerState {
    /// The state with the protocol's defaults: ±120 s skew, a replay memory of
    /// [`DEFAULT_REPLAY_CAPACITY`](super::replay::DEFAULT_REPLAY_CAPACITY) entries and a 2 MiB
    /// body cap. Fields are public for routes or tests that need other values.
    pub fn new(
        own_member: MemberId,
        membership: Arc<dyn MembershipLookup>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        AuthLayerState {
            own_member,
            membership,
            replay: Arc::new(ReplayMemory::new(
                super::replay::DEFAULT_REPLAY_CAPACITY,
                wire::MAX_CLOCK_SKEW_SECONDS,
            )),
            clock,
            skew_seconds: wire::MAX_CLOCK_SKEW_SECONDS,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            rate: None,
            idle_timeout: None,
        }
    }
}

impl std::fmt::Debug for AuthLayerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthLayerState")
            .field("own_member", &self.own_member)
            .field("skew_seconds", &self.skew_seconds)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

/// A request that passed every check: who sent it, for which circle, and the signed claim
/// exactly as received. Handlers take it as an extractor.
#[derive(Debug, Clone)]
pub struct AuthenticatedMember {
    pub member: MemberId,
    pub circle: EnvelopeId,
    pub claim: Arc<Verified<HttpRequestClaim>>,
}

impl<S: Send + Sync> FromRequestParts<S> for AuthenticatedMember {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // Only the middleware inserts it; a route without the layer is a server bug.
        parts
            .extensions
            .get::<AuthenticatedMember>()
            .cloned()
            .ok_or_else(|| ApiError::new(ErrorCode::Internal, "internal error"))
    }
}

/// The circle id named by a path `/v1/c/{circle}/…`.
pub fn circle_of_path(path: &str) -> Option<EnvelopeId> {
    let rest = path.strip_prefix("/v1/c/")?;
    let segment = rest.split('/').next()?;
    segment.parse().ok()
}

/// The middleware: verifies the signed request, then passes it on with an
/// [`AuthenticatedMember`] in its extensions.
pub async fn require_signed_request(
    State(state): State<AuthLayerState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let (mut parts, body) = request.into_parts();
    let (member, bytes) = authenticate(&state, &parts, body).await?;
    parts.extensions.insert(member);
    Ok(next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await)
}

/// Runs every check of protocol.md §4.4 (and the per-member rate limit, §4.8.8) on a request
/// and returns who sent it with its body. Routes that accept either a signed request or an
/// invite token (`join`) call it directly.
pub async fn authenticate(
    state: &AuthLayerState,
    parts: &Parts,
    body: Body,
) -> Result<(AuthenticatedMember, Bytes), ApiError> {
    // Nested routers see a shortened URI; the signature covers the one on the request line.
    let target = parts
        .extensions
        .get::<OriginalUri>()
        .map(|u| u.0.clone())
        .unwrap_or_else(|| parts.uri.clone());
    let path_and_query = target
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| target.path().to_owned());
    // protocol.md §4.4 step 1: a circle id in the path, else there is nothing to find.
    let circle = circle_of_path(target.path()).ok_or_else(ApiError::not_found)?;

    let declared_length = declared_length(parts);
    if declared_length.is_some_and(|n| n > state.max_body_bytes as u64) {
        return Err(too_large(state.max_body_bytes));
    }

    // protocol.md §4.3: the header is standard base64 of the envelope's JSON.
    let envelope = parse_auth_header(parts)?;
    let content_type = match parts.headers.get(CONTENT_TYPE) {
        None => String::new(),
        Some(v) => v
            .to_str()
            .map_err(|_| ApiError::new(ErrorCode::BadRequest, "Content-Type must be ASCII"))?
            .to_owned(),
    };
    let facts = RequestFacts {
        method: parts.method.as_str().to_owned(),
        path: path_and_query,
        circle,
        destination: state.own_member.clone(),
        content_type,
    };
    let now = state.clock.now();
    let lookup_failed = Cell::new(false);
    let head = wire::verify_request_head(
        &envelope,
        &facts,
        |member| match state.membership.membership(&circle, member) {
            Ok(Membership::Member(key)) => Some(key),
            Ok(Membership::NotFound) => None,
            Err(MembershipLookupFailed) => {
                lookup_failed.set(true);
                None
            }
        },
        now,
        state.skew_seconds,
    );
    if lookup_failed.get() {
        return Err(ApiError::new(ErrorCode::Internal, "internal error"));
    }
    let verified = head?;

    // protocol.md §4.8.8: the member is proven now, so its bucket pays, before the body is
    // read; a body sent without a Content-Length pays for its bytes once read.
    let peer = PeerKey::Member(verified.value().signer.clone());
    if let Some(rate) = &state.rate {
        rate.take(&peer, rate.cost(declared_length.unwrap_or(0)), now)
            .map_err(rate_limited)?;
    }

    // protocol.md §4.4 step 8: the body, read up to the cap, hashes to the signed digest.
    let bytes = read_body(body, state.max_body_bytes, state.idle_timeout)
        .await
        .map_err(body_error)?;
    if declared_length.is_none()
        && !bytes.is_empty()
        && let Some(rate) = &state.rate
    {
        rate.take(&peer, rate.cost(bytes.len() as u64).saturating_sub(1), now)
            .map_err(rate_limited)?;
    }
    wire::check_request_body(&verified, &Sha256Digest::of(&bytes))?;

    // protocol.md §4.4 step 9: each (signer, nonce) is accepted once within the window.
    let claim = verified.value();
    state
        .replay
        .check_and_insert(&claim.signer, claim.nonce, claim.timestamp, now)
        .map_err(|e| match e {
            ReplayError::Replayed => ApiError::new(ErrorCode::ReplayedRequest, e.to_string()),
            ReplayError::Full { retry_after } => {
                ApiError::new(ErrorCode::ReplayMemoryFull, e.to_string())
                    .with_retry_after(retry_after)
            }
        })?;

    let member = AuthenticatedMember {
        member: claim.signer.clone(),
        circle,
        claim: Arc::new(verified),
    };
    Ok((member, bytes))
}

/// The `Content-Length` the client declared, if any and readable.
pub fn declared_length(parts: &Parts) -> Option<u64> {
    parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// The 429 answer for a bucket that is empty for `retry_after` more seconds.
pub fn rate_limited(retry_after: u64) -> ApiError {
    ApiError::new(
        ErrorCode::RateLimited,
        format!("too many requests or bytes from this peer; retry in {retry_after} s"),
    )
    .with_retry_after(retry_after)
}

/// The answer for a body that could not be read whole.
pub fn body_error(e: BodyError) -> ApiError {
    match e {
        BodyError::TooLarge(limit) => too_large(limit),
        BodyError::Idle(_) => ApiError::new(ErrorCode::RequestTimeout, e.to_string()),
        BodyError::Broken => ApiError::new(ErrorCode::BadRequest, e.to_string()),
    }
}

pub fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("the request body is larger than {limit} bytes"),
    )
}

fn parse_auth_header(parts: &Parts) -> Result<Envelope, ApiError> {
    let unauthorized = |why: &str| {
        ApiError::new(
            ErrorCode::Unauthorized,
            format!("{why}; sign the request as protocol.md §4.3 describes"),
        )
    };
    let value = parts
        .headers
        .get(AUTH_HEADER)
        .ok_or_else(|| unauthorized("the Debrief-Auth header is missing"))?;
    if value.len() > MAX_AUTH_HEADER_BYTES {
        return Err(unauthorized("the Debrief-Auth header is too long"));
    }
    let text = value
        .to_str()
        .map_err(|_| unauthorized("the Debrief-Auth header is not ASCII"))?;
    let json = base64_decode(text)
        .ok_or_else(|| unauthorized("the Debrief-Auth header is not standard base64"))?;
    Envelope::from_json(&json)
        .map_err(|_| unauthorized("the Debrief-Auth header is not an envelope"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn circle_comes_from_the_path() {
        let id = EnvelopeId(Sha256Digest::of(b"c"));
        assert_eq!(circle_of_path(&format!("/v1/c/{id}/info")), Some(id));
        assert_eq!(circle_of_path(&format!("/v1/c/{id}")), Some(id));
        assert_eq!(circle_of_path("/v1/c/nothex/info"), None);
        assert_eq!(circle_of_path(&format!("/v1/public/{id}")), None);
    }
}
