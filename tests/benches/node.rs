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
const SECTIONS: &[Section] = &[
    ("share", share),
    ("ingest", ingest),
    ("memory", memory),
    ("https_ingest", https_ingest),
    ("request", request),
    ("convergence", convergence),
    ("serve_memory", serve_memory),
    ("archive", archive),
];

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

/// Several rows in one committed transaction, as one batch of acceptances (protocol.md §3.29).
fn insert_rows(conn: &mut Connection, rows: &[RawRow]) {
    let tx = conn.transaction().unwrap();
    for row in rows {
        tx.execute(
            "INSERT INTO raw (link, header, ciphertext, plaintext) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![row.0, row.1, row.2, row.3],
        )
        .unwrap();
    }
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

    // Before protocol.md §3.33, `share` sealed, then stored its bundle through `accept_bundle`
    // like anyone else's (verify, decrypt as one of 50, verify the inner content), then
    // recorded the roster seq in a second commit. Rebuilt here from public parts, so both
    // paths are timed in the same rounds.
    let share_before = |circle: &mut Circle| {
        let (seq, prev): (u64, Option<EnvelopeId>) = circle
            .store
            .conn()
            .query_row(
                "SELECT author_seq, link_id FROM links WHERE author = ?1
                 ORDER BY author_seq DESC LIMIT 1",
                [me.as_str()],
                |r| Ok((r.get::<_, i64>(0)? as u64, Some(r.get::<_, String>(1)?))),
            )
            .map(|(s, p)| (s, p.map(|p| p.parse().unwrap())))
            .unwrap();
        let object = bundle::seal(SealRequest {
            roster: &circle.roster,
            roster_fresh_as_of: now,
            max_roster_age_secs: circle.roster.policy().max_roster_age_secs,
            author: me.clone(),
            signer: node.identity(),
            author_seq: seq + 1,
            prev_link: prev,
            bundle_id: sharing::new_bundle_id(),
            kind: BundleKind::Report,
            target: None,
            tlp: Tlp::Amber,
            named: Vec::new(),
            body: body.clone(),
            now,
        })
        .unwrap();
        sharing::accept_bundle(circle, &me, &ids, object.as_bytes(), now).unwrap();
        let tx = circle.store.transaction().unwrap();
        let head = circle.roster.head_seq().to_string();
        debrief_node::store::circle::set_meta(&tx, "last_share_roster_seq", &head).unwrap();
        tx.commit().unwrap();
    };

    // The machine is shared and noisy: every round times the figure, the path before the fix
    // and each primitive back to back, so all of them see the same load; medians over rounds.
    let (mut figure, mut before, mut encrypt, mut sign, mut insert) =
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
        before.push(timed(&mut || share_before(&mut circle)));
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
    assert_eq!(shared_count(&circle), 2 * runs + 1);
    let (figure, before) = (median(figure), median(before));
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
        "| before §3.33 (seal, `accept_bundle` re-opens it, second commit) | {:.2} | {:.2} | {:.2}× |",
        ms(before),
        ms(ceiling),
        ratio(before)
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
    let start = Instant::now();
    for chunk in rows.chunks(sharing::IMPORT_BATCH_LINES) {
        insert_rows(&mut conn, chunk);
    }
    let batched_ceiling = rows.len() as f64 / start.elapsed().as_secs_f64();
    let ceiling = verify_ceiling.min(insert_ceiling);
    let strict = verify_ceiling.min(batched_ceiling);
    let name = |verify_bound: bool| {
        if verify_bound {
            "verify_strict"
        } else {
            "SQLite commit"
        }
    };
    let batch = sharing::IMPORT_BATCH_LINES;

    println!("## ingest: accepting {INGEST_N} bundles on a real node\n");
    println!(
        "`sharing::import_stream` (lines accepted {batch} to a transaction, each verified, \
         decrypted, verified and written under its own savepoint) of {INGEST_N} bundles sealed \
         by {} authors to a {}-member circle, a real ~5 KiB postmortem each ({bundle_bytes} \
         bytes per bundle object on the wire); the node is a recipient of all. Ceiling = \
         min(verify_strict rate / 3 signatures, committed single-row insert rate of the same \
         bytes); batched ceiling = the same with {batch} rows to a commit; {} rows, same run. \
         {load_before}.\n",
        authors.len(),
        authors.len() + 1,
        rows.len()
    );
    println!("| figure | bundles/s | ceiling bundles/s | ratio | batched ceiling | ratio |");
    println!("|---|---:|---:|---:|---:|---:|");
    println!(
        "| ingest | {rate:.0} | {ceiling:.0} ({}) | {:.0}% | {strict:.0} ({}) | {:.0}% |",
        name(verify_ceiling < insert_ceiling),
        100.0 * rate / ceiling,
        name(verify_ceiling < batched_ceiling),
        100.0 * rate / strict
    );
    println!("| – verify_strict / 3 | | {verify_ceiling:.0} ({verify:.0} verifications/s) | | | |");
    println!(
        "| – committed insert, 1 / {batch} rows per commit | | {insert_ceiling:.0} | | {batched_ceiling:.0} | |"
    );
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

// ---------------------------------------------------------------------------------------------
// Network sections: real nodes of the TestCircle harness (tests/src/harness.rs), each with a
// real HTTPS server on 127.0.0.1 with real TLS, and the real sync (`sync_circle_once`).

use debrief_node::http::client::{ClientTimeouts, PeerClient, PeerRequest};
use debrief_node::sync::{NodeSigner, SyncOptions};
use debrief_tests::harness::TestCircle;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bundles the HTTPS ingest figure catches up (`DEBRIEF_BENCH_HTTPS_N` overrides it).
const HTTPS_INGEST_N: usize = 2_000; // docs/benchmarks.md also records N = 10,000
/// Nodes in the convergence figure, and how many peers each one calls.
const CONVERGENCE_NODES: usize = 20;
/// Goal of issue 19: idle RSS of `debrief serve`.
const IDLE_GOAL_MIB: f64 = 64.0;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Bytes sent over the loopback interface so far (`/proc/net/dev`, `lo` transmit bytes). The
/// interface is shared with every other process on the machine, so a delta is an upper bound.
fn loopback_tx_bytes() -> u64 {
    std::fs::read_to_string("/proc/net/dev")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("lo:"))
        .and_then(|rest| rest.split_whitespace().nth(8).map(str::to_owned))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Sync options for the benches: no backoff, the largest feed page (protocol.md §4.9).
fn bench_sync_options() -> SyncOptions {
    SyncOptions {
        ignore_backoff: true,
        feed_limit: 200,
        ..SyncOptions::default()
    }
}

// ---------------------------------------------------------------------------------------------
// https_ingest: a node catching up N bundles from a peer over HTTPS through the real sync

fn https_ingest() {
    let n = env_usize("DEBRIEF_BENCH_HTTPS_N", HTTPS_INGEST_N);
    let rt = runtime();
    rt.block_on(async {
        // Node 0 shares; node 1 catches up one bundle per request and per commit (how sync
        // worked before protocol.md §4.9.3 batches), node 2 with the default batches.
        let mut tc = TestCircle::new(3).await;
        let batches = [(1, 1), (2, SyncOptions::default().fetch_batch)];
        for (node, batch) in batches {
            tc.restrict(node, &[0]);
            tc.set_options(
                node,
                SyncOptions {
                    fetch_batch: batch,
                    ..bench_sync_options()
                },
            );
        }
        // protocol.md §5.4: a node shares only after a peer confirmed its own author chain.
        tc.sync_rounds(1).await;
        eprintln!("https_ingest: node 0 shares {n} bundles…");
        let mut ids = Vec::with_capacity(n);
        for _ in 0..n {
            ids.push(tc.share(0, Tlp::Amber, &[]));
        }
        let load_before = load();
        // Node 0's per-peer rate limit (600 requests/min, burst 120) reads the harness's fixed
        // clock. Advancing it a second every 5 ms keeps the bucket full, so the figure is the
        // cost of catching up, not the limit's pace (docs/benchmarks.md says what the limit
        // allows).
        let ticker = {
            let clock = Arc::clone(&tc.clock);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    clock.advance(1);
                }
            })
        };
        let mut figures = Vec::new();
        for (node, batch) in batches {
            let start = Instant::now();
            let (mut rounds, mut fetched) = (0, 0);
            while fetched < n {
                let report = tc.sync(node).await;
                let (new, _, quarantined, errors) = report.totals();
                assert_eq!((quarantined, errors), (0, 0), "{report:?}");
                fetched += new;
                rounds += 1;
                assert!(rounds < 50, "sync stalled at {fetched} of {n}");
            }
            let elapsed = start.elapsed();
            assert_eq!(tc.bundle_ids(node).len(), n);
            assert!(tc.reads(node, &ids[n - 1]), "the last bundle was opened");
            figures.push((batch, rounds, n as f64 / elapsed.as_secs_f64()));
        }
        ticker.abort();

        // Ceilings on the same bundles, same run: the objects as node 0 serves them, decrypted
        // with node 1's key (what node 1 stores), inserted one committed row each, and in
        // transactions of the sync's batch size.
        let me0 = tc.id(0);
        let reader = tc.nodes[1].node.lock().unwrap().identity().age_identities();
        let sample: Vec<EnvelopeId> = ids.iter().take(1_000).copied().collect();
        let objects: Vec<BundleObject> = tc.with_circle(0, |c| {
            sample
                .iter()
                .map(|id| sharing::bundle_object(c, id, &me0).unwrap().unwrap())
                .collect()
        });
        let rows: Vec<RawRow> = objects.iter().map(|o| raw_row(o, &reader[0])).collect();
        let bundle_bytes = objects[0].as_bytes().len();
        let verify = verify_rate(rows[0].1.len());
        let verify_ceiling = verify / 3.0;
        let dir = bench_dir();
        let mut conn = raw_table(&dir.path().join("raw.sqlite"));
        let start = Instant::now();
        for row in &rows {
            insert_row(&mut conn, row);
        }
        let insert_ceiling = rows.len() as f64 / start.elapsed().as_secs_f64();
        let batch = batches[1].1;
        let start = Instant::now();
        for chunk in rows.chunks(batch) {
            insert_rows(&mut conn, chunk);
        }
        let batched_ceiling = rows.len() as f64 / start.elapsed().as_secs_f64();
        let name = |verify_bound: bool| if verify_bound { "verify_strict" } else { "SQLite commit" };
        let ceiling = verify_ceiling.min(insert_ceiling);
        let strict = verify_ceiling.min(batched_ceiling);

        println!("## https_ingest: catching up {n} bundles from a peer over HTTPS\n");
        println!(
            "Three harness nodes (real HTTPS with pinned TLS on 127.0.0.1, real SQLite files); \
             node 0 shared {n} bundles (the {bundle_bytes}-byte object of a real postmortem, \
             AMBER to the 3-member circle); nodes 1 and 2 each run `sync_circle_once` against \
             node 0 only (feed pages of 200, signed requests) until they hold and have opened \
             all {n}. `fetch_batch` = bundles per `bundles?ids=` request and per commit. \
             Ceiling (issue 19) = min(verify_strict rate / 3 signatures, committed single-row \
             insert rate of the same bytes); batched ceiling = min(verify_strict / 3, insert \
             rate of the same rows {batch} to a commit); {} rows, same run. {load_before}.\n",
            rows.len()
        );
        println!(
            "| fetch_batch | rounds | bundles/s | ceiling bundles/s | ratio | batched ceiling | ratio |"
        );
        println!("|---:|---:|---:|---:|---:|---:|---:|");
        for (batch, rounds, rate) in &figures {
            println!(
                "| {batch} | {rounds} | {rate:.0} | {ceiling:.0} ({}) | {:.0}% | {strict:.0} ({}) | {:.0}% |",
                name(verify_ceiling < insert_ceiling),
                100.0 * rate / ceiling,
                name(verify_ceiling < batched_ceiling),
                100.0 * rate / strict
            );
        }
        println!("| – verify_strict / 3 | | | {verify_ceiling:.0} ({verify:.0} verifications/s) | | | |");
        println!("| – committed insert, 1 row / {batch} rows per commit | | | {insert_ceiling:.0} | | {batched_ceiling:.0} | |");
        println!();
    });
}

