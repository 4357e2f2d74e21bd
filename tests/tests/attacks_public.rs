//! Issue 17, the attacks on the public side: a published log (protocol.md §7) copied to disk by
//! whoever serves it, read back and verified exactly as `debrief verify` and `debrief archive
//! build` do (`archive::logdir::read_and_verify`: the chain from the pinned genesis, the
//! threshold of publication-key companies on every entry, the checkpoint against the reader's
//! clock); and the approvals a publication needs, against a real folded roster. Each story
//! asserts the documented refusal (`PublogError` and its §7 rule).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use debrief_node::archive::ArchiveError;
use debrief_node::archive::logdir::{CheckedLog, read_and_verify, write_log};
use debrief_protocol::envelope::{Envelope, Signer};
use debrief_protocol::ids::EnvelopeId;
use debrief_protocol::publog::layout;
use debrief_protocol::publog::{
    Approval, ApprovalRole, EntryBody, EntryStatus, KeySet, LogCheckpoint, LogGenesis,
    PublicContent, Publication, PublogError, Retraction, VerifiedLog, check_approvals,
    provenance_commitment, verify_log,
};
use debrief_protocol::roster::PublicationKey;
use debrief_protocol::{Sha256Digest, Timestamp};
use debrief_tests::attack_kit::{Cast, Circle, at, with_payload};
use ed25519_dalek::SigningKey;
use serde_json::json;

/// Publication keys: Acme 101 (and a second key 111), Bravo 102, Charlie 103.
fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn content(circle: EnvelopeId, slug: &str, title: &str) -> PublicContent {
    serde_json::from_value(json!({
        "circle": circle,
        "slug": slug,
        "kind": "postmortem",
        "title": title,
        "severity": "sev2",
        "significance": "significant",
        "profile": { "industry": "saas", "size_band": null, "region": "europe" },
        "facts": { "timeline.started": "2026-Q3", "timeline.detected": "T+12 min" },
        "factors": [
            { "id": "F1", "category": "change.config", "role": "trigger",
              "description": "A [host] pool size was lowered in a routine config change." }
        ],
        "actions": [],
        "sections": [
            { "name": "summary", "text": "Uploads failed for about an hour after a config change." }
        ]
    }))
    .unwrap()
}

fn publish(circle: EnvelopeId, slug: &str, title: &str, salt: u8) -> EntryBody {
    let c = content(circle, slug, title);
    let h = c.sha256().unwrap();
    EntryBody::Publish(Publication {
        content: serde_json::to_value(&c).unwrap(),
        provenance: provenance_commitment(&circle, &h, &key(201).public_key(), &[salt; 32]),
    })
}

/// The circle's public log as its maintainers published it.
///
/// | seq | entry |
/// |---|---|
/// | 0 | genesis: keys Acme 101 + 111, Bravo 102, Charlie 103; threshold 2 companies |
/// | 1 | publish `cache-stampede` (Acme + Bravo) |
/// | 2 | publish `dns-ttl` (Acme + Bravo) |
/// | 3 | retraction of 2, "the incident was misattributed" (Bravo + Charlie) |
///
/// Checkpoints: `old` at seq 2 (T0 + 2 500 s, valid a day), `current` at seq 3 (T0 + 3 500 s,
/// valid a day).
struct Published {
    cast: Cast,
    genesis: Envelope,
    entries: Vec<Envelope>,
    log: VerifiedLog,
    old: Envelope,
    current: Envelope,
}

fn checkpoint(log: &VerifiedLog, at_offset: i64, signers: &[&dyn Signer]) -> Envelope {
    LogCheckpoint {
        circle: log.circle(),
        log: log.genesis_id(),
        seq: log.head_seq(),
        head: log.head_id(),
        at: at(at_offset),
        expires: at(at_offset + 86_400),
    }
    .sign(signers)
    .unwrap()
}

