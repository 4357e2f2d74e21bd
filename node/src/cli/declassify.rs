//! `debrief declassify preview`: what would be published, and what still blocks it
//! (docs/declassification.md §9).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use debrief_protocol::declassify::{Allowance, Preview, Verdict};
use debrief_protocol::report;
use serde::Serialize;

use crate::declassify::{Subject, preview_report};
use crate::home::Home;
use crate::node::{Node, now};

/// `debrief declassify` subcommands.
#[derive(Debug, Subcommand)]
pub enum DeclassifyCommand {
    /// Show the candidate public text of a report: a unified diff (original → public), every
    /// finding still open with its line, column and reason, the generalisations applied and a
    /// verdict. Exit code 1 while any finding is unresolved.
    Preview(PreviewArgs),
}

/// Arguments of `declassify preview`.
#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// The report file, as its author has it (Markdown with TOML front matter).
    #[arg(long, value_name = "FILE")]
    pub file: PathBuf,
    /// Print the preview as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Allow a flagged text in the public version (exactly as the preview shows it). Each
    /// --allow needs a --because, paired in order; the allowance is kept with the report.
    #[arg(long, value_name = "TEXT")]
    pub allow: Vec<String>,
    /// Why the allowed text is safe to publish; reviewers read it.
    #[arg(long, value_name = "REASON")]
    pub because: Vec<String>,
}

/// Runs a `debrief declassify` subcommand.
pub fn run(
    home: Option<&Path>,
    circle: Option<&str>,
    command: DeclassifyCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        DeclassifyCommand::Preview(args) => preview(home, circle, args),
    }
}

/// The JSON form: the preview plus what it was made for.
#[derive(Debug, Serialize)]
struct JsonPreview<'a> {
    report: &'a str,
    circle: &'a str,
    #[serde(flatten)]
    preview: &'a Preview,
}

fn preview(
    home: Option<&Path>,
    circle: Option<&str>,
    args: PreviewArgs,
) -> anyhow::Result<ExitCode> {
    if args.allow.len() != args.because.len() {
        bail!(
            "{} --allow but {} --because: every allowance needs its own justification \
             (--allow TEXT --because REASON, repeated)",
            args.allow.len(),
            args.because.len()
        );
    }
    let allowances = args
        .allow
        .iter()
        .zip(&args.because)
        .map(|(text, because)| Allowance::new(text, because))
        .collect::<Result<Vec<_>, _>>()?;

    let source = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read the report {}", args.file.display()))?;
    let report = match report::parse(&source) {
        Ok(r) => r,
        Err(report::ReportError::Invalid(diagnostics)) => {
            let name = args.file.display().to_string();
            for d in diagnostics
                .iter()
                .filter(|d| d.level == report::Level::Error)
            {
                eprintln!("{}", d.display_with(&name));
            }
            bail!("{name} is not a valid report; fix it (`debrief report lint`) before previewing");
        }
        Err(err) => {
            return Err(err).context(format!("{} is not a valid report", args.file.display()));
        }
    };

    let node = Node::open(Home::resolve(home)?)?;
    let mut circle = node.circle(circle, now())?;
    let subject = Subject::Report(report.id.clone());
    let preview = preview_report(
        &report,
        &subject,
        &mut circle,
        node.identity(),
        node.config(),
        &allowances,
        now(),
    )?;

    if args.json {
        let out = JsonPreview {
            report: &report.id,
            circle: circle.roster.name(),
            preview: &preview,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_text(&report.id, circle.roster.name(), &allowances, &preview);
    }
    Ok(match preview.verdict {
        Verdict::Publishable => ExitCode::SUCCESS,
        Verdict::Blocked => ExitCode::from(1),
    })
}

fn print_text(id: &str, circle: &str, recorded: &[Allowance], p: &Preview) {
    println!("Declassification preview of report {id:?} for circle {circle:?}");
    for a in recorded {
        println!("Recorded allowance {:?}: {}", a.text, a.because);
    }
    println!();
    if p.diff.is_empty() {
        println!("(the public text equals the original)");
    } else {
        print!("{}", p.diff);
    }
    println!();
    println!("Company published as: {}", p.company);
    if !p.generalisations.is_empty() {
        println!("Generalised:");
        for g in &p.generalisations {
            println!("  {}: {}", g.field, g.note);
        }
    }
    if !p.dropped.is_empty() {
        println!("Dropped:");
        for d in &p.dropped {
            println!("  {} ({})", d.field, d.class);
        }
    }
    if !p.allowed.is_empty() {
        println!("Allowed with justification:");
        for a in &p.allowed {
            println!(
                "  {}:{} {} {:?} because {:?}",
                a.line, a.column, a.field, a.matched, a.because
            );
        }
    }
    for a in &p.unused_allowances {
        println!(
            "Unused allowance {:?} (matches nothing in this report any more)",
            a.text
        );
    }
    if !p.findings.is_empty() {
        println!("Findings ({}), each blocks publication:", p.findings.len());
        for f in &p.findings {
            println!(
                "  {}:{} {} {:?} → {} ({})",
                f.line, f.column, f.field, f.finding.matched, f.finding.replacement, f.reason
            );
        }
    }
    match p.verdict {
        Verdict::Publishable => println!("Verdict: publishable (no unresolved finding)"),
        Verdict::Blocked => println!(
            "Verdict: BLOCKED by {} finding(s). Reword them in the report (the diff shows the \
             suggested placeholders), or allow one with --allow TEXT --because REASON.",
            p.findings.len()
        ),
    }
}
