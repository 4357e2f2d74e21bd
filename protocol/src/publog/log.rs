//! The public log (protocol.md §7.5–§7.9): a hash-chained, threshold-signed log per circle,
//! rooted in a genesis whose id readers pin, with signed checkpoints for freshness.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::envelope::{
    self, Envelope, EnvelopeError, PayloadType, Signer, Verified, count_distinct_members,
};
use crate::ids::{EnvelopeId, KeyId, MemberId, Sha256Digest};
use crate::roster::{MAX_CLOCK_SKEW_SECS, PublicationKey};
use crate::timestamp::Timestamp;

use super::content::PublicContent;
use super::error::PublogError;

/// The smallest publication threshold a log accepts: no single company publishes alone (§7.5).
pub const MIN_PUBLICATION_THRESHOLD: u32 = 2;

/// Longest a log checkpoint may stay valid: `expires - at` must not exceed it (§7.8).
pub const MAX_LOG_CHECKPOINT_LIFETIME_SECS: i64 = 7 * 24 * 60 * 60;

/// The publication keys in force and how many distinct companies must sign (t-of-n).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySet {
    pub keys: Vec<PublicationKey>,
    pub threshold: u32,
}

impl KeySet {
    /// §7.5: threshold at least 2, no key listed twice, and at least `threshold` distinct
    /// companies hold keys (or the log could never grow).
    pub fn check(&self) -> Result<(), PublogError> {
        if self.threshold < MIN_PUBLICATION_THRESHOLD {
            return Err(PublogError::KeySet(format!(
                "threshold {} is below the floor of {MIN_PUBLICATION_THRESHOLD}: a single company must never publish alone",
                self.threshold
            )));
        }
        for (i, k) in self.keys.iter().enumerate() {
            if self.keys[..i].iter().any(|o| o.key == k.key) {
                return Err(PublogError::DuplicateKey {
                    key: k.key.key_id(),
                    member: k.member.clone(),
                });
            }
        }
        let companies = self.companies();
        if (companies.len() as u64) < u64::from(self.threshold) {
            return Err(PublogError::KeySet(format!(
                "{} distinct companies hold publication keys, fewer than the threshold {}",
                companies.len(),
                self.threshold
            )));
        }
        Ok(())
    }

    /// The key set a circle's roster declares: its publication keys, with threshold
    /// max(`policy.publication_threshold`, 2) (§7.5). Checked before it is returned.
    pub fn from_roster(roster: &crate::roster::Roster) -> Result<KeySet, PublogError> {
        let set = KeySet {
            keys: roster.publication_keys().to_vec(),
            threshold: roster
                .policy()
                .publication_threshold
                .max(MIN_PUBLICATION_THRESHOLD),
        };
        set.check()?;
        Ok(set)
    }

    /// The distinct companies holding keys, sorted.
    pub fn companies(&self) -> Vec<MemberId> {
        let mut m: Vec<MemberId> = self.keys.iter().map(|k| k.member.clone()).collect();
        m.sort();
        m.dedup();
        m
    }

    /// The member holding publication key `id`.
    pub fn member_of(&self, id: &KeyId) -> Option<MemberId> {
        self.keys
            .iter()
            .find(|k| k.key.key_id() == *id)
            .map(|k| k.member.clone())
    }
}

/// The log's first object, at seq 0 (protocol.md §7.5). It travels with payload type
/// `public-log-entry` but has its own schema (no seq, prev or kind; unknown fields refused), so
/// it can never pass as an entry or the other way round. Its envelope id is the log id readers
/// pin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogGenesis {
    pub circle: EnvelopeId,
    /// Display name of the archive.
    pub name: String,
    pub key_set: KeySet,
    pub created_at: Timestamp,
}

/// A publication: new public content with the author's provenance commitment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Publication {
    /// The public content, exactly as approved (§7.1).
    pub content: Value,
    /// The provenance commitment (§7.3).
    pub provenance: Sha256Digest,
}

