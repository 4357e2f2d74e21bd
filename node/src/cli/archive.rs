//! `debrief archive build | serve | demo-log | yearly` (docs/archive.md).

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use debrief_protocol::Timestamp;
use debrief_protocol::ids::EnvelopeId;

use crate::archive::serve::{ArchiveServer, FeedbackOptions};
use crate::archive::{self, BuildOptions, DemoOptions, SiteOptions, logdir};

/// Build, serve or demo the public archive.
#[derive(Debug, Subcommand)]
pub enum ArchiveCommand {
    /// Verify a circle's public log and write the static archive site from it.
    Build(BuildArgs),
    /// Serve a built site over HTTP, with server-side search at /api/search?q=WORDS.
    Serve(ServeArgs),
    /// Publish the fixture reports (and optionally seeded synthetic ones) to a new demo log.
    DemoLog(DemoArgs),
    /// Add the public yearly report for a year to a site (HTML page and Markdown), rebuilding
    /// the site from its verified log.
    Yearly(YearlyArgs),
}

#[derive(Debug, Args)]
pub struct YearlyArgs {
    /// The year to report on (by the quarter the incident started), compared with the year
    /// before.
    #[arg(long, value_name = "YYYY")]
    pub year: i32,
    /// The published log to draw from; default: the copy inside the site (`SITE_DIR/log`),
    /// verified again.
    #[arg(long, value_name = "DIR")]
    pub log: Option<PathBuf>,
    /// The site to add the report to (an existing build, or a new directory).
    #[arg(long, value_name = "SITE_DIR")]
    pub out: PathBuf,
    /// The log's genesis id as the circle published it.
    #[arg(long, value_name = "ID")]
    pub genesis: Option<String>,
    /// Absolute URL the site is served from (as given to `archive build`).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The published log: a directory (genesis.json, entries/, checkpoint.json, keys.json) or
    /// an http(s) URL of one (mirrored to a temporary directory, then verified the same way).
    #[arg(long, value_name = "DIR_OR_URL")]
    pub log: String,
    /// Where to write the site (created if missing; an existing site is updated in place).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The log's genesis id as the circle published it; refuses a log with another genesis.
    #[arg(long, value_name = "ID")]
    pub genesis: Option<String>,
    /// Absolute URL the site will be served from, for absolute links in the feeds.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Never draw a progress bar (it is drawn only when stderr is a terminal anyway).
    #[arg(long)]
    pub no_progress: bool,
    /// Also add the public yearly report for this year (repeatable); years added by earlier
    /// builds are kept and recomputed.
    #[arg(long, value_name = "YYYY")]
    pub yearly: Vec<i32>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The built site.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Address to listen on (plain HTTP; put a TLS proxy in front for the public).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Where to keep the FTS5 search index (rebuilt at start). Default: a file in the
    /// system's temporary directory, removed when the server stops.
    #[arg(long, value_name = "FILE")]
    pub index: Option<PathBuf>,
    /// The SQLite file reader feedback is stored in (created if missing). Default:
    /// `feedback.sqlite` beside `--index` when given, else `DIR.feedback.sqlite` next to the
    /// site directory (never inside it, so it is never served).
    #[arg(long, value_name = "FILE")]
    pub feedback_db: Option<PathBuf>,
    /// At most this many feedback submissions per client address per `--feedback-window`.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub feedback_limit: usize,
    /// The rate limiter's window, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub feedback_window: u64,
    /// Take the client address for the rate limiter from this header (e.g. X-Real-IP), set by
    /// the reverse proxy in front; only use behind a proxy that overwrites it.
    #[arg(long, value_name = "HEADER")]
    pub client_ip_header: Option<String>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to write the published log (must not exist or be empty).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Directory of report fixtures to publish (every *.md in it, sorted by name).
    #[arg(long, value_name = "DIR", default_value = "tests/fixtures/valid")]
    pub fixtures: PathBuf,
    /// How many synthetic reports to add.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub synthetic: usize,
    /// Seed for keys, salts and synthetic reports.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Issue time of the checkpoint (RFC 3339, UTC); default now. The checkpoint stays valid
    /// for 7 days after it.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
}

fn now() -> Timestamp {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    Timestamp::from_unix(secs)
}

