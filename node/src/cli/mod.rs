//! The `debrief` command line (clap derive). Each command group lives in its own module; this
//! file only wires them together and turns errors into a clear message and an exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod archive;
mod circle;
mod config;
mod declassify;
mod feedback;
mod id;
mod init;
mod publish;
mod report;
mod serve;
mod share;
mod status;
mod sync;
mod verify;
mod yearly;

/// Debrief: share incident postmortems safely within an invite-only circle of companies.
#[derive(Debug, Parser)]
#[command(name = "debrief", version, about, long_about = None)]
pub struct Cli {
    /// The node's home (config.toml, keystore, data). Default: the platform data directory,
    /// e.g. ~/.local/share/debrief.
    #[arg(long, global = true, env = "DEBRIEF_HOME", value_name = "PATH")]
    pub home: Option<PathBuf>,
    /// Which circle: its local name, its id, or a unique id prefix. Default: the only circle.
    #[arg(long, global = true, value_name = "NAME")]
    pub circle: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a node home: configuration, keystore with a new identity, data directory.
    Init(init::InitArgs),
    /// Show, export or rotate this member's identity.
    #[command(subcommand)]
    Id(id::IdCommand),
    /// Check the configuration.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Found, join and run a trust circle.
    #[command(subcommand)]
    Circle(circle::CircleCommand),
    /// Write, lint, show and export incident reports.
    Report(report::ReportCommand),
    /// Sharing, reading and searching reports in a circle.
    #[command(flatten)]
    Sharing(share::ShareCommand),
    /// Verify a copy of a circle's public log, one entry of it, or a provenance claim.
    Verify(verify::VerifyArgs),
    /// Preview what a report would publish: diff, findings, generalisations, verdict.
    #[command(subcommand)]
    Declassify(declassify::DeclassifyCommand),
    /// Serve peers over HTTPS (and /healthz, /metrics on the admin address) until SIGINT/SIGTERM.
    Serve(serve::ServeArgs),
    /// The circle's public log: propose, cosign, correct and retract publications.
    Publish(publish::PublishArgs),
    /// Build, serve or demo the public archive site.
    #[command(subcommand)]
    Archive(archive::ArchiveCommand),
    /// Pull from every peer of every circle (or --circle), verify and store; push our own.
    Sync(sync::SyncArgs),
    /// Peers, last contact, roster lag and agreement, backoff, per circle.
    Status(status::StatusArgs),
    /// Read the reader feedback an archive server stored (list, export as JSONL).
    #[command(subcommand)]
    Feedback(feedback::FeedbackCommand),
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
        Command::Init(args) => init::run(cli.home.as_deref(), args).map(|()| ExitCode::SUCCESS),
        Command::Id(cmd) => id::run(cli.home.as_deref(), cmd).map(|()| ExitCode::SUCCESS),
        Command::Config(cmd) => config::run(cli.home.as_deref(), cmd),
        Command::Circle(cmd) => {
            circle::run(cli.home.as_deref(), cli.circle.as_deref(), cmd).map(|()| ExitCode::SUCCESS)
        }
        Command::Report(cmd) => report::run(cmd),
        Command::Sharing(cmd) => share::run(cli.home.as_deref(), cli.circle.as_deref(), cmd),
        Command::Verify(args) => verify::run(args),
        Command::Declassify(cmd) => {
            declassify::run(cli.home.as_deref(), cli.circle.as_deref(), cmd)
        }
        Command::Serve(args) => serve::run(cli.home.as_deref(), args).map(|()| ExitCode::SUCCESS),
        Command::Publish(args) => publish::run(cli.home.as_deref(), cli.circle.as_deref(), args),
        Command::Archive(cmd) => archive::run(cmd),
        Command::Sync(args) => sync::run(cli.home.as_deref(), cli.circle.as_deref(), args),
        Command::Status(args) => status::run(cli.home.as_deref(), cli.circle.as_deref(), args),
        Command::Feedback(cmd) => feedback::run(cmd),
    }
}
