//! Issue 17, the attacks that travel over the network: each is an attacker's story against a
//! real node serving real HTTPS on 127.0.0.1 port 0 (real TLS with the node's pinned key, real
//! SQLite stores in a temp dir, real member keys), refused with its documented HTTP error
//! (protocol.md §4.2–§4.11) and leaving nothing stored. Time is a `FixedClock`, so skew, replay
//! and expiry are deterministic; the slow upload alone waits (for the 1 s idle timeout).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use debrief_keys::{Identity, Passphrase};
use debrief_node::home::Home;
use debrief_node::http::client::{
    ClientTimeouts, PeerClient, PeerRequest, auth_header_value, pinned_client, random_nonce,
};
use debrief_node::http::clock::{Clock, FixedClock};
use debrief_node::http::serve::{RunningServer, serve_tls_with};
use debrief_node::node::{Circle, Node};
use debrief_node::server::invites::{self, InviteError};
use debrief_node::server::{ServerLimits, ServerState};
use debrief_node::tls::{NodeTlsIdentity, pinned_client_config};
use debrief_protocol::bundle::BundleObject;
use debrief_protocol::envelope::Envelope;
use debrief_protocol::profile::{Industry, OrgProfile, Region, SizeBand};
use debrief_protocol::roster::{
    EventBody, InviteToken, JoinRequest, Policy, QuorumAction, TipStatement,
};
use debrief_protocol::wire::{self, ForkList, PendingList, RequestNonce};
use debrief_protocol::wire::{FeedPage, LinksPage};
use debrief_protocol::{EnvelopeId, MemberId, Sha256Digest, Timestamp};
use debrief_tests::attack_kit::{company, forge_bundle, header_json, node_report, with_payload};
use reqwest::{Method, StatusCode};
use zeroize::Zeroizing;

const CHARTER: &str = "Share what went wrong; never name a customer.";

/// The victim node S sequences and maintains circle A (members Alice and Bob) and circle B
/// (member Carol). Mallory belongs to no circle; Erin is a candidate with an invite.
struct World {
    _dir: tempfile::TempDir,
    now: Timestamp,
    clock: Arc<FixedClock>,
    node: Mutex<Node>,
    me: MemberId,
    alice: Arc<Identity>,
    bob: Arc<Identity>,
    erin: Arc<Identity>,
    a: EnvelopeId,
    b: EnvelopeId,
    state: Arc<ServerState>,
    server: RunningServer,
    pin: Sha256Digest,
}

async fn world(limits: ServerLimits) -> World {
    let dir = tempfile::tempdir().unwrap();
    let now = debrief_node::node::now();
    let profile = OrgProfile {
        industry: Industry::Saas,
        size_band: SizeBand::M,
        region: Region::Europe,
    };
    let pass = Passphrase::new(Zeroizing::new("correct horse battery".to_owned())).unwrap();
    let node = Node::init(
        Home::at(dir.path().join("s")),
        "Server Co",
        profile,
        None,
        pass,
        Some(10),
        now,
    )
    .unwrap();
    let alice = Arc::new(company(11, "Alice Co"));
    let bob = Arc::new(company(12, "Bob Co"));
    let carol = Arc::new(company(13, "Carol Co"));
    let erin = Arc::new(company(15, "Erin Co"));
    let card = |i: &Identity| {
        i.signed_card(Some("https://member.example.net:8443"), now)
            .unwrap()
    };
    let a = node
        .create_circle(
            "ops",
            CHARTER,
            Policy::default(),
            vec![card(&alice), card(&bob)],
            now,
        )
        .unwrap()
        .roster
        .circle_id();
    let b = node
        .create_circle(
            "other",
            "Other.",
            Policy::default(),
            vec![card(&carol)],
            now,
        )
        .unwrap()
        .roster
        .circle_id();
    let tls = NodeTlsIdentity::from_seed(&node.identity().tls_seed()).unwrap();
    let me = node.identity().member_id();
    let clock = Arc::new(FixedClock::new(now));
    let state = ServerState::new(
        me.clone(),
        node.circles(now).unwrap(),
        clock.clone() as Arc<dyn Clock>,
        limits,
    )
    .unwrap();
    // As `debrief serve` does: bundles PUT to this node that list it are opened and stored.
    state.set_identities(node.identity().age_identities());
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    // As `debrief serve` does: request headers within the idle timeout (protocol.md §4.8.7.3).
    let server = serve_tls_with(
        addr,
        tls.server_config().unwrap(),
        state.router(),
        limits.idle_timeout,
    )
    .await
    .unwrap();
    World {
        _dir: dir,
        now,
        clock,
        node: Mutex::new(node),
        me,
        alice,
        bob,
        erin,
        a,
        b,
        state,
        server,
        pin: tls.pin(),
    }
}

