//! The bundle routes (protocol.md §4.9): `links`, `feed`, `bundles?ids=` and `bundles/{id}`
//! (GET, PUT).
//!
//! Cursors are the answering node's local `ingest_seq` written as a decimal string. Clients
//! treat them as opaque. `ingest_seq` is strictly increasing and assigned inside the
//! transaction that stores the row. SQLite runs one writer at a time, so a reader never sees
//! seq n + 1 committed before seq n. Paging by it never skips or repeats an item, however many
//! arrive in one second (protocol.md §4.9.1).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use debrief_protocol::EnvelopeId;
use debrief_protocol::bundle::{BundleHeader, BundleObject};
use debrief_protocol::wire::{
    self, AcceptStatus, BUNDLE_BATCH_ANSWER_BYTES, BundleBatch, FeedItem, FeedPage, LinksPage,
    MAX_BUNDLE_BATCH, MAX_FEED_PAGE, MAX_LINKS_PAGE,
};
use serde::Deserialize;

use super::routes::require_json;
use super::{ServerState, internal};
use crate::http::auth::{AuthenticatedMember, rate_limited};
use crate::http::error::{ApiError, ErrorCode};
use crate::http::rate::PeerKey;
use crate::sharing::{self, SharingError};

type ApiResult<T> = Result<T, ApiError>;

/// Parses an opaque cursor (protocol.md §4.9.1): absent means "from the start".
pub fn parse_cursor(text: Option<&str>) -> Option<i64> {
    match text {
        None => Some(0),
        Some(t) if !t.is_empty() && t.len() <= 19 && t.bytes().all(|b| b.is_ascii_digit()) => {
            t.parse::<i64>().ok()
        }
        Some(_) => None,
    }
}

/// Writes a cursor.
pub fn cursor_text(seq: i64) -> String {
    seq.to_string()
}

fn bad_cursor() -> ApiError {
    ApiError::new(
        ErrorCode::BadRequest,
        "`after` must be a cursor returned as `next` by this node (or absent to start)",
    )
}

fn sharing_error(e: SharingError) -> ApiError {
    internal("bundle store failed", e)
}

/// Query of `links`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinksQuery {
    after: Option<String>,
}

/// protocol.md §4.9.1: every chain link, to every member of the circle.
pub async fn links(
    State(state): State<Arc<ServerState>>,
    member: AuthenticatedMember,
    query: Result<Query<LinksQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<LinksPage>> {
    let Query(query) = query.map_err(|_| bad_cursor())?;
    let after = parse_cursor(query.after.as_deref()).ok_or_else(bad_cursor)?;
    let handle = state
        .circle(&member.circle)
        .ok_or_else(ApiError::not_found)?;
    let page = handle
        .with_circle(move |circle| {
            // One more than a page tells whether more follow.
            sharing::links_after(circle, after, MAX_LINKS_PAGE + 1).map_err(sharing_error)
        })
        .await?;
    let more = page.len() > MAX_LINKS_PAGE;
    let links: Vec<_> = page.into_iter().take(MAX_LINKS_PAGE).collect();
    let next = links.last().map_or(after, |(seq, _)| *seq);
    Ok(Json(LinksPage {
        links: links.into_iter().map(|(_, env)| env).collect(),
        next: cursor_text(next),
        more,
    }))
}

/// Query of `feed`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    after: Option<String>,
    limit: Option<usize>,
}

/// protocol.md §4.9.2: the headers the caller may see (RED only to its recipients).
pub async fn feed(
    State(state): State<Arc<ServerState>>,
    member: AuthenticatedMember,
    query: Result<Query<FeedQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<FeedPage>> {
    let Query(query) = query.map_err(|_| {
        ApiError::new(
            ErrorCode::BadRequest,
            "the query takes `after=CURSOR` and `limit=N` (1 to 200), both optional",
        )
    })?;
    let after = parse_cursor(query.after.as_deref()).ok_or_else(bad_cursor)?;
    let limit = query.limit.unwrap_or(MAX_FEED_PAGE);
    if limit == 0 || limit > MAX_FEED_PAGE {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("`limit` must be 1 to {MAX_FEED_PAGE}"),
        ));
    }
    let handle = state
        .circle(&member.circle)
        .ok_or_else(ApiError::not_found)?;
    let viewer = member.member.clone();
    let (entries, next) = handle
        .with_circle(move |circle| {
            sharing::feed_after(circle, &viewer, after, limit).map_err(sharing_error)
        })
        .await?;
    // A full page may be followed by more; a short one means the caller has everything.
    let more = entries.len() >= limit;
    Ok(Json(FeedPage {
        items: entries
            .into_iter()
            .map(|e| FeedItem {
                cursor: cursor_text(e.ingest_seq),
                object: e.object,
                header: e.header,
            })
            .collect(),
        next: cursor_text(next),
        more,
    }))
}

