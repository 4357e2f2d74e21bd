//! The bundle routes end to end (protocol.md §4.9): real nodes with real keys and SQLite stores
//! in temp dirs, real HTTPS on 127.0.0.1 port 0, bundles sealed by the sharing library.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use debrief_keys::Passphrase;
use debrief_node::home::Home;
use debrief_node::http::client::{ClientTimeouts, PeerClient, PeerRequest, random_nonce};
use debrief_node::http::clock::{Clock, FixedClock};
use debrief_node::http::serve::{RunningServer, serve_tls};
use debrief_node::node::{Circle, Node};
use debrief_node::server::{ServerLimits, ServerState};
use debrief_node::sharing::{self, ShareRequest};
use debrief_node::tls::NodeTlsIdentity;
use debrief_protocol::bundle::{BundleKind, Tlp};
use debrief_protocol::profile::{Industry, OrgProfile, Region, SizeBand};
use debrief_protocol::roster::Policy;
use debrief_protocol::wire::{self, AcceptStatus, Accepted, FeedPage, LinksPage};
use debrief_protocol::{EnvelopeId, MemberId, PublicKey, Sha256Digest, Signer, Timestamp};
use reqwest::{Method, StatusCode};
use zeroize::Zeroizing;

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
    fn new(dir: &std::path::Path, org: &str, now: Timestamp) -> Member {
        let profile = OrgProfile {
            industry: Industry::Saas,
            size_band: SizeBand::M,
            region: Region::Europe,
        };
        let pass = Passphrase::new(Zeroizing::new("correct horse battery".to_owned())).unwrap();
        let node = Node::init(Home::at(dir), org, profile, None, pass, Some(10), now).unwrap();
        Member(Arc::new(Mutex::new(node)))
    }
    fn id(&self) -> MemberId {
        self.0.lock().unwrap().identity().member_id()
    }

    /// Seals a report bundle in `circle` as this member and returns its object id.
    fn share(
        &self,
        circle: &mut Circle,
        tlp: Tlp,
        named: Vec<MemberId>,
        now: Timestamp,
    ) -> EnvelopeId {
        let node = self.0.lock().unwrap();
        let report = debrief_protocol::report::parse(REPORT).unwrap();
        let shared = sharing::share(
            circle,
            &node.identity().member_id(),
            node.identity(),
            &node.identity().age_identities(),
            ShareRequest {
                kind: BundleKind::Report,
                target: None,
                tlp,
                named,
                body: sharing::report_body(&report).unwrap(),
                bundle_id: sharing::new_bundle_id(),
            },
            now,
        )
        .unwrap();
        shared.object.parse().unwrap()
    }
}

const REPORT: &str =
    include_str!("../../tests/fixtures/valid/2017-01-database-directory-deleted.md");

/// Server node S sequences circle `ops` with members Alice, Bob and Carol.
struct World {
    _dir: tempfile::TempDir,
    clock: Arc<FixedClock>,
    s: Member,
    alice: Member,
    bob: Member,
    circle: EnvelopeId,
    state: Arc<ServerState>,
    server: RunningServer,
    pin: Sha256Digest,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let now = debrief_node::node::now();
    let s = Member::new(&dir.path().join("s"), "Server Co", now);
    let alice = Member::new(&dir.path().join("alice"), "Alice Co", now);
    let bob = Member::new(&dir.path().join("bob"), "Bob Co", now);
    let carol = Member::new(&dir.path().join("carol"), "Carol Co", now);
    let cards = [&alice, &bob, &carol].map(|m| m.0.lock().unwrap().signed_card(now).unwrap());
    let (circle, circles, tls, identities) = {
        let node = s.0.lock().unwrap();
        let c = node
            .create_circle("ops", "Be kind.", Policy::default(), cards.to_vec(), now)
            .unwrap();
        let tls = NodeTlsIdentity::from_seed(&node.identity().tls_seed()).unwrap();
        (
            c.roster.circle_id(),
            node.circles(now).unwrap(),
            tls,
            node.identity().age_identities(),
        )
    };
    // Alice holds the circle too (for the bundles she offers with PUT).
    let events = circles[0].store.roster_envelopes().unwrap();
    {
        let node = alice.0.lock().unwrap();
        let c = node.add_circle("ops", &events, now).unwrap();
        c.store
            .record_freshness("test", c.roster.head_seq(), &c.roster.head_id(), now)
            .unwrap();
    }
    let clock = Arc::new(FixedClock::new(now));
    let state = ServerState::new(
        s.id(),
        circles,
        clock.clone() as Arc<dyn Clock>,
        ServerLimits::default(),
    )
    .unwrap();
    state.set_identities(identities);
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = serve_tls(addr, tls.server_config().unwrap(), state.router())
        .await
        .unwrap();
    World {
        _dir: dir,
        clock,
        s,
        alice,
        bob,
        circle,
        state,
        server,
        pin: tls.pin(),
    }
}

