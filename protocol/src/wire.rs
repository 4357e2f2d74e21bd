//! Signed HTTP requests between member nodes (protocol.md §4.3–§4.4).
//!
//! Every member request carries a `Debrief-Auth` header: the standard base64 of the JSON of an
//! `http-request` envelope whose payload binds the method, the raw path and query, the circle,
//! the destination node, the content type, the body's SHA-256, a timestamp and a nonce. The
//! checks here are pure; the node adds the roster lookup, the clock and the replay memory.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::encoding::{hex, parse_hex};
use crate::envelope::{self, Envelope, EnvelopeError, PayloadType, PublicKey, Signer, Verified};
use crate::ids::{EnvelopeId, MemberId, Sha256Digest};
use crate::timestamp::Timestamp;

/// The request header that carries the signed request (protocol.md §4.3).
pub const AUTH_HEADER: &str = "debrief-auth";

/// Allowed difference between the request's timestamp and the server's clock, either way
/// (protocol.md §4.4 step 7).
pub const MAX_CLOCK_SKEW_SECONDS: i64 = 120;

/// Longest accepted `Debrief-Auth` header value, in bytes; a signed request is ~1 KiB.
pub const MAX_AUTH_HEADER_BYTES: usize = 8 * 1024;

/// 16 random bytes naming one request, written as 32 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestNonce(pub [u8; 16]);

impl fmt::Display for RequestNonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl fmt::Debug for RequestNonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestNonce({self})")
    }
}

impl FromStr for RequestNonce {
    type Err = crate::ids::IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_hex::<16>(s)
            .map(RequestNonce)
            .ok_or_else(|| crate::ids::IdError {
                kind: "request nonce",
                text: s.to_owned(),
                expected: "32 lowercase hex characters",
            })
    }
}

impl Serialize for RequestNonce {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RequestNonce {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The signed payload of an `http-request` envelope (protocol.md §4.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRequestClaim {
    /// The request method in upper case, as on the request line (`GET`, `PUT`, `POST`).
    pub method: String,
    /// The request target exactly as on the request line: raw path, and `?query` if any.
    pub path: String,
    /// The circle the request is about; equals the `{circle}` segment of the path.
    pub circle: EnvelopeId,
    /// The member id of the node the request is sent to.
    pub destination: MemberId,
    /// The `Content-Type` header value exactly as sent, or `""` when there is none.
    pub content_type: String,
    /// SHA-256 of the body bytes as sent (of the empty string when there is no body).
    pub body_sha256: Sha256Digest,
    /// When the request was signed.
    pub timestamp: Timestamp,
    /// Fresh random bytes; a server accepts one (signer, nonce) once.
    pub nonce: RequestNonce,
    /// The member id of the signing node.
    pub signer: MemberId,
}

impl HttpRequestClaim {
    /// Signs the claim with the signer's current member signing key.
    pub fn sign(&self, signer: &dyn Signer) -> Result<Envelope, EnvelopeError> {
        Envelope::sign(self, PayloadType::HttpRequest, signer)
    }
}

/// What the server saw on the wire, to compare with the signed claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFacts {
    pub method: String,
    /// The raw path and query from the request line.
    pub path: String,
    /// The circle named by the path.
    pub circle: EnvelopeId,
    /// The server's own member id.
    pub destination: MemberId,
    /// The `Content-Type` header, or `""`.
    pub content_type: String,
}

/// Why a signed request was refused (protocol.md §4.4). Each variant maps to one error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestAuthError {
    #[error("the request signature is missing or malformed: {0}")]
    Malformed(String),
    #[error(
        "the request was signed for circle {found}, not for circle {expected} named by the path"
    )]
    WrongCircle {
        expected: EnvelopeId,
        found: EnvelopeId,
    },
    /// The signer is not a current member of the circle (or the circle is unknown here):
    /// answered as "not found" so outsiders learn nothing about the circle.
    #[error("not found")]
    NotMember,
    #[error("request signature invalid")]
    BadSignature,
    #[error("the request was signed for node {found}, but this node is {expected}")]
    WrongDestination { expected: MemberId, found: MemberId },
    #[error("the signed {field} does not match the request")]
    Mismatch { field: &'static str },
    #[error(
        "the request timestamp {request_time} is more than {skew} s before the server time {server_time}; check the clock"
    )]
    TooOld {
        request_time: Timestamp,
        server_time: Timestamp,
        skew: i64,
    },
    #[error(
        "the request timestamp {request_time} is more than {skew} s after the server time {server_time}; check the clock"
    )]
    TooNew {
        request_time: Timestamp,
        server_time: Timestamp,
        skew: i64,
    },
}

