//! The node's HTTPS server end to end (protocol.md §4.7–§4.12): real nodes with real keys and
//! SQLite stores in temp dirs, real HTTPS on 127.0.0.1 port 0, roster changes made with the
//! protocol's own authoring helpers. Time is a `FixedClock`, so skew, replay and rate limits
//! are deterministic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use debrief_keys::Passphrase;
use debrief_node::home::Home;
use debrief_node::http::client::{
    ClientTimeouts, PeerClient, PeerRequest, pinned_client, random_nonce,
};
use debrief_node::http::clock::{Clock, FixedClock};
use debrief_node::http::serve::{RunningServer, serve_tls};
use debrief_node::node::Node;
use debrief_node::server::{AdminServer, ServerLimits, ServerState, invites, serve_admin, storage};
use debrief_node::tls::NodeTlsIdentity;
use debrief_protocol::profile::{Industry, OrgProfile, Region, SizeBand};
use debrief_protocol::roster::{
    EventBody, ForkProof, InviteToken, JoinRequest, Policy, QuorumAction, TipStatement,
};
use debrief_protocol::wire::{
    self, Accepted, CharterResponse, CheckpointResponse, CircleInfo, ForkList, PendingList,
    ProposalList, RequestNonce, RosterPage,
};
use debrief_protocol::{
    Envelope, EnvelopeId, MemberId, PublicKey, Sha256Digest, Signer, Timestamp,
};
use reqwest::{Method, StatusCode};
use zeroize::Zeroizing;

/// A node shared between the test and the clients that sign with its identity.
#[derive(Clone)]
struct Member(Arc<Mutex<Node>>);

impl Signer for Member {
    fn public_key(&self) -> PublicKey {
        self.0.lock().unwrap().identity().public_key()
    }
    fn sign_message(&self, message: &[u8]) -> [u8; 64] {
        self.0.lock().unwrap().identity().sign_message(message)
    }
}

impl Member {
    fn id(&self) -> MemberId {
        self.0.lock().unwrap().identity().member_id()
    }
    fn card(&self, now: Timestamp) -> Envelope {
        self.0.lock().unwrap().signed_card(now).unwrap()
    }
}

fn new_member(dir: &std::path::Path, org: &str, now: Timestamp) -> Member {
    let profile = OrgProfile {
        industry: Industry::Saas,
        size_band: SizeBand::M,
        region: Region::Europe,
    };
    let pass = Passphrase::new(Zeroizing::new("correct horse battery".to_owned())).unwrap();
    let node = Node::init(Home::at(dir), org, profile, None, pass, Some(10), now).unwrap();
    Member(Arc::new(Mutex::new(node)))
}

/// The server node S maintains and sequences circle A (members Alice and Bob) and circle B
/// (member Carol); Dave belongs to no circle; Erin is a candidate.
struct World {
    _dir: tempfile::TempDir,
    now: Timestamp,
    clock: Arc<FixedClock>,
    server_node: Member,
    alice: Member,
    bob: Member,
    carol: Member,
    dave: Member,
    erin: Member,
    a: EnvelopeId,
    b: EnvelopeId,
    state: Arc<ServerState>,
    server: RunningServer,
    admin: AdminServer,
    pin: Sha256Digest,
}

const CHARTER: &str = "Share what went wrong; never name a customer.";

