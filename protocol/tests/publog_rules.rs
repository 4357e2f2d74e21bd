//! The rules of protocol.md §7 against real keys, a real folded roster and a real log: each
//! refusal names its rule and says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod publog_support;
mod roster_support;

use debrief_protocol::envelope::{Envelope, Signer};
use debrief_protocol::ids::{EnvelopeId, Sha256Digest};
use debrief_protocol::publog::*;
use debrief_protocol::roster::{PublicationKey, Roster};
use publog_support::*;

fn verified_standard() -> (StandardLog, VerifiedLog) {
    let s = standard_log();
    let log = verify_log(&s.genesis.id(), &s.genesis, &s.entries).unwrap();
    (s, log)
}

// ---- §7.5–§7.7: the log ----

#[test]
fn standard_log_verifies_with_statuses() {
    let (_, log) = verified_standard();
    assert_eq!(log.head_seq(), 6);
    assert_eq!(
        log.status(1).unwrap(),
        EntryStatus::SupersededBy { erratum: 3 }
    );
    assert_eq!(log.status(3).unwrap(), EntryStatus::Valid);
    assert_eq!(
        log.status(2).unwrap(),
        EntryStatus::Retracted {
            retraction: 4,
            reason: "the incident was misattributed".into()
        }
    );
    assert_eq!(
        log.status(4).unwrap(),
        EntryStatus::NotContent { kind: "retraction" }
    );
    assert_eq!(
        log.status(5).unwrap(),
        EntryStatus::NotContent { kind: "key-set" }
    );
    assert_eq!(log.status(6).unwrap(), EntryStatus::Valid);
    assert_eq!(log.status(7).unwrap_err(), PublogError::NoSuchEntry(7));
    assert_eq!(log.key_set_history().len(), 2);
    assert_eq!(log.current_key_set().keys[2], pub_key(4, 104));
}

#[test]
fn wrong_genesis_is_refused() {
    let s = standard_log();
    let other = EnvelopeId(Sha256Digest::of(b"another log"));
    let err = verify_log(&other, &s.genesis, &s.entries).unwrap_err();
    assert_eq!(
        err,
        PublogError::WrongGenesis {
            pinned: other,
            found: s.genesis.id()
        }
    );
    assert_eq!(err.rule(), "§7.5");

    // A second, validly signed log of the same circle is still not the pinned one.
    let mut g2 = genesis();
    g2.name = "An impostor archive".into();
    let g2 = g2.sign(&[&key(101), &key(102)]).unwrap();
    let err = verify_log(&s.genesis.id(), &g2, &[]).unwrap_err();
    assert!(matches!(err, PublogError::WrongGenesis { .. }));
    // Entries of the real log do not chain onto another genesis.
    let err = verify_log(&g2.id(), &g2, &s.entries).unwrap_err();
    assert_eq!(err.rule(), "§7.6");
    assert!(err.to_string().contains("not the pinned log"), "{err}");
}

#[test]
fn a_lone_publication_key_is_refused() {
    // Threshold 1: a single company could publish alone.
    let mut g = genesis();
    g.key_set.threshold = 1;
    let env = g.sign(&[&key(101)]).unwrap();
    let err = VerifiedLog::start(&env.id(), &env).unwrap_err();
    assert_eq!(err.rule(), "§7.5");
    assert!(
        err.to_string()
            .contains("threshold 1 is below the floor of 2"),
        "{err}"
    );

    // Two keys, but both of company 1.
    let mut g = genesis();
    g.key_set = KeySet {
        keys: vec![pub_key(1, 101), pub_key(1, 111)],
        threshold: 2,
    };
    let env = g.sign(&[&key(101), &key(111)]).unwrap();
    let err = VerifiedLog::start(&env.id(), &env).unwrap_err();
    assert_eq!(
        err,
        PublogError::KeySet(
            "1 distinct companies hold publication keys, fewer than the threshold 2".into()
        )
    );

    // A valid set, but the genesis is signed by one company only.
    let env = genesis().sign(&[&key(101)]).unwrap();
    let err = VerifiedLog::start(&env.id(), &env).unwrap_err();
    assert_eq!(
        err,
        PublogError::TooFewSignatures {
            what: "log genesis".into(),
            companies: 1,
            threshold: 2
        }
    );
}

