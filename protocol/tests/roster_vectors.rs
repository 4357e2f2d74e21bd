//! Pinned vectors (protocol.md §2): the standard circle log (fixed keys and times, see
//! `roster_support`) and what it folds to.
//!
//! `vectors/roster/standard-log.json` is the log as a JSON array of envelopes;
//! `vectors/roster/standard-roster.json` is the folded result. Both were written once by
//! `DEBRIEF_WRITE_VECTORS=1 cargo test -p debrief-protocol --test roster_vectors`; the test
//! checks that the stored log folds to the stored roster, and that building the log again
//! gives the same bytes (Ed25519 signing and canonical JSON are deterministic).
#![allow(clippy::unwrap_used)]

mod roster_support;

use std::path::PathBuf;

use debrief_protocol::envelope::Envelope;
use debrief_protocol::membership::RosterHistory;
use debrief_protocol::roster::{Roster, fold};
use roster_support::*;
use serde_json::{Value, json};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/roster")
}

fn summary(r: &Roster) -> Value {
    let members: Vec<Value> = r
        .members()
        .map(|m| {
            json!({
                "member": m.id.as_str(),
                "org": m.org,
                "maintainer": m.maintainer,
                "signing_key_id": m.signing_key.key_id().to_hex(),
                "enc_recipient": m.enc_recipient,
                "endpoint": m.endpoint,
                "tls_spki_sha256": m.tls_spki_sha256.to_hex(),
                "deny_terms": m.deny_terms,
                "admitted_seq": m.admitted_seq,
                "last_counter": m.last_counter,
            })
        })
        .collect();
    let departed: Vec<Value> = [id(3), id(5)]
        .iter()
        .map(|m| {
            let d = r.departure(m).unwrap();
            json!({ "member": m.as_str(), "how": d.how, "seq": d.seq, "tip_seq": d.tip.seq })
        })
        .collect();
    let (head_seq, head) = r.head();
    json!({
        "circle": r.circle_id().to_hex(),
        "name": r.name(),
        "charter_sha256": r.charter_sha256().to_hex(),
        "head_seq": head_seq,
        "head": head.to_hex(),
        "sequencer": r.sequencer().as_str(),
        "policy": r.policy(),
        "members": members,
        "departed": departed,
        "event_ids": (0..=head_seq).map(|s| r.event_id_at(s).unwrap().to_hex()).collect::<Vec<_>>(),
    })
}

#[test]
fn standard_log_vector() {
    let built = standard_log();
    let log_json = serde_json::to_string_pretty(&built.log).unwrap() + "\n";
    let roster_json = serde_json::to_string_pretty(&summary(&built.roster)).unwrap() + "\n";
    if std::env::var_os("DEBRIEF_WRITE_VECTORS").is_some() {
        std::fs::create_dir_all(dir()).unwrap();
        std::fs::write(dir().join("standard-log.json"), &log_json).unwrap();
        std::fs::write(dir().join("standard-roster.json"), &roster_json).unwrap();
    }
    let stored_log = std::fs::read_to_string(dir().join("standard-log.json")).unwrap();
    let stored_roster = std::fs::read_to_string(dir().join("standard-roster.json")).unwrap();
    // The stored log folds to the stored roster.
    let envelopes: Vec<Envelope> = serde_json::from_str(&stored_log).unwrap();
    let r = fold(&envelopes, None).unwrap();
    let want: Value = serde_json::from_str(&stored_roster).unwrap();
    assert_eq!(summary(&r), want);
    // The pinned circle id and head, independent of the stored files.
    assert_eq!(
        r.circle_id().to_hex(),
        "28638ef92e807cdad2f2e6fefee126eea17b329c043248d4458cd45fdf932e14"
    );
    assert_eq!(
        r.head(),
        (
            12,
            "b9536d8a9e3ad6e6e0fffe83a3986d3d4b9047333f9808f40b63ad94f5a39b61"
                .parse()
                .unwrap()
        )
    );
    // Building the log again gives exactly the stored bytes.
    assert_eq!(log_json, stored_log);
    assert_eq!(roster_json, stored_roster);
}
