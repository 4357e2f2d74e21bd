//! `debrief verify FILE_OR_DIR_OR_URL [--genesis ID] [--entry SEQ] [--claim FILE] [--pin SHA256]`:
//! checks a copy of a circle's public log (protocol.md §7.5–§7.10) and says exactly what was and
//! was not verified.
//!
//! A URL (a node's public routes, protocol.md §4.13, or an archive's `log/` directory) is first
//! mirrored into a temporary directory by the archive's own fetcher
//! ([`crate::archive::fetch::fetch_log`]), then verified exactly as a directory is. The transport
//! is not what makes the copy trustworthy: the signatures chained from the pinned genesis are.
//!
//! Exit codes: 0 everything asked for verified; 1 refused, or something that matters could not
//! be verified (no pinned genesis, no fresh checkpoint, a retracted entry, a failed claim);
//! 2 the arguments could not be used at all (no such path).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::Args;
use debrief_protocol::Timestamp;
use debrief_protocol::envelope::Envelope;
use debrief_protocol::ids::{EnvelopeId, Sha256Digest};
use debrief_protocol::publog::layout::{self, KeysFile};
use debrief_protocol::publog::{EntryStatus, Freshness, VerifiedLog, check_claim, verify_log};

use crate::archive::logdir;
use crate::http::client::{ClientTimeouts, pinned_client};

/// Arguments of `debrief verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A published log directory (genesis.json, entries/, checkpoint.json, keys.json), or one
    /// entry file inside one (DIR/entries/000003.json), which also selects that entry.
    ///
    /// Or an `https://` (or `http://`) URL of a published log: a node's public routes
    /// (`https://HOST:PORT/v1/public/<circle-id>/`) or an archive's `log/` directory. It is
    /// mirrored to a temporary directory, then verified the same way.
    pub path: PathBuf,
    /// The log's genesis id, as the circle published it out of band. Without it nothing ties
    /// the log to the circle, and verify exits 1.
    #[arg(long, value_name = "ID")]
    pub genesis: Option<String>,
    /// Report on this entry: current, superseded by an erratum, or retracted (with reason).
    #[arg(long, value_name = "SEQ")]
    pub entry: Option<u64>,
    /// A provenance claim (from `debrief declassify prove`) to check against the log.
    #[arg(long, value_name = "FILE")]
    pub claim: Option<PathBuf>,
    /// With a URL: accept only the TLS key with this SHA-256 SubjectPublicKeyInfo pin (a node's
    /// self-signed certificate; `debrief id show` prints it, `sha256:` prefix optional). Without it the system's
    /// trusted roots are used, as for an archive behind an ordinary certificate.
    #[arg(long, value_name = "SHA256")]
    pub pin: Option<String>,
}

/// A log read from disk, not yet verified.
struct LogCopy {
    /// Where the copy came from (a directory, or the URL it was mirrored from).
    source: String,
    genesis: Envelope,
    entries: Vec<Envelope>,
    checkpoint: Option<Envelope>,
    keys: Option<KeysFile>,
}

pub fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    if let Some(url) = args
        .path
        .to_str()
        .filter(|p| p.starts_with("https://") || p.starts_with("http://"))
    {
        return run_url(url, &args);
    }
    if args.pin.is_some() {
        bail!("--pin applies only when verifying from an https:// URL");
    }
    if !args.path.exists() {
        bail!("{}: no such file or directory", args.path.display());
    }
    let pinned = pinned_genesis(&args)?;
    let (dir, from_file) = log_dir_of(&args.path)?;
    let entry = args.entry.or(from_file);
    let copy = match read_log(&dir) {
        Ok(c) => c,
        Err(e) => {
            println!("REFUSED: {e:#}");
            return Ok(ExitCode::from(1));
        }
    };
    let now = now();
    let outcome = check(
        &copy,
        pinned,
        entry,
        args.claim.as_deref(),
        now,
        Notes::default(),
    );
    Ok(outcome)
}

fn pinned_genesis(args: &VerifyArgs) -> anyhow::Result<Option<EnvelopeId>> {
    match &args.genesis {
        Some(text) => {
            Ok(Some(text.trim().parse().with_context(
                || "--genesis takes the 64-hex-character genesis id",
            )?))
        }
        None => Ok(None),
    }
}