fn get(circle: EnvelopeId, route: &str) -> PeerRequest {
    PeerRequest {
        method: Method::GET,
        circle,
        path_and_query: format!("/v1/c/{circle}/{route}"),
        body: None,
    }
}

fn post(circle: EnvelopeId, route: &str, body: Vec<u8>) -> PeerRequest {
    PeerRequest {
        method: Method::POST,
        circle,
        path_and_query: format!("/v1/c/{circle}/{route}"),
        body: Some((wire::JSON_CONTENT_TYPE.to_owned(), body)),
    }
}

async fn error_of(response: reqwest::Response) -> (StatusCode, String, serde_json::Value) {
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap();
    let code = body["error"].as_str().unwrap_or_default().to_owned();
    (status, code, body)
}

impl World {
    fn client_as(&self, who: &Arc<Identity>, destination: MemberId) -> PeerClient {
        PeerClient::new(
            &self.server.base_url(),
            destination,
            self.pin,
            who.member_id(),
            who.clone(),
            ClientTimeouts::default(),
        )
        .unwrap()
    }

    fn client(&self, who: &Arc<Identity>) -> PeerClient {
        self.client_as(who, self.me.clone())
    }

    async fn send(&self, who: &Arc<Identity>, request: PeerRequest) -> reqwest::Response {
        self.client(who)
            .send(request, self.clock.now(), random_nonce())
            .await
            .unwrap()
    }

    /// The node's own connection to a circle's store, with its folded roster.
    fn circle(&self, id: EnvelopeId) -> Circle {
        self.node
            .lock()
            .unwrap()
            .circle(Some(&id.to_hex()), self.clock.now())
            .unwrap()
    }

    /// S, the circle's only maintainer (so its proposal alone is the quorum), removes `who`
    /// from circle A; the server notices the new head as `debrief serve` does.
    fn remove(&self, who: &Identity) {
        let node = self.node.lock().unwrap();
        let mut circle = node.circle(Some(&self.a.to_hex()), self.now).unwrap();
        let proposal = circle
            .roster
            .propose(
                QuorumAction::Remove {
                    member: who.member_id(),
                    reason: "left the industry".into(),
                },
                self.now.plus_seconds(3600),
            )
            .sign(node.identity())
            .unwrap();
        let event = circle
            .roster
            .sequence(
                self.now.plus_seconds(1),
                EventBody::Remove {
                    proposal,
                    chain_tip: TipStatement::EMPTY,
                },
                node.identity(),
                Some(self.now),
            )
            .unwrap();
        circle
            .store
            .append_roster_events(Some(&circle.roster), &[event], self.now)
            .unwrap();
        drop(node);
        assert_eq!(self.state.refresh_changed().unwrap(), 1);
    }

    /// An invite for circle A by S, valid a day, recorded so its token opens `charter`/`join`.
    fn invite(&self, token: &InviteToken) -> Envelope {
        let node = self.node.lock().unwrap();
        let mut circle = node.circle(Some(&self.a.to_hex()), self.now).unwrap();
        let invite = circle
            .roster
            .invite(
                &self.me,
                self.server.base_url(),
                self.pin,
                token,
                self.now.plus_seconds(86_400),
            )
            .sign(node.identity())
            .unwrap();
        invites::record_invite(&mut circle.store, &circle.roster, &invite).unwrap();
        invite
    }

    fn join_request(&self, token: &InviteToken) -> Envelope {
        let circle = self.circle(self.a);
        JoinRequest {
            circle: self.a,
            card: self
                .erin
                .signed_card(Some("https://erin.example.net:8443"), self.now)
                .unwrap(),
            charter_sha256: circle.roster.charter_sha256(),
            invite_token: token.to_hex(),
            rotations: Vec::new(),
        }
        .sign(self.erin.as_ref())
        .unwrap()
    }

