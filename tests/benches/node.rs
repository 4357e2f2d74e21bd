//! Benchmarks of a real node (real SQLite files in a temp dir, real keys, the real
//! `debrief_node::sharing` path) against the physical limits of the same machine, measured in the
//! same run (issue 19; docs/benchmarks.md records the figures).
//!
//! Run all sections with `cargo bench -p debrief-tests --bench node`, or some of them by name:
//! `cargo bench -p debrief-tests --bench node -- share ingest memory`. Each section prints a
//! Markdown table: figure, ceiling, ratio, with the load average next to it (the machine may be
//! shared, so only the ratio to the same-run ceiling is meaningful).
//!
//! Sections are plain functions in [`SECTIONS`]; the network figures (ingest over HTTPS, request
//! path, convergence, idle RSS of `debrief serve`) are meant to be added there as new entries.
//!
//! The memory section runs this same binary again as a child process (`--memory-child`), so the
//! peak RSS it reads from `/proc/<pid>/status` (VmHWM) belongs to the import alone, not to the
//! generation of the bundles.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use debrief_keys::{Identity, Passphrase};
use debrief_node::home::Home;
use debrief_node::node::{Circle, Node};
use debrief_node::sharing::{self, Accepted, ImportLine, Readability, ShareRequest};
use debrief_protocol::bundle::{
    self, BundleBody, BundleId, BundleKind, BundleObject, SealRequest, Tlp, seal,
};
use debrief_protocol::profile::{Industry, OrgProfile, Region, SizeBand};
use debrief_protocol::report;
use debrief_protocol::roster::Policy;
use debrief_protocol::{EnvelopeId, MemberId, Timestamp};
use ed25519_dalek::{Signer as _, SigningKey};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rusqlite::Connection;
use zeroize::Zeroizing;

/// A bench section: its name (the command-line filter) and the function that prints its table.
type Section = (&'static str, fn());

/// Every section, in the order they run. Add network sections here.
const SECTIONS: &[Section] = &[("share", share), ("ingest", ingest), ("memory", memory)];

/// Bundles accepted by the ingest figure.
const INGEST_N: usize = 10_000;
/// Bundles imported by the memory figure (`DEBRIEF_BENCH_MEMORY_N` overrides it).
const MEMORY_N: usize = 100_000;
/// Goal of issue 19: peak RSS of a node ingesting 100,000 bundles.
const MEMORY_GOAL_MIB: f64 = 256.0;
const PASSPHRASE: &str = "bench passphrase, not secret";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--memory-child") {
        memory_child(&args[1..]);
        return;
    }
    // `cargo bench` passes `--bench`; every other argument names a section.
    let wanted: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with("--"))
        .collect();
    for name in &wanted {
        assert!(
            SECTIONS.iter().any(|(n, _)| n == name),
            "unknown section {name:?}; sections: {:?}",
            SECTIONS.iter().map(|(n, _)| *n).collect::<Vec<_>>()
        );
    }
    println!("# Debrief node benchmarks\n");
    println!("{}\n", machine());
    for (name, run) in SECTIONS {
        if wanted.is_empty() || wanted.contains(name) {
            run();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

/// Cores, memory and the load average, for the header of the output.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_owned())
        })
        .and_then(|kib| kib.parse::<f64>().ok())
        .map_or_else(
            || "unknown".to_owned(),
            |kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0),
        );
    format!("machine: {cores} cores, {mem} memory; {}", load())
}

/// The 1, 5 and 15 minute load averages.
fn load() -> String {
    let l = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let parts: Vec<&str> = l.split_whitespace().take(3).collect();
    format!("load average {}", parts.join(" "))
}