impl World {
    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// S shares in its served circle (through the server's own handle).
    fn s_shares(&self, tlp: Tlp, named: Vec<MemberId>) -> EnvelopeId {
        let handle = self.state.circle(&self.circle).unwrap();
        let now = self.now();
        handle.with_circle_blocking(|c| self.s.share(c, tlp, named, now))
    }

    fn alice_circle(&self) -> Circle {
        self.alice
            .0
            .lock()
            .unwrap()
            .circle(Some("ops"), self.now())
            .unwrap()
    }

    async fn call(
        &self,
        who: &Member,
        method: Method,
        route: &str,
        body: Option<Vec<u8>>,
    ) -> reqwest::Response {
        let client = PeerClient::new(
            &self.server.base_url(),
            self.s.id(),
            self.pin,
            who.id(),
            Arc::new(who.clone()),
            ClientTimeouts::default(),
        )
        .unwrap();
        let request = PeerRequest {
            method,
            circle: self.circle,
            path_and_query: format!("/v1/c/{}/{route}", self.circle),
            body: body.map(|b| (wire::JSON_CONTENT_TYPE.to_owned(), b)),
        };
        client
            .send(request, self.now(), random_nonce())
            .await
            .unwrap()
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, who: &Member, route: &str) -> T {
        let r = self.call(who, Method::GET, route, None).await;
        let status = r.status();
        let text = r.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{route}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    async fn put(
        &self,
        who: &Member,
        id: EnvelopeId,
        body: Vec<u8>,
    ) -> (StatusCode, serde_json::Value) {
        let r = self
            .call(who, Method::PUT, &format!("bundles/{id}"), Some(body))
            .await;
        let status = r.status();
        (status, r.json().await.unwrap())
    }

    async fn feed_all(&self, who: &Member, limit: usize) -> Vec<EnvelopeId> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let route = match &after {
                None => format!("feed?limit={limit}"),
                Some(c) => format!("feed?after={c}&limit={limit}"),
            };
            let page: FeedPage = self.get_json(who, &route).await;
            assert!(page.items.len() <= limit);
            out.extend(page.items.iter().map(|i| i.object));
            after = Some(page.next);
            if !page.more {
                return out;
            }
        }
    }
}

