//! Crash tests for sync (issue 18, sync part), through the built binary: Alpha serves a circle
//! with many shared bundles (`debrief serve`, real TLS on 127.0.0.1), and Bravo pulls them with
//! `debrief sync --once`, which is aborted at every `sync::CRASH_POINTS` and SIGKILLed at seeded
//! random moments. After every crash Bravo's store is reopened and must pass SQLite's
//! `integrity_check` and `bundles::check_invariants`; its saved `links` and `feed` cursors for
//! Alpha must never be ahead of what it stored (every object of Alpha at or before a cursor is
//! held); and a rerun of `sync --once` completes with exactly the missing bundles fetched, nothing
//! missing and nothing duplicated.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use debrief_node::store::bundles::check_invariants;
use debrief_node::store::circle::CircleStore;
use debrief_node::sync::CRASH_POINTS;

const REPORTS: &[&str] = &[
    "2019-07-waf-regex-cpu-exhaustion.md",
    "2017-01-database-directory-deleted.md",
    "2017-02-object-storage-capacity-command.md",
    "2018-10-network-partition-cross-region-failover.md",
    "2021-10-backbone-withdrawal.md",
    "2012-08-trading-deploy-dead-code.md",
    "book-2017-leap-second-dns.md",
];
/// Every report is shared this many times (distinct bundles), so a sync has many to pull.
const COPIES: usize = 3;
/// Bravo's `sync.fetch_batch`.
const BATCH: u64 = 2;

/// Fixed seeds, so a failing run names its seed and its delay can be replayed.
const SEEDS: [u64; 12] = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233];

/// splitmix64: a tiny deterministic generator; the test needs reproducible delays, not quality.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n.max(1)
    }
}

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

    fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run_env(args, &[]);
        assert!(
            out.status.success(),
            "{args:?} failed ({:?}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).unwrap()
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

    /// A copy of this home (same identity, circles and endpoint) under `dir/name`.
    fn copy_to(&self, dir: &Path, name: &str) -> Home {
        fn copy(from: &Path, to: &Path) {
            fs::create_dir_all(to).unwrap();
            for e in fs::read_dir(from).unwrap() {
                let p = e.unwrap().path();
                let dest = to.join(p.file_name().unwrap());
                if p.is_dir() {
                    copy(&p, &dest);
                } else {
                    fs::copy(&p, &dest).unwrap();
                }
            }
        }
        let home = dir.join(name);
        copy(&self.home, &home);
        Home {
            home,
            pass: self.pass.clone(),
            port: self.port,
        }
    }

    /// The circle's store file.
    fn store_path(&self) -> PathBuf {
        let circles = self.home.join("data").join("circles");
        let dir = fs::read_dir(circles)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        dir.join("store.sqlite")
    }

    fn conn(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.store_path()).unwrap()
    }

    fn count(&self, sql: &str) -> u64 {
        let n: i64 = self.conn().query_row(sql, [], |r| r.get(0)).unwrap();
        u64::try_from(n).unwrap()
    }

    fn column(&self, sql: &str) -> Vec<String> {
        let conn = self.conn();
        let mut stmt = conn.prepare(sql).unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
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

/// Alpha (serving) and Bravo (before its first sync), with Alpha's shared bundles.
struct Setup {
    _dir: tempfile::TempDir,
    a: Home,
    b: Home,
    serve_a: Child,
    n: u64,
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = self.serve_a.kill();
        let _ = self.serve_a.wait();
    }
}