/// Checks everything about a signed request except its body (protocol.md §4.4 steps 2–7), so
/// that a server can refuse before reading the body. `signer_key` returns the current signing
/// key of a member of `facts.circle`, or `None` for anyone else.
pub fn verify_request_head<F>(
    envelope: &Envelope,
    facts: &RequestFacts,
    signer_key: F,
    now: Timestamp,
    skew_seconds: i64,
) -> Result<Verified<HttpRequestClaim>, RequestAuthError>
where
    F: FnOnce(&MemberId) -> Option<PublicKey>,
{
    // §4.4 step 2: an http-request envelope with a well-formed claim.
    if envelope.payload_type() != PayloadType::HttpRequest.media_type() {
        return Err(RequestAuthError::Malformed(format!(
            "payload type must be {}",
            PayloadType::HttpRequest
        )));
    }
    let claimed: HttpRequestClaim = envelope
        .unverified_payload()
        .map_err(|e| RequestAuthError::Malformed(e.to_string()))?;
    // §4.4 step 3: signed for the circle the path names.
    if claimed.circle != facts.circle {
        return Err(RequestAuthError::WrongCircle {
            expected: facts.circle,
            found: claimed.circle,
        });
    }
    // §4.4 step 4: the signer is a current member of that circle; outsiders get "not found".
    let key = signer_key(&claimed.signer).ok_or(RequestAuthError::NotMember)?;
    // §4.4 step 5: signed by that member's current key (verify_strict over the exact bytes).
    let verified: Verified<HttpRequestClaim> =
        envelope::verify(envelope, PayloadType::HttpRequest, &key).map_err(|e| match e {
            EnvelopeError::NonCanonicalPayload(_) | EnvelopeError::Schema { .. } => {
                RequestAuthError::Malformed(e.to_string())
            }
            _ => RequestAuthError::BadSignature,
        })?;
    let claim = verified.value();
    // The verified bytes are the bytes read above, so the signer is the one whose key we used.
    if claim.signer != claimed.signer || claim.circle != facts.circle {
        return Err(RequestAuthError::BadSignature);
    }
    // §4.4 step 6: meant for this node, and for exactly this request.
    if claim.destination != facts.destination {
        return Err(RequestAuthError::WrongDestination {
            expected: facts.destination.clone(),
            found: claim.destination.clone(),
        });
    }
    if claim.method != facts.method {
        return Err(RequestAuthError::Mismatch { field: "method" });
    }
    if claim.path != facts.path {
        return Err(RequestAuthError::Mismatch { field: "path" });
    }
    if claim.content_type != facts.content_type {
        return Err(RequestAuthError::Mismatch {
            field: "content_type",
        });
    }
    // §4.4 step 7: within the allowed clock skew of the server's time.
    let age = now.unix().saturating_sub(claim.timestamp.unix());
    if age > skew_seconds {
        return Err(RequestAuthError::TooOld {
            request_time: claim.timestamp,
            server_time: now,
            skew: skew_seconds,
        });
    }
    if age < -skew_seconds {
        return Err(RequestAuthError::TooNew {
            request_time: claim.timestamp,
            server_time: now,
            skew: skew_seconds,
        });
    }
    Ok(verified)
}

/// Checks the body's SHA-256 against a verified claim (protocol.md §4.4 step 8).
pub fn check_request_body(
    claim: &Verified<HttpRequestClaim>,
    body_sha256: &Sha256Digest,
) -> Result<(), RequestAuthError> {
    if claim.value().body_sha256 == *body_sha256 {
        Ok(())
    } else {
        Err(RequestAuthError::Mismatch {
            field: "body_sha256",
        })
    }
}

