//! The saved fuzz corpus (`fuzz/corpus/<target>/`) replayed as ordinary tests, through the
//! same harness the libFuzzer targets run (`fuzz/src/harness.rs`), so CI needs no fuzzer. Every
//! input there must give a typed error or a value and keep the harness's oracles (round trips,
//! residual scan); a panic fails the test and names the file.
//!
//! The seed inputs (`seed-*` files) are regenerated, only when a format changes on purpose, with
//! `DEBRIEF_WRITE_FUZZ_SEEDS=1 cargo test -p debrief-protocol --test fuzz_corpus -- --ignored`.
//! The other files were kept by the fuzzer (`cargo fuzz cmin`); see fuzz/README.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bundle_support;
#[path = "../../fuzz/src/harness.rs"]
mod harness;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use bundle_support::{NOW, World};
use debrief_protocol::bundle::{BundleHeader, BundleObject};
use debrief_protocol::encoding::base64_encode;
use debrief_protocol::envelope::{Envelope, PayloadType, Signer};
use debrief_protocol::ids::{EnvelopeId, Sha256Digest};
use debrief_protocol::timestamp::Timestamp;
use debrief_protocol::wire::{HttpRequestClaim, RequestNonce};
use ed25519_dalek::SigningKey;
use serde_json::Value;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus")
}

fn files_of(target: &str) -> Vec<PathBuf> {
    let dir = corpus_dir().join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus directory {} unreadable: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str) {
    let (_, run) = harness::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .unwrap();
    let files = files_of(target);
    assert!(!files.is_empty(), "no corpus for {target}");
    let mut failed = Vec::new();
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        if catch_unwind(AssertUnwindSafe(|| run(&bytes))).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: inputs that panicked: {failed:#?}"
    );
}

#[test]
fn every_target_has_a_corpus_directory() {
    for (name, _) in harness::TARGETS {
        assert!(
            corpus_dir().join(name).is_dir(),
            "fuzz/corpus/{name} missing"
        );
    }
}

#[test]
fn corpus_report() {
    replay("report");
}

#[test]
fn corpus_envelope() {
    replay("envelope");
}

#[test]
fn corpus_roster_fold() {
    replay("roster_fold");
}

#[test]
fn corpus_bundle_open() {
    replay("bundle_open");
}

#[test]
fn corpus_age_header() {
    replay("age_header");
}

#[test]
fn corpus_scrub() {
    replay("scrub");
}

#[test]
fn corpus_wire_auth() {
    replay("wire_auth");
}

#[test]
fn corpus_publog_verify() {
    replay("publog_verify");
}

// ---------------------------------------------------------------------------------------------
// Seed inputs: valid (and a few nearly valid) objects of each kind, so the fuzzer starts deep.

