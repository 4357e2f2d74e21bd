//! Cross-crate integration test harness for Debrief.