    /// POSTs `body` to circle A's `join` with an invite token header and no signature.
    async fn post_join(&self, token: Option<&str>, body: Vec<u8>) -> reqwest::Response {
        let http = pinned_client(self.pin, ClientTimeouts::default()).unwrap();
        let mut request = http
            .post(format!("{}/v1/c/{}/join", self.server.base_url(), self.a))
            .header("content-type", wire::JSON_CONTENT_TYPE)
            .body(body);
        if let Some(token) = token {
            request = request.header(wire::INVITE_HEADER, token);
        }
        request.send().await.unwrap()
    }

    /// What circle A holds pending, as Alice sees it.
    async fn pending(&self) -> Vec<EnvelopeId> {
        let response = self.send(&self.alice, get(self.a, "pending")).await;
        assert_eq!(response.status(), StatusCode::OK);
        let list: PendingList = response.json().await.unwrap();
        list.items.iter().map(|i| i.id).collect()
    }

    /// The fork proofs circle A holds, as Alice sees them.
    async fn forks(&self) -> usize {
        let response = self.send(&self.alice, get(self.a, "forks")).await;
        assert_eq!(response.status(), StatusCode::OK);
        let list: ForkList = response.json().await.unwrap();
        list.proofs.len()
    }
}

fn bundle_path(circle: EnvelopeId, id: EnvelopeId) -> String {
    format!("/v1/c/{circle}/bundles/{id}")
}

fn put_bundle(circle: EnvelopeId, object: EnvelopeId, bytes: &[u8]) -> PeerRequest {
    PeerRequest {
        method: Method::PUT,
        circle,
        path_and_query: bundle_path(circle, object),
        body: Some((wire::JSON_CONTENT_TYPE.to_owned(), bytes.to_vec())),
    }
}

fn get_bundle(circle: EnvelopeId, object: EnvelopeId) -> PeerRequest {
    PeerRequest {
        method: Method::GET,
        circle,
        path_and_query: bundle_path(circle, object),
        body: None,
    }
}

/// The outsider's answer (protocol.md §4.2.3): nothing says whether the circle or member exists.
fn assert_outsider(r: (StatusCode, String, serde_json::Value)) {
    assert_eq!(r.0, StatusCode::NOT_FOUND, "{}", r.2);
    assert_eq!(r.1, "not_found");
    assert_eq!(r.2["message"], "not found");
}

#[tokio::test]
async fn attack_removed_members_http_request() {
    let w = world(ServerLimits::default()).await;
    assert_eq!(
        w.send(&w.bob, get(w.a, "info")).await.status(),
        StatusCode::OK
    );
    w.remove(&w.bob);
    // protocol.md §4.2.2: membership is looked up in the current roster on every request, so
    // Bob's very next request is refused, reads and writes alike.
    assert_outsider(error_of(w.send(&w.bob, get(w.a, "info")).await).await);
    assert_outsider(error_of(w.send(&w.bob, get(w.a, "roster")).await).await);
    let body = br#"{"payloadType":"x","payload":"","signatures":[]}"#.to_vec();
    assert_outsider(error_of(w.send(&w.bob, post(w.a, "forks", body)).await).await);
    assert_eq!(w.forks().await, 0, "nothing stored");
    // Alice is unaffected.
    assert_eq!(
        w.send(&w.alice, get(w.a, "info")).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn attack_replayed_http_request() {
    let w = world(ServerLimits::default()).await;
    let client = w.client(&w.alice);
    let request = get(w.a, "info");
    let claim = client
        .claim_for(&request, w.now, RequestNonce([1; 16]))
        .unwrap();
    let first = client.build(request.clone(), &claim).unwrap().send().await;
    assert_eq!(first.unwrap().status(), StatusCode::OK);
    // Mallory captured the signed request (e.g. from a log) and sends it again, byte for byte.
    let replay = client.build(request, &claim).unwrap().send().await.unwrap();
    let (status, code, _) = error_of(replay).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "replayed_request")
    );
    assert_eq!(
        w.state.replay.len(),
        1,
        "only the genuine request is remembered"
    );
}

#[tokio::test]
async fn attack_stale_timestamp() {
    let w = world(ServerLimits::default()).await;
    let client = w.client(&w.alice);
    // protocol.md §4.5: outside ±120 s of the server's clock, whichever way.
    for skew in [-121, 121, -86_400] {
        let response = client
            .send(get(w.a, "info"), w.now.plus_seconds(skew), random_nonce())
            .await
            .unwrap();
        let (status, code, body) = error_of(response).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::UNAUTHORIZED, "stale_request"),
            "skew {skew}"
        );
        assert_eq!(body["server_time"], serde_json::json!(w.now.to_string()));
    }
    // A request stale enough to have left the replay window is not remembered either.
    assert_eq!(w.state.replay.len(), 0);
}

