//! Joining a circle over the network (docs/operations.md "Joining a circle over the network";
//! routes in protocol.md §4.8 and §4.11).
//!
//! The flow, each step one function here so the CLI and the demo share it:
//!
//! 1. A maintainer issues an invite for its HTTPS endpoint ([`invite`]): the [`CircleInfo`]
//!    file, whose invite is recorded where the `charter` and `join` routes look for its token.
//! 2. The candidate checks the file ([`check_invite`]), confirms the circle id out of band,
//!    fetches the charter from the maintainer's endpoint with the invite's TLS pin
//!    ([`fetch_charter`]), and posts its signed join request with the token
//!    ([`send_join_request`]); [`join_over_network`] runs all three without questions. The
//!    node remembers the circle as *joining* (`<data>/joining/<circle>.json`).
//! 3. Sponsors read the maintainer's `pending` route ([`remote_pending`]) and post vouches to
//!    its `join` route with a signed request ([`vouch_over_network`]).
//! 4. The sequencer admits from its pending store (`circle_ops::admit_pending`).
//! 5. The new member pulls the roster with a signed request, now that it is a member
//!    ([`finish_join`]); a member already in the circle pulls newer events the same way
//!    ([`fetch_roster`]).
//!
//! Every object fetched is verified here as if it came from a stranger: the server's copy
//! carries no authority (protocol.md §4.7.2).

use std::path::{Path, PathBuf};

use debrief_keys::Identity;
use debrief_protocol::encoding::base64_encode;
use debrief_protocol::roster::{Invite, InviteToken, JoinRequest, Roster, RosterEvent};
use debrief_protocol::wire::{
    self, AUTH_HEADER, Accepted, CharterResponse, CheckpointResponse, ErrorResponse,
    HttpRequestClaim, INVITE_HEADER, PendingItem, PendingKind, PendingList, RosterPage,
};
use debrief_protocol::{Envelope, EnvelopeId, MemberId, Sha256Digest, Timestamp};
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::circle_ops::{self as ops, CircleInfo, CircleOpError, JoinRequestFile};
use crate::home::{self, Home};
use crate::http::client::{
    ClientError, ClientTimeouts, pinned_client, random_nonce, request_target,
};
use crate::node::{Circle, Node, NodeError};

/// Why a network join step failed.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error(transparent)]
    Op(Box<CircleOpError>),
    #[error(transparent)]
    Node(Box<NodeError>),
    #[error(transparent)]
    Client(#[from] ClientError),
    /// No answer: the connection, TLS (e.g. the pin did not match) or the timeout failed.
    #[error("{what}: cannot reach {endpoint}: {source}")]
    Unreachable {
        what: &'static str,
        endpoint: String,
        #[source]
        source: reqwest::Error,
    },
    /// The peer answered with a protocol.md §4.6 error.
    #[error("{what}: {endpoint} answered {status} {code}: {message}{}", hint.as_deref().map(|h| format!(" ({h})")).unwrap_or_default())]
    Peer {
        what: &'static str,
        endpoint: String,
        status: u16,
        /// The stable error code (`not_found`, `invite_expired`, …).
        code: String,
        message: String,
        hint: Option<String>,
    },
    /// The peer answered 2xx with something that is not what the route promises.
    #[error("{what}: {endpoint} answered something unexpected: {message}")]
    BadAnswer {
        what: &'static str,
        endpoint: String,
        message: String,
    },
    #[error("{0}")]
    Refused(String),
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
}

impl From<CircleOpError> for JoinError {
    fn from(e: CircleOpError) -> Self {
        JoinError::Op(Box::new(e))
    }
}

impl From<NodeError> for JoinError {
    fn from(e: NodeError) -> Self {
        JoinError::Node(Box::new(e))
    }
}

