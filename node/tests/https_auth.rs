//! Real HTTPS on 127.0.0.1 with real keys: TLS pinning and signed-request authentication
//! (protocol.md §4.1, §4.3–§4.6).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::routing::{get, put};
use debrief_node::http::auth::{
    AuthLayerState, AuthenticatedMember, Membership, MembershipLookup, MembershipLookupFailed,
    require_signed_request,
};
use debrief_node::http::client::{ClientTimeouts, PeerClient, PeerRequest, pinned_client};
use debrief_node::http::clock::{Clock, FixedClock};
use debrief_node::http::replay::ReplayMemory;
use debrief_node::http::serve::{RunningServer, serve_tls};
use debrief_node::tls::{
    NodeTlsIdentity, PinnedServerVerifier, ed25519_pkcs8_from_seed, ring_provider,
};
use debrief_protocol::wire::{MAX_CLOCK_SKEW_SECONDS, RequestNonce};
use debrief_protocol::{EnvelopeId, MemberId, PublicKey, Sha256Digest, Signer, Timestamp};
use ed25519_dalek::SigningKey;
use reqwest::{Method, StatusCode};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

const NOW: i64 = 1_795_602_000;
const SERVER_TLS_SEED: [u8; 32] = [20; 32];
const MAX_BODY: usize = 1024;

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn circle(n: u8) -> EnvelopeId {
    EnvelopeId(Sha256Digest::of(format!("circle-{n}").as_bytes()))
}

/// The server node's member key, member 1 and 2 of circle 1, member 3 of circle 2 only;
/// key 4 belongs to no circle.
const SERVER: u8 = 21;
const ALICE: u8 = 1;
const BOB: u8 = 2;
const CAROL: u8 = 3;
const OUTSIDER: u8 = 4;

/// An in-memory roster that tests can change while the server runs.
#[derive(Default)]
struct Rosters(RwLock<BTreeMap<EnvelopeId, Vec<PublicKey>>>);

impl Rosters {
    fn remove(&self, circle: EnvelopeId, member: &MemberId) {
        let mut map = self.0.write().unwrap();
        if let Some(keys) = map.get_mut(&circle) {
            keys.retain(|k| k.member_id() != *member);
        }
    }
}

impl MembershipLookup for Rosters {
    fn membership(
        &self,
        circle: &EnvelopeId,
        member: &MemberId,
    ) -> Result<Membership, MembershipLookupFailed> {
        let map = self.0.read().map_err(|_| MembershipLookupFailed)?;
        Ok(map
            .get(circle)
            .and_then(|keys| keys.iter().find(|k| k.member_id() == *member))
            .map_or(Membership::NotFound, |k| Membership::Member(*k)))
    }
}

struct TestServer {
    server: RunningServer,
    clock: Arc<FixedClock>,
    rosters: Arc<Rosters>,
    pin: Sha256Digest,
}

async fn info(member: AuthenticatedMember) -> String {
    format!("hello {} in {}", member.member, member.circle)
}

async fn echo(member: AuthenticatedMember, body: Bytes) -> String {
    format!("{} sent {} bytes", member.member, body.len())
}

async fn start(replay_capacity: usize) -> TestServer {
    let identity = NodeTlsIdentity::from_seed(&SERVER_TLS_SEED).unwrap();
    let clock = Arc::new(FixedClock::new(Timestamp::from_unix(NOW)));
    let rosters = Arc::new(Rosters::default());
    {
        let mut map = rosters.0.write().unwrap();
        map.insert(
            circle(1),
            vec![
                key(SERVER).public_key(),
                key(ALICE).public_key(),
                key(BOB).public_key(),
            ],
        );
        map.insert(
            circle(2),
            vec![
                key(SERVER).public_key(),
                key(ALICE).public_key(),
                key(CAROL).public_key(),
            ],
        );
    }
    let state = AuthLayerState {
        own_member: key(SERVER).public_key().member_id(),
        membership: rosters.clone(),
        replay: Arc::new(ReplayMemory::new(replay_capacity, MAX_CLOCK_SKEW_SECONDS)),
        clock: clock.clone() as Arc<dyn Clock>,
        skew_seconds: MAX_CLOCK_SKEW_SECONDS,
        max_body_bytes: MAX_BODY,
        rate: None,
        idle_timeout: None,
    };
    let member_routes = Router::new()
        .route("/v1/c/{circle}/info", get(info))
        .route("/v1/c/{circle}/echo", put(echo))
        .route_layer(axum::middleware::from_fn_with_state(
            state,
            require_signed_request,
        ));
    let router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(member_routes);
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = serve_tls(addr, identity.server_config().unwrap(), router)
        .await
        .unwrap();
    TestServer {
        server,
        clock,
        rosters,
        pin: identity.pin(),
    }
}