fn object_id(text: &str) -> ApiResult<EnvelopeId> {
    text.parse().map_err(|_| ApiError::not_found())
}

/// protocol.md §4.9.3: one bundle object, exactly as stored, if the caller may see it.
pub async fn get_bundle(
    State(state): State<Arc<ServerState>>,
    Path((_circle, id)): Path<(String, String)>,
    member: AuthenticatedMember,
) -> ApiResult<Response> {
    let id = object_id(&id)?;
    let handle = state
        .circle(&member.circle)
        .ok_or_else(ApiError::not_found)?;
    let viewer = member.member.clone();
    let object = handle
        .with_circle(move |circle| {
            sharing::bundle_object(circle, &id, &viewer).map_err(sharing_error)
        })
        .await?;
    // protocol.md §3.32: a RED bundle to others is answered exactly like one never held.
    let object = object.ok_or_else(ApiError::not_found)?;
    Ok((
        [(CONTENT_TYPE, wire::JSON_CONTENT_TYPE)],
        object.as_bytes().to_vec(),
    )
        .into_response())
}

/// Query of `bundles?ids=`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchQuery {
    ids: Option<String>,
}

/// Parses `ids=ID,ID,…`: 1 to [`MAX_BUNDLE_BATCH`] distinct object ids.
fn batch_ids(text: Option<&str>) -> ApiResult<Vec<EnvelopeId>> {
    let bad = |why: String| {
        ApiError::new(
            ErrorCode::BadRequest,
            format!(
                "`ids` must list 1 to {MAX_BUNDLE_BATCH} distinct bundle object ids, \
                 comma-separated: {why}"
            ),
        )
    };
    let text = text.ok_or_else(|| bad("it is missing".into()))?;
    let mut ids = Vec::new();
    for (i, part) in text.split(',').enumerate() {
        if i == MAX_BUNDLE_BATCH {
            return Err(bad("too many".into()));
        }
        let id: EnvelopeId = part
            .parse()
            .map_err(|_| bad(format!("item {} is not an object id", i + 1)))?;
        if ids.contains(&id) {
            return Err(bad(format!("{id} is listed twice")));
        }
        ids.push(id);
    }
    Ok(ids)
}