impl JoinError {
    /// The §4.6 error code when a peer refused the request.
    pub fn code(&self) -> Option<&str> {
        match self {
            JoinError::Peer { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// A node to call: its member id (the signed requests' destination), its endpoint and the pin
/// of its TLS key (protocol.md §4.1.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerAddr {
    pub member: MemberId,
    pub endpoint: String,
    pub tls_spki_sha256: Sha256Digest,
}

impl PeerAddr {
    /// A member's address from the roster (its `set_endpoint` entry, or its card's).
    pub fn of_member(roster: &Roster, member: &MemberId) -> Result<PeerAddr, JoinError> {
        let m = roster.member(member).ok_or_else(|| {
            JoinError::Refused(format!(
                "{member} is not a current member of circle {:?}",
                roster.name()
            ))
        })?;
        let endpoint = m.endpoint.clone().ok_or_else(|| {
            JoinError::Refused(format!(
                "{member} ({}) has no endpoint in the roster of circle {:?}; it sets one with \
                 `debrief circle endpoint URL`",
                m.org,
                roster.name()
            ))
        })?;
        Ok(PeerAddr {
            member: member.clone(),
            endpoint,
            tls_spki_sha256: m.tls_spki_sha256,
        })
    }

    /// The sequencer's address: where join requests, vouches and roster events meet.
    pub fn sequencer(roster: &Roster) -> Result<PeerAddr, JoinError> {
        PeerAddr::of_member(roster, roster.sequencer())
    }

    /// The issuing maintainer's address from an invite.
    pub fn of_invite(invite: &Invite) -> Result<PeerAddr, JoinError> {
        if invite.maintainer_endpoint.is_empty() {
            return Err(JoinError::Refused(format!(
                "the invite names no endpoint for maintainer {}: join with the file form \
                 (`debrief circle request`), or ask for an invite from a node with \
                 `server.public_endpoint` set",
                invite.maintainer
            )));
        }
        Ok(PeerAddr {
            member: invite.maintainer.clone(),
            endpoint: invite.maintainer_endpoint.clone(),
            tls_spki_sha256: invite.maintainer_tls_spki_sha256,
        })
    }
}

/// Refuses anything but an `https://` URL with a host (protocol.md §4.1.1).
pub fn check_endpoint(endpoint: &str) -> Result<Url, JoinError> {
    let url = Url::parse(endpoint)
        .map_err(|_| JoinError::Refused(format!("{endpoint:?} is not a URL")))?;
    if url.scheme() != "https" || url.host_str().is_none() {
        return Err(JoinError::Refused(format!(
            "{endpoint:?} is not an https://host[:port] URL; nodes speak HTTPS only"
        )));
    }
    Ok(url)
}

// ---------------------------------------------------------------------------------------------
// Calling a peer.

/// One peer, called with invite tokens or with requests signed by this node.
struct Caller<'a> {
    http: reqwest::Client,
    base: Url,
    peer: &'a PeerAddr,
}

impl<'a> Caller<'a> {
    fn new(peer: &'a PeerAddr) -> Result<Self, JoinError> {
        let base = check_endpoint(&peer.endpoint)?;
        Ok(Caller {
            http: pinned_client(peer.tls_spki_sha256, ClientTimeouts::default())?,
            base,
            peer,
        })
    }

    fn url(&self, path: &str) -> Result<Url, JoinError> {
        self.base
            .join(path)
            .map_err(|_| JoinError::Refused(format!("bad path {path:?} for {}", self.base)))
    }

    /// A request signed by `me` (protocol.md §4.3), with an optional JSON body.
    fn signed(
        &self,
        me: &Identity,
        method: Method,
        circle: EnvelopeId,
        path: &str,
        body: Option<Vec<u8>>,
        now: Timestamp,
    ) -> Result<reqwest::RequestBuilder, JoinError> {
        let url = self.url(path)?;
        let content_type = if body.is_some() {
            wire::JSON_CONTENT_TYPE
        } else {
            ""
        };
        let claim = HttpRequestClaim {
            method: method.as_str().to_owned(),
            path: request_target(&url),
            circle,
            destination: self.peer.member.clone(),
            content_type: content_type.to_owned(),
            body_sha256: Sha256Digest::of(body.as_deref().unwrap_or_default()),
            timestamp: now,
            nonce: random_nonce(),
            signer: me.member_id(),
        };
        let envelope = claim.sign(me).map_err(ClientError::from)?;
        // Base64 is ASCII, always a valid header value.
        let header = HeaderValue::from_str(&base64_encode(&envelope.to_json()))
            .map_err(|_| JoinError::Refused("cannot build the Debrief-Auth header".into()))?;
        let mut builder = self.http.request(method, url).header(AUTH_HEADER, header);
        if let Some(body) = body {
            builder = builder.header(CONTENT_TYPE, content_type).body(body);
        }
        Ok(builder)
    }

    /// A request that carries an invite token instead of a signature (protocol.md §4.11).
    fn with_token(
        &self,
        token: &InviteToken,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<reqwest::RequestBuilder, JoinError> {
        let header = HeaderValue::from_str(&token.to_hex())
            .map_err(|_| JoinError::Refused("cannot build the Debrief-Invite header".into()))?;
        let mut builder = self
            .http
            .request(method, self.url(path)?)
            .header(INVITE_HEADER, header);
        if let Some(body) = body {
            builder = builder
                .header(CONTENT_TYPE, wire::JSON_CONTENT_TYPE)
                .body(body);
        }
        Ok(builder)
    }

    /// Sends and reads a JSON answer; a §4.6 error answer becomes [`JoinError::Peer`] with the
    /// hint `hint(code)` gives.
    async fn json<T: DeserializeOwned>(
        &self,
        what: &'static str,
        request: reqwest::RequestBuilder,
        hint: impl Fn(&str) -> Option<String>,
    ) -> Result<T, JoinError> {
        let endpoint = self.peer.endpoint.clone();
        let response = request
            .send()
            .await
            .map_err(|source| JoinError::Unreachable {
                what,
                endpoint: endpoint.clone(),
                source,
            })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|source| JoinError::Unreachable {
                what,
                endpoint: endpoint.clone(),
                source,
            })?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| JoinError::BadAnswer {
                what,
                endpoint,
                message: e.to_string(),
            });
        }
        let (code, message) = match serde_json::from_slice::<ErrorResponse>(&bytes) {
            Ok(e) => (e.error, e.message),
            Err(_) => (
                "unknown".to_owned(),
                String::from_utf8_lossy(&bytes).chars().take(200).collect(),
            ),
        };
        Err(JoinError::Peer {
            what,
            endpoint,
            status: status.as_u16(),
            hint: hint(&code),
            code,
            message,
        })
    }
}