#[tokio::test]
async fn attack_request_signed_for_another_destination_or_circle() {
    let w = world(ServerLimits::default()).await;
    // Alice signed this request for Bob's node; Bob (or anyone on the path) forwards it here.
    let misdirected = w
        .client_as(&w.alice, w.bob.member_id())
        .send(get(w.a, "info"), w.now, random_nonce())
        .await
        .unwrap();
    let (status, code, _) = error_of(misdirected).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "wrong_destination")
    );
    // Signed for circle B, sent to circle A's path.
    let crossed = PeerRequest {
        circle: w.b,
        ..get(w.a, "info")
    };
    let (status, code, _) = error_of(w.send(&w.alice, crossed).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "wrong_circle")
    );
    // Signed for another route of the same circle.
    let client = w.client(&w.alice);
    let request = get(w.a, "info");
    let mut claim = client.claim_for(&request, w.now, random_nonce()).unwrap();
    claim.path = format!("/v1/c/{}/roster", w.a);
    let response = client.build(request, &claim).unwrap().send().await.unwrap();
    let (status, code, _) = error_of(response).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "request_mismatch")
    );
    assert_eq!(w.state.replay.len(), 0, "no refused request is remembered");
}

#[tokio::test]
async fn attack_nonce_memory_exhaustion() {
    let limits = ServerLimits {
        replay_capacity: 2,
        ..ServerLimits::default()
    };
    let w = world(limits).await;
    let client = w.client(&w.alice);
    let request = get(w.a, "info");
    let first = client
        .claim_for(&request, w.now, RequestNonce([1; 16]))
        .unwrap();
    let response = client.build(request.clone(), &first).unwrap().send().await;
    assert_eq!(response.unwrap().status(), StatusCode::OK);
    assert_eq!(
        w.send(&w.alice, get(w.a, "info")).await.status(),
        StatusCode::OK
    );
    // Mallory floods fresh nonces to push the first one out of memory, so that its replay
    // would pass: protocol.md §4.6 answers 503 instead of forgetting early.
    for _ in 0..3 {
        let flood = w.send(&w.alice, get(w.a, "info")).await;
        assert_eq!(flood.headers()["retry-after"], "121");
        let (status, code, _) = error_of(flood).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, "replay_memory_full")
        );
    }
    assert_eq!(w.state.replay.len(), 2);
    // At the very end of its window, the first request is still known.
    w.clock.advance(120);
    let replay = client.build(request, &first).unwrap().send().await.unwrap();
    let (status, code, _) = error_of(replay).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "replayed_request")
    );
}