/// Where the share and ingest sections put their SQLite files: `DEBRIEF_BENCH_DIR`, else the
/// system temp dir (a real disk, so commits pay a real fsync). Pointing it at /dev/shm shows
/// what the figures would be without the fsync (a diagnostic, not the figure).
fn bench_dir() -> tempfile::TempDir {
    match std::env::var_os("DEBRIEF_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d).unwrap(),
        None => tempfile::tempdir().unwrap(),
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn profile() -> OrgProfile {
    OrgProfile {
        industry: Industry::Saas,
        size_band: SizeBand::M,
        region: Region::Europe,
    }
}

fn passphrase() -> Passphrase {
    Passphrase::new(Zeroizing::new(PASSPHRASE.to_owned())).unwrap()
}

/// A real node home at `dir` (keystore with a cheap scrypt work factor, as the tests use) that
/// founds a circle with `others` as founding members: the node is the circle's sequencer, so it
/// may share at once.
fn node_with_circle(dir: &Path, others: &[Identity], now: Timestamp) -> (Node, Circle) {
    let node = Node::init(
        Home::at(dir),
        "Bench Node Inc",
        profile(),
        None,
        passphrase(),
        Some(10),
        now,
    )
    .unwrap();
    let cards = others
        .iter()
        .map(|i| i.signed_card(None, now).unwrap())
        .collect();
    let circle = node
        .create_circle("bench", "Benchmarks.", Policy::default(), cards, now)
        .unwrap();
    (node, circle)
}

/// `n` member companies (deterministic keys).
fn members(n: usize, first_seed: u64, now: Timestamp) -> Vec<Identity> {
    (0..n as u64)
        .map(|i| {
            let seed = first_seed + i;
            Identity::generate(
                &mut StdRng::seed_from_u64(seed),
                &format!("Member {seed} Ltd"),
                profile(),
                now,
            )
            .unwrap()
        })
        .collect()
}

/// A real postmortem (a fixture that passes the linter), padded in its last section to about
/// `bytes` of Markdown when `bytes` is larger than the fixture.
fn report_body(bytes: usize) -> BundleBody {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/valid");
    let mut source =
        std::fs::read_to_string(dir.join("2017-01-database-directory-deleted.md")).unwrap();
    let filler = "The replica fell behind and the failover promoted it anyway; nobody saw the lag \
                  graph because its alert had been muted during the previous migration.\n";
    while source.len() < bytes {
        source.push_str(filler);
    }
    let parsed = report::parse(&source).unwrap();
    sharing::report_body(&parsed).unwrap()
}

/// A small valid report, for figures that need many bundles cheaply.
fn tiny_report_body() -> BundleBody {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/valid");
    let source = std::fs::read_to_string(dir.join("book-2017-leap-second-dns.md")).unwrap();
    sharing::report_body(&report::parse(&source).unwrap()).unwrap()
}

/// Pre-seals `per_author` bundles for each author, each author's chain gap-free from seq 1, in
/// round-robin order (author 1 seq 1, author 2 seq 1, …) as a peer's feed would deliver them.
fn seal_chains(
    circle: &Circle,
    authors: &[Identity],
    per_author: usize,
    body: &BundleBody,
    now: Timestamp,
    mut emit: impl FnMut(BundleObject),
) {
    let mut prev: Vec<Option<EnvelopeId>> = vec![None; authors.len()];
    let mut counter: u64 = 0;
    for seq in 1..=per_author as u64 {
        for (a, author) in authors.iter().enumerate() {
            counter += 1;
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&counter.to_be_bytes());
            id[8] = a as u8;
            let object = seal(SealRequest {
                roster: &circle.roster,
                roster_fresh_as_of: now,
                max_roster_age_secs: circle.roster.policy().max_roster_age_secs,
                author: author.member_id(),
                signer: author,
                author_seq: seq,
                prev_link: prev[a],
                bundle_id: BundleId(id),
                kind: BundleKind::Report,
                target: None,
                tlp: Tlp::Amber,
                named: Vec::new(),
                body: body.clone(),
                now,
            })
            .unwrap();
            prev[a] = Some(object.link().id());
            emit(object);
        }
    }
}

/// A SQLite file with the pragmas of a circle store (`node/src/store/mod.rs`: WAL,
/// `synchronous = FULL`) and one table for the same bytes a node stores per bundle.
fn raw_table(path: &Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    conn.execute_batch(
        "CREATE TABLE raw (id INTEGER PRIMARY KEY, link BLOB NOT NULL, header BLOB NOT NULL,
             ciphertext BLOB NOT NULL, plaintext BLOB NOT NULL) STRICT;",
    )
    .unwrap();
    conn
}

