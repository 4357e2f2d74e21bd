//! `debrief declassify preview|request|review|status|prove`: what would be published, what
//! still blocks it (docs/declassification.md §9), and the review thread and provenance claims
//! (docs/declassification.md "Review, approvals and publishing on a node").

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use debrief_protocol::declassify::{Allowance, Preview, Verdict};
use debrief_protocol::report;
use serde::Serialize;

use crate::declassify::{Subject, preview_report};
use crate::home::Home;
use crate::node::{Circle, Node, now};
use crate::publish::{self, Verdict as ReviewVerdict};
use crate::sharing;

/// `debrief declassify` subcommands.
#[derive(Debug, Subcommand)]
pub enum DeclassifyCommand {
    /// Show the candidate public text of a report: a unified diff (original → public), every
    /// finding still open with its line, column and reason, the generalisations applied and a
    /// verdict. Exit code 1 while any finding is unresolved.
    Preview(PreviewArgs),
    /// Open the declassification thread of your shared report: the candidate public content
    /// (no finding may remain), its SHA-256, your approval as author and the provenance
    /// commitment, sent RED to the reviewer and every maintainer only.
    Request {
        /// The report's bundle id (or a unique prefix).
        id: String,
        /// Who reviews with fresh eyes: another member (member id, prefix or org name).
        #[arg(long, value_name = "MEMBER")]
        reviewer: String,
        /// The public slug; default: derived from the public title.
        #[arg(long)]
        slug: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Answer the current request of a report: --approve (signs an approval of exactly its
    /// content hash) or --request-changes TEXT.
    Review {
        /// The report's (or the request's) bundle id or a unique prefix.
        id: String,
        #[arg(
            long,
            conflicts_with = "request_changes",
            required_unless_present = "request_changes"
        )]
        approve: bool,
        #[arg(long, value_name = "TEXT")]
        request_changes: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Approvals by role and company (current, stale or expired), changes requested, findings
    /// left, the embargo date, and what is still missing before `debrief publish`.
    Status {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Write a provenance claim for your published report: reveals the salt kept in your
    /// keystore, signed by your attribution key (opt-in attribution; it cannot be taken back).
    Prove {
        /// The report's bundle id (or a unique prefix).
        id: String,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Who you say you are (self-asserted text in the claim).
        #[arg(long, default_value = "")]
        claimant: String,
        /// A copy of the public log to prove against, when this node keeps none.
        #[arg(long, value_name = "DIR")]
        log: Option<PathBuf>,
    },
}

/// Arguments of `declassify preview`.
#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// A shared report: its bundle id (or a unique prefix); the latest version is previewed.
    #[arg(
        value_name = "ID",
        required_unless_present = "file",
        conflicts_with = "file"
    )]
    pub id: Option<String>,
    /// The report file, as its author has it (Markdown with TOML front matter).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
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
        DeclassifyCommand::Request {
            id,
            reviewer,
            slug,
            json,
        } => request(home, circle, &id, &reviewer, slug.as_deref(), json),
        DeclassifyCommand::Review {
            id,
            approve,
            request_changes,
            json,
        } => review(home, circle, &id, approve, request_changes, json),
        DeclassifyCommand::Status { id, json } => status(home, circle, &id, json),
        DeclassifyCommand::Prove {
            id,
            out,
            claimant,
            log,
        } => prove(home, circle, &id, &out, &claimant, log.as_deref()),
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

    let (report, subject, node) = match (&args.file, &args.id) {
        (Some(file), None) => {
            let report = read_report(file)?;
            let subject = Subject::Report(report.id.clone());
            (report, subject, Node::open(Home::resolve(home)?)?)
        }
        (None, Some(id)) => {
            let node = Node::open(Home::resolve(home)?)?;
            let circle = node.circle(circle, now())?;
            let b = publish::report_lineage(&circle, id)?;
            let (object, _) = sharing::latest_version(&circle, &b)?;
            let report = sharing::report_of(&circle, &object.to_hex())?
                .with_context(|| format!("the text of {b} is not held on this node"))?;
            (report, Subject::Bundle(b), node)
        }
        _ => bail!("give a shared report's ID or --file FILE, not both"),
    };
    let mut circle = node.circle(circle, now())?;
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
            report: &subject_name(&subject),
            circle: circle.roster.name(),
            preview: &preview,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_text(
            &subject_name(&subject),
            circle.roster.name(),
            &allowances,
            &preview,
        );
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

fn subject_name(s: &Subject) -> String {
    match s {
        Subject::Report(id) | Subject::Bundle(id) => id.clone(),
    }
}

fn read_report(file: &Path) -> anyhow::Result<report::Report> {
    let source = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the report {}", file.display()))?;
    match report::parse(&source) {
        Ok(r) => Ok(r),
        Err(report::ReportError::Invalid(diagnostics)) => {
            let name = file.display().to_string();
            for d in diagnostics
                .iter()
                .filter(|d| d.level == report::Level::Error)
            {
                eprintln!("{}", d.display_with(&name));
            }
            bail!("{name} is not a valid report; fix it (`debrief report lint`) before previewing");
        }
        Err(err) => Err(err).context(format!("{} is not a valid report", file.display())),
    }
}

fn find_member(circle: &Circle, text: &str) -> anyhow::Result<debrief_protocol::MemberId> {
    Ok(crate::circle_ops::resolve_member(&circle.roster, text)?)
}