#[test]
fn too_few_signatures_on_an_entry_is_refused() {
    let (s, _) = verified_standard();
    let mut log = VerifiedLog::start(&s.genesis.id(), &s.genesis).unwrap();
    let entry = log.next_entry(t(100), publish(&content("lonely", "Signed by one key"), 9));
    let env = entry.sign(&[&key(102)]).unwrap();
    let err = log.append(&env).unwrap_err();
    assert_eq!(
        err,
        PublogError::TooFewSignatures {
            what: "entry 1".into(),
            companies: 1,
            threshold: 2
        }
    );
    assert_eq!(log.head_seq(), 0, "nothing is half-appended");
}

#[test]
fn two_keys_of_one_company_count_once() {
    let (s, _) = verified_standard();
    let mut log = VerifiedLog::start(&s.genesis.id(), &s.genesis).unwrap();
    let entry = log.next_entry(
        t(100),
        publish(&content("same-company", "Two keys, one company"), 9),
    );
    let env = entry.sign(&[&key(101), &key(111)]).unwrap();
    let err = log.append(&env).unwrap_err();
    assert_eq!(
        err,
        PublogError::TooFewSignatures {
            what: "entry 1".into(),
            companies: 1,
            threshold: 2
        }
    );
    // An unknown key's signature does not help either.
    let env = entry.sign(&[&key(101), &key(199)]).unwrap();
    assert!(matches!(
        log.append(&env).unwrap_err(),
        PublogError::TooFewSignatures { companies: 1, .. }
    ));
    // Two companies do.
    log.append(&entry.sign(&[&key(111), &key(103)]).unwrap())
        .unwrap();
    assert_eq!(log.head_seq(), 1);
}

#[test]
fn a_tampered_entry_is_refused() {
    let s = standard_log();
    let original = &s.entries[0];
    let text = String::from_utf8(original.payload().to_vec()).unwrap();
    let altered = text.replace("A cache stampede", "A cache stampede!");
    assert_ne!(altered, text);
    let tampered = Envelope::from_parts(
        original.payload_type().to_owned(),
        altered.into_bytes(),
        original.signatures().to_vec(),
    );
    let mut entries = s.entries.clone();
    entries[0] = tampered;
    let err = verify_log(&s.genesis.id(), &s.genesis, &entries).unwrap_err();
    assert_eq!(err.rule(), "§7.6");
    assert!(
        err.to_string()
            .starts_with("§7.6 entry 1: signature invalid"),
        "{err}"
    );
}

#[test]
fn a_missing_or_reordered_entry_breaks_the_chain() {
    let s = standard_log();
    let mut entries = s.entries.clone();
    entries.remove(1);
    let err = verify_log(&s.genesis.id(), &s.genesis, &entries).unwrap_err();
    assert_eq!(
        err,
        PublogError::Chain {
            seq: 2,
            message: "carries seq 3, expected 2".into()
        }
    );
}

#[test]
fn key_set_changes_need_the_previous_set_and_retire_old_keys() {
    let (s, _) = verified_standard();
    let mut log = verify_log(&s.genesis.id(), &s.genesis, &s.entries[..4]).unwrap();
    let new_set = KeySet {
        keys: vec![pub_key(4, 104), pub_key(5, 105)],
        threshold: 2,
    };
    // The incoming set cannot sign itself in.
    let change = log.next_entry(
        t(5000),
        EntryBody::KeySet(KeySetChange { key_set: new_set }),
    );
    let err = log
        .append(&change.sign(&[&key(104), &key(105)]).unwrap())
        .unwrap_err();
    assert!(matches!(err, PublogError::Envelope { .. }), "{err}");
    // A set with threshold 1 is refused even when the old set signs it.
    let weak = log.next_entry(
        t(5000),
        EntryBody::KeySet(KeySetChange {
            key_set: KeySet {
                keys: vec![pub_key(4, 104)],
                threshold: 1,
            },
        }),
    );
    let err = log
        .append(&weak.sign(&[&key(101), &key(102)]).unwrap())
        .unwrap_err();
    assert_eq!(err.rule(), "§7.7");
    // In the standard log, 103 was dropped at seq 5: after that it no longer counts.
    let mut log = verify_log(&s.genesis.id(), &s.genesis, &s.entries[..5]).unwrap();
    let e = log.next_entry(
        t(5500),
        publish(&content("after-change", "Signed by a retired key"), 4),
    );
    let err = log
        .append(&e.sign(&[&key(102), &key(103)]).unwrap())
        .unwrap_err();
    assert!(
        matches!(err, PublogError::TooFewSignatures { companies: 1, .. }),
        "{err}"
    );
}

