//! `debrief demo`: a real three-company circle on loopback over HTTPS (docs/demo.md).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::demo::{self, DemoOptions};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Leave the three nodes running (and their homes on disk) after the story, and print how
    /// to talk to them; stop with Ctrl-C.
    #[arg(long)]
    pub keep: bool,
    /// Put the three homes here instead of a new temporary directory (kept afterwards).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let options = DemoOptions {
        keep: args.keep,
        dir: args.dir,
    };
    let mut stdout = std::io::stdout();
    runtime.block_on(demo::run(options, &mut stdout))?;
    Ok(())
}