// ---------------------------------------------------------------------------------------------
// request: signed GET of a small object vs an unauthenticated GET on the same server

fn request() {
    let rt = runtime();
    rt.block_on(async {
        let tc = TestCircle::new(2).await;
        let circle = tc.circle;
        let me1 = tc.id(1);
        let target = tc.with_circle(1, |c| debrief_node::sync::peers_of(c, &me1))[0].clone();
        let client = PeerClient::new(
            &target.endpoint,
            target.member.clone(),
            target.pin,
            me1.clone(),
            Arc::new(NodeSigner(Arc::clone(&tc.nodes[1].node))),
            ClientTimeouts::default(),
        )
        .unwrap();
        let health = client.url("/healthz").unwrap();
        let path = format!("/v1/c/{}/info", circle.to_hex());
        let clock = Arc::clone(&tc.clock);
        let counter = Arc::new(AtomicU64::new(0));

        let signed = {
            let (client, path, clock, counter) = (
                client.clone(),
                path.clone(),
                Arc::clone(&clock),
                Arc::clone(&counter),
            );
            move || {
                let (client, path, clock, counter) = (
                    client.clone(),
                    path.clone(),
                    Arc::clone(&clock),
                    Arc::clone(&counter),
                );
                async move {
                    // The server's per-peer rate limit (600/min, burst 120) reads the harness's
                    // fixed clock: advancing it a second every 5 requests keeps the bucket full,
                    // so the figure is the cost of a request, not the limit's pace.
                    if counter.fetch_add(1, Ordering::Relaxed) % 5 == 0 {
                        clock.advance(1);
                    }
                    let request = PeerRequest {
                        method: reqwest::Method::GET,
                        circle,
                        path_and_query: path,
                        body: None,
                    };
                    let response = client.call(request, clock.as_ref()).await.unwrap();
                    assert_eq!(response.status(), 200);
                    response.bytes().await.unwrap().len()
                }
            }
        };
        let plain = {
            let (client, health) = (client.clone(), health.clone());
            move || {
                let (client, health) = (client.clone(), health.clone());
                async move {
                    let response = client.http().get(health).send().await.unwrap();
                    assert_eq!(response.status(), 200);
                    response.bytes().await.unwrap().len()
                }
            }
        };
        let signed_bytes = signed().await;
        let plain_bytes = plain().await;
        let load_before = load();

        // Interleaved: each round times both routes at each concurrency level back to back.
        let per_task = 200;
        let levels = [1usize, 8];
        let rounds = 3;
        let mut results: Vec<(usize, Vec<f64>, Vec<f64>)> =
            levels.iter().map(|&c| (c, vec![], vec![])).collect();
        for _ in 0..rounds {
            for (c, s, p) in &mut results {
                s.push(throughput(*c, per_task, signed.clone()).await);
                p.push(throughput(*c, per_task, plain.clone()).await);
            }
        }
        println!("## request: signed GET of a small object vs unauthenticated GET, same server\n");
        println!(
            "A harness node's HTTPS server (axum + rustls, pinned TLS on 127.0.0.1); the client \
             is the peer's own `PeerClient` (connection reuse, one fresh Ed25519 signature and \
             nonce per request). Figure: `GET /v1/c/<circle>/info` ({signed_bytes} bytes \
             of JSON; the server verifies the signature strictly, checks the replay memory and \
             the rate limit, reads the store). Ceiling: `GET /healthz` ({plain_bytes} bytes) on \
             the same server, same client, same connections. {per_task} requests per task; \
             median of {rounds} interleaved rounds. {load_before}.\n"
        );
        println!("| concurrency | signed req/s | unauthenticated req/s (ceiling) | ratio |");
        println!("|---:|---:|---:|---:|");
        for (c, s, p) in results {
            let (s, p) = (median_f(s), median_f(p));
            println!("| {c} | {s:.0} | {p:.0} | {:.0}% |", 100.0 * s / p);
        }
        println!();
    });
}