#[test]
fn errata_and_retractions_follow_their_rules() {
    let (s, _) = verified_standard();
    let mut log = verify_log(&s.genesis.id(), &s.genesis, &s.entries).unwrap();
    // No erratum of a retracted publication.
    let e = log.next_entry(t(7000), erratum(2, &content("dns-ttl", "Fixed"), 2, "Fix."));
    let err = log
        .append(&e.sign(&[&key(101), &key(102)]).unwrap())
        .unwrap_err();
    assert_eq!(
        err,
        PublogError::Kind {
            seq: 7,
            message: "corrects entry 2, which entry 4 retracted".into()
        }
    );
    // An erratum names the original, not another erratum.
    let e = log.next_entry(
        t(7000),
        erratum(3, &content("cache-stampede", "Again"), 1, "Again."),
    );
    let err = log
        .append(&e.sign(&[&key(101), &key(102)]).unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("entry 3 is an erratum"), "{err}");
    // A slug is used once.
    let e = log.next_entry(t(7000), publish(&content("cert-expiry", "Duplicate"), 5));
    let err = log
        .append(&e.sign(&[&key(101), &key(102)]).unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("already used"), "{err}");
    // A retraction states its reason.
    let e = log.next_entry(
        t(7000),
        EntryBody::Retraction(Retraction {
            retracts: 6,
            reason: " ".into(),
        }),
    );
    let err = log
        .append(&e.sign(&[&key(101), &key(102)]).unwrap())
        .unwrap_err();
    assert_eq!(err.rule(), "§7.7");
    // Retracting a publication retracts its errata too.
    let e = log.next_entry(
        t(7000),
        EntryBody::Retraction(Retraction {
            retracts: 1,
            reason: "published too early".into(),
        }),
    );
    log.append(&e.sign(&[&key(101), &key(102)]).unwrap())
        .unwrap();
    assert_eq!(
        log.status(3).unwrap(),
        EntryStatus::Retracted {
            retraction: 7,
            reason: "published too early".into()
        }
    );
}

// ---- §7.8: checkpoints ----

#[test]
fn a_fresh_checkpoint_covers_the_copy() {
    let (s, log) = verified_standard();
    let f = log.check_checkpoint(&s.checkpoint, t(6001), None).unwrap();
    assert_eq!(f.uncovered, 0);
    assert_eq!(f.checkpoint.seq, 6);
    let st = log.statement(Some(&f), Some(2));
    assert!(
        st.verified
            .iter()
            .any(|l| l == "entry 2 was RETRACTED by entry 4: the incident was misattributed")
    );
}

#[test]
fn a_stale_checkpoint_is_refused() {
    let (s, log) = verified_standard();
    let now = t(6000 + 2 * 86_400);
    let err = log.check_checkpoint(&s.checkpoint, now, None).unwrap_err();
    assert_eq!(
        err,
        PublogError::CheckpointExpired {
            expires: t(6000 + 2 * 86_400),
            now
        }
    );
    // A validity beyond the maximum lifetime is refused outright.
    let long = checkpoint_for(&log, t(6000), t(6000 + 8 * 86_400), &[&key(101), &key(104)]);
    assert_eq!(
        log.check_checkpoint(&long, t(6001), None)
            .unwrap_err()
            .rule(),
        "§7.8"
    );
}

#[test]
fn a_rolled_back_copy_is_refused() {
    let (s, _) = verified_standard();
    // The copy stops at seq 4 (hiding the newest publication) but the checkpoint says 6.
    let short = verify_log(&s.genesis.id(), &s.genesis, &s.entries[..4]).unwrap();
    let err = short
        .check_checkpoint(&s.checkpoint, t(6001), None)
        .unwrap_err();
    assert_eq!(
        err,
        PublogError::RolledBack {
            checkpoint_seq: 6,
            copy_seq: 4
        }
    );
    // An old checkpoint replayed to a reader who saw a newer one.
    let old = checkpoint_for(
        &short,
        t(4500),
        t(4500 + 86_400 * 6),
        &[&key(101), &key(102)],
    );
    let full = verify_log(&s.genesis.id(), &s.genesis, &s.entries).unwrap();
    let newest: LogCheckpoint = s.checkpoint.unverified_payload().unwrap();
    let f = full.check_checkpoint(&old, t(6001), None).unwrap();
    assert_eq!(f.uncovered, 2);
    let err = full
        .check_checkpoint(&old, t(6001), Some(&newest))
        .unwrap_err();
    assert_eq!(err.rule(), "§7.8");
    assert!(
        err.to_string().contains("older than one seen before"),
        "{err}"
    );
}

