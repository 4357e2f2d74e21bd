//! Pinned vectors for the public log (protocol.md §7).
//!
//! `vectors/publog-log.json` is the standard public log (`publog_support::standard_log`): genesis,
//! entries and checkpoint as envelopes, with the expected ids, content hashes, commitments and
//! entry statuses. `vectors/publog-provenance.json` pins one provenance commitment (§7.3) from
//! its raw inputs and a claim (§7.4) that opens it. Written once by
//! `DEBRIEF_WRITE_VECTORS=1 cargo test -p debrief-protocol --test publog_vectors`; the test
//! checks the stored objects verify to the stored expectations and that building them again
//! gives the same bytes (Ed25519 signing and canonical JSON are deterministic).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod publog_support;

use std::path::PathBuf;

use debrief_protocol::envelope::{Envelope, Signer};
use debrief_protocol::ids::{EnvelopeId, Sha256Digest};
use debrief_protocol::publog::*;
use publog_support::*;
use serde_json::{Value, json};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn env_json(e: &Envelope) -> Value {
    serde_json::from_slice(&e.to_json()).unwrap()
}

fn status_json(s: &EntryStatus) -> Value {
    match s {
        EntryStatus::Valid => json!({"status": "valid"}),
        EntryStatus::SupersededBy { erratum } => json!({"status": "superseded", "by": erratum}),
        EntryStatus::Retracted { retraction, reason } => {
            json!({"status": "retracted", "by": retraction, "reason": reason})
        }
        EntryStatus::NotContent { kind } => json!({"status": "no-content", "kind": kind}),
    }
}

fn expectations(log: &VerifiedLog) -> Value {
    let entries: Vec<Value> = (1..=log.head_seq())
        .map(|seq| {
            let e = log.entry(seq).unwrap();
            let mut v = json!({
                "seq": seq,
                "id": e.id().to_hex(),
                "kind": e.entry.kind(),
                "status": status_json(&log.status(seq).unwrap()),
            });
            if let Some((h, c)) = log.commitment_of(seq) {
                v["content_sha256"] = json!(h.to_hex());
                v["provenance"] = json!(c.to_hex());
            }
            v
        })
        .collect();
    json!({
        "genesis_id": log.genesis_id().to_hex(),
        "head_seq": log.head_seq(),
        "head_id": log.head_id().to_hex(),
        "entries": entries,
    })
}

fn log_vector() -> Value {
    let s = standard_log();
    let log = verify_log(&s.genesis.id(), &s.genesis, &s.entries).unwrap();
    json!({
        "genesis": env_json(&s.genesis),
        "entries": s.entries.iter().map(env_json).collect::<Vec<_>>(),
        "checkpoint": env_json(&s.checkpoint),
        "checkpoint_checked_at": t(6001).to_string(),
        "expect": expectations(&log),
    })
}

fn provenance_vector() -> Value {
    let s = standard_log();
    let log = verify_log(&s.genesis.id(), &s.genesis, &s.entries).unwrap();
    let (h, c) = log.commitment_of(3).unwrap();
    let claim = ProvenanceClaim::make(
        log.circle(),
        log.genesis_id(),
        3,
        h,
        &salt(1),
        "Charlie Inc",
        t(9000),
        &attribution(),
    )
    .unwrap();
    json!({
        "domain": "debrief/v1/provenance",
        "circle": circle().to_hex(),
        "content_sha256": h.to_hex(),
        "attribution_key_hex": attribution().public_key().to_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>(),
        "salt_hex": "01".repeat(32),
        "commitment": c.to_hex(),
        "claim": env_json(&claim),
    })
}

fn check_or_write(name: &str, value: &Value) -> Value {
    let path = dir().join(name);
    let text = serde_json::to_string_pretty(value).unwrap() + "\n";
    if std::env::var_os("DEBRIEF_WRITE_VECTORS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let stored = std::fs::read_to_string(&path).unwrap();
    assert_eq!(stored, text, "{name}: rebuilding gave different bytes");
    serde_json::from_str(&stored).unwrap()
}

fn env_from(v: &Value) -> Envelope {
    Envelope::from_value(v.clone()).unwrap()
}

#[test]
fn stored_log_verifies_to_its_expectations() {
    let v = check_or_write("publog-log.json", &log_vector());
    let genesis = env_from(&v["genesis"]);
    let entries: Vec<Envelope> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(env_from)
        .collect();
    let pinned: EnvelopeId = v["expect"]["genesis_id"].as_str().unwrap().parse().unwrap();
    let log = verify_log(&pinned, &genesis, &entries).unwrap();
    assert_eq!(expectations(&log), v["expect"]);
    let now =
        debrief_protocol::Timestamp::parse(v["checkpoint_checked_at"].as_str().unwrap()).unwrap();
    let f = log
        .check_checkpoint(&env_from(&v["checkpoint"]), now, None)
        .unwrap();
    assert_eq!(f.uncovered, 0);
}

#[test]
fn stored_provenance_opens_from_raw_inputs() {
    let v = check_or_write("publog-provenance.json", &provenance_vector());
    let mut bytes = v["domain"].as_str().unwrap().as_bytes().to_vec();
    for field in [
        "circle",
        "content_sha256",
        "attribution_key_hex",
        "salt_hex",
    ] {
        let hex = v[field].as_str().unwrap();
        assert_eq!(hex.len(), 64);
        for i in (0..64).step_by(2) {
            bytes.push(u8::from_str_radix(&hex[i..i + 2], 16).unwrap());
        }
    }
    assert_eq!(
        Sha256Digest::of(&bytes).to_hex(),
        v["commitment"].as_str().unwrap()
    );
    let l: Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("publog-log.json")).unwrap())
            .unwrap();
    let genesis = env_from(&l["genesis"]);
    let entries: Vec<Envelope> = l["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(env_from)
        .collect();
    let log = verify_log(&genesis.id(), &genesis, &entries).unwrap();
    let checked = check_claim(&env_from(&v["claim"]), &log).unwrap();
    assert_eq!(
        checked.commitment.to_hex(),
        v["commitment"].as_str().unwrap()
    );
}
