//! `debrief report ...`: write, lint, show and export postmortems (docs/format.md).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use debrief_protocol::report::{self, Level, ReportKind};

/// Write, check and export incident reports.
#[derive(Debug, Args)]
pub struct ReportCommand {
    #[command(subcommand)]
    pub action: ReportAction,
}

/// `debrief report` subcommands.
#[derive(Debug, Subcommand)]
pub enum ReportAction {
    /// Create a new report from a template with guiding questions (never overwrites a file).
    New {
        /// What to write: your own postmortem, or a book report on someone else's public one.
        #[arg(long, value_enum, default_value_t = KindArg::Postmortem)]
        kind: KindArg,
        /// Leave out the field guide and the longer question lists.
        #[arg(long)]
        short: bool,
        /// The file to create.
        file: PathBuf,
    },
    /// Check reports; prints every problem as file:line:column. Exits 1 if any has an error.
    Lint {
        /// Print the diagnostics as one JSON array instead of text.
        #[arg(long)]
        json: bool,
        /// The reports to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Show a report as readable text.
    Show {
        /// The report to show.
        file: PathBuf,
    },
    /// Print a report's canonical JSON (the bytes that get signed).
    Json {
        /// The report to export.
        file: PathBuf,
    },
}

/// Report kinds as spelled on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    Postmortem,
    BookReport,
}

impl From<KindArg> for ReportKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Postmortem => ReportKind::Postmortem,
            KindArg::BookReport => ReportKind::BookReport,
        }
    }
}

/// Runs one `report` subcommand.
pub fn run(cmd: ReportCommand) -> anyhow::Result<ExitCode> {
    match cmd.action {
        ReportAction::New { kind, short, file } => new(kind.into(), short, &file),
        ReportAction::Lint { json, files } => lint(&files, json),
        ReportAction::Show { file } => {
            let Some(report) = parse_file(&file)? else {
                return Ok(ExitCode::from(1));
            };
            print!("{}", report.render_text());
            Ok(ExitCode::SUCCESS)
        }
        ReportAction::Json { file } => {
            let Some(report) = parse_file(&file)? else {
                return Ok(ExitCode::from(1));
            };
            let bytes = report
                .to_canonical_json()
                .context("cannot encode the report")?;
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)?;
            out.write_all(b"\n")?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A report id from a file name: lowercase, dashes for anything else, at least 3 characters.
fn id_from_path(path: &Path) -> String {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let mut id = String::new();
    for c in stem.chars() {
        if c.is_ascii_alphanumeric() {
            id.push(c.to_ascii_lowercase());
        } else if !id.is_empty() && !id.ends_with('-') {
            id.push('-');
        }
        if id.len() == 64 {
            break;
        }
    }
    let id = id.trim_end_matches('-').to_owned();
    if id.len() < 3 {
        format!("report-{id}").trim_end_matches('-').to_owned()
    } else {
        id
    }
}

fn new(kind: ReportKind, short: bool, file: &Path) -> anyhow::Result<ExitCode> {
    let text = report::template(kind, short, &id_from_path(file));
    // create_new: refuse to overwrite, atomically (no check-then-write race).
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(file)
        .with_context(|| {
            if file.exists() {
                format!(
                    "{} already exists; not overwriting it (choose another name)",
                    file.display()
                )
            } else {
                format!("cannot create {}", file.display())
            }
        })?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", file.display()))?;
    eprintln!(
        "created {}: fill it in, then run `debrief report lint {}`",
        file.display(),
        file.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn read(file: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))
}

fn lint(files: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    let mut any_error = false;
    let mut all = Vec::new();
    let (mut errors, mut warnings) = (0usize, 0usize);
    for file in files {
        let outcome = report::lint_bytes(&read(file)?);
        let name = file.display().to_string();
        for d in &outcome.diagnostics {
            match d.level {
                Level::Error => errors += 1,
                Level::Warning => warnings += 1,
            }
            if json {
                all.push(serde_json::json!({ "file": name, "diagnostic": d }));
            } else {
                println!("{}", d.display_with(&name));
            }
        }
        any_error |= outcome.has_errors();
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&all)?);
    } else {
        eprintln!(
            "{} file(s) checked: {errors} error(s), {warnings} warning(s)",
            files.len()
        );
    }
    Ok(if any_error {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Reads and parses a report. A report with lint errors prints them to stderr and gives `None`
/// (exit 1, like `lint`); an unreadable file is an `Err` (exit 2).
fn parse_file(file: &Path) -> anyhow::Result<Option<report::Report>> {
    let outcome = report::lint_bytes(&read(file)?);
    match outcome.report {
        Some(r) if !outcome.has_errors() => Ok(Some(r)),
        _ => {
            let name = file.display().to_string();
            for d in outcome
                .diagnostics
                .iter()
                .filter(|d| d.level == Level::Error)
            {
                eprintln!("{}", d.display_with(&name));
            }
            eprintln!("{name} has errors; fix them first (`debrief report lint {name}`)");
            Ok(None)
        }
    }
}
