//! Benchmarks of the bundle path against the primitives it is made of, measured in the same run
//! (docs/benchmarks.md records the figures). Run with `cargo bench -p debrief-tests --bench circle`.
//!
//! Each figure is the median of several runs; its ceiling is the sum of the primitives the
//! operation cannot avoid (age encryption or decryption, the Ed25519 signatures or strict
//! verifications, SHA-256 of the ciphertext), timed on the same bytes in the same process: the
//! exact inner envelope the bundle encrypts, and messages of the exact payload sizes it signs.
//! A seal also checks its own result as a receiver would (two more verifications); that check
//! is not a primitive it cannot avoid, so it counts against the ratio.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::time::{Duration, Instant};

use debrief_keys::Identity;
use debrief_protocol::bundle::{BundleBody, BundleId, BundleKind, SealRequest, Tlp, open, seal};
use debrief_protocol::profile::{Industry, OrgProfile, Region, SizeBand};
use debrief_protocol::roster::{EventBody, Genesis, Policy, Roster, RosterEvent, fold};
use debrief_protocol::{Envelope, PayloadType, Timestamp};
use ed25519_dalek::{Signer as _, SigningKey};
use rand::SeedableRng;
use rand::rngs::StdRng;
use sha2::{Digest, Sha256};

const T0: i64 = 1_795_602_000;
const REPORT_BYTES: usize = 20 * 1024;

fn member(seed: u64) -> Identity {
    let profile = OrgProfile {
        industry: Industry::Saas,
        size_band: SizeBand::M,
        region: Region::Europe,
    };
    Identity::generate(
        &mut StdRng::seed_from_u64(seed),
        &format!("Company {seed}"),
        profile,
        Timestamp::from_unix(T0),
    )
    .unwrap()
}

/// A circle of `n` companies founded by the first.
fn circle(members: &[Identity]) -> Roster {
    let t = Timestamp::from_unix(T0);
    let card = |i: &Identity| i.signed_card(None, t).unwrap();
    let genesis = RosterEvent {
        seq: 0,
        prev: None,
        at: t,
        circle: None,
        event: EventBody::Genesis(Box::new(Genesis {
            name: "bench".into(),
            maintainers: vec![card(&members[0])],
            members: members[1..].iter().map(card).collect(),
            policy: Policy::default(),
            charter: "Benchmarks.".into(),
            publication_keys: Vec::new(),
            sequencer: members[0].member_id(),
        })),
    };
    let env = Envelope::sign(&genesis, PayloadType::RosterEvent, &members[0]).unwrap();
    fold(&[env], Some(t)).unwrap()
}

