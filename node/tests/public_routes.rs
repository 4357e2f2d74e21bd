//! The public routes (protocol.md §4.13) end to end: a real node home with a circle whose public
//! directory holds a log published through the real publication rules (the archive's
//! `demo_log`), served over real HTTPS on 127.0.0.1 port 0 with the node's pinned TLS key.
//! Every file comes back byte for byte; pending proposals, stray files and traversal attempts
//! are 404; `debrief verify URL --genesis ID --pin PIN` passes on the served log and fails once a
//! served file is tampered with.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use debrief_keys::Passphrase;
use debrief_node::archive::{DemoLog, DemoOptions, demo_log, logdir};
use debrief_node::home::Home;
use debrief_node::http::client::{ClientTimeouts, pinned_client};
use debrief_node::http::clock::{Clock, FixedClock};
use debrief_node::http::serve::{RunningServer, serve_tls};
use debrief_node::node::Node;
use debrief_node::server::{ServerLimits, ServerState};
use debrief_node::tls::{NodeTlsIdentity, pinned_client_config};
use debrief_protocol::profile::{Industry, OrgProfile, Region, SizeBand};
use debrief_protocol::publog::layout;
use debrief_protocol::roster::Policy;
use debrief_protocol::{EnvelopeId, Sha256Digest, Timestamp};
use reqwest::StatusCode;
use zeroize::Zeroizing;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/valid");

fn profile() -> OrgProfile {
    OrgProfile {
        industry: Industry::Saas,
        size_band: SizeBand::M,
        region: Region::Europe,
    }
}

fn node_at(dir: &Path, org: &str, now: Timestamp) -> Node {
    let pass = Passphrase::new(Zeroizing::new("correct horse battery".to_owned())).unwrap();
    Node::init(Home::at(dir), org, profile(), None, pass, Some(10), now).unwrap()
}

/// A node serving circle `published` (with a public log) and circle `unpublished` (none).
struct World {
    _dir: tempfile::TempDir,
    published: EnvelopeId,
    unpublished: EnvelopeId,
    public: PathBuf,
    demo: DemoLog,
    server: RunningServer,
    pin: Sha256Digest,
    client: reqwest::Client,
}

async fn world(limits: ServerLimits) -> World {
    let dir = tempfile::tempdir().unwrap();
    let now = debrief_node::node::now();
    let server_node = node_at(&dir.path().join("s"), "Server Co", now);
    let member = node_at(&dir.path().join("m"), "Member Co", now);
    let card = member.signed_card(now).unwrap();
    let published = server_node
        .create_circle("ops", "Share.", Policy::default(), vec![card.clone()], now)
        .unwrap()
        .roster
        .circle_id();
    let unpublished = server_node
        .create_circle("other", "Other.", Policy::default(), vec![card], now)
        .unwrap()
        .roster
        .circle_id();
    let circles = server_node.circles(now).unwrap();
    let public = circles
        .iter()
        .find(|c| c.entry.circle_id == published)
        .map(debrief_node::publish::public_dir)
        .unwrap();

    // A log published through the real rules, written in the published layout.
    let mut fixtures = Vec::new();
    for name in [
        "2017-01-database-directory-deleted.md",
        "2012-08-trading-deploy-dead-code.md",
    ] {
        let text = fs::read_to_string(Path::new(FIXTURES).join(name)).unwrap();
        fixtures.push((name.to_owned(), text));
    }
    let demo = demo_log(&DemoOptions {
        fixtures,
        synthetic: 3,
        seed: 7,
        now,
    })
    .unwrap();
    logdir::write_log(&public, &demo.log, &demo.checkpoint).unwrap();
    // What must never be served: a pending proposal, a stray file, a temp file.
    fs::create_dir_all(public.join("pending")).unwrap();
    fs::write(public.join("pending/proposal.json"), b"{\"secret\":1}").unwrap();
    fs::write(public.join("notes.txt"), b"private").unwrap();
    fs::write(public.join(".checkpoint.json.tmp-1"), b"{}").unwrap();

    let tls = NodeTlsIdentity::from_seed(&server_node.identity().tls_seed()).unwrap();
    let me = server_node.identity().member_id();
    let clock = Arc::new(FixedClock::new(now));
    let state = ServerState::new(me, circles, clock as Arc<dyn Clock>, limits).unwrap();
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = serve_tls(addr, tls.server_config().unwrap(), state.router())
        .await
        .unwrap();
    let pin = tls.pin();
    World {
        _dir: dir,
        published,
        unpublished,
        public,
        demo,
        server,
        pin,
        client: pinned_client(pin, ClientTimeouts::default()).unwrap(),
    }
}

