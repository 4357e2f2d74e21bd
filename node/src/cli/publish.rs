//! `debrief publish`: the circle's public log on this node (docs/declassification.md "Review,
//! approvals and publishing on a node"; protocol.md §7). Thin: the work is in
//! [`crate::publish`].

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use debrief_protocol::MemberId;

use crate::home::Home;
use crate::node::{Circle, Node, now};
use crate::publish::{self, Cosigned, KeyHolder, Proposal, Proposed};

/// `debrief publish ID | --cosign FILE_OR_ID | init | erratum | retract | checkpoint | status`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct PublishArgs {
    #[command(subcommand)]
    pub command: Option<PublishCommand>,
    /// Propose the publication of this report (bundle id or prefix): maintainer only; checks
    /// approvals, embargo and the scan, and signs as one publication key.
    #[arg(value_name = "ID", conflicts_with = "cosign")]
    pub id: Option<String>,
    /// Cosign a proposal (a file from --out, or the id of one in public/pending/): re-checks
    /// everything and adds this node's signature; at t companies the entry is appended.
    #[arg(long, value_name = "FILE_OR_ID")]
    pub cosign: Option<String>,
    /// Also write the proposal (with every signature so far) to FILE, to pass on.
    #[arg(long, value_name = "FILE", global = true)]
    pub out: Option<PathBuf>,
    #[arg(long, global = true)]
    pub json: bool,
}

/// `debrief publish` subcommands.
#[derive(Debug, Subcommand)]
pub enum PublishCommand {
    /// Start the circle's public log: propose its genesis, declaring the publication keys
    /// (t ≥ 2 distinct companies). Maintainer only; other key holders cosign.
    Init {
        /// The members whose current signing keys become publication keys (member id, prefix
        /// or org name). Default: the keys the roster declares.
        #[arg(long, value_name = "MEMBER", num_args = 1..)]
        keys: Vec<String>,
        /// How many distinct companies must sign each entry (at least the policy's and 2).
        #[arg(long)]
        threshold: Option<u32>,
        /// The archive's display name. Default: the circle's name.
        #[arg(long)]
        name: Option<String>,
    },
    /// Propose a corrected version of publication SEQ from the report's current request
    /// (same slug).
    Erratum {
        seq: u64,
        /// The report's bundle id (its current declassification request is published).
        id: String,
        /// What changed, for readers.
        #[arg(long)]
        note: String,
    },
    /// Propose retracting publication SEQ (a signed tombstone with a reason).
    Retract {
        seq: u64,
        #[arg(long)]
        reason: String,
    },
    /// Propose a fresh checkpoint for the current head (re-issue before the last expires).
    Checkpoint,
    /// This node's copy of the log and the proposals pending here.
    Status,
}

pub fn run(
    home: Option<&Path>,
    selector: Option<&str>,
    args: PublishArgs,
) -> anyhow::Result<ExitCode> {
    let node = Node::open(Home::resolve(home)?)?;
    let t = now();
    let circle = node.circle(selector, t)?;
    let holder = KeyHolder {
        me: node.identity().member_id(),
        identity: node.identity(),
        config: node.config(),
    };
    let outcome = match (args.command, args.id, args.cosign) {
        (Some(PublishCommand::Status), _, _) => return status(&circle, args.json),
        (
            Some(PublishCommand::Init {
                keys,
                threshold,
                name,
            }),
            _,
            _,
        ) => {
            let members = keys
                .iter()
                .map(|k| member(&circle, k))
                .collect::<anyhow::Result<Vec<MemberId>>>()?;
            let name = name.unwrap_or_else(|| circle.roster.name().to_owned());
            publish::propose_genesis(&circle, &holder, &members, &name, threshold, t)?
        }
        (Some(PublishCommand::Erratum { seq, id, note }), _, _) => {
            let b = publish::report_lineage(&circle, &id)?;
            publish::propose_entry(
                &circle,
                &holder,
                Proposed::Erratum {
                    report_bundle: &b,
                    corrects: seq,
                    note: &note,
                },
                t,
            )?
        }
        (Some(PublishCommand::Retract { seq, reason }), _, _) => publish::propose_entry(
            &circle,
            &holder,
            Proposed::Retraction {
                retracts: seq,
                reason: &reason,
            },
            t,
        )?,
        (Some(PublishCommand::Checkpoint), _, _) => {
            publish::propose_checkpoint(&circle, &holder, t)?
        }
        (None, Some(id), None) => {
            let b = publish::report_lineage(&circle, &id)?;
            publish::propose_entry(&circle, &holder, Proposed::Publish { report_bundle: &b }, t)?
        }
        (None, None, Some(what)) => {
            let p = Path::new(&what);
            let proposal = if p.is_file() {
                let bytes = std::fs::read(p).with_context(|| format!("cannot read {what}"))?;
                Proposal::from_json(&bytes)?
            } else {
                publish::find_pending(&circle, &what)?
            };
            publish::cosign(&circle, &holder, proposal, t)?
        }
        _ => bail!(
            "give a report ID to publish, --cosign FILE_OR_ID, or a subcommand (`debrief publish --help`)"
        ),
    };
    if let Some(out) = &args.out {
        publish::write_atomically(out, &outcome.file.to_json())?;
    }
    print_outcome(&circle, &outcome, args.out.as_deref(), args.json)?;
    Ok(ExitCode::SUCCESS)
}