#[tokio::test]
async fn links_feed_and_objects_with_red_only_to_its_recipients() {
    let w = world().await;
    let green = w.s_shares(Tlp::Green, vec![]);
    let red = w.s_shares(Tlp::Red, vec![w.alice.id()]);

    // protocol.md §4.9.1: every member gets every link.
    for who in [&w.alice, &w.bob] {
        let page: LinksPage = w.get_json(who, "links").await;
        assert_eq!(page.links.len(), 2);
        assert!(!page.more);
        let again: LinksPage = w.get_json(who, &format!("links?after={}", page.next)).await;
        assert!(again.links.is_empty());
        assert_eq!(again.next, page.next);
    }
    // protocol.md §4.9.2: the RED header only to its recipients.
    assert_eq!(w.feed_all(&w.alice, 200).await, vec![green, red]);
    assert_eq!(w.feed_all(&w.bob, 200).await, vec![green]);

    // protocol.md §4.9.3: the object exactly as stored; RED looks absent to others.
    let r = w
        .call(&w.alice, Method::GET, &format!("bundles/{red}"), None)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let bytes = r.bytes().await.unwrap();
    let held = {
        let handle = w.state.circle(&w.circle).unwrap();
        let me = w.alice.id();
        handle.with_circle_blocking(|c| sharing::bundle_object(c, &red, &me).unwrap().unwrap())
    };
    assert_eq!(bytes.as_ref(), held.as_bytes());
    let r = w
        .call(&w.bob, Method::GET, &format!("bundles/{red}"), None)
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
    let r = w
        .call(&w.bob, Method::GET, &format!("bundles/{green}"), None)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let bad = w.call(&w.bob, Method::GET, "feed?after=x", None).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let bad = w.call(&w.bob, Method::GET, "feed?limit=0", None).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_tampered_put_is_quarantined_and_the_genuine_copy_still_accepted() {
    let w = world().await;
    let mut circle = w.alice_circle();
    let id = w.alice.share(&mut circle, Tlp::Amber, vec![], w.now());
    let genuine = sharing::bundle_object(&circle, &id, &w.alice.id())
        .unwrap()
        .unwrap();
    // Flip one base64 character of the ciphertext: §3.18 refuses it.
    let mut tampered = genuine.as_bytes().to_vec();
    let text = String::from_utf8(tampered.clone()).unwrap();
    let at = text.find("\"ciphertext\":\"").unwrap() + 20;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };

    let (status, body) = w.put(&w.bob, id, tampered.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"], "invalid_object");
    assert!(
        body["message"].as_str().unwrap().contains("§3.18"),
        "{body}"
    );
    let key = debrief_protocol::Sha256Digest::of(&tampered).to_hex();
    assert!(body["message"].as_str().unwrap().contains(&key));
    let quarantined = {
        let handle = w.state.circle(&w.circle).unwrap();
        handle.with_circle_blocking(|c| sharing::quarantine_list(c).unwrap())
    };
    assert_eq!(quarantined.len(), 1);
    assert_eq!(quarantined[0].key, key);

    let (status, body) = w.put(&w.alice, id, genuine.as_bytes().to_vec()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let accepted: Accepted = serde_json::from_value(body).unwrap();
    assert_eq!(
        (accepted.id, accepted.status),
        (id.to_hex(), AcceptStatus::New)
    );
    let (status, body) = w.put(&w.bob, id, genuine.as_bytes().to_vec()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "held");
    // The tampered copy again, after the genuine one is held: still refused.
    let (status, _) = w.put(&w.bob, id, tampered).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // A body whose id differs from the path.
    let (status, body) = w
        .put(
            &w.bob,
            "07".repeat(32).parse::<EnvelopeId>().unwrap(),
            genuine.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(w.feed_all(&w.bob, 200).await, vec![id]);
    let metrics = w.state.render_metrics();
    assert!(
        metrics.contains(&format!(
            "debrief_bundles_accepted_total{{circle=\"{}\"}} 1",
            w.circle
        )),
        "{metrics}"
    );
    assert!(metrics.contains(&format!(
        "debrief_bundles_quarantined_total{{circle=\"{}\"}} 2",
        w.circle
    )));
}

#[tokio::test]
async fn cursors_page_many_items_in_one_second_without_skips_or_repeats() {
    let w = world().await;
    // The clock is fixed: every bundle is stored in the same second.
    let mut expected = Vec::new();
    for i in 0..23 {
        let id = if i % 5 == 4 {
            // RED to Alice: hidden from Bob's pages, present in Alice's.
            w.s_shares(Tlp::Red, vec![w.alice.id()])
        } else {
            w.s_shares(Tlp::Green, vec![])
        };
        expected.push((id, i % 5 == 4));
    }
    let all: Vec<_> = expected.iter().map(|(id, _)| *id).collect();
    let bobs: Vec<_> = expected
        .iter()
        .filter(|(_, red)| !red)
        .map(|(id, _)| *id)
        .collect();
    for limit in [1, 4, 7, 200] {
        assert_eq!(w.feed_all(&w.alice, limit).await, all, "limit {limit}");
        assert_eq!(w.feed_all(&w.bob, limit).await, bobs, "limit {limit}");
    }
    let page: LinksPage = w.get_json(&w.bob, "links").await;
    let links: BTreeSet<_> = page.links.iter().map(|l| l.id()).collect();
    assert_eq!(links.len(), 23);
}

#[tokio::test]
async fn a_bundle_from_a_roster_ahead_gets_409_roster_behind_and_is_not_quarantined() {
    let w = world().await;
    // S's sequencer appends seq 1 through a second connection to its store: the running
    // server's roster stays at seq 0 until it reloads.
    let events = {
        let node = w.s.0.lock().unwrap();
        let mut c = node.circle(Some("ops"), w.now()).unwrap();
        let me = node.identity().member_id();
        let (env, _) = debrief_node::circle_ops::propose(
            &mut c,
            node.identity(),
            &me,
            debrief_protocol::roster::QuorumAction::SetRole {
                member: w.bob.id(),
                maintainer: true,
            },
            w.now(),
        )
        .unwrap();
        w.clock.advance(1);
        debrief_node::circle_ops::apply_proposal(&mut c, node.identity(), &me, &env, &[], w.now())
            .unwrap();
        c.store.roster_envelopes().unwrap()
    };
    let mut circle = w.alice_circle();
    {
        let node = w.alice.0.lock().unwrap();
        debrief_node::circle_ops::import_log(
            &mut circle,
            &events,
            &[],
            &[],
            node.identity(),
            w.now(),
        )
        .unwrap();
    }
    circle
        .store
        .record_freshness("test", 1, &circle.roster.head_id(), w.now())
        .unwrap();
    let id = w.alice.share(&mut circle, Tlp::Green, vec![], w.now());
    let object = sharing::bundle_object(&circle, &id, &w.alice.id())
        .unwrap()
        .unwrap();

    let (status, body) = w.put(&w.alice, id, object.as_bytes().to_vec()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"], "roster_behind");
    let quarantined = {
        let handle = w.state.circle(&w.circle).unwrap();
        handle.with_circle_blocking(|c| sharing::quarantine_list(c).unwrap())
    };
    assert!(quarantined.is_empty());
    // Once the server's roster caught up, the same bytes are accepted.
    assert!(w.state.reload_circle(&w.circle).unwrap());
    let (status, body) = w.put(&w.alice, id, object.as_bytes().to_vec()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn a_batch_get_answers_objects_exactly_as_stored_and_hides_red_as_absent() {
    let w = world().await;
    let green = w.s_shares(Tlp::Green, vec![]);
    let red = w.s_shares(Tlp::Red, vec![w.alice.id()]);
    let amber = w.s_shares(Tlp::Amber, vec![]);
    let never = EnvelopeId(Sha256Digest::of(b"never shared"));
    let held = |id: EnvelopeId, who: MemberId| {
        let handle = w.state.circle(&w.circle).unwrap();
        handle.with_circle_blocking(|c| sharing::bundle_object(c, &id, &who).unwrap().unwrap())
    };
    let ids = |list: &[EnvelopeId]| {
        let hex: Vec<String> = list.iter().map(EnvelopeId::to_hex).collect();
        format!("bundles?ids={}", hex.join(","))
    };

    // protocol.md §4.9.3: in the order asked, byte for byte as stored.
    let batch: wire::BundleBatch = w
        .get_json(&w.alice, &ids(&[amber, red, green, never]))
        .await;
    let got: Vec<&[u8]> = batch.objects.iter().map(|o| o.get().as_bytes()).collect();
    let alice = w.alice.id();
    assert_eq!(
        got,
        vec![
            held(amber, alice.clone()).as_bytes(),
            held(red, alice.clone()).as_bytes(),
            held(green, alice).as_bytes()
        ]
    );
    assert_eq!(batch.absent, vec![never]);

    // §3.32: RED to someone else is absent, exactly like an object never held.
    let batch: wire::BundleBatch = w.get_json(&w.bob, &ids(&[red, green, never])).await;
    assert_eq!(batch.objects.len(), 1);
    assert_eq!(
        batch.objects[0].get().as_bytes(),
        held(green, w.bob.id()).as_bytes()
    );
    assert_eq!(batch.absent, vec![red, never]);

    // The longest list fits the signed header (protocol.md §4.3): every id answered.
    let too_many: Vec<EnvelopeId> = (0..=wire::MAX_BUNDLE_BATCH)
        .map(|i| EnvelopeId(Sha256Digest::of(&i.to_be_bytes())))
        .collect();
    let longest = &too_many[..wire::MAX_BUNDLE_BATCH];
    let batch: wire::BundleBatch = w.get_json(&w.bob, &ids(longest)).await;
    assert!(batch.objects.is_empty());
    assert_eq!(batch.absent, longest);

    // Malformed lists are refused with what is wrong.
    for (route, why) in [
        ("bundles".to_owned(), "it is missing"),
        ("bundles?ids=".to_owned(), "item 1 is not an object id"),
        (
            format!("{},xyz", ids(&[green])),
            "item 2 is not an object id",
        ),
        (ids(&[green, green]), "is listed twice"),
        (ids(&too_many), "too many"),
        (format!("{}&after=1", ids(&[green])), "nothing else"),
    ] {
        let r = w.call(&w.bob, Method::GET, &route, None).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{route}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"], "bad_request", "{route}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(why), "{route}: {message}");
    }
}
