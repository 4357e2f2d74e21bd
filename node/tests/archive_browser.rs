//! The archive in a real browser: Debian's headless `chromium`, driven over the DevTools
//! protocol (a small client over a plain WebSocket), against `debrief archive serve` on
//! loopback. Runs only when `DEBRIEF_BROWSER_TEST=1` (CI sets it; `.ci/run` installs
//! chromium); otherwise it says so and passes without checking anything.
//!
//! Checks: the index lists the live reports; typing a body word into search and pressing Enter
//! finds its report; a facet link narrows the list; a report page shows its factors and the
//! verify section; the Atom feed parses as XML in the browser; the feedback form under a report
//! is typed into and sent (no JavaScript needed) and `debrief feedback list` then has it; the
//! yearly report page, reached from the site's navigation, shows SVG charts. With
//! `DEBRIEF_ARCHIVE_SCREENSHOT=PATH` it also saves a screenshot of the index.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use debrief_protocol::Timestamp;
use debrief_protocol::encoding::base64_decode;
use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/valid");
/// The WAF fixture: its summary says the regular expression "backtracked".
const WAF: &str = "global-edge-outage-after-a-firewall-rule-with-a-backtrac";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_debrief"))
        .args(args)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// A minimal DevTools-protocol client: one browser connection, one attached page session.
struct Cdp {
    ws: WebSocket<TcpStream>,
    next: u64,
    session: Option<String>,
}

impl Cdp {
    fn connect(url: &str) -> Cdp {
        let hostport = url
            .strip_prefix("ws://")
            .and_then(|r| r.split('/').next())
            .unwrap();
        let stream = TcpStream::connect(hostport).unwrap();
        // A browser that stops answering fails the test instead of hanging it.
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let (ws, _) = tungstenite::client(url, stream).unwrap();
        Cdp {
            ws,
            next: 0,
            session: None,
        }
    }

    /// Sends a command and returns its `result`, skipping events.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = &self.session {
            msg["sessionId"] = Value::String(s.clone());
        }
        self.ws.send(Message::Text(msg.to_string().into())).unwrap();
        loop {
            let m = self.ws.read().unwrap();
            let Message::Text(t) = m else { continue };
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    /// Evaluates JavaScript in the page (awaiting a promise) and returns its value.
    fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expr}: {r}");
        r["result"]["value"].clone()
    }

    /// Polls `expr` until it is true (at most 300 tries, 50 ms apart).
    fn wait_for(&mut self, expr: &str) {
        for _ in 0..300 {
            if self.eval(expr) == Value::Bool(true) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("never became true: {expr}");
    }

    fn goto(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url}));
        self.wait_for(&format!(
            "location.href === {} && document.readyState === 'complete'",
            json!(url)
        ));
    }

    fn slugs(&mut self, selector: &str) -> BTreeSet<String> {
        let v = self.eval(&format!(
            "Array.from(document.querySelectorAll({})).map(e => e.dataset.slug)",
            json!(selector)
        ));
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    }
}

