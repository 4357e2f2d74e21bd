#![no_main]
//! See fuzz/README.md and `debrief_fuzz::harness::publog_verify`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| debrief_fuzz::harness::publog_verify(data));