/// All the pure checks of a signed request, body included (protocol.md §4.4 steps 2–8). The
/// replay check (step 9) needs state and is the node's.
pub fn verify_request<F>(
    envelope: &Envelope,
    facts: &RequestFacts,
    body_sha256: &Sha256Digest,
    signer_key: F,
    now: Timestamp,
    skew_seconds: i64,
) -> Result<Verified<HttpRequestClaim>, RequestAuthError>
where
    F: FnOnce(&MemberId) -> Option<PublicKey>,
{
    let verified = verify_request_head(envelope, facts, signer_key, now, skew_seconds)?;
    check_request_body(&verified, body_sha256)?;
    Ok(verified)
}

// ---------------------------------------------------------------------------------------------
// Route request and response bodies (protocol.md §4.7–§4.12). Pure serde types shared by the
// server and its clients; unknown fields are refused in both directions.

/// The request header that carries an invite token on `charter` and `join` (protocol.md §4.11):
/// the 64 lowercase hex characters of the token.
pub const INVITE_HEADER: &str = "debrief-invite";

/// The content type of every JSON body sent or answered by a route.
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// Most roster events one `roster` answer carries (protocol.md §4.8.2).
pub const MAX_ROSTER_PAGE: usize = 500;

/// An error answer (protocol.md §4.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorResponse {
    pub error: String,
    pub message: String,
    /// Present on `stale_request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_time: Option<Timestamp>,
}

/// A roster head: the last event's seq, id and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RosterHead {
    pub seq: u64,
    pub head: EnvelopeId,
    pub at: Timestamp,
}

/// `GET /v1/c/{circle}/info` (protocol.md §4.8.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircleInfo {
    pub circle: EnvelopeId,
    /// The circle's name from its genesis.
    pub name: String,
    /// The member id of the answering node.
    pub node: MemberId,
    pub roster: RosterHead,
    /// Whether this node holds an unresolved fork proof for the circle (sharing frozen).
    pub frozen: bool,
    /// The answering node's clock.
    pub server_time: Timestamp,
}

/// `GET /v1/c/{circle}/roster?after=SEQ` (protocol.md §4.8.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RosterPage {
    /// Roster event envelopes with seq > `after`, in seq order, exactly as stored.
    pub events: Vec<Envelope>,
    /// The answering node's head.
    pub head: RosterHead,
    /// Whether more events follow the last one returned (ask again with its seq).
    pub more: bool,
}

/// `GET /v1/c/{circle}/checkpoint` (protocol.md §4.8.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointResponse {
    pub checkpoint: Envelope,
}

/// `GET /v1/c/{circle}/forks` (protocol.md §4.8.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForkList {
    /// Signed `fork-proof` envelopes, oldest first.
    pub proofs: Vec<Envelope>,
}

/// Whether a posted object was new here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AcceptStatus {
    /// Stored now (answered 201).
    New,
    /// Already held (answered 200); nothing changed.
    Held,
}

/// The answer to a POST that stores a signed object (protocol.md §4.8.4, §4.11.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accepted {
    /// The stored object's id: a fork proof's id, or the envelope id of a join request or vouch.
    pub id: String,
    pub status: AcceptStatus,
    /// For a fork proof: whether the circle is frozen on this node after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frozen: Option<bool>,
}

/// Kinds of objects waiting for the sequencer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PendingKind {
    JoinRequest,
    Vouch,
    MemberRequest,
}

impl PendingKind {
    /// The name as written on the wire and in the store.
    pub const fn as_str(self) -> &'static str {
        match self {
            PendingKind::JoinRequest => "join-request",
            PendingKind::Vouch => "vouch",
            PendingKind::MemberRequest => "member-request",
        }
    }

    /// Parses [`PendingKind::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "join-request" => Some(PendingKind::JoinRequest),
            "vouch" => Some(PendingKind::Vouch),
            "member-request" => Some(PendingKind::MemberRequest),
            _ => None,
        }
    }
}

/// One object waiting for the sequencer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingItem {
    pub kind: PendingKind,
    /// The envelope id of the object.
    pub id: EnvelopeId,
    /// For a vouch, the join request it is for; for a join request, the candidate's member id.
    pub subject: Option<String>,
    pub envelope: Envelope,
    /// When this node received it.
    pub received_at: Timestamp,
}

