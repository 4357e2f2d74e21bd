//! The `debrief` command line (clap derive). Each command group lives in its own module; this
//! file only wires them together and turns errors into a clear message and an exit code.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod report;

/// Debrief: share incident postmortems safely within an invite-only circle of companies.
#[derive(Debug, Parser)]
#[command(name = "debrief", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write, lint, show and export incident reports.
    Report(report::ReportCommand),
}

/// Parses the process arguments, runs the command and maps the outcome to an exit code:
/// 0 success, 1 the command ran and found problems (e.g. lint errors), 2 an error.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs one parsed command.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Report(cmd) => report::run(cmd),
    }
}