impl TestServer {
    /// A client signing as member `who`, addressing node `destination`.
    fn client_as(&self, who: u8, destination: u8) -> PeerClient {
        PeerClient::new(
            &self.server.base_url(),
            key(destination).public_key().member_id(),
            self.pin,
            key(who).public_key().member_id(),
            Arc::new(key(who)),
            ClientTimeouts::default(),
        )
        .unwrap()
    }

    fn client(&self, who: u8) -> PeerClient {
        self.client_as(who, SERVER)
    }
}

fn get_info(c: u8) -> PeerRequest {
    PeerRequest {
        method: Method::GET,
        circle: circle(c),
        path_and_query: format!("/v1/c/{}/info", circle(c)),
        body: None,
    }
}

fn nonce(n: u8) -> RequestNonce {
    RequestNonce([n; 16])
}

async fn error_of(response: reqwest::Response) -> (StatusCode, serde_json::Value) {
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap();
    (status, body)
}

/// The rustls error somewhere in a reqwest error's chain (io errors hide their inner error
/// from `source()`, so look inside them too).
fn rustls_error_in(err: &(dyn std::error::Error + 'static)) -> Option<rustls::Error> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            return Some(r.clone());
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
        {
            return rustls_error_in(inner);
        }
        current = e.source();
    }
    None
}