/// `GET /v1/c/{circle}/pending` (protocol.md §4.8.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingList {
    pub items: Vec<PendingItem>,
}

/// `GET /v1/c/{circle}/proposals` (protocol.md §4.8.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposalList {
    /// Unexpired `quorum-proposal` envelopes, each the copy with the most signatures held.
    pub proposals: Vec<Envelope>,
}

/// Most chain links one `links` answer carries (protocol.md §4.9.1).
pub const MAX_LINKS_PAGE: usize = 500;

/// Most headers one `feed` answer carries, and the default `limit` (protocol.md §4.9.2).
pub const MAX_FEED_PAGE: usize = 200;

/// `GET /v1/c/{circle}/links?after=CURSOR` (protocol.md §4.9.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinksPage {
    /// `chain-link` envelopes stored after the cursor, in the answering node's ingest order,
    /// exactly as stored.
    pub links: Vec<Envelope>,
    /// The cursor to ask with next (opaque; equal to the one sent when nothing followed).
    pub next: String,
    /// Whether more links follow (ask again with `next`).
    pub more: bool,
}

/// One header in a `feed` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedItem {
    /// The cursor just after this item (opaque): a client that stored it resumes from here.
    pub cursor: String,
    /// The bundle object's id (the header's envelope id): what `bundles/{id}` takes.
    pub object: EnvelopeId,
    /// The `bundle-header` envelope exactly as stored.
    pub header: Envelope,
}

/// `GET /v1/c/{circle}/feed?after=CURSOR&limit=N` (protocol.md §4.9.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedPage {
    /// Headers the caller may see, stored after the cursor, in ingest order.
    pub items: Vec<FeedItem>,
    /// The cursor to ask with next (opaque).
    pub next: String,
    /// Whether more may follow (ask again with `next`; the next page may be empty).
    pub more: bool,
}

/// Most object ids one `GET bundles?ids=` may name (protocol.md §4.9.3).
pub const MAX_BUNDLE_BATCH: usize = 32;

/// Bytes of objects past which a `GET bundles?ids=` answer stops adding more (protocol.md
/// §4.9.3). The first object is always sent, so one answer is at most this plus one object.
pub const BUNDLE_BATCH_ANSWER_BYTES: usize = 8 * 1024 * 1024;

/// `GET /v1/c/{circle}/bundles?ids=ID,ID,…` (protocol.md §4.9.3): several bundle objects in one
/// answer, so catching up costs one request per batch instead of one per bundle.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleBatch {
    /// Bundle objects exactly as stored, in the order asked for. Each is kept as its exact JSON
    /// text, which the receiver parses and verifies on its own (`BundleObject::parse`).
    pub objects: Vec<Box<serde_json::value::RawValue>>,
    /// Ids asked for that this node does not hold or will not show the caller (§3.32): the same
    /// answer for both, as `bundles/{id}` gives `404` for both.
    pub absent: Vec<EnvelopeId>,
}

