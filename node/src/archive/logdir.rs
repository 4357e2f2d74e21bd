//! Reading, verifying and writing a published log directory (protocol.md §7.10 layout).

use std::fs;
use std::path::{Path, PathBuf};

use debrief_protocol::Timestamp;
use debrief_protocol::envelope::Envelope;
use debrief_protocol::ids::EnvelopeId;
use debrief_protocol::publog::layout::{self, KeysFile};
use debrief_protocol::publog::{Freshness, VerifiedLog, verify_log};

use super::ArchiveError;

/// Largest file of a published log that the archive reads (an entry holds one report).
pub const MAX_LOG_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// A log that verified from its genesis, with a checkpoint that is valid now.
#[derive(Debug)]
pub struct CheckedLog {
    pub log: VerifiedLog,
    pub checkpoint: Envelope,
    pub freshness: Freshness,
    /// Whether the genesis was pinned by the caller (`--genesis`) or taken from the copy.
    pub pinned: bool,
}

fn io(path: &Path, source: std::io::Error) -> ArchiveError {
    ArchiveError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads one file of the log; any failure is the log's (refused, not an internal error).
fn read_small(path: &Path) -> Result<Vec<u8>, ArchiveError> {
    let unreadable = |e: std::io::Error| ArchiveError::Log(format!("{}: {e}", path.display()));
    let meta = fs::metadata(path).map_err(unreadable)?;
    if meta.len() > MAX_LOG_FILE_BYTES {
        return Err(ArchiveError::Log(format!(
            "{}: {} bytes is more than the limit of {MAX_LOG_FILE_BYTES}",
            path.display(),
            meta.len()
        )));
    }
    fs::read(path).map_err(unreadable)
}

/// Reads one signed envelope file, bounded by [`MAX_LOG_FILE_BYTES`].
pub fn read_envelope(path: &Path) -> Result<Envelope, ArchiveError> {
    let bytes = read_small(path)?;
    Envelope::from_json(&bytes)
        .map_err(|e| ArchiveError::Log(format!("{}: not a signed envelope: {e}", path.display())))
}

/// The files of a published log as read from disk (protocol.md §7.10), not yet verified.
#[derive(Debug)]
pub struct LogFiles {
    pub genesis: Envelope,
    /// Entries 1, 2, … in order (the reader refuses gaps and stray files).
    pub entries: Vec<Envelope>,
    pub checkpoint: Option<Envelope>,
    pub keys: Option<KeysFile>,
}

/// Reads the layout of protocol.md §7.10 from `dir` without judging it: genesis, entries (refusing
/// gaps and stray files in `entries/`), and the checkpoint and `keys.json` when present. Every
/// file is bounded by [`MAX_LOG_FILE_BYTES`]. The archive and `debrief verify` both read logs here.
pub fn read_files(dir: &Path) -> Result<LogFiles, ArchiveError> {
    if !dir.is_dir() {
        return Err(ArchiveError::Log(format!(
            "{}: not a directory (expected a published log: {}, {}/, {})",
            dir.display(),
            layout::GENESIS_FILE,
            layout::ENTRIES_DIR,
            layout::CHECKPOINT_FILE
        )));
    }
    let genesis = read_envelope(&dir.join(layout::GENESIS_FILE))?;
    let entries_dir = dir.join(layout::ENTRIES_DIR);
    let mut seqs = Vec::new();
    if entries_dir.exists() {
        for item in fs::read_dir(&entries_dir).map_err(|e| io(&entries_dir, e))? {
            let item = item.map_err(|e| io(&entries_dir, e))?;
            let name = item.file_name();
            let Some(seq) = name.to_str().and_then(layout::parse_entry_file_name) else {
                return Err(ArchiveError::Log(format!(
                    "{}: not an entry file name (expected NNNNNN.json, e.g. {})",
                    item.path().display(),
                    layout::entry_file_name(1)
                )));
            };
            seqs.push(seq);
        }
    }
    seqs.sort_unstable();
    let mut entries = Vec::with_capacity(seqs.len());
    for (i, seq) in seqs.iter().enumerate() {
        let expected = i as u64 + 1;
        if *seq != expected {
            return Err(ArchiveError::Log(format!(
                "{}: entry {expected} is missing (entries run 1, 2, 3, ... without gaps)",
                entries_dir
                    .join(layout::entry_file_name(expected))
                    .display()
            )));
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
        let bytes = read_small(&keys_path)?;
        Some(
            serde_json::from_slice::<KeysFile>(&bytes)
                .map_err(|e| ArchiveError::Log(format!("{}: {e}", keys_path.display())))?,
        )
    } else {
        None
    };
    Ok(LogFiles {
        genesis,
        entries,
        checkpoint,
        keys,
    })
}

/// Reads the layout of protocol.md §7.10 from `dir` and verifies it (§7.5–§7.8): the chain
/// from the genesis (pinned, or the copy's own), the checkpoint against `now`, and `keys.json`
/// against the key set the log establishes. An archive needs the checkpoint.
pub fn read_and_verify(
    dir: &Path,
    pinned: Option<&EnvelopeId>,
    now: Timestamp,
) -> Result<CheckedLog, ArchiveError> {
    let LogFiles {
        genesis,
        entries,
        checkpoint,
        keys,
    } = read_files(dir)?;
    let Some(checkpoint) = checkpoint else {
        return Err(ArchiveError::Log(format!(
            "{}: missing; an archive is built only from a log with a signed checkpoint, so readers can check its freshness",
            dir.join(layout::CHECKPOINT_FILE).display()
        )));
    };
    let pin = pinned.copied().unwrap_or_else(|| genesis.id());
    let log = verify_log(&pin, &genesis, &entries).map_err(ArchiveError::Verify)?;
    let freshness = log
        .check_checkpoint(&checkpoint, now, None)
        .map_err(ArchiveError::Verify)?;
    if let Some(keys) = keys
        && (keys.log != log.genesis_id() || keys.key_set != *log.current_key_set())
    {
        return Err(ArchiveError::Log(format!(
            "{}: does not match the key set the log establishes",
            dir.join(layout::KEYS_FILE).display()
        )));
    }
    Ok(CheckedLog {
        log,
        checkpoint,
        freshness,
        pinned: pinned.is_some(),
    })
}

/// Writes the published layout of `log` with `checkpoint` into `dir` (created if missing).
pub fn write_log(
    dir: &Path,
    log: &VerifiedLog,
    checkpoint: &Envelope,
) -> Result<Vec<PathBuf>, ArchiveError> {
    let mut written = Vec::new();
    for (rel, bytes) in layout::files(log, checkpoint) {
        let path = dir.join(&rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        fs::write(&path, &bytes).map_err(|e| io(&path, e))?;
        written.push(path);
    }
    Ok(written)
}