fn published() -> Published {
    let cast = Cast::new();
    let circle = Circle::standard(&cast).roster.circle_id();
    let pk = |member: &debrief_keys::Identity, seed: u8| PublicationKey {
        member: member.member_id(),
        key: key(seed).public_key(),
    };
    let genesis = LogGenesis {
        circle,
        name: "Payments resilience public archive".into(),
        key_set: KeySet {
            keys: vec![
                pk(&cast.acme, 101),
                pk(&cast.bravo, 102),
                pk(&cast.charlie, 103),
                pk(&cast.acme, 111),
            ],
            threshold: 2,
        },
        created_at: at(0),
    }
    .sign(&[&key(101), &key(102), &key(103)])
    .unwrap();
    let mut log = VerifiedLog::start(&genesis.id(), &genesis).unwrap();
    let mut entries = Vec::new();
    let mut old = None;
    let bodies = [
        (
            1000,
            publish(circle, "cache-stampede", "A cache stampede", 1),
            [101, 102],
        ),
        (
            2000,
            publish(circle, "dns-ttl", "A long DNS TTL slowed a failover", 2),
            [101, 102],
        ),
        (
            3000,
            EntryBody::Retraction(Retraction {
                retracts: 2,
                reason: "the incident was misattributed".into(),
            }),
            [102, 103],
        ),
    ];
    for (offset, body, [k1, k2]) in bodies {
        let env = log
            .next_entry(at(offset), body)
            .sign(&[&key(k1), &key(k2)])
            .unwrap();
        log.append(&env).unwrap();
        entries.push(env);
        if log.head_seq() == 2 {
            old = Some(checkpoint(&log, 2500, &[&key(101), &key(102)]));
        }
    }
    let current = checkpoint(&log, 3500, &[&key(101), &key(103)]);
    Published {
        cast,
        genesis,
        entries,
        log,
        old: old.unwrap(),
        current,
    }
}

/// A reader's clock: an hour after the current checkpoint was issued.
fn reader_now() -> Timestamp {
    at(3500 + 3600)
}

impl Published {
    /// The published layout (§7.10) in a fresh directory, as a mirror serves it.
    fn write(&self, dir: &Path) {
        write_log(dir, &self.log, &self.current).unwrap();
    }

    fn verify(&self, dir: &Path, now: Timestamp) -> Result<CheckedLog, ArchiveError> {
        read_and_verify(dir, Some(&self.genesis.id()), now)
    }
}

fn refused(got: Result<CheckedLog, ArchiveError>) -> PublogError {
    match got {
        Err(ArchiveError::Verify(e)) => e,
        Err(other) => panic!("refused, but not by a §7 rule: {other}"),
        Ok(_) => panic!("the attack was accepted"),
    }
}

fn write_entry(dir: &Path, seq: u64, env: &Envelope) {
    std::fs::write(dir.join(layout::entry_path(seq)), env.to_json()).unwrap();
}

#[test]
fn the_genuine_log_verifies() {
    let p = published();
    let dir = tempfile::tempdir().unwrap();
    p.write(dir.path());
    let checked = p.verify(dir.path(), reader_now()).unwrap();
    assert_eq!(checked.log.head_seq(), 3);
    assert_eq!(checked.freshness.uncovered, 0);
    assert_eq!(checked.log.status(1).unwrap(), EntryStatus::Valid);
}

/// A mirror edits a published report (a softer title) and keeps the maintainers' signatures.
/// The entry no longer verifies under them (protocol.md §7.6); re-signing needs the threshold
/// of companies, which a mirror does not hold.
#[test]
fn attack_public_report_tampered() {
    let p = published();
    let dir = tempfile::tempdir().unwrap();
    p.write(dir.path());
    let original = &p.entries[0];
    let text = String::from_utf8(original.payload().to_vec()).unwrap();
    let altered = text.replace("A cache stampede", "A minor cache blip");
    assert_ne!(altered, text);
    write_entry(dir.path(), 1, &with_payload(original, altered.into_bytes()));
    let err = refused(p.verify(dir.path(), reader_now()));
    assert_eq!(err.rule(), "§7.6");
    assert!(
        err.to_string()
            .starts_with("§7.6 entry 1: signature invalid"),
        "{err}"
    );
    // Edited and re-signed by one company that holds a publication key: still refused.
    let mut edited: serde_json::Value = original.unverified_payload().unwrap();
    assert_eq!(
        edited["entry"]["body"]["content"]["title"],
        json!("A cache stampede")
    );
    edited["entry"]["body"]["content"]["title"] = json!("A minor cache blip");
    let resigned = Envelope::sign(
        &edited,
        debrief_protocol::envelope::PayloadType::PublicLogEntry,
        &key(101),
    )
    .unwrap();
    write_entry(dir.path(), 1, &resigned);
    assert_eq!(
        refused(p.verify(dir.path(), reader_now())),
        PublogError::TooFewSignatures {
            what: "entry 1".into(),
            companies: 1,
            threshold: 2
        }
    );
}

