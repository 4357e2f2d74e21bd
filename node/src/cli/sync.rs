//! `debrief sync [--once]`: pull from every peer of every circle (protocol.md §5), with a
//! progress line per peer on a terminal and plain lines otherwise, then a summary.

use std::io::IsTerminal as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use clap::Args;

use crate::home::Home;
use crate::http::clock::{Clock, SystemClock};
use crate::node::Node;
use crate::sync::{self, PeerReport, SyncEvent, SyncOptions, SyncReport, Syncer};

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// One round, contacting every peer even if it is backed off, then exit. Without it, a
    /// round every `sync.interval` until Ctrl-C.
    #[arg(long)]
    pub once: bool,
    /// Print the reports as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

fn peer_line(p: &PeerReport) -> String {
    let who = format!("{} ({})", p.org, p.endpoint);
    if let Some(until) = &p.backed_off_until {
        return format!("{who}: backed off until {until}");
    }
    let mut line = format!(
        "{who}: {} new, {} already held, {} quarantined, {} links, {} roster events, {} offered",
        p.bundles_new, p.already_held, p.quarantined, p.links_new, p.roster_events, p.offered
    );
    if p.deferred > 0 {
        line.push_str(&format!(
            ", {} deferred until the roster catches up",
            p.deferred
        ));
    }
    if p.head_agrees == Some(false) {
        line.push_str(", roster heads differ");
    }
    if p.frozen {
        line.push_str(", FORK: sharing frozen");
    }
    if let Some(e) = &p.error {
        line.push_str(&format!(", error: {e}"));
    }
    line
}

fn print_summary(reports: &[SyncReport]) {
    for r in reports {
        let (new, held, quarantined, errors) = r.totals();
        println!(
            "circle {} ({}): {new} new, {held} already held, {quarantined} quarantined, {errors} \
             peer errors{}",
            r.name,
            &r.circle[..12],
            if r.frozen {
                ", sharing FROZEN (fork)"
            } else {
                ""
            }
        );
        for p in &r.peers {
            println!("  {}", peer_line(p));
        }
        if r.missing_fetched > 0 {
            println!(
                "  {} missing bundles fetched after the round",
                r.missing_fetched
            );
        }
        for (author, from, to) in &r.gaps {
            println!("  chain gap: author {author} seqs {from}..={to} (no peer had them)");
        }
    }
}

/// A progress display: a spinner per peer on a terminal, plain lines otherwise.
fn progress_hook() -> sync::ProgressHook {
    if std::io::stderr().is_terminal() {
        let multi = indicatif::MultiProgress::new();
        let bars: Mutex<std::collections::BTreeMap<String, indicatif::ProgressBar>> =
            Mutex::new(Default::default());
        Arc::new(move |event| {
            let mut bars = bars.lock().unwrap_or_else(|p| p.into_inner());
            match event {
                SyncEvent::PeerStarted { circle, peer } => {
                    let bar = multi.add(indicatif::ProgressBar::new_spinner());
                    bar.set_message(format!("{circle}: {} ({})…", peer.org, peer.endpoint));
                    bar.enable_steady_tick(std::time::Duration::from_millis(120));
                    bars.insert(format!("{circle}/{}", peer.member), bar);
                }
                SyncEvent::PeerDone { circle, report } => {
                    if let Some(bar) = bars.remove(&format!("{circle}/{}", report.peer)) {
                        bar.finish_with_message(format!("{circle}: {}", peer_line(&report)));
                    }
                }
            }
        })
    } else {
        Arc::new(|event| match event {
            SyncEvent::PeerStarted { circle, peer } => {
                eprintln!("{circle}: syncing with {} ({})", peer.org, peer.endpoint);
            }
            SyncEvent::PeerDone { circle, report } => {
                eprintln!("{circle}: {}", peer_line(&report));
            }
        })
    }
}

pub fn run(
    home: Option<&Path>,
    selector: Option<&str>,
    args: SyncArgs,
) -> anyhow::Result<ExitCode> {
    let node = Node::open(Home::resolve(home)?)?;
    let config = node.config().clone();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let options = SyncOptions {
        ignore_backoff: args.once,
        ..SyncOptions::from_config(&config.sync)
    };
    let (syncer, _node) = Syncer::for_node(node, selector, Arc::clone(&clock), options)?;
    let syncer = if args.json {
        syncer
    } else {
        syncer.with_progress(progress_hook())
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        loop {
            let reports = sync::sync_all_once(&syncer, Arc::clone(&clock)).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&reports)?);
            } else {
                print_summary(&reports);
            }
            if args.once {
                let failed = reports
                    .iter()
                    .any(|r| r.peers.iter().any(|p| p.error.is_some()));
                return Ok(if failed {
                    ExitCode::from(1)
                } else {
                    ExitCode::SUCCESS
                });
            }
            tokio::select! {
                () = tokio::time::sleep(config.sync.interval) => {}
                r = tokio::signal::ctrl_c() => {
                    r.context("cannot listen for Ctrl-C")?;
                    return Ok(ExitCode::SUCCESS);
                }
            }
        }
    })
}