#[test]
fn a_checkpoint_needs_the_threshold_and_the_right_head() {
    let (_, log) = verified_standard();
    let one = checkpoint_for(&log, t(6000), t(7000), &[&key(104), &key(111), &key(101)]);
    assert!(log.check_checkpoint(&one, t(6001), None).is_ok());
    let lone = checkpoint_for(&log, t(6000), t(7000), &[&key(101), &key(111)]);
    assert!(matches!(
        log.check_checkpoint(&lone, t(6001), None).unwrap_err(),
        PublogError::TooFewSignatures { companies: 1, .. }
    ));
    let forged = LogCheckpoint {
        circle: log.circle(),
        log: log.genesis_id(),
        seq: 6,
        head: EnvelopeId(Sha256Digest::of(b"another head")),
        at: t(6000),
        expires: t(7000),
    }
    .sign(&[&key(101), &key(104)])
    .unwrap();
    let err = log.check_checkpoint(&forged, t(6001), None).unwrap_err();
    assert!(err.to_string().contains("forked or altered"), "{err}");
}

// ---- §7.3–§7.4: provenance ----

fn claim(seq: u64, s: [u8; 32], signer: &dyn Signer, log: &VerifiedLog) -> Envelope {
    let (h, _) = log.commitment_of(seq).unwrap();
    let mut c = ProvenanceClaim {
        circle: log.circle(),
        log: log.genesis_id(),
        seq,
        content_sha256: h,
        attribution_key: attribution().public_key(),
        salt: s.iter().map(|b| format!("{b:02x}")).collect(),
        claimant: "Charlie Inc".into(),
        made_at: t(9000),
    };
    c.attribution_key = attribution().public_key();
    Envelope::sign(&c, debrief_protocol::PayloadType::ProvenanceClaim, signer).unwrap()
}