/// protocol.md §4.9.3: several bundle objects at once, exactly as stored, each only if the
/// caller may see it; the answer stops adding objects past [`BUNDLE_BATCH_ANSWER_BYTES`].
pub async fn get_bundles(
    State(state): State<Arc<ServerState>>,
    member: AuthenticatedMember,
    query: Result<Query<BatchQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<BundleBatch>> {
    let Query(query) = query.map_err(|_| {
        ApiError::new(
            ErrorCode::BadRequest,
            "the query takes `ids=ID,ID,…` and nothing else",
        )
    })?;
    let ids = batch_ids(query.ids.as_deref())?;
    let handle = state
        .circle(&member.circle)
        .ok_or_else(ApiError::not_found)?;
    let viewer = member.member.clone();
    let (objects, absent) = handle
        .with_circle(move |circle| {
            let mut objects = Vec::new();
            let mut absent = Vec::new();
            let mut bytes = 0usize;
            for id in ids {
                // protocol.md §3.32: a RED bundle to others is absent, like one never held.
                match sharing::bundle_object(circle, &id, &viewer).map_err(sharing_error)? {
                    Some(object) => {
                        let len = object.as_bytes().len();
                        if !objects.is_empty() && bytes + len > BUNDLE_BATCH_ANSWER_BYTES {
                            // The rest is neither sent nor absent: the caller asks again.
                            break;
                        }
                        bytes += len;
                        objects.push(object);
                    }
                    None => absent.push(id),
                }
            }
            Ok((objects, absent))
        })
        .await?;
    let objects = objects
        .into_iter()
        .map(|o| {
            // A stored object is JSON we wrote from its verified parts.
            String::from_utf8(o.as_bytes().to_vec())
                .ok()
                .and_then(|text| serde_json::value::RawValue::from_string(text).ok())
                .ok_or_else(|| internal("a stored bundle object is not JSON", o.id()))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(BundleBatch { objects, absent }))
}

fn answer(status: AcceptStatus, id: EnvelopeId) -> Response {
    let code = match status {
        AcceptStatus::New => StatusCode::CREATED,
        AcceptStatus::Held => StatusCode::OK,
    };
    (
        code,
        Json(wire::Accepted {
            id: id.to_hex(),
            status,
            frozen: None,
        }),
    )
        .into_response()
}

/// protocol.md §4.9.4: a member offers a bundle object. Idempotent: `201` stored now, `200`
/// already held; `422` refused (and quarantined); `409 roster_behind` when it names a roster
/// seq beyond ours (not quarantined: retry after a roster sync).
pub async fn put_bundle(
    State(state): State<Arc<ServerState>>,
    Path((_circle, id)): Path<(String, String)>,
    member: AuthenticatedMember,
    request: Request,
) -> ApiResult<Response> {
    let id = object_id(&id)?;
    let (parts, body) = request.into_parts();
    require_json(&parts)?;
    // The layer already read and checked the body within `max_bundle`.
    let body: Bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(|_| ApiError::new(ErrorCode::BadRequest, "the request body could not be read"))?;
    let handle = state
        .circle(&member.circle)
        .ok_or_else(ApiError::not_found)?;
    let now = state.clock.now();
    let peeked = BundleObject::parse(&body).ok().map(|o| {
        let header = o.header().unverified_payload::<BundleHeader>().ok();
        (o.id(), header)
    });
    // protocol.md §4.9.5: storing costs in proportion to bytes × recipients (each recipient
    // is a stanza to parse and a row to check); the layer charged the bytes once already.
    let recipients = peeked
        .as_ref()
        .and_then(|(_, h)| h.as_ref())
        .map_or(1, |h| h.recipients.len().max(1)) as u64;
    if recipients > 1 {
        let extra = state
            .rate
            .cost(body.len() as u64)
            .saturating_mul(recipients - 1);
        state
            .rate
            .take(&PeerKey::Member(member.member.clone()), extra, now)
            .map_err(rate_limited)?;
    }
    if let Some((object, header)) = &peeked {
        if *object != id {
            return Err(ApiError::new(
                ErrorCode::InvalidObject,
                format!("the body is bundle object {object}, not {id} as the path says"),
            ));
        }
        let identities_missing = state.identities().is_empty();
        if identities_missing && header.as_ref().is_some_and(|h| h.is_recipient(&state.me)) {
            return Err(internal(
                "a bundle to this node arrived, but the server holds no age identity",
                id,
            ));
        }
    }
    let identities = state.identities();
    let me = state.me.clone();
    let metrics = Arc::clone(&state.metrics);
    let source = format!("PUT by {}", member.member);
    let circle_id = member.circle;
    handle
        .with_circle(move |circle| {
            match sharing::accept_bundle(circle, &me, &identities, &body, now) {
                Ok(sharing::Accepted::New { .. }) => {
                    metrics.bundle_accepted(circle_id);
                    Ok(answer(AcceptStatus::New, id))
                }
                Ok(sharing::Accepted::AlreadyHeld { .. }) => Ok(answer(AcceptStatus::Held, id)),
                Err(SharingError::Store(e)) => Err(internal("bundle store failed", e)),
                Err(SharingError::Rejected(e)) if e.is_retryable() => Err(ApiError::new(
                    ErrorCode::RosterBehind,
                    format!(
                        "this node cannot judge the bundle yet ({}: {e}); it was not stored or \
                         quarantined: offer it again once this node has synced the roster",
                        e.rule()
                    ),
                )),
                Err(e) => {
                    let rule = match &e {
                        SharingError::Rejected(b) => b.rule(),
                        _ => "§3.28",
                    };
                    let reason = format!("{rule}: {e}");
                    let key = sharing::quarantine(circle, &body, &reason, &source, now)
                        .map_err(sharing_error)?;
                    metrics.bundle_quarantined(circle_id);
                    Err(ApiError::new(
                        ErrorCode::InvalidObject,
                        format!("bundle refused ({reason}); quarantined as {key}"),
                    ))
                }
            }
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_junk() {
        assert_eq!(parse_cursor(None), Some(0));
        assert_eq!(parse_cursor(Some(&cursor_text(42))), Some(42));
        for bad in ["", "-1", "1.5", "x", "99999999999999999999", "+3"] {
            assert_eq!(parse_cursor(Some(bad)), None, "{bad}");
        }
    }
}