fn setup() -> Setup {
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

    // Twelve reruns and their killed predecessors in a few seconds: Alpha's per-peer rate limit
    // (a defence against floods, operations.md) must not be what the test measures.
    let config = a.home.join("config.toml");
    let mut text = fs::read_to_string(&config).unwrap();
    assert!(!text.contains("[limits]"), "{text}");
    text.push_str("\n[limits]\nrate_limit_per_minute = 1000000\nrate_limit_burst = 1000000\n");
    fs::write(&config, text).unwrap();
    // Bravo fetches and commits two bundles at a time (protocol.md §4.9.3), so a crash after a
    // batch falls in the middle of the feed.
    let config = b.home.join("config.toml");
    let mut text = fs::read_to_string(&config).unwrap();
    assert!(!text.contains("[sync]"), "{text}");
    text.push_str(&format!("\n[sync]\nfetch_batch = {BATCH}\n"));
    fs::write(&config, text).unwrap();
    let serve_a = a.serve();
    let mut serve_b = b.serve();
    // Alpha shares only once a peer confirmed its own chain (protocol.md §5.4).
    a.ok(&["sync", "--once"]);
    serve_b.kill().unwrap();
    serve_b.wait().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/valid");
    let mut n = 0;
    for copy in 0..COPIES {
        for name in REPORTS {
            let text = fs::read_to_string(fixtures.join(name))
                .unwrap()
                .replacen("tlp = \"RED\"", "tlp = \"GREEN\"", 1)
                .replacen("tlp = \"CLEAR\"", "tlp = \"GREEN\"", 1);
            let file = dir.path().join(format!("{copy}-{name}"));
            fs::write(&file, text).unwrap();
            a.ok(&["share", file.to_str().unwrap()]);
            n += 1;
        }
    }
    Setup {
        _dir: dir,
        a,
        b,
        serve_a,
        n,
    }
}

/// Reopens Bravo's store after a crash, as the next start would: integrity, invariants, and its
/// cursors for Alpha never ahead of what it stored.
fn check_store(s: &Setup, h: &Home, context: &str) {
    let integrity = h.column("PRAGMA integrity_check");
    assert_eq!(integrity, ["ok"], "{context}: integrity_check");
    let store = CircleStore::open(&h.store_path()).unwrap();
    if let Err(broken) = check_invariants(&store) {
        panic!("{context}: invariants broken after the crash:\n{broken:#?}");
    }
    drop(store);
    // Alpha's cursors are its ingest seqs (protocol.md §4.9.1): every link or bundle Alpha
    // numbered at or before a saved cursor must be in Bravo's store, or the next sync would
    // skip it for ever.
    for (kind, table) in [("links", "links"), ("feed", "bundles")] {
        // Alpha is Bravo's only peer.
        let cursor: Vec<String> = h.column(&format!(
            "SELECT cursor FROM sync_cursors WHERE kind = '{kind}'"
        ));
        let Some(cursor) = cursor.first() else {
            continue;
        };
        let upto: i64 = cursor.parse().unwrap();
        let covered = s.a.column(&format!(
            "SELECT header_id FROM {table} WHERE ingest_seq <= {upto}"
        ));
        let held: std::collections::BTreeSet<String> = h
            .column(&format!("SELECT header_id FROM {table}"))
            .into_iter()
            .collect();
        for id in &covered {
            assert!(
                held.contains(id),
                "{context}: the {kind} cursor {upto} covers {id}, which is not stored"
            );
        }
    }
}

/// Runs `sync --once --json` again and checks it fetched exactly what was missing.
fn rerun_completes(s: &Setup, h: &Home, context: &str) {
    let held = h.count("SELECT count(*) FROM bundles");
    let links = h.count("SELECT count(*) FROM links");
    let reports = h.json(&["sync", "--once", "--json"]);
    let peer = &reports[0]["peers"][0];
    assert_eq!(
        peer["error"],
        serde_json::Value::Null,
        "{context}: {reports}"
    );
    let fetched =
        peer["bundles_new"].as_u64().unwrap() + reports[0]["missing_fetched"].as_u64().unwrap_or(0);
    assert_eq!(
        fetched,
        s.n - held,
        "{context}: the rerun fetched {reports}"
    );
    assert_eq!(
        peer["links_new"].as_u64().unwrap(),
        s.n - links,
        "{context}: {reports}"
    );
    check_store(s, h, &format!("{context}, after the rerun"));
    assert_eq!(h.count("SELECT count(*) FROM bundles"), s.n, "{context}");
    assert_eq!(
        h.count("SELECT count(DISTINCT bundle_id) FROM bundles"),
        s.n,
        "{context}: a bundle is duplicated"
    );
    assert_eq!(h.count("SELECT count(*) FROM links"), s.n, "{context}");
    assert_eq!(
        h.count("SELECT count(*) FROM bundles WHERE readable = 1"),
        s.n,
        "{context}: every bundle opens"
    );
    assert_eq!(
        h.json(&["list", "--json"]).as_array().unwrap().len() as u64,
        s.n,
        "{context}: every report is listed once"
    );
}

