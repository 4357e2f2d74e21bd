//! The layout of a published log, on disk or over HTTP (protocol.md §7.10). Pure: names only;
//! the node reads and writes the files.
//!
//! ```text
//! DIR/
//!   genesis.json          the genesis envelope (its id is the log id readers pin)
//!   entries/000001.json   one entry envelope per file, seq zero-padded to 6 digits
//!   entries/000002.json   (wider when seq ≥ 1 000 000); contiguous from 1
//!   checkpoint.json       the latest checkpoint envelope
//!   keys.json             the key set in force, derived from the log (a convenience; unsigned,
//!                         checked against the log by `debrief verify`)
//! ```
//! Every file is the canonical JSON of its object followed by nothing (no newline).

use serde::{Deserialize, Serialize};

use crate::canonical;
use crate::envelope::Envelope;
use crate::ids::EnvelopeId;

use super::log::{KeySet, VerifiedLog};

pub const GENESIS_FILE: &str = "genesis.json";
pub const ENTRIES_DIR: &str = "entries";
pub const CHECKPOINT_FILE: &str = "checkpoint.json";
pub const KEYS_FILE: &str = "keys.json";

/// `entries/NNNNNN.json` for `seq`.
pub fn entry_path(seq: u64) -> String {
    format!("{ENTRIES_DIR}/{}", entry_file_name(seq))
}

/// `NNNNNN.json` for `seq` (at least six digits).
pub fn entry_file_name(seq: u64) -> String {
    format!("{seq:06}.json")
}

/// Parses an entry file name back to its seq; `None` for anything else.
pub fn parse_entry_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".json")?;
    if digits.len() < 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seq: u64 = digits.parse().ok()?;
    (entry_file_name(seq) == name).then_some(seq)
}

/// The contents of `keys.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysFile {
    /// The log (genesis) id.
    pub log: EnvelopeId,
    /// The seq of the last entry this key set was derived at.
    pub seq: u64,
    pub key_set: KeySet,
}

/// Every file of the published layout for `log` and its latest `checkpoint`, as (relative path,
/// bytes), genesis first, then entries in order, the checkpoint and `keys.json`. The node writes
/// them (the archive too), so every copy of a log is byte-identical (protocol.md §7.10).
pub fn files(log: &VerifiedLog, checkpoint: &Envelope) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::with_capacity(log.entries().len() + 3);
    out.push((GENESIS_FILE.to_owned(), log.genesis().envelope().to_json()));
    for e in log.entries() {
        out.push((entry_path(e.seq), e.envelope().to_json()));
    }
    out.push((CHECKPOINT_FILE.to_owned(), checkpoint.to_json()));
    let keys = KeysFile {
        log: log.genesis_id(),
        seq: log.head_seq(),
        key_set: log.current_key_set().clone(),
    };
    // A KeysFile holds ids, integers and base64 keys only, so encoding cannot fail.
    out.push((
        KEYS_FILE.to_owned(),
        canonical::to_canonical_vec(&keys).unwrap_or_default(),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_round_trip_and_refuse_other_spellings() {
        assert_eq!(entry_path(3), "entries/000003.json");
        assert_eq!(entry_file_name(1_234_567), "1234567.json");
        assert_eq!(parse_entry_file_name("000003.json"), Some(3));
        assert_eq!(parse_entry_file_name("1234567.json"), Some(1_234_567));
        for bad in [
            "3.json",
            "0000003.json",
            "00000a.json",
            "000003.JSON",
            "000003.json~",
            "",
        ] {
            assert_eq!(parse_entry_file_name(bad), None, "{bad}");
        }
    }
}