async fn world(limits: ServerLimits) -> World {
    let dir = tempfile::tempdir().unwrap();
    let now = debrief_node::node::now();
    let server_node = new_member(&dir.path().join("s"), "Server Co", now);
    let alice = new_member(&dir.path().join("alice"), "Alice Co", now);
    let bob = new_member(&dir.path().join("bob"), "Bob Co", now);
    let carol = new_member(&dir.path().join("carol"), "Carol Co", now);
    let dave = new_member(&dir.path().join("dave"), "Dave Co", now);
    let erin = new_member(&dir.path().join("erin"), "Erin Co", now);
    let (a, b, circles, me, tls) = {
        let node = server_node.0.lock().unwrap();
        let a = node
            .create_circle(
                "ops",
                CHARTER,
                Policy::default(),
                vec![alice.card(now), bob.card(now)],
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
                vec![carol.card(now)],
                now,
            )
            .unwrap()
            .roster
            .circle_id();
        let tls = NodeTlsIdentity::from_seed(&node.identity().tls_seed()).unwrap();
        (
            a,
            b,
            node.circles(now).unwrap(),
            node.identity().member_id(),
            tls,
        )
    };
    let clock = Arc::new(FixedClock::new(now));
    let state = ServerState::new(me, circles, clock.clone() as Arc<dyn Clock>, limits).unwrap();
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = serve_tls(addr, tls.server_config().unwrap(), state.router())
        .await
        .unwrap();
    let admin = serve_admin(addr, &state).await.unwrap();
    World {
        _dir: dir,
        now,
        clock,
        server_node,
        alice,
        bob,
        carol,
        dave,
        erin,
        a,
        b,
        state,
        server,
        admin,
        pin: tls.pin(),
    }
}

impl World {
    fn client_as(&self, who: &Member, destination: MemberId) -> PeerClient {
        PeerClient::new(
            &self.server.base_url(),
            destination,
            self.pin,
            who.id(),
            Arc::new(who.clone()),
            ClientTimeouts::default(),
        )
        .unwrap()
    }

    fn client(&self, who: &Member) -> PeerClient {
        self.client_as(who, self.server_node.id())
    }

    async fn get(&self, who: &Member, circle: EnvelopeId, route: &str) -> reqwest::Response {
        self.client(who)
            .send(get(circle, route), self.clock.now(), random_nonce())
            .await
            .unwrap()
    }

    async fn post(
        &self,
        who: &Member,
        circle: EnvelopeId,
        route: &str,
        body: Vec<u8>,
    ) -> reqwest::Response {
        let request = PeerRequest {
            method: Method::POST,
            circle,
            path_and_query: format!("/v1/c/{circle}/{route}"),
            body: Some((wire::JSON_CONTENT_TYPE.to_owned(), body)),
        };
        self.client(who)
            .send(request, self.clock.now(), random_nonce())
            .await
            .unwrap()
    }

    /// The server node's own second connection to a circle's store, with its folded roster.
    fn server_circle(&self, circle: EnvelopeId) -> debrief_node::node::Circle {
        self.server_node
            .0
            .lock()
            .unwrap()
            .circle(Some(&circle.to_hex()), self.clock.now())
            .unwrap()
    }

    fn token_client(&self) -> reqwest::Client {
        pinned_client(self.pin, ClientTimeouts::default()).unwrap()
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

async fn json<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    status: StatusCode,
) -> T {
    let got = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

async fn error_of(response: reqwest::Response) -> (StatusCode, String, serde_json::Value) {
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap();
    let code = body["error"].as_str().unwrap().to_owned();
    (status, code, body)
}

/// Two different seq-1 events signed by the sequencer: the equivocation a fork proof shows.
fn fork_proof(w: &World) -> ForkProof {
    let circle = w.server_circle(w.a);
    let roster = circle.roster;
    let s = &w.server_node;
    let proposal = roster
        .propose(
            QuorumAction::SetRole {
                member: w.alice.id(),
                maintainer: true,
            },
            w.now.plus_seconds(3600),
        )
        .sign(s)
        .unwrap();
    let one = roster
        .next_event(
            w.now.plus_seconds(1),
            EventBody::SetRole {
                proposal: proposal.clone(),
            },
        )
        .sign(s)
        .unwrap();
    let two = roster
        .next_event(w.now.plus_seconds(2), EventBody::SetRole { proposal })
        .sign(s)
        .unwrap();
    ForkProof::new(w.a, 1, one, two)
}

#[tokio::test]
async fn every_route_answers_a_member() {
    let w = world(ServerLimits::default()).await;

    // info
    let info: CircleInfo = json(w.get(&w.alice, w.a, "info").await, StatusCode::OK).await;
    assert_eq!(info.circle, w.a);
    assert_eq!(info.name, "ops");
    assert_eq!(info.node, w.server_node.id());
    assert_eq!(info.roster.seq, 0);
    assert_eq!(info.roster.head, w.a);
    assert!(!info.frozen);
    assert_eq!(info.server_time, w.now);

    // roster
    let page: RosterPage = json(w.get(&w.alice, w.a, "roster").await, StatusCode::OK).await;
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.events[0].id(), w.a);
    assert!(!page.more);
    let page: RosterPage = json(w.get(&w.alice, w.a, "roster?after=0").await, StatusCode::OK).await;
    assert!(page.events.is_empty());
    assert_eq!(page.head.seq, 0);
    let (status, code, _) = error_of(w.get(&w.alice, w.a, "roster?after=x").await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "bad_request")
    );

