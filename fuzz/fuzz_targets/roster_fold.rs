#![no_main]
//! See fuzz/README.md and `debrief_fuzz::harness::roster_fold`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| debrief_fuzz::harness::roster_fold(data));