/// `GET /v1/c/{circle}/charter` with an invite token (protocol.md §4.11.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CharterResponse {
    pub circle: EnvelopeId,
    pub name: String,
    pub charter: String,
    pub charter_sha256: Sha256Digest,
    /// The signed invite the token belongs to; the candidate embeds nothing of it, but checks
    /// that it names the circle id it confirmed out of band.
    pub invite: Envelope,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    const NOW: i64 = 1_795_602_000;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    fn circle(n: u8) -> EnvelopeId {
        EnvelopeId(Sha256Digest::of(&[n]))
    }

    fn claim(signer: &SigningKey, body: &[u8]) -> HttpRequestClaim {
        HttpRequestClaim {
            method: "PUT".into(),
            path: format!("/v1/c/{}/bundles/ab?x=1", circle(1)),
            circle: circle(1),
            destination: key(9).public_key().member_id(),
            content_type: "application/json".into(),
            body_sha256: Sha256Digest::of(body),
            timestamp: Timestamp::from_unix(NOW),
            nonce: RequestNonce([5; 16]),
            signer: signer.public_key().member_id(),
        }
    }

    fn facts() -> RequestFacts {
        RequestFacts {
            method: "PUT".into(),
            path: format!("/v1/c/{}/bundles/ab?x=1", circle(1)),
            circle: circle(1),
            destination: key(9).public_key().member_id(),
            content_type: "application/json".into(),
        }
    }

    /// Members: key 1 only.
    fn lookup(member: &MemberId) -> Option<PublicKey> {
        (*member == key(1).public_key().member_id()).then(|| key(1).public_key())
    }

    fn check(
        env: &Envelope,
        facts: &RequestFacts,
        body: &[u8],
        now: i64,
    ) -> Result<HttpRequestClaim, RequestAuthError> {
        verify_request(
            env,
            facts,
            &Sha256Digest::of(body),
            lookup,
            Timestamp::from_unix(now),
            MAX_CLOCK_SKEW_SECONDS,
        )
        .map(|v| v.value().clone())
    }

    #[test]
    fn a_signed_request_passes() {
        let c = claim(&key(1), b"{}");
        let env = c.sign(&key(1)).unwrap();
        assert_eq!(check(&env, &facts(), b"{}", NOW), Ok(c));
    }

    #[test]
    fn header_round_trips_through_json() {
        let env = claim(&key(1), b"").sign(&key(1)).unwrap();
        let back = Envelope::from_json(&env.to_json()).unwrap();
        assert_eq!(back, env);
        let text = String::from_utf8(env.payload().to_vec()).unwrap();
        assert!(
            text.contains(r#""nonce":"05050505050505050505050505050505""#),
            "{text}"
        );
    }

    #[test]
    fn skew_edges() {
        let env = claim(&key(1), b"{}").sign(&key(1)).unwrap();
        assert!(check(&env, &facts(), b"{}", NOW + 120).is_ok());
        assert!(check(&env, &facts(), b"{}", NOW - 120).is_ok());
        assert_eq!(
            check(&env, &facts(), b"{}", NOW + 121),
            Err(RequestAuthError::TooOld {
                request_time: Timestamp::from_unix(NOW),
                server_time: Timestamp::from_unix(NOW + 121),
                skew: 120,
            })
        );
        assert_eq!(
            check(&env, &facts(), b"{}", NOW - 121),
            Err(RequestAuthError::TooNew {
                request_time: Timestamp::from_unix(NOW),
                server_time: Timestamp::from_unix(NOW - 121),
                skew: 120,
            })
        );
    }

    #[test]
    fn wrong_circle_destination_and_request_are_refused() {
        let env = claim(&key(1), b"{}").sign(&key(1)).unwrap();
        let mut f = facts();
        f.circle = circle(2);
        assert_eq!(
            check(&env, &f, b"{}", NOW),
            Err(RequestAuthError::WrongCircle {
                expected: circle(2),
                found: circle(1)
            })
        );
        let mut f = facts();
        f.destination = key(8).public_key().member_id();
        assert_eq!(
            check(&env, &f, b"{}", NOW),
            Err(RequestAuthError::WrongDestination {
                expected: key(8).public_key().member_id(),
                found: key(9).public_key().member_id(),
            })
        );
        for (field, f) in [
            (
                "method",
                RequestFacts {
                    method: "GET".into(),
                    ..facts()
                },
            ),
            (
                "path",
                RequestFacts {
                    path: format!("/v1/c/{}/bundles/ab", circle(1)),
                    ..facts()
                },
            ),
            (
                "content_type",
                RequestFacts {
                    content_type: "".into(),
                    ..facts()
                },
            ),
        ] {
            assert_eq!(
                check(&env, &f, b"{}", NOW),
                Err(RequestAuthError::Mismatch { field })
            );
        }
        assert_eq!(
            check(&env, &facts(), b"{ }", NOW),
            Err(RequestAuthError::Mismatch {
                field: "body_sha256"
            })
        );
    }

    #[test]
    fn outsiders_and_forgeries_are_refused() {
        // A non-member signs for itself: not found.
        let env = claim(&key(2), b"{}").sign(&key(2)).unwrap();
        assert_eq!(
            check(&env, &facts(), b"{}", NOW),
            Err(RequestAuthError::NotMember)
        );
        // A non-member claims to be member 1: the signature does not verify under 1's key.
        let env = claim(&key(1), b"{}").sign(&key(2)).unwrap();
        assert_eq!(
            check(&env, &facts(), b"{}", NOW),
            Err(RequestAuthError::BadSignature)
        );
        // Another payload type signed by the member is not a request.
        let env = Envelope::sign(&claim(&key(1), b"{}"), PayloadType::Feedback, &key(1)).unwrap();
        assert!(matches!(
            check(&env, &facts(), b"{}", NOW),
            Err(RequestAuthError::Malformed(_))
        ));
        // Unknown fields are refused.
        let mut value = serde_json::to_value(claim(&key(1), b"{}")).unwrap();
        value["extra"] = serde_json::json!(1);
        let env = Envelope::sign(&value, PayloadType::HttpRequest, &key(1)).unwrap();
        assert!(matches!(
            check(&env, &facts(), b"{}", NOW),
            Err(RequestAuthError::Malformed(_))
        ));
    }

    /// The vector in protocol.md §4.3: fixed keys give fixed bytes, so a second
    /// implementation can check its encoder and signer against it.
    #[test]
    fn fixed_vector() {
        let signer = key(1);
        let circle = EnvelopeId(Sha256Digest::of(b"circle-1"));
        let claim = HttpRequestClaim {
            method: "GET".into(),
            path: format!("/v1/c/{circle}/feed?after=0&limit=50"),
            circle,
            destination: key(2).public_key().member_id(),
            content_type: String::new(),
            body_sha256: Sha256Digest::of(b""),
            timestamp: Timestamp::from_unix(NOW),
            nonce: RequestNonce([0xab; 16]),
            signer: signer.public_key().member_id(),
        };
        let env = claim.sign(&signer).unwrap();
        assert_eq!(
            std::str::from_utf8(env.payload()).unwrap(),
            concat!(
                r#"{"body_sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","#,
                r#""circle":"1a44cd877e41a988643bf2e855c04c15d1bc030da42ab0b4ce01af4a6305dcf7","#,
                r#""content_type":"","destination":"db1ni4ahvpqlgicuhdnv66jxjdssijppsvm","#,
                r#""method":"GET","nonce":"abababababababababababababababab","#,
                r#""path":"/v1/c/1a44cd877e41a988643bf2e855c04c15d1bc030da42ab0b4ce01af4a6305dcf7/feed?after=0&limit=50","#,
                r#""signer":"db1gr2q7gf5lh6pzfdnurnkvputhpqvjjfv","timestamp":"2026-11-25T10:20:00Z"}"#
            )
        );
        assert_eq!(
            crate::encoding::base64_encode(&env.signatures()[0].sig),
            "iOKdrktM9jOgqrplrFSJiL9Gr1XmxDG2KxRlUrKMBsEAcxS8ujNjJYpO1a+QuHFk4PoLUwCVe8DiQzi5MjMrDQ=="
        );
        assert_eq!(
            env.signatures()[0].keyid.to_hex(),
            "34750f98bd59fcfc946da45aaabe933be154a4b5094e1c4abf42866505f3c97e"
        );
        // The header value decodes back to an envelope that verifies.
        let header = crate::encoding::base64_encode(&env.to_json());
        let parsed =
            Envelope::from_json(&crate::encoding::base64_decode(&header).unwrap()).unwrap();
        let facts = RequestFacts {
            method: "GET".into(),
            path: claim.path.clone(),
            circle,
            destination: key(2).public_key().member_id(),
            content_type: String::new(),
        };
        let verified = verify_request(
            &parsed,
            &facts,
            &Sha256Digest::of(b""),
            |m| (*m == signer.public_key().member_id()).then(|| signer.public_key()),
            Timestamp::from_unix(NOW),
            MAX_CLOCK_SKEW_SECONDS,
        )
        .unwrap();
        assert_eq!(verified.value(), &claim);
    }

    #[test]
    fn nonce_parses_lowercase_hex_only() {
        assert_eq!(
            "00".repeat(16).parse::<RequestNonce>().unwrap(),
            RequestNonce([0; 16])
        );
        assert!("AB".repeat(16).parse::<RequestNonce>().is_err());
        assert!("ab".repeat(15).parse::<RequestNonce>().is_err());
    }
}
