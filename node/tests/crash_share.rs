//! Crash tests for sharing and import (issue 18, share/import part), through the built binary:
//! every `DEBRIEF_CRASH_POINT` of `sharing::CRASH_POINTS`, and a real SIGKILL of a `debrief
//! import` or `debrief share` child at a seeded random moment. After every crash the store is
//! reopened and must pass SQLite's `integrity_check` and `bundles::check_invariants` (every
//! bundle whole or absent, plaintext only for stored bundles, search rows only for stored
//! plaintext, counters and cursors never ahead of stored data); an import or share that exited
//! 0 before the kill must have lost nothing; and running the command again completes the work.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sharing_support;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use debrief_node::sharing::CRASH_POINTS;
use debrief_node::store::bundles::check_invariants;
use debrief_node::store::circle::CircleStore;
use sharing_support::*;

const REPORTS: &[&str] = &[
    "2019-07-waf-regex-cpu-exhaustion.md",
    "2017-01-database-directory-deleted.md",
    "2017-02-object-storage-capacity-command.md",
    "2018-10-network-partition-cross-region-failover.md",
    "2021-10-backbone-withdrawal.md",
    "2012-08-trading-deploy-dead-code.md",
];
const LATE: &str = "book-2017-leap-second-dns.md";

/// Fixed seeds, so a failing run names its seed and its delay can be replayed.
const IMPORT_SEEDS: [u64; 16] = [
    1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597,
];
const SHARE_SEEDS: [u64; 8] = [42, 4242, 7, 77, 777, 31337, 65537, 271828];

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

/// Reopens the store after a crash, as the next start would: integrity and invariants.
fn check_store(h: &Home, context: &str) {
    let conn = rusqlite::Connection::open(h.store_path()).unwrap();
    let integrity: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(integrity, ["ok"], "{context}: integrity_check");
    drop(conn);
    let store = CircleStore::open(&h.store_path()).unwrap();
    if let Err(broken) = check_invariants(&store) {
        panic!("{context}: invariants broken after the crash:\n{broken:#?}");
    }
}

/// Acme shares every report of `REPORTS` (the RED one to Bravo only) and exports them.
fn shared_circle() -> (Circle3, String) {
    let c3 = circle3();
    let a = &c3.a;
    for (i, name) in REPORTS.iter().enumerate() {
        let file = fixture(a, name, &format!("r{i}.md"), &[]);
        if std::fs::read_to_string(&file)
            .unwrap()
            .contains("tlp = \"RED\"")
        {
            a.ok(&["share", &file, "--to", "Bravo"]);
        } else {
            a.ok(&["share", &file]);
        }
    }
    let all = a.path("all.jsonl");
    a.ok(&["export", "--out", &all]);
    (c3, all)
}

fn bundles(h: &Home) -> i64 {
    h.count("SELECT count(*) FROM bundles")
}