/// One bundle's bytes as a node stores them: link, header, ciphertext, decrypted content.
type RawRow = (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>);

fn raw_row(object: &BundleObject, reader: &age::x25519::Identity) -> RawRow {
    (
        object.link().to_json(),
        object.header().to_json(),
        object.ciphertext().to_vec(),
        decrypt(object.ciphertext(), reader),
    )
}

/// One row in its own transaction, committed (durable), as every acceptance is.
fn insert_row(conn: &mut Connection, row: &RawRow) {
    let tx = conn.transaction().unwrap();
    tx.execute(
        "INSERT INTO raw (link, header, ciphertext, plaintext) VALUES (?1, ?2, ?3, ?4)",
        rusqlite::params![row.0, row.1, row.2, row.3],
    )
    .unwrap();
    tx.commit().unwrap();
}

fn decrypt(ciphertext: &[u8], identity: &age::x25519::Identity) -> Vec<u8> {
    let decryptor = age::Decryptor::new_buffered(ciphertext).unwrap();
    let mut reader = decryptor
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .unwrap();
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut reader, &mut plain).unwrap();
    plain
}

/// Strict verifications per second of an Ed25519 signature over a message of `len` bytes.
fn verify_rate(len: usize) -> f64 {
    let key = SigningKey::from_bytes(&[5; 32]);
    let public = key.verifying_key();
    let message = vec![0x42u8; len];
    let signature = key.sign(&message);
    let n = 3_000;
    for _ in 0..100 {
        public.verify_strict(&message, &signature).unwrap();
    }
    let start = Instant::now();
    for _ in 0..n {
        public
            .verify_strict(std::hint::black_box(&message), &signature)
            .unwrap();
    }
    n as f64 / start.elapsed().as_secs_f64()
}

// ---------------------------------------------------------------------------------------------
// share: seal + store one 20 KiB report to a 50-member circle