/// A corrected version of an earlier publication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Erratum {
    /// The seq of the publication it corrects (always the original, never another erratum).
    pub corrects: u64,
    pub content: Value,
    pub provenance: Sha256Digest,
    /// What changed, for readers.
    pub note: String,
}

/// A signed tombstone: the publication (and its errata) must no longer be relied on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retraction {
    pub retracts: u64,
    pub reason: String,
}

/// A change of the publication key set, signed by the previous set (§7.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySetChange {
    pub key_set: KeySet,
}

/// What an entry does. Serialised as `{"kind": "...", "body": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "body", rename_all = "kebab-case")]
pub enum EntryBody {
    Publish(Publication),
    Erratum(Erratum),
    Retraction(Retraction),
    KeySet(KeySetChange),
}

impl EntryBody {
    pub fn kind(&self) -> &'static str {
        match self {
            EntryBody::Publish(_) => "publish",
            EntryBody::Erratum(_) => "erratum",
            EntryBody::Retraction(_) => "retraction",
            EntryBody::KeySet(_) => "key-set",
        }
    }
}

/// One log entry (`application/vnd.debrief.public-log-entry.v1+json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogEntry {
    pub circle: EnvelopeId,
    /// The genesis id of this log.
    pub log: EnvelopeId,
    /// 1 for the first entry after genesis.
    pub seq: u64,
    /// The envelope id of the previous entry (the genesis id for seq 1).
    pub prev: EnvelopeId,
    pub at: Timestamp,
    pub entry: EntryBody,
}

/// A signed statement of the log's head (`application/vnd.debrief.public-log-checkpoint.v1+json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogCheckpoint {
    pub circle: EnvelopeId,
    pub log: EnvelopeId,
    /// The seq of the last entry (0 = only genesis).
    pub seq: u64,
    /// The envelope id of that entry (the genesis id for seq 0).
    pub head: EnvelopeId,
    pub at: Timestamp,
    pub expires: Timestamp,
}

/// Signs `value` under `payload_type` with every signer (publication keys cosigning one
/// object). Producers usually sign once and pass the envelope on for [`Envelope::add_signature`].
pub fn sign_all<T: Serialize>(
    value: &T,
    payload_type: PayloadType,
    signers: &[&dyn Signer],
) -> Result<Envelope, EnvelopeError> {
    let Some((first, rest)) = signers.split_first() else {
        return Err(EnvelopeError::NoTrustedSignature);
    };
    let mut env = Envelope::sign(value, payload_type, *first)?;
    for s in rest {
        env.add_signature(*s)?;
    }
    Ok(env)
}

impl LogGenesis {
    /// Signs the genesis; it needs `threshold` companies of its own key set (§7.5).
    pub fn sign(&self, signers: &[&dyn Signer]) -> Result<Envelope, EnvelopeError> {
        sign_all(self, PayloadType::PublicLogEntry, signers)
    }
}

impl LogEntry {
    pub fn sign(&self, signers: &[&dyn Signer]) -> Result<Envelope, EnvelopeError> {
        sign_all(self, PayloadType::PublicLogEntry, signers)
    }
}

impl LogCheckpoint {
    pub fn sign(&self, signers: &[&dyn Signer]) -> Result<Envelope, EnvelopeError> {
        sign_all(self, PayloadType::PublicLogCheckpoint, signers)
    }
}

/// protocol.md §7.6: verifies `env` against `set` and counts distinct companies among the
/// verified signers (two keys of one company count once).
fn verify_threshold<T: DeserializeOwned>(
    env: &Envelope,
    payload_type: PayloadType,
    set: &KeySet,
    what: &str,
) -> Result<Verified<T>, PublogError> {
    let v: Verified<T> = envelope::verify_with(env, payload_type, |id| {
        set.keys
            .iter()
            .find(|k| k.key.key_id() == *id)
            .map(|k| k.key)
    })
    .map_err(|source| PublogError::Envelope {
        what: what.to_owned(),
        source,
    })?;
    let companies = count_distinct_members(v.signers(), |id| set.member_of(id));
    if (companies as u64) < u64::from(set.threshold) {
        return Err(PublogError::TooFewSignatures {
            what: what.to_owned(),
            companies,
            threshold: set.threshold,
        });
    }
    Ok(v)
}