fn median_f(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Requests per second of `concurrency` tasks each sending `per_task` requests made by `make`.
async fn throughput<F, Fut>(concurrency: usize, per_task: usize, make: F) -> f64
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = usize> + Send + 'static,
{
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let make = make.clone();
            tokio::spawn(async move {
                for _ in 0..per_task {
                    std::hint::black_box(make().await);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    (concurrency * per_task) as f64 / start.elapsed().as_secs_f64()
}

// ---------------------------------------------------------------------------------------------
// convergence: rounds and bytes until 20 nodes that each call 3 peers hold a new bundle

fn convergence() {
    let n = CONVERGENCE_NODES;
    let rt = runtime();
    rt.block_on(async {
        eprintln!("convergence: starting {n} nodes…");
        let mut tc = TestCircle::new(n).await;
        // Each node calls only 3 peers: its two ring neighbours and one chord (i + 7). Others
        // may still call it, as in a real circle where every member serves.
        let peers_of = |i: usize| [(i + 1) % n, (i + n - 1) % n, (i + 7) % n];
        for i in 0..n {
            tc.restrict(i, &peers_of(i));
            tc.set_options(i, bench_sync_options());
        }
        // Warm-up: one round, so cursors and roster agreement exist before the measured bundle.
        concurrent_round(&tc).await;
        let id = tc.share(0, Tlp::Amber, &[]);
        let object_bytes = {
            let me0 = tc.id(0);
            tc.with_circle(0, |c| {
                sharing::bundle_object(c, &id, &me0)
                    .unwrap()
                    .unwrap()
                    .as_bytes()
                    .len()
            })
        };
        let load_before = load();
        let tx_before = loopback_tx_bytes();
        let mut rounds = 0;
        let mut transfers = 0;
        let mut holders_by_round = Vec::new();
        loop {
            rounds += 1;
            transfers += concurrent_round(&tc).await;
            let holders = (0..n).filter(|&i| tc.holds(i, &id)).count();
            holders_by_round.push(holders);
            if holders == n {
                break;
            }
            assert!(rounds < 30, "no convergence: {holders_by_round:?}");
        }
        let tx = loopback_tx_bytes().saturating_sub(tx_before);
        // A quiet round after convergence: what polling alone costs.
        let quiet_before = loopback_tx_bytes();
        concurrent_round(&tc).await;
        let quiet = loopback_tx_bytes().saturating_sub(quiet_before);

        println!("## convergence: gossip rounds until {n} nodes hold a new bundle\n");
        println!(
            "{n} harness nodes (real HTTPS on 127.0.0.1), each calling only 3 peers (ring \
             neighbours and one chord, `restrict`); in a round every node runs \
             `sync_circle_once` at the same time. Node 0 shares one bundle ({object_bytes} \
             bytes as an object); rounds are counted until every node stores it. Bytes: the \
             loopback interface's transmitted bytes over those rounds (TLS records, HTTP, \
             signed headers, feed and link pages, the bundle), divided by {n}; the interface is \
             shared with the machine, so an upper bound. Ceiling: the bundle's size, which \
             every node must receive at least once. {load_before}.\n"
        );
        println!(
            "| rounds | holders after each round | bundle transfers | bytes per node per round \
             | bytes per node (to converge) | ceiling bytes per node | ratio | idle round bytes per node |"
        );
        println!("|---:|---|---:|---:|---:|---:|---:|---:|");
        let per_node = tx as f64 / n as f64;
        println!(
            "| {rounds} | {holders_by_round:?} | {transfers} | {:.0} | {per_node:.0} | {object_bytes} | {:.1}× | {:.0} |",
            per_node / rounds as f64,
            per_node / object_bytes as f64,
            quiet as f64 / n as f64
        );
        println!();
    });
}

/// Every node of `tc` runs one sync round, all at once; bundle objects stored in the round.
async fn concurrent_round(tc: &TestCircle) -> usize {
    let tasks: Vec<_> = tc
        .nodes
        .iter()
        .map(|node| {
            let syncer = node.syncer.clone();
            let (circle, clock) = (tc.circle, tc.clock());
            tokio::spawn(async move {
                debrief_node::sync::sync_circle_once(&syncer, &circle, clock)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut new = 0;
    for t in tasks {
        let report = t.await.unwrap();
        let (n, _, quarantined, _) = report.totals();
        assert_eq!(quarantined, 0, "{report:?}");
        new += n;
    }
    new
}

// ---------------------------------------------------------------------------------------------
// serve_memory: idle RSS of the `debrief serve` binary

fn serve_memory() {
    let bin = std::env::var_os("DEBRIEF_BIN").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/debrief"),
        PathBuf::from,
    );
    assert!(
        bin.is_file(),
        "{}: build it first with `cargo build --release -p debrief-node --bin debrief` (or set DEBRIEF_BIN)",
        bin.display()
    );
    println!("## serve_memory: idle RSS of `debrief serve`\n");
    println!(
        "The `debrief` binary ({}): `init` a home, found a 2-member circle, run \
         `debrief serve` (HTTPS + admin on 127.0.0.1), wait for its `serving` line, send 20 \
         `/healthz` requests, wait 3 s, then read `/proc/<pid>/status`. VmRSS is the idle \
         figure; VmHWM is the peak since start (the keystore unlock's scrypt included). \
         Goal: {IDLE_GOAL_MIB} MiB. {}.\n",
        bin.display(),
        load()
    );
    println!(
        "| keystore scrypt work factor | VmRSS MiB (idle) | VmHWM MiB (peak) | goal MiB | ratio (VmRSS/goal) |"
    );
    println!("|---|---:|---:|---:|---:|");
    for work in [None, Some("10")] {
        let (rss, hwm) = serve_rss(&bin, work);
        println!(
            "| {} | {:.1} | {:.1} | {IDLE_GOAL_MIB} | {:.2} |",
            work.map_or("default (operators' setting)".to_owned(), |w| format!(
                "{w} (tests' setting)"
            )),
            rss as f64 / 1024.0,
            hwm as f64 / 1024.0,
            rss as f64 / 1024.0 / IDLE_GOAL_MIB
        );
    }
    println!();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// (VmRSS, VmHWM) in KiB of an idle `debrief serve`.
fn serve_rss(bin: &Path, work: Option<&str>) -> (u64, u64) {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let pass = dir.path().join("pass.txt");
    std::fs::write(&pass, "correct horse battery staple\n").unwrap();
    let port = free_port();
    let admin = free_port();
    let cmd = |home: &str, args: &[&str]| {
        let mut c = Command::new(bin);
        c.args(args)
            .env("DEBRIEF_HOME", dir.path().join(home))
            .env("DEBRIEF_PASSPHRASE_FILE", &pass);
        match work {
            Some(w) => c.env("DEBRIEF_SCRYPT_WORK_FACTOR", w),
            None => c.env_remove("DEBRIEF_SCRYPT_WORK_FACTOR"),
        };
        c
    };
    let ok = |home: &str, args: &[&str]| {
        let out = cmd(home, args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let endpoint = format!("https://127.0.0.1:{port}");
    for (home, org, ep) in [
        ("a", "Alpha Corp", Some(endpoint.as_str())),
        ("b", "Bravo Ltd", None),
    ] {
        let mut args = vec![
            "init",
            "--org",
            org,
            "--industry",
            "saas",
            "--size-band",
            "250-999",
            "--region",
            "europe",
        ];
        if let Some(ep) = ep {
            args.extend(["--endpoint", ep]);
        }
        ok(home, &args);
    }
    let card = dir.path().join("b.card");
    ok("b", &["id", "export", card.to_str().unwrap()]);
    ok(
        "a",
        &[
            "circle",
            "create",
            "--name",
            "ops",
            "--founding-member",
            card.to_str().unwrap(),
        ],
    );
    let listen = format!("127.0.0.1:{port}");
    let admin_addr = format!("127.0.0.1:{admin}");
    let mut child = cmd("a", &["serve", "--listen", &listen, "--admin", &admin_addr])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("serving https://"), "{first}");
    // The admin listener starts after the HTTPS one and says so on a later line.
    let mut seen = Vec::new();
    while !seen
        .last()
        .is_some_and(|l: &String| l.starts_with("admin http://"))
    {
        assert!(seen.len() < 10, "no admin line: {seen:?}");
        seen.push(lines.next().unwrap().unwrap());
    }
    std::thread::spawn(move || for _ in lines {});
    for _ in 0..20 {
        let mut s = std::net::TcpStream::connect(&admin_addr).unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        std::io::Read::read_to_string(&mut s, &mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    }
    std::thread::sleep(Duration::from_secs(3));
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .unwrap()
            .parse()
            .unwrap()
    };
    let out = (field("VmRSS:"), field("VmHWM:"));
    child.kill().unwrap();
    child.wait().unwrap();
    out
}

// ---------------------------------------------------------------------------------------------
// archive: build time of the public archive, and static search vs server search

/// Public reports in the archive figure (`DEBRIEF_BENCH_ARCHIVE_N` overrides it).
const ARCHIVE_N: usize = 10_000;
/// Queries of the search figure: words of the fixtures, one to three words each.
const QUERIES: &[&str] = &[
    "database",
    "replica failover",
    "dns",
    "leap second",
    "certificate expired",
    "deploy rollback config",
    "backup",
    "load balancer",
];

fn archive() {
    use debrief_node::archive::serve::{ArchiveServer, FeedbackOptions};
    use debrief_node::archive::{self as arch, BuildOptions, DemoOptions, SiteOptions, logdir};

    let n = env_usize("DEBRIEF_BENCH_ARCHIVE_N", ARCHIVE_N);
    let dir = bench_dir();
    let fixtures_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/valid");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&fixtures_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("md"))
        .collect();
    names.sort();
    let fixtures: Vec<(String, String)> = names
        .iter()
        .map(|p| (p.display().to_string(), std::fs::read_to_string(p).unwrap()))
        .collect();
    let now = debrief_node::node::now();
    eprintln!("archive: publishing {n} synthetic reports…");
    let start = Instant::now();
    let demo = arch::demo_log(&DemoOptions {
        fixtures,
        synthetic: n,
        seed: 19,
        now,
    })
    .unwrap();
    let publish_secs = start.elapsed().as_secs_f64();
    let reports = demo.published.len();
    let log_dir = dir.path().join("log");
    logdir::write_log(&log_dir, &demo.log, &demo.checkpoint).unwrap();
    drop(demo);

    let out = dir.path().join("site");
    let load_before = load();
    eprintln!("archive: building…");
    let start = Instant::now();
    let summary = arch::build(&BuildOptions {
        log_dir: log_dir.clone(),
        out_dir: out.clone(),
        genesis: None,
        site: SiteOptions { base_url: None },
        progress: false,
        now,
        yearly: vec![],
    })
    .unwrap();
    let build_secs = start.elapsed().as_secs_f64();
    assert!(summary.reports >= n, "{summary:?}");

    // Ceiling: writing the same files (count and bytes) into a fresh directory, same disk.
    let mut files = Vec::new();
    collect_files(&out, &mut files);
    let bytes: u64 = files.iter().map(|f| f.metadata().unwrap().len()).sum();
    let copy_to = dir.path().join("copy");
    let contents: Vec<(PathBuf, Vec<u8>)> = files
        .iter()
        .map(|f| {
            (
                copy_to.join(f.strip_prefix(&out).unwrap()),
                std::fs::read(f).unwrap(),
            )
        })
        .collect();
    let start = Instant::now();
    for (path, data) in &contents {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
    }
    let write_secs = start.elapsed().as_secs_f64();
    drop(contents);

    // A rebuild with nothing changed (the manifest skips unchanged pages).
    let start = Instant::now();
    let again = arch::build(&BuildOptions {
        log_dir,
        out_dir: out.clone(),
        genesis: None,
        site: SiteOptions { base_url: None },
        progress: false,
        now,
        yearly: vec![],
    })
    .unwrap();
    let rebuild_secs = start.elapsed().as_secs_f64();

    println!("## archive: building the public archive of {n} synthetic reports\n");
    println!(
        "`archive::demo_log` (the demo's signed public log: fixtures plus {n} seeded synthetic \
         reports; {reports} publications; publishing took {publish_secs:.1} s, not part of the \
         figure), written as a log directory; the figure is `archive::build` of a fresh site \
         (verify the log, render every page, search index). Ceiling: writing the same {} files \
         ({:.1} MB) into a fresh directory on the same disk, same run. {load_before}.\n",
        files.len(),
        bytes as f64 / 1e6
    );
    println!("| figure | s | ceiling s (write the same files) | ratio |");
    println!("|---|---:|---:|---:|");
    println!(
        "| build, fresh ({} pages rendered) | {build_secs:.2} | {write_secs:.2} | {:.1}× |",
        summary.pages_rendered,
        build_secs / write_secs
    );
    println!(
        "| rebuild, nothing changed ({} rendered, {} skipped) | {rebuild_secs:.2} | | |",
        again.pages_rendered, again.pages_skipped
    );
    println!();

    // Search: the static index (search-index.json, what assets/search.js scans in the browser)
    // vs the server's FTS5 (`/api/search`) over HTTP on loopback.
    let index_text = std::fs::read_to_string(out.join("search-index.json")).unwrap();
    let start = Instant::now();
    let index: serde_json::Value = serde_json::from_str(&index_text).unwrap();
    let parse_ms = ms(start.elapsed());
    let docs: Vec<(String, String)> = index["docs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                format!(" {}", d["words"].as_str().unwrap()),
                d["title"].as_str().unwrap().to_lowercase(),
            )
        })
        .collect();

    let db = dir.path().join("search.sqlite");
    let (server, indexed) = ArchiveServer::open(
        &out,
        &db,
        &FeedbackOptions::new(dir.path().join("fb.sqlite")),
    )
    .unwrap();
    let rt = runtime();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(debrief_node::archive::serve::run(
        Arc::new(server),
        listener,
    ));

    let repeats = 25;
    let (mut static_t, mut server_t) = (Vec::new(), Vec::new());
    let mut hits = Vec::new();
    for _ in 0..repeats {
        for q in QUERIES {
            let start = Instant::now();
            let found = static_search(&docs, q);
            static_t.push(start.elapsed());
            let start = Instant::now();
            let body = http_get(addr, &format!("/api/search?q={}", q.replace(' ', "+")));
            server_t.push(start.elapsed());
            if hits.len() < QUERIES.len() {
                hits.push((q, found, body.len()));
            }
        }
    }
    let pct = |mut v: Vec<Duration>, p: f64| {
        v.sort();
        v[((v.len() - 1) as f64 * p).round() as usize]
    };
    println!("## archive: static search index vs server search, {indexed} reports\n");
    println!(
        "{} queries × {repeats}, interleaved (queries: {}). Static: the lookup `assets/search.js` \
         does in the browser (every word a prefix of a word of the report, title matches first), \
         ported line for line to Rust over the parsed `search-index.json` ({:.1} MB, parsed in \
         {parse_ms:.0} ms; a browser downloads and parses it once per visit, not timed here). \
         Server: `GET /api/search?q=` on the same machine's `archive serve` router over HTTP on \
         127.0.0.1, one new TCP connection per request, full response read (FTS5, 20 results). \
         {}.\n",
        QUERIES.len(),
        QUERIES.join(", "),
        index_text.len() as f64 / 1e6,
        load()
    );
    println!("| lookup | p50 ms | p95 ms |");
    println!("|---|---:|---:|");
    println!(
        "| static index (linear scan, {} docs) | {:.2} | {:.2} |",
        docs.len(),
        ms(pct(static_t.clone(), 0.5)),
        ms(pct(static_t, 0.95))
    );
    println!(
        "| server `/api/search` (FTS5) | {:.2} | {:.2} |",
        ms(pct(server_t.clone(), 0.5)),
        ms(pct(server_t, 0.95))
    );
    println!();
    println!("| query | static hits | server response bytes |");
    println!("|---|---:|---:|");
    for (q, found, bytes) in hits {
        println!("| {q} | {found} | {bytes} |");
    }
    println!();
    drop(rt);
}

/// The matching rule of `node/src/archive/search.js` (`render`): every query token must be a
/// prefix of a word (" " + token found in " " + words); hits sorted by title matches. Returns
/// the number of hits.
fn static_search(docs: &[(String, String)], query: &str) -> usize {
    let words: Vec<String> = query
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| format!(" {w}"))
        .collect();
    let mut hits: Vec<(usize, &str)> = docs
        .iter()
        .filter(|(hay, _)| words.iter().all(|w| hay.contains(w.as_str())))
        .map(|(_, title)| {
            let score = words
                .iter()
                .filter(|w| title.contains(w.trim_start()))
                .count();
            (score, title.as_str())
        })
        .collect();
    hits.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    std::hint::black_box(&hits);
    hits.len()
}

/// One HTTP/1.1 GET on a new connection; the body.
fn http_get(addr: std::net::SocketAddr, path: &str) -> Vec<u8> {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut s, &mut out).unwrap();
    assert!(out.starts_with(b"HTTP/1.1 200"), "{path}");
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    out.split_off(split + 4)
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            collect_files(&entry.path(), out);
        } else {
            out.push(entry.path());
        }
    }
}
