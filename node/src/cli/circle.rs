//! `debrief circle …`: found, inspect and move a circle's roster.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use debrief_protocol::Envelope;
use debrief_protocol::roster::Policy;
use serde::{Deserialize, Serialize};

use crate::home::Home;
use crate::node::{Circle, Node, now};

/// Circle commands.
#[derive(Debug, Subcommand)]
pub enum CircleCommand {
    /// Found a circle: you become its first maintainer and its sequencer.
    Create(CreateArgs),
    /// Write this circle's signed roster log to FILE, for `circle import` on another node.
    Export {
        /// Where to write the log (JSON).
        file: PathBuf,
        /// Overwrite FILE if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Verify a roster log from FILE and store what is new (joins the circle if unknown).
    Import {
        file: PathBuf,
        /// Local name for a circle this node does not know yet (default: the circle's name).
        #[arg(long)]
        name: Option<String>,
    },
    /// Show the circle's members, roles, head and freshness.
    Status,
}

/// `circle create` options.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The circle's name (also its local name on this node).
    #[arg(long)]
    pub name: String,
    /// A Markdown file with the charter every member accepts when joining.
    #[arg(long, value_name = "FILE")]
    pub charter: Option<PathBuf>,
    /// Identity cards (`debrief id export`) of founding members, so a young circle can reach
    /// its vouch threshold.
    #[arg(long = "founding-member", value_name = "CARD")]
    pub founding_members: Vec<PathBuf>,
    /// Vouches from distinct member companies needed to admit a company.
    #[arg(long, default_value_t = Policy::default().vouches)]
    pub vouches: u32,
    /// Maintainer companies that must cosign a sensitive change.
    #[arg(long, default_value_t = Policy::default().maintainer_quorum)]
    pub quorum: u32,
}

/// The `circle export` file: the signed roster log, exactly as stored.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RosterLogFile {
    pub format: String,
    pub circle: String,
    pub events: Vec<Envelope>,
}

/// The format tag of [`RosterLogFile`].
pub const ROSTER_LOG_FORMAT: &str = "debrief-roster-log/v1";

/// The charter used when `--charter` is not given.
const DEFAULT_CHARTER: &str = "Members share incident reports to learn from each other's \
failures. What is shared in this circle stays in this circle unless it is declassified with the \
approval of the companies involved. Reports are blameless.";

pub fn run(
    home: Option<&Path>,
    circle: Option<&str>,
    command: CircleCommand,
) -> anyhow::Result<()> {
    let node = Node::open(Home::resolve(home)?)?;
    match command {
        CircleCommand::Create(args) => create(&node, args),
        CircleCommand::Export { file, force } => export(&node.circle(circle, now())?, &file, force),
        CircleCommand::Import { file, name } => import(&node, circle, &file, name),
        CircleCommand::Status => status(&node, &node.circle(circle, now())?),
    }
}

fn create(node: &Node, args: CreateArgs) -> anyhow::Result<()> {
    let charter = match &args.charter {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the charter {}", path.display()))?,
        None => DEFAULT_CHARTER.to_owned(),
    };
    let mut cards = Vec::new();
    for path in &args.founding_members {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read the identity card {}", path.display()))?;
        let card = Envelope::from_json(&bytes)
            .with_context(|| format!("{} is not a signed identity card", path.display()))?;
        debrief_protocol::identity::verify_card(&card)
            .with_context(|| format!("identity card {} refused", path.display()))?;
        cards.push(card);
    }
    let policy = Policy {
        vouches: args.vouches,
        maintainer_quorum: args.quorum,
        ..Policy::default()
    };
    let circle = node.create_circle(&args.name, &charter, policy, cards, now())?;
    println!("Created circle {:?}", circle.roster.name());
    println!(
        "  circle id: {}",
        grouped_id(&circle.roster.circle_id().to_hex())
    );
    println!("  (read the circle id aloud when a candidate confirms it out of band)");
    print_members(&circle);
    if let Some(warning) = circle.roster.single_maintainer_warning() {
        println!("warning: {warning}");
    }
    Ok(())
}