/// What a reader can rely on for one entry (§7.9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryStatus {
    /// The current version of its report.
    Valid,
    /// A later erratum replaces it: read that entry instead.
    SupersededBy { erratum: u64 },
    /// Retracted by entry `retraction` with this reason.
    Retracted { retraction: u64, reason: String },
    /// The entry carries no content (a retraction or key-set change).
    NotContent { kind: &'static str },
}

/// Per publish/erratum entry: what it carries.
#[derive(Debug, Clone)]
struct ContentRecord {
    /// The original publication's seq (itself for a publication).
    original: u64,
    content: PublicContent,
    content_sha256: Sha256Digest,
    provenance: Sha256Digest,
}

/// A log whose every rule of protocol.md §7.5–§7.7 held, from the pinned genesis to its last
/// entry. Only [`VerifiedLog::start`] and [`VerifiedLog::append`] make or extend one.
#[derive(Debug, Clone)]
pub struct VerifiedLog {
    genesis: Verified<LogGenesis>,
    entries: Vec<Verified<LogEntry>>,
    /// (first seq governed, key set): the genesis set governs from seq 1.
    key_sets: Vec<(u64, KeySet)>,
    contents: BTreeMap<u64, ContentRecord>,
    /// Per original publication: its errata seqs in order.
    errata: BTreeMap<u64, Vec<u64>>,
    /// Per original publication: (retraction seq, reason).
    retractions: BTreeMap<u64, (u64, String)>,
}

impl VerifiedLog {
    /// §7.5: verifies the genesis against the pinned id, then its key set and signatures.
    pub fn start(pinned: &EnvelopeId, genesis: &Envelope) -> Result<VerifiedLog, PublogError> {
        let found = genesis.id();
        if found != *pinned {
            return Err(PublogError::WrongGenesis {
                pinned: *pinned,
                found,
            });
        }
        let claimed: LogGenesis = genesis
            .unverified_payload()
            .map_err(|e| PublogError::Genesis(e.to_string()))?;
        claimed.key_set.check()?;
        let v: Verified<LogGenesis> = verify_threshold(
            genesis,
            PayloadType::PublicLogEntry,
            &claimed.key_set,
            "log genesis",
        )?;
        if v.name.trim().is_empty() {
            return Err(PublogError::Genesis("name is empty".into()));
        }
        let set = v.key_set.clone();
        Ok(VerifiedLog {
            genesis: v,
            entries: Vec::new(),
            key_sets: vec![(1, set)],
            contents: BTreeMap::new(),
            errata: BTreeMap::new(),
            retractions: BTreeMap::new(),
        })
    }

    /// The pinned genesis id (the log id).
    pub fn genesis_id(&self) -> EnvelopeId {
        self.genesis.id()
    }

    pub fn genesis(&self) -> &Verified<LogGenesis> {
        &self.genesis
    }

    pub fn circle(&self) -> EnvelopeId {
        self.genesis.circle
    }

    /// The seq of the last entry (0 = only genesis).
    pub fn head_seq(&self) -> u64 {
        self.entries.len() as u64
    }

    /// The envelope id of the last entry (the genesis id when empty).
    pub fn head_id(&self) -> EnvelopeId {
        self.entries
            .last()
            .map_or_else(|| self.genesis.id(), Verified::id)
    }

    fn head_at(&self) -> Timestamp {
        self.entries
            .last()
            .map_or(self.genesis.created_at, |e| e.at)
    }

    /// The entries, seq 1 first.
    pub fn entries(&self) -> &[Verified<LogEntry>] {
        &self.entries
    }

    /// The entry at `seq` (1-based).
    pub fn entry(&self, seq: u64) -> Option<&Verified<LogEntry>> {
        let i = usize::try_from(seq.checked_sub(1)?).ok()?;
        self.entries.get(i)
    }