fn share() {
    let now = debrief_node::node::now();
    let dir = bench_dir();
    let others = members(49, 1000, now);
    let (node, mut circle) = node_with_circle(&dir.path().join("home"), &others, now);
    let me = node.identity().member_id();
    let ids = node.identity().age_identities();
    let body = report_body(20 * 1024);
    let runs = 21;
    let load_before = load();

    let share_once = |circle: &mut Circle| {
        sharing::share(
            circle,
            &me,
            node.identity(),
            &ids,
            ShareRequest {
                kind: BundleKind::Report,
                target: None,
                tlp: Tlp::Amber,
                named: Vec::new(),
                body: body.clone(),
                bundle_id: sharing::new_bundle_id(),
            },
            now,
        )
        .unwrap()
        .object
    };
    let first = share_once(&mut circle);

    // The primitives, on the same bytes: the exact inner envelope the node encrypted, the exact
    // payload sizes it signed, the exact bytes it stored.
    let object = stored_object(&circle, &first, &me);
    let row = raw_row(&object, &ids[0]);
    let inner = row.3.clone();
    let recipients: Vec<age::x25519::Recipient> = std::iter::once(node.identity())
        .chain(others.iter())
        .map(Identity::enc_recipient)
        .collect();
    assert_eq!(recipients.len(), 50);
    let key = SigningKey::from_bytes(&[3; 32]);
    // Ed25519 hashes the message, so sign messages of the sizes the node signs: the inner
    // content, the header and the chain link, as PAE bytes.
    let signed: Vec<Vec<u8>> = [
        debrief_protocol::Envelope::from_json(&inner)
            .unwrap()
            .pae()
            .len(),
        object.header().pae().len(),
        object.link().pae().len(),
    ]
    .iter()
    .map(|n| vec![7u8; *n])
    .collect();
    let mut conn = raw_table(&dir.path().join("raw.sqlite"));

    // The machine is shared and noisy: every round times the figure, the path before the fix
    // and each primitive back to back, so all of them see the same load; medians over rounds.
    let (mut figure, mut reopen, mut encrypt, mut sign, mut insert) =
        (vec![], vec![], vec![], vec![], vec![]);
    let timed = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        f();
        start.elapsed()
    };
    for _ in 0..runs {
        figure.push(timed(&mut || {
            share_once(&mut circle);
        }));
        // Not a primitive but part of the figure: `share` stores its own bundle through
        // `accept_bundle`, which opens it like anyone else's (verify, decrypt as one of 50,
        // verify the inner content). Timed alone to show what that check costs.
        reopen.push(timed(&mut || {
            std::hint::black_box(bundle::open(&object, &circle.roster, &me, &ids, now).unwrap());
        }));
        encrypt.push(timed(&mut || {
            let encryptor = age::Encryptor::with_recipients(
                recipients.iter().map(|r| r as &dyn age::Recipient),
            )
            .unwrap();
            let mut out = Vec::with_capacity(inner.len() + 200 * recipients.len());
            let mut w = encryptor.wrap_output(&mut out).unwrap();
            w.write_all(&inner).unwrap();
            w.finish().unwrap();
            std::hint::black_box(out);
        }));
        sign.push(timed(&mut || {
            for m in &signed {
                std::hint::black_box(key.sign(m));
            }
        }));
        insert.push(timed(&mut || insert_row(&mut conn, &row)));
    }
    assert_eq!(shared_count(&circle), runs + 1);
    let (figure, reopen) = (median(figure), median(reopen));
    let (encrypt, sign, insert) = (median(encrypt), median(sign), median(insert));
    let ceiling = encrypt + sign + insert;
    let ratio = |d: Duration| d.as_secs_f64() / ceiling.as_secs_f64();

    println!("## share: seal and store one 20 KiB report to a 50-member circle\n");
    println!(
        "`sharing::share` on a real node (circle-wide AMBER, {} bytes of inner envelope, \
         ciphertext {} bytes), median of {runs} rounds; ceiling = age encryption of the same \
         inner envelope to the 50 recipients + the 3 Ed25519 signatures (inner, header, link) + \
         one committed SQLite insert of the same bytes (WAL, synchronous=FULL), timed in the \
         same rounds. {load_before}.\n",
        inner.len(),
        object.ciphertext().len()
    );
    println!("| figure | ms | ceiling ms | ratio |");
    println!("|---|---:|---:|---:|");
    println!(
        "| share (seal + verify + store) | {:.2} | {:.2} | {:.2}× |",
        ms(figure),
        ms(ceiling),
        ratio(figure)
    );
    println!(
        "| – of which re-opening its own bundle in `accept_bundle` | {:.2} | | |",
        ms(reopen)
    );
    println!(
        "| – primitives: age to 50 / 3 signatures / insert | | {:.2} / {:.3} / {:.2} | |",
        ms(encrypt),
        ms(sign),
        ms(insert)
    );
    println!();
}

fn shared_count(circle: &Circle) -> usize {
    circle
        .store
        .conn()
        .query_row("SELECT count(*) FROM bundles", [], |r| r.get::<_, i64>(0))
        .unwrap() as usize
}