/// Accepted and already-held counts from `import` output ("N accepted, M already held, ...").
fn import_counts(out: &str) -> (u64, u64) {
    let line = out
        .lines()
        .find(|l| l.contains(" accepted, "))
        .unwrap_or_else(|| panic!("no summary in {out:?}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    (words[0].parse().unwrap(), words[2].parse().unwrap())
}

#[test]
fn every_crash_point_leaves_a_whole_store_and_a_rerun_completes() {
    const WORD: &str = "quorvantic";
    assert_eq!(
        CRASH_POINTS,
        [
            "accept-after-link",
            "accept-after-bundle",
            "retract-before-checkpoint"
        ],
        "a new crash point needs a case here"
    );
    let (c3, all) = shared_circle();
    let (a, b) = (&c3.a, &c3.b);
    let n = REPORTS.len() as i64;

    // Import: the first bundle's transaction dies; nothing of it stays, and a rerun takes all.
    for point in &CRASH_POINTS[..2] {
        let out = b.run_env(&["import", &all], &[("DEBRIEF_CRASH_POINT", point)]);
        assert!(!out.status.success(), "{point}: the crash must kill import");
        assert!(stderr(&out).contains(point), "{}", stderr(&out));
        check_store(b, &format!("import crashed at {point}"));
        assert_eq!(bundles(b), 0, "{point}");
        assert_eq!(b.count("SELECT count(*) FROM links"), 0, "{point}");
        assert_eq!(b.count("SELECT count(*) FROM plaintext"), 0, "{point}");
    }
    let out = b.ok(&["import", &all]);
    assert!(
        out.contains(&format!("{n} accepted, 0 already held")),
        "{out}"
    );
    check_store(b, "import after the crashes");

    // Share: the author's own acceptance dies; no link, no bundle, the chain seq is not spent.
    let late = fixture(
        a,
        LATE,
        "late.md",
        &[
            ("tlp = \"CLEAR\"", "tlp = \"GREEN\""),
            (
                "At the leap second",
                &format!("At the leap second ({WORD})"),
            ),
        ],
    );
    for point in &CRASH_POINTS[..2] {
        let out = a.run_env(&["share", &late], &[("DEBRIEF_CRASH_POINT", point)]);
        assert!(!out.status.success(), "{point}: the crash must kill share");
        check_store(a, &format!("share crashed at {point}"));
        assert_eq!(bundles(a), n, "{point}");
        assert_eq!(a.count("SELECT count(*) FROM links"), n, "{point}");
    }
    let late_id = shared_id(&a.json(&["share", &late, "--json"]));
    check_store(a, "share after the crashes");
    let chains = a.json(&["chains", "--json"]);
    assert_eq!(chains[0]["highest"], n + 1, "{chains}");
    assert_eq!(chains[0]["gaps"], serde_json::json!([]), "{chains}");
    assert!(
        !contains(&a.store_files(), WORD).is_empty(),
        "the word is stored before the retraction"
    );

    // Retract: the retraction commits, then the process dies before the WAL checkpoint. The
    // store is whole, the text is gone from the tables, and `reindex` finishes the purge.
    let out = a.run_env(
        &["retract", &late_id, "--reason", "wrong circle"],
        &[("DEBRIEF_CRASH_POINT", CRASH_POINTS[2])],
    );
    assert!(!out.status.success(), "the crash must kill retract");
    check_store(a, "retract crashed before the checkpoint");
    assert_eq!(
        a.count("SELECT count(*) FROM bundles WHERE kind = 'retraction'"),
        1
    );
    assert_eq!(
        a.count(&format!(
            "SELECT count(*) FROM plaintext WHERE body LIKE '%{WORD}%'"
        )),
        0
    );
    let out = a.ok(&["reindex"]);
    assert!(out.contains("Reindexed"), "{out}");
    check_store(a, "reindex after the retract crash");
    assert_eq!(
        contains(&a.store_files(), WORD),
        Vec::<std::path::PathBuf>::new(),
        "no file of the store keeps the retracted body (the title stays, threat-model.md)"
    );
}

/// Spawns `args` in `h`, kills it with SIGKILL after `delay` unless it has already exited;
/// returns whether it exited 0 on its own (acknowledged) and its stdout.
fn run_and_kill(h: &Home, args: &[&str], delay: Duration) -> (bool, String) {
    let mut child = h
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
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
    let out = child.wait_with_output().unwrap();
    (out.status.success(), stdout(&out))
}

/// How long one clean run of `args` takes on a copy of `h` (the range the kills are drawn from).
fn calibrate(h: &Home, dir: &Path, args: &[&str]) -> u64 {
    let copy = h.copy_to(dir, "calibrate");
    let start = Instant::now();
    copy.ok(args);
    u64::try_from(start.elapsed().as_millis()).unwrap().max(5)
}

#[test]
fn sigkill_at_seeded_moments_never_breaks_the_store_or_loses_an_acknowledged_import() {
    let started = Instant::now();
    let (c3, all) = shared_circle();
    let (a, b) = (&c3.a, &c3.b);
    let n = REPORTS.len() as u64;
    let runs = tempfile::tempdir().unwrap();
    let late = fixture(
        a,
        LATE,
        "late.md",
        &[("tlp = \"CLEAR\"", "tlp = \"GREEN\"")],
    );

    let import_ms = calibrate(b, &runs.path().join("b"), &["import", &all]);
    let (mut killed, mut midway) = (0, 0);
    for seed in IMPORT_SEEDS {
        let delay = Rng(seed).below(import_ms * 5 / 4);
        let h = b.copy_to(runs.path(), &format!("import-{seed}"));
        let (acked, out) = run_and_kill(&h, &["import", &all], Duration::from_millis(delay));
        eprintln!(
            "import seed {seed}: kill after {delay} ms of ~{import_ms} ms -> {}",
            if acked { "exited 0 first" } else { "killed" }
        );
        let context = format!("import seed {seed} (delay {delay} ms)");
        check_store(&h, &context);
        let held = bundles(&h) as u64;
        if acked {
            assert!(out.contains(&format!("{n} accepted")), "{context}: {out}");
            assert_eq!(held, n, "{context}: an acknowledged import lost bundles");
        } else {
            killed += 1;
            assert!(held <= n, "{context}");
            if held > 0 && held < n {
                midway += 1;
            }
        }
        // The rerun takes exactly what the killed run did not store.
        let (accepted, already) = import_counts(&h.ok(&["import", &all]));
        assert_eq!((accepted, already), (n - held, held), "{context}");
        check_store(&h, &format!("{context}, after the rerun"));
        assert_eq!(bundles(&h) as u64, n, "{context}");
        assert_eq!(
            h.json(&["list", "--json"]).as_array().unwrap().len() as u64,
            n,
            "{context}: every report is readable after the rerun"
        );
    }

    let share_ms = calibrate(a, &runs.path().join("a"), &["share", &late]);
    for seed in SHARE_SEEDS {
        let delay = Rng(seed).below(share_ms * 5 / 4);
        let h = a.copy_to(runs.path(), &format!("share-{seed}"));
        let (acked, out) = run_and_kill(&h, &["share", &late], Duration::from_millis(delay));
        eprintln!(
            "share seed {seed}: kill after {delay} ms of ~{share_ms} ms -> {}",
            if acked { "exited 0 first" } else { "killed" }
        );
        let context = format!("share seed {seed} (delay {delay} ms)");
        check_store(&h, &context);
        let held = bundles(&h) as u64;
        if acked {
            assert!(out.contains("Shared bundle"), "{context}: {out}");
            assert_eq!(held, n + 1, "{context}: an acknowledged share was lost");
        } else {
            killed += 1;
            assert!(held == n || held == n + 1, "{context}: {held}");
            if held == n {
                h.ok(&["share", &late]);
                check_store(&h, &format!("{context}, after the rerun"));
            }
        }
        assert_eq!(bundles(&h) as u64, n + 1, "{context}");
        let chains = h.json(&["chains", "--json"]);
        assert_eq!(chains[0]["highest"], n + 1, "{context}: {chains}");
        assert_eq!(chains[0]["gaps"], serde_json::json!([]), "{context}");
    }
    eprintln!(
        "{} seeded runs, {killed} killed before they finished ({midway} imports midway), {:.1} s",
        IMPORT_SEEDS.len() + SHARE_SEEDS.len(),
        started.elapsed().as_secs_f64()
    );
}