pub fn run(cmd: ArchiveCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ArchiveCommand::Build(a) => build(a),
        ArchiveCommand::Serve(a) => serve(a),
        ArchiveCommand::DemoLog(a) => demo(a),
        ArchiveCommand::Yearly(a) => yearly(a),
    }
}

fn parse_genesis(g: Option<&String>) -> anyhow::Result<Option<EnvelopeId>> {
    match g {
        Some(t) => {
            Ok(Some(t.trim().parse().with_context(
                || "--genesis takes the 64-hex-character genesis id",
            )?))
        }
        None => Ok(None),
    }
}

fn parse_base_url(u: Option<String>) -> anyhow::Result<Option<String>> {
    Ok(match u {
        Some(u) if !(u.starts_with("https://") || u.starts_with("http://")) => {
            bail!("--base-url must be an absolute http(s) URL, got {u:?}")
        }
        Some(u) if !u.ends_with('/') => Some(format!("{u}/")),
        other => other,
    })
}

fn yearly(a: YearlyArgs) -> anyhow::Result<ExitCode> {
    if !(1971..=9999).contains(&a.year) {
        bail!("--year {} is outside 1971–9999", a.year);
    }
    let genesis = parse_genesis(a.genesis.as_ref())?;
    let base_url = parse_base_url(a.base_url)?;
    let log_dir = a
        .log
        .clone()
        .unwrap_or_else(|| a.out.join(archive::build::LOG_DIR));
    if !log_dir.is_dir() {
        bail!(
            "{}: no log there; give the published log with --log DIR",
            log_dir.display()
        );
    }
    let opts = BuildOptions {
        log_dir,
        out_dir: a.out.clone(),
        genesis,
        site: SiteOptions { base_url },
        progress: false,
        now: now(),
        yearly: vec![a.year],
    };
    let s = match archive::build(&opts) {
        Ok(s) => s,
        Err(e @ (archive::ArchiveError::Verify(_) | archive::ArchiveError::Log(_))) => {
            println!("REFUSED: {e}");
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    let site = &a.out;
    println!(
        "yearly report {} in {}: {} (Markdown: {})",
        a.year,
        site.display(),
        site.join(format!("yearly/{}/index.html", a.year)).display(),
        site.join(format!("yearly/{}/report.md", a.year)).display()
    );
    println!(
        "archive of log {} ({} reports); files: {} written, {} unchanged, {} removed",
        s.log_id, s.reports, s.written, s.unchanged, s.removed
    );
    Ok(ExitCode::SUCCESS)
}

fn build(a: BuildArgs) -> anyhow::Result<ExitCode> {
    let genesis: Option<EnvelopeId> = match &a.genesis {
        Some(t) => Some(
            t.trim()
                .parse()
                .with_context(|| "--genesis takes the 64-hex-character genesis id")?,
        ),
        None => None,
    };
    let base_url = match a.base_url {
        Some(u) if !(u.starts_with("https://") || u.starts_with("http://")) => {
            bail!("--base-url must be an absolute http(s) URL, got {u:?}")
        }
        Some(u) if !u.ends_with('/') => Some(format!("{u}/")),
        other => other,
    };
    // A URL is mirrored first; the copy is verified like any other (docs/archive.md).
    let mut mirror = None;
    let log_dir = if a.log.starts_with("https://") || a.log.starts_with("http://") {
        let mut url = reqwest::Url::parse(&a.log).with_context(|| format!("--log {}", a.log))?;
        if !url.path().ends_with('/') {
            url.set_path(&format!("{}/", url.path()));
        }
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!(
            "debrief-archive-log-{}-{nanos}",
            std::process::id()
        ));
        mirror = Some(dir.clone());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let fetched = rt.block_on(async {
            let client = archive::fetch::public_client()?;
            archive::fetch::fetch_log(&client, &url, &dir).await
        });
        match fetched {
            Ok(n) => println!("mirrored {n} entries from {url}"),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                println!("REFUSED: {e}");
                return Ok(ExitCode::from(1));
            }
        }
        dir
    } else {
        PathBuf::from(&a.log)
    };
    let opts = BuildOptions {
        log_dir,
        out_dir: a.out.clone(),
        genesis,
        site: SiteOptions { base_url },
        progress: !a.no_progress,
        now: now(),
        yearly: a.yearly.clone(),
    };
    let built = archive::build(&opts);
    if let Some(dir) = mirror {
        let _ = std::fs::remove_dir_all(dir);
    }
    let s = match built {
        Ok(s) => s,
        Err(e @ (archive::ArchiveError::Verify(_) | archive::ArchiveError::Log(_))) => {
            println!("REFUSED: {e}");
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    println!(
        "archive of log {} ({} entries): {} reports ({} retracted) in {}",
        s.log_id,
        s.head_seq,
        s.reports,
        s.retracted,
        a.out.display()
    );
    println!(
        "report pages: {} rendered, {} unchanged; files: {} written, {} unchanged, {} removed",
        s.pages_rendered, s.pages_skipped, s.written, s.unchanged, s.removed
    );
    if opts.genesis.is_none() {
        println!(
            "note: no --genesis given; the log was checked against its own genesis {}. Compare it with the id the circle published.",
            s.log_id
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn serve(a: ServeArgs) -> anyhow::Result<ExitCode> {
    let (index, temporary) = match a.index {
        Some(p) => (p, false),
        None => {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            (
                std::env::temp_dir().join(format!(
                    "debrief-archive-search-{}-{nanos}.sqlite",
                    std::process::id()
                )),
                true,
            )
        }
    };
    let feedback_db = match (&a.feedback_db, temporary) {
        (Some(p), _) => p.clone(),
        (None, false) => index.parent().map_or_else(
            || PathBuf::from("feedback.sqlite"),
            |d| d.join("feedback.sqlite"),
        ),
        (None, true) => {
            let mut name = a
                .dir
                .canonicalize()
                .with_context(|| format!("{}", a.dir.display()))?
                .into_os_string();
            name.push(".feedback.sqlite");
            PathBuf::from(name)
        }
    };
    if a.feedback_window == 0 {
        bail!("--feedback-window must be at least 1 second");
    }
    let feedback = FeedbackOptions {
        db: feedback_db.clone(),
        per_window: a.feedback_limit,
        window: std::time::Duration::from_secs(a.feedback_window),
        client_ip_header: a.client_ip_header.clone(),
    };
    let (server, n) = ArchiveServer::open(&a.dir, &index, &feedback)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(a.addr)
            .await
            .with_context(|| format!("binding {}", a.addr))?;
        let addr = listener.local_addr().context("local address")?;
        // One line: scripts read the address from the first line of output.
        println!(
            "serving {} at http://{addr}/ ({n} reports searchable; reader feedback stored in {})",
            a.dir.display(),
            feedback_db.display()
        );
        std::io::stdout().flush().ok();
        // Stop cleanly on Ctrl-C or SIGTERM, so the temporary search index is removed.
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        tokio::select! {
            r = archive::serve::run(Arc::new(server), listener) => r.map_err(anyhow::Error::from),
            _ = tokio::signal::ctrl_c() => Ok(()),
            _ = term.recv() => Ok(()),
        }
    });
    if temporary {
        let _ = std::fs::remove_file(&index);
    }
    result.map(|()| ExitCode::SUCCESS)
}

fn demo(a: DemoArgs) -> anyhow::Result<ExitCode> {
    if a.out.exists()
        && std::fs::read_dir(&a.out)
            .with_context(|| format!("{}", a.out.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{}: exists and is not empty; choose a new directory",
            a.out.display()
        );
    }
    let mut names: Vec<PathBuf> = std::fs::read_dir(&a.fixtures)
        .with_context(|| format!("reading fixtures in {}", a.fixtures.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("md"))
        .collect();
    names.sort();
    let mut fixtures = Vec::new();
    for p in names {
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
        fixtures.push((p.display().to_string(), text));
    }
    let now = match &a.now {
        Some(t) => Timestamp::parse(t).map_err(|e| anyhow::anyhow!("--now: {e}"))?,
        None => now(),
    };
    let demo = archive::demo_log(&DemoOptions {
        fixtures,
        synthetic: a.synthetic,
        seed: a.seed,
        now,
    })?;
    logdir::write_log(&a.out, &demo.log, &demo.checkpoint)?;
    println!(
        "demo log {} with {} entries ({} publications) in {}",
        demo.log.genesis_id(),
        demo.log.head_seq(),
        demo.published.len(),
        a.out.display()
    );
    println!("genesis: {}", demo.log.genesis_id());
    Ok(ExitCode::SUCCESS)
}