fn no_hint(_: &str) -> Option<String> {
    None
}

// ---------------------------------------------------------------------------------------------
// The maintainer.

/// Issues a one-time invite for `endpoint` (a maintainer of `circle`): signed with this node's
/// key, naming this node's TLS pin, recorded so the `charter` and `join` routes accept its
/// token (protocol.md §4.11.3). Returns the file to hand the candidate privately.
pub fn invite(
    node: &Node,
    circle: &mut Circle,
    endpoint: &str,
    lifetime_secs: i64,
    now: Timestamp,
) -> Result<CircleInfo, JoinError> {
    check_endpoint(endpoint)?;
    let me = node.identity();
    Ok(ops::issue_invite(
        circle,
        me,
        &me.member_id(),
        Some(endpoint),
        me.tls_spki_pin(),
        now,
        lifetime_secs,
    )?)
}

// ---------------------------------------------------------------------------------------------
// The candidate.

/// What a candidate's node remembers about a circle it asked to join, until the roster that
/// admits it arrives (`<data>/joining/<circle id>.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoiningRecord {
    pub format: String,
    pub circle: EnvelopeId,
    /// The local name the circle gets in the node index once admitted.
    pub name: String,
    pub invite: Envelope,
    pub join_request: Envelope,
    /// The roster log from the invite file: the fetched log must extend it.
    pub roster: Vec<Envelope>,
    pub requested_at: Timestamp,
}