/// A mirror serves the log as it was before the retraction (entry 3 dropped), with the current
/// checkpoint (rolled back); with the old checkpoint once it has expired (served stale); or,
/// to a reader who already saw the current checkpoint, the older one while it is still valid
/// (protocol.md §7.8).
#[test]
fn attack_public_log_rolled_back_or_served_stale() {
    let p = published();
    let dir = tempfile::tempdir().unwrap();
    p.write(dir.path());
    std::fs::remove_file(dir.path().join(layout::entry_path(3))).unwrap();
    assert_eq!(
        refused(p.verify(dir.path(), reader_now())),
        PublogError::RolledBack {
            checkpoint_seq: 3,
            copy_seq: 2
        }
    );
    // The old checkpoint with the old copy, a day and a half later: expired.
    std::fs::write(dir.path().join(layout::CHECKPOINT_FILE), p.old.to_json()).unwrap();
    let later = at(2500 + 86_400 + 1);
    assert_eq!(
        refused(p.verify(dir.path(), later)),
        PublogError::CheckpointExpired {
            expires: at(2500 + 86_400),
            now: later,
        }
    );
    // Still valid, but older than the checkpoint this reader verified before.
    let short = verify_log(&p.genesis.id(), &p.genesis, &p.entries[..2]).unwrap();
    let seen: LogCheckpoint = p.current.unverified_payload().unwrap();
    let err = short
        .check_checkpoint(&p.old, reader_now(), Some(&seen))
        .unwrap_err();
    assert_eq!(
        err,
        PublogError::CheckpointRollback(format!(
            "this checkpoint (seq 2, at {}) is older than one seen before (seq 3, at {})",
            at(2500),
            at(3500)
        ))
    );
    assert_eq!(err.rule(), "§7.8");
    // No checkpoint at all: the copy cannot be shown fresh, and the archive refuses it.
    std::fs::remove_file(dir.path().join(layout::CHECKPOINT_FILE)).unwrap();
    let err = p.verify(dir.path(), reader_now()).unwrap_err();
    assert!(
        matches!(&err, ArchiveError::Log(m) if m.contains("checkpoint.json: missing")),
        "{err}"
    );
}

/// Mallory shows the retracted `dns-ttl` report as if it stood. In the full log the reader
/// sees it retracted, with the reason; dropping the retraction breaks the checkpoint
/// (rolled back); a forged "publish again" needs the threshold (protocol.md §7.6, §7.9).
#[test]
fn attack_retracted_public_report_presented_as_valid() {
    let p = published();
    let dir = tempfile::tempdir().unwrap();
    p.write(dir.path());
    let checked = p.verify(dir.path(), reader_now()).unwrap();
    assert_eq!(
        checked.log.status(2).unwrap(),
        EntryStatus::Retracted {
            retraction: 3,
            reason: "the incident was misattributed".into()
        }
    );
    // The retraction entry replaced by a copy of an innocuous entry's bytes.
    write_entry(dir.path(), 3, &p.entries[0]);
    let err = refused(p.verify(dir.path(), reader_now()));
    assert_eq!(err.rule(), "§7.6", "{err}");
    // The retraction removed.
    std::fs::remove_file(dir.path().join(layout::entry_path(3))).unwrap();
    assert!(matches!(
        refused(p.verify(dir.path(), reader_now())),
        PublogError::RolledBack { .. }
    ));
}