    // checkpoint: none yet, then the sequencer's.
    let (status, code, _) = error_of(w.get(&w.alice, w.a, "checkpoint").await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let mut circle = w.server_circle(w.a);
    let checkpoint = circle
        .roster
        .checkpoint(w.now, w.now.plus_seconds(3600))
        .sign(&w.server_node)
        .unwrap();
    storage::record_checkpoint(&mut circle.store, &circle.roster, &checkpoint, w.now).unwrap();
    let got: CheckpointResponse =
        json(w.get(&w.alice, w.a, "checkpoint").await, StatusCode::OK).await;
    assert_eq!(got.checkpoint, checkpoint);

    // proposals
    let list: ProposalList = json(w.get(&w.alice, w.a, "proposals").await, StatusCode::OK).await;
    assert!(list.proposals.is_empty());
    let proposal = circle
        .roster
        .propose(
            QuorumAction::SetRole {
                member: w.bob.id(),
                maintainer: true,
            },
            w.now.plus_seconds(3600),
        )
        .sign(&w.server_node)
        .unwrap();
    storage::upsert_proposal(
        &mut circle.store,
        &proposal,
        w.now.plus_seconds(3600),
        w.now,
    )
    .unwrap();
    let list: ProposalList = json(w.get(&w.bob, w.a, "proposals").await, StatusCode::OK).await;
    assert_eq!(list.proposals, vec![proposal]);

    // charter and join with an invite token; a member's vouch through join; pending.
    let token = InviteToken::from_bytes([7; 32]);
    let invite = circle
        .roster
        .invite(
            &w.server_node.id(),
            w.server.base_url(),
            w.pin,
            &token,
            w.now.plus_seconds(86_400),
        )
        .sign(&w.server_node)
        .unwrap();
    invites::record_invite(&mut circle.store, &circle.roster, &invite).unwrap();
    let http = w.token_client();
    let charter_url = format!("{}/v1/c/{}/charter", w.server.base_url(), w.a);
    let charter: CharterResponse = json(
        http.get(&charter_url)
            .header(wire::INVITE_HEADER, token.to_hex())
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(charter.charter, CHARTER);
    assert_eq!(charter.circle, w.a);
    assert_eq!(charter.invite, invite);
    // An unknown token opens nothing, exactly like an unknown circle.
    let (status, code, body) = error_of(
        http.get(&charter_url)
            .header(
                wire::INVITE_HEADER,
                InviteToken::from_bytes([8; 32]).to_hex(),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    assert_eq!(body["message"], "not found");

    let join = JoinRequest {
        circle: w.a,
        card: w.erin.card(w.now),
        charter_sha256: charter.charter_sha256,
        invite_token: token.to_hex(),
        rotations: Vec::new(),
    }
    .sign(&w.erin)
    .unwrap();
    let join_url = format!("{}/v1/c/{}/join", w.server.base_url(), w.a);
    let post_join = || {
        http.post(&join_url)
            .header(wire::INVITE_HEADER, token.to_hex())
            .header("content-type", wire::JSON_CONTENT_TYPE)
            .body(join.to_json())
            .send()
    };
    let accepted: Accepted = json(post_join().await.unwrap(), StatusCode::CREATED).await;
    assert_eq!(accepted.id, join.id().to_hex());
    let again: Accepted = json(post_join().await.unwrap(), StatusCode::OK).await;
    assert_eq!(again.status, wire::AcceptStatus::Held);

    let vouch = circle
        .roster
        .vouch(
            &w.alice.id(),
            join.id(),
            w.now,
            w.now.plus_seconds(86_400),
            "We know them.".into(),
        )
        .sign(&w.alice)
        .unwrap();
    let accepted: Accepted = json(
        w.post(&w.alice, w.a, "join", vouch.to_json()).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(accepted.id, vouch.id().to_hex());
    // A vouch signed by someone else than the sponsor it names does not count.
    let forged = circle
        .roster
        .vouch(
            &w.alice.id(),
            join.id(),
            w.now,
            w.now.plus_seconds(86_400),
            "x".into(),
        )
        .sign(&w.bob)
        .unwrap();
    let (status, code, _) = error_of(w.post(&w.bob, w.a, "join", forged.to_json()).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_object")
    );

    let pending: PendingList = json(w.get(&w.bob, w.a, "pending").await, StatusCode::OK).await;
    let kinds: Vec<_> = pending.items.iter().map(|i| (i.kind, i.id)).collect();
    assert_eq!(
        kinds,
        vec![
            (wire::PendingKind::JoinRequest, join.id()),
            (wire::PendingKind::Vouch, vouch.id())
        ]
    );

    // forks: none, then a member reports one and the circle freezes.
    let list: ForkList = json(w.get(&w.alice, w.a, "forks").await, StatusCode::OK).await;
    assert!(list.proofs.is_empty());
    let proof = fork_proof(&w).sign(&w.alice).unwrap();
    let accepted: Accepted = json(
        w.post(&w.alice, w.a, "forks", proof.to_json()).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(accepted.frozen, Some(true));
    let again: Accepted = json(
        w.post(&w.bob, w.a, "forks", {
            fork_proof(&w).sign(&w.bob).unwrap().to_json()
        })
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again.status, wire::AcceptStatus::Held);
    let list: ForkList = json(w.get(&w.bob, w.a, "forks").await, StatusCode::OK).await;
    assert_eq!(list.proofs, vec![proof]);
    let info: CircleInfo = json(w.get(&w.alice, w.a, "info").await, StatusCode::OK).await;
    assert!(info.frozen);
    // A proof the sequencer never signed is refused with the rule.
    let mut bogus = fork_proof(&w);
    bogus.second = w.alice.card(w.now);
    let (status, code, body) = error_of(
        w.post(
            &w.alice,
            w.a,
            "forks",
            bogus.sign(&w.alice).unwrap().to_json(),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_object"),
        "{body}"
    );

    // The invite expires: its token now says so.
    w.clock.advance(86_400);
    let (status, code, _) = error_of(
        http.get(&charter_url)
            .header(wire::INVITE_HEADER, token.to_hex())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::GONE, "invite_expired")
    );
}

#[tokio::test]
async fn outsiders_removed_members_and_other_circles_get_404() {
    let w = world(ServerLimits::default()).await;
    let outsider = |r: (StatusCode, String, serde_json::Value)| {
        assert_eq!(r.0, StatusCode::NOT_FOUND);
        assert_eq!(r.1, "not_found");
        assert_eq!(r.2["message"], "not found");
    };
    outsider(error_of(w.get(&w.dave, w.a, "info").await).await);
    // Carol is a member of B only.
    outsider(error_of(w.get(&w.carol, w.a, "roster").await).await);
    let info: CircleInfo = json(w.get(&w.carol, w.b, "info").await, StatusCode::OK).await;
    assert_eq!(info.circle, w.b);
    // A circle this node does not hold.
    let unknown = EnvelopeId(Sha256Digest::of(b"nope"));
    outsider(error_of(w.get(&w.alice, unknown, "info").await).await);

    // Bob is a member until a quorum removes him; the next request is refused.
    let _: CircleInfo = json(w.get(&w.bob, w.a, "info").await, StatusCode::OK).await;
    let mut circle = w.server_circle(w.a);
    let proposal = circle
        .roster
        .propose(
            QuorumAction::Remove {
                member: w.bob.id(),
                reason: "left the industry".into(),
            },
            w.now.plus_seconds(3600),
        )
        .sign(&w.server_node)
        .unwrap();
    let event = circle
        .roster
        .sequence(
            w.now.plus_seconds(1),
            EventBody::Remove {
                proposal,
                chain_tip: TipStatement::EMPTY,
            },
            &w.server_node,
            Some(w.now),
        )
        .unwrap();
    circle
        .store
        .append_roster_events(Some(&circle.roster), &[event], w.now)
        .unwrap();
    // The server notices the store's new head (as `debrief serve` does every 2 s).
    assert_eq!(w.state.refresh_changed().unwrap(), 1);
    assert_eq!(w.state.refresh_changed().unwrap(), 0);
    outsider(error_of(w.get(&w.bob, w.a, "info").await).await);
    let page: RosterPage = json(w.get(&w.alice, w.a, "roster?after=0").await, StatusCode::OK).await;
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.head.seq, 1);
}

#[tokio::test]
async fn replays_stale_and_misdirected_requests_are_refused() {
    let w = world(ServerLimits::default()).await;
    let client = w.client(&w.alice);

    // Replay: the same signed request twice.
    let request = get(w.a, "info");
    let claim = client
        .claim_for(&request, w.now, RequestNonce([1; 16]))
        .unwrap();
    let first = client
        .build(request.clone(), &claim)
        .unwrap()
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let second = client
        .build(request.clone(), &claim)
        .unwrap()
        .send()
        .await
        .unwrap();
    let (status, code, _) = error_of(second).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "replayed_request")
    );

    // Stale: signed 121 s before the server's clock; the answer carries the server's time.
    let stale = client
        .send(request.clone(), w.now.plus_seconds(-121), random_nonce())
        .await
        .unwrap();
    let (status, code, body) = error_of(stale).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "stale_request")
    );
    assert_eq!(body["server_time"], serde_json::json!(w.now.to_string()));

    // Signed for another node.
    let misdirected = w
        .client_as(&w.alice, w.bob.id())
        .send(request.clone(), w.now, random_nonce())
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
    let (status, code, _) =
        error_of(client.send(crossed, w.now, random_nonce()).await.unwrap()).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "wrong_circle")
    );

    // A client holding another pin refuses the server before any request is sent.
    let wrong = PeerClient::new(
        &w.server.base_url(),
        w.server_node.id(),
        Sha256Digest::of(b"another key"),
        w.alice.id(),
        Arc::new(w.alice.clone()),
        ClientTimeouts::default(),
    )
    .unwrap();
    let err = wrong
        .send(get(w.a, "info"), w.now, random_nonce())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("request to peer failed"), "{err}");
    assert_eq!(
        w.state.replay.len(),
        1,
        "only the first accepted request is remembered"
    );
}