/// The format tag of [`JoiningRecord`].
pub const JOINING_FORMAT: &str = "debrief-joining/v1";

impl JoiningRecord {
    /// The maintainer the join request went to.
    pub fn maintainer(&self) -> Result<PeerAddr, JoinError> {
        PeerAddr::of_invite(&read_invite(&self.invite)?)
    }
}

fn read_invite(env: &Envelope) -> Result<Invite, JoinError> {
    env.unverified_payload().map_err(|e| {
        JoinError::from(CircleOpError::Malformed {
            what: "the invite".into(),
            expected: "invite",
            message: e.to_string(),
        })
    })
}

/// Where joining records live.
pub fn joining_dir(node: &Node) -> PathBuf {
    Home::data_dir(node.config()).join("joining")
}

fn joining_path(node: &Node, circle: &EnvelopeId) -> PathBuf {
    joining_dir(node).join(format!("{circle}.json"))
}

/// Every circle this node asked to join and is not yet a member of, oldest first.
pub fn joining(node: &Node) -> Result<Vec<JoiningRecord>, JoinError> {
    let dir = joining_dir(node);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(JoinError::File {
                path: dir,
                message: e.to_string(),
            });
        }
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| JoinError::File {
                path: dir.clone(),
                message: e.to_string(),
            })?
            .path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        out.push(read_record(&path)?);
    }
    out.sort_by_key(|r| r.requested_at);
    Ok(out)
}

fn read_record(path: &Path) -> Result<JoiningRecord, JoinError> {
    let file_error = |message: String| JoinError::File {
        path: path.to_owned(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| file_error(e.to_string()))?;
    let record: JoiningRecord = serde_json::from_slice(&bytes)
        .map_err(|e| file_error(format!("not a joining record: {e}")))?;
    if record.format != JOINING_FORMAT {
        return Err(file_error(format!(
            "unsupported format {:?} (expected {JOINING_FORMAT:?})",
            record.format
        )));
    }
    Ok(record)
}

/// Writes the record atomically (a temporary file renamed over the old one).
fn save_record(node: &Node, record: &JoiningRecord) -> Result<(), JoinError> {
    let dir = joining_dir(node);
    home::create_private_dir(&dir).map_err(NodeError::from)?;
    let path = joining_path(node, &record.circle);
    let tmp = path.with_extension("json.tmp");
    let mut bytes = serde_json::to_vec_pretty(record).map_err(|e| JoinError::File {
        path: path.clone(),
        message: e.to_string(),
    })?;
    bytes.push(b'\n');
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| JoinError::File {
            path,
            message: e.to_string(),
        })
}

/// The candidate's checks that need no network: the file verifies ([`ops::check_circle_info`]:
/// the roster log folds to the circle id stated, the invite is signed by a current maintainer,
/// the token matches it, it has not expired), it names an endpoint, and this node is not in
/// the circle already. Returns the roster of the file, to show the candidate.
pub fn check_invite(node: &Node, info: &CircleInfo, now: Timestamp) -> Result<Roster, JoinError> {
    let roster = ops::check_circle_info(info, now)?;
    PeerAddr::of_invite(&read_invite(&info.invite)?)?;
    if node
        .index()
        .list()
        .map_err(NodeError::from)?
        .iter()
        .any(|c| c.circle_id == info.circle)
    {
        return Err(JoinError::Refused(format!(
            "this node already belongs to circle {}",
            info.circle
        )));
    }
    Ok(roster)
}

