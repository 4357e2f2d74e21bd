//! `debrief serve`, `debrief sync --once` and `debrief status` driven through the built binary:
//! two homes with real endpoints on 127.0.0.1, real TLS, real SQLite (protocol.md §5).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

struct Home {
    home: PathBuf,
    pass: PathBuf,
    port: u16,
}

impl Home {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_debrief"));
        cmd.args(args)
            .env("DEBRIEF_HOME", &self.home)
            .env("DEBRIEF_PASSPHRASE_FILE", &self.pass)
            .env("DEBRIEF_SCRYPT_WORK_FACTOR", "10")
            .env_remove("DEBRIEF_CRASH_POINT");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed ({:?}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts `debrief serve` and waits until it listens.
    fn serve(&self) -> Child {
        let listen = format!("127.0.0.1:{}", self.port);
        let mut child = self
            .command(&["serve", "--listen", &listen])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().unwrap().unwrap();
        assert!(first.starts_with("serving https://"), "{first}");
        // Keep draining stdout: a closed pipe would make the server's next line fail.
        std::thread::spawn(move || for _ in lines {});
        child
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn home(dir: &Path, name: &str, org: &str) -> Home {
    let pass = dir.join("pass.txt");
    fs::write(&pass, "correct horse battery staple\n").unwrap();
    let h = Home {
        home: dir.join(name),
        pass,
        port: free_port(),
    };
    let endpoint = format!("https://127.0.0.1:{}", h.port);
    h.ok(&[
        "init",
        "--org",
        org,
        "--industry",
        "saas",
        "--size-band",
        "250-999",
        "--region",
        "europe",
        "--endpoint",
        &endpoint,
    ]);
    h
}

#[test]
fn two_served_homes_sync_a_shared_report_and_report_their_status() {
    let dir = tempfile::tempdir().unwrap();
    let a = home(dir.path(), "a", "Alpha Corp");
    let b = home(dir.path(), "b", "Bravo Ltd");
    let card = dir.path().join("b.card");
    b.ok(&["id", "export", card.to_str().unwrap()]);
    a.ok(&[
        "circle",
        "create",
        "--name",
        "ops",
        "--founding-member",
        card.to_str().unwrap(),
    ]);
    let log = dir.path().join("log.json");
    a.ok(&["circle", "export", log.to_str().unwrap(), "--force"]);
    b.ok(&["circle", "import", log.to_str().unwrap()]);

    let status = b.ok(&["status"]);
    assert!(status.contains("Alpha Corp"), "{status}");
    assert!(status.contains("last contact never"), "{status}");

    let mut serve_a = a.serve();
    let mut serve_b = b.serve();

    // A has a peer, so it shares only once a peer confirmed its own chain (protocol.md §5.4).
    let report = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/valid/2017-01-database-directory-deleted.md"
    );
    let refused = a.run(&["share", report]);
    let synced_already = refused.status.success();
    if !synced_already {
        let err = String::from_utf8_lossy(&refused.stderr);
        assert!(err.contains("debrief sync --once"), "{err}");
        let out = a.ok(&["sync", "--once"]);
        assert!(out.contains("Bravo Ltd"), "{out}");
        a.ok(&["share", report]);
    }

    let out = b.ok(&["sync", "--once"]);
    assert!(out.contains("circle ops"), "{out}");
    assert!(out.contains("0 peer errors"), "{out}");
    let json = b.ok(&["sync", "--once", "--json"]);
    let reports: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(reports[0]["peers"][0]["error"], serde_json::Value::Null);
    let listed = b.ok(&["list"]);
    assert!(
        listed.contains("Alpha Corp") || listed.contains("database"),
        "{listed}"
    );

    let status = b.ok(&["status"]);
    assert!(status.contains("agrees"), "{status}");
    assert!(!status.contains("last contact never"), "{status}");
    let json = b.ok(&["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v[0]["peers"][0]["head_agrees"], true);
    assert_eq!(v[0]["peers"][0]["lag"], 0);

    serve_a.kill().unwrap();
    serve_b.kill().unwrap();
    serve_a.wait().unwrap();
    serve_b.wait().unwrap();
}

#[test]
fn serve_pulls_new_bundles_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let a = home(dir.path(), "a", "Alpha Corp");
    let b = home(dir.path(), "b", "Bravo Ltd");
    for h in [&a, &b] {
        let config = h.home.join("config.toml");
        let mut text = fs::read_to_string(&config).unwrap();
        text.push_str("\n[sync]\ninterval = \"10s\"\n");
        fs::write(&config, text).unwrap();
    }
    let card = dir.path().join("b.card");
    b.ok(&["id", "export", card.to_str().unwrap()]);
    a.ok(&[
        "circle",
        "create",
        "--name",
        "ops",
        "--founding-member",
        card.to_str().unwrap(),
    ]);
    let log = dir.path().join("log.json");
    a.ok(&["circle", "export", log.to_str().unwrap(), "--force"]);
    b.ok(&["circle", "import", log.to_str().unwrap()]);

    let mut serve_a = a.serve();
    let mut serve_b = b.serve();
    a.ok(&["sync", "--once"]);
    let report = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/valid/2017-01-database-directory-deleted.md"
    );
    let shared = a.ok(&["share", report, "--json"]);
    let object = serde_json::from_str::<serde_json::Value>(&shared).unwrap()["object"]
        .as_str()
        .unwrap()
        .to_owned();
    // B's server syncs every 10 s: wait (generously) until its store has the bundle.
    let store = std::fs::read_dir(b.home.join("data").join("circles"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("store.sqlite");
    let mut found = false;
    for _ in 0..240 {
        let conn = rusqlite::Connection::open(&store).unwrap();
        let n: i64 = conn
            .query_row(
                "SELECT count(*) FROM bundles WHERE header_id = ?1",
                [&object],
                |r| r.get(0),
            )
            .unwrap_or(0);
        if n == 1 {
            found = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    serve_a.kill().unwrap();
    serve_b.kill().unwrap();
    serve_a.wait().unwrap();
    serve_b.wait().unwrap();
    assert!(found, "B's background sync never stored {object}");
}
