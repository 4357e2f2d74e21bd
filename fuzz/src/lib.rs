//! Shared harness for the fuzz targets. The same `harness.rs` is compiled into
//! `protocol/tests/fuzz_corpus.rs` and `protocol/tests/no_panic.rs`, so the saved corpus and the
//! properties run exactly what the fuzzer ran.

#[path = "../../protocol/tests/bundle_support/mod.rs"]
pub mod bundle_support;
pub mod harness;
