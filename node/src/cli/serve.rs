//! `debrief serve`: the HTTPS server for peers and the admin listener (protocol.md §4.7,
//! docs/operations.md "Listeners, monitoring and logs").

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, ValueEnum};

use crate::home::Home;
use crate::http::clock::{Clock, SystemClock};
use crate::http::serve::serve_tls_with;
use crate::node::Node;
use crate::server::{ServerLimits, ServerState, serve_admin};
use crate::sync::{NodeSigner, SyncOptions, Syncer, sync_all_once};
use crate::tls::NodeTlsIdentity;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// HTTPS address for peers (overrides `server.listen`).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Admin address for /healthz and /metrics (overrides `server.admin_listen`).
    #[arg(long, value_name = "ADDR")]
    pub admin: Option<SocketAddr>,
    /// Log format on stderr; the level comes from RUST_LOG (default "info").
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

fn init_logs(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second initialisation (tests driving `run` twice) is harmless: keep the first.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Waits for SIGINT or SIGTERM.
async fn shutdown_signal() -> anyhow::Result<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => { r.context("cannot listen for SIGINT")?; Ok("SIGINT") }
            _ = term.recv() => Ok("SIGTERM"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
            .await
            .context("cannot listen for Ctrl-C")?;
        Ok("Ctrl-C")
    }
}

/// Prints a start-up line. A closed stdout (e.g. piped to `head`) must not take the server down,
/// so write errors are ignored: the same facts are in the logs.
fn announce(line: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

pub fn run(home: Option<&Path>, args: ServeArgs) -> anyhow::Result<()> {
    init_logs(args.log_format);
    let node = Node::open(Home::resolve(home)?)?;
    let config = node.config().clone();
    let listen = args.listen.unwrap_or(config.server.listen);
    let admin = args.admin.or(config.server.admin_listen);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let circles = node.circles(clock.now())?;
    let tls = NodeTlsIdentity::from_seed(&node.identity().tls_seed())
        .context("cannot build the TLS certificate")?;
    let limits = ServerLimits::from_config(&config.limits);
    let state = ServerState::new(node.identity().member_id(), circles, clock, limits)?;
    // protocol.md §4.9.4: bundles PUT to this node that list it are opened and stored.
    state.set_identities(node.identity().age_identities());
    let me = node.identity().member_id();
    let node = Arc::new(std::sync::Mutex::new(node));
    // protocol.md §5: the background sync shares the server's circle handles.
    let syncer = config.sync.enabled.then(|| {
        Syncer::new(
            me,
            Arc::new(NodeSigner(Arc::clone(&node))),
            Arc::clone(&state),
            SyncOptions::from_config(&config.sync),
        )
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        // protocol.md §4.8.7.3: request headers within the idle timeout.
        let header_timeout = state.limits.idle_timeout;
        let server = serve_tls_with(listen, tls.server_config()?, state.router(), header_timeout)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        announce(format_args!("serving https://{}", server.local_addr()));
        if let Some(url) = &config.server.public_endpoint {
            announce(format_args!("public endpoint {url}"));
        }
        announce(format_args!("TLS pin {}", tls.pin()));
        tracing::info!(addr = %server.local_addr(), pin = %tls.pin(), "serving");
        let admin = match admin {
            Some(addr) => {
                let a = serve_admin(addr, &state)
                    .await
                    .with_context(|| format!("cannot listen on {addr} (admin)"))?;
                announce(format_args!("admin http://{} (/healthz, /metrics)", a.local_addr()));
                Some(a)
            }
            None => None,
        };
        // Roster events stored by another process (a CLI import) take effect within seconds.
        let watcher = {
            let state = Arc::clone(&state);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
                loop {
                    tick.tick().await;
                    let s = Arc::clone(&state);
                    match tokio::task::spawn_blocking(move || s.refresh_changed()).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => tracing::error!(error = %e, "cannot reload a roster"),
                        Err(e) => tracing::error!(error = %e, "roster watcher failed"),
                    }
                }
            })
        };
        let sync_loop = syncer.map(|syncer| {
            let clock = Arc::clone(&state.clock);
            let interval = config.sync.interval;
            tracing::info!(every = interval.as_secs(), "background sync on");
            tokio::spawn(async move {
                loop {
                    match sync_all_once(&syncer, Arc::clone(&clock)).await {
                        Ok(reports) => {
                            for r in &reports {
                                let (new, held, quarantined, errors) = r.totals();
                                tracing::info!(circle = %r.circle, new, held, quarantined, errors, frozen = r.frozen, "sync round");
                            }
                        }
                        Err(e) => tracing::error!(error = %e, "sync round failed"),
                    }
                    tokio::time::sleep(interval).await;
                }
            })
        });
        for c in state.circles() {
            tracing::info!(circle = %c.id, name = %c.local_name, "serving circle");
        }
        let signal = shutdown_signal().await?;
        tracing::info!(signal, "shutting down; finishing requests in flight");
        // Requests in flight get up to one request timeout to finish (their store writes run
        // to completion on the blocking pool either way).
        watcher.abort();
        if let Some(task) = sync_loop {
            task.abort();
        }
        server.begin_shutdown(limits.request_timeout);
        if let Some(a) = admin {
            a.shutdown().await.context("admin listener failed")?;
        }
        server.wait().await.context("server failed")?;
        tracing::info!("stopped");
        Ok(())
    })
}
