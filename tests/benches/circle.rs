//! Benchmarks of the bundle path against the primitives it is made of, measured in the same run
//! (docs/benchmarks.md records the figures). Run with `cargo bench -p debrief-tests --bench circle`.
//!
//! Each figure is the fastest of several rounds; each round times the figure and its ceiling
//! back to back, so both see the same load on a shared machine. The ceiling is the sum of the
//! primitives the operation cannot avoid (age encryption or decryption, the Ed25519 signatures or strict
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

fn time_once(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
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

/// The primitives of a seal, run once: age to every recipient, three signatures, one SHA-256.
/// `inner` is the exact inner envelope a seal encrypts; `messages` have the sizes it signs
/// (inner content, header, chain link as PAE bytes), because Ed25519 hashes the whole message.
fn seal_primitives(
    recipients: &[age::x25519::Recipient],
    inner: &[u8],
    key: &SigningKey,
    messages: &[Vec<u8>],
) {
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
            .unwrap();
    let mut out = Vec::with_capacity(inner.len() + 128 * recipients.len());
    let mut writer = encryptor.wrap_output(&mut out).unwrap();
    writer.write_all(inner).unwrap();
    writer.finish().unwrap();
    std::hint::black_box(Sha256::digest(&out));
    for m in messages {
        std::hint::black_box(key.sign(m));
    }
}

/// The primitives of an open, run once: age decryption as one recipient, three strict
/// verifications of messages of the sizes an open verifies, one SHA-256 of the ciphertext.
fn open_primitives(
    ciphertext: &[u8],
    identity: &age::x25519::Identity,
    public: &ed25519_dalek::VerifyingKey,
    signed: &[(Vec<u8>, ed25519_dalek::Signature)],
) {
    std::hint::black_box(decrypt(ciphertext, identity));
    std::hint::black_box(Sha256::digest(ciphertext));
    for (m, sig) in signed {
        public.verify_strict(m, sig).unwrap();
    }
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
        let runs = if n >= 300 { 21 } else { 41 };
        let group = &members[..n];
        let roster = circle(group);
        let author = &group[0];
        let reader = &group[n - 1];
        let bundle = seal_once(&roster, author, now);
        // The ceilings work on the exact bytes the bundle holds.
        let inner = decrypt(bundle.ciphertext(), &author.age_identity());
        let sizes = [
            Envelope::from_json(&inner).unwrap().pae().len(),
            bundle.header().pae().len(),
            bundle.link().pae().len(),
        ];
        let key = SigningKey::from_bytes(&[9; 32]);
        let public = key.verifying_key();
        let messages: Vec<Vec<u8>> = sizes.iter().map(|n| vec![1u8; *n]).collect();
        let signed: Vec<(Vec<u8>, ed25519_dalek::Signature)> =
            messages.iter().map(|m| (m.clone(), key.sign(m))).collect();
        let recipients: Vec<age::x25519::Recipient> =
            group.iter().map(Identity::enc_recipient).collect();
        let read_at = Timestamp::from_unix(T0 + 61);
        let identities = reader.age_identities();
        let reader_identity = reader.age_identity();
        let reader_id = reader.member_id();
        // The machine may be shared: each round times the figures and their ceilings back to
        // back, so all four see the same load (after one warm-up round).
        let mut samples: [Vec<Duration>; 4] = Default::default();
        for round in 0..=runs {
            let times = [
                time_once(|| {
                    std::hint::black_box(seal_once(&roster, author, now));
                }),
                time_once(|| seal_primitives(&recipients, &inner, &key, &messages)),
                time_once(|| {
                    std::hint::black_box(
                        open(&bundle, &roster, &reader_id, &identities, read_at).unwrap(),
                    );
                }),
                time_once(|| {
                    open_primitives(bundle.ciphertext(), &reader_identity, &public, &signed)
                }),
            ];
            if round > 0 {
                for (s, t) in samples.iter_mut().zip(times) {
                    s.push(t);
                }
            }
        }
        // The fastest round of each: these are pure CPU work, and on a machine shared by
        // several builds the scheduler inflates most rounds by a random factor; the minimum is
        // the least-disturbed measurement of figure and ceiling alike.
        let [seal_time, seal_floor, open_time, open_floor] =
            samples.map(|s| s.into_iter().min().unwrap());
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