#[test]
fn every_sync_crash_point_leaves_a_whole_store_and_a_rerun_completes() {
    assert_eq!(
        CRASH_POINTS,
        [
            "sync-links-after-page",
            "sync-feed-after-batch",
            "sync-feed-after-page"
        ],
        "a new crash point needs a case here"
    );
    let s = setup();
    let runs = tempfile::tempdir().unwrap();
    for point in CRASH_POINTS {
        let h = s.b.copy_to(runs.path(), point);
        let out = h.run_env(&["sync", "--once"], &[("DEBRIEF_CRASH_POINT", point)]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{point}: the crash must kill sync");
        assert!(err.contains(point), "{point}: {err}");
        check_store(&s, &h, &format!("sync crashed at {point}"));
        let (links, held) = (
            h.count("SELECT count(*) FROM links"),
            h.count("SELECT count(*) FROM bundles"),
        );
        // Exactly what committed before the point is there.
        let expected = match *point {
            "sync-links-after-page" => (s.n, 0),
            "sync-feed-after-batch" => (s.n, BATCH),
            _ => (s.n, s.n),
        };
        assert_eq!((links, held), expected, "{point}");
        rerun_completes(&s, &h, &format!("after {point}"));
    }
}

/// Spawns `sync --once` in `h` and kills it with SIGKILL after `delay` unless it has already
/// exited; returns whether it exited 0 on its own.
fn run_and_kill(h: &Home, delay: Duration) -> bool {
    let mut child = h
        .command(&["sync", "--once"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + delay;
    // Polls so a child that finishes early is reaped with its real status, not killed.
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    if child.try_wait().unwrap().is_none() {
        // Child::kill is SIGKILL on Unix: no destructor, no SQLite shutdown runs.
        child.kill().unwrap();
    }
    child.wait().unwrap().success()
}

#[test]
fn sigkill_of_sync_at_seeded_moments_never_breaks_the_store_or_skips_an_object() {
    let started = Instant::now();
    let s = setup();
    let runs = tempfile::tempdir().unwrap();
    let calibrate = s.b.copy_to(runs.path(), "calibrate");
    let start = Instant::now();
    calibrate.ok(&["sync", "--once"]);
    let sync_ms = u64::try_from(start.elapsed().as_millis()).unwrap().max(5);
    assert_eq!(calibrate.count("SELECT count(*) FROM bundles"), s.n);

    let (mut killed, mut midway) = (0, 0);
    for seed in SEEDS {
        let delay = Rng(seed).below(sync_ms * 5 / 4);
        let h = s.b.copy_to(runs.path(), &format!("seed-{seed}"));
        let acked = run_and_kill(&h, Duration::from_millis(delay));
        let context = format!("sync seed {seed} (kill after {delay} ms of ~{sync_ms} ms)");
        let held = h.count("SELECT count(*) FROM bundles");
        eprintln!(
            "{context} -> {}, {held} of {} bundles stored",
            if acked { "exited 0 first" } else { "killed" },
            s.n
        );
        check_store(&s, &h, &context);
        if acked {
            assert_eq!(held, s.n, "{context}: an acknowledged sync lost bundles");
        } else {
            killed += 1;
            if held > 0 && held < s.n {
                midway += 1;
            }
        }
        rerun_completes(&s, &h, &context);
    }
    // Alpha's store is untouched by Bravo's crashes.
    assert_eq!(s.a.count("SELECT count(*) FROM bundles"), s.n);
    eprintln!(
        "{} seeded runs, {killed} killed before they finished ({midway} midway through the feed), \
         {:.1} s",
        SEEDS.len(),
        started.elapsed().as_secs_f64()
    );
}
