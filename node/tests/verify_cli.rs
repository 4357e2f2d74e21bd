//! `debrief verify` through the built binary, on a public log directory written with the
//! protocol library (protocol.md §7.10): a good copy verifies; a tampered copy, a wrong genesis,
//! a stale checkpoint, a retracted entry and a wrong-salt claim are refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../protocol/tests/publog_support/mod.rs"]
mod publog_support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use debrief_protocol::Timestamp;
use debrief_protocol::envelope::{Envelope, PayloadType, Signer};
use debrief_protocol::publog::layout;
use debrief_protocol::publog::{ProvenanceClaim, VerifiedLog, verify_log};
use publog_support::*;

fn now() -> Timestamp {
    Timestamp::from_unix(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
    )
}

/// Writes the standard log to `dir` in the published layout, with `checkpoint`.
fn write_log(dir: &Path, checkpoint: &Envelope) -> VerifiedLog {
    let s = standard_log();
    let log = verify_log(&s.genesis.id(), &s.genesis, &s.entries).unwrap();
    for (name, bytes) in layout::files(&log, checkpoint) {
        let path = dir.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }
    log
}

fn fresh_checkpoint() -> Envelope {
    let s = standard_log();
    let log = verify_log(&s.genesis.id(), &s.genesis, &s.entries).unwrap();
    let n = now();
    checkpoint_for(
        &log,
        n.plus_seconds(-60),
        n.plus_seconds(86_400),
        &[&key(101), &key(104)],
    )
}

fn verify(args: &[&str]) -> (i32, String) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_debrief"))
        .arg("verify")
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap() + &String::from_utf8(out.stderr).unwrap();
    (out.status.code().unwrap(), text)
}

struct Site {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    genesis: String,
    log: VerifiedLog,
}

fn site() -> Site {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let log = write_log(&dir, &fresh_checkpoint());
    Site {
        genesis: log.genesis_id().to_hex(),
        dir,
        log,
        _tmp: tmp,
    }
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn a_good_copy_verifies_and_says_what_was_not_verified() {
    let s = site();
    let (code, out) = verify(&[p(&s.dir), "--genesis", &s.genesis]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("result: VERIFIED"), "{out}");
    assert!(
        out.contains(&format!("log {} of circle", s.genesis)),
        "{out}"
    );
    assert!(
        out.contains("+ all 6 entries chain from the genesis"),
        "{out}"
    );
    assert!(
        out.contains("+ keys.json lists the key set the log itself establishes"),
        "{out}"
    );
    assert!(
        out.contains("- who wrote the report: approvals are not published"),
        "{out}"
    );

    // One entry, by its file: superseded by the erratum, still exit 0.
    let (code, out) = verify(&[
        p(&s.dir.join("entries/000001.json")),
        "--genesis",
        &s.genesis,
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("entry 1 is superseded by erratum 3; read that entry"),
        "{out}"
    );
}

#[test]
fn a_retracted_entry_is_refused_with_its_reason() {
    let s = site();
    let (code, out) = verify(&[p(&s.dir), "--genesis", &s.genesis, "--entry", "2"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("entry 2 was RETRACTED by entry 4: the incident was misattributed"),
        "{out}"
    );
    assert!(out.contains("result: NOT VERIFIED"), "{out}");
}

#[test]
fn a_tampered_copy_is_refused() {
    let s = site();
    let path = s.dir.join(layout::entry_path(3));
    let env = Envelope::from_json(&fs::read(&path).unwrap()).unwrap();
    let text = String::from_utf8(env.payload().to_vec()).unwrap();
    let altered = text.replace("pool-size change", "pool-size changes");
    assert_ne!(altered, text);
    let tampered = Envelope::from_parts(
        env.payload_type().to_owned(),
        altered.into_bytes(),
        env.signatures().to_vec(),
    );
    fs::write(&path, tampered.to_json()).unwrap();
    let (code, out) = verify(&[p(&s.dir), "--genesis", &s.genesis]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("REFUSED: §7.6 entry 3: signature invalid"),
        "{out}"
    );

    // A missing entry is a gap, not a shorter log.
    fs::remove_file(s.dir.join(layout::entry_path(2))).unwrap();
    let (code, out) = verify(&[p(&s.dir), "--genesis", &s.genesis]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("entry 2 is missing"), "{out}");
}

#[test]
fn a_wrong_or_missing_genesis_is_refused() {
    let s = site();
    let wrong = "ab".repeat(32);
    let (code, out) = verify(&[p(&s.dir), "--genesis", &wrong]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "REFUSED: §7.5 the log's genesis id {} is not the pinned genesis id {wrong}",
            s.genesis
        )),
        "{out}"
    );
    let (code, out) = verify(&[p(&s.dir)]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("This log's genesis id is {}", s.genesis)),
        "{out}"
    );
}

#[test]
fn a_stale_or_missing_checkpoint_is_refused() {
    let s = site();
    // The standard checkpoint expired in November 2026.
    fs::write(
        s.dir.join(layout::CHECKPOINT_FILE),
        standard_log().checkpoint.to_json(),
    )
    .unwrap();
    let (code, out) = verify(&[p(&s.dir), "--genesis", &s.genesis]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("REFUSED: §7.8 checkpoint is stale: it expired at 2026-11-27T01:40:00Z"),
        "{out}"
    );
    fs::remove_file(s.dir.join(layout::CHECKPOINT_FILE)).unwrap();
    let (code, out) = verify(&[p(&s.dir), "--genesis", &s.genesis]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("- freshness: without a valid checkpoint"),
        "{out}"
    );
}

#[test]
fn a_claim_convinces_and_a_wrong_salt_does_not() {
    let s = site();
    let (h, _) = s.log.commitment_of(3).unwrap();
    let good = ProvenanceClaim::make(
        s.log.circle(),
        s.log.genesis_id(),
        3,
        h,
        &salt(1),
        "Charlie Inc",
        now(),
        &attribution(),
    )
    .unwrap();
    let good_path = s.dir.parent().unwrap().join("claim.json");
    fs::write(&good_path, good.to_json()).unwrap();
    let (code, out) = verify(&[p(&s.dir), "--genesis", &s.genesis, "--claim", p(&good_path)]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!(
            "+ the holder of attribution key {} made entry 3's provenance commitment",
            attribution().public_key().key_id()
        )),
        "{out}"
    );
    assert!(
        out.contains("- that the attribution key belongs to \"Charlie Inc\""),
        "{out}"
    );

    let bad = ProvenanceClaim::make(
        s.log.circle(),
        s.log.genesis_id(),
        3,
        h,
        &salt(9),
        "Charlie Inc",
        now(),
        &attribution(),
    )
    .unwrap();
    assert_eq!(
        bad.payload_type(),
        PayloadType::ProvenanceClaim.media_type()
    );
    let bad_path = s.dir.parent().unwrap().join("bad-claim.json");
    fs::write(&bad_path, bad.to_json()).unwrap();
    let (code, out) = verify(&[p(&s.dir), "--genesis", &s.genesis, "--claim", p(&bad_path)]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "§7.4 provenance claim: the revealed salt and key do not open entry 3's commitment"
        ),
        "{out}"
    );
}