#[tokio::test]
async fn attack_endless_data_oversized_body() {
    let limits = ServerLimits {
        max_request_body: 1024,
        max_join_body: 1024,
        ..ServerLimits::default()
    };
    let w = world(limits).await;
    // A member's signed POST over the cap.
    let (status, code, _) =
        error_of(w.send(&w.alice, post(w.a, "forks", vec![b' '; 4096])).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    // A read route takes no body at all (protocol.md §4.8.7).
    let mut read_with_body = get(w.a, "info");
    read_with_body.body = Some((wire::JSON_CONTENT_TYPE.into(), b"{}".to_vec()));
    let (status, code, _) = error_of(w.send(&w.alice, read_with_body).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    // An unsigned join with any token, over the join cap.
    let token = InviteToken::from_bytes([9; 32]).to_hex();
    let (status, code, _) = error_of(w.post_join(Some(&token), vec![b' '; 4096]).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    assert_eq!(w.forks().await, 0);
    assert!(w.pending().await.is_empty());
}

/// Opens a raw TLS connection (pinned like a peer's), sends `head` and the first `sent` bytes
/// of `body`, then stops sending and reads until the server closes. `Err` if the server still
/// held the connection open after a minute (the attack succeeded).
fn trickle(
    addr: SocketAddr,
    pin: Sha256Digest,
    head: &[u8],
    body: &[u8],
    sent: usize,
) -> Result<String, std::io::Error> {
    let config = Arc::new(pinned_client_config(pin).unwrap());
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(config, name).unwrap();
    let tcp = std::net::TcpStream::connect(addr).unwrap();
    // A guard against a server that never answers: the test fails instead of hanging.
    tcp.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(head).unwrap();
    tls.write_all(&body[..sent]).unwrap();
    tls.flush().unwrap();
    let mut answer = Vec::new();
    match tls.read_to_end(&mut answer) {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Err(e)
        }
        // Closed: cleanly, or with a reset or an unclean TLS end; what was read stands.
        _ => Ok(String::from_utf8_lossy(&answer).into_owned()),
    }
}

#[tokio::test]
async fn attack_slow_upload() {
    let limits = ServerLimits {
        idle_timeout: Duration::from_secs(1),
        ..ServerLimits::default()
    };
    let w = world(limits).await;
    let client = w.client(&w.alice);
    let body = vec![b' '; 1000];
    let request = post(w.a, "forks", body.clone());
    let claim = client.claim_for(&request, w.now, random_nonce()).unwrap();
    let auth = auth_header_value(&claim, w.alice.as_ref()).unwrap();
    let head = format!(
        "POST /v1/c/{}/forks HTTP/1.1\r\nhost: localhost\r\ncontent-type: {}\r\ncontent-length: {}\r\n{}: {}\r\n\r\n",
        w.a,
        wire::JSON_CONTENT_TYPE,
        body.len(),
        wire::AUTH_HEADER,
        auth.to_str().unwrap(),
    );
    let (addr, pin) = (w.server.local_addr(), w.pin);
    // Mallory sends the headers and 10 bytes of the body, then trickles nothing more: the
    // server cuts the upload off after the idle timeout (protocol.md §4.8.7).
    let answer =
        tokio::task::spawn_blocking(move || trickle(addr, pin, head.as_bytes(), &body, 10))
            .await
            .unwrap()
            .expect("the server held the stalled upload open");
    assert!(
        answer.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{answer}"
    );
    assert!(answer.contains(r#""error":"request_timeout""#), "{answer}");
    assert!(
        answer.contains("the request body stalled for more than 1 s"),
        "{answer}"
    );
    assert_eq!(w.forks().await, 0, "nothing stored");

    // Slower still: half the headers, then nothing. The request timeout cannot start before
    // the headers are in, so the header timeout closes the connection, without an answer
    // (protocol.md §4.8.7.3). Before this rule the connection stayed open indefinitely.
    let half = format!("POST /v1/c/{}/forks HTTP/1.1\r\nhost: localhost\r\n", w.a);
    let answer = tokio::task::spawn_blocking(move || trickle(addr, pin, half.as_bytes(), &[], 0))
        .await
        .unwrap()
        .expect("the server held the half-sent headers open");
    assert_eq!(answer, "");
}

#[tokio::test]
async fn attack_join_without_a_valid_token_http() {
    let w = world(ServerLimits::default()).await;
    let token = InviteToken::from_bytes([7; 32]);
    w.invite(&token);
    let join = w.join_request(&token);
    // No token at all.
    let (status, code, _) = error_of(w.post_join(None, join.to_json()).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    // A guessed token: it opens nothing, exactly like an unknown circle (protocol.md §4.11.1).
    let guess = InviteToken::from_bytes([8; 32]).to_hex();
    assert_outsider(error_of(w.post_join(Some(&guess), join.to_json()).await).await);
    // A malformed token.
    let (status, code, _) = error_of(w.post_join(Some("00ff"), join.to_json()).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    // Mallory holds the real token but sends a join request carrying another one.
    let other = w.join_request(&InviteToken::from_bytes([8; 32]));
    let (status, code, body) =
        error_of(w.post_join(Some(&token.to_hex()), other.to_json()).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_object")
    );
    assert_eq!(
        body["message"],
        "the join request carries another invite token than the Debrief-Invite header"
    );
    assert!(w.pending().await.is_empty(), "nothing stored");
}

#[tokio::test]
async fn attack_tampered_or_expired_invite_http() {
    let w = world(ServerLimits::default()).await;
    let token = InviteToken::from_bytes([7; 32]);
    let invite = w.invite(&token);
    // A tampered invite (its expiry pushed a year out, the maintainer's signature kept) is
    // refused by the node that would record it (protocol.md §2.8: signed by a maintainer).
    let mut payload: serde_json::Value = invite.unverified_payload().unwrap();
    payload["expires"] = serde_json::json!(w.now.plus_seconds(365 * 86_400).to_string());
    let tampered = with_payload(
        &invite,
        debrief_tests::attack_kit::canonical_bytes(&payload),
    );
    {
        let node = w.node.lock().unwrap();
        let mut circle = node.circle(Some(&w.a.to_hex()), w.now).unwrap();
        let err = invites::record_invite(&mut circle.store, &circle.roster, &tampered).unwrap_err();
        assert!(
            matches!(&err, InviteError::Invalid(m) if m.contains("signature")),
            "{err}"
        );
    }
    // A token with one character changed opens nothing.
    let mut flipped = token.to_hex();
    flipped.replace_range(0..1, if flipped.starts_with('0') { "1" } else { "0" });
    let join = w.join_request(&token);
    assert_outsider(error_of(w.post_join(Some(&flipped), join.to_json()).await).await);
    // The genuine invite, a day and a second later: expired (protocol.md §4.11.1).
    w.clock.advance(86_401);
    let (status, code, _) =
        error_of(w.post_join(Some(&token.to_hex()), join.to_json()).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::GONE, "invite_expired")
    );
    let http = pinned_client(w.pin, ClientTimeouts::default()).unwrap();
    let charter = http
        .get(format!("{}/v1/c/{}/charter", w.server.base_url(), w.a))
        .header(wire::INVITE_HEADER, token.to_hex())
        .send()
        .await
        .unwrap();
    let (status, code, _) = error_of(charter).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::GONE, "invite_expired")
    );
    assert!(w.pending().await.is_empty(), "nothing stored");
}

#[tokio::test]
async fn attack_vouch_by_removed_member_http() {
    let w = world(ServerLimits::default()).await;
    let token = InviteToken::from_bytes([7; 32]);
    w.invite(&token);
    let join = w.join_request(&token);
    let response = w.post_join(Some(&token.to_hex()), join.to_json()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let roster = w.circle(w.a).roster;
    let vouch = roster
        .vouch(
            &w.bob.member_id(),
            join.id(),
            w.now,
            w.now.plus_seconds(86_400),
            "We know them.".into(),
        )
        .sign(w.bob.as_ref())
        .unwrap();
    w.remove(&w.bob);
    // Bob, removed, posts his vouch himself: refused at the door.
    assert_outsider(error_of(w.send(&w.bob, post(w.a, "join", vouch.to_json())).await).await);
    // Alice relays Bob's vouch for him: it does not count (protocol.md §2.7, §2.13).
    let (status, code, body) =
        error_of(w.send(&w.alice, post(w.a, "join", vouch.to_json())).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_object")
    );
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with("vouch refused (protocol.md §2.7): ") && message.contains("removed"),
        "{message}"
    );
    assert_eq!(
        w.pending().await,
        vec![join.id()],
        "only the join request is held"
    );
}

impl World {
    /// The feed of circle A as `who` pages through it from `after` with `limit`.
    async fn feed(&self, who: &Arc<Identity>, query: &str) -> reqwest::Response {
        self.send(who, get(self.a, &format!("feed{query}"))).await
    }

    /// Every object id in `who`'s feed of circle A, paging from `after`.
    async fn feed_ids(&self, who: &Arc<Identity>, after: &str) -> Vec<EnvelopeId> {
        let mut ids = Vec::new();
        let mut cursor = after.to_owned();
        loop {
            let response = self.feed(who, &format!("?after={cursor}&limit=1")).await;
            assert_eq!(response.status(), StatusCode::OK);
            let page: FeedPage = response.json().await.unwrap();
            ids.extend(page.items.iter().map(|i| i.object));
            if page.items.is_empty() {
                return ids;
            }
            cursor = page.next;
        }
    }
}

/// Bob, a member acting as relay, PUTs corrupt copies of Alice's report under its object id
/// before the genuine one arrives (a flipped ciphertext byte, a truncated copy), hoping the
/// node then answers "already held" to the genuine bundle. Each copy is refused with its rule
/// and quarantined by the SHA-256 of its full bytes; the genuine bundle is then stored, and a
/// corrupt copy arriving later does not displace it (protocol.md §3.18, §3.29, §4.9.4).
#[tokio::test]
async fn attack_corrupt_copy_put_by_relay_http() {
    let w = world(ServerLimits::default()).await;
    let roster = w.circle(w.a).roster;
    let genuine = node_report(&w.alice, "Disk full on the primary")
        .seal(&roster, w.now)
        .unwrap();
    let id = genuine.id();
    let mut ct = genuine.ciphertext().to_vec();
    let last = ct.len() - 1;
    ct[last] ^= 1;
    let flipped = BundleObject::new(genuine.link().clone(), genuine.header().clone(), ct);
    let truncated = &genuine.as_bytes()[..genuine.as_bytes().len() - 20];
    for (copy, reason) in [(flipped.as_bytes(), "§3.18: "), (truncated, "§3.2: ")] {
        let (status, code, body) = error_of(w.send(&w.bob, put_bundle(w.a, id, copy)).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_object")
        );
        let message = body["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("bundle refused ({reason}"))
                && message.ends_with(&format!(
                    "); quarantined as {}",
                    Sha256Digest::of(copy).to_hex()
                )),
            "{message}"
        );
    }
    // Nothing held under that id.
    assert_outsider(error_of(w.send(&w.alice, get_bundle(w.a, id)).await).await);
    // The genuine bundle: stored.
    let response = w
        .send(&w.alice, put_bundle(w.a, id, genuine.as_bytes()))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    // The corrupt copy again: refused, not "already held"; the genuine copy stays.
    let (status, code, _) = error_of(
        w.send(&w.bob, put_bundle(w.a, id, flipped.as_bytes()))
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_object")
    );
    let got = w.send(&w.bob, get_bundle(w.a, id)).await;
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.bytes().await.unwrap().as_ref(), genuine.as_bytes());
    let response = w
        .send(&w.alice, put_bundle(w.a, id, genuine.as_bytes()))
        .await;
    assert_eq!(response.status(), StatusCode::OK, "held");
}

/// Endless data through the PUT route: a body over `max_bundle` (413 before it is stored), an
/// age header padded past its bound (422, quarantined; protocol.md §3.22, §4.8.7, §4.9.4).
#[tokio::test]
async fn attack_endless_data_at_bundle_put() {
    let limits = ServerLimits {
        max_bundle: 64 * 1024,
        ..ServerLimits::default()
    };
    let w = world(limits).await;
    let roster = w.circle(w.a).roster;
    let report = node_report(&w.alice, "Slow").seal(&roster, w.now).unwrap();
    let line = format!("{}\n", "A".repeat(64));
    let stanza = format!("-> grease\n{}\n", line.repeat(500));
    let intro = debrief_protocol::bundle::AGE_INTRO.len();
    let mut ct = report.ciphertext()[..intro].to_vec();
    ct.extend_from_slice(stanza.as_bytes());
    ct.extend_from_slice(&report.ciphertext()[intro..]);
    let padded = forge_bundle(&report, header_json(&report), ct, w.alice.as_ref());
    let (status, code, body) = error_of(
        w.send(&w.alice, put_bundle(w.a, padded.id(), padded.as_bytes()))
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_object")
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("bundle refused (§3.22: "),
        "{body}"
    );
    let line = format!("{}\n", "A".repeat(64));
    let stanza = format!("-> grease\n{}\n", line.repeat(2_000));
    let mut ct = report.ciphertext()[..intro].to_vec();
    ct.extend_from_slice(stanza.as_bytes());
    ct.extend_from_slice(&report.ciphertext()[intro..]);
    let huge = forge_bundle(&report, header_json(&report), ct, w.alice.as_ref());
    assert!(huge.as_bytes().len() > 64 * 1024);
    let (status, code, _) = error_of(
        w.send(&w.alice, put_bundle(w.a, huge.id(), huge.as_bytes()))
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    assert!(w.feed_ids(&w.alice, "0").await.is_empty(), "nothing stored");
}

/// Alice shares a RED report with the node S only. Bob, a member but not a recipient, asks for
/// it by object id and reads the feed: the answer is the one for an object never held, and the
/// feed never lists the header; the chain link, which every member sees, is all he gets
/// (protocol.md §3.21, §3.32, §4.9.1–§4.9.3).
#[tokio::test]
async fn attack_red_bundle_or_header_requested_by_non_recipient_http() {
    let w = world(ServerLimits::default()).await;
    let roster = w.circle(w.a).roster;
    let mut share = node_report(&w.alice, "Our auth outage");
    share.tlp = debrief_protocol::bundle::Tlp::Red;
    share.named = vec![w.me.clone()];
    let red = share.seal(&roster, w.now).unwrap();
    let response = w
        .send(&w.alice, put_bundle(w.a, red.id(), red.as_bytes()))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);

    let unknown = EnvelopeId(Sha256Digest::of(b"never held"));
    let never_held = error_of(w.send(&w.bob, get_bundle(w.a, unknown)).await).await;
    let asked = error_of(w.send(&w.bob, get_bundle(w.a, red.id())).await).await;
    assert_outsider(asked.clone());
    assert_eq!(
        asked, never_held,
        "indistinguishable from an object never held"
    );
    assert!(w.feed_ids(&w.bob, "0").await.is_empty());
    // Alice, a recipient, sees it; Bob sees only its chain link.
    assert_eq!(w.feed_ids(&w.alice, "0").await, vec![red.id()]);
    let got = w.send(&w.alice, get_bundle(w.a, red.id())).await;
    assert_eq!(got.bytes().await.unwrap().as_ref(), red.as_bytes());
    let links: LinksPage = w
        .send(&w.bob, get(w.a, "links"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(links.links, vec![red.link().clone()]);
    // In a batch (§4.9.3) the RED object is listed as absent, exactly like one never held.
    let batch = |who| {
        let route = format!("bundles?ids={},{}", red.id(), unknown);
        let w = &w;
        async move {
            let r = w.send(who, get(w.a, &route)).await;
            assert_eq!(r.status(), StatusCode::OK);
            r.json::<wire::BundleBatch>().await.unwrap()
        }
    };
    let bob = batch(&w.bob).await;
    assert!(bob.objects.is_empty());
    assert_eq!(bob.absent, vec![red.id(), unknown]);
    let alice = batch(&w.alice).await;
    assert_eq!(alice.objects.len(), 1);
    assert_eq!(alice.objects[0].get().as_bytes(), red.as_bytes());
    assert_eq!(alice.absent, vec![unknown]);
}

/// Bob tampers with his feed cursor: negative, not a number, past `i64`, an unknown parameter,
/// a page size out of bounds (all 400), and every valid cursor around the hidden RED row. No
/// cursor shows him the RED header; the circle-wide ones appear exactly once
/// (protocol.md §4.9.1, §4.9.2).
#[tokio::test]
async fn attack_feed_cursor_tampering_http() {
    let w = world(ServerLimits::default()).await;
    let roster = w.circle(w.a).roster;
    let amber = node_report(&w.alice, "Circle-wide")
        .seal(&roster, w.now)
        .unwrap();
    let mut share =
        node_report(&w.alice, "Named only").at(debrief_tests::attack_kit::ChainPos::after(&amber));
    share.tlp = debrief_protocol::bundle::Tlp::Red;
    share.named = vec![w.me.clone()];
    let red = share.seal(&roster, w.now).unwrap();
    let amber2 = node_report(&w.bob, "Circle-wide again")
        .seal(&roster, w.now)
        .unwrap();
    for (who, b) in [(&w.alice, &amber), (&w.alice, &red), (&w.bob, &amber2)] {
        let response = w.send(who, put_bundle(w.a, b.id(), b.as_bytes())).await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    for query in [
        "?after=-1",
        "?after=abc",
        "?after=99999999999999999999",
        "?after=%2B1",
        "?after=1&limit=0",
        "?after=1&limit=201",
        "?after=1&recipient=me",
    ] {
        let (status, code, _) = error_of(w.feed(&w.bob, query).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::BAD_REQUEST, "bad_request"),
            "{query}"
        );
    }
    let page: FeedPage = w.feed(&w.alice, "").await.json().await.unwrap();
    let cursors: Vec<i64> = page
        .items
        .iter()
        .map(|i| i.cursor.parse().unwrap())
        .collect();
    assert_eq!(page.items[1].object, red.id());
    let red_cursor = cursors[1];
    for after in [
        0,
        cursors[0],
        red_cursor - 1,
        red_cursor,
        cursors[2],
        i64::MAX,
    ] {
        let seen = w.feed_ids(&w.bob, &after.to_string()).await;
        let expected: Vec<EnvelopeId> = [(cursors[0], amber.id()), (cursors[2], amber2.id())]
            .into_iter()
            .filter(|(c, _)| *c > after)
            .map(|(_, id)| id)
            .collect();
        assert_eq!(seen, expected, "after={after}");
    }
}
