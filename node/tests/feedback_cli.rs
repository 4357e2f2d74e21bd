//! Reader feedback through the built binary (docs/archive.md "Reader feedback"): `archive
//! serve` takes feedback through the HTML form and the JSON endpoint into SQLite, refuses a
//! flood (429 with Retry-After), oversized bodies (413), wrong content types (415) and bad
//! fields (400) without storing anything, sets no cookie, and `debrief feedback list | export`
//! read it back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use debrief_protocol::Timestamp;
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/valid");

fn debrief(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_debrief"))
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn today() -> Timestamp {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    Timestamp::from_unix(now - now % 86_400)
}

struct Site {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    db: PathBuf,
    /// The slug of one live report.
    slug: String,
}

fn site() -> Site {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log");
    let dir = tmp.path().join("site");
    let o = debrief(&[
        "archive",
        "demo-log",
        "--out",
        log.to_str().unwrap(),
        "--fixtures",
        FIXTURES,
        "--now",
        &today().to_string(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = debrief(&[
        "archive",
        "build",
        "--log",
        log.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
        "--no-progress",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let export = std::fs::read_to_string(dir.join("export.jsonl")).unwrap();
    let slug = export
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["status"] != "retracted")
        .unwrap()["slug"]
        .as_str()
        .unwrap()
        .to_owned();
    let db = tmp.path().join("feedback.sqlite");
    Site {
        _tmp: tmp,
        dir,
        db,
        slug,
    }
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(site: &Site, limit: usize) -> (Server, String) {
    serve_with(site, limit, &[])
}

fn serve_with(site: &Site, limit: usize, extra: &[&str]) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_debrief"))
        .args([
            "archive",
            "serve",
            "--dir",
            site.dir.to_str().unwrap(),
            "--addr",
            "127.0.0.1:0",
            "--feedback-db",
            site.db.to_str().unwrap(),
            "--feedback-limit",
            &limit.to_string(),
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.contains(&format!("reader feedback stored in {}", site.db.display())),
        "{line}"
    );
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    (Server(child), addr)
}

struct Answer {
    status: u16,
    head: String,
    body: String,
}

/// A plain HTTP/1.1 POST.
fn post(addr: &str, path: &str, content_type: Option<&str>, body: &[u8]) -> Answer {
    post_from(addr, path, content_type, "", body)
}

/// A POST with extra header lines (`Name: value\r\n`).
fn post_from(
    addr: &str,
    path: &str,
    content_type: Option<&str>,
    headers: &str,
    body: &[u8],
) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    let ct = content_type
        .map(|c| format!("Content-Type: {c}\r\n{headers}"))
        .unwrap_or_else(|| headers.to_owned());
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{ct}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    // A refused body may be cut short by the server closing; the answer still arrives.
    let _ = s.write_all(body);
    let mut resp = Vec::new();
    // The server may answer (413) before reading the whole body; read what it sent.
    let _ = s.read_to_end(&mut resp);
    let resp = String::from_utf8_lossy(&resp).into_owned();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap();
    Answer {
        status: head[9..12].parse().unwrap(),
        head: head.to_ascii_lowercase(),
        body: body.to_owned(),
    }
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(&body[body.find('{').unwrap()..=body.rfind('}').unwrap()]).unwrap()
}

/// `debrief feedback list --json` as JSON.
fn listed(db: &Path, report: Option<&str>) -> Vec<Value> {
    let mut args = vec!["feedback", "list", "--json", "--db", db.to_str().unwrap()];
    if let Some(r) = report {
        args.extend(["--report", r]);
    }
    let o = debrief(&args);
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_slice::<Value>(&o.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn feedback_round_trips_through_the_json_endpoint_and_the_form() {
    let site = site();
    let (_server, addr) = serve(&site, 50);

    // JSON, on a report.
    let body = serde_json::json!({
        "report": site.slug,
        "useful": "The timeline with T+ minutes.",
        "missing": "How the rollback was tested.",
        "learn": "More about regex engines.",
    });
    let a = post(
        &addr,
        "/api/feedback",
        Some("application/json"),
        body.to_string().as_bytes(),
    );
    assert_eq!(a.status, 201, "{}", a.body);
    let v = json_of(&a.body);
    assert_eq!(v["stored"], true);
    assert_eq!(v["id"], 1);
    assert_eq!(v["report"], site.slug.as_str());
    assert!(!a.head.contains("set-cookie"), "{}", a.head);

    // The HTML form, as a browser without JavaScript sends it: the general form.
    let a = post(
        &addr,
        "/feedback",
        Some("application/x-www-form-urlencoded"),
        b"useful=&missing=Yearly+trends&learn=Caf%C3%A9+outages%0D%0Aand+more",
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("<h1>Thank you</h1>"), "{}", a.body);
    assert!(a.body.contains("<a href=\"/\">Back</a>"), "{}", a.body);
    assert!(!a.head.contains("set-cookie"));
    // …and the form under a report, which links back to the report.
    let form = format!("report={}&useful=Clear+actions", site.slug);
    let a = post(
        &addr,
        "/feedback",
        Some("application/x-www-form-urlencoded; charset=UTF-8"),
        form.as_bytes(),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(
        a.body
            .contains(&format!("<a href=\"/reports/{}/\">Back</a>", site.slug)),
        "{}",
        a.body
    );

    // The report page carries the form, posting to /feedback with its slug.
    let page = std::fs::read_to_string(site.dir.join(format!("reports/{}/index.html", site.slug)))
        .unwrap();
    assert!(page.contains("<form class=\"feedback\" action=\"../../feedback\" method=\"post\">"));
    assert!(page.contains(&format!(
        "<input type=\"hidden\" name=\"report\" value=\"{}\">",
        site.slug
    )));
    let general = std::fs::read_to_string(site.dir.join("feedback/index.html")).unwrap();
    assert!(general.contains("What would you like to learn about?"));

    // Read back by the maintainers.
    let all = listed(&site.db, None);
    assert_eq!(all.len(), 3);
    assert_eq!(all[0]["report"], site.slug.as_str());
    assert_eq!(all[0]["useful"], "The timeline with T+ minutes.");
    assert_eq!(all[0]["via"], "json");
    assert_eq!(all[1]["report"], Value::Null);
    assert_eq!(all[1]["missing"], "Yearly trends");
    assert_eq!(all[1]["learn"], "Café outages\nand more");
    assert_eq!(all[1]["via"], "form");
    // Nothing but the text, the report, the time and the channel is stored.
    let keys: Vec<&String> = all[1].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "id",
            "learn",
            "missing",
            "received_at",
            "report",
            "useful",
            "via"
        ]
    );
    let on_report = listed(&site.db, Some(&site.slug));
    assert_eq!(on_report.len(), 2);
    assert_eq!(on_report[1]["useful"], "Clear actions");

    let o = debrief(&["feedback", "list", "--db", site.db.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("on the archive (general form) (via form)"),
        "{t}"
    );
    assert!(t.contains("3 in all"), "{t}");

    let out = site.db.with_file_name("feedback.jsonl");
    let o = debrief(&[
        "feedback",
        "export",
        "--db",
        site.db.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let lines: Vec<Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, all);

    let o = debrief(&[
        "feedback",
        "list",
        "--db",
        site.db.with_file_name("nothing.sqlite").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("no such file"), "{}", text(&o));
}

#[test]
fn bad_feedback_is_refused_and_nothing_is_stored() {
    let site = site();
    let (_server, addr) = serve(&site, 50);
    let json = Some("application/json");

    // Wrong content type: 415, for both endpoints.
    let a = post(
        &addr,
        "/api/feedback",
        Some("text/plain"),
        b"{\"useful\":\"x\"}",
    );
    assert_eq!(a.status, 415, "{}", a.body);
    assert_eq!(json_of(&a.body)["error"], "unsupported-media-type");
    let a = post(&addr, "/api/feedback", None, b"{\"useful\":\"x\"}");
    assert_eq!(a.status, 415);
    let a = post(&addr, "/feedback", Some("application/json"), b"useful=x");
    assert_eq!(a.status, 415);
    assert!(a.body.contains("Feedback not sent"), "{}", a.body);
    assert!(a.body.contains("Nothing was stored"));

    // Too much text (4 KiB + 1): 413; a body far past the limit: 413 as well.
    let big = serde_json::json!({"useful": "x".repeat(4097)}).to_string();
    let a = post(&addr, "/api/feedback", json, big.as_bytes());
    assert_eq!(a.status, 413, "{}", a.body);
    assert_eq!(json_of(&a.body)["error"], "too-large");
    let form = format!("useful={}", "y".repeat(4097));
    let a = post(
        &addr,
        "/feedback",
        Some("application/x-www-form-urlencoded"),
        form.as_bytes(),
    );
    assert_eq!(a.status, 413);
    let huge = serde_json::json!({"useful": "z".repeat(100_000)}).to_string();
    let a = post(&addr, "/api/feedback", json, huge.as_bytes());
    assert_eq!(a.status, 413);

    // Bad fields: 400 with a stable code.
    for (body, code) in [
        ("{\"useful\": ", "malformed"),
        ("{\"useful\": \"x\", \"email\": \"a@b\"}", "malformed"),
        ("{\"useful\": \"  \"}", "empty"),
        ("{\"useful\": \"a\\u0000b\"}", "control-characters"),
        (
            "{\"report\": \"no-such-report\", \"useful\": \"x\"}",
            "unknown-report",
        ),
    ] {
        let a = post(&addr, "/api/feedback", json, body.as_bytes());
        assert_eq!(a.status, 400, "{body}: {}", a.body);
        assert_eq!(json_of(&a.body)["error"], code, "{body}");
    }

    assert_eq!(listed(&site.db, None), Vec::<Value>::new());
}

#[test]
fn a_flood_is_refused_with_429_and_retry_after() {
    let site = site();
    let (_server, addr) = serve(&site, 3);
    let json = Some("application/json");
    for i in 0..3 {
        let body = format!("{{\"learn\": \"message {i}\"}}");
        let a = post(&addr, "/api/feedback", json, body.as_bytes());
        assert_eq!(a.status, 201, "{}", a.body);
    }
    for _ in 0..5 {
        let a = post(&addr, "/api/feedback", json, b"{\"learn\": \"flood\"}");
        assert_eq!(a.status, 429, "{}", a.body);
        assert_eq!(json_of(&a.body)["error"], "rate-limited");
        let retry: u64 = a
            .head
            .lines()
            .find_map(|l| l.strip_prefix("retry-after: "))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!((1..=600).contains(&retry), "{retry}");
    }
    // The form is limited by the same count, and says so in HTML.
    let a = post(
        &addr,
        "/feedback",
        Some("application/x-www-form-urlencoded"),
        b"learn=flood",
    );
    assert_eq!(a.status, 429);
    assert!(a.head.contains("retry-after: "));
    assert!(
        a.body.contains("too much feedback from your address"),
        "{}",
        a.body
    );

    let stored = listed(&site.db, None);
    assert_eq!(stored.len(), 3);
    assert!(stored.iter().all(|v| v["learn"] != "flood"));
}

#[test]
fn behind_a_proxy_the_limit_applies_per_forwarded_address() {
    let site = site();
    let (_server, addr) = serve_with(&site, 1, &["--client-ip-header", "X-Real-IP"]);
    let json = Some("application/json");
    let body = b"{\"learn\": \"x\"}";
    let from = |ip: &str| format!("X-Real-IP: {ip}\r\n");
    let status = |h: &str| post_from(&addr, "/api/feedback", json, h, body).status;
    assert_eq!(status(&from("192.0.2.1")), 201);
    assert_eq!(status(&from("192.0.2.1")), 429);
    assert_eq!(status(&from("192.0.2.2")), 201);
    // A list: the last address (added by the nearest proxy) counts, not what the client wrote.
    assert_eq!(status("X-Real-IP: 198.51.100.7, 192.0.2.1\r\n"), 429);
    assert_eq!(listed(&site.db, None).len(), 2);
}