/// A lone company tries to publish on its own: a log whose key set lets one company sign
/// alone is refused at genesis (§7.5); an entry signed by one company's key, or by two keys of
/// the same company, is refused (§7.6), whether offered to a verifier or planted in a mirror.
#[test]
fn attack_lone_publication_key() {
    let p = published();
    // Threshold 1 at genesis.
    let mut g: LogGenesis = p.genesis.unverified_payload().unwrap();
    g.key_set.threshold = 1;
    let lone = g.sign(&[&key(101)]).unwrap();
    let err = VerifiedLog::start(&lone.id(), &lone).unwrap_err();
    assert_eq!(err.rule(), "§7.5");
    assert!(
        err.to_string()
            .contains("threshold 1 is below the floor of 2"),
        "{err}"
    );
    // Entry 4 signed by Acme's key only, then by both of Acme's keys.
    let circle = p.log.circle();
    let body = publish(circle, "acme-alone", "Acme publishes alone", 9);
    for signers in [vec![key(101)], vec![key(101), key(111)]] {
        let refs: Vec<&dyn Signer> = signers.iter().map(|k| k as &dyn Signer).collect();
        let env = p
            .log
            .next_entry(at(3600), body.clone())
            .sign(&refs)
            .unwrap();
        let mut log = p.log.clone();
        assert_eq!(
            log.append(&env).unwrap_err(),
            PublogError::TooFewSignatures {
                what: "entry 4".into(),
                companies: 1,
                threshold: 2
            }
        );
        assert_eq!(log.head_seq(), 3, "nothing appended");
        // Planted in a mirror after the genuine entries.
        let dir = tempfile::tempdir().unwrap();
        p.write(dir.path());
        write_entry(dir.path(), 4, &env);
        assert_eq!(
            refused(p.verify(dir.path(), reader_now())),
            PublogError::TooFewSignatures {
                what: "entry 4".into(),
                companies: 1,
                threshold: 2
            }
        );
    }
}

/// Charlie wants its report public with fewer than three companies behind it: without a
/// maintainer, or with one company approving twice (as reviewer and as maintainer), or when
/// the circle's policy asks for more companies than approved (protocol.md §7.2).
#[test]
fn attack_approvals_from_too_few_companies() {
    let p = published();
    let circle = Circle::standard(&p.cast);
    let c = &p.cast;
    let h = Sha256Digest::of(b"the public content");
    let approve = |who: &debrief_keys::Identity, role: ApprovalRole| {
        Approval {
            circle: circle.roster.circle_id(),
            role,
            member: who.member_id(),
            roster_seq: 0,
            content_sha256: h,
            issued_at: at(10),
            expires: at(86_400),
        }
        .sign(who)
        .unwrap()
    };
    let check = |approvals: &[Envelope], required: u32| {
        check_approvals(
            approvals,
            &h,
            &c.charlie.member_id(),
            &circle.roster,
            required,
            at(100),
        )
    };
    let author = approve(&c.charlie, ApprovalRole::Author);
    let err = check(
        &[author.clone(), approve(&c.delta, ApprovalRole::Reviewer)],
        3,
    )
    .unwrap_err();
    assert_eq!(
        err,
        PublogError::ApprovalsInsufficient(
            "author, reviewer and maintainer must be three distinct companies (reviewers: 1, maintainers: 0)"
                .into()
        )
    );
    assert_eq!(err.rule(), "§7.2");
    let err = check(
        &[
            author.clone(),
            approve(&c.acme, ApprovalRole::Reviewer),
            approve(&c.acme, ApprovalRole::Maintainer),
        ],
        3,
    )
    .unwrap_err();
    assert_eq!(
        err,
        PublogError::ApprovalsInsufficient(
            "author, reviewer and maintainer must be three distinct companies (reviewers: 1, maintainers: 1)"
                .into()
        )
    );
    // A policy of four companies, three approve.
    let three = [
        author,
        approve(&c.delta, ApprovalRole::Reviewer),
        approve(&c.acme, ApprovalRole::Maintainer),
    ];
    assert_eq!(check(&three, 3).unwrap().companies.len(), 3);
    assert_eq!(
        check(&three, 4).unwrap_err(),
        PublogError::ApprovalsInsufficient(
            "3 distinct companies approved, policy requires 4".into()
        )
    );
}
