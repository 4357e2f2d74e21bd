//! `debrief verify FILE_OR_DIR [--genesis ID] [--entry SEQ] [--claim FILE]`: checks a copy of a
//! circle's public log (protocol.md §7.5–§7.10) and says exactly what was and was not verified.
//!
//! Exit codes: 0 everything asked for verified; 1 refused, or something that matters could not
//! be verified (no pinned genesis, no fresh checkpoint, a retracted entry, a failed claim);
//! 2 the arguments could not be used at all (no such path).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::Args;
use debrief_protocol::Timestamp;
use debrief_protocol::envelope::Envelope;
use debrief_protocol::ids::EnvelopeId;
use debrief_protocol::publog::layout::{self, KeysFile};
use debrief_protocol::publog::{EntryStatus, Freshness, VerifiedLog, check_claim, verify_log};

/// Largest file of a published log that `verify` reads (an entry holds one report).
const MAX_LOG_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Arguments of `debrief verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A published log directory (genesis.json, entries/, checkpoint.json, keys.json), or one
    /// entry file inside one (DIR/entries/000003.json), which also selects that entry.
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
}

/// A log read from disk, not yet verified.
struct LogCopy {
    dir: PathBuf,
    genesis: Envelope,
    entries: Vec<Envelope>,
    checkpoint: Option<Envelope>,
    keys: Option<KeysFile>,
}

pub fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    if !args.path.exists() {
        bail!("{}: no such file or directory", args.path.display());
    }
    let pinned: Option<EnvelopeId> = match &args.genesis {
        Some(text) => Some(
            text.trim()
                .parse()
                .with_context(|| "--genesis takes the 64-hex-character genesis id")?,
        ),
        None => None,
    };
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
    let outcome = check(&copy, pinned, entry, args.claim.as_deref(), now);
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

fn read_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    let meta = fs::metadata(path).with_context(|| format!("{}", path.display()))?;
    if meta.len() > MAX_LOG_FILE_BYTES {
        bail!(
            "{}: {} bytes is more than the limit of {MAX_LOG_FILE_BYTES}",
            path.display(),
            meta.len()
        );
    }
    fs::read(path).with_context(|| format!("{}", path.display()))
}

fn read_envelope(path: &Path) -> anyhow::Result<Envelope> {
    let bytes = read_file(path)?;
    Envelope::from_json(&bytes).with_context(|| format!("{}", path.display()))
}

/// Reads the layout of protocol.md §7.10; refuses gaps and stray files in `entries/`.
fn read_log(dir: &Path) -> anyhow::Result<LogCopy> {
    let genesis = read_envelope(&dir.join(layout::GENESIS_FILE))?;
    let entries_dir = dir.join(layout::ENTRIES_DIR);
    let mut seqs = Vec::new();
    if entries_dir.exists() {
        for item in
            fs::read_dir(&entries_dir).with_context(|| format!("{}", entries_dir.display()))?
        {
            let item = item.with_context(|| format!("{}", entries_dir.display()))?;
            let name = item.file_name();
            let Some(seq) = name.to_str().and_then(layout::parse_entry_file_name) else {
                bail!(
                    "{}: not an entry file name (expected NNNNNN.json, e.g. {})",
                    item.path().display(),
                    layout::entry_file_name(1)
                );
            };
            seqs.push(seq);
        }
    }
    seqs.sort_unstable();
    let mut entries = Vec::with_capacity(seqs.len());
    for (i, seq) in seqs.iter().enumerate() {
        let expected = i as u64 + 1;
        if *seq != expected {
            bail!(
                "{}: entry {expected} is missing (the entries must run 1, 2, 3, ... without gaps)",
                entries_dir
                    .join(layout::entry_file_name(expected))
                    .display()
            );
        }
        entries.push(read_envelope(&dir.join(layout::entry_path(*seq)))?);
    }
    let cp_path = dir.join(layout::CHECKPOINT_FILE);
    let checkpoint = if cp_path.exists() {
        Some(read_envelope(&cp_path)?)
    } else {
        None
    };
    let keys_path = dir.join(layout::KEYS_FILE);
    let keys = if keys_path.exists() {
        let bytes = read_file(&keys_path)?;
        Some(
            serde_json::from_slice::<KeysFile>(&bytes)
                .with_context(|| format!("{}", keys_path.display()))?,
        )
    } else {
        None
    };
    Ok(LogCopy {
        dir: dir.to_path_buf(),
        genesis,
        entries,
        checkpoint,
        keys,
    })
}

/// Verifies and prints; returns the exit code.
fn check(
    copy: &LogCopy,
    pinned: Option<EnvelopeId>,
    entry: Option<u64>,
    claim: Option<&Path>,
    now: Timestamp,
) -> ExitCode {
    let own_id = copy.genesis.id();
    let pin = pinned.unwrap_or(own_id);
    println!("log copy: {}", copy.dir.display());
    let log = match verify_log(&pin, &copy.genesis, &copy.entries) {
        Ok(log) => log,
        Err(e) => {
            println!("REFUSED: {e}");
            return ExitCode::from(1);
        }
    };
    let mut ok = true;
    let mut extra_verified = Vec::new();
    let mut extra_not = Vec::new();
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
        match read_envelope(path)
            .map_err(|e| format!("{e:#}"))
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
