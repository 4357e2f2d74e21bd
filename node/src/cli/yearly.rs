//! `debrief stats --yearly --year YYYY`: the circle-internal yearly report (docs/yearly-report.md).
//! Thin: the numbers come from [`debrief_protocol::yearly`], the store query and the renderers
//! from [`crate::yearly`].

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use debrief_protocol::yearly::{Contribution, SuppressionRules, aggregate};

use crate::node::Circle;
use crate::yearly::{RenderOptions, circle_reports, render_html_page, render_markdown};

/// Output formats of the yearly report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Markdown with tables.
    Md,
    /// A self-contained HTML page with SVG charts.
    Html,
    /// The typed report as JSON, for scripts.
    Json,
}

/// The `--yearly` flags of `debrief stats`.
#[derive(Debug, Args, Clone)]
pub struct YearlyArgs {
    /// The yearly report for `--year` (compared with the year before), with small cells
    /// suppressed: k = 3 companies, 5 reports (docs/yearly-report.md).
    #[arg(long, requires = "year")]
    pub yearly: bool,
    /// The year to report on (UTC, by incident start).
    #[arg(long, requires = "yearly", value_name = "YYYY")]
    pub year: Option<i32>,
    /// Output format (default: md; `--json` means json).
    #[arg(long, requires = "yearly", value_enum)]
    pub format: Option<Format>,
    /// Write to this file instead of standard output.
    #[arg(long, requires = "yearly", value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Builds and prints (or writes) the circle-internal yearly report.
pub fn run(circle: &Circle, args: &YearlyArgs, json: bool) -> anyhow::Result<ExitCode> {
    let Some(year) = args.year else {
        bail!("--yearly needs --year YYYY");
    };
    if !(1970..=9999).contains(&year) {
        bail!("--year {year} is outside 1970–9999");
    }
    let format = match (args.format, json) {
        (Some(f), false) => f,
        (None, true) | (Some(Format::Json), true) => Format::Json,
        (None, false) => Format::Md,
        (Some(_), true) => bail!("--json and --format disagree; give one of them"),
    };
    let reports = circle_reports(circle).context("cannot read the circle's reports")?;
    let inputs: Vec<Contribution<'_>> = reports
        .iter()
        .map(|(m, r)| Contribution {
            report: r,
            source: Some(m),
        })
        .collect();
    // docs/yearly-report.md §3.2: the circle version always applies k = 3.
    let report = aggregate(&inputs, year, SuppressionRules::CIRCLE);
    let opts = RenderOptions {
        title: format!("Yearly report {year} — circle \"{}\"", circle.entry.name),
        scope: format!(
            "Circle-internal: the latest version of every report this member can read in the \
             circle (retracted and TLP:RED reports left out), {} in all, grouped by the year the \
             incident started, compared with {}. Each count is shown only when its reports come \
             from enough member companies. Share this page only inside the circle.",
            reports.len(),
            year - 1
        ),
    };
    let text = match format {
        Format::Md => render_markdown(&report, &opts),
        Format::Html => render_html_page(&report, &opts)?,
        Format::Json => serde_json::to_string_pretty(&report)? + "\n",
    };
    match &args.out {
        Some(path) => {
            std::fs::write(path, text.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "Wrote the {year} yearly report ({} suppressed cells) to {}",
                report.suppressed.len(),
                path.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