fn export(circle: &Circle, file: &Path, force: bool) -> anyhow::Result<()> {
    if file.exists() && !force {
        bail!("{} exists; pass --force to overwrite it", file.display());
    }
    let log = RosterLogFile {
        format: ROSTER_LOG_FORMAT.into(),
        circle: circle.roster.circle_id().to_hex(),
        events: circle.store.roster_envelopes()?,
    };
    let mut text = serde_json::to_vec_pretty(&log)?;
    text.push(b'\n');
    std::fs::write(file, text).with_context(|| format!("cannot write {}", file.display()))?;
    println!(
        "Wrote {} roster events of circle {:?} to {}",
        log.events.len(),
        circle.roster.name(),
        file.display()
    );
    Ok(())
}

/// Reads a roster log file, naming the file in every error.
pub fn read_log_file(file: &Path) -> anyhow::Result<RosterLogFile> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let log: RosterLogFile = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a roster log file", file.display()))?;
    if log.format != ROSTER_LOG_FORMAT {
        bail!(
            "{}: unsupported format {:?} (expected {ROSTER_LOG_FORMAT:?})",
            file.display(),
            log.format
        );
    }
    Ok(log)
}

fn import(
    node: &Node,
    selector: Option<&str>,
    file: &Path,
    name: Option<String>,
) -> anyhow::Result<()> {
    let log = read_log_file(file)?;
    let known = node
        .index()
        .list()?
        .into_iter()
        .find(|c| c.circle_id.to_hex() == log.circle);
    let t = now();
    match known {
        None => {
            if selector.is_some() {
                bail!("--circle names a circle this node has; this log is for another circle");
            }
            let roster =
                debrief_protocol::roster::fold(&log.events, Some(t)).with_context(|| {
                    format!(
                        "{}: the roster log is invalid; nothing was stored",
                        file.display()
                    )
                })?;
            let local = name.unwrap_or_else(|| roster.name().to_owned());
            let circle = node.add_circle(&local, &log.events, t)?;
            println!(
                "Joined circle {:?} ({} roster events)",
                circle.roster.name(),
                circle.roster.head_seq() + 1
            );
            print_members(&circle);
        }
        Some(entry) => {
            let mut circle = node.circle(Some(&entry.circle_id.to_hex()), t)?;
            let (roster, added) = circle
                .store
                .append_roster_events(Some(&circle.roster), &log.events, t)
                .with_context(|| format!("{}: nothing was stored", file.display()))?;
            circle.roster = roster;
            println!(
                "Circle {:?}: {added} new roster events, head is now seq {}",
                circle.roster.name(),
                circle.roster.head_seq()
            );
        }
    }
    Ok(())
}

fn status(_node: &Node, circle: &Circle) -> anyhow::Result<()> {
    let r = &circle.roster;
    println!("Circle {:?}", r.name());
    println!("  circle id: {}", grouped_id(&r.circle_id().to_hex()));
    println!(
        "  head: seq {} ({}) at {}",
        r.head_seq(),
        r.head_id(),
        r.head_at()
    );
    println!("  sequencer: {}", r.sequencer());
    println!(
        "  frozen: {}",
        if r.unresolved_forks().is_empty() {
            "no"
        } else {
            "YES (fork proof held)"
        }
    );
    print_members(circle);
    if let Some(warning) = r.single_maintainer_warning() {
        println!("warning: {warning}");
    }
    Ok(())
}

fn print_members(circle: &Circle) {
    let r = &circle.roster;
    println!("  members:");
    for m in r.members() {
        let roles: Vec<String> = r
            .roles(&m.id)
            .iter()
            .map(|x| format!("{x:?}").to_lowercase())
            .collect();
        println!(
            "    {:<24} {}  [{}]{}",
            m.org,
            m.id,
            roles.join(", "),
            m.endpoint
                .as_deref()
                .map(|e| format!("  {e}"))
                .unwrap_or_default()
        );
    }
}

/// A 64-hex circle id in groups of four, for reading aloud.
pub fn grouped_id(hex: &str) -> String {
    hex.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}
