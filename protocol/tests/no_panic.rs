//! Properties over the fuzz entry points (`fuzz/src/harness.rs`): for any input — random bytes,
//! random text, or a valid object with a few bytes changed — each entry point returns a typed
//! error or a value and keeps its oracles; it never panics. Case counts stay modest so CI is
//! fast; the fuzzer (fuzz/README.md) runs the same code for much longer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bundle_support;
#[path = "../../fuzz/src/harness.rs"]
mod harness;

use std::path::Path;

use proptest::prelude::*;

const CASES: u32 = 256;

/// The seed inputs of a target, read from the saved corpus.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("seed-"))
        })
        .map(|p| (p.display().to_string(), std::fs::read(p).unwrap()))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds for {target}");
    out.into_iter().map(|(_, b)| b).collect()
}

/// One edit to a seed: overwrite, insert or delete a byte at a position (taken modulo length).
#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Delete),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

/// A seed of `target` with up to four edits; the first byte (the harness mode) is kept unless
/// an edit lands on it.
fn mutated(target: &'static str) -> impl Strategy<Value = Vec<u8>> {
    let seeds = seeds(target);
    (0..seeds.len(), prop::collection::vec(edit(), 1..5)).prop_map(move |(i, edits)| {
        let mut bytes = seeds[i].clone();
        for e in edits {
            let len = bytes.len().max(1);
            match e {
                Edit::Set(at, b) if !bytes.is_empty() => bytes[at % len] = b,
                Edit::Insert(at, b) => bytes.insert(at % (bytes.len() + 1), b),
                Edit::Delete(at) if !bytes.is_empty() => {
                    bytes.remove(at % len);
                }
                Edit::Truncate(at) => bytes.truncate(at % len),
                _ => {}
            }
        }
        bytes
    })
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..512)
}

fn text() -> impl Strategy<Value = Vec<u8>> {
    "\\PC{0,400}".prop_map(String::into_bytes)
}

macro_rules! never_panics {
    ($name:ident, $target:literal, $run:path) => {
        mod $name {
            use super::*;
            proptest! {
                #![proptest_config(ProptestConfig::with_cases(CASES))]
                #[test]
                fn on_random_bytes(data in bytes()) {
                    $run(&data);
                }
                #[test]
                fn on_random_text(data in text()) {
                    $run(&data);
                }
                #[test]
                fn on_edited_seeds(data in mutated($target)) {
                    $run(&data);
                }
            }
        }
    };
}

never_panics!(report, "report", harness::report);
never_panics!(envelope, "envelope", harness::envelope);
never_panics!(roster_fold, "roster_fold", harness::roster_fold);
never_panics!(bundle_open, "bundle_open", harness::bundle_open);
never_panics!(age_header, "age_header", harness::age_header);
never_panics!(scrub, "scrub", harness::scrub);
never_panics!(wire_auth, "wire_auth", harness::wire_auth);
never_panics!(publog_verify, "publog_verify", harness::publog_verify);
