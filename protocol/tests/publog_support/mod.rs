//! Fixed keys, content and a small public log shared by the publog tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use debrief_protocol::envelope::{Envelope, Signer};
use debrief_protocol::ids::{EnvelopeId, MemberId, Sha256Digest};
use debrief_protocol::publog::*;
use debrief_protocol::roster::PublicationKey;
use debrief_protocol::timestamp::Timestamp;
use ed25519_dalek::SigningKey;
use serde_json::json;

/// 2026-11-25T00:00:00Z.
pub const T0: i64 = 1_795_564_800;

pub fn t(offset: i64) -> Timestamp {
    Timestamp::from_unix(T0 + offset)
}

pub fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

/// The member id of company `n` (identity created with seed `n`).
pub fn member(n: u8) -> MemberId {
    key(n).public_key().member_id()
}

/// A fixed circle id.
pub fn circle() -> EnvelopeId {
    EnvelopeId(Sha256Digest::of(b"publog test circle"))
}

/// Publication key of company `company`, seed `seed`.
pub fn pub_key(company: u8, seed: u8) -> PublicationKey {
    PublicationKey {
        member: member(company),
        key: key(seed).public_key(),
    }
}

/// Companies 1, 2, 3 hold keys 101, 102, 103; company 1 also holds 111. Threshold 2.
pub fn key_set() -> KeySet {
    KeySet {
        keys: vec![
            pub_key(1, 101),
            pub_key(2, 102),
            pub_key(3, 103),
            pub_key(1, 111),
        ],
        threshold: 2,
    }
}

pub fn content(slug: &str, title: &str) -> PublicContent {
    serde_json::from_value(json!({
        "circle": circle(),
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

pub fn salt(n: u8) -> [u8; 32] {
    [n; 32]
}

/// Attribution key of the author (seed 201).
pub fn attribution() -> SigningKey {
    key(201)
}

pub fn genesis() -> LogGenesis {
    LogGenesis {
        circle: circle(),
        name: "Fixture public archive".into(),
        key_set: key_set(),
        created_at: t(0),
    }
}

/// A publication body for `c`, committed with the author's attribution key and `salt(s)`.
pub fn publish(c: &PublicContent, s: u8) -> EntryBody {
    let h = c.sha256().unwrap();
    EntryBody::Publish(Publication {
        content: serde_json::to_value(c).unwrap(),
        provenance: provenance_commitment(&circle(), &h, &attribution().public_key(), &salt(s)),
    })
}

pub fn erratum(corrects: u64, c: &PublicContent, s: u8, note: &str) -> EntryBody {
    let h = c.sha256().unwrap();
    EntryBody::Erratum(Erratum {
        corrects,
        content: serde_json::to_value(c).unwrap(),
        provenance: provenance_commitment(&circle(), &h, &attribution().public_key(), &salt(s)),
        note: note.into(),
    })
}

pub fn sign2(value: &LogEntry) -> Envelope {
    value.sign(&[&key(101), &key(102)]).unwrap()
}

/// The standard public log:
///
/// | seq | entry |
/// |---|---|
/// | 0 | genesis (keys 101/1, 102/2, 103/3, 111/1; t = 2), signed by 101, 102, 103 |
/// | 1 | publish `cache-stampede` |
/// | 2 | publish `dns-ttl` |
/// | 3 | erratum of 1 |
/// | 4 | retraction of 2, reason "the incident was misattributed" |
/// | 5 | key set: drop 103, add 104/4 (signed by 101 and 103) |
/// | 6 | publish `cert-expiry`, signed by 102 and 104 |
///
/// Checkpoint at seq 6, at t(6000), expires t(6000 + 2 days), signed by 101 and 104.
pub struct StandardLog {
    pub genesis: Envelope,
    pub entries: Vec<Envelope>,
    pub checkpoint: Envelope,
}

pub fn standard_log() -> StandardLog {
    let genesis = genesis().sign(&[&key(101), &key(102), &key(103)]).unwrap();
    let mut log = VerifiedLog::start(&genesis.id(), &genesis).unwrap();
    let mut entries = Vec::new();
    let mut push = |log: &mut VerifiedLog, env: Envelope| {
        log.append(&env).unwrap();
        entries.push(env);
    };
    let e = sign2(&log.next_entry(
        t(1000),
        publish(
            &content("cache-stampede", "A cache stampede after a config change"),
            1,
        ),
    ));
    push(&mut log, e);
    let e = sign2(&log.next_entry(
        t(2000),
        publish(&content("dns-ttl", "A long DNS TTL slowed a failover"), 2),
    ));
    push(&mut log, e);
    let fixed = content(
        "cache-stampede",
        "A cache stampede after a pool-size change",
    );
    let e = sign2(&log.next_entry(
        t(3000),
        erratum(1, &fixed, 1, "The title named the wrong setting."),
    ));
    push(&mut log, e);
    let e = sign2(&log.next_entry(
        t(4000),
        EntryBody::Retraction(Retraction {
            retracts: 2,
            reason: "the incident was misattributed".into(),
        }),
    ));
    push(&mut log, e);
    let new_set = KeySet {
        keys: vec![
            pub_key(1, 101),
            pub_key(2, 102),
            pub_key(4, 104),
            pub_key(1, 111),
        ],
        threshold: 2,
    };
    let e = log
        .next_entry(
            t(5000),
            EntryBody::KeySet(KeySetChange { key_set: new_set }),
        )
        .sign(&[&key(101), &key(103)])
        .unwrap();
    push(&mut log, e);
    let e = log
        .next_entry(
            t(5500),
            publish(
                &content("cert-expiry", "An expired certificate on an internal API"),
                3,
            ),
        )
        .sign(&[&key(102), &key(104)])
        .unwrap();
    push(&mut log, e);
    let checkpoint = checkpoint_for(&log, t(6000), t(6000 + 2 * 86_400), &[&key(101), &key(104)]);
    StandardLog {
        genesis,
        entries,
        checkpoint,
    }
}

pub fn checkpoint_for(
    log: &VerifiedLog,
    at: Timestamp,
    expires: Timestamp,
    signers: &[&dyn Signer],
) -> Envelope {
    LogCheckpoint {
        circle: log.circle(),
        log: log.genesis_id(),
        seq: log.head_seq(),
        head: log.head_id(),
        at,
        expires,
    }
    .sign(signers)
    .unwrap()
}