/// A report body of about 20 KiB.
fn report_body() -> serde_json::Value {
    let text: String =
        "The replica fell behind and the failover promoted it anyway. ".repeat(REPORT_BYTES / 60);
    serde_json::json!({ "title": "Replica lag took down checkout", "body": text })
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time_it(runs: usize, mut f: impl FnMut()) -> Duration {
    f(); // warm up
    median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .collect(),
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn seal_once(
    roster: &Roster,
    author: &Identity,
    now: Timestamp,
) -> debrief_protocol::bundle::BundleObject {
    seal(SealRequest {
        roster,
        roster_fresh_as_of: now,
        max_roster_age_secs: roster.policy().max_roster_age_secs,
        author: author.member_id(),
        signer: author,
        author_seq: 1,
        prev_link: None,
        bundle_id: BundleId([7; 16]),
        kind: BundleKind::Report,
        target: None,
        tlp: Tlp::Amber,
        named: Vec::new(),
        body: BundleBody::Report(report_body()),
        now,
    })
    .unwrap()
}

/// The primitives of a seal: age to every recipient, three signatures, one SHA-256. `inner` is
/// the exact inner envelope a seal encrypts; `signed` the payload sizes it signs (inner content,
/// header, chain link), because Ed25519 hashes the whole message.
fn seal_ceiling(members: &[Identity], inner: &[u8], signed: &[usize], runs: usize) -> Duration {
    let recipients: Vec<age::x25519::Recipient> =
        members.iter().map(Identity::enc_recipient).collect();
    let key = SigningKey::from_bytes(&[9; 32]);
    let messages: Vec<Vec<u8>> = signed.iter().map(|n| vec![1u8; *n]).collect();
    time_it(runs, || {
        let encryptor =
            age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
                .unwrap();
        let mut out = Vec::with_capacity(inner.len() + 128 * recipients.len());
        let mut writer = encryptor.wrap_output(&mut out).unwrap();
        writer.write_all(inner).unwrap();
        writer.finish().unwrap();
        std::hint::black_box(Sha256::digest(&out));
        for m in &messages {
            std::hint::black_box(key.sign(m));
        }
    })
}

/// The primitives of an open: age decryption as one recipient, three strict verifications (of
/// messages of the sizes an open verifies), one SHA-256 of the ciphertext.
fn open_ceiling(ciphertext: &[u8], reader: &Identity, signed: &[usize], runs: usize) -> Duration {
    let key = SigningKey::from_bytes(&[9; 32]);
    let public = key.verifying_key();
    let messages: Vec<(Vec<u8>, ed25519_dalek::Signature)> = signed
        .iter()
        .map(|n| {
            let m = vec![1u8; *n];
            let sig = key.sign(&m);
            (m, sig)
        })
        .collect();
    let identity = reader.age_identity();
    time_it(runs, || {
        std::hint::black_box(decrypt(ciphertext, &identity));
        std::hint::black_box(Sha256::digest(ciphertext));
        for (m, sig) in &messages {
            public.verify_strict(m, sig).unwrap();
        }
    })
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

fn main() {
    let sizes = [10usize, 50, 100, 300, 1000];
    let largest = *sizes.iter().max().unwrap();
    eprintln!("generating {largest} member identities…");
    let members: Vec<Identity> = (0..largest as u64).map(|i| member(i + 1)).collect();
    let now = Timestamp::from_unix(T0 + 60);

    println!("## Bundle seal and open by circle size (20 KiB report, circle-wide)\n");
    println!(
        "| members | seal ms | seal ceiling ms | ratio | open ms | open ceiling ms | ratio | ciphertext bytes |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &n in &sizes {
        let runs = if n >= 300 { 5 } else { 21 };
        let group = &members[..n];
        let roster = circle(group);
        let author = &group[0];
        let reader = &group[n - 1];
        let seal_time = time_it(runs, || {
            std::hint::black_box(seal_once(&roster, author, now));
        });
        let bundle = seal_once(&roster, author, now);
        // The ceilings work on the exact bytes the bundle holds.
        let inner = decrypt(bundle.ciphertext(), &author.age_identity());
        let signed = [
            Envelope::from_json(&inner).unwrap().pae().len(),
            bundle.header().pae().len(),
            bundle.link().pae().len(),
        ];
        let seal_floor = seal_ceiling(group, &inner, &signed, runs);
        let read_at = Timestamp::from_unix(T0 + 61);
        let identities = reader.age_identities();
        let open_time = time_it(runs, || {
            std::hint::black_box(
                open(&bundle, &roster, &reader.member_id(), &identities, read_at).unwrap(),
            );
        });
        let open_floor = open_ceiling(bundle.ciphertext(), reader, &signed, runs);
        println!(
            "| {n} | {:.2} | {:.2} | {:.2}× | {:.2} | {:.2} | {:.2}× | {} |",
            ms(seal_time),
            ms(seal_floor),
            seal_time.as_secs_f64() / seal_floor.as_secs_f64(),
            ms(open_time),
            ms(open_floor),
            open_time.as_secs_f64() / open_floor.as_secs_f64(),
            bundle.ciphertext().len(),
        );
    }
}