#[tokio::test]
async fn oversized_bodies_get_413_and_floods_get_429() {
    let limits = ServerLimits {
        max_request_body: 1024,
        max_join_body: 1024,
        rate_limit_per_minute: 60,
        rate_limit_burst: 5,
        rate_limit_unit: 64 * 1024,
        ..ServerLimits::default()
    };
    let w = world(limits).await;
    let (status, code, _) = error_of(w.post(&w.alice, w.a, "forks", vec![b' '; 2048]).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    let http = w.token_client();
    let (status, code, _) = error_of(
        http.post(format!("{}/v1/c/{}/join", w.server.base_url(), w.a))
            .header(
                wire::INVITE_HEADER,
                InviteToken::from_bytes([1; 32]).to_hex(),
            )
            .header("content-type", wire::JSON_CONTENT_TYPE)
            .body(vec![b' '; 4096])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );

    // Bob's bucket holds 5 requests and refills one a second.
    for _ in 0..5 {
        assert_eq!(w.get(&w.bob, w.a, "info").await.status(), StatusCode::OK);
    }
    let flooded = w.get(&w.bob, w.a, "info").await;
    assert_eq!(flooded.headers()["retry-after"], "1");
    let (status, code, _) = error_of(flooded).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    // Others are not affected; Bob is again after a second.
    assert_eq!(w.get(&w.carol, w.b, "info").await.status(), StatusCode::OK);
    w.clock.advance(1);
    assert_eq!(w.get(&w.bob, w.a, "info").await.status(), StatusCode::OK);
}

/// A strict reader of the Prometheus text format (0.0.4): every line is a `# HELP`, a
/// `# TYPE` or a sample of a declared metric; returns samples as (name{labels}, value).
fn parse_prometheus(text: &str) -> BTreeMap<String, f64> {
    fn is_name(s: &str) -> bool {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    }
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = BTreeMap::new();
    assert!(text.ends_with('\n'), "the exposition ends with a newline");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP has text");
            assert!(is_name(name) && !help.is_empty(), "bad HELP line {line:?}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE has a kind");
            assert!(is_name(name), "bad TYPE line {line:?}");
            assert!(["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind));
            assert!(
                types.insert(name.to_owned(), kind.to_owned()).is_none(),
                "TYPE twice: {name}"
            );
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.is_empty(),
            "unexpected line {line:?}"
        );
        let (series, value) = line.rsplit_once(' ').expect("sample has a value");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line:?}"));
        let name = match series.split_once('{') {
            None => series,
            Some((name, labels)) => {
                let labels = labels.strip_suffix('}').expect("labels close");
                // k="v" pairs separated by commas; values escape \\ \" \n only.
                let mut rest = labels;
                while !rest.is_empty() {
                    let (key, after) = rest.split_once("=\"").expect("label key");
                    assert!(is_name(key), "bad label name in {line:?}");
                    let mut chars = after.char_indices();
                    let mut end = None;
                    while let Some((i, c)) = chars.next() {
                        match c {
                            '\\' => {
                                let (_, e) = chars.next().expect("escape");
                                assert!(['\\', '"', 'n'].contains(&e), "bad escape in {line:?}");
                            }
                            '"' => {
                                end = Some(i);
                                break;
                            }
                            '\n' => panic!("raw newline"),
                            _ => {}
                        }
                    }
                    let end = end.expect("label value closes");
                    rest = &after[end + 1..];
                    if let Some(r) = rest.strip_prefix(',') {
                        rest = r;
                    } else {
                        assert!(rest.is_empty(), "junk after label in {line:?}");
                    }
                }
                name
            }
        };
        assert!(is_name(name), "bad metric name in {line:?}");
        assert!(
            types.contains_key(name),
            "sample of undeclared metric {name}"
        );
        assert!(
            samples.insert(series.to_owned(), value).is_none(),
            "series twice: {series}"
        );
    }
    samples
}