    /// The id of the object at `seq` (0 = genesis).
    pub fn id_at(&self, seq: u64) -> Option<EnvelopeId> {
        if seq == 0 {
            Some(self.genesis.id())
        } else {
            self.entry(seq).map(Verified::id)
        }
    }

    /// The key set in force for entry `seq` (the set that must sign it).
    pub fn key_set_for(&self, seq: u64) -> &KeySet {
        let mut set = &self.key_sets[0].1;
        for (from, s) in &self.key_sets {
            if *from <= seq {
                set = s;
            }
        }
        set
    }

    /// The key set in force after the last entry (what `keys.json` lists).
    pub fn current_key_set(&self) -> &KeySet {
        self.key_set_for(self.head_seq() + 1)
    }

    /// Every key-set change: (first seq it governs, key set), the genesis set first.
    pub fn key_set_history(&self) -> &[(u64, KeySet)] {
        &self.key_sets
    }

    /// The public content of a publish or erratum entry, with its hash.
    pub fn content(&self, seq: u64) -> Option<(&PublicContent, Sha256Digest)> {
        self.contents
            .get(&seq)
            .map(|r| (&r.content, r.content_sha256))
    }

    /// (content hash, provenance commitment) of a publish or erratum entry.
    pub fn commitment_of(&self, seq: u64) -> Option<(Sha256Digest, Sha256Digest)> {
        self.contents
            .get(&seq)
            .map(|r| (r.content_sha256, r.provenance))
    }

    /// Fills circle, log, seq and prev for the next entry (producers).
    pub fn next_entry(&self, at: Timestamp, entry: EntryBody) -> LogEntry {
        LogEntry {
            circle: self.circle(),
            log: self.genesis_id(),
            seq: self.head_seq() + 1,
            prev: self.head_id(),
            at,
            entry,
        }
    }

    /// Cosigning progress of a proposed next entry: which publication-key companies have
    /// validly signed it so far and how many the threshold needs. Every signature by a key in
    /// the set must verify, and the entry must name this log's circle, genesis, next seq and
    /// head (protocol.md §7.6); the kind rules and the threshold are left to [`Self::append`].
    pub fn cosign_progress(&self, env: &Envelope) -> Result<CosignProgress, PublogError> {
        let seq = self.head_seq() + 1;
        let set = self.key_set_for(seq);
        let v: Verified<LogEntry> = envelope::verify_with(env, PayloadType::PublicLogEntry, |id| {
            set.keys
                .iter()
                .find(|k| k.key.key_id() == *id)
                .map(|k| k.key)
        })
        .map_err(|source| PublogError::Envelope {
            what: format!("proposed entry {seq}"),
            source,
        })?;
        if v.circle != self.circle()
            || v.log != self.genesis_id()
            || v.seq != seq
            || v.prev != self.head_id()
        {
            return Err(PublogError::Chain {
                seq,
                message: "the proposal does not extend this log's head (propose it again)".into(),
            });
        }
        let mut companies: Vec<MemberId> = v
            .signers()
            .iter()
            .filter_map(|id| set.member_of(id))
            .collect();
        companies.sort();
        companies.dedup();
        Ok(CosignProgress {
            companies,
            threshold: set.threshold,
        })
    }

