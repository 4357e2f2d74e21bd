//! Joining a circle over the network, end to end (docs/operations.md "Joining a circle over the
//! network"): real nodes with real keys and SQLite stores in temp dirs, the maintainer's real
//! HTTPS server on 127.0.0.1 port 0 with the system clock, and the node library's join
//! functions as the CLI and the demo call them.
//!
//! A founds a circle (policy: 2 vouches; B a founding member) and serves it. C gets an invite
//! and joins over the network; A and B vouch over the network; A admits from its pending store;
//! C fetches the roster and is a member; B pulls the admission. Tampered, expired and revoked
//! invites and token-less joins are refused with the documented errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use debrief_keys::Passphrase;
use debrief_node::circle_ops as ops;
use debrief_node::home::Home;
use debrief_node::http::client::{ClientTimeouts, pinned_client};
use debrief_node::http::clock::{Clock, SystemClock};
use debrief_node::http::serve::serve_tls;
use debrief_node::join::{self, JoinError, JoinOutcome, PeerAddr};
use debrief_node::node::{Node, now};
use debrief_node::server::{ServerLimits, ServerState, invites};
use debrief_node::tls::NodeTlsIdentity;
use debrief_protocol::encoding::{base64_decode, base64_encode};
use debrief_protocol::profile::{Industry, OrgProfile, Region, SizeBand};
use debrief_protocol::roster::{InviteToken, MemberChange, Policy};
use debrief_protocol::wire::{self, ErrorResponse, PendingKind};
use reqwest::StatusCode;
use zeroize::Zeroizing;

fn new_node(dir: &std::path::Path, org: &str) -> Node {
    let profile = OrgProfile {
        industry: Industry::Saas,
        size_band: SizeBand::M,
        region: Region::Europe,
    };
    let pass = Passphrase::new(Zeroizing::new("correct horse battery".to_owned())).unwrap();
    Node::init(Home::at(dir), org, profile, None, pass, Some(10), now()).unwrap()
}

/// The §4.6 error code and status of a raw answer.
async fn error_of(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let body: ErrorResponse = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    (status, body.error)
}

