//! `debrief status`: per circle, the roster head, freshness and fork state; per peer, the last
//! contact, failures (backoff), the peer's roster head and whether it agrees with ours.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use crate::home::Home;
use crate::node::{Node, now};
use crate::sync::{self, state};

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct PeerLine {
    peer: String,
    org: String,
    endpoint: String,
    last_contact: Option<String>,
    last_attempt: Option<String>,
    failures: u32,
    /// Backed off until this time (after failures).
    backed_off_until: Option<String>,
    last_error: Option<String>,
    peer_head_seq: Option<u64>,
    /// Our head seq minus the peer's (negative: the peer is ahead).
    lag: Option<i64>,
    /// Whether the peer's head is the event we hold at that seq.
    head_agrees: Option<bool>,
}

#[derive(Debug, Serialize)]
struct CircleLine {
    circle: String,
    name: String,
    head_seq: u64,
    head: String,
    fresh_as_of: Option<String>,
    frozen: bool,
    peers: Vec<PeerLine>,
}

pub fn run(
    home: Option<&Path>,
    selector: Option<&str>,
    args: StatusArgs,
) -> anyhow::Result<ExitCode> {
    let node = Node::open(Home::resolve(home)?)?;
    let t = now();
    let me = node.identity().member_id();
    let circles = match selector {
        Some(_) => vec![node.circle(selector, t)?],
        None => node.circles(t)?,
    };
    let mut out = Vec::new();
    for c in &circles {
        let statuses = state::peer_statuses(c)?;
        let head_seq = c.roster.head_seq();
        let peers = sync::peers_of(c, &me)
            .into_iter()
            .map(|p| {
                let s = statuses.iter().find(|s| s.peer == p.member.as_str());
                let peer_seq = s.and_then(|s| s.head_seq);
                let agrees = s.and_then(|s| {
                    let ours = c
                        .roster
                        .events()
                        .get(usize::try_from(s.head_seq?).ok()?)
                        .map(|e| e.id.to_hex());
                    Some(ours.as_deref() == s.head_id.as_deref())
                });
                PeerLine {
                    peer: p.member.to_string(),
                    org: p.org,
                    endpoint: p.endpoint,
                    last_contact: s.and_then(|s| s.last_success).map(|t| t.to_string()),
                    last_attempt: s.map(|s| s.last_attempt.to_string()),
                    failures: s.map_or(0, |s| s.failures),
                    backed_off_until: s
                        .filter(|s| s.not_before.unix() > t.unix())
                        .map(|s| s.not_before.to_string()),
                    last_error: s.and_then(|s| s.last_error.clone()),
                    peer_head_seq: peer_seq,
                    lag: peer_seq.map(|p| head_seq as i64 - p as i64),
                    head_agrees: agrees,
                }
            })
            .collect();
        out.push(CircleLine {
            circle: c.roster.circle_id().to_hex(),
            name: c.entry.name.clone(),
            head_seq,
            head: c.roster.head_id().to_hex(),
            fresh_as_of: c.fresh_as_of(&me, t)?.map(|t| t.to_string()),
            frozen: !c.roster.unresolved_forks().is_empty(),
            peers,
        });
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    for c in &out {
        println!(
            "circle {} ({}): roster head seq {}{}, roster confirmed {}",
            c.name,
            &c.circle[..12],
            c.head_seq,
            if c.frozen {
                ", sharing FROZEN (fork)"
            } else {
                ""
            },
            c.fresh_as_of
                .as_deref()
                .unwrap_or("never (sync with a peer)")
        );
        if c.peers.is_empty() {
            println!("  no peers with an endpoint");
        }
        for p in &c.peers {
            let head = match (p.peer_head_seq, p.head_agrees, p.lag) {
                (Some(seq), Some(true), Some(0)) => format!("head seq {seq}, agrees"),
                (Some(seq), Some(true), Some(lag)) => format!("head seq {seq}, lag {lag}"),
                (Some(seq), Some(false), _) => format!("head seq {seq}, DIFFERS from ours"),
                (Some(seq), None, _) => format!("head seq {seq}, ahead of ours"),
                _ => "head unknown".to_owned(),
            };
            println!(
                "  {} ({}): last contact {}, {} failures{}{}; {head}",
                p.org,
                p.endpoint,
                p.last_contact.as_deref().unwrap_or("never"),
                p.failures,
                p.backed_off_until
                    .as_deref()
                    .map(|u| format!(", backed off until {u}"))
                    .unwrap_or_default(),
                p.last_error
                    .as_deref()
                    .map(|e| format!(" (last error: {e})"))
                    .unwrap_or_default(),
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