    /// Verifies the next entry (§7.6, §7.7) and appends it. On error the log is unchanged.
    pub fn append(&mut self, env: &Envelope) -> Result<(), PublogError> {
        let seq = self.head_seq() + 1;
        let set = self.key_set_for(seq).clone();
        let v: Verified<LogEntry> = verify_threshold(
            env,
            PayloadType::PublicLogEntry,
            &set,
            &format!("entry {seq}"),
        )?;
        let chain = |message: String| PublogError::Chain { seq, message };
        // protocol.md §7.6: bound to this circle and log, in order, chained to the previous id.
        if v.circle != self.circle() {
            return Err(chain(format!(
                "names circle {}, not {}",
                v.circle,
                self.circle()
            )));
        }
        if v.log != self.genesis_id() {
            return Err(chain(format!(
                "belongs to log {}, not the pinned log {}",
                v.log,
                self.genesis_id()
            )));
        }
        if v.seq != seq {
            return Err(chain(format!("carries seq {}, expected {seq}", v.seq)));
        }
        if v.prev != self.head_id() {
            return Err(chain(format!(
                "prev {} is not the previous entry's id {}",
                v.prev,
                self.head_id()
            )));
        }
        if v.at < self.head_at() {
            return Err(chain(format!(
                "at {} is before the previous entry's {}",
                v.at,
                self.head_at()
            )));
        }
        // protocol.md §7.7: per kind.
        let kind = |message: String| PublogError::Kind { seq, message };
        let mut new_content = None;
        let mut new_key_set = None;
        match &v.entry {
            EntryBody::Publish(p) => {
                let (content, hash) = PublicContent::from_value(&p.content)
                    .map_err(|e| kind(format!("content: {e}")))?;
                if content.circle != self.circle() {
                    return Err(kind("content names another circle".into()));
                }
                if self
                    .contents
                    .values()
                    .any(|r| r.content.slug == content.slug)
                {
                    return Err(kind(format!(
                        "slug {:?} is already used in this log",
                        content.slug
                    )));
                }
                new_content = Some(ContentRecord {
                    original: seq,
                    content,
                    content_sha256: hash,
                    provenance: p.provenance,
                });
            }
            EntryBody::Erratum(e) => {
                let original = self.publication(e.corrects).map_err(&kind)?;
                if let Some((r, _)) = self.retractions.get(&e.corrects) {
                    return Err(kind(format!(
                        "corrects entry {}, which entry {r} retracted",
                        e.corrects
                    )));
                }
                let (content, hash) = PublicContent::from_value(&e.content)
                    .map_err(|err| kind(format!("content: {err}")))?;
                if content.circle != self.circle() {
                    return Err(kind("content names another circle".into()));
                }
                if content.slug != original.content.slug {
                    return Err(kind(format!(
                        "an erratum keeps its publication's slug {:?}, found {:?}",
                        original.content.slug, content.slug
                    )));
                }
                if e.note.trim().is_empty() {
                    return Err(kind("an erratum says what changed (note is empty)".into()));
                }
                new_content = Some(ContentRecord {
                    original: e.corrects,
                    content,
                    content_sha256: hash,
                    provenance: e.provenance,
                });
            }
            EntryBody::Retraction(r) => {
                self.publication(r.retracts).map_err(&kind)?;
                if let Some((by, _)) = self.retractions.get(&r.retracts) {
                    return Err(kind(format!(
                        "entry {} was already retracted by entry {by}",
                        r.retracts
                    )));
                }
                if r.reason.trim().is_empty() {
                    return Err(kind(
                        "a retraction states its reason (reason is empty)".into(),
                    ));
                }
            }
            EntryBody::KeySet(change) => {
                change
                    .key_set
                    .check()
                    .map_err(|e| kind(format!("new key set: {e}")))?;
                new_key_set = Some(change.key_set.clone());
            }
        }
        // Every check passed: apply.
        match &v.entry {
            EntryBody::Erratum(e) => self.errata.entry(e.corrects).or_default().push(seq),
            EntryBody::Retraction(r) => {
                self.retractions.insert(r.retracts, (seq, r.reason.clone()));
            }
            _ => {}
        }
        if let Some(record) = new_content {
            self.contents.insert(seq, record);
        }
        if let Some(set) = new_key_set {
            self.key_sets.push((seq + 1, set));
        }
        self.entries.push(v);
        Ok(())
    }

    /// The original publication at `seq`, or why it is not one.
    fn publication(&self, seq: u64) -> Result<&ContentRecord, String> {
        match self.contents.get(&seq) {
            Some(r) if r.original == seq => Ok(r),
            Some(_) => Err(format!(
                "entry {seq} is an erratum; name the original publication"
            )),
            None => Err(format!("entry {seq} is not an earlier publication")),
        }
    }