#[test]
fn a_claim_with_the_right_salt_convinces() {
    let (_, log) = verified_standard();
    let (h, _) = log.commitment_of(3).unwrap();
    let env = ProvenanceClaim::make(
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
    let checked = check_claim(&env, &log).unwrap();
    assert_eq!(checked.seq, 3);
    assert_eq!(checked.claim.claimant, "Charlie Inc");
}

#[test]
fn a_wrong_salt_or_key_fails_the_claim() {
    let (_, log) = verified_standard();
    let err = check_claim(&claim(3, salt(2), &attribution(), &log), &log).unwrap_err();
    assert_eq!(
        err,
        PublogError::Claim("the revealed salt and key do not open entry 3's commitment".into())
    );
    assert_eq!(err.rule(), "§7.4");
    // Someone else signing a claim that names the author's attribution key.
    let err = check_claim(&claim(3, salt(1), &key(77), &log), &log).unwrap_err();
    assert!(
        err.to_string()
            .contains("not signed by the attribution key"),
        "{err}"
    );
    // Someone claiming with their own key and the (now public) salt.
    let (h, _) = log.commitment_of(3).unwrap();
    let env = ProvenanceClaim::make(
        log.circle(),
        log.genesis_id(),
        3,
        h,
        &salt(1),
        "Mallory",
        t(9000),
        &key(77),
    )
    .unwrap();
    assert!(check_claim(&env, &log).is_err());
    // A claim on an entry without content.
    let (h, _) = log.commitment_of(1).unwrap();
    let env = ProvenanceClaim::make(
        log.circle(),
        log.genesis_id(),
        4,
        h,
        &salt(1),
        "",
        t(9000),
        &attribution(),
    )
    .unwrap();
    assert!(
        check_claim(&env, &log)
            .unwrap_err()
            .to_string()
            .contains("entry 4 is not a publication")
    );
}

#[test]
fn commitment_binds_every_input() {
    let c = content("cache-stampede", "A cache stampede after a config change");
    let h = c.sha256().unwrap();
    let k = attribution().public_key();
    let base = provenance_commitment(&circle(), &h, &k, &salt(1));
    let other_circle = EnvelopeId(Sha256Digest::of(b"x"));
    assert_ne!(base, provenance_commitment(&other_circle, &h, &k, &salt(1)));
    assert_ne!(
        base,
        provenance_commitment(&circle(), &Sha256Digest::of(b"y"), &k, &salt(1))
    );
    assert_ne!(
        base,
        provenance_commitment(&circle(), &h, &key(7).public_key(), &salt(1))
    );
    assert_ne!(base, provenance_commitment(&circle(), &h, &k, &salt(2)));
    // Exactly the concatenation of DESIGN §6.
    let mut bytes = b"debrief/v1/provenance".to_vec();
    bytes.extend_from_slice(&circle().0.0);
    bytes.extend_from_slice(&h.0);
    bytes.extend_from_slice(&k.to_bytes());
    bytes.extend_from_slice(&salt(1));
    assert_eq!(base, Sha256Digest::of(&bytes));
}

#[test]
fn content_must_be_in_its_one_serialisation() {
    let c = content("cache-stampede", "Title");
    let mut v = serde_json::to_value(&c).unwrap();
    assert_eq!(
        PublicContent::from_value(&v).unwrap().1,
        c.sha256().unwrap()
    );
    v["extra"] = serde_json::json!(1);
    assert_eq!(PublicContent::from_value(&v).unwrap_err().rule(), "§7.1");
    let mut bad = c.clone();
    bad.slug = "Bad Slug".into();
    assert!(bad.check().is_err());
}

// ---- §7.2: approvals, against a real folded roster ----

struct Circle {
    roster: Roster,
    fixture: roster_support::Fixture,
}

/// Members 1 (maintainer), 2 (maintainer), 3, and 4 (admitted at seq 1).
fn circle_with_four() -> Circle {
    let mut f = roster_support::Fixture::genesis();
    f.admit(1, 4, "Delta GmbH", &[2, 3]);
    Circle {
        roster: f.roster.clone(),
        fixture: f,
    }
}

fn approve(c: &Circle, n: u8, role: ApprovalRole, h: Sha256Digest, expires: i64) -> Envelope {
    Approval {
        circle: c.roster.circle_id(),
        role,
        member: roster_support::id(n),
        roster_seq: 1,
        content_sha256: h,
        issued_at: roster_support::t(100),
        expires: roster_support::t(expires),
    }
    .sign(&c.fixture.key_of(n))
    .unwrap()
}

#[test]
fn approvals_from_three_distinct_companies_pass() {
    let c = circle_with_four();
    let h = Sha256Digest::of(b"content v1");
    let author = roster_support::id(3);
    let approvals = [
        approve(&c, 3, ApprovalRole::Author, h, 10_000),
        approve(&c, 4, ApprovalRole::Reviewer, h, 10_000),
        approve(&c, 2, ApprovalRole::Maintainer, h, 10_000),
    ];
    let set = check_approvals(
        &approvals,
        &h,
        &author,
        &c.roster,
        3,
        roster_support::t(200),
    )
    .unwrap();
    assert_eq!(set.reviewer, roster_support::id(4));
    assert_eq!(set.maintainer, roster_support::id(2));
    assert_eq!(set.companies.len(), 3);
}

#[test]
fn approval_refusals() {
    let c = circle_with_four();
    let h = Sha256Digest::of(b"content v1");
    let now = roster_support::t(200);
    let author = roster_support::id(3);
    // Too few: no maintainer.
    let err = check_approvals(
        &[
            approve(&c, 3, ApprovalRole::Author, h, 10_000),
            approve(&c, 4, ApprovalRole::Reviewer, h, 10_000),
        ],
        &h,
        &author,
        &c.roster,
        3,
        now,
    )
    .unwrap_err();
    assert!(
        matches!(err, PublogError::ApprovalsInsufficient(_)),
        "{err}"
    );
    // Two approvals from one company: maintainer 2 also reviews.
    let err = check_approvals(
        &[
            approve(&c, 3, ApprovalRole::Author, h, 10_000),
            approve(&c, 2, ApprovalRole::Reviewer, h, 10_000),
            approve(&c, 2, ApprovalRole::Maintainer, h, 10_000),
        ],
        &h,
        &author,
        &c.roster,
        3,
        now,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("three distinct companies"),
        "{err}"
    );
    // Stale after the content changed.
    let h2 = Sha256Digest::of(b"content v2");
    let err = check_approvals(
        &[
            approve(&c, 3, ApprovalRole::Author, h2, 10_000),
            approve(&c, 4, ApprovalRole::Reviewer, h, 10_000),
            approve(&c, 2, ApprovalRole::Maintainer, h2, 10_000),
        ],
        &h2,
        &author,
        &c.roster,
        3,
        now,
    )
    .unwrap_err();
    assert_eq!(err.rule(), "§7.2");
    assert!(err.to_string().starts_with("§7.2 approval 1: by "), "{err}");
    assert!(err.to_string().contains("is stale"), "{err}");
    // Expired.
    let err = check_approvals(
        &[
            approve(&c, 3, ApprovalRole::Author, h, 150),
            approve(&c, 4, ApprovalRole::Reviewer, h, 10_000),
            approve(&c, 2, ApprovalRole::Maintainer, h, 10_000),
        ],
        &h,
        &author,
        &c.roster,
        3,
        now,
    )
    .unwrap_err();
    assert!(err.to_string().contains("expired at"), "{err}");
    // A non-maintainer approving as maintainer; a non-author approving as author.
    for (n, role, needle) in [
        (4, ApprovalRole::Maintainer, "was not one at roster seq 1"),
        (4, ApprovalRole::Author, "is not the report's author"),
        (3, ApprovalRole::Reviewer, "cannot also be the reviewer"),
    ] {
        let err = check_approvals(
            &[approve(&c, n, role, h, 10_000)],
            &h,
            &author,
            &c.roster,
            3,
            now,
        )
        .unwrap_err();
        assert!(err.to_string().contains(needle), "{err}");
    }
    // Signed by the wrong key.
    let mut forged = Approval {
        circle: c.roster.circle_id(),
        role: ApprovalRole::Maintainer,
        member: roster_support::id(2),
        roster_seq: 1,
        content_sha256: h,
        issued_at: roster_support::t(100),
        expires: roster_support::t(10_000),
    }
    .sign(&c.fixture.key_of(1))
    .unwrap();
    let err = check_approvals(
        std::slice::from_mut(&mut forged),
        &h,
        &author,
        &c.roster,
        3,
        now,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("no signature by a trusted key"),
        "{err}"
    );
}

#[test]
fn policy_may_require_more_companies() {
    let c = circle_with_four();
    let h = Sha256Digest::of(b"content v1");
    let author = roster_support::id(3);
    let now = roster_support::t(200);
    let three = vec![
        approve(&c, 3, ApprovalRole::Author, h, 10_000),
        approve(&c, 4, ApprovalRole::Reviewer, h, 10_000),
        approve(&c, 2, ApprovalRole::Maintainer, h, 10_000),
    ];
    let err = check_approvals(&three, &h, &author, &c.roster, 4, now).unwrap_err();
    assert_eq!(
        err,
        PublogError::ApprovalsInsufficient(
            "3 distinct companies approved, policy requires 4".into()
        )
    );
    let mut four = three;
    four.push(approve(&c, 1, ApprovalRole::Maintainer, h, 10_000));
    assert_eq!(
        check_approvals(&four, &h, &author, &c.roster, 4, now)
            .unwrap()
            .companies
            .len(),
        4
    );
    // A policy below 3 never lowers the floor.
    let err = check_approvals(&four[..2], &h, &author, &c.roster, 1, now).unwrap_err();
    assert!(matches!(err, PublogError::ApprovalsInsufficient(_)));
}

#[test]
fn unused_helpers_compile() {
    // PublicationKey is the roster's type: the log and the roster agree on its shape.
    let k: PublicationKey = pub_key(1, 101);
    assert_eq!(k.member, member(1));
}

#[test]
fn a_genesis_never_passes_as_an_entry_nor_the_reverse() {
    let s = standard_log();
    let mut log = VerifiedLog::start(&s.genesis.id(), &s.genesis).unwrap();
    // The genesis envelope offered as entry 1: same payload type, other schema.
    let err = log.append(&s.genesis).unwrap_err();
    assert!(matches!(err, PublogError::Envelope { .. }), "{err}");
    assert!(err.to_string().contains("schema"), "{err}");
    // An entry offered as the genesis.
    let err = VerifiedLog::start(&s.entries[0].id(), &s.entries[0]).unwrap_err();
    assert_eq!(err.rule(), "§7.5");
}

// ---- §7.11: embargo; §7.5: the key set from the roster ----

#[test]
fn the_embargo_must_be_over() {
    use debrief_protocol::report::Field;
    let resolved = Field::Known(t(0));
    let thirty_days = 30 * 86_400;
    let err = check_embargo(&resolved, thirty_days, t(thirty_days as i64 - 1)).unwrap_err();
    assert_eq!(
        err,
        PublogError::Embargo(format!(
            "the embargo runs until {} (2592000 s after resolution at {})",
            t(thirty_days as i64),
            t(0)
        ))
    );
    assert_eq!(
        check_embargo(&resolved, thirty_days, t(thirty_days as i64)).unwrap(),
        t(thirty_days as i64)
    );
    let err = check_embargo(&Field::Unknown, thirty_days, t(10 * thirty_days as i64)).unwrap_err();
    assert_eq!(err.rule(), "§7.11");
}

#[test]
fn the_roster_declares_the_key_set() {
    let f = roster_support::Fixture::genesis();
    let set = KeySet::from_roster(&f.roster).unwrap();
    assert_eq!(set.threshold, 2);
    assert_eq!(set.keys.len(), 2);
    assert_eq!(set.companies().len(), 2);
}

// ---- every rule is written down and cited ----

#[test]
fn every_public_log_rule_is_documented_and_cited() {
    const DOCS: &str = include_str!("../../docs/protocol.md");
    let sources = [
        include_str!("../src/publog/approval.rs"),
        include_str!("../src/publog/content.rs"),
        include_str!("../src/publog/embargo.rs"),
        include_str!("../src/publog/layout.rs"),
        include_str!("../src/publog/log.rs"),
        include_str!("../src/publog/provenance.rs"),
    ]
    .concat();
    for n in 1..=11 {
        assert!(
            DOCS.contains(&format!("\n### §7.{n} ")),
            "§7.{n} missing in docs"
        );
        let cite = format!("protocol.md §7.{n}");
        assert!(
            sources
                .match_indices(&cite)
                .any(|(i, m)| !sources[i + m.len()..].starts_with(|c: char| c.is_ascii_digit())),
            "§7.{n} is not cited in protocol/src/publog"
        );
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// Flipping any bit of any entry's payload refuses the log (§7.6).
    #[test]
    fn any_flipped_payload_bit_is_refused(entry in 0usize..6, pos in 0usize..4096, bit in 0u8..8) {
        let s = standard_log();
        let mut entries = s.entries.clone();
        let e = &entries[entry];
        let mut payload = e.payload().to_vec();
        let i = pos % payload.len();
        payload[i] ^= 1 << bit;
        entries[entry] = Envelope::from_parts(e.payload_type().to_owned(), payload, e.signatures().to_vec());
        proptest::prop_assert!(verify_log(&s.genesis.id(), &s.genesis, &entries).is_err());
    }
}

#[test]
fn cosigning_progress_and_the_published_files() {
    let s = standard_log();
    let mut log = verify_log(&s.genesis.id(), &s.genesis, &s.entries).unwrap();
    let entry = log.next_entry(
        t(7000),
        publish(&content("disk-full", "A full disk on a queue broker"), 7),
    );
    let mut env = entry.sign(&[&key(101)]).unwrap();
    let p = log.cosign_progress(&env).unwrap();
    assert_eq!(
        (p.companies.clone(), p.complete()),
        (vec![member(1)], false)
    );
    // A second key of the same company does not advance it.
    env.add_signature(&key(111)).unwrap();
    assert_eq!(log.cosign_progress(&env).unwrap().companies.len(), 1);
    assert!(matches!(
        log.append(&env).unwrap_err(),
        PublogError::TooFewSignatures { .. }
    ));
    env.add_signature(&key(104)).unwrap();
    assert!(log.cosign_progress(&env).unwrap().complete());
    log.append(&env).unwrap();
    // The proposal no longer extends the head.
    assert_eq!(log.cosign_progress(&env).unwrap_err().rule(), "§7.6");

    let files = debrief_protocol::publog::layout::files(&log, &s.checkpoint);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "genesis.json",
            "entries/000001.json",
            "entries/000002.json",
            "entries/000003.json",
            "entries/000004.json",
            "entries/000005.json",
            "entries/000006.json",
            "entries/000007.json",
            "checkpoint.json",
            "keys.json"
        ]
    );
    assert_eq!(files[7].1, env.to_json());
}
