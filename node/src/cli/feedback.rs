//! `debrief feedback list | export`: read the reader feedback `archive serve` stored
//! (docs/archive.md "Reader feedback").

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::archive::feedback::{Feedback, FeedbackStore};

/// Read the reader feedback an archive server stored.
#[derive(Debug, Subcommand)]
pub enum FeedbackCommand {
    /// List feedback, oldest first.
    List(ListArgs),
    /// Write every piece of feedback as JSON Lines (one object per line, oldest first).
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// The feedback store (`archive serve --feedback-db`).
    #[arg(long, value_name = "FILE")]
    pub db: PathBuf,
    /// Only feedback on this report (its slug, as in `/reports/SLUG/`).
    #[arg(long, value_name = "SLUG")]
    pub report: Option<String>,
    /// Print a JSON array instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The feedback store (`archive serve --feedback-db`).
    #[arg(long, value_name = "FILE")]
    pub db: PathBuf,
    /// Write to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(cmd: FeedbackCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        FeedbackCommand::List(a) => list(a),
        FeedbackCommand::Export(a) => export(a),
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn list(a: ListArgs) -> anyhow::Result<ExitCode> {
    let store = FeedbackStore::open_existing(&a.db)?;
    let items = store.list(a.report.as_deref())?;
    let mut out = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer_pretty(&mut out, &items)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    if items.is_empty() {
        writeln!(out, "no feedback")?;
        return Ok(ExitCode::SUCCESS);
    }
    for f in &items {
        let Feedback {
            id,
            received_at,
            report,
            useful,
            missing,
            learn,
            via,
        } = f;
        let on = report.as_deref().map_or_else(
            || "the archive (general form)".to_owned(),
            |r| format!("report {r}"),
        );
        writeln!(out, "#{id} {received_at} on {on} (via {via})")?;
        for (q, text) in [
            ("useful", useful),
            ("missing", missing),
            ("would like to learn about", learn),
        ] {
            if !text.is_empty() {
                writeln!(out, "  {q}:\n{}", indent(text))?;
            }
        }
    }
    writeln!(out, "{} in all", items.len())?;
    Ok(ExitCode::SUCCESS)
}

fn export(a: ExportArgs) -> anyhow::Result<ExitCode> {
    let store = FeedbackStore::open_existing(&a.db)?;
    let items = store.list(None)?;
    let mut text = String::new();
    for f in &items {
        text.push_str(&serde_json::to_string(f)?);
        text.push('\n');
    }
    match &a.out {
        Some(p) => {
            std::fs::write(p, text.as_bytes())
                .with_context(|| format!("cannot write {}", p.display()))?;
            eprintln!(
                "exported {} pieces of feedback to {}",
                items.len(),
                p.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