fn with_mode(mode: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![mode];
    out.extend_from_slice(bytes);
    out
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A request signed by the harness's fixed member key for the harness's fixed facts.
fn signed_request_claim() -> HttpRequestClaim {
    let circle = EnvelopeId(Sha256Digest::of(b"fuzz circle"));
    HttpRequestClaim {
        method: "PUT".into(),
        path: format!("/v1/c/{circle}/bundles/ab"),
        circle,
        destination: SigningKey::from_bytes(&[9; 32]).public_key().member_id(),
        content_type: "application/json".into(),
        body_sha256: Sha256Digest::of(b"{}"),
        timestamp: Timestamp::from_unix(1_795_602_000),
        nonce: RequestNonce([7; 16]),
        signer: SigningKey::from_bytes(&[42; 32]).public_key().member_id(),
    }
}

fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out: Vec<(&'static str, String, Vec<u8>)> = Vec::new();
    let mut add = |t: &'static str, name: &str, bytes: Vec<u8>| {
        out.push((t, format!("seed-{name}"), bytes));
    };

    // report: a valid report, an invalid one, and the template.
    let fixtures = repo().join("tests/fixtures");
    for (dir, file) in [
        ("valid", "2019-07-waf-regex-cpu-exhaustion.md"),
        ("valid", "book-2017-leap-second-dns.md"),
        ("invalid", "ids-and-references.md"),
        ("invalid", "disclosure.md"),
    ] {
        add(
            "report",
            file,
            std::fs::read(fixtures.join(dir).join(file)).unwrap(),
        );
    }

    // envelope and roster_fold: the standard roster log.
    let log_text =
        std::fs::read(repo().join("protocol/tests/vectors/roster/standard-log.json")).unwrap();
    let log: Vec<Envelope> = serde_json::from_slice(&log_text).unwrap();
    for (i, env) in log.iter().enumerate().take(4) {
        add("envelope", &format!("roster-event-{i}"), env.to_json());
    }
    let first3: Vec<&Envelope> = log.iter().take(3).collect();
    let raw = serde_json::to_vec(&first3).unwrap();
    add("roster_fold", "raw-3", with_mode(0, &raw));
    add("roster_fold", "raw-3-now", with_mode(2, &raw));
    let payloads: Vec<Value> = log
        .iter()
        .take(6)
        .map(|e| e.unverified_payload().unwrap())
        .collect();
    let resigned = serde_json::to_vec(&payloads).unwrap();
    add("roster_fold", "resigned-6", with_mode(1, &resigned));
    add("roster_fold", "resigned-6-now", with_mode(3, &resigned));

    // bundle_open, age_header, envelope: bundles from the fixed world.
    for name in ["green-report", "red-report", "red-comment"] {
        let path = repo().join(format!("protocol/tests/vectors/bundle/{name}.bundle.json"));
        let obj = BundleObject::parse(&std::fs::read(path).unwrap()).unwrap();
        let header: BundleHeader = obj.header().unverified_payload().unwrap();
        let recipients = u8::try_from(header.recipients.len()).unwrap();
        let obj = &obj;
        add(
            "bundle_open",
            &format!("{name}-raw"),
            with_mode(0, obj.as_bytes()),
        );
        add(
            "bundle_open",
            &format!("{name}-resigned"),
            with_mode(1, obj.as_bytes()),
        );
        let ct = obj.ciphertext();
        let header_end = ct.windows(4).position(|w| w == b"--- ").unwrap();
        let header_len =
            header_end + ct[header_end..].iter().position(|&b| b == b'\n').unwrap() + 1;
        add("age_header", name, with_mode(recipients, &ct[..header_len]));
        add(
            "envelope",
            &format!("{name}-header"),
            obj.header().to_json(),
        );
        add("envelope", &format!("{name}-link"), obj.link().to_json());
    }

    // scrub: the module's documented example and two corpus fixtures.
    add(
        "scrub",
        "example",
        b"Acme's primary db-prod-07 (10.2.3.4) fell over; see OPS-1234. Alice Smith paged bob@acme-internal.example at https://grafana.acme-internal.example/d/x?from=now-1h."
            .to_vec(),
    );
    for file in ["01-consumer-rebalance.md", "04-bucket-policy.md"] {
        add(
            "scrub",
            file,
            std::fs::read(fixtures.join("declassify").join(file)).unwrap(),
        );
    }

    // wire_auth: a valid signed header (raw) and its claim (re-signed).
    let claim = signed_request_claim();
    let env = claim.sign(&SigningKey::from_bytes(&[42; 32])).unwrap();
    add(
        "wire_auth",
        "valid-header",
        with_mode(0, base64_encode(&env.to_json()).as_bytes()),
    );
    add(
        "wire_auth",
        "valid-claim",
        with_mode(1, &serde_json::to_vec(&claim).unwrap()),
    );
    let mut stale = claim.clone();
    stale.timestamp = Timestamp::from_unix(1_795_602_000 - 121);
    add(
        "wire_auth",
        "stale-claim",
        with_mode(1, &serde_json::to_vec(&stale).unwrap()),
    );
    let other = Envelope::sign(
        &claim,
        PayloadType::HttpRequest,
        &SigningKey::from_bytes(&[43; 32]),
    )
    .unwrap();
    add(
        "wire_auth",
        "wrong-key",
        with_mode(0, base64_encode(&other.to_json()).as_bytes()),
    );
    add("envelope", "http-request", env.to_json());

    // publog_verify: the standard public log vector, with the provenance claim, and the same log
    // with entries dropped, reordered or cut, so the fuzzer starts at each of the verifier's
    // refusals as well as at its end.
    let vectors = repo().join("protocol/tests/vectors");
    let log_text = std::fs::read(vectors.join("publog-log.json")).unwrap();
    add("publog_verify", "log", log_text.clone());
    let mut doc: Value = serde_json::from_slice(&log_text).unwrap();
    let provenance: Value =
        serde_json::from_slice(&std::fs::read(vectors.join("publog-provenance.json")).unwrap())
            .unwrap();
    doc["claim"] = provenance["claim"].clone();
    add(
        "publog_verify",
        "log-claim",
        serde_json::to_vec(&doc).unwrap(),
    );
    let entries = doc["entries"].as_array().unwrap().clone();
    let mut variant = |name: &str, list: Vec<Value>| {
        let mut d = doc.clone();
        d["entries"] = Value::Array(list);
        add("publog_verify", name, serde_json::to_vec(&d).unwrap());
    };
    variant("prefix-3", entries[..3].to_vec());
    variant("reversed", entries.iter().rev().cloned().collect());
    let mut gap = entries.clone();
    gap.remove(1);
    variant("gap", gap);
    let mut twice = entries.clone();
    twice.push(entries[entries.len() - 1].clone());
    variant("replayed-last", twice);

    out
}