fn member(circle: &Circle, text: &str) -> anyhow::Result<MemberId> {
    Ok(crate::circle_ops::resolve_member(&circle.roster, text)?)
}

fn print_outcome(
    circle: &Circle,
    c: &Cosigned,
    out: Option<&Path>,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(c)?);
        return Ok(());
    }
    let orgs: Vec<String> = c
        .companies
        .iter()
        .map(|m| {
            m.parse::<MemberId>()
                .ok()
                .and_then(|id| circle.roster.member(&id).map(|x| x.org.clone()))
                .unwrap_or_else(|| m.clone())
        })
        .collect();
    let what = match c.kind {
        publish::ProposalKind::Genesis => "log genesis".to_owned(),
        publish::ProposalKind::Entry => format!("entry {}", c.seq),
        publish::ProposalKind::Checkpoint => format!("checkpoint at seq {}", c.seq),
    };
    println!(
        "Proposal {} ({what}): signed by {} of {} companies ({})",
        c.proposal,
        c.companies.len(),
        c.threshold,
        orgs.join(", ")
    );
    if c.appended {
        println!(
            "Appended to the public log in {} (log id {})",
            publish::public_dir(circle).display(),
            c.log.as_deref().unwrap_or("?")
        );
        if c.kind == publish::ProposalKind::Genesis {
            println!(
                "Publish the log id out of band so readers can pin it: debrief verify DIR --genesis {}",
                c.log.as_deref().unwrap_or("?")
            );
        }
    } else {
        println!(
            "Pending in {}; another publication-key holder runs `debrief publish --cosign FILE`",
            publish::pending_dir(circle).display()
        );
    }
    if let Some(out) = out {
        println!("Wrote the proposal to {}", out.display());
    }
    Ok(())
}

fn status(circle: &Circle, json: bool) -> anyhow::Result<ExitCode> {
    let dir = publish::public_dir(circle);
    let log = publish::load_log(&dir)?;
    let mut pending = Vec::new();
    if let Ok(rd) = std::fs::read_dir(publish::pending_dir(circle)) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(id) = name.strip_suffix(".json")
                && !name.starts_with('.')
            {
                pending.push(id.to_owned());
            }
        }
    }
    pending.sort();
    if json {
        let v = serde_json::json!({
            "dir": dir.display().to_string(),
            "log": log.as_ref().map(|(l, _)| l.genesis_id().to_hex()),
            "seq": log.as_ref().map(|(l, _)| l.head_seq()),
            "pending": pending,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    match &log {
        Some((l, _)) => println!(
            "Public log {} in {}: {} entries",
            l.genesis_id(),
            dir.display(),
            l.head_seq()
        ),
        None => println!("No public log on this node yet ({})", dir.display()),
    }
    for p in &pending {
        println!("Pending proposal {p}");
    }
    Ok(ExitCode::SUCCESS)
}