/// Lines added to the "verified" and "not verified" lists by the caller.
#[derive(Debug, Default)]
struct Notes {
    verified: Vec<String>,
    not_verified: Vec<String>,
}

/// Mirrors the log at `url` with the archive's fetcher, then verifies the copy as a directory
/// (docs/declassification.md "Fetching and verifying").
fn run_url(url: &str, args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let pinned = pinned_genesis(args)?;
    let mut base = reqwest::Url::parse(url).with_context(|| format!("{url}: not a URL"))?;
    if base.path().ends_with(".json") {
        bail!(
            "{url}: give the log's base URL (ending in /, e.g. https://HOST:PORT/v1/public/<circle-id>/), and select an entry with --entry"
        );
    }
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    let tls_pin: Option<Sha256Digest> = match &args.pin {
        Some(text) => {
            if base.scheme() != "https" {
                bail!("--pin needs an https:// URL");
            }
            Some(
                text.trim()
                    .trim_start_matches("sha256:")
                    .parse()
                    .with_context(|| "--pin takes the 64-hex-character SHA-256 TLS key pin")?,
            )
        }
        None => None,
    };
    let mirror = tempfile::Builder::new()
        .prefix("debrief-verify-")
        .tempdir()
        .context("creating a temporary directory for the mirrored log")?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let fetched = rt.block_on(async {
        let client = match tls_pin {
            Some(pin) => pinned_client(pin, ClientTimeouts::default())
                .map_err(|e| crate::archive::ArchiveError::Log(format!("HTTP client: {e}")))?,
            None => crate::archive::fetch::public_client()?,
        };
        crate::archive::fetch::fetch_log(&client, &base, mirror.path()).await
    });
    let entries = match fetched {
        Ok(n) => n,
        Err(e) => {
            println!("REFUSED: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    println!("mirrored {entries} entries from {base}");
    println!(
        "the copy is checked below like any directory: its signatures, chained from the pinned genesis, make it trustworthy, not the server or the transport"
    );
    let mut copy = match read_log(mirror.path()) {
        Ok(c) => c,
        Err(e) => {
            println!("REFUSED: {e:#}");
            return Ok(ExitCode::from(1));
        }
    };
    copy.source = base.to_string();
    let mut notes = Notes::default();
    match tls_pin {
        Some(pin) => notes.verified.push(format!(
            "the copy came over TLS from the server holding the key pinned by --pin {pin}"
        )),
        None if base.scheme() == "https" => notes.not_verified.push(
            "who served the copy: TLS was checked against the system's trusted roots only (use --pin for a node's self-signed key); the signatures above, not the transport, are what make the copy trustworthy".into(),
        ),
        None => notes.not_verified.push(
            "who served the copy: plain http, no transport security; the signatures above, not the transport, are what make the copy trustworthy".into(),
        ),
    }
    notes.not_verified.push(
        "that the server holds no newer entries or checkpoint than it served: a server can withhold; compare the checkpoint's seq and time with other copies".into(),
    );
    let outcome = check(
        &copy,
        pinned,
        args.entry,
        args.claim.as_deref(),
        now(),
        notes,
    );
    Ok(outcome)
}

fn now() -> Timestamp {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    Timestamp::from_unix(secs)
}

/// A directory is the log; a file must be `DIR/entries/NNNNNN.json`.
fn log_dir_of(path: &Path) -> anyhow::Result<(PathBuf, Option<u64>)> {
    if path.is_dir() {
        return Ok((path.to_path_buf(), None));
    }
    let seq = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(layout::parse_entry_file_name);
    let parent = path
        .parent()
        .filter(|p| p.file_name().and_then(|n| n.to_str()) == Some(layout::ENTRIES_DIR));
    match (seq, parent.and_then(Path::parent)) {
        (Some(seq), Some(dir)) => Ok((dir.to_path_buf(), Some(seq))),
        _ => bail!(
            "{}: expected a published log directory, or an entry file inside one (DIR/{})",
            path.display(),
            layout::entry_path(1)
        ),
    }
}

/// Reads the layout of protocol.md §7.10 (the archive's reader: gaps and stray files refused,
/// every file bounded).
fn read_log(dir: &Path) -> anyhow::Result<LogCopy> {
    let files = logdir::read_files(dir)?;
    Ok(LogCopy {
        source: dir.display().to_string(),
        genesis: files.genesis,
        entries: files.entries,
        checkpoint: files.checkpoint,
        keys: files.keys,
    })
}

/// Verifies and prints; returns the exit code.
fn check(
    copy: &LogCopy,
    pinned: Option<EnvelopeId>,
    entry: Option<u64>,
    claim: Option<&Path>,
    now: Timestamp,
    notes: Notes,
) -> ExitCode {
    let own_id = copy.genesis.id();
    let pin = pinned.unwrap_or(own_id);
    println!("log copy: {}", copy.source);
    let log = match verify_log(&pin, &copy.genesis, &copy.entries) {
        Ok(log) => log,
        Err(e) => {
            println!("REFUSED: {e}");
            return ExitCode::from(1);
        }
    };
    let mut ok = true;
    let Notes {
        verified: mut extra_verified,
        not_verified: mut extra_not,
    } = notes;
    if pinned.is_none() {
        ok = false;
        extra_not.push(format!(
            "that this log is the circle's: no --genesis given. This log's genesis id is {own_id}; compare it with the id the circle published, then run again with --genesis"
        ));
    }
    let freshness: Option<Freshness> = match &copy.checkpoint {
        Some(cp) => match log.check_checkpoint(cp, now, None) {
            Ok(f) => Some(f),
            Err(e) => {
                println!("REFUSED: {e}");
                return ExitCode::from(1);
            }
        },
        None => {
            ok = false;
            None
        }
    };
    extra_not.push(
        "rollback to an older checkpoint than one you saw before: verify keeps no memory between runs; compare the checkpoint's seq and time with what you last saw"
            .into(),
    );
    match &copy.keys {
        Some(k) if k.log == log.genesis_id() && k.key_set == *log.current_key_set() => {
            extra_verified.push(format!(
                "{} lists the key set the log itself establishes",
                layout::KEYS_FILE
            ));
        }
        Some(_) => {
            println!(
                "REFUSED: {} does not match the key set the log establishes",
                layout::KEYS_FILE
            );
            return ExitCode::from(1);
        }
        None => {}
    }
    if let Some(seq) = entry {
        match log.status(seq) {
            Ok(EntryStatus::Retracted { .. }) => ok = false,
            Ok(_) => {}
            Err(e) => {
                println!("REFUSED: {e}");
                return ExitCode::from(1);
            }
        }
    }
    if let Some(path) = claim {
        match logdir::read_envelope(path)
            .map_err(|e| e.to_string())
            .and_then(|env| check_claim(&env, &log).map_err(|e| e.to_string()))
        {
            Ok(c) => {
                extra_verified.push(format!(
                    "the holder of attribution key {} made entry {}'s provenance commitment (claim {})",
                    c.claim.attribution_key.key_id(),
                    c.seq,
                    path.display()
                ));
                extra_not.push(format!(
                    "that the attribution key belongs to {:?}: the claimant's name is self-asserted",
                    c.claim.claimant
                ));
            }
            Err(e) => {
                println!("REFUSED claim {}: {e}", path.display());
                ok = false;
            }
        }
    }
    print_summary(&log, freshness.as_ref(), entry, extra_verified, extra_not);
    if ok {
        println!("result: VERIFIED");
        ExitCode::SUCCESS
    } else {
        println!("result: NOT VERIFIED (see above)");
        ExitCode::from(1)
    }
}

fn print_summary(
    log: &VerifiedLog,
    freshness: Option<&Freshness>,
    entry: Option<u64>,
    extra_verified: Vec<String>,
    extra_not: Vec<String>,
) {
    let st = log.statement(freshness, entry);
    println!(
        "log {} of circle {} ({:?}): {} entries",
        log.genesis_id(),
        log.circle(),
        log.genesis().name,
        log.head_seq()
    );
    if let Some(seq) = entry
        && let Some((content, hash)) = log.content(seq)
    {
        println!(
            "entry {seq}: {:?} ({}), content sha256 {hash}",
            content.title, content.slug
        );
    }
    println!("verified:");
    for line in st.verified.iter().chain(&extra_verified) {
        println!("  + {line}");
    }
    println!("not verified:");
    for line in st.not_verified.iter().chain(&extra_not) {
        println!("  - {line}");
    }
}