#[tokio::test]
async fn pinned_client_reaches_the_server_and_a_wrong_pin_is_refused() {
    let t = start(100).await;
    let url = format!("{}/healthz", t.server.base_url());
    let client = pinned_client(t.pin, ClientTimeouts::default()).unwrap();
    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "ok");

    let other_pin = NodeTlsIdentity::from_seed(&[99; 32]).unwrap().pin();
    let wrong = pinned_client(other_pin, ClientTimeouts::default()).unwrap();
    let err = wrong.get(&url).send().await.unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    assert_eq!(
        rustls_error_in(&err),
        Some(rustls::Error::InvalidCertificate(
            rustls::CertificateError::ApplicationVerificationFailure
        ))
    );

    // Plain http is refused by the client before any connection.
    let plain = client
        .get(format!("http://{}/healthz", t.server.local_addr()))
        .send()
        .await
        .unwrap_err();
    assert!(plain.is_builder(), "{plain:?}");
    t.server.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn a_replayed_certificate_without_its_key_fails_the_handshake() {
    // The server presents the genuine certificate (right pin) but holds another private key:
    // only the handshake signature check can catch this.
    let genuine = NodeTlsIdentity::from_seed(&SERVER_TLS_SEED).unwrap();
    let thief_key = ring_provider()
        .key_provider
        .load_private_key(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            ed25519_pkcs8_from_seed(&[66; 32]).to_vec(),
        )))
        .unwrap();
    let certified =
        rustls::sign::CertifiedKey::new(vec![genuine.certificate_der().clone()], thief_key);
    let mut config = rustls::ServerConfig::builder_with_provider(ring_provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(certified)));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let router = Router::new().route("/healthz", get(|| async { "ok" }));
    let server = serve_tls("127.0.0.1:0".parse().unwrap(), Arc::new(config), router)
        .await
        .unwrap();

    let client = pinned_client(genuine.pin(), ClientTimeouts::default()).unwrap();
    let err = client
        .get(format!("{}/healthz", server.base_url()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        rustls_error_in(&err),
        Some(rustls::Error::InvalidCertificate(
            rustls::CertificateError::BadSignature
        ))
    );
    // The TLS 1.2 signature path refuses it too.
    let tls12 = client_with_versions(genuine.pin(), &[&rustls::version::TLS12]);
    let err = tls12
        .get(format!("{}/healthz", server.base_url()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        rustls_error_in(&err),
        Some(rustls::Error::InvalidCertificate(
            rustls::CertificateError::BadSignature
        ))
    );
    server.shutdown(Duration::from_secs(5)).await.unwrap();
}

/// A pinned reqwest client limited to some TLS versions.
fn client_with_versions(
    pin: Sha256Digest,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> reqwest::Client {
    let mut config = rustls::ClientConfig::builder_with_provider(ring_provider())
        .with_protocol_versions(versions)
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedServerVerifier::new(pin)))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_genuine_server_passes_over_tls_1_2_and_1_3() {
    let t = start(100).await;
    for versions in [
        &[&rustls::version::TLS12][..],
        &[&rustls::version::TLS13][..],
    ] {
        let client = client_with_versions(t.pin, versions);
        let response = client
            .get(format!("{}/healthz", t.server.base_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    t.server.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn graceful_shutdown_finishes_requests_in_flight() {
    let entered = Arc::new(tokio::sync::Notify::new());
    let release = Arc::new(tokio::sync::Notify::new());
    let (e, r) = (entered.clone(), release.clone());
    let router = Router::new().route(
        "/slow",
        get(move || {
            let (e, r) = (e.clone(), r.clone());
            async move {
                e.notify_one();
                r.notified().await;
                "done"
            }
        }),
    );
    let identity = NodeTlsIdentity::from_seed(&SERVER_TLS_SEED).unwrap();
    let server = serve_tls(
        "127.0.0.1:0".parse().unwrap(),
        identity.server_config().unwrap(),
        router,
    )
    .await
    .unwrap();
    let base = server.base_url();
    let client = pinned_client(identity.pin(), ClientTimeouts::default()).unwrap();
    let in_flight = tokio::spawn({
        let (client, url) = (client.clone(), format!("{base}/slow"));
        async move { client.get(url).send().await?.text().await }
    });
    entered.notified().await;
    // Shutdown has begun while the request is still in its handler.
    server.begin_shutdown(Duration::from_secs(30));
    let stopping = tokio::spawn(server.wait());
    release.notify_one();
    assert_eq!(in_flight.await.unwrap().unwrap(), "done");
    stopping.await.unwrap().unwrap();
    // Once stopped, nothing answers any more.
    let fresh = pinned_client(identity.pin(), ClientTimeouts::default()).unwrap();
    assert!(fresh.get(format!("{base}/slow")).send().await.is_err());
}

#[tokio::test]
async fn a_signed_get_passes_once_and_its_replay_is_refused() {
    let t = start(100).await;
    let alice = t.client(ALICE);
    let response = alice
        .send(get_info(1), t.clock.now(), nonce(1))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.text().await.unwrap(),
        format!(
            "hello {} in {}",
            key(ALICE).public_key().member_id(),
            circle(1)
        )
    );

    // The identical signed request again (same signer, same nonce).
    let request = get_info(1);
    let claim = alice.claim_for(&request, t.clock.now(), nonce(1)).unwrap();
    let again = alice.build(request, &claim).unwrap().send().await.unwrap();
    let (status, body) = error_of(again).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "replayed_request");

    // A new nonce is a new request.
    let fresh = alice
        .send(get_info(1), t.clock.now(), nonce(2))
        .await
        .unwrap();
    assert_eq!(fresh.status(), StatusCode::OK);
    // `call` picks a random nonce each time.
    for _ in 0..2 {
        let response = alice.call(get_info(1), t.clock.as_ref()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    t.server.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn a_stale_or_future_request_is_refused_with_the_server_time() {
    let t = start(100).await;
    let alice = t.client(ALICE);
    let signed_at = Timestamp::from_unix(NOW - 121);
    let (status, body) =
        error_of(alice.send(get_info(1), signed_at, nonce(1)).await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "stale_request");
    assert_eq!(body["server_time"], "2026-11-25T10:20:00Z");

    let future = Timestamp::from_unix(NOW + 121);
    let (status, body) = error_of(alice.send(get_info(1), future, nonce(2)).await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "stale_request");
    assert_eq!(body["server_time"], "2026-11-25T10:20:00Z");

    // Exactly at the edge of the window it passes.
    let edge = Timestamp::from_unix(NOW - 120);
    let ok = alice.send(get_info(1), edge, nonce(3)).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    t.server.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn requests_signed_for_another_node_or_circle_are_refused() {
    let t = start(100).await;
    // Signed for BOB's node, sent to this one.
    let misdirected = t.client_as(ALICE, BOB);
    let (status, body) = error_of(
        misdirected
            .send(get_info(1), t.clock.now(), nonce(1))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "wrong_destination");

    // Signed for circle 2 (where ALICE is also a member), sent to circle 1's path.
    let alice = t.client(ALICE);
    let request = get_info(1);
    let mut claim = alice.claim_for(&request, t.clock.now(), nonce(2)).unwrap();
    claim.circle = circle(2);
    let response = alice.build(request, &claim).unwrap().send().await.unwrap();
    let (status, body) = error_of(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "wrong_circle");

    // Signed for another path than the one requested.
    let request = get_info(1);
    let mut claim = alice.claim_for(&request, t.clock.now(), nonce(3)).unwrap();
    claim.path = format!("/v1/c/{}/roster", circle(1));
    let response = alice.build(request, &claim).unwrap().send().await.unwrap();
    let (status, body) = error_of(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "request_mismatch");
    t.server.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn outsiders_members_of_other_circles_and_removed_members_get_404() {
    let t = start(100).await;
    for (who, n) in [(OUTSIDER, 1), (CAROL, 2)] {
        let (status, body) = error_of(
            t.client(who)
                .send(get_info(1), t.clock.now(), nonce(n))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "member {who}");
        assert_eq!(
            body,
            serde_json::json!({"error": "not_found", "message": "not found"})
        );
    }
    // An unknown circle looks the same as one the caller is not in.
    let (status, body) = error_of(
        t.client(ALICE)
            .send(get_info(7), t.clock.now(), nonce(3))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not_found");

    // BOB is in; once removed from the roster, his very next request is refused.
    let bob = t.client(BOB);
    assert_eq!(
        bob.send(get_info(1), t.clock.now(), nonce(4))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    t.rosters
        .remove(circle(1), &key(BOB).public_key().member_id());
    let (status, body) = error_of(
        bob.send(get_info(1), t.clock.now(), nonce(5))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not_found");
    t.server.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn unsigned_requests_are_unauthorized_and_forged_ones_not_found() {
    let t = start(100).await;
    let alice = t.client(ALICE);
    let url = alice.url(&format!("/v1/c/{}/info", circle(1))).unwrap();
    let (status, body) = error_of(alice.http().get(url.clone()).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "unauthorized");

    let (status, body) = error_of(
        alice
            .http()
            .get(url)
            .header("debrief-auth", "not base64!")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "unauthorized");

    // The outsider's key signing a claim that names ALICE as signer.
    let request = get_info(1);
    let claim = alice.claim_for(&request, t.clock.now(), nonce(1)).unwrap();
    let forged = t
        .client(OUTSIDER)
        .build(request, &claim)
        .unwrap()
        .send()
        .await
        .unwrap();
    // A caller that cannot prove membership gets the outsider's answer, so it cannot probe
    // which member ids belong to the circle.
    let (status, body) = error_of(forged).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        serde_json::json!({"error": "not_found", "message": "not found"})
    );
    t.server.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn bodies_are_bound_by_hash_and_capped() {
    let t = start(100).await;
    let alice = t.client(ALICE);
    let put_body = |bytes: Vec<u8>| PeerRequest {
        method: Method::PUT,
        circle: circle(1),
        path_and_query: format!("/v1/c/{}/echo", circle(1)),
        body: Some(("application/json".into(), bytes)),
    };
    let ok = alice
        .send(put_body(b"{\"a\":1}".to_vec()), t.clock.now(), nonce(1))
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(
        ok.text().await.unwrap(),
        format!("{} sent 7 bytes", key(ALICE).public_key().member_id())
    );

    // The body was swapped after signing.
    let claim = alice
        .claim_for(&put_body(b"{\"a\":1}".to_vec()), t.clock.now(), nonce(2))
        .unwrap();
    let swapped = alice
        .build(put_body(b"{\"a\":2}".to_vec()), &claim)
        .unwrap();
    let (status, body) = error_of(swapped.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "request_mismatch");
    assert_eq!(
        body["message"],
        "the signed body_sha256 does not match the request"
    );

    let (status, body) = error_of(
        alice
            .send(put_body(vec![b'x'; MAX_BODY + 1]), t.clock.now(), nonce(3))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["error"], "payload_too_large");
    t.server.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn a_full_replay_memory_refuses_new_requests_until_entries_expire() {
    let t = start(1).await;
    let alice = t.client(ALICE);
    assert_eq!(
        alice
            .send(get_info(1), t.clock.now(), nonce(1))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let response = alice
        .send(get_info(1), t.clock.now(), nonce(2))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "121");
    let (_, body) = error_of(response).await;
    assert_eq!(body["error"], "replay_memory_full");

    // Nothing was forgotten: the first request is still known as a replay at the window's end.
    t.clock.advance(120);
    let request = get_info(1);
    let claim = alice
        .claim_for(&request, Timestamp::from_unix(NOW), nonce(1))
        .unwrap();
    let (status, body) =
        error_of(alice.build(request, &claim).unwrap().send().await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "replayed_request");

    // One second later the entry has expired and there is room again.
    t.clock.advance(1);
    let ok = alice
        .send(get_info(1), t.clock.now(), nonce(3))
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    t.server.shutdown(Duration::from_secs(5)).await.unwrap();
}
