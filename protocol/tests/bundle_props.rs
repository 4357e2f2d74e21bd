//! Property tests: any single-byte change to a bundle object's bytes is refused and never
//! panics; and a timing table for large recipient lists (ignored by default; a measurement, not
//! an assertion).
#![allow(clippy::unwrap_used)]

mod bundle_support;

use bundle_support::*;
use debrief_protocol::bundle::{BundleKind, BundleObject, Tlp, check_age_header, open, seal};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_single_byte_change_is_refused(index in any::<prop::sample::Index>(), xor in 1u8..=255) {
        let w = World::new();
        let obj = green_report(&w);
        let mut bytes = obj.as_bytes().to_vec();
        let i = index.index(bytes.len());
        bytes[i] ^= xor;
        if let Ok(parsed) = BundleObject::parse(&bytes) {
            let got = open(&parsed, &w.roster, &w.b.id, std::slice::from_ref(&w.b.age), NOW);
            prop_assert!(got.is_err(), "byte {} ^ {:#x} was accepted", i, xor);
        }
    }
}

/// A circle of `n` members (seeds 1..=n; the author is seed 1).
fn big_world(n: u8) -> (Vec<Member>, FixtureRoster) {
    let members: Vec<Member> = (1..=n).map(Member::new).collect();
    let mut roster = FixtureRoster::new("big circle", &[&members[0]]);
    for m in &members[1..] {
        roster.admit(m);
    }
    (members, roster)
}

#[test]
#[ignore = "a measurement; run with --ignored --nocapture"]
fn timing_table_by_recipient_count() {
    println!(
        "{:>10} {:>12} {:>12} {:>14} {:>12}",
        "recipients", "seal ms", "open ms", "our parse µs", "header B"
    );
    for n in [10u8, 50, 100, 250] {
        let (members, roster) = big_world(n);
        let author = &members[0];
        let started = std::time::Instant::now();
        let obj = seal(request(
            &roster,
            author,
            BundleKind::Report,
            Tlp::Green,
            vec![],
        ))
        .unwrap();
        let seal_ms = started.elapsed().as_secs_f64() * 1e3;
        let reader = members.last().unwrap();
        let started = std::time::Instant::now();
        open(
            &obj,
            &roster,
            &reader.id,
            std::slice::from_ref(&reader.age),
            NOW,
        )
        .unwrap();
        let open_ms = started.elapsed().as_secs_f64() * 1e3;
        let started = std::time::Instant::now();
        let info = check_age_header(obj.ciphertext(), usize::from(n)).unwrap();
        let parse_us = started.elapsed().as_secs_f64() * 1e6;
        println!(
            "{n:>10} {seal_ms:>12.2} {open_ms:>12.2} {parse_us:>14.1} {:>12}",
            info.len
        );
    }
}
