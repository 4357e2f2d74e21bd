//! The JSON error shape every route answers with (protocol.md §4.6):
//! `{ "error": CODE, "message": TEXT }`, plus `server_time` on `stale_request`. Codes are
//! stable; messages are for people and never carry internals, paths or stack traces.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use debrief_protocol::Timestamp;
use debrief_protocol::wire::RequestAuthError;
use serde::Serialize;

/// Stable error codes (protocol.md §4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the request is malformed in a way not covered by a more specific code.
    BadRequest,
    /// 401: the `Debrief-Auth` header is missing or malformed.
    Unauthorized,
    /// 401: the signed method, path, content type or body hash differ from the request.
    RequestMismatch,
    /// 401: the request was signed for another circle than the path names.
    WrongCircle,
    /// 401: the request was signed for another node.
    WrongDestination,
    /// 401: the timestamp is outside the allowed skew; the body carries `server_time`.
    StaleRequest,
    /// 401: this (signer, nonce) was already accepted within the window.
    ReplayedRequest,
    /// 404: no such route, object or circle, or the caller is not a member of the circle.
    NotFound,
    /// 413: the body is larger than the route accepts.
    PayloadTooLarge,
    /// 429: too many requests; `Retry-After` says when to try again.
    RateLimited,
    /// 503: the replay memory is full; retry later.
    ReplayMemoryFull,
    /// 500: something failed on the server; details are in its log only.
    Internal,
    /// 405: the route exists but not with this method.
    MethodNotAllowed,
    /// 408: the request (or a pause in its body) took longer than the server waits.
    RequestTimeout,
    /// 409: the object conflicts with one already held (e.g. a second join request for one invite).
    Conflict,
    /// 410: the invite token expired.
    InviteExpired,
    /// 410: the invite token was already used by an admit.
    InviteUsed,
    /// 415: a body that is not `application/json`.
    UnsupportedMediaType,
    /// 422: a posted signed object failed verification; the message names the rule.
    InvalidObject,
    /// 503: the circle holds the maximum number of pending join requests and vouches.
    PendingFull,
    /// 409: a bundle names a roster seq beyond the server's head (protocol.md §4.9.4); retry after
    /// the server's roster caught up.
    RosterBehind,
}

impl ErrorCode {
    /// The code as written on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::RequestMismatch => "request_mismatch",
            ErrorCode::WrongCircle => "wrong_circle",
            ErrorCode::WrongDestination => "wrong_destination",
            ErrorCode::StaleRequest => "stale_request",
            ErrorCode::ReplayedRequest => "replayed_request",
            ErrorCode::NotFound => "not_found",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::ReplayMemoryFull => "replay_memory_full",
            ErrorCode::Internal => "internal",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::Conflict => "conflict",
            ErrorCode::InviteExpired => "invite_expired",
            ErrorCode::InviteUsed => "invite_used",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::InvalidObject => "invalid_object",
            ErrorCode::PendingFull => "pending_full",
            ErrorCode::RosterBehind => "roster_behind",
        }
    }

    /// The HTTP status that goes with the code.
    pub const fn status(self) -> StatusCode {
        match self {
            ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized
            | ErrorCode::RequestMismatch
            | ErrorCode::WrongCircle
            | ErrorCode::WrongDestination
            | ErrorCode::StaleRequest
            | ErrorCode::ReplayedRequest => StatusCode::UNAUTHORIZED,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::ReplayMemoryFull => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::InviteExpired | ErrorCode::InviteUsed => StatusCode::GONE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::InvalidObject => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::PendingFull => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::RosterBehind => StatusCode::CONFLICT,
        }
    }
}

/// An error answer: status from the code, JSON body, optional extra headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// Set on `stale_request` so the caller can see how far its clock is off.
    pub server_time: Option<Timestamp>,
    /// Seconds for a `Retry-After` header (429, 503).
    pub retry_after: Option<u64>,
}

/// The JSON body of an error answer.
#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    error: &'static str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    server_time: Option<Timestamp>,
}

impl ApiError {
    /// An error with a code and a message for people.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            server_time: None,
            retry_after: None,
        }
    }

    /// The plain 404 answer, the same for "no such circle" and "not a member".
    pub fn not_found() -> Self {
        ApiError::new(ErrorCode::NotFound, "not found")
    }

    /// Adds a `Retry-After` header.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }
}

impl From<RequestAuthError> for ApiError {
    fn from(e: RequestAuthError) -> Self {
        // protocol.md §4.6: one code per refusal; crypto failures stay coarse.
        let code = match &e {
            RequestAuthError::Malformed(_) => ErrorCode::Unauthorized,
            // protocol.md §4.4 step 5: a caller that cannot prove membership is an outsider and
            // gets the same 404 as one that names a non-member, so member ids cannot be probed.
            RequestAuthError::NotMember | RequestAuthError::BadSignature => {
                return ApiError::not_found();
            }
            RequestAuthError::WrongCircle { .. } => ErrorCode::WrongCircle,
            RequestAuthError::WrongDestination { .. } => ErrorCode::WrongDestination,
            RequestAuthError::Mismatch { .. } => ErrorCode::RequestMismatch,
            RequestAuthError::TooOld { .. } | RequestAuthError::TooNew { .. } => {
                ErrorCode::StaleRequest
            }
        };
        let server_time = match &e {
            RequestAuthError::TooOld { server_time, .. }
            | RequestAuthError::TooNew { server_time, .. } => Some(*server_time),
            _ => None,
        };
        ApiError {
            code,
            message: e.to_string(),
            server_time,
            retry_after: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.code.as_str(),
            message: &self.message,
            server_time: self.server_time,
        };
        let mut response = (self.code.status(), Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialise_as_their_wire_names() {
        for code in [
            ErrorCode::BadRequest,
            ErrorCode::Unauthorized,
            ErrorCode::RequestMismatch,
            ErrorCode::WrongCircle,
            ErrorCode::WrongDestination,
            ErrorCode::StaleRequest,
            ErrorCode::ReplayedRequest,
            ErrorCode::NotFound,
            ErrorCode::PayloadTooLarge,
            ErrorCode::RateLimited,
            ErrorCode::ReplayMemoryFull,
            ErrorCode::Internal,
            ErrorCode::MethodNotAllowed,
            ErrorCode::RequestTimeout,
            ErrorCode::Conflict,
            ErrorCode::InviteExpired,
            ErrorCode::InviteUsed,
            ErrorCode::UnsupportedMediaType,
            ErrorCode::InvalidObject,
            ErrorCode::PendingFull,
            ErrorCode::RosterBehind,
        ] {
            assert_eq!(
                serde_json::to_string(&code).unwrap(),
                format!("\"{}\"", code.as_str())
            );
        }
    }

    #[test]
    fn failed_signatures_look_like_outsiders() {
        assert_eq!(
            ApiError::from(RequestAuthError::BadSignature),
            ApiError::not_found()
        );
        assert_eq!(
            ApiError::from(RequestAuthError::NotMember),
            ApiError::not_found()
        );
    }

    #[test]
    fn stale_refusal_carries_server_time() {
        let e = ApiError::from(RequestAuthError::TooOld {
            request_time: Timestamp::from_unix(0),
            server_time: Timestamp::from_unix(1_000),
            skew: 120,
        });
        assert_eq!(e.code, ErrorCode::StaleRequest);
        assert_eq!(e.server_time, Some(Timestamp::from_unix(1_000)));
        let response = e.with_retry_after(3).into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()["retry-after"], "3");
    }
}