/// Fetches the charter from the invite's maintainer over HTTPS with the invite's TLS pin
/// (protocol.md §4.11.1) and checks it: the answer names the circle and the very invite of the
/// file, and the charter hashes to the invite's `charter_sha256` (which is also the hash of the
/// charter in the file's genesis).
pub async fn fetch_charter(info: &CircleInfo) -> Result<CharterResponse, JoinError> {
    let invite = read_invite(&info.invite)?;
    let peer = PeerAddr::of_invite(&invite)?;
    let token = InviteToken::parse(&info.token)
        .ok_or_else(|| JoinError::Refused("the invite token is not 64 hex".into()))?;
    let caller = Caller::new(&peer)?;
    let path = format!("/v1/c/{}/charter", info.circle);
    let answer: CharterResponse = caller
        .json(
            "fetching the charter",
            caller.with_token(&token, Method::GET, &path, None)?,
            token_hint,
        )
        .await?;
    if answer.circle != info.circle {
        return Err(JoinError::Refused(format!(
            "the maintainer's node answered for circle {}, not {}",
            answer.circle, info.circle
        )));
    }
    if answer.invite.id() != info.invite.id() {
        return Err(JoinError::Refused(
            "the maintainer's node holds another invite for this token than the file".into(),
        ));
    }
    let hash = Sha256Digest::of(answer.charter.as_bytes());
    if hash != answer.charter_sha256 || hash != invite.charter_sha256 {
        return Err(JoinError::Refused(format!(
            "the charter fetched from {} hashes to {hash}, but the invite names charter {}: \
             nothing was signed",
            peer.endpoint, invite.charter_sha256
        )));
    }
    Ok(answer)
}

/// Hints for the answers to an invite token (protocol.md §4.11).
fn token_hint(code: &str) -> Option<String> {
    match code {
        "not_found" => Some(
            "that node does not hold this invite: it was revoked, or the node does not serve \
             the circle; ask the maintainer for a new invite"
                .into(),
        ),
        "unauthorized" => Some("the invite token was not accepted".into()),
        _ => None,
    }
}

/// Signs the join request (the candidate accepts the charter by doing so) and posts it with the
/// token to the maintainer's `join` route (protocol.md §4.11.2), then remembers the circle as
/// joining under `local_name` (default: the circle's name). Sending again for the same invite
/// re-posts the join request already made, which the maintainer answers `held`.
pub async fn send_join_request(
    node: &Node,
    info: &CircleInfo,
    local_name: Option<&str>,
    now: Timestamp,
) -> Result<JoiningRecord, JoinError> {
    let invite = read_invite(&info.invite)?;
    let peer = PeerAddr::of_invite(&invite)?;
    let token = InviteToken::parse(&info.token)
        .ok_or_else(|| JoinError::Refused("the invite token is not 64 hex".into()))?;
    let path = joining_path(node, &info.circle);
    let earlier = match std::fs::symlink_metadata(&path) {
        Ok(_) => Some(read_record(&path)?),
        Err(_) => None,
    };
    let record = match earlier {
        Some(r) if r.invite.id() == info.invite.id() => r,
        _ => {
            // The local name must be free now, or the join could not complete later.
            let name = local_name.unwrap_or(&info.name);
            if node
                .index()
                .list()
                .map_err(NodeError::from)?
                .iter()
                .any(|c| c.name == name)
            {
                return Err(JoinError::Refused(format!(
                    "this node already has a circle named {name:?}; choose another local name \
                     (--name)"
                )));
            }
            let file: JoinRequestFile = ops::make_join_request(
                info,
                node.signed_card(now)?,
                node.rotation_statements()?,
                node.identity(),
                now,
            )?;
            JoiningRecord {
                format: JOINING_FORMAT.into(),
                circle: info.circle,
                name: name.to_owned(),
                invite: file.invite,
                join_request: file.join_request,
                roster: info.roster.clone(),
                requested_at: now,
            }
        }
    };
    let caller = Caller::new(&peer)?;
    let route = format!("/v1/c/{}/join", info.circle);
    let answer: Accepted = caller
        .json(
            "sending the join request",
            caller.with_token(
                &token,
                Method::POST,
                &route,
                Some(record.join_request.to_json()),
            )?,
            |code| match code {
                "conflict" => Some(
                    "this invite already carries another join request; ask for a new invite".into(),
                ),
                other => token_hint(other),
            },
        )
        .await?;
    if answer.id != record.join_request.id().to_hex() {
        return Err(JoinError::BadAnswer {
            what: "sending the join request",
            endpoint: peer.endpoint,
            message: format!("it acknowledged object {}, not the join request", answer.id),
        });
    }
    save_record(node, &record)?;
    Ok(record)
}

