//! The public archive (DESIGN §6 step 4; docs/archive.md): a static site built from a circle's
//! verified public log, a small server with FTS5 search, and a demo-log generator.
//!
//! - [`build::build`] verifies the log (refusing an unverifiable one) and writes the site
//!   incrementally and deterministically;
//! - [`serve::ArchiveServer`] serves a built site and answers `/api/search`;
//! - [`demo::demo_log`] publishes fixture and synthetic reports through the real publication
//!   rules, for tests and demos.

pub mod build;
pub mod demo;
pub mod feedback;
pub mod fetch;
mod html;

pub use html::esc;
pub mod logdir;
pub mod serve;
pub mod site;

use std::path::PathBuf;

use debrief_protocol::publog::PublogError;

pub use build::{BuildOptions, BuildSummary, MANIFEST_FILE, build};
pub use demo::{DemoLog, DemoOptions, demo_log};
pub use site::SiteOptions;

/// Why an archive operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The log could not be read as the published layout.
    #[error("cannot read the log: {0}")]
    Log(String),
    /// The log did not verify (protocol.md §7.5–§7.8).
    #[error("the log does not verify, refusing to build from it: {0}")]
    Verify(PublogError),
    /// The output directory cannot be used.
    #[error("{0}")]
    Out(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The demo log could not be published.
    #[error("demo log: {0}")]
    Demo(String),
    /// The server-side search index failed.
    #[error("search index: {0}")]
    Search(String),
}