fn request(
    home: Option<&Path>,
    selector: Option<&str>,
    id: &str,
    reviewer: &str,
    slug: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut node = Node::open(Home::resolve(home)?)?;
    let t = now();
    let mut circle = node.circle(selector, t)?;
    let b = publish::report_lineage(&circle, id)?;
    let reviewer = find_member(&circle, reviewer)?;
    publish::own_report(&circle, &node.identity().member_id(), &b)?;
    // protocol.md §7.3: the salt is drawn here, kept in the keystore under the report's bundle
    // id (reused for its later versions and errata), and never leaves this node.
    let salt = match node.identity().provenance_salt(&b) {
        Some(s) => *s,
        None => {
            use rand::RngCore as _;
            let mut s = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut s);
            node.identity_mut().add_provenance_salt(&b, s)?;
            node.save_identity()?;
            s
        }
    };
    let ids = node.identity().age_identities();
    let author = publish::Author {
        me: node.identity().member_id(),
        identity: node.identity(),
        config: node.config(),
        identities: &ids,
    };
    let r = publish::request(&mut circle, &author, &b, &reviewer, slug, &salt, t)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!(
            "Requested declassification of {b} (request {}), public slug {:?}",
            r.shared.bundle, r.slug
        );
        println!("Content SHA-256: {}", r.content_sha256);
        let names: Vec<&str> = r
            .shared
            .recipients
            .iter()
            .map(|(_, o)| o.as_str())
            .collect();
        println!("Sent RED to: {}", names.join(", "));
        println!(
            "Your approval as author is in the request; the provenance salt stays in your keystore."
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn review(
    home: Option<&Path>,
    selector: Option<&str>,
    id: &str,
    approve: bool,
    changes: Option<String>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let node = Node::open(Home::resolve(home)?)?;
    let t = now();
    let mut circle = node.circle(selector, t)?;
    let b = publish::report_lineage(&circle, id)?;
    let (verdict, text) = match (approve, changes) {
        (true, None) => (ReviewVerdict::Approve, String::new()),
        (false, Some(text)) => (ReviewVerdict::RequestChanges, text),
        _ => bail!("give --approve or --request-changes TEXT"),
    };
    let ids = node.identity().age_identities();
    let me = node.identity().member_id();
    let (shared, role) = publish::review(
        &mut circle,
        &me,
        node.identity(),
        node.config(),
        &ids,
        &b,
        verdict,
        &text,
        t,
    )?;
    if json {
        println!(
            "{}",
            serde_json::json!({ "review": shared.bundle, "object": shared.object, "approved_as": role })
        );
    } else {
        match role {
            Some(r) => println!("Approved {b} as {} (review {})", r.as_str(), shared.bundle),
            None => println!("Requested changes to {b} (review {})", shared.bundle),
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn status(
    home: Option<&Path>,
    selector: Option<&str>,
    id: &str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let node = Node::open(Home::resolve(home)?)?;
    let t = now();
    let circle = node.circle(selector, t)?;
    let b = publish::report_lineage(&circle, id)?;
    let s = publish::status(&circle, node.config(), &b, t)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        println!(
            "Declassification of {} (request {}, version {})",
            s.report, s.request, s.requested_version
        );
        println!(
            "Public slug: {}  content SHA-256: {}",
            s.slug, s.content_sha256
        );
        println!("Approvals:");
        for a in &s.approvals {
            println!(
                "  {:<10} {} ({}) {} until {}",
                a.role.as_str(),
                a.org,
                a.member,
                a.state,
                a.expires
            );
        }
        for (org, text) in &s.changes_requested {
            println!("Changes requested by {org}: {text}");
        }
        for (field, matched, reason) in &s.findings {
            println!("Finding: {field} {matched:?} ({reason})");
        }
        match s.embargo_until {
            Some(e) => println!("Embargo until: {e}"),
            None => println!("Embargo: cannot be judged (timeline.resolved unknown)"),
        }
        if s.missing.is_empty() {
            println!("Ready: a maintainer can `debrief publish {}`", s.report);
        } else {
            println!("Missing:");
            for m in &s.missing {
                println!("  - {m}");
            }
        }
    }
    Ok(if s.missing.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn prove(
    home: Option<&Path>,
    selector: Option<&str>,
    id: &str,
    out: &Path,
    claimant: &str,
    log_dir: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let node = Node::open(Home::resolve(home)?)?;
    let t = now();
    let circle = node.circle(selector, t)?;
    let b = publish::report_lineage(&circle, id)?;
    let dir = log_dir.map_or_else(|| publish::public_dir(&circle), Path::to_path_buf);
    let Some((log, _)) = publish::load_log(&dir)? else {
        bail!(
            "no public log at {}: give a copy with --log DIR",
            dir.display()
        );
    };
    let (seq, claim) = publish::prove(&log, node.identity(), &b, claimant, t)?;
    if out.exists() {
        bail!("{} exists; choose another --out", out.display());
    }
    publish::write_atomically(out, &claim.to_json())?;
    println!(
        "Wrote a provenance claim for entry {seq} of log {} to {}",
        log.genesis_id(),
        out.display()
    );
    println!(
        "Check it with: debrief verify DIR --genesis {} --claim {}",
        log.genesis_id(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