/// Replaces the invite's payload in an invite file, keeping its signature.
fn tamper_invite(
    info: &ops::CircleInfo,
    edit: impl FnOnce(&mut serde_json::Value),
) -> ops::CircleInfo {
    let mut file = serde_json::to_value(info).unwrap();
    let payload = base64_decode(file["invite"]["payload"].as_str().unwrap()).unwrap();
    let mut invite: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    edit(&mut invite);
    file["invite"]["payload"] =
        serde_json::Value::String(base64_encode(&serde_json::to_vec(&invite).unwrap()));
    serde_json::from_value(file).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_candidate_joins_over_https_on_two_vouches() {
    let dir = tempfile::tempdir().unwrap();
    let a = new_node(&dir.path().join("a"), "Alpha");
    let b = new_node(&dir.path().join("b"), "Beta");
    let c = new_node(&dir.path().join("c"), "Gamma");
    let (a_id, c_id) = (a.identity().member_id(), c.identity().member_id());

    // A founds the circle: 2 vouches, B a founding member.
    let policy = Policy {
        vouches: 2,
        ..Policy::default()
    };
    let mut ca = a
        .create_circle(
            "ops",
            "Be kind; share what broke.",
            policy,
            vec![b.signed_card(now()).unwrap()],
            now(),
        )
        .unwrap();
    let circle = ca.roster.circle_id();

    // A serves on 127.0.0.1 port 0 and records its endpoint in the roster.
    let tls = NodeTlsIdentity::from_seed(&a.identity().tls_seed()).unwrap();
    let state = ServerState::new(
        a_id.clone(),
        a.circles(now()).unwrap(),
        Arc::new(SystemClock) as Arc<dyn Clock>,
        ServerLimits::default(),
    )
    .unwrap();
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = serve_tls(addr, tls.server_config().unwrap(), state.router())
        .await
        .unwrap();
    let url = server.base_url();
    let change = MemberChange::SetEndpoint {
        endpoint: Some(url.clone()),
        tls_spki_sha256: a.identity().tls_spki_pin(),
    };
    let ops::Submitted::Applied(_) =
        ops::request_change(&mut ca, a.identity(), &a_id, change, now()).unwrap()
    else {
        panic!("A sequences: the change applies at once");
    };
    state.reload_circle(&circle).unwrap();
    // B, a founding member, holds the roster (as after `circle import`).
    let mut cb = b
        .add_circle("ops", &ca.store.roster_envelopes().unwrap(), now())
        .unwrap();
    let a_peer = PeerAddr::sequencer(&cb.roster).unwrap();
    assert_eq!(a_peer.endpoint, url);
    assert_eq!(a_peer.tls_spki_sha256, tls.pin());

    // An invite needs an https endpoint.
    let err = join::invite(&a, &mut ca, "http://127.0.0.1:1", 3600, now()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "\"http://127.0.0.1:1\" is not an https://host[:port] URL; nodes speak HTTPS only"
    );
    let info = join::invite(&a, &mut ca, &url, 3600, now()).unwrap();
    let token = InviteToken::parse(&info.token).unwrap();
    assert!(
        invites::find_invite(&ca.store, &token.hash())
            .unwrap()
            .is_some(),
        "the invite is recorded for the token routes"
    );
    let pinned = pinned_client(tls.pin(), ClientTimeouts::default()).unwrap();
    let charter_url = format!("{url}/v1/c/{circle}/charter");
    let join_url = format!("{url}/v1/c/{circle}/join");

    // --- Refusals before anything is sent.
    // A tampered invite (another endpoint) fails its signature.
    let tampered = tamper_invite(&info, |v| {
        v["maintainer_endpoint"] = "https://127.0.0.1:9".into();
    });
    let err = join::join_over_network(&c, &tampered, None, now())
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with("§2.8 the invite refused: "),
        "{err}"
    );
    // A token that is not the invite's.
    let mut wrong_token = info.clone();
    wrong_token.token = "ab".repeat(32);
    let err = join::join_over_network(&c, &wrong_token, None, now())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the invite token does not match the invite"
    );
    // An expired invite is refused by the candidate, and by the maintainer's server (410).
    let expired = join::invite(&a, &mut ca, &url, 60, now().plus_seconds(-3600)).unwrap();
    let err = join::join_over_network(&c, &expired, None, now())
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with("§2.8 the invite expired on "),
        "{err}"
    );
    let answer = pinned
        .get(&charter_url)
        .header(wire::INVITE_HEADER, &expired.token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(answer).await,
        (StatusCode::GONE, "invite_expired".to_owned())
    );
    // A revoked invite: the maintainer's node no longer knows the token (404 not_found).
    let revoked = join::invite(&a, &mut ca, &url, 3600, now()).unwrap();
    let revoked_hash = InviteToken::parse(&revoked.token).unwrap().hash();
    assert!(invites::revoke_invite(&mut ca.store, &revoked_hash).unwrap());
    let err = join::join_over_network(&c, &revoked, None, now())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("not_found"), "{err}");
    assert!(
        matches!(
            &err,
            JoinError::Peer {
                what: "fetching the charter",
                status: 404,
                ..
            }
        ),
        "{err}"
    );
    // A join request without a token is unauthorised; with an unknown one, not found.
    let answer = pinned
        .post(&join_url)
        .header("content-type", wire::JSON_CONTENT_TYPE)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(answer).await,
        (StatusCode::UNAUTHORIZED, "unauthorized".to_owned())
    );
    let answer = pinned
        .post(&join_url)
        .header(wire::INVITE_HEADER, "cd".repeat(32))
        .header("content-type", wire::JSON_CONTENT_TYPE)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(answer).await,
        (StatusCode::NOT_FOUND, "not_found".to_owned())
    );
    assert!(join::joining(&c).unwrap().is_empty(), "nothing remembered");

    // --- C joins over the network. Its own circle "ops" holds the circle's name locally.
    c.create_circle(
        "ops",
        "C's own circle.",
        Policy::default(),
        Vec::new(),
        now(),
    )
    .unwrap();
    let err = join::join_over_network(&c, &info, None, now())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "this node already has a circle named \"ops\"; choose another local name (--name)"
    );
    let charter = join::fetch_charter(&info).await.unwrap();
    assert_eq!(charter.charter, "Be kind; share what broke.");
    let record = join::join_over_network(&c, &info, Some("alpha-ops"), now())
        .await
        .unwrap();
    let join_id = record.join_request.id();
    assert_eq!(record.circle, circle);
    let remembered = join::joining(&c).unwrap();
    assert_eq!(remembered.len(), 1);
    assert_eq!(remembered[0].join_request.id(), join_id);
    // Sending again re-posts the same join request: held, not a conflict.
    let again = join::send_join_request(&c, &info, Some("alpha-ops"), now())
        .await
        .unwrap();
    assert_eq!(again.join_request.id(), join_id);
    // Not a member yet: the roster is not served to C.
    assert!(matches!(
        join::finish_join(&c, &record, now()).await.unwrap(),
        JoinOutcome::NotYetAdmitted
    ));

    // --- Sponsors see it on the sequencer's node.
    let items = join::remote_pending(&b, &cb, &a_peer, now()).await.unwrap();
    assert_eq!(
        items.iter().map(|i| (i.kind, i.id)).collect::<Vec<_>>(),
        vec![(PendingKind::JoinRequest, join_id)]
    );
    let summary = join::summarize_remote(&cb.roster, &items, now());
    assert_eq!(summary.len(), 1);
    assert_eq!(
        (summary[0].org.as_str(), &summary[0].candidate),
        ("Gamma", &c_id)
    );
    assert_eq!(
        (summary[0].vouches.counted.len(), summary[0].vouches.needed),
        (0, 2)
    );
    // The sequencer cannot admit on one vouch.
    let prefix = &join_id.to_hex()[..12];
    let b_vouch = join::vouch_over_network(
        &b,
        &cb,
        &a_peer,
        prefix,
        "We ran a game day with them.",
        None,
        now(),
    )
    .await
    .unwrap();
    let pending = ops::pending_admissions(&ca, now()).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].vouches.counted, vec![b.identity().member_id()]);
    assert!(!pending[0].ready());
    let err = ops::admit_pending(&mut ca, a.identity(), &a_id, prefix, now()).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "§2.7 roster event 2: 2 vouches from distinct member companies needed, got 1"
        ),
        "{err}"
    );
    // A vouches over the network too (to its own node).
    join::vouch_over_network(&a, &ca, &a_peer, prefix, "Known for years.", None, now())
        .await
        .unwrap();
    // The same vouch again is held, not doubled.
    let items = join::remote_pending(&b, &cb, &a_peer, now()).await.unwrap();
    assert_eq!(
        items
            .iter()
            .filter(|i| i.kind == PendingKind::Vouch)
            .count(),
        2
    );
    assert!(items.iter().any(|i| i.id == b_vouch.id()));

    // --- The sequencer sees the threshold met and admits from its pending store.
    let pending = ops::pending_admissions(&ca, now()).unwrap();
    assert!(pending[0].ready(), "{:?}", pending[0].vouches);
    let event = ops::admit_pending(&mut ca, a.identity(), &a_id, prefix, now()).unwrap();
    assert_eq!((event.seq, event.kind), (2, "admit"));
    assert!(ops::pending_admissions(&ca, now()).unwrap().is_empty());
    ops::issue_checkpoint(&mut ca, a.identity(), &a_id, now()).unwrap();
    // `debrief serve` reloads a roster changed by the CLI within seconds; in-process, at once.
    state.reload_circle(&circle).unwrap();

    // --- C fetches the roster and is a member.
    let JoinOutcome::Admitted(joined) = join::finish_join(&c, &record, now()).await.unwrap() else {
        panic!("C was admitted");
    };
    assert_eq!(joined.roster.circle_id(), circle);
    assert_eq!(joined.roster.head_seq(), 2);
    assert_eq!(joined.entry.name, "alpha-ops");
    assert!(joined.roster.member(&c_id).is_some());
    assert!(
        joined.fresh_as_of(&c_id, now()).unwrap().is_some(),
        "the checkpoint came along"
    );
    assert!(join::joining(&c).unwrap().is_empty());
    let reopened = c.circle(Some("alpha-ops"), now()).unwrap();
    assert_eq!(reopened.roster.head_id(), ca.roster.head_id());

    // B pulls the admission from the sequencer.
    let outcome = join::fetch_roster(&b, &mut cb, &a_peer, now())
        .await
        .unwrap();
    assert_eq!(outcome, ops::ImportOutcome::Extended { added: 1 });
    assert!(cb.roster.member(&c_id).is_some());

    // The used token opens nothing any more.
    let answer = pinned
        .get(&charter_url)
        .header(wire::INVITE_HEADER, &info.token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(answer).await,
        (StatusCode::GONE, "invite_used".to_owned())
    );
    // And C, now a member, cannot join again.
    let err = join::join_over_network(&c, &info, None, now())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("this node already belongs to circle {circle}")
    );
    server
        .shutdown(std::time::Duration::from_secs(1))
        .await
        .unwrap();
}