impl World {
    fn base(&self) -> String {
        format!("{}/v1/public/{}/", self.server.base_url(), self.published)
    }

    async fn get(&self, url: &str) -> reqwest::Response {
        self.client.get(url).send().await.unwrap()
    }

    /// Sends `GET {target}` exactly as written (no URL normalisation) over the pinned TLS
    /// connection and returns the status code.
    async fn raw_status(&self, target: &str) -> u16 {
        let addr = self.server.local_addr();
        let pin = self.pin;
        let target = target.to_owned();
        tokio::task::spawn_blocking(move || {
            let config = Arc::new(pinned_client_config(pin).unwrap());
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            let conn = rustls::ClientConnection::new(config, name).unwrap();
            let tcp = TcpStream::connect(addr).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            write!(
                tls,
                "GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            let mut answer = Vec::new();
            // The server closes after answering; a missing close_notify is not our concern.
            let _ = tls.read_to_end(&mut answer);
            let text = String::from_utf8_lossy(&answer);
            let status = text.split(' ').nth(1).unwrap_or_default().to_owned();
            status.parse::<u16>().unwrap_or_else(|_| panic!("{text}"))
        })
        .await
        .unwrap()
    }
}

fn verify(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_debrief"))
        .arg("verify")
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap() + &String::from_utf8(out.stderr).unwrap();
    (out.status.code().unwrap(), text)
}

async fn verify_async(args: Vec<String>) -> (i32, String) {
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        verify(&refs)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_file_of_the_layout_is_served_byte_for_byte() {
    let w = world(ServerLimits::default()).await;
    let files = layout::files(&w.demo.log, &w.demo.checkpoint);
    // genesis, 5 entries (2 fixtures + 3 synthetic) and the demo's erratum/retraction, checkpoint, keys.
    assert_eq!(files.len(), w.demo.log.entries().len() + 3);
    for (rel, bytes) in &files {
        assert_eq!(
            &fs::read(w.public.join(rel)).unwrap(),
            bytes,
            "{rel} on disk"
        );
        let resp = w.get(&format!("{}{rel}", w.base())).await;
        assert_eq!(resp.status(), StatusCode::OK, "{rel}");
        assert_eq!(
            resp.headers()["content-type"].to_str().unwrap(),
            "application/json",
            "{rel}"
        );
        assert_eq!(
            resp.headers()["x-content-type-options"].to_str().unwrap(),
            "nosniff"
        );
        let cache = resp.headers()["cache-control"].to_str().unwrap().to_owned();
        let expected = if rel == layout::CHECKPOINT_FILE || rel == layout::KEYS_FILE {
            "no-cache"
        } else {
            "public, max-age=86400, immutable"
        };
        assert_eq!(cache, expected, "{rel}");
        assert_eq!(&resp.bytes().await.unwrap()[..], &bytes[..], "{rel} served");
    }
    // HEAD works too, with no body.
    let head = w
        .client
        .head(format!("{}{}", w.base(), layout::GENESIS_FILE))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anything_outside_the_layout_is_404() {
    let w = world(ServerLimits::default()).await;
    let c = w.published;
    let next = w.demo.log.head_seq() + 1;
    for path in [
        format!("/v1/public/{c}/"),
        format!("/v1/public/{c}"),
        format!("/v1/public/{c}/entries/"),
        format!("/v1/public/{c}/entries"),
        format!("/v1/public/{c}/pending/proposal.json"),
        format!("/v1/public/{c}/pending/"),
        format!("/v1/public/{c}/notes.txt"),
        format!("/v1/public/{c}/.checkpoint.json.tmp-1"),
        format!("/v1/public/{c}/entries/{}", layout::entry_file_name(next)),
        format!("/v1/public/{c}/entries/000000.json"),
        format!("/v1/public/{c}/entries/1.json"),
        format!("/v1/public/{c}/entries/genesis.json"),
        format!("/v1/public/{c}/000001.json"),
        format!("/v1/public/{}/genesis.json", w.unpublished),
        format!(
            "/v1/public/{}/genesis.json",
            EnvelopeId(Sha256Digest([9; 32]))
        ),
        "/v1/public/not-a-circle/genesis.json".to_owned(),
        // Encoded separators and dots reach the handler as one segment, never a path.
        format!("/v1/public/{c}/..%2Fpending%2Fproposal.json"),
        format!("/v1/public/{c}/%2e%2e%2fpending%2fproposal.json"),
        format!("/v1/public/{c}/entries/..%2F..%2Fpending%2Fproposal.json"),
        format!("/v1/public/{c}/entries/%2e%2e%2fgenesis.json"),
        format!("/v1/public/{c}/pending%2Fproposal.json"),
        format!("/v1/public/{c}/%2E%2E%2F%2E%2E%2Fdata%2Fcircles"),
    ] {
        let url = format!("{}{path}", w.server.base_url());
        let resp = w.get(&url).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(w.raw_status(&path).await, 404, "raw {path}");
    }
    // Raw `..` segments, which a URL library would have normalised away before sending.
    for path in [
        format!("/v1/public/{c}/../{c}/pending/proposal.json"),
        format!("/v1/public/{c}/entries/../pending/proposal.json"),
        format!("/v1/public/{c}/entries/../../{c}/notes.txt"),
        format!("/v1/public/{c}/./pending/proposal.json"),
        format!("/v1/public/{c}/%2e%2e/pending/proposal.json"),
    ] {
        assert_eq!(w.raw_status(&path).await, 404, "raw {path}");
    }
    // A symbolic link in place of a layout file is not followed.
    fs::remove_file(w.public.join(layout::KEYS_FILE)).unwrap();
    std::os::unix::fs::symlink(w.public.join("notes.txt"), w.public.join(layout::KEYS_FILE))
        .unwrap();
    let linked = w.get(&format!("{}{}", w.base(), layout::KEYS_FILE)).await;
    assert_eq!(linked.status(), StatusCode::NOT_FOUND);
    // Without its genesis the directory is no public log: every file is 404.
    fs::rename(
        w.public.join(layout::GENESIS_FILE),
        w.public.join("genesis.moved"),
    )
    .unwrap();
    for rel in [layout::CHECKPOINT_FILE, &layout::entry_path(1)] {
        let resp = w.get(&format!("{}{rel}", w.base())).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{rel}");
    }
    // The layout is read-only.
    let put = w
        .client
        .put(format!("{}{}", w.base(), layout::GENESIS_FILE))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_routes_are_rate_limited_per_address() {
    let limits = ServerLimits {
        rate_limit_per_minute: 1,
        rate_limit_burst: 3,
        ..ServerLimits::default()
    };
    let w = world(limits).await;
    let url = format!("{}{}", w.base(), layout::GENESIS_FILE);
    for _ in 0..3 {
        assert_eq!(w.get(&url).await.status(), StatusCode::OK);
    }
    let refused = w.get(&url).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_fetches_from_the_node_and_refuses_a_tampered_copy() {
    let w = world(ServerLimits::default()).await;
    let genesis = w.demo.log.genesis_id().to_string();
    let pin = w.pin.to_string();
    let base = w.base();

    let (code, out) = verify_async(vec![
        base.clone(),
        "--genesis".into(),
        genesis.clone(),
        "--pin".into(),
        format!("sha256:{pin}"),
    ])
    .await;
    assert_eq!(code, 0, "{out}");
    let n = w.demo.log.head_seq();
    assert!(
        out.contains(&format!("mirrored {n} entries from {base}")),
        "{out}"
    );
    assert!(out.contains(&format!("log copy: {base}")), "{out}");
    assert!(
        out.contains(&format!(
            "+ the copy came over TLS from the server holding the key pinned by --pin {pin}"
        )),
        "{out}"
    );
    assert!(out.contains("result: VERIFIED"), "{out}");

    // No pin: the node's self-signed certificate is not trusted by the system's roots.
    let (code, out) = verify_async(vec![base.clone(), "--genesis".into(), genesis.clone()]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("REFUSED: "), "{out}");
    assert!(!out.contains("mirrored"), "{out}");

    // Another pin: the connection is refused before anything is read.
    let (code, out) = verify_async(vec![
        base.clone(),
        "--genesis".into(),
        genesis.clone(),
        "--pin".into(),
        Sha256Digest([1; 32]).to_string(),
    ])
    .await;
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("REFUSED: "), "{out}");

    // Another genesis id: the log is not the one the reader pinned.
    let (code, out) = verify_async(vec![
        base.clone(),
        "--genesis".into(),
        EnvelopeId(Sha256Digest([2; 32])).to_string(),
        "--pin".into(),
        pin.clone(),
    ])
    .await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("REFUSED"), "{out}");

    // The node serves a tampered entry: entry 2's file replaced by entry 3's bytes.
    let two = w.public.join(layout::entry_path(2));
    let three = fs::read(w.public.join(layout::entry_path(3))).unwrap();
    fs::write(&two, &three).unwrap();
    let served = w.get(&format!("{base}{}", layout::entry_path(2))).await;
    assert_eq!(&served.bytes().await.unwrap()[..], &three[..]);
    let (code, out) = verify_async(vec![
        base.clone(),
        "--genesis".into(),
        genesis.clone(),
        "--pin".into(),
        pin.clone(),
    ])
    .await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("REFUSED"), "{out}");
    assert!(!out.contains("result: VERIFIED"), "{out}");
}

#[test]
fn verify_refuses_a_pin_without_a_url_and_an_entry_url() {
    let (code, out) = verify(&["/nonexistent", "--pin", &Sha256Digest([1; 32]).to_string()]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("--pin applies only when verifying from an https:// URL"),
        "{out}"
    );
    let (code, out) = verify(&["https://127.0.0.1:1/v1/public/x/entries/000001.json"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("give the log's base URL"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_fetches_from_an_archives_log_directory() {
    use debrief_node::archive::serve::{ArchiveServer, FeedbackOptions, run};
    use debrief_node::archive::{BuildOptions, SiteOptions, build};

    // An archive built from the node's public log, served over plain HTTP on loopback.
    let w = world(ServerLimits::default()).await;
    let genesis = w.demo.log.genesis_id();
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    build(&BuildOptions {
        log_dir: w.public.clone(),
        out_dir: site.clone(),
        genesis: Some(genesis),
        site: SiteOptions::default(),
        progress: false,
        now: debrief_node::node::now(),
        yearly: Vec::new(),
    })
    .unwrap();
    let (archive, _) = ArchiveServer::open(
        &site,
        &tmp.path().join("search.db"),
        &FeedbackOptions::new(tmp.path().join("feedback.db")),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(run(Arc::new(archive), listener));

    let base = format!("http://127.0.0.1:{port}/log/");
    let (code, out) =
        verify_async(vec![base.clone(), "--genesis".into(), genesis.to_string()]).await;
    assert_eq!(code, 0, "{out}");
    let n = w.demo.log.head_seq();
    assert!(
        out.contains(&format!("mirrored {n} entries from {base}")),
        "{out}"
    );
    assert!(
        out.contains("- who served the copy: plain http, no transport security"),
        "{out}"
    );
    assert!(out.contains("result: VERIFIED"), "{out}");
    // A pin makes no sense without TLS.
    let (code, out) = verify_async(vec![
        base,
        "--genesis".into(),
        genesis.to_string(),
        "--pin".into(),
        w.pin.to_string(),
    ])
    .await;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("--pin needs an https:// URL"), "{out}");
    task.abort();
}