#[test]
fn archive_works_in_headless_chromium() {
    if std::env::var("DEBRIEF_BROWSER_TEST").as_deref() != Ok("1") {
        eprintln!("archive browser test skipped: set DEBRIEF_BROWSER_TEST=1 (needs chromium)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log");
    let site = tmp.path().join("site");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let out = run(&[
        "archive",
        "demo-log",
        "--out",
        log.to_str().unwrap(),
        "--fixtures",
        FIXTURES,
        "--synthetic",
        "12",
        "--seed",
        "42",
        "--now",
        &Timestamp::from_unix(now).to_string(),
    ]);
    let genesis = out
        .lines()
        .find_map(|l| l.strip_prefix("genesis: "))
        .unwrap()
        .trim()
        .to_owned();
    run(&[
        "archive",
        "build",
        "--log",
        log.to_str().unwrap(),
        "--out",
        site.to_str().unwrap(),
        "--genesis",
        &genesis,
        "--no-progress",
        "--yearly",
        "2025",
    ]);
    let live: BTreeSet<String> = fs::read_to_string(site.join("export.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["status"] == "current")
        .map(|v| v["slug"].as_str().unwrap().to_owned())
        .collect();

    // The server.
    let mut server = Command::new(env!("CARGO_BIN_EXE_debrief"))
        .args([
            "archive",
            "serve",
            "--dir",
            site.to_str().unwrap(),
            "--addr",
            "127.0.0.1:0",
            "--index",
            tmp.path().join("search.sqlite").to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _server = Killed(server);
    let base = format!(
        "http://{}/",
        line.split("http://")
            .nth(1)
            .and_then(|s| s.split('/').next())
            .unwrap()
    );

    // The browser, closed-network flags (shared/DEPS.md), a fresh profile.
    let profile = tmp.path().join("chromium-profile");
    fs::create_dir_all(&profile).unwrap();
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let mut browser = Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-port=0",
            &format!("--user-data-dir={}", profile.display()),
            "about:blank",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {chromium}: {e}"));
    let mut stderr = BufReader::new(browser.stderr.take().unwrap());
    let mut ws_url = None;
    for _ in 0..500 {
        let mut l = String::new();
        if stderr.read_line(&mut l).unwrap() == 0 {
            break;
        }
        if let Some(u) = l.trim().strip_prefix("DevTools listening on ") {
            ws_url = Some(u.to_owned());
            break;
        }
    }
    // Keep draining chromium's stderr so it never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = stderr.read_to_end(&mut sink);
    });
    let _browser = Killed(browser);
    let mut cdp = Cdp::connect(&ws_url.expect("chromium printed no DevTools URL"));
    let target = cdp.call("Target.createTarget", json!({"url": "about:blank"}));
    let attached = cdp.call(
        "Target.attachToTarget",
        json!({"targetId": target["targetId"], "flatten": true}),
    );
    cdp.session = Some(attached["sessionId"].as_str().unwrap().to_owned());
    cdp.call("Page.enable", json!({}));
    cdp.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false}),
    );

    // 1. The index lists every live report.
    cdp.goto(&base);
    assert_eq!(cdp.slugs("ol.reports li.report"), live);
    if let Ok(path) = std::env::var("DEBRIEF_ARCHIVE_SCREENSHOT") {
        let shot = cdp.call("Page.captureScreenshot", json!({"format": "png"}));
        let png = base64_decode(shot["data"].as_str().unwrap()).unwrap();
        if let Some(dir) = Path::new(&path).parent() {
            fs::create_dir_all(dir).unwrap();
        }
        fs::File::create(&path).unwrap().write_all(&png).unwrap();
    }

    // 2. Typing a body word into search and pressing Enter finds the report.
    cdp.goto(&format!("{base}search/"));
    cdp.eval("document.getElementById('q').focus(); true");
    cdp.call("Input.insertText", json!({"text": "backtracked"}));
    for kind in ["keyDown", "keyUp"] {
        cdp.call(
            "Input.dispatchKeyEvent",
            json!({"type": kind, "key": "Enter", "code": "Enter",
                   "windowsVirtualKeyCode": 13, "text": "\r"}),
        );
    }
    cdp.wait_for("document.querySelectorAll('#results li.report').length > 0");
    let found = cdp.slugs("#results li.report");
    assert!(found.contains(WAF), "{found:?}");
    assert!(found.len() < live.len(), "search narrows: {found:?}");
    let status = cdp.eval("document.getElementById('search-status').textContent");
    assert!(status.as_str().unwrap().contains("backtracked"), "{status}");

    // 3. A facet narrows the list: follow the sev1 link on the index.
    cdp.goto(&base);
    cdp.eval("document.querySelector('a[href=\"facets/severity/sev1/\"]').click(); true");
    cdp.wait_for(
        "location.pathname.endsWith('/facets/severity/sev1/') && document.readyState === 'complete'",
    );
    let sev1 = cdp.slugs("ol.reports li.report");
    assert!(!sev1.is_empty() && sev1.len() < live.len(), "{sev1:?}");
    assert!(sev1.is_subset(&live));

    // 4. A report page shows its factors with roles and the verify section.
    cdp.goto(&format!("{base}reports/{WAF}/"));
    let factors = cdp.eval("document.querySelectorAll('table.factors tbody tr').length");
    assert_eq!(factors, json!(4));
    let roles = cdp.eval(
        "Array.from(document.querySelectorAll('table.factors tbody tr td:nth-child(3)')).map(e => e.textContent)",
    );
    assert_eq!(
        roles,
        json!([
            "trigger",
            "latent-condition",
            "latent-condition",
            "amplifier"
        ])
    );
    let verify = cdp.eval("document.getElementById('verify').textContent");
    assert!(
        verify
            .as_str()
            .unwrap()
            .contains(&format!("debrief verify log --genesis {genesis}")),
        "{verify}"
    );

    // 5. The Atom feed parses as XML in the browser, with one entry per log event.
    let entries = cdp.eval(
        "fetch('/feed.atom').then(r => r.text()).then(t => { const d = new DOMParser().parseFromString(t, 'application/xml'); \
         return d.getElementsByTagName('parsererror').length === 0 ? d.getElementsByTagName('entry').length : -1; })",
    );
    assert_eq!(entries, json!(19 + 2));

    // 6. The feedback form under a report: type, send, get the thank-you page; the maintainers'
    // list has it, on that report.
    cdp.goto(&format!("{base}reports/{WAF}/"));
    cdp.eval("document.getElementById('fb-missing').focus(); true");
    cdp.call(
        "Input.insertText",
        json!({"text": "How the regex was tested before the rollout."}),
    );
    cdp.eval("document.getElementById('fb-learn').focus(); true");
    cdp.call("Input.insertText", json!({"text": "Safer regex engines."}));
    cdp.eval("document.querySelector('form.feedback button[type=submit]').click(); true");
    cdp.wait_for(
        "location.pathname === '/feedback' && document.readyState === 'complete' && !!document.querySelector('h1')",
    );
    let h1 = cdp.eval("document.querySelector('h1').textContent");
    assert_eq!(h1, json!("Thank you"));
    let cookies = cdp.eval("document.cookie");
    assert_eq!(cookies, json!(""));
    let listed = run(&[
        "feedback",
        "list",
        "--json",
        "--report",
        WAF,
        "--db",
        tmp.path().join("feedback.sqlite").to_str().unwrap(),
    ]);
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["report"], json!(WAF));
    assert_eq!(
        listed[0]["missing"],
        json!("How the regex was tested before the rollout.")
    );
    assert_eq!(listed[0]["learn"], json!("Safer regex engines."));
    assert_eq!(listed[0]["useful"], json!(""));
    assert_eq!(listed[0]["via"], json!("form"));

    // 7. The yearly report: from the navigation to the year's page, with SVG charts that carry
    // their text alternatives, and the small-numbers rules stated.
    cdp.goto(&base);
    cdp.eval("document.querySelector('header nav a[href=\"yearly/\"]').click(); true");
    cdp.wait_for("location.pathname === '/yearly/' && document.readyState === 'complete'");
    cdp.eval("document.querySelector('a[href=\"2025/\"]').click(); true");
    cdp.wait_for("location.pathname === '/yearly/2025/' && document.readyState === 'complete'");
    let charts = cdp.eval(
        "Array.from(document.querySelectorAll('figure svg')).filter(s => s.querySelector('title') && s.querySelector('desc')).length",
    );
    assert!(charts.as_u64().unwrap() >= 1, "{charts}");
    let rules = cdp.eval("document.getElementById('rules').textContent");
    assert!(
        rules
            .as_str()
            .unwrap()
            .contains("A count of fewer than 5 reports is not shown"),
        "{rules}"
    );
    println!("archive browser test: 7 checks passed against {base}");
}