/// The whole candidate side without questions (the demo; `circle join --yes`): check the
/// invite, fetch and check the charter, send the join request, remember the circle.
pub async fn join_over_network(
    node: &Node,
    info: &CircleInfo,
    local_name: Option<&str>,
    now: Timestamp,
) -> Result<JoiningRecord, JoinError> {
    check_invite(node, info, now)?;
    fetch_charter(info).await?;
    send_join_request(node, info, local_name, now).await
}

/// What [`finish_join`] found.
#[derive(Debug)]
pub enum JoinOutcome {
    /// Admitted: the circle is in the node index now.
    Admitted(Box<Circle>),
    /// The maintainer's node does not take this node for a member yet.
    NotYetAdmitted,
}

/// Pulls the roster from the maintainer the join request went to, with a signed request (the
/// node is a member once admitted, protocol.md §4.8.2). The log must fold, extend the log of
/// the invite file and list this node; then the circle is stored in the node index under the
/// record's name, with the maintainer's checkpoint if it holds one, and the record is removed.
/// Before admission the maintainer answers `404 not_found` (§4.2.3): [`JoinOutcome::NotYetAdmitted`].
pub async fn finish_join(
    node: &Node,
    record: &JoiningRecord,
    now: Timestamp,
) -> Result<JoinOutcome, JoinError> {
    let peer = record.maintainer()?;
    let caller = Caller::new(&peer)?;
    let me = node.identity();
    let events = match pull_roster(&caller, me, record.circle, None, now).await {
        Ok(events) => events,
        Err(JoinError::Peer { code, .. }) if code == "not_found" => {
            return Ok(JoinOutcome::NotYetAdmitted);
        }
        Err(e) => return Err(e),
    };
    let roster = debrief_protocol::roster::fold(&events, Some(now)).map_err(|e| {
        JoinError::Refused(format!(
            "the roster log from {} is invalid; nothing was stored: {e}",
            peer.endpoint
        ))
    })?;
    if roster.circle_id() != record.circle {
        return Err(JoinError::Refused(format!(
            "{} served the roster of circle {}, not {}",
            peer.endpoint,
            roster.circle_id(),
            record.circle
        )));
    }
    let extends = record.roster.len() <= events.len()
        && record
            .roster
            .iter()
            .zip(&events)
            .all(|(a, b)| a.id() == b.id());
    if !extends {
        return Err(JoinError::Refused(format!(
            "the roster log from {} does not extend the log of the invite; nothing was stored",
            peer.endpoint
        )));
    }
    if roster.member(&me.member_id()).is_none() {
        return Ok(JoinOutcome::NotYetAdmitted);
    }
    let checkpoint = pull_checkpoint(&caller, me, record.circle, now).await?;
    let mut circle = node.add_circle(&record.name, &events, now)?;
    if let Some(cp) = checkpoint {
        keep_checkpoint(&mut circle, &cp, me, now)?;
    }
    let path = joining_path(node, &record.circle);
    std::fs::remove_file(&path).map_err(|e| JoinError::File {
        path,
        message: format!("admitted, but cannot remove the joining record: {e}"),
    })?;
    Ok(JoinOutcome::Admitted(Box::new(circle)))
}