    /// protocol.md §7.9: what a reader can rely on for entry `seq`.
    pub fn status(&self, seq: u64) -> Result<EntryStatus, PublogError> {
        let entry = self.entry(seq).ok_or(PublogError::NoSuchEntry(seq))?;
        let Some(record) = self.contents.get(&seq) else {
            return Ok(EntryStatus::NotContent {
                kind: entry.entry.kind(),
            });
        };
        if let Some((retraction, reason)) = self.retractions.get(&record.original) {
            return Ok(EntryStatus::Retracted {
                retraction: *retraction,
                reason: reason.clone(),
            });
        }
        let latest = self
            .errata
            .get(&record.original)
            .and_then(|e| e.last().copied())
            .unwrap_or(record.original);
        if latest != seq {
            return Ok(EntryStatus::SupersededBy { erratum: latest });
        }
        Ok(EntryStatus::Valid)
    }

    /// protocol.md §7.8: verifies a checkpoint against this copy of the log at `now`. `last_seen` is the
    /// newest checkpoint this reader verified before (if it remembers one): a checkpoint older
    /// than it is a rollback.
    pub fn check_checkpoint(
        &self,
        env: &Envelope,
        now: Timestamp,
        last_seen: Option<&LogCheckpoint>,
    ) -> Result<Freshness, PublogError> {
        let claimed: LogCheckpoint = env
            .unverified_payload()
            .map_err(|e| PublogError::Checkpoint(e.to_string()))?;
        let copy_seq = self.head_seq();
        // A checkpoint beyond this copy means the copy is stale or was rolled back, whether or
        // not its signatures can be checked (the keys may have changed in entries the copy
        // lacks): either way the copy cannot be shown fresh.
        if claimed.seq > copy_seq {
            return Err(PublogError::RolledBack {
                checkpoint_seq: claimed.seq,
                copy_seq,
            });
        }
        let set = self.key_set_for(claimed.seq + 1).clone();
        let v: Verified<LogCheckpoint> =
            verify_threshold(env, PayloadType::PublicLogCheckpoint, &set, "checkpoint")?;
        let cp = v.value().clone();
        if cp.circle != self.circle() || cp.log != self.genesis_id() {
            return Err(PublogError::Checkpoint(format!(
                "belongs to log {} of circle {}, not this log",
                cp.log, cp.circle
            )));
        }
        if self.id_at(cp.seq) != Some(cp.head) {
            return Err(PublogError::Checkpoint(format!(
                "names head {} for seq {}, this copy has {} there (a forked or altered log)",
                cp.head,
                cp.seq,
                self.id_at(cp.seq).map_or_else(String::new, |i| i.to_hex())
            )));
        }
        if cp.expires <= cp.at
            || cp.expires.unix() - cp.at.unix() > MAX_LOG_CHECKPOINT_LIFETIME_SECS
        {
            return Err(PublogError::Checkpoint(format!(
                "validity from {} to {} is not within 1 second to {MAX_LOG_CHECKPOINT_LIFETIME_SECS} seconds",
                cp.at, cp.expires
            )));
        }
        if cp.at > now.plus_seconds(MAX_CLOCK_SKEW_SECS) {
            return Err(PublogError::Checkpoint(format!(
                "issued at {} is in the future (now {now})",
                cp.at
            )));
        }
        let head_at = if cp.seq == 0 {
            self.genesis.created_at
        } else {
            self.entry(cp.seq).map_or(cp.at, |e| e.at)
        };
        if cp.at < head_at {
            return Err(PublogError::Checkpoint(format!(
                "issued at {} before its head entry ({head_at})",
                cp.at
            )));
        }
        if cp.expires <= now {
            return Err(PublogError::CheckpointExpired {
                expires: cp.expires,
                now,
            });
        }
        if let Some(last) = last_seen
            && (cp.seq < last.seq || cp.at < last.at)
        {
            return Err(PublogError::CheckpointRollback(format!(
                "this checkpoint (seq {}, at {}) is older than one seen before (seq {}, at {})",
                cp.seq, cp.at, last.seq, last.at
            )));
        }
        Ok(Freshness {
            checkpoint: v,
            uncovered: copy_seq - cp.seq,
        })
    }

