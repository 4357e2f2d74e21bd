//! `debrief circle …`: found, inspect and move a circle's roster.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use debrief_protocol::profile::{Industry, OrgProfile, Region, SizeBand};
use debrief_protocol::roster::{MemberChange, Policy, QuorumAction, TipStatement};
use debrief_protocol::{Envelope, PayloadType};
use serde::{Deserialize, Serialize};

use crate::circle_ops as ops;
use crate::home::Home;
use crate::join;
use crate::node::{Circle, Node, now};
use crate::store::circle::PendingKind;

/// Circle commands. Every command takes `--circle NAME` (default: the only circle).
#[derive(Debug, Subcommand)]
pub enum CircleCommand {
    /// Found a circle: you become its first maintainer and its sequencer.
    Create(CreateArgs),
    /// Issue a one-time invite (a maintainer): writes the INVITE file for one candidate, who
    /// joins over the network (`circle join`) or with files (`circle request`).
    Invite {
        /// Where to write the invite (it holds the one-time token: send it privately).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Days the invite stays valid.
        #[arg(long, default_value_t = 14)]
        valid_days: u32,
        /// This node's HTTPS endpoint for the candidate (default: `server.public_endpoint`).
        #[arg(long, value_name = "URL")]
        endpoint: Option<String>,
        #[arg(long)]
        force: bool,
    },
    /// As a candidate: join over the network with an INVITE file. Checks the invite, shows the
    /// circle id to confirm out of band, fetches the charter from the maintainer over HTTPS
    /// (pinned TLS), and sends the signed join request. `circle fetch` completes the join
    /// once the circle admitted you.
    Join {
        /// The invite file from a maintainer (`circle invite --out`).
        invite: PathBuf,
        /// Confirm the circle id and accept the charter without questions.
        #[arg(long)]
        yes: bool,
        /// Local name for the circle on this node (default: the circle's name).
        #[arg(long)]
        name: Option<String>,
    },
    /// Pull the roster over the network: completes pending joins (`circle join`) once
    /// admitted, or fetches newer roster events of a circle from the sequencer (or --from).
    Fetch {
        /// The member whose node to ask (id, id prefix or org; default: the sequencer).
        #[arg(long, value_name = "MEMBER")]
        from: Option<String>,
    },
    /// As a candidate: read CIRCLE_INFO, show the charter, and sign a join request.
    Request {
        /// The circle info file from a maintainer (`circle invite`).
        info: PathBuf,
        /// Where to write the join request (for sponsors and the sequencer).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Accept the charter without the interactive question.
        #[arg(long)]
        accept_charter: bool,
        #[arg(long)]
        force: bool,
    },
    /// As a sponsor: vouch for a candidate's join request: a file (`circle request --out`), or
    /// the id (prefix) of a join request pending on this node or, over the network, on the
    /// sequencer's node (or --to MEMBER's).
    Vouch {
        /// The join request file, or a join request id (prefix) from `circle pending`.
        request: String,
        /// Why you vouch (maintainers read it).
        #[arg(long)]
        reason: String,
        /// Where to write the vouch (file form only: for the sequencer).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// The member whose node holds the join request (network form; default: the
        /// sequencer).
        #[arg(long, value_name = "MEMBER")]
        to: Option<String>,
        /// Days the vouch stays valid (capped by the policy's vouch lifetime).
        #[arg(long)]
        valid_days: Option<u32>,
        #[arg(long)]
        force: bool,
    },
    /// As the sequencer: admit a candidate on its join request and vouches: a join request
    /// file, or the id (prefix) of a join request pending on this node (`circle pending`).
    Admit {
        /// The join request file, or a pending join request's id (prefix).
        request: String,
        /// Vouch files (pending vouches this node holds for the request count too).
        #[arg(long = "vouch", value_name = "FILE")]
        vouches: Vec<PathBuf>,
    },
    /// Propose removing a member (quorum event): MEMBER is an id, id prefix or org name.
    Remove {
        member: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Propose granting (`maintainer`) or withdrawing (`member`) the maintainer role.
    Role {
        member: String,
        /// `maintainer` or `member`.
        #[arg(value_parser = ["maintainer", "member"])]
        role: String,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Propose a policy change: unset flags keep the current value.
    Policy {
        #[command(flatten)]
        policy: PolicyArgs,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Propose handing sequencing to MEMBER (optionally resolving a stored fork proof).
    Sequencer {
        member: String,
        /// The id (or prefix) of a stored fork proof this resolves.
        #[arg(long, value_name = "PROOF")]
        resolves: Option<String>,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Propose replacing a member's keys after loss or compromise (needs fresh vouches too).
    ReplaceKeys {
        member: String,
        /// The member's new identity card.
        #[arg(long, value_name = "FILE")]
        card: PathBuf,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Add your signature to a quorum proposal (a file, or the id prefix of a stored one).
    Cosign {
        proposal: String,
        #[command(flatten)]
        out: OutArgs,
    },
    /// As the sequencer: append the event for a proposal whose quorum is met, or for a
    /// member's request (a file, or the id prefix of a stored proposal).
    Apply {
        object: String,
        /// Vouches for the new card (`replace_keys` only).
        #[arg(long = "vouch", value_name = "FILE")]
        vouches: Vec<PathBuf>,
    },
    /// List what waits: join requests (with their vouch counts), member requests, proposals.
    Pending {
        /// Ask the sequencer's node (or --from MEMBER's) for its pending join requests and
        /// vouches over the network instead of this node's store.
        #[arg(long)]
        remote: bool,
        /// The member whose node to ask (with --remote; default: the sequencer).
        #[arg(long, value_name = "MEMBER", requires = "remote")]
        from: Option<String>,
    },
    /// Leave the circle.
    Leave {
        #[command(flatten)]
        out: OutArgs,
    },
    /// Set (or with --none clear) this node's endpoint in the circle.
    Endpoint {
        /// https://host[:port]
        url: Option<String>,
        #[arg(long, conflicts_with = "url")]
        none: bool,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Set this company's organisation profile in the circle.
    Profile {
        #[arg(long, value_name = "INDUSTRY")]
        industry: Industry,
        #[arg(long, value_name = "BAND")]
        size_band: SizeBand,
        #[arg(long, value_name = "REGION")]
        region: Region,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Set the terms that identify this company (every member's scrubber removes them).
    DenyTerms {
        terms: Vec<String>,
        #[command(flatten)]
        out: OutArgs,
    },
    /// As the sequencer: sign a checkpoint of the head.
    Checkpoint,
    /// Write this circle's signed roster log (with checkpoints and fork proofs) to FILE, for
    /// `circle import` on another node. The sequencer adds a checkpoint of the head if due.
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
    /// Show the circle's members, roles, head, checkpoint, freshness and forks.
    Status,
    /// Show the roster log.
    Log {
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Where a request or proposal is written for the next signer.
#[derive(Debug, Args)]
pub struct OutArgs {
    /// Write the signed object to FILE (for the other maintainers or the sequencer).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Overwrite the --out file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// Policy flags of `circle create` and `circle policy`.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Vouches from distinct member companies needed to admit a company.
    #[arg(long)]
    pub vouches: Option<u32>,
    /// Maintainer companies that must cosign a sensitive change.
    #[arg(long)]
    pub quorum: Option<u32>,
    /// Longest a vouch stays valid, in days.
    #[arg(long)]
    pub vouch_lifetime_days: Option<u64>,
    /// Oldest roster view a node may share on, in hours.
    #[arg(long)]
    pub max_roster_age_hours: Option<u64>,
    /// How often the sequencer signs a checkpoint, in hours.
    #[arg(long)]
    pub checkpoint_interval_hours: Option<u64>,
}

impl PolicyArgs {
    fn apply(&self, mut p: Policy) -> Policy {
        if let Some(v) = self.vouches {
            p.vouches = v;
        }
        if let Some(q) = self.quorum {
            p.maintainer_quorum = q;
        }
        if let Some(d) = self.vouch_lifetime_days {
            p.vouch_lifetime_secs = d.saturating_mul(86_400);
        }
        if let Some(h) = self.max_roster_age_hours {
            p.max_roster_age_secs = h.saturating_mul(3_600);
        }
        if let Some(h) = self.checkpoint_interval_hours {
            p.checkpoint_interval_secs = h.saturating_mul(3_600);
            p.checkpoint_expiry_secs = p.checkpoint_expiry_secs.max(p.checkpoint_interval_secs);
        }
        p
    }
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
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// The `circle export` file: the signed roster log, exactly as stored.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RosterLogFile {
    pub format: String,
    pub circle: String,
    pub events: Vec<Envelope>,
    /// The sequencer's checkpoints this node holds (optional on read).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checkpoints: Vec<Envelope>,
    /// Fork proofs this node holds: they spread like roster events (protocol.md §2.15).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fork_proofs: Vec<Envelope>,
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
    let me = node.identity();
    let my_id = me.member_id();
    let t = now();
    match command {
        CircleCommand::Create(args) => create(&node, args),
        CircleCommand::Invite {
            out,
            valid_days,
            endpoint,
            force,
        } => {
            refuse_overwrite(&out, force)?;
            let mut c = node.circle(circle, t)?;
            let lifetime = i64::from(valid_days) * 86_400;
            let endpoint = endpoint.or_else(|| node.config().server.public_endpoint.clone());
            let info = match &endpoint {
                Some(url) => join::invite(&node, &mut c, url, lifetime, t)?,
                None => {
                    ops::issue_invite(&mut c, me, &my_id, None, me.tls_spki_pin(), t, lifetime)?
                }
            };
            write_json(&out, &info, force)?;
            println!(
                "Wrote a one-time invite to circle {:?} to {} (valid {valid_days} days).",
                c.roster.name(),
                out.display()
            );
            println!("  It holds the invite token: send it to the candidate only.");
            match &endpoint {
                Some(url) => println!(
                    "  The candidate runs `debrief circle join {}`; it reaches this node at \
                     {url} (keep `debrief serve` running) with TLS pin {}.",
                    out.display(),
                    me.tls_spki_pin()
                ),
                None => println!(
                    "  warning: no endpoint (set server.public_endpoint or pass --endpoint): \
                     the candidate can join only with files (`debrief circle request`)."
                ),
            }
            if !ops::is_sequencer(&c.roster, &my_id) {
                println!(
                    "  note: the join request will wait on this node; the sequencer {} admits \
                     it with the join request file (`circle admit FILE`).",
                    c.roster.sequencer()
                );
            }
            println!(
                "  Read the circle id to the candidate by phone or in person:\n    {}",
                c.roster.circle_id().grouped()
            );
            Ok(())
        }
        CircleCommand::Join { invite, yes, name } => {
            join_command(&node, &invite, yes, name.as_deref())
        }
        CircleCommand::Fetch { from } => fetch_command(&node, circle, from.as_deref()),
        CircleCommand::Request {
            info,
            out,
            accept_charter,
            force,
        } => request(&node, &info, &out, accept_charter, force),
        CircleCommand::Vouch {
            request,
            reason,
            out,
            to,
            valid_days,
            force,
        } => {
            let mut c = node.circle(circle, t)?;
            let lifetime = valid_days.map(|d| i64::from(d) * 86_400);
            let path = Path::new(&request);
            if !path.exists() {
                return vouch_by_id(&node, &mut c, &request, &reason, lifetime, to.as_deref());
            }
            let Some(out) = out else {
                bail!(
                    "pass --out FILE: the vouch for a join request file is written for the \
                     sequencer"
                );
            };
            let request = path.to_owned();
            let file: ops::JoinRequestFile = read_json(&request, "join request file")?;
            let env = ops::vouch(&mut c, me, &my_id, &file, &reason, lifetime, t)
                .with_context(|| format!("{}: no vouch was made", request.display()))?;
            write_envelope(&out, &env, force)?;
            println!(
                "Vouched for join request {} in circle {:?}; wrote the vouch to {}",
                file.join_request.id(),
                c.roster.name(),
                out.display()
            );
            Ok(())
        }
        CircleCommand::Admit { request, vouches } => {
            let mut c = node.circle(circle, t)?;
            let path = Path::new(&request);
            let event = if path.exists() {
                let file: ops::JoinRequestFile = read_json(path, "join request file")?;
                let vouches = read_envelopes(&vouches)?;
                ops::admit(&mut c, me, &my_id, &file, &vouches, t).with_context(|| {
                    format!("{}: not admitted; nothing was stored", path.display())
                })?
            } else {
                if !vouches.is_empty() {
                    bail!(
                        "{request:?} is not a file; a pending join request is admitted on the \
                         vouches pending on this node (drop --vouch, or give the join request \
                         file)"
                    );
                }
                ops::admit_pending(&mut c, me, &my_id, &request, t).with_context(|| {
                    format!("join request {request}: not admitted; nothing was stored")
                })?
            };
            println!(
                "Roster event {}: {}",
                event.seq,
                ops::describe_event(&c.roster, &event)
            );
            println!(
                "The new member completes its join with `debrief circle fetch` (while this node \
                 serves), or import the roster log (`debrief circle export FILE`)."
            );
            Ok(())
        }
        CircleCommand::Remove {
            member,
            reason,
            out,
        } => {
            let mut c = node.circle(circle, t)?;
            let id = ops::resolve_member(&c.roster, &member)?;
            let action = QuorumAction::Remove { member: id, reason };
            proposal_made(&mut c, &node, action, &out)
        }
        CircleCommand::Role { member, role, out } => {
            let mut c = node.circle(circle, t)?;
            let id = ops::resolve_member(&c.roster, &member)?;
            let action = QuorumAction::SetRole {
                member: id,
                maintainer: role == "maintainer",
            };
            proposal_made(&mut c, &node, action, &out)
        }
        CircleCommand::Policy { policy, out } => {
            let mut c = node.circle(circle, t)?;
            let new = policy.apply(c.roster.policy().clone());
            if &new == c.roster.policy() {
                bail!("the policy would not change; pass at least one flag with a new value");
            }
            new.check(c.roster.head_seq() + 1)?;
            proposal_made(
                &mut c,
                &node,
                QuorumAction::ChangePolicy { policy: new },
                &out,
            )
        }
        CircleCommand::Sequencer {
            member,
            resolves,
            out,
        } => {
            let mut c = node.circle(circle, t)?;
            let id = ops::resolve_member(&c.roster, &member)?;
            let resolves = match resolves {
                None => None,
                Some(prefix) => {
                    let proof = c
                        .roster
                        .unresolved_forks()
                        .iter()
                        .find(|f| f.id().to_hex().starts_with(&prefix.to_ascii_lowercase()))
                        .cloned()
                        .with_context(|| {
                            format!("no unresolved fork proof starts with {prefix:?}")
                        })?;
                    Some(Box::new(proof))
                }
            };
            let action = QuorumAction::SetSequencer {
                member: id,
                resolves,
            };
            proposal_made(&mut c, &node, action, &out)
        }
        CircleCommand::ReplaceKeys { member, card, out } => {
            let mut c = node.circle(circle, t)?;
            let id = ops::resolve_member(&c.roster, &member)?;
            let card = read_envelope(&card)?;
            let action = QuorumAction::ReplaceKeys { member: id, card };
            proposal_made(&mut c, &node, action, &out)
        }
        CircleCommand::Cosign { proposal, out } => {
            let mut c = node.circle(circle, t)?;
            let env = proposal_arg(&c, &proposal)?;
            let (env, status) = ops::cosign(&mut c, me, &my_id, env, t)?;
            print_proposal(&env, &status);
            write_out(&out, &env)?;
            Ok(())
        }
        CircleCommand::Apply { object, vouches } => {
            let mut c = node.circle(circle, t)?;
            let env = proposal_arg(&c, &object)?;
            let event = if env.payload_type() == PayloadType::MemberRequest.media_type() {
                ops::apply_member_request(&mut c, me, &my_id, &env, t)
            } else {
                let vouches = read_envelopes(&vouches)?;
                ops::apply_proposal(&mut c, me, &my_id, &env, &vouches, t)
            }
            .with_context(|| format!("{object}: not applied; nothing was stored"))?;
            println!(
                "Roster event {}: {}",
                event.seq,
                ops::describe_event(&c.roster, &event)
            );
            Ok(())
        }
        CircleCommand::Pending { remote, from } => {
            let c = node.circle(circle, t)?;
            if remote {
                pending_remote(&node, &c, from.as_deref())
            } else {
                pending(&c)
            }
        }
        CircleCommand::Leave { out } => {
            let change = MemberChange::Leave {
                chain_tip: TipStatement::EMPTY,
            };
            member_change(&node, circle, change, &out)
        }
        CircleCommand::Endpoint { url, none, out } => {
            if url.is_none() && !none {
                bail!("give the endpoint URL, or --none to clear it");
            }
            let change = MemberChange::SetEndpoint {
                endpoint: url,
                tls_spki_sha256: me.tls_spki_pin(),
            };
            member_change(&node, circle, change, &out)
        }
        CircleCommand::Profile {
            industry,
            size_band,
            region,
            out,
        } => {
            let change = MemberChange::SetProfile {
                profile: OrgProfile {
                    industry,
                    size_band,
                    region,
                },
            };
            member_change(&node, circle, change, &out)
        }
        CircleCommand::DenyTerms { terms, out } => {
            member_change(&node, circle, MemberChange::SetDenyTerms { terms }, &out)
        }
        CircleCommand::Checkpoint => {
            let mut c = node.circle(circle, t)?;
            let env = ops::issue_checkpoint(&mut c, me, &my_id, t)?;
            println!(
                "Checkpoint {} of circle {:?} at seq {} (head {})",
                env.id(),
                c.roster.name(),
                c.roster.head_seq(),
                c.roster.head_id()
            );
            Ok(())
        }
        CircleCommand::Export { file, force } => {
            let mut c = node.circle(circle, t)?;
            // The sequencer's export carries a checkpoint of the head, so the nodes that import
            // it can confirm their roster is fresh (protocol.md §2.14).
            if ops::is_sequencer(&c.roster, &my_id)
                && c.roster.unresolved_forks().is_empty()
                && ops::checkpoint_needed(&c, t)?
            {
                ops::issue_checkpoint(&mut c, me, &my_id, t)?;
            }
            export(&c, &file, force)
        }
        CircleCommand::Import { file, name } => import(&node, circle, &file, name),
        CircleCommand::Status => status(&node, &node.circle(circle, t)?),
        CircleCommand::Log { json } => log(&node.circle(circle, t)?, json),
    }
}

/// Reads a JSON file, naming it in every error.
fn read_json<T: serde::de::DeserializeOwned>(file: &Path, what: &str) -> anyhow::Result<T> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a valid {what}", file.display()))
}

fn read_envelope(file: &Path) -> anyhow::Result<Envelope> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    Envelope::from_json(&bytes)
        .with_context(|| format!("{} is not a signed envelope", file.display()))
}

fn read_envelopes(files: &[PathBuf]) -> anyhow::Result<Vec<Envelope>> {
    files.iter().map(|f| read_envelope(f)).collect()
}

fn refuse_overwrite(file: &Path, force: bool) -> anyhow::Result<()> {
    if !force && std::fs::symlink_metadata(file).is_ok() {
        bail!("{} exists; pass --force to overwrite it", file.display());
    }
    Ok(())
}

fn write_json<T: Serialize>(file: &Path, value: &T, force: bool) -> anyhow::Result<()> {
    refuse_overwrite(file, force)?;
    let mut text = serde_json::to_vec_pretty(value)?;
    text.push(b'\n');
    std::fs::write(file, text).with_context(|| format!("cannot write {}", file.display()))
}

/// Writes an envelope's exact JSON bytes.
fn write_envelope(file: &Path, env: &Envelope, force: bool) -> anyhow::Result<()> {
    refuse_overwrite(file, force)?;
    let mut bytes = env.to_json();
    bytes.push(b'\n');
    std::fs::write(file, bytes).with_context(|| format!("cannot write {}", file.display()))
}

fn write_out(out: &OutArgs, env: &Envelope) -> anyhow::Result<()> {
    if let Some(file) = &out.out {
        write_envelope(file, env, out.force)?;
        println!("  wrote {}", file.display());
    }
    Ok(())
}

/// A proposal or request argument: an existing file, or the id prefix of a stored proposal.
fn proposal_arg(circle: &Circle, arg: &str) -> anyhow::Result<Envelope> {
    let path = Path::new(arg);
    if path.exists() {
        return read_envelope(path);
    }
    Ok(ops::stored_proposal(circle, arg)?)
}

fn print_proposal(env: &Envelope, status: &ops::QuorumStatus) {
    println!("Quorum proposal {}", env.id());
    println!(
        "  signed by {} of the {} maintainer companies needed: {}",
        status.signed_by.len(),
        status.needed,
        status
            .signed_by
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    if status.is_met() {
        println!(
            "  quorum met: the sequencer runs `debrief circle apply {}`",
            env.id()
        );
    } else {
        println!("  other maintainers run `debrief circle cosign` on it");
    }
}

fn proposal_made(
    circle: &mut Circle,
    node: &Node,
    action: QuorumAction,
    out: &OutArgs,
) -> anyhow::Result<()> {
    let me = node.identity();
    let (env, status) = ops::propose(circle, me, &me.member_id(), action, now())?;
    print_proposal(&env, &status);
    write_out(out, &env)
}

fn member_change(
    node: &Node,
    selector: Option<&str>,
    change: MemberChange,
    out: &OutArgs,
) -> anyhow::Result<()> {
    let t = now();
    let mut c = node.circle(selector, t)?;
    let me = node.identity();
    let my_id = me.member_id();
    if !ops::is_sequencer(&c.roster, &my_id) && out.out.is_none() {
        bail!(
            "this node does not sequence circle {:?}: pass --out FILE and send the request to \
             the sequencer {} (it runs `debrief circle apply FILE`)",
            c.roster.name(),
            c.roster.sequencer()
        );
    }
    match ops::request_change(&mut c, me, &my_id, change, t)? {
        ops::Submitted::Applied(event) => println!(
            "Roster event {}: {}",
            event.seq,
            ops::describe_event(&c.roster, &event)
        ),
        ops::Submitted::Pending(env) => {
            println!(
                "Member request {} signed; the sequencer {} applies it.",
                env.id(),
                c.roster.sequencer()
            );
            write_out(out, &env)?;
        }
    }
    Ok(())
}

fn request(
    node: &Node,
    info_file: &Path,
    out: &Path,
    accept: bool,
    force: bool,
) -> anyhow::Result<()> {
    let t = now();
    let info: ops::CircleInfo = read_json(info_file, "circle info file")?;
    let roster = ops::check_circle_info(&info, t)
        .with_context(|| format!("{}: refused", info_file.display()))?;
    println!("Circle {:?}", roster.name());
    println!("  circle id: {}", roster.circle_id().grouped());
    println!("  (confirm this id with the maintainer out of band)");
    println!(
        "  members: {}",
        roster
            .members()
            .map(|m| m.org.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("--- charter ---");
    println!("{}", roster.charter());
    println!("--- end of charter ---");
    if !accept {
        use std::io::{BufRead, Write};
        print!("Accept the charter? Type 'yes': ");
        std::io::stdout().flush()?;
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        if line.trim() != "yes" {
            bail!("the charter was not accepted; no join request was made");
        }
    }
    let card = node.signed_card(t)?;
    let file =
        ops::make_join_request(&info, card, node.rotation_statements()?, node.identity(), t)?;
    write_json(out, &file, force)?;
    println!(
        "Wrote join request {} to {}; sponsors vouch for it with `debrief circle vouch`.",
        file.join_request.id(),
        out.display()
    );
    Ok(())
}

/// One line per join request, with its §2.7 vouch count and what to do next.
fn print_admissions(admissions: &[ops::PendingAdmission], here: bool) {
    for a in admissions {
        println!(
            "  join request {} from {} ({}): {} of {} vouches from distinct member companies",
            a.join_request,
            a.org,
            a.candidate,
            a.vouches.counted.len(),
            a.vouches.needed
        );
        for why in &a.vouches.refused {
            println!("    not counted: {why}");
        }
        if !a.invite_held {
            println!(
                "    this node holds no record of the invite it answers (issued on another \
                 node, or revoked): admit it with the join request file"
            );
        } else if a.vouches.is_met() {
            if here {
                println!(
                    "    threshold met: the sequencer runs `debrief circle admit {}`",
                    a.join_request
                );
            } else {
                println!("    threshold met: the sequencer can admit it");
            }
        } else {
            println!(
                "    sponsors run `debrief circle vouch {} --reason TEXT`",
                &a.join_request.to_hex()[..16]
            );
        }
    }
}

fn pending(circle: &Circle) -> anyhow::Result<()> {
    println!("Circle {:?}: pending", circle.roster.name());
    print_admissions(&ops::pending_admissions(circle, now())?, true);
    for r in circle.store.pending(PendingKind::MemberRequest, None)? {
        println!("  member request {}", r.envelope.id());
    }
    for p in circle.store.proposals()? {
        let status = ops::quorum_status(&circle.roster, &p);
        match (ops::read_proposal(&p), status) {
            (Ok(prop), Ok(st)) => println!(
                "  proposal {} ({}): {}/{} maintainer companies",
                p.id(),
                prop.action.event_kind(),
                st.signed_by.len(),
                st.needed
            ),
            (_, Err(e)) | (Err(e), _) => println!("  proposal {}: {e}", p.id()),
        }
    }
    Ok(())
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
    let policy = args.policy.apply(Policy::default());
    let circle = node.create_circle(&args.name, &charter, policy, cards, now())?;
    println!("Created circle {:?}", circle.roster.name());
    println!("  circle id: {}", circle.roster.circle_id().grouped());
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
        checkpoints: circle.store.checkpoints()?,
        fork_proofs: circle.store.fork_proofs()?,
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
            let outcome = ops::import_log(
                &mut circle,
                &log.events,
                &log.checkpoints,
                &log.fork_proofs,
                node.identity(),
                t,
            )
            .with_context(|| format!("{}: nothing was stored", file.display()))?;
            match outcome {
                ops::ImportOutcome::Extended { added } => println!(
                    "Circle {:?}: {added} new roster events, head is now seq {}",
                    circle.roster.name(),
                    circle.roster.head_seq()
                ),
                ops::ImportOutcome::Forked { seq, proof_id } => bail!(
                    "{}: the sequencer of circle {:?} signed two different roster events (or \
                     checkpoints) for seq {seq}. Stored only the fork proof {proof_id}; the \
                     circle is FROZEN: nothing is shared in it until a maintainer quorum appoints \
                     a new sequencer (`debrief circle sequencer MEMBER --resolves {}`)",
                    file.display(),
                    circle.roster.name(),
                    &proof_id[..16]
                ),
            }
        }
    }
    Ok(())
}

fn status(node: &Node, circle: &Circle) -> anyhow::Result<()> {
    let r = &circle.roster;
    let t = now();
    println!("Circle {:?}", r.name());
    println!("  circle id: {}", r.circle_id().grouped());
    println!(
        "  head: seq {} ({}) at {}",
        r.head_seq(),
        r.head_id(),
        r.head_at()
    );
    println!("  sequencer: {}", r.sequencer());
    let p = r.policy();
    println!(
        "  policy: {} vouches, maintainer quorum {}, max roster age {} h",
        p.vouches,
        p.maintainer_quorum,
        p.max_roster_age_secs / 3600
    );
    match circle.store.latest_checkpoint()? {
        Some((seq, at, expires)) => println!(
            "  checkpoint: seq {seq}, signed {} s ago, expires {expires}",
            t.unix().saturating_sub(at.unix())
        ),
        None => println!("  checkpoint: none"),
    }
    match circle.fresh_as_of(&node.identity().member_id(), t)? {
        Some(at) if r.is_fresh(at, t) => println!("  fresh: yes (confirmed at {at})"),
        Some(at) => println!("  fresh: NO (last confirmed at {at})"),
        None => println!("  fresh: NO (no checkpoint or head comparison for this head)"),
    }
    let forks = r.unresolved_forks();
    if forks.is_empty() {
        println!("  frozen: no");
    } else {
        println!("  frozen: YES: the sequencer equivocated; nothing is shared in this circle");
        for f in forks {
            println!(
                "    fork proof {} at seq {}: {} vs {}",
                f.id(),
                f.seq,
                f.first.id(),
                f.second.id()
            );
        }
    }
    print_members(circle);
    if let Some(warning) = r.single_maintainer_warning() {
        println!("warning: {warning}");
    }
    Ok(())
}

fn log(circle: &Circle, json: bool) -> anyhow::Result<()> {
    let r = &circle.roster;
    if json {
        let rows: Vec<serde_json::Value> = r
            .events()
            .iter()
            .map(|e| {
                serde_json::json!({
                    "seq": e.seq,
                    "id": e.id.to_hex(),
                    "at": e.at.to_string(),
                    "kind": e.kind,
                    "summary": ops::describe_event(r, e),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    for e in r.events() {
        println!(
            "{:>4}  {}  {:<18} {}  {}",
            e.seq,
            e.at,
            e.kind,
            &e.id.to_hex()[..12],
            ops::describe_event(r, e)
        );
    }
    Ok(())
}

fn print_members(circle: &Circle) {
    let r = &circle.roster;
    let mut members: Vec<_> = r.members().collect();
    members.sort_by_key(|m| m.org.to_lowercase());
    println!("  members ({}):", members.len());
    for m in members {
        let roles: Vec<String> = r
            .roles(&m.id)
            .iter()
            .map(|x| format!("{x:?}").to_lowercase())
            .collect();
        println!(
            "    {:<24} {}  [{}]  {}",
            m.org,
            m.id,
            roles.join(", "),
            m.endpoint.as_deref().unwrap_or("(no endpoint)")
        );
    }
}

/// A MEMBER argument for `--from`/`--to` as a peer address (default: the sequencer).
fn peer_arg(circle: &Circle, member: Option<&str>) -> anyhow::Result<join::PeerAddr> {
    Ok(match member {
        Some(m) => {
            let id = ops::resolve_member(&circle.roster, m)?;
            join::PeerAddr::of_member(&circle.roster, &id)?
        }
        None => join::PeerAddr::sequencer(&circle.roster)?,
    })
}

/// A runtime for one network command.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn ask_yes(question: &str) -> anyhow::Result<bool> {
    use std::io::{BufRead, Write};
    print!("{question} Type 'yes': ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim() == "yes")
}

fn pending_remote(node: &Node, circle: &Circle, from: Option<&str>) -> anyhow::Result<()> {
    let peer = peer_arg(circle, from)?;
    let t = now();
    let items = runtime()?.block_on(join::remote_pending(node, circle, &peer, t))?;
    println!(
        "Circle {:?}: pending on {} ({})",
        circle.roster.name(),
        peer.member,
        peer.endpoint
    );
    print_admissions(&join::summarize_remote(&circle.roster, &items, t), false);
    let requests = items
        .iter()
        .filter(|i| i.kind == debrief_protocol::wire::PendingKind::MemberRequest)
        .count();
    if requests > 0 {
        println!("  {requests} member request(s) wait for the sequencer");
    }
    Ok(())
}

/// `circle vouch ID`: on this node when it holds the join request (its maintainer received
/// it), else over the network on the node that holds it.
fn vouch_by_id(
    node: &Node,
    circle: &mut Circle,
    id: &str,
    reason: &str,
    lifetime: Option<i64>,
    to: Option<&str>,
) -> anyhow::Result<()> {
    let me = node.identity();
    let t = now();
    if to.is_none()
        && let Ok(file) = ops::pending_join_request(circle, id)
    {
        let env = ops::vouch(circle, me, &me.member_id(), &file, reason, lifetime, t)
            .with_context(|| format!("join request {id}: no vouch was made"))?;
        println!(
            "Vouched for join request {} in circle {:?} (vouch {}, held on this node for the \
             sequencer)",
            file.join_request.id(),
            circle.roster.name(),
            env.id()
        );
        return Ok(());
    }
    let peer = peer_arg(circle, to)?;
    let env = runtime()?
        .block_on(join::vouch_over_network(
            node, circle, &peer, id, reason, lifetime, t,
        ))
        .with_context(|| format!("join request {id}: no vouch was made"))?;
    println!(
        "Vouched for join request {id} in circle {:?}: vouch {} sent to {} ({})",
        circle.roster.name(),
        env.id(),
        peer.member,
        peer.endpoint
    );
    Ok(())
}

fn join_command(node: &Node, file: &Path, yes: bool, name: Option<&str>) -> anyhow::Result<()> {
    let t = now();
    let info: ops::CircleInfo = read_json(file, "invite file")?;
    let roster = join::check_invite(node, &info, t)
        .with_context(|| format!("{}: refused; nothing was sent", file.display()))?;
    let invite: debrief_protocol::roster::Invite = info
        .invite
        .unverified_payload()
        .context("the invite is unreadable")?;
    println!("Circle {:?}", roster.name());
    println!(
        "  invited by {} at {} (expires {})",
        invite.maintainer, invite.maintainer_endpoint, invite.expires
    );
    println!("  circle id: {}", info.circle.grouped());
    if !yes
        && !ask_yes(
            "Does this circle id match the one the maintainer read to you by phone or in person?",
        )?
    {
        bail!("the circle id was not confirmed; nothing was sent");
    }
    let rt = runtime()?;
    let charter = rt
        .block_on(join::fetch_charter(&info))
        .context("nothing was sent")?;
    println!("--- charter (fetched from the maintainer; its hash matches the invite) ---");
    println!("{}", charter.charter);
    println!("--- end of charter ---");
    if !yes && !ask_yes("Accept the charter?")? {
        bail!("the charter was not accepted; no join request was made");
    }
    let record = rt
        .block_on(join::send_join_request(node, &info, name, now()))
        .context("the join request was not delivered")?;
    println!(
        "Sent join request {} to {}.",
        record.join_request.id(),
        invite.maintainer_endpoint
    );
    println!(
        "  Sponsors vouch for it (`debrief circle vouch {}`); once the circle admitted you, run \
         `debrief circle fetch`.",
        &record.join_request.id().to_hex()[..16]
    );
    Ok(())
}

fn fetch_command(node: &Node, selector: Option<&str>, from: Option<&str>) -> anyhow::Result<()> {
    let t = now();
    let rt = runtime()?;
    let joining: Vec<join::JoiningRecord> = join::joining(node)?
        .into_iter()
        .filter(|r| selector.is_none_or(|s| r.name == s || r.circle.to_hex().starts_with(s)))
        .collect();
    if !joining.is_empty() {
        if from.is_some() {
            bail!("--from is for circles this node belongs to; a join completes at its maintainer");
        }
        for record in joining {
            match rt.block_on(join::finish_join(node, &record, t))? {
                join::JoinOutcome::Admitted(circle) => {
                    println!(
                        "Joined circle {:?} ({} roster events)",
                        circle.roster.name(),
                        circle.roster.head_seq() + 1
                    );
                    print_members(&circle);
                }
                join::JoinOutcome::NotYetAdmitted => println!(
                    "Circle {:?}: not admitted yet (join request {} waits for vouches and the \
                     sequencer); run `debrief circle fetch` again later",
                    record.name,
                    record.join_request.id()
                ),
            }
        }
        return Ok(());
    }
    let mut circle = node.circle(selector, t)?;
    let peer = peer_arg(&circle, from)?;
    if peer.member == node.identity().member_id() {
        bail!(
            "this node is the one to fetch from (it sequences circle {:?}); pass --from MEMBER \
             to pull from another member's node",
            circle.roster.name()
        );
    }
    let outcome = rt.block_on(join::fetch_roster(node, &mut circle, &peer, t))?;
    match outcome {
        ops::ImportOutcome::Extended { added } => println!(
            "Circle {:?}: {added} new roster events from {}, head is now seq {}",
            circle.roster.name(),
            peer.endpoint,
            circle.roster.head_seq()
        ),
        ops::ImportOutcome::Forked { seq, proof_id } => bail!(
            "the sequencer of circle {:?} signed two different roster events (or checkpoints) \
             for seq {seq}. Stored only the fork proof {proof_id}; the circle is FROZEN",
            circle.roster.name()
        ),
    }
    Ok(())
}