/// Writes the `seed-*` files (only with DEBRIEF_WRITE_FUZZ_SEEDS set).
#[test]
#[ignore = "writes fuzz/corpus; run by hand when a format changes"]
fn write_seed_corpus() {
    if std::env::var_os("DEBRIEF_WRITE_FUZZ_SEEDS").is_none() {
        return;
    }
    for (target, name, bytes) in seeds() {
        let dir = corpus_dir().join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// The seeds are what they claim: each valid one passes its entry point's deepest check.
#[test]
fn seeds_are_valid_where_they_claim_to_be() {
    let w = World::new();
    for (target, name, bytes) in seeds() {
        // Every seed runs through the harness without a panic.
        let (_, run) = harness::TARGETS.iter().find(|(n, _)| *n == target).unwrap();
        run(&bytes);
        if target == "bundle_open" {
            // Both modes reach the end: the re-signed copy of a valid bundle opens for B too,
            // so mutations in that mode are judged by the rules behind the signatures.
            let obj = BundleObject::parse(&bytes[1..]).unwrap();
            let obj = if bytes[0] & 1 == 0 {
                obj
            } else {
                let header: Value = obj.header().unverified_payload().unwrap();
                let signer = harness::author_of(&header);
                harness::reframe(&obj, header, obj.ciphertext().to_vec(), &signer.signing).unwrap()
            };
            debrief_protocol::bundle::open(
                &obj,
                &w.roster,
                &w.b.id,
                std::slice::from_ref(&w.b.age),
                NOW,
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        if target == "publog_verify" && name.starts_with("seed-log") {
            // The whole standard log verifies, its checkpoint is fresh, and the claim opens, so
            // mutations of these seeds are judged by the verifier's deepest checks.
            use debrief_protocol::publog;
            let doc: Value = serde_json::from_slice(&bytes).unwrap();
            let env = |v: &Value| Envelope::from_value(v.clone()).unwrap();
            let genesis = env(&doc["genesis"]);
            let entries: Vec<Envelope> =
                doc["entries"].as_array().unwrap().iter().map(env).collect();
            let log = publog::verify_log(&genesis.id(), &genesis, &entries)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let now = Timestamp::parse(doc["checkpoint_checked_at"].as_str().unwrap()).unwrap();
            log.check_checkpoint(&env(&doc["checkpoint"]), now, None)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            if name == "seed-log-claim" {
                publog::check_claim(&env(&doc["claim"]), &log)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
        if target == "roster_fold" {
            // Both modes fold: re-signing a valid log by its sequencer changes nothing.
            let envs = harness::roster_envelopes(&bytes).unwrap();
            debrief_protocol::roster::fold(&envs, None).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}