/// Stores a fetched checkpoint; an expired or superseded one is no error (the roster itself
/// was accepted), as in `circle import`.
fn keep_checkpoint(
    circle: &mut Circle,
    cp: &Envelope,
    me: &Identity,
    now: Timestamp,
) -> Result<(), JoinError> {
    match ops::accept_checkpoint(circle, cp, me, now) {
        Ok(ops::CheckpointOutcome::Stored) => Ok(()),
        Ok(ops::CheckpointOutcome::Forked { seq, proof_id }) => Err(JoinError::Refused(format!(
            "the sequencer signed two checkpoints for seq {seq}: fork proof {proof_id} stored, \
             the circle is FROZEN"
        ))),
        Err(CircleOpError::Rule(debrief_protocol::roster::RosterError::Checkpoint { .. })) => {
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

async fn pull_roster(
    caller: &Caller<'_>,
    me: &Identity,
    circle: EnvelopeId,
    mut after: Option<u64>,
    now: Timestamp,
) -> Result<Vec<Envelope>, JoinError> {
    let mut events = Vec::new();
    loop {
        let path = match after {
            None => format!("/v1/c/{circle}/roster"),
            Some(seq) => format!("/v1/c/{circle}/roster?after={seq}"),
        };
        let page: RosterPage = caller
            .json(
                "fetching the roster",
                caller.signed(me, Method::GET, circle, &path, None, now)?,
                no_hint,
            )
            .await?;
        let last = page
            .events
            .last()
            .and_then(|e| e.unverified_payload::<RosterEvent>().ok())
            .map(|e| e.seq);
        let got = page.events.len();
        events.extend(page.events);
        match (page.more, last) {
            // A page that says "more" must move forward, else a broken peer loops us.
            (true, Some(seq)) if got > 0 && after.is_none_or(|a| seq > a) => after = Some(seq),
            _ => break,
        }
    }
    Ok(events)
}

async fn pull_checkpoint(
    caller: &Caller<'_>,
    me: &Identity,
    circle: EnvelopeId,
    now: Timestamp,
) -> Result<Option<Envelope>, JoinError> {
    let path = format!("/v1/c/{circle}/checkpoint");
    match caller
        .json::<CheckpointResponse>(
            "fetching the checkpoint",
            caller.signed(me, Method::GET, circle, &path, None, now)?,
            no_hint,
        )
        .await
    {
        Ok(answer) => Ok(Some(answer.checkpoint)),
        // protocol.md §4.8.3: the peer holds no unexpired checkpoint of its head.
        Err(JoinError::Peer { code, .. }) if code == "not_found" => Ok(None),
        Err(e) => Err(e),
    }
}

/// Pulls roster events newer than this node's head from `peer` (a member's node, normally the
/// sequencer's) and imports them with its checkpoint, exactly as `circle import` would (an
/// invalid log stores nothing; a conflicting one stores the fork proof and freezes the circle).
/// Returns what the import did. Until sync runs in the background, this is how members learn of
/// admissions and other roster changes over the network.
pub async fn fetch_roster(
    node: &Node,
    circle: &mut Circle,
    peer: &PeerAddr,
    now: Timestamp,
) -> Result<ops::ImportOutcome, JoinError> {
    let caller = Caller::new(peer)?;
    let me = node.identity();
    let id = circle.roster.circle_id();
    let events = pull_roster(&caller, me, id, Some(circle.roster.head_seq()), now).await?;
    let checkpoints: Vec<Envelope> = pull_checkpoint(&caller, me, id, now)
        .await?
        .into_iter()
        .collect();
    Ok(ops::import_log(
        circle,
        &events,
        &checkpoints,
        &[],
        me,
        now,
    )?)
}

// ---------------------------------------------------------------------------------------------
// Sponsors.

/// The pending join requests and vouches held by `peer` for this circle (its `pending` route,
/// protocol.md §4.8.5), read with a signed request.
pub async fn remote_pending(
    node: &Node,
    circle: &Circle,
    peer: &PeerAddr,
    now: Timestamp,
) -> Result<Vec<PendingItem>, JoinError> {
    let caller = Caller::new(peer)?;
    let id = circle.roster.circle_id();
    let list: PendingList = caller
        .json(
            "fetching pending join requests",
            caller.signed(
                node.identity(),
                Method::GET,
                id,
                &format!("/v1/c/{id}/pending"),
                None,
                now,
            )?,
            no_hint,
        )
        .await?;
    Ok(list.items)
}

/// Summaries of the join requests in `items` (from [`remote_pending`]) with the vouches held
/// next to them, judged against this node's roster at `now`.
pub fn summarize_remote(
    roster: &Roster,
    items: &[PendingItem],
    now: Timestamp,
) -> Vec<ops::PendingAdmission> {
    items
        .iter()
        .filter(|i| i.kind == PendingKind::JoinRequest)
        .filter_map(|join| {
            let subject = join.id.to_hex();
            let vouches: Vec<Envelope> = items
                .iter()
                .filter(|v| v.kind == PendingKind::Vouch && v.subject.as_deref() == Some(&subject))
                .map(|v| v.envelope.clone())
                .collect();
            // Whether the remote node holds the invite is not visible from here; it accepted
            // the join request only with a recorded invite (protocol.md §4.11.2).
            ops::admission_summary(roster, &join.envelope, &vouches, true, now)
        })
        .collect()
}

/// Vouches over the network (a sponsor): finds the join request with id (or unique prefix)
/// `join_id` in `peer`'s pending list, fetches the invite it answers from `peer`'s `charter`
/// route with the token the join request carries, checks both against this node's roster
/// (§2.8, as for the file form), signs the vouch and posts it to `peer`'s `join` route with a
/// signed request (protocol.md §4.11.2). Nothing is stored on this node. Returns the vouch.
pub async fn vouch_over_network(
    node: &Node,
    circle: &Circle,
    peer: &PeerAddr,
    join_id: &str,
    reason: &str,
    lifetime_secs: Option<i64>,
    now: Timestamp,
) -> Result<Envelope, JoinError> {
    let me = node.identity();
    let items = remote_pending(node, circle, peer, now).await?;
    let prefix = join_id.trim().to_ascii_lowercase();
    let found: Vec<&PendingItem> = items
        .iter()
        .filter(|i| i.kind == PendingKind::JoinRequest && i.id.to_hex().starts_with(&prefix))
        .collect();
    let join = match found.as_slice() {
        [one] if !prefix.is_empty() => one.envelope.clone(),
        [] | [_] => {
            return Err(JoinError::Refused(format!(
                "{} holds no pending join request with an id starting with {prefix:?} \
                 (see `debrief circle pending --remote`)",
                peer.endpoint
            )));
        }
        many => {
            return Err(JoinError::Refused(format!(
                "{prefix:?} matches several pending join requests: {}",
                many.iter()
                    .map(|i| i.id.to_hex())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    };
    let claim: JoinRequest = join.unverified_payload().map_err(|e| {
        JoinError::from(CircleOpError::Malformed {
            what: format!("join request {}", join.id()),
            expected: "join request",
            message: e.to_string(),
        })
    })?;
    let token = InviteToken::parse(&claim.invite_token).ok_or_else(|| {
        JoinError::Refused(format!(
            "join request {} carries no valid invite token",
            join.id()
        ))
    })?;
    let caller = Caller::new(peer)?;
    let id = circle.roster.circle_id();
    let charter: CharterResponse = caller
        .json(
            "fetching the invite of the join request",
            caller.with_token(&token, Method::GET, &format!("/v1/c/{id}/charter"), None)?,
            token_hint,
        )
        .await?;
    let file = JoinRequestFile {
        format: ops::JOIN_REQUEST_FORMAT.into(),
        invite: charter.invite,
        join_request: join,
    };
    let vouch = ops::make_vouch(
        circle,
        me,
        &me.member_id(),
        &file,
        reason,
        lifetime_secs,
        now,
    )?;
    let answer: Accepted = caller
        .json(
            "sending the vouch",
            caller.signed(
                me,
                Method::POST,
                id,
                &format!("/v1/c/{id}/join"),
                Some(vouch.to_json()),
                now,
            )?,
            no_hint,
        )
        .await?;
    if answer.id != vouch.id().to_hex() {
        return Err(JoinError::BadAnswer {
            what: "sending the vouch",
            endpoint: peer.endpoint.clone(),
            message: format!("it acknowledged object {}, not the vouch", answer.id),
        });
    }
    Ok(vouch)
}
