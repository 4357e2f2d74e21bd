//! Cross-crate integration test harness for Debrief.
pub mod attack_kit;
pub mod harness;
pub mod node_kit;