fn stored_object(circle: &Circle, object: &str, me: &MemberId) -> BundleObject {
    sharing::bundle_object(circle, &object.parse().unwrap(), me)
        .unwrap()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// ingest: accepting 10,000 pre-sealed bundles from several authors

fn ingest() {
    let now = debrief_node::node::now();
    let dir = bench_dir();
    let authors = members(4, 2000, now);
    let (node, mut circle) = node_with_circle(&dir.path().join("home"), &authors, now);
    let me = node.identity().member_id();
    let ids = node.identity().age_identities();
    let body = report_body(0);

    eprintln!("ingest: sealing {INGEST_N} bundles…");
    let mut export = Vec::new();
    let mut rows = Vec::new();
    seal_chains(
        &circle,
        &authors,
        INGEST_N / authors.len(),
        &body,
        now,
        |o| {
            if rows.len() < 2_000 {
                rows.push(raw_row(&o, &ids[0]));
            }
            export.extend_from_slice(o.as_bytes());
            export.push(b'\n');
        },
    );
    let bundle_bytes = export.len() / INGEST_N;
    let header_len = rows[0].1.len();
    let load_before = load();

    eprintln!("ingest: importing…");
    let start = Instant::now();
    let mut opened = 0;
    let lines = sharing::import_stream(&mut circle, &me, &ids, &export[..], "bench", now, |l| {
        if let ImportLine::Accepted {
            accepted:
                Accepted::New {
                    readability: Readability::Opened,
                    ..
                },
            ..
        } = l
        {
            opened += 1;
        }
    })
    .unwrap();
    let elapsed = start.elapsed();
    assert_eq!((lines, opened), (INGEST_N, INGEST_N), "every bundle opened");
    let rate = INGEST_N as f64 / elapsed.as_secs_f64();

    // Ceilings, same run: strict verification of the 3 signatures per bundle (link, header,
    // inner content) at the header's size, and committed inserts of the same bytes.
    let verify = verify_rate(header_len);
    let verify_ceiling = verify / 3.0;
    let mut conn = raw_table(&dir.path().join("raw.sqlite"));
    let start = Instant::now();
    for row in &rows {
        insert_row(&mut conn, row);
    }
    let insert_ceiling = rows.len() as f64 / start.elapsed().as_secs_f64();
    let ceiling = verify_ceiling.min(insert_ceiling);
    let limit = if verify_ceiling < insert_ceiling {
        "verify_strict"
    } else {
        "SQLite commit"
    };

    println!("## ingest: accepting {INGEST_N} bundles on a real node\n");
    println!(
        "`sharing::import_stream` (each line through `accept_bundle`: verify, decrypt, verify, \
         one committed transaction) of {INGEST_N} bundles sealed by {} authors to a {}-member \
         circle, a real ~5 KiB postmortem each ({bundle_bytes} bytes per bundle object on the \
         wire); the node is a recipient of all. Ceiling = min(verify_strict rate / 3 signatures, \
         committed single-row insert rate of the same bytes, {} rows), same run. {load_before}.\n",
        authors.len(),
        authors.len() + 1,
        rows.len()
    );
    println!("| figure | bundles/s | ceiling bundles/s | ratio (figure/ceiling) |");
    println!("|---|---:|---:|---:|");
    println!(
        "| ingest | {rate:.0} | {ceiling:.0} ({limit}) | {:.0}% |",
        100.0 * rate / ceiling
    );
    println!("| – verify_strict / 3 | | {verify_ceiling:.0} ({verify:.0} verifications/s) | |");
    println!("| – committed insert | | {insert_ceiling:.0} | |");
    println!();
}

// ---------------------------------------------------------------------------------------------
// memory: peak RSS of a node importing 100,000 bundles from an export file

fn memory() {
    let n: usize = std::env::var("DEBRIEF_BENCH_MEMORY_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(MEMORY_N);
    let now = debrief_node::node::now();
    // RSS does not depend on the disk, and the export plus two stores of 100k bundles need
    // about 1 GB: by default they go to memory-backed /dev/shm (not counted in the child's RSS;
    // SQLite does not mmap the file), which also keeps fsync off the figure's time column.
    let base = std::env::var_os("DEBRIEF_BENCH_MEMORY_DIR")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/dev/shm")).filter(|p| p.is_dir()))
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::tempdir_in(&base).unwrap();
    let authors = members(2, 3000, now);
    let template = dir.path().join("template");
    let file = dir.path().join("export.jsonl");
    {
        let (_node, circle) = node_with_circle(&template, &authors, now);
        eprintln!("memory: sealing {n} bundles into {}…", file.display());
        let mut out = BufWriter::new(std::fs::File::create(&file).unwrap());
        let body = tiny_report_body();
        let start = Instant::now();
        seal_chains(&circle, &authors, n / authors.len(), &body, now, |o| {
            out.write_all(o.as_bytes()).unwrap();
            out.write_all(b"\n").unwrap();
        });
        out.flush().unwrap();
        eprintln!("memory: sealed in {:.0} s", start.elapsed().as_secs_f64());
    }
    let file_mib = std::fs::metadata(&file).unwrap().len() as f64 / 1048576.0;

    println!("## memory: peak RSS of a node importing {n} bundles from an export file\n");
    println!(
        "A child process opens a real node (keystore, circle store) and imports a {file_mib:.0} MiB \
         export of {n} bundles ({} authors, 3-member circle, a ~3 KiB report each, so that \
         sealing them stays cheap); the figure is its VmHWM from /proc/self/status after the \
         import, the floor is its VmHWM after opening the node, before the import. \
         `buffered` is the import path before issue 19 (`std::fs::read` of the whole file, then \
         one `ImportLine` kept per line, as `debrief import` did); `streaming` is \
         `sharing::import_stream` over a `BufReader`, as `debrief import` does now. Files in {}.\n",
        authors.len(),
        base.display()
    );
    println!(
        "| path | peak RSS MiB | floor (node open) MiB | goal MiB | ratio to goal | bundles/s | load |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|");
    for mode in ["buffered", "streaming"] {
        let home = dir.path().join(mode);
        copy_dir(&template, &home);
        let load_before = load();
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--memory-child", mode])
            .arg(&home)
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let field = |name: &str| -> f64 {
            text.split_whitespace()
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                .unwrap()
                .parse()
                .unwrap()
        };
        assert_eq!(field("accepted") as usize, n, "{text}");
        let peak = field("peak_kib") / 1024.0;
        let floor = field("floor_kib") / 1024.0;
        println!(
            "| {mode} | {peak:.1} | {floor:.1} | {MEMORY_GOAL_MIB:.0} | {:.2} | {:.0} | {load_before} |",
            peak / MEMORY_GOAL_MIB,
            n as f64 / field("secs")
        );
        std::fs::remove_dir_all(&home).unwrap();
    }
    println!();
}

/// The child of the memory section: `--memory-child MODE HOME FILE`.
fn memory_child(args: &[String]) {
    let (mode, home, file) = (&args[0], PathBuf::from(&args[1]), PathBuf::from(&args[2]));
    let now = debrief_node::node::now();
    let node = Node::open_with(Home::at(home), passphrase()).unwrap();
    let mut circle = node.circle(None, now).unwrap();
    let me = node.identity().member_id();
    let ids = node.identity().age_identities();
    let floor = vm_hwm_kib();
    let start = Instant::now();
    let accepted = match mode.as_str() {
        "buffered" => {
            let data = std::fs::read(&file).unwrap();
            let lines =
                sharing::import_objects(&mut circle, &me, &ids, &data, "bench", now).unwrap();
            lines
                .iter()
                .filter(|l| matches!(l, ImportLine::Accepted { .. }))
                .count()
        }
        "streaming" => {
            let reader = std::io::BufReader::new(std::fs::File::open(&file).unwrap());
            let mut accepted = 0;
            sharing::import_stream(&mut circle, &me, &ids, reader, "bench", now, |l| {
                if matches!(l, ImportLine::Accepted { .. }) {
                    accepted += 1;
                }
            })
            .unwrap();
            accepted
        }
        other => panic!("unknown mode {other}"),
    };
    let secs = start.elapsed().as_secs_f64();
    println!(
        "accepted={accepted} peak_kib={} floor_kib={floor} secs={secs}",
        vm_hwm_kib()
    );
}

/// Peak resident set size of this process (VmHWM), in KiB.
fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