async fn admin_get(addr: SocketAddr, path: &str) -> (String, String) {
    // A plain HTTP/1.1 exchange over a std socket, on the blocking pool.
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .write_all(
                format!("GET {path} HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8(raw).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        (head.to_owned(), body.to_owned())
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn admin_listener_serves_health_and_prometheus_metrics() {
    let w = world(ServerLimits::default()).await;
    let _: CircleInfo = json(w.get(&w.alice, w.a, "info").await, StatusCode::OK).await;
    let _ = w.get(&w.dave, w.a, "info").await;
    let (head, body) = admin_get(w.admin.local_addr(), "/healthz").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body, "ok\n");
    let (head, body) = admin_get(w.admin.local_addr(), "/metrics").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    let samples = parse_prometheus(&body);
    assert_eq!(
        samples[r#"debrief_http_requests_total{route="/v1/c/{circle}/info",method="GET",status="200"}"#],
        1.0
    );
    assert_eq!(
        samples[r#"debrief_http_requests_total{route="/v1/c/{circle}/info",method="GET",status="404"}"#],
        1.0
    );
    assert_eq!(
        samples[&format!("debrief_roster_head_seq{{circle=\"{}\",name=\"ops\"}}", w.a)],
        0.0
    );
    assert_eq!(samples["debrief_replay_memory_entries"], 1.0);
    // The admin listener is not the peer listener: member routes are not there.
    let (head, _) = admin_get(w.admin.local_addr(), &format!("/v1/c/{}/info", w.a)).await;
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    w.admin.shutdown().await.unwrap();
    w.server.shutdown(Duration::from_secs(5)).await.unwrap();
}
