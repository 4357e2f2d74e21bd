//! The Debrief node: command line, store, HTTPS server and client, sync, archive and demo.
//!
//! The binary is a thin wrapper; everything lives here so that integration tests can drive a node
//! in-process.

pub mod archive;
pub mod circle_ops;
pub mod cli;
pub mod declassify;
pub mod home;
pub mod http;
pub mod join;
pub mod node;
pub mod publish;
pub mod search;
pub mod server;
pub mod sharing;
pub mod store;
pub mod sync;
pub mod tls;
pub mod yearly;