    /// Exactly what a successful verification established and what it did not (§7.10), for
    /// the whole log or one entry.
    pub fn statement(&self, freshness: Option<&Freshness>, entry: Option<u64>) -> Statement {
        let mut verified = Vec::new();
        let mut not_verified = Vec::new();
        let g = &self.genesis;
        verified.push(format!(
            "the log genesis is the pinned one ({}) for circle {}, signed by {} of its publication-key companies (threshold {})",
            g.id(),
            g.circle,
            count_distinct_members(g.signers(), |id| g.key_set.member_of(id)),
            g.key_set.threshold
        ));
        verified.push(format!(
            "all {} entries chain from the genesis (seq, prev) and each carries signatures by at least the threshold of distinct publication-key companies in force",
            self.head_seq()
        ));
        if self.key_sets.len() > 1 {
            verified.push(format!(
                "{} key-set change(s), each signed by the previous set",
                self.key_sets.len() - 1
            ));
        }
        match freshness {
            Some(f) => {
                let cp = f.checkpoint.value();
                verified.push(format!(
                    "a checkpoint signed by the publication keys covers seq {} (issued {}, valid until {})",
                    cp.seq, cp.at, cp.expires
                ));
                if f.uncovered > 0 {
                    not_verified.push(format!(
                        "freshness of the last {} entries (after the checkpoint's seq {})",
                        f.uncovered, cp.seq
                    ));
                }
            }
            None => not_verified.push(
                "freshness: without a valid checkpoint this copy may be stale or rolled back"
                    .into(),
            ),
        }
        if let Some(seq) = entry {
            match self.status(seq) {
                Ok(EntryStatus::Valid) => {
                    verified.push(format!(
                        "entry {seq} is current: neither corrected nor retracted"
                    ));
                }
                Ok(EntryStatus::SupersededBy { erratum }) => verified.push(format!(
                    "entry {seq} is superseded by erratum {erratum}; read that entry"
                )),
                Ok(EntryStatus::Retracted { retraction, reason }) => verified.push(format!(
                    "entry {seq} was RETRACTED by entry {retraction}: {reason}"
                )),
                Ok(EntryStatus::NotContent { kind }) => {
                    verified.push(format!("entry {seq} is a {kind} entry"));
                }
                Err(e) => not_verified.push(e.to_string()),
            }
        }
        not_verified.push(
            "who wrote the report: approvals are not published (they would name the author's company); the publication signatures attest that the signing companies checked them"
                .into(),
        );
        not_verified.push(
            "that the scrubbed text reveals nothing identifying: the circle reviewed it, no tool can prove it"
                .into(),
        );
        not_verified.push(
            "authorship: only a provenance claim (--claim) ties an entry to an attribution key"
                .into(),
        );
        Statement {
            verified,
            not_verified,
        }
    }
}

/// How far cosigning of a proposed entry has come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignProgress {
    /// Distinct companies whose publication keys validly signed, sorted.
    pub companies: Vec<MemberId>,
    pub threshold: u32,
}

impl CosignProgress {
    /// Whether enough companies signed for [`VerifiedLog::append`]'s threshold.
    pub fn complete(&self) -> bool {
        self.companies.len() as u64 >= u64::from(self.threshold)
    }
}

/// A checkpoint that passed §7.8 for a copy of the log.
#[derive(Debug, Clone)]
pub struct Freshness {
    pub checkpoint: Verified<LogCheckpoint>,
    /// Entries of the copy beyond the checkpoint's seq (signed, but not vouched fresh).
    pub uncovered: u64,
}

/// What was and was not verified, in words for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub verified: Vec<String>,
    pub not_verified: Vec<String>,
}

/// §7.5–§7.7: verifies a whole log from its pinned genesis id.
pub fn verify_log(
    pinned: &EnvelopeId,
    genesis: &Envelope,
    entries: &[Envelope],
) -> Result<VerifiedLog, PublogError> {
    let mut log = VerifiedLog::start(pinned, genesis)?;
    for env in entries {
        log.append(env)?;
    }
    Ok(log)
}
