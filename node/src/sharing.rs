//! Sharing inside a circle: accepting bundles into the store, sharing, revising, retracting and
//! commenting on reports, rebuilding the plaintext cache, export and import, and the queries the
//! HTTPS server and sync use (links and feed after a cursor, bundle object by id).
//!
//! Every acceptance is one SQLite transaction (protocol.md §3.29): the exact signed bytes, the
//! parsed header fields, the decrypted content (when we are a recipient) and every derived row
//! are stored together, or nothing is. A refused object goes to the bounded quarantine under the
//! SHA-256 of its bytes; it never blocks a genuine copy, because deduplication only looks at
//! verified, stored objects.
//!
//! Crash testing: when the environment variable `DEBRIEF_CRASH_POINT` names one of the points in
//! [`CRASH_POINTS`], the process aborts there (as a power cut would stop it); unset, it is inert.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use debrief_protocol::bundle::{
    self, Audience, AuthorChain, BundleBody, BundleContent, BundleError, BundleHeader, BundleId,
    BundleKind, BundleObject, ChainError, ChainLink, EquivocationProof, SealRequest, TargetInfo,
    Tlp,
};
use debrief_protocol::canonical;
use debrief_protocol::membership::RosterHistory;
use debrief_protocol::report::{self, Field, Report, SectionName};
use debrief_protocol::{Envelope, EnvelopeId, MemberId, Signer, Timestamp, Verified};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::node::Circle;
use crate::store::StoreError;
use crate::store::bundles::{self, equivocation_insert, quarantine_insert};
use crate::store::circle::next_ingest_seq;
use debrief_protocol::roster::Roster;

/// Named points where `DEBRIEF_CRASH_POINT` aborts the process (crash tests).
pub const CRASH_POINTS: &[&str] = &[
    "accept-after-link",
    "accept-after-bundle",
    "retract-before-checkpoint",
];

/// The stored signed parts of a bundle: link envelope, header envelope, ciphertext.
type Parts = (Vec<u8>, Vec<u8>, Vec<u8>);

/// Aborts the process if `DEBRIEF_CRASH_POINT` names `point`. Inert unless the variable is set.
fn crash_point(point: &str) {
    if std::env::var("DEBRIEF_CRASH_POINT").as_deref() == Ok(point) {
        eprintln!("DEBRIEF_CRASH_POINT={point}: aborting here, as a crash would");
        std::process::abort();
    }
}

/// Why a sharing operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SharingError {
    /// The bundle broke a protocol rule; the caller quarantines it.
    #[error("{0}")]
    Rejected(#[from] BundleError),
    /// A rule of this module (not of the pure bundle checks) refused it.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for SharingError {
    fn from(e: rusqlite::Error) -> Self {
        SharingError::Store(StoreError::Sqlite(e))
    }
}

/// What a receiver could do with an accepted bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Readability {
    /// We are a recipient: decrypted, verified and stored with its plaintext.
    Opened,
    /// Circle-wide but not to us (e.g. shared before we joined): stored, not readable.
    NotRecipient,
    /// RED and not to us: only the chain link is kept (protocol.md §3, non-recipients).
    LinkOnly,
}

/// The outcome of [`accept_bundle`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Accepted {
    /// Stored now.
    New {
        object: String,
        bundle: String,
        kind: BundleKind,
        author: String,
        readability: Readability,
    },
    /// Already held (same verified object); nothing changed.
    AlreadyHeld { object: String },
}

/// Verifies and stores one bundle object (protocol.md §3.29), in one transaction. Idempotent by
/// object id (the outer header's envelope id); the object is verified before it is compared, so
/// a tampered copy under a held id is still refused. Errors of kind [`SharingError::Rejected`]
/// or [`SharingError::Refused`] are for the caller to [`quarantine`].
pub fn accept_bundle(
    circle: &mut Circle,
    me: &MemberId,
    identities: &[age::x25519::Identity],
    bytes: &[u8],
    now: Timestamp,
) -> Result<Accepted, SharingError> {
    let object = BundleObject::parse(bytes)?;
    let source = Source::Received {
        object: &object,
        identities,
    };
    let ready = match check_bundle(circle.store.conn(), &circle.roster, me, source, now)? {
        Checked::Held(accepted) => return Ok(accepted),
        Checked::Ready(ready) => ready,
    };
    let accepted = write_bundle(circle.store.conn(), &object, &ready, now)?;
    after_commit(circle, &[&ready])?;
    Ok(accepted)
}

/// Extra writes committed in the same transaction as an accepted link (sync's cursor,
/// protocol.md §5.3). Not called when nothing is stored (already held, or refused).
pub type AlsoInTransaction<'a> = &'a dyn Fn(&rusqlite::Connection) -> Result<(), StoreError>;

/// The outcome of one object of a batch given to [`accept_bundles`].
pub type BatchResult = Result<Accepted, SharingError>;

/// Extra writes committed with a batch, given every object's outcome so far (sync's feed cursor,
/// which must stop before a deferred object, protocol.md §5.3).
pub type AlsoWithBatch<'a> =
    &'a dyn Fn(&rusqlite::Connection, &[BatchResult]) -> Result<(), StoreError>;

/// Verifies and stores a batch of bundle objects in **one** transaction (protocol.md §3.29,
/// group commit): each object is checked exactly as by [`accept_bundle`], sees the objects
/// stored before it in the batch, and is written only once all its checks passed, so a refused
/// object leaves nothing of itself while the others stay. Nothing of the batch is durable before
/// the single commit; a storage error rolls the whole batch back and is returned. Refused
/// objects are returned for the caller to [`quarantine`], in the order given.
pub fn accept_bundles(
    circle: &mut Circle,
    me: &MemberId,
    identities: &[age::x25519::Identity],
    objects: &[&[u8]],
    now: Timestamp,
    also: AlsoWithBatch<'_>,
) -> Result<Vec<BatchResult>, StoreError> {
    if let Some(results) = accept_batch_once(circle, me, identities, objects, now, also)? {
        return Ok(results);
    }
    // A write failed for a reason of its own, not the store's: nothing of the batch was kept.
    // One transaction per object instead, so only that object is refused.
    let mut results = Vec::with_capacity(objects.len());
    for bytes in objects {
        match accept_bundle(circle, me, identities, bytes, now) {
            Err(SharingError::Store(e)) => return Err(e),
            other => results.push(other),
        }
    }
    let tx = circle.store.transaction()?;
    also(&tx, &results)?;
    tx.commit()?;
    Ok(results)
}

/// One try at a batch in one transaction. The rows of an object are written without a
/// savepoint of their own: its checks all ran before its first write, and a savepoint per
/// object would make SQLite's full-text index flush on every release (docs/benchmarks.md,
/// ingest). So a write that fails after the checks (a stored row that no longer parses, say)
/// abandons the whole transaction: `None`, and the caller accepts the batch object by object.
fn accept_batch_once(
    circle: &mut Circle,
    me: &MemberId,
    identities: &[age::x25519::Identity],
    objects: &[&[u8]],
    now: Timestamp,
    also: AlsoWithBatch<'_>,
) -> Result<Option<Vec<BatchResult>>, StoreError> {
    let mut results = Vec::with_capacity(objects.len());
    let mut written = Vec::new();
    // The checks that need no store run first, on every core, before the write lock is taken.
    let examined = examine_batch(objects, &circle.roster, me, identities, now);
    let tx = circle.store.transaction()?;
    for pre in examined {
        let checked = pre.map_err(SharingError::from).and_then(|(object, pre)| {
            let source = Source::Examined {
                object: &object,
                pre: Box::new(pre),
                identities,
            };
            Ok((check_bundle(&tx, &circle.roster, me, source, now)?, object))
        });
        match checked {
            Ok((Checked::Held(accepted), _)) => results.push(Ok(accepted)),
            Ok((Checked::Ready(ready), object)) => {
                match write_bundle_rows(&tx, &object, &ready, now) {
                    Ok(accepted) => {
                        results.push(Ok(accepted));
                        written.push(ready);
                    }
                    Err(SharingError::Store(e)) => return Err(e),
                    Err(_) => return Ok(None),
                }
            }
            Err(SharingError::Store(e)) => return Err(e),
            Err(refused) => results.push(Err(refused)),
        }
    }
    also(&tx, &results)?;
    tx.commit()?;
    let written: Vec<&Ready> = written.iter().map(AsRef::as_ref).collect();
    after_commit(circle, &written).map_err(|e| match e {
        SharingError::Store(s) => s,
        other => StoreError::Invalid(other.to_string()),
    })?;
    Ok(Some(results))
}

/// A header check and, when we are a recipient, the result of opening the bundle.
type Prechecked = (
    bundle::CheckedBundle,
    Option<Result<bundle::OpenedBundle, BundleError>>,
);

/// What [`examine_batch`] found for one object: the parsed object and its checks.
type Examined = (BundleObject, Prechecked);

/// The checks of a batch that read no store (protocol.md §3.1–§3.25: parsing, signatures,
/// decryption and the inner checks), spread over the machine's cores. Unlike one object alone,
/// an object to us is opened before we know whether it is held: sync fetches only what it
/// lacks, and a batch is accepted faster with both cores busy than with one spared a
/// decryption.
fn examine_batch(
    objects: &[&[u8]],
    roster: &Roster,
    me: &MemberId,
    identities: &[age::x25519::Identity],
    now: Timestamp,
) -> Vec<Result<Examined, BundleError>> {
    let one = |bytes: &[u8]| -> Result<Examined, BundleError> {
        let object = BundleObject::parse(bytes)?;
        let checked = bundle::verify_header_only(&object, roster, now)?;
        // protocol.md §3.5: never decrypt unless we are a listed recipient.
        let opened = checked
            .header()
            .value()
            .is_recipient(me)
            .then(|| bundle::open_checked(&object, checked.clone(), me, identities));
        Ok((object, (checked, opened)))
    };
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(objects.len());
    if workers <= 1 {
        return objects.iter().map(|b| one(b)).collect();
    }
    let mut out: Vec<Option<Result<Examined, BundleError>>> = Vec::new();
    out.resize_with(objects.len(), || None);
    std::thread::scope(|scope| {
        let one = &one;
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                scope.spawn(move || {
                    (w..objects.len())
                        .step_by(workers)
                        .map(|i| (i, one(objects[i])))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for handle in handles {
            let done = handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            for (i, result) in done {
                out[i] = Some(result);
            }
        }
    });
    out.into_iter().flatten().collect()
}

/// Where the plaintext of a bundle to store comes from.
enum Source<'a> {
    /// A received object: opened with our age identities when we are a recipient.
    Received {
        object: &'a BundleObject,
        identities: &'a [age::x25519::Identity],
    },
    /// A bundle this process has just sealed: every check but the decryption, whose result it
    /// already holds (protocol.md §3.33).
    Own {
        sealed: &'a bundle::Sealed,
        identities: &'a [age::x25519::Identity],
    },
    /// A received object whose store-free checks already ran ([`examine_batch`]): its header
    /// check and, when we are a recipient, the result of opening it.
    Examined {
        object: &'a BundleObject,
        pre: Box<Prechecked>,
        identities: &'a [age::x25519::Identity],
    },
}

impl Source<'_> {
    /// §3.1–§3.20 on the object (done already for an examined one).
    fn check(&self, roster: &Roster, now: Timestamp) -> Result<bundle::CheckedBundle, BundleError> {
        match self {
            Source::Received { object, .. } => bundle::verify_header_only(object, roster, now),
            Source::Own { sealed, .. } => bundle::verify_header_only(sealed.object(), roster, now),
            Source::Examined { pre, .. } => Ok(pre.0.clone()),
        }
    }

    /// Opens the bundle for `me`, a listed recipient, given its header check (so the header
    /// and link signatures are verified once).
    fn open(
        self,
        checked: bundle::CheckedBundle,
        me: &MemberId,
    ) -> Result<bundle::OpenedBundle, SharingError> {
        match self {
            Source::Received { object, identities } => {
                Ok(bundle::open_checked(object, checked, me, identities)?)
            }
            Source::Examined {
                object,
                pre,
                identities,
            } => match pre.1 {
                Some(opened) => Ok(opened?),
                None => Ok(bundle::open_checked(object, checked, me, identities)?),
            },
            Source::Own { sealed, identities } => {
                let opened = bundle::open_own_checked(sealed, checked, me)?;
                // protocol.md §3.21, the half `open_own` cannot do: we hold the age identity
                // our recipient entry names, so this node can read its own bundle again later
                // (`debrief reindex`).
                let listed = opened
                    .header()
                    .value()
                    .recipients
                    .iter()
                    .find(|r| &r.member == me)
                    .map(|r| r.age_recipient.clone());
                let held = identities
                    .iter()
                    .any(|i| Some(i.to_public().to_string()) == listed);
                if !held {
                    return Err(BundleError::NoMatchingIdentity.into());
                }
                Ok(opened)
            }
        }
    }
}

/// A bundle that passed every check of protocol.md §3.29 and is ready to be written.
struct Ready {
    header_id: EnvelopeId,
    header: BundleHeader,
    link: Verified<ChainLink>,
    /// Whether its chain link is already stored (a link that came before its bundle).
    link_held: bool,
    readability: Readability,
    content: Option<BundleContent>,
}

/// What [`check_bundle`] found.
enum Checked {
    /// The same verified object is already held: nothing to write.
    Held(Accepted),
    Ready(Box<Ready>),
}

/// Every check before storing a bundle (protocol.md §3.1–§3.28), reading the store through
/// `conn`, which inside a batch is the batch's transaction. The only write is an equivocation
/// proof (§3.28), which is kept even though the bundle is refused.
fn check_bundle(
    conn: &Connection,
    roster: &Roster,
    me: &MemberId,
    source: Source<'_>,
    now: Timestamp,
) -> Result<Checked, SharingError> {
    let checked = source.check(roster, now)?;
    let header_id = checked.header().id();
    let h = checked.header().value().clone();
    let link_held = conn
        .prepare_cached("SELECT 1 FROM links WHERE header_id = ?1")?
        .query_row([header_id.to_hex()], |_| Ok(()))
        .optional()?
        .is_some();
    if link_held
        && (bundle_row_exists(conn, &header_id)? || !h.is_recipient(me) && h.tlp == Tlp::Red)
    {
        return Ok(Checked::Held(Accepted::AlreadyHeld {
            object: header_id.to_hex(),
        }));
    }
    // protocol.md §3.5: never decrypt unless we are a listed recipient.
    let (readability, content) = if h.is_recipient(me) {
        let opened = source.open(checked.clone(), me)?;
        (Readability::Opened, Some(opened.content().value().clone()))
    } else if h.tlp == Tlp::Red {
        (Readability::LinkOnly, None)
    } else {
        (Readability::NotRecipient, None)
    };
    // protocol.md §3.26: rules that need the target run once we hold it.
    if let Some(t) = &h.target
        && let Some(info) = target_info_on(conn, &t.header)?
    {
        bundle::check_target(&h, &info, roster)?;
    }
    if !link_held {
        check_chain(conn, roster, checked.link(), now)?;
    }
    Ok(Checked::Ready(Box::new(Ready {
        header_id,
        header: h,
        link: checked.link().clone(),
        link_held,
        readability,
        content,
    })))
}

/// Writes a checked bundle: its link (unless held), the exact signed parts and every derived
/// row, all or nothing (a savepoint: outside a transaction, the transaction itself).
fn write_bundle(
    conn: &Connection,
    object: &BundleObject,
    ready: &Ready,
    now: Timestamp,
) -> Result<Accepted, SharingError> {
    crate::store::atomically(conn, |tx| write_bundle_rows(tx, object, ready, now))
}

/// [`write_bundle`] without a savepoint: inside a batch's transaction, whose failure undoes it.
fn write_bundle_rows(
    tx: &Connection,
    object: &BundleObject,
    ready: &Ready,
    now: Timestamp,
) -> Result<Accepted, SharingError> {
    let h = &ready.header;
    let header_id = ready.header_id;
    if !ready.link_held {
        insert_link(
            tx,
            &ready.link.id(),
            ready.link.value(),
            ready.link.envelope(),
            now,
        )?;
    }
    crash_point("accept-after-link");
    if ready.readability != Readability::LinkOnly {
        let ingest = next_ingest_seq(tx)?;
        let recipients = serde_json::to_string(&h.recipient_members())
            .map_err(|e| SharingError::Refused(e.to_string()))?;
        tx.prepare_cached(
            "INSERT INTO bundles (header_id, bundle_id, version, kind, author, author_seq,
                 roster_seq, tlp, target_header, target_bundle, recipients, created_at, header,
                 ciphertext, readable, received_at, ingest_seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        )?
        .execute(params![
            header_id.to_hex(),
            h.bundle.to_hex(),
            h.version as i64,
            h.kind.as_str(),
            h.author.as_str(),
            h.author_seq as i64,
            h.roster.seq as i64,
            h.tlp.as_str(),
            h.target.as_ref().map(|t| t.header.to_hex()),
            h.target.as_ref().map(|t| t.bundle.to_hex()),
            recipients,
            h.created_at.unix(),
            object.header().to_json(),
            object.ciphertext(),
            i64::from(ready.readability == Readability::Opened),
            now.unix(),
            ingest,
        ])?;
        crash_point("accept-after-bundle");
        if let Some(c) = &ready.content {
            insert_plaintext(tx, &header_id, c)?;
        }
        refresh_lineage(tx, &lineage_of(h))?;
    }
    Ok(Accepted::New {
        object: header_id.to_hex(),
        bundle: h.bundle.to_hex(),
        kind: h.kind,
        author: h.author.to_string(),
        readability: ready.readability,
    })
}

/// What must follow the commit of stored bundles: a retraction we opened purges for real only
/// once the WAL no longer holds old pages (protocol.md §3.30).
fn after_commit(circle: &Circle, written: &[&Ready]) -> Result<(), SharingError> {
    let retraction = written
        .iter()
        .any(|r| r.header.kind == BundleKind::Retraction && r.readability == Readability::Opened);
    if retraction {
        checkpoint_truncate(circle)?;
    }
    Ok(())
}

fn bundle_row_exists(conn: &Connection, header_id: &EnvelopeId) -> Result<bool, SharingError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM bundles WHERE header_id = ?1")?
        .query_row([header_id.to_hex()], |_| Ok(()))
        .optional()?
        .is_some())
}

/// The lineage whose derived rows a bundle affects: its own for report kinds, its target's for
/// retractions.
fn lineage_of(h: &BundleHeader) -> String {
    match (&h.kind, &h.target) {
        (BundleKind::Retraction, Some(t)) => t.bundle.to_hex(),
        _ => h.bundle.to_hex(),
    }
}

fn insert_link(
    tx: &Connection,
    link_id: &EnvelopeId,
    link: &ChainLink,
    env: &Envelope,
    now: Timestamp,
) -> Result<(), SharingError> {
    // protocol.md §3.28: `check_chain` ran first; the UNIQUE (author, author_seq) constraint
    // is the backstop should two writers race.
    let ingest = next_ingest_seq(tx)?;
    tx.prepare_cached(
        "INSERT INTO links (link_id, author, author_seq, prev_link, header_id, audience, envelope,
             received_at, ingest_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        link_id.to_hex(),
        link.author.as_str(),
        link.author_seq as i64,
        link.prev.map(|p| p.to_hex()),
        link.header.to_hex(),
        match link.audience {
            Audience::Circle => "circle",
            Audience::Named => "named",
        },
        env.to_json(),
        now.unix(),
        ingest,
    ])?;
    Ok(())
}

/// protocol.md §3.28: a new link must fit its author's chain as this node holds it. The held
/// links that could contradict it (the seqs either side, the one it names as previous, the one
/// that names it) are verified again and put in an [`AuthorChain`] with it. A contradiction is
/// stored as an equivocation proof (both links, exactly as signed) in its own transaction, and
/// the bundle is refused; the first link stays the one this node holds.
fn check_chain(
    conn: &Connection,
    roster: &Roster,
    link: &Verified<ChainLink>,
    now: Timestamp,
) -> Result<(), SharingError> {
    let l = link.value();
    let seq = i64::try_from(l.author_seq)
        .map_err(|_| SharingError::Refused(format!("author seq {} is too large", l.author_seq)))?;
    let (me, prev) = (link.id().to_hex(), l.prev.map(|p| p.to_hex()));
    // Three indexed lookups (not one OR, which SQLite answers by reading every link of the
    // author): the seqs either side, the link it names, the link that names it (`+author`
    // keeps the planner on `links_by_prev`).
    const NEIGHBOURS: &str = "
        SELECT author_seq, link_id, prev_link, envelope FROM links
            WHERE author = ?1 AND author_seq BETWEEN ?2 - 1 AND ?2 + 1
        UNION SELECT author_seq, link_id, prev_link, envelope FROM links
            WHERE link_id = ?3 AND author = ?1
        UNION SELECT author_seq, link_id, prev_link, envelope FROM links
            WHERE prev_link = ?4 AND +author = ?1
        ORDER BY 1";
    type Row = (i64, String, Option<String>, Vec<u8>);
    let neighbours: Vec<Row> = conn
        .prepare_cached(NEIGHBOURS)?
        .query_map(params![l.author.as_str(), seq, prev, me], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<Result<_, _>>()?;
    // The common case, read from the stored fields: every neighbour fits the new link exactly
    // as `AuthorChain::insert` would require, so there is nothing to contradict and no stored
    // link needs verifying again. Anything else takes the full, verified path below.
    let fits = neighbours.iter().all(|(s, id, p, _)| {
        let same_seq = *s == seq && *id == me;
        let before = *s == seq - 1 && Some(id) == prev.as_ref();
        let after = *s == seq + 1 && p.as_ref() == Some(&me);
        same_seq || before || after
    });
    if fits {
        return Ok(());
    }
    let mut chain = AuthorChain::new(l.author.clone());
    for (_, _, _, bytes) in neighbours {
        let env = Envelope::from_json(&bytes)
            .map_err(|e| StoreError::Invalid(format!("stored link: {e}")))?;
        // Verified when stored; one that no longer verifies (a key retired since, below its
        // tip) cannot be half of a proof anyone else could check, so it is left out.
        if let Ok(v) = bundle::verify_link(&env, roster) {
            let _ = chain.insert(v);
        }
    }
    let proof = match chain.insert(link.clone()) {
        Ok(_) => return Ok(()),
        Err(ChainError::Equivocation(proof)) => proof,
        Err(e) => return Err(SharingError::Refused(e.to_string())),
    };
    let (author, at) = proof.verify(roster)?;
    // Kept although the bundle is refused: inside a batch it commits with the batch.
    crate::store::atomically(conn, |tx| {
        equivocation_insert(tx, &author, at, &proof, now.unix())
    })?;
    Err(SharingError::Refused(match proof.as_ref() {
        EquivocationProof::SameSeq { first, .. } => format!(
            "chain link equivocation (same-seq): author {author} already has link {} at seq \
             {at}; the proof is stored (`debrief chains`)",
            first.id()
        ),
        EquivocationProof::BrokenPrev { .. } | EquivocationProof::Reordered { .. } => {
            let form = if matches!(proof.as_ref(), EquivocationProof::BrokenPrev { .. }) {
                "broken-prev"
            } else {
                "reordered"
            };
            format!(
                "chain link equivocation ({form}): author {author}'s link at seq {} does not \
                 fit the chain this node holds; the proof is stored (`debrief chains`)",
                l.author_seq
            )
        }
    }))
}

/// Verifies and stores one chain link on its own (protocol.md §3.19, §3.28): what sync does
/// with the `links` of a peer, so author chains stay gap-free even for RED bundles this node
/// may not see. Returns whether it was new. A link already held by id is not stored again; a
/// link that contradicts a held one is refused and its equivocation proof stored.
pub fn accept_link(
    circle: &mut Circle,
    env: &Envelope,
    now: Timestamp,
) -> Result<bool, SharingError> {
    accept_link_then(circle, env, now, &|_| Ok(()))
}

/// [`accept_link`], running `also` inside the transaction that stores the link.
pub fn accept_link_then(
    circle: &mut Circle,
    env: &Envelope,
    now: Timestamp,
    also: AlsoInTransaction<'_>,
) -> Result<bool, SharingError> {
    let link = bundle::verify_link(env, &circle.roster)?;
    let held = circle
        .store
        .conn()
        .query_row(
            "SELECT 1 FROM links WHERE link_id = ?1",
            [link.id().to_hex()],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if held {
        return Ok(false);
    }
    check_chain(circle.store.conn(), &circle.roster, &link, now)?;
    let tx = circle.store.transaction()?;
    insert_link(&tx, &link.id(), link.value(), link.envelope(), now)?;
    also(&tx)?;
    tx.commit()?;
    Ok(true)
}

/// Every run of author seqs missing below an author's highest held link (protocol.md §3.28),
/// per author: what sync asks peers for.
pub fn chain_gaps(circle: &Circle) -> Result<Vec<(MemberId, RangeInclusive<u64>)>, SharingError> {
    Ok(bundles::chain_gaps(circle.store.conn())?)
}

/// One author's chain as this node holds it (`debrief chains`).
#[derive(Debug, Clone, Serialize)]
pub struct ChainSummary {
    pub author: String,
    pub org: String,
    pub links: u64,
    pub highest: u64,
    /// The author's tip here: every link up to it is held (protocol.md §2.9).
    pub contiguous_to: u64,
    pub gaps: Vec<(u64, u64)>,
    /// Equivocation proofs held against this author: (form, seq).
    pub equivocations: Vec<(String, u64)>,
}

/// Every author's chain: links held, gaps and stored equivocation proofs.
pub fn chains(circle: &Circle) -> Result<Vec<ChainSummary>, SharingError> {
    let conn = circle.store.conn();
    let rows: Vec<(String, i64, i64)> = conn
        .prepare(
            "SELECT author, count(*), max(author_seq) FROM links GROUP BY author ORDER BY author",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let gaps = bundles::chain_gaps(conn)?;
    let proofs = bundles::equivocations(conn)?;
    let mut authors: BTreeSet<String> = rows.iter().map(|r| r.0.clone()).collect();
    authors.extend(proofs.iter().map(|p| p.author.to_string()));
    let mut out = Vec::new();
    for author in authors {
        let id: MemberId = author
            .parse()
            .map_err(|e| StoreError::Invalid(format!("stored author {author:?}: {e}")))?;
        let (links, highest) = rows
            .iter()
            .find(|r| r.0 == author)
            .map_or((0, 0), |r| (r.1 as u64, r.2 as u64));
        out.push(ChainSummary {
            org: circle
                .roster
                .member(&id)
                .map_or_else(|| "(former member)".to_owned(), |m| m.org.clone()),
            links,
            highest,
            contiguous_to: bundles::author_tip(conn, &id)?.seq,
            gaps: gaps
                .iter()
                .filter(|(a, _)| a == &id)
                .map(|(_, r)| (*r.start(), *r.end()))
                .collect(),
            equivocations: proofs
                .iter()
                .filter(|p| p.author == id)
                .map(|p| (p.form.to_owned(), p.author_seq))
                .collect(),
            author,
        });
    }
    Ok(out)
}

fn insert_plaintext(
    tx: &Connection,
    header_id: &EnvelopeId,
    c: &BundleContent,
) -> Result<(), SharingError> {
    let (kind, body) = match &c.body {
        BundleBody::Report(v) => {
            let bytes = canonical::to_canonical_vec(v)
                .map_err(|e| SharingError::Refused(format!("report body: {e}")))?;
            (
                "report",
                String::from_utf8(bytes).map_err(|e| SharingError::Refused(e.to_string()))?,
            )
        }
        BundleBody::Text(t) => ("text", t.clone()),
    };
    tx.prepare_cached(
        "INSERT OR REPLACE INTO plaintext (header_id, body_kind, body) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![header_id.to_hex(), kind, body])?;
    Ok(())
}

/// What we know about a held target bundle (protocol.md §3.26), with the recipients of every
/// bundle of its lineage.
fn target_info(
    circle: &Circle,
    header_id: &EnvelopeId,
) -> Result<Option<TargetInfo>, SharingError> {
    target_info_on(circle.store.conn(), header_id)
}

/// [`target_info`] on a connection (inside a batch, its transaction).
fn target_info_on(
    conn: &Connection,
    header_id: &EnvelopeId,
) -> Result<Option<TargetInfo>, SharingError> {
    let Some(h) = stored_header_on(conn, header_id)? else {
        return Ok(None);
    };
    let mut lineage: BTreeSet<MemberId> = BTreeSet::new();
    let mut stmt = conn.prepare_cached("SELECT recipients FROM bundles WHERE bundle_id = ?1")?;
    let rows = stmt.query_map([h.bundle.to_hex()], |r| r.get::<_, String>(0))?;
    for row in rows {
        let members: Vec<MemberId> = serde_json::from_str(&row?)
            .map_err(|e| StoreError::Invalid(format!("stored recipients unreadable: {e}")))?;
        lineage.extend(members);
    }
    Ok(Some(TargetInfo::from_header(
        *header_id,
        &h,
        lineage.into_iter().collect(),
    )))
}

/// The stored, verified outer header with this envelope id.
pub fn stored_header(
    circle: &Circle,
    header_id: &EnvelopeId,
) -> Result<Option<BundleHeader>, SharingError> {
    stored_header_on(circle.store.conn(), header_id)
}

fn stored_header_on(
    conn: &Connection,
    header_id: &EnvelopeId,
) -> Result<Option<BundleHeader>, SharingError> {
    let bytes: Option<Vec<u8>> = conn
        .prepare_cached("SELECT header FROM bundles WHERE header_id = ?1")?
        .query_row([header_id.to_hex()], |r| r.get(0))
        .optional()?;
    let Some(bytes) = bytes else { return Ok(None) };
    let env = Envelope::from_json(&bytes)
        .map_err(|e| StoreError::Invalid(format!("stored header {header_id} is corrupt: {e}")))?;
    // Verified when stored; read back without re-verifying the signature.
    let h: BundleHeader = env
        .unverified_payload()
        .map_err(|e| StoreError::Invalid(format!("stored header {header_id} is corrupt: {e}")))?;
    Ok(Some(h))
}

/// Rebuilds the derived rows of one report lineage (`reports`, factors, actions, search index)
/// from the latest readable version, and purges them if a retraction by the lineage's author
/// is held (protocol.md §3.30).
fn refresh_lineage(tx: &Connection, bundle_id: &str) -> Result<(), SharingError> {
    // Versions we can read, lowest first; the author of the lowest is the lineage's author.
    let mut stmt = tx.prepare_cached(
        // A reshare carries the same version as its target; for one version the report or
        // revision itself sorts last, so it is preferred when both are readable here.
        "SELECT b.header_id, b.version, b.author, b.tlp, b.created_at, p.body
         FROM bundles b JOIN plaintext p ON p.header_id = b.header_id
         WHERE b.bundle_id = ?1 AND b.kind IN ('report', 'revision', 'reshare')
             AND p.body_kind = 'report'
         ORDER BY b.version, b.kind != 'reshare', b.created_at",
    )?;
    let rows: Vec<(String, i64, String, String, i64, String)> = stmt
        .query_map([bundle_id], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    drop(stmt);
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let author = first.2.clone();
    let first_shared = first.4;
    let Some(latest) = rows.iter().rev().find(|r| r.2 == author) else {
        return Ok(());
    };
    let report = report_from_body(&latest.5)?;
    let retraction: Option<(String, i64, Option<String>)> = tx
        .prepare_cached(
            "SELECT b.header_id, b.created_at, p.body FROM bundles b
             LEFT JOIN plaintext p ON p.header_id = b.header_id
             WHERE b.kind = 'retraction' AND b.target_bundle = ?1 AND b.author = ?2
             ORDER BY b.created_at LIMIT 1",
        )?
        .query_row(params![bundle_id, author], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let report_date = report
        .timeline
        .started
        .known()
        .map_or(first_shared, |t| t.unix());
    tx.prepare_cached(
        "INSERT INTO reports (bundle_id, author, latest_header, latest_version, title, tlp,
             severity, significance, industry, report_date, first_shared_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (bundle_id) DO UPDATE SET latest_header = excluded.latest_header,
             latest_version = excluded.latest_version, title = excluded.title,
             tlp = excluded.tlp, severity = excluded.severity,
             significance = excluded.significance, industry = excluded.industry,
             report_date = excluded.report_date, updated_at = excluded.updated_at",
    )?
    .execute(params![
        bundle_id,
        author,
        latest.0,
        latest.1,
        report.title,
        latest.3,
        spell(&report.severity),
        spell(&report.significance),
        spell(&report.industry),
        report_date,
        first_shared,
        latest.4,
    ])?;
    let rowid: i64 = tx
        .prepare_cached("SELECT rowid FROM reports WHERE bundle_id = ?1")?
        .query_row([bundle_id], |r| r.get(0))?;
    tx.prepare_cached("DELETE FROM search_index WHERE rowid = ?1")?
        .execute([rowid])?;
    tx.prepare_cached("DELETE FROM report_factors WHERE bundle_id = ?1")?
        .execute([bundle_id])?;
    tx.prepare_cached("DELETE FROM report_actions WHERE bundle_id = ?1")?
        .execute([bundle_id])?;
    if let Some((retraction_header, at, reason)) = retraction {
        // protocol.md §3.30: purge every version's body and every index row; keep the title and
        // the notice, marked.
        tx.prepare_cached(
            "DELETE FROM plaintext WHERE header_id IN (
                 SELECT header_id FROM bundles WHERE bundle_id = ?1
                 AND kind IN ('report', 'revision', 'reshare'))",
        )?
        .execute([bundle_id])?;
        tx.prepare_cached(
            "UPDATE reports SET retracted_at = ?2, retraction_header = ?3, retraction_reason = ?4
             WHERE bundle_id = ?1",
        )?
        .execute(params![bundle_id, at, retraction_header, reason])?;
        return Ok(());
    }
    let mut body = String::new();
    for s in &report.sections {
        if s.name != SectionName::Summary {
            body.push_str(&s.text);
            body.push('\n');
        }
    }
    let factors: Vec<String> = report
        .factors
        .iter()
        .map(|f| {
            format!(
                "{} {} {}",
                spell(&f.category),
                spell(&f.role),
                f.description
            )
        })
        .collect();
    let actions: Vec<String> = report
        .actions
        .iter()
        .map(|a| format!("{} {} {}", spell(&a.pattern), a.owner_role, a.description))
        .collect();
    tx.prepare_cached(
        "INSERT INTO search_index (rowid, title, summary, body, factors, actions)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        rowid,
        report.title,
        report.summary(),
        body,
        factors.join("\n"),
        actions.join("\n")
    ])?;
    for f in &report.factors {
        tx.prepare_cached(
            "INSERT INTO report_factors (bundle_id, factor_id, category, role)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![bundle_id, f.id, spell(&f.category), spell(&f.role)])?;
    }
    for a in &report.actions {
        tx.prepare_cached(
            "INSERT INTO report_actions (bundle_id, action_id, kind, pattern, owner_role, status,
                 description) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            bundle_id,
            a.id,
            spell(&a.kind),
            spell(&a.pattern),
            a.owner_role,
            spell(&a.status),
            a.description
        ])?;
    }
    Ok(())
}

/// The spelling of a vocabulary value or marker (its JSON string form).
pub fn spell<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// Parses a stored report body (canonical JSON) back into a report.
pub fn report_from_body(body: &str) -> Result<Report, SharingError> {
    Report::from_canonical_json(body.as_bytes())
        .map_err(|e| SharingError::Store(StoreError::Invalid(format!("stored report: {e}"))))
}

/// Makes deletions final on disk: moves the WAL into the main file and truncates it, so no old
/// page with purged text stays in the `-wal` file (docs/threat-model.md, "Plaintext at rest").
pub fn checkpoint_truncate(circle: &Circle) -> Result<(), SharingError> {
    crash_point("retract-before-checkpoint");
    let (busy, _, _): (i64, i64, i64) =
        circle
            .store
            .conn()
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
    if busy != 0 {
        return Err(SharingError::Refused(
            "the WAL checkpoint could not complete (another process holds the store open); \
             run `debrief reindex` once it has stopped to finish the purge"
                .into(),
        ));
    }
    Ok(())
}

/// Stores a refused object in the bounded quarantine, keyed by SHA-256 of `bytes`.
pub fn quarantine(
    circle: &mut Circle,
    bytes: &[u8],
    reason: &str,
    source: &str,
    now: Timestamp,
) -> Result<String, SharingError> {
    let key = debrief_protocol::Sha256Digest::of(bytes).to_hex();
    let tx = circle.store.transaction()?;
    quarantine_insert(&tx, &key, bytes, reason, source, now.unix())?;
    tx.commit()?;
    Ok(key)
}

/// One quarantined object.
#[derive(Debug, Clone, Serialize)]
pub struct QuarantineEntry {
    pub key: String,
    pub reason: String,
    pub source: String,
    pub size: i64,
    pub first_seen: String,
    pub last_seen: String,
    pub times: i64,
}

/// The quarantine, newest first.
pub fn quarantine_list(circle: &Circle) -> Result<Vec<QuarantineEntry>, SharingError> {
    let mut stmt = circle.store.conn().prepare(
        "SELECT key, reason, source, length(bytes), first_seen, last_seen, times
         FROM quarantine ORDER BY last_seen DESC, key",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(QuarantineEntry {
            key: r.get(0)?,
            reason: r.get(1)?,
            source: r.get(2)?,
            size: r.get(3)?,
            first_seen: Timestamp::from_unix(r.get(4)?).to_string(),
            last_seen: Timestamp::from_unix(r.get(5)?).to_string(),
            times: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One quarantined object with its bytes, by key or unique key prefix.
pub fn quarantine_get(
    circle: &Circle,
    prefix: &str,
) -> Result<(QuarantineEntry, Vec<u8>), SharingError> {
    let all = quarantine_list(circle)?;
    let entry = unique(
        all.into_iter().filter(|e| e.key.starts_with(prefix)),
        prefix,
        "quarantined object",
    )?;
    let bytes: Vec<u8> = circle.store.conn().query_row(
        "SELECT bytes FROM quarantine WHERE key = ?1",
        [&entry.key],
        |r| r.get(0),
    )?;
    Ok((entry, bytes))
}

fn unique<T>(mut it: impl Iterator<Item = T>, prefix: &str, what: &str) -> Result<T, SharingError> {
    let first = it
        .next()
        .ok_or_else(|| SharingError::Refused(format!("no {what} matches {prefix:?}")))?;
    if it.next().is_some() {
        return Err(SharingError::Refused(format!(
            "{prefix:?} matches more than one {what}; give more characters"
        )));
    }
    Ok(first)
}

/// What an id on the command line named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// A bundle lineage (bundle id) we hold at least one bundle of.
    Bundle(String),
    /// A bundle object (header id) of which we hold only the chain link.
    LinkOnly(String),
}

/// Resolves a bundle id, object (header) id, or a unique prefix of either (at least 4 hex
/// characters).
pub fn resolve_id(circle: &Circle, text: &str) -> Result<Resolved, SharingError> {
    let p = text.trim().to_ascii_lowercase();
    if p.len() < 4 || !p.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(SharingError::Refused(format!(
            "{text:?} is not an id: give a bundle id or at least its first 4 hex characters"
        )));
    }
    let like = format!("{p}%");
    let conn = circle.store.conn();
    let mut found: BTreeSet<String> = BTreeSet::new();
    let mut stmt =
        conn.prepare("SELECT DISTINCT bundle_id FROM bundles WHERE bundle_id LIKE ?1")?;
    for r in stmt.query_map([&like], |r| r.get::<_, String>(0))? {
        found.insert(r?);
    }
    let mut stmt = conn.prepare("SELECT bundle_id FROM bundles WHERE header_id LIKE ?1")?;
    for r in stmt.query_map([&like], |r| r.get::<_, String>(0))? {
        found.insert(r?);
    }
    if found.len() > 1 {
        return Err(SharingError::Refused(format!(
            "{text:?} matches {} bundles; give more characters",
            found.len()
        )));
    }
    if let Some(b) = found.into_iter().next() {
        return Ok(Resolved::Bundle(b));
    }
    let links: Vec<String> = conn
        .prepare("SELECT header_id FROM links WHERE header_id LIKE ?1")?
        .query_map([&like], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    match links.len() {
        1 => Ok(Resolved::LinkOnly(
            links.into_iter().next().unwrap_or_default(),
        )),
        0 => Err(SharingError::Refused(format!(
            "no bundle with id {text:?} is held in this circle (`debrief list` shows what is)"
        ))),
        n => Err(SharingError::Refused(format!(
            "{text:?} matches {n} bundles; give more characters"
        ))),
    }
}

/// What to share: a report (or text) and its audience.
#[derive(Debug, Clone)]
pub struct ShareRequest {
    pub kind: BundleKind,
    /// The header id of the target, for every kind but `report`.
    pub target: Option<EnvelopeId>,
    pub tlp: Tlp,
    /// Named recipients (RED only; the author is always added).
    pub named: Vec<MemberId>,
    pub body: BundleBody,
    /// The lineage id: fresh for a report, retraction or comment; the target's for a revision.
    pub bundle_id: BundleId,
}

/// The outcome of [`share`].
#[derive(Debug, Clone, Serialize)]
pub struct Shared {
    pub bundle: String,
    pub object: String,
    pub version: u64,
    pub kind: BundleKind,
    pub tlp: Tlp,
    /// Recipients as (member id, org name), the author included.
    pub recipients: Vec<(String, String)>,
    /// Members admitted since this member's previous share (protocol.md §2, freshness).
    pub newly_admitted: Vec<(String, String)>,
}

/// Seals and stores a new bundle of ours: the next link of our author chain, checked like
/// everyone else's bundles except for decrypting what we have just encrypted (protocol.md
/// §3.33).
pub fn share(
    circle: &mut Circle,
    me: &MemberId,
    signer: &dyn Signer,
    identities: &[age::x25519::Identity],
    req: ShareRequest,
    now: Timestamp,
) -> Result<Shared, SharingError> {
    let fresh = circle
        .fresh_as_of(me, now)
        .map_err(|e| SharingError::Refused(e.to_string()))?;
    let Some(fresh) = fresh else {
        return Err(SharingError::Refused(
            "this node has no evidence that its roster is current (no checkpoint or head \
             comparison yet): sync with a peer or import a checkpoint, then retry"
                .into(),
        ));
    };
    // protocol.md §5.4: never sign an author seq a restored store may already have used.
    crate::sync::state::check_own_chain(circle, me, now).map_err(SharingError::Refused)?;
    let (seq, prev): (i64, Option<String>) = circle
        .store
        .conn()
        .query_row(
            "SELECT author_seq, link_id FROM links WHERE author = ?1
             ORDER BY author_seq DESC LIMIT 1",
            [me.as_str()],
            |r| Ok((r.get(0)?, Some(r.get(1)?))),
        )
        .optional()?
        .unwrap_or((0, None));
    let prev = prev
        .map(|p| p.parse::<EnvelopeId>())
        .transpose()
        .map_err(|e| StoreError::Invalid(format!("stored link id: {e}")))?;
    let target =
        match req.target {
            Some(t) => Some(target_info(circle, &t)?.ok_or_else(|| {
                SharingError::Refused(format!("the target bundle {t} is not held"))
            })?),
            None => None,
        };
    let sealed = bundle::seal_own(SealRequest {
        roster: &circle.roster,
        roster_fresh_as_of: fresh,
        max_roster_age_secs: circle.roster.policy().max_roster_age_secs,
        author: me.clone(),
        signer,
        author_seq: seq as u64 + 1,
        prev_link: prev,
        bundle_id: req.bundle_id,
        kind: req.kind,
        target: target.as_ref(),
        tlp: req.tlp,
        named: req.named,
        body: req.body,
        now,
    })?;
    let object = sealed.object();
    let header: BundleHeader = object
        .header()
        .unverified_payload()
        .map_err(|e| SharingError::Refused(e.to_string()))?;
    // Read before this share records its own roster seq.
    let last: Option<String> = circle.store.meta("last_share_roster_seq")?;
    // protocol.md §3.33: stored after every check a receiver makes but the decryption.
    let source = Source::Own {
        sealed: &sealed,
        identities,
    };
    let ready = match check_bundle(circle.store.conn(), &circle.roster, me, source, now)? {
        Checked::Ready(ready) => ready,
        Checked::Held(_) => {
            return Err(SharingError::Refused(format!(
                "the bundle just sealed, {}, is already stored",
                object.id()
            )));
        }
    };
    // The bundle and the roster seq it was shared at, in one transaction.
    crate::store::atomically(circle.store.conn(), |tx| {
        write_bundle(tx, object, &ready, now)?;
        crate::store::circle::set_meta(
            tx,
            "last_share_roster_seq",
            &header.roster.seq.to_string(),
        )?;
        Ok::<_, SharingError>(())
    })?;
    after_commit(circle, &[&ready])?;
    let name = |m: &MemberId| {
        circle
            .roster
            .member(m)
            .map_or_else(|| "(former member)".to_owned(), |x| x.org.clone())
    };
    let recipients = header
        .recipients
        .iter()
        .map(|r| (r.member.to_string(), name(&r.member)))
        .collect();
    let mut newly_admitted = Vec::new();
    if let Some(last) = last.and_then(|s| s.parse::<u64>().ok()) {
        let before: BTreeSet<MemberId> = circle
            .roster
            .members_at(last)
            .into_iter()
            .map(|m| m.member)
            .collect();
        for m in circle.roster.members_at(header.roster.seq) {
            if !before.contains(&m.member) {
                newly_admitted.push((m.member.to_string(), m.org));
            }
        }
    }
    Ok(Shared {
        bundle: header.bundle.to_hex(),
        object: object.id().to_hex(),
        version: header.version,
        kind: header.kind,
        tlp: header.tlp,
        recipients,
        newly_admitted,
    })
}

/// A fresh random bundle id.
pub fn new_bundle_id() -> BundleId {
    use rand::RngCore as _;
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    BundleId(b)
}

/// Converts a report's TLP label to the bundle's (same spellings).
pub fn bundle_tlp(t: report::Tlp) -> Tlp {
    match t {
        report::Tlp::Clear => Tlp::Clear,
        report::Tlp::Green => Tlp::Green,
        report::Tlp::Amber => Tlp::Amber,
        report::Tlp::AmberStrict => Tlp::AmberStrict,
        report::Tlp::Red => Tlp::Red,
    }
}

/// The latest version of a report lineage: (header id, header) — the highest version by the
/// lineage's author (protocol.md §3.31).
pub fn latest_version(
    circle: &Circle,
    bundle_id: &str,
) -> Result<(EnvelopeId, BundleHeader), SharingError> {
    let id: Option<String> = circle
        .store
        .conn()
        .query_row(
            "SELECT header_id FROM bundles WHERE bundle_id = ?1
             AND kind IN ('report', 'revision') ORDER BY version DESC LIMIT 1",
            [bundle_id],
            |r| r.get(0),
        )
        .optional()?;
    let id = id.ok_or_else(|| {
        SharingError::Refused(format!(
            "bundle {bundle_id} is not a report this node holds"
        ))
    })?;
    let id: EnvelopeId = id
        .parse()
        .map_err(|e| StoreError::Invalid(format!("stored header id: {e}")))?;
    let h = stored_header(circle, &id)?
        .ok_or_else(|| SharingError::Refused(format!("bundle {bundle_id} is not held")))?;
    Ok((id, h))
}

/// The latest version of lineage `bundle_id` when it is ours and not retracted: only the author
/// may revise, retract or reshare a report (protocol.md §3.16, §3.26), and a retracted one is
/// never sent again. `verb` names the action in the refusal ("revise", "retract", "reshare").
fn own_live_lineage(
    circle: &Circle,
    me: &MemberId,
    bundle_id: &str,
    verb: &str,
) -> Result<(EnvelopeId, BundleHeader), SharingError> {
    let (target, h) = latest_version(circle, bundle_id)?;
    if &h.author != me {
        return Err(SharingError::Refused(format!(
            "only the author of a report may {verb} it (protocol.md §3.26); {bundle_id} is by {}",
            h.author
        )));
    }
    if retracted(circle, bundle_id)? {
        return Err(SharingError::Refused(format!(
            "{bundle_id} was retracted; a retracted report cannot be changed or sent again"
        )));
    }
    Ok((target, h))
}

/// Shares `report` as a new lineage (kind `report`, a fresh bundle id) from the member whose
/// keys are `identity`: what `debrief share FILE` does once the flags are checked.
pub fn share_new_report(
    circle: &mut Circle,
    identity: &debrief_keys::Identity,
    report: &Report,
    tlp: Tlp,
    named: Vec<MemberId>,
    now: Timestamp,
) -> Result<Shared, SharingError> {
    let body = report_body(report)?;
    share(
        circle,
        &identity.member_id(),
        identity,
        &identity.age_identities(),
        ShareRequest {
            kind: BundleKind::Report,
            target: None,
            tlp,
            named,
            body,
            bundle_id: new_bundle_id(),
        },
        now,
    )
}

/// Shares a new version of our own report (protocol.md §3.16: same bundle id, version + 1, to
/// the same audience).
pub fn revise(
    circle: &mut Circle,
    me: &MemberId,
    signer: &dyn Signer,
    identities: &[age::x25519::Identity],
    bundle_id: &str,
    report: &Report,
    now: Timestamp,
) -> Result<Shared, SharingError> {
    let (target, h) = own_live_lineage(circle, me, bundle_id, "revise")?;
    let tlp = bundle_tlp(report.tlp);
    if tlp != h.tlp {
        return Err(SharingError::Refused(format!(
            "a revision keeps its report's TLP ({}); the new file says {tlp}: share it as a new \
             report to change the audience",
            h.tlp
        )));
    }
    let body = report_body(report)?;
    let named = named_of(&h, me);
    share(
        circle,
        me,
        signer,
        identities,
        ShareRequest {
            kind: BundleKind::Revision,
            target: Some(target),
            tlp,
            named,
            body,
            bundle_id: h.bundle,
        },
        now,
    )
}

/// Retracts our own report (protocol.md §3.30): a signed notice to every reader any version
/// had; the body is purged here at once, and on every node the notice reaches.
pub fn retract(
    circle: &mut Circle,
    me: &MemberId,
    signer: &dyn Signer,
    identities: &[age::x25519::Identity],
    bundle_id: &str,
    reason: &str,
    now: Timestamp,
) -> Result<Shared, SharingError> {
    let (target, h) = own_live_lineage(circle, me, bundle_id, "retract")?;
    let named = if h.tlp == Tlp::Red {
        let info = target_info(circle, &target)?
            .ok_or_else(|| SharingError::Refused("target vanished".into()))?;
        let (seq, _) = circle.roster.head();
        info.lineage_recipients
            .into_iter()
            .filter(|m| m != me && circle.roster.member_at(seq, m).is_some())
            .collect()
    } else {
        Vec::new()
    };
    share(
        circle,
        me,
        signer,
        identities,
        ShareRequest {
            kind: BundleKind::Retraction,
            target: Some(target),
            tlp: h.tlp,
            named,
            body: BundleBody::Text(reason.to_owned()),
            bundle_id: new_bundle_id(),
        },
        now,
    )
}

/// The outcome of [`reshare`].
#[derive(Debug, Clone, Serialize)]
pub struct Reshared {
    #[serde(flatten)]
    pub shared: Shared,
    /// Members who can read this version now and could not before: (member id, org name).
    pub new_readers: Vec<(String, String)>,
}

/// Sends the latest version of our own report again, unchanged, to members who could not read
/// it (protocol.md §3.16, §3.26: a `reshare` keeps the target's bundle id, version and TLP; only
/// its author may send one). A circle-wide report goes to every current member, so every
/// member admitted since it was shared can read it; a RED one goes to the `to` members only.
/// `to` must name at least one current member who cannot read the version yet.
pub fn reshare(
    circle: &mut Circle,
    me: &MemberId,
    signer: &dyn Signer,
    identities: &[age::x25519::Identity],
    bundle_id: &str,
    to: &[MemberId],
    now: Timestamp,
) -> Result<Reshared, SharingError> {
    let (target, h) = own_live_lineage(circle, me, bundle_id, "reshare")?;
    if to.is_empty() {
        return Err(SharingError::Refused(
            "name the members to reshare to (--to MEMBER)".into(),
        ));
    }
    let body: Option<String> = circle
        .store
        .conn()
        .query_row(
            "SELECT body FROM plaintext WHERE header_id = ?1 AND body_kind = 'report'",
            [target.to_hex()],
            |r| r.get(0),
        )
        .optional()?;
    let body = body.ok_or_else(|| {
        SharingError::Refused(format!(
            "the content of version {} of {bundle_id} is not held here; run `debrief reindex`",
            h.version
        ))
    })?;
    let body: serde_json::Value = serde_json::from_str(&body)
        .map_err(|e| StoreError::Invalid(format!("stored report: {e}")))?;
    // Who can read this version already: the recipients of it and of every reshare of it.
    let mut readers: BTreeSet<MemberId> = BTreeSet::new();
    let mut stmt = circle.store.conn().prepare(
        "SELECT recipients FROM bundles WHERE bundle_id = ?1 AND version = ?2
         AND kind IN ('report', 'revision', 'reshare')",
    )?;
    for row in stmt.query_map(params![bundle_id, h.version as i64], |r| {
        r.get::<_, String>(0)
    })? {
        let members: Vec<MemberId> = serde_json::from_str(&row?)
            .map_err(|e| StoreError::Invalid(format!("stored recipients: {e}")))?;
        readers.extend(members);
    }
    drop(stmt);
    let (head, _) = circle.roster.head();
    for m in to {
        if circle.roster.member_at(head, m).is_none() {
            return Err(SharingError::Refused(format!(
                "{m} is not a current member of the circle"
            )));
        }
        if readers.contains(m) {
            return Err(SharingError::Refused(format!(
                "{} ({m}) can already read version {} of {bundle_id}",
                circle
                    .roster
                    .member(m)
                    .map_or_else(|| "?".to_owned(), |x| x.org.clone()),
                h.version
            )));
        }
    }
    let named = if h.tlp == Tlp::Red {
        to.to_vec()
    } else {
        Vec::new()
    };
    let shared = share(
        circle,
        me,
        signer,
        identities,
        ShareRequest {
            kind: BundleKind::Reshare,
            target: Some(target),
            tlp: h.tlp,
            named,
            body: BundleBody::Report(body),
            bundle_id: h.bundle,
        },
        now,
    )?;
    let new_readers = shared
        .recipients
        .iter()
        .filter(|(id, _)| !readers.iter().any(|r| r.as_str() == id))
        .cloned()
        .collect();
    Ok(Reshared {
        shared,
        new_readers,
    })
}

/// The newest version of a lineage this member can read: the report or revision itself, or a
/// reshare of it sent to us later (header id, header).
pub fn readable_version(
    circle: &Circle,
    bundle_id: &str,
) -> Result<Option<(EnvelopeId, BundleHeader)>, SharingError> {
    let id: Option<String> = circle
        .store
        .conn()
        .query_row(
            "SELECT header_id FROM bundles WHERE bundle_id = ?1 AND readable = 1
             AND kind IN ('report', 'revision', 'reshare')
             ORDER BY version DESC, kind != 'reshare' DESC LIMIT 1",
            [bundle_id],
            |r| r.get(0),
        )
        .optional()?;
    let Some(id) = id else { return Ok(None) };
    let id: EnvelopeId = id
        .parse()
        .map_err(|e| StoreError::Invalid(format!("stored header id: {e}")))?;
    Ok(stored_header(circle, &id)?.map(|h| (id, h)))
}

/// One comment of a thread, as [`comment_thread`] returns it.
#[derive(Debug, Clone, Serialize)]
pub struct ThreadComment {
    /// 0 for a comment on the report, 1 for a reply to such a comment, and so on.
    pub depth: usize,
    /// The comment's own bundle id (replies target it).
    pub bundle: String,
    pub author: String,
    pub created_at: i64,
    /// The text, when this member is among the comment's recipients.
    pub text: Option<String>,
}

/// Deepest reply level [`comment_thread`] follows; deeper replies are not shown.
const MAX_THREAD_DEPTH: usize = 32;

/// The comments on `target_bundle`, depth first, oldest first at each level.
pub fn comment_thread(
    circle: &Circle,
    target_bundle: &str,
) -> Result<Vec<ThreadComment>, SharingError> {
    let mut out = Vec::new();
    thread_into(circle, target_bundle, 0, &mut out)?;
    Ok(out)
}

fn thread_into(
    circle: &Circle,
    target_bundle: &str,
    depth: usize,
    out: &mut Vec<ThreadComment>,
) -> Result<(), SharingError> {
    if depth > MAX_THREAD_DEPTH {
        return Ok(());
    }
    let rows: Vec<(String, String, String, i64)> = circle
        .store
        .conn()
        .prepare(
            "SELECT header_id, bundle_id, author, created_at FROM bundles
             WHERE kind = 'comment' AND target_bundle = ?1 ORDER BY created_at, header_id",
        )?
        .query_map([target_bundle], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<Result<_, _>>()?;
    for (header, bundle, author, created_at) in rows {
        let text = text_body(circle, &header)?;
        out.push(ThreadComment {
            depth,
            bundle: bundle.clone(),
            author,
            created_at,
            text,
        });
        thread_into(circle, &bundle, depth + 1, out)?;
    }
    Ok(())
}

/// Comments on a report (or on a comment): to the parent's audience (protocol.md §3.26, a subset
/// of its recipients).
pub fn comment(
    circle: &mut Circle,
    me: &MemberId,
    signer: &dyn Signer,
    identities: &[age::x25519::Identity],
    bundle_id: &str,
    text: &str,
    now: Timestamp,
) -> Result<Shared, SharingError> {
    let (target, h) = match latest_version(circle, bundle_id) {
        // A version shared with us only by a reshare: comment on the reshare (§3.26 allows it).
        Ok((_, h)) if !h.is_recipient(me) => {
            readable_version(circle, bundle_id)?.ok_or_else(|| {
                SharingError::Refused("you cannot comment on what you cannot read".into())
            })?
        }
        Ok(x) => x,
        Err(_) => {
            // A comment: its own (only) bundle.
            let id: String = circle
                .store
                .conn()
                .query_row(
                    "SELECT header_id FROM bundles WHERE bundle_id = ?1 AND kind = 'comment'",
                    [bundle_id],
                    |r| r.get(0),
                )
                .optional()?
                .ok_or_else(|| {
                    SharingError::Refused(format!("{bundle_id} is not a report or comment"))
                })?;
            let id: EnvelopeId = id
                .parse()
                .map_err(|e| StoreError::Invalid(format!("stored header id: {e}")))?;
            let h = stored_header(circle, &id)?
                .ok_or_else(|| SharingError::Refused("comment vanished".into()))?;
            (id, h)
        }
    };
    let (seq, _) = circle.roster.head();
    let named: Vec<MemberId> = if h.tlp == Tlp::Red {
        h.recipient_members()
            .into_iter()
            .filter(|m| m != me && circle.roster.member_at(seq, m).is_some())
            .collect()
    } else {
        Vec::new()
    };
    if !h.is_recipient(me) {
        return Err(SharingError::Refused(
            "you cannot comment on what you cannot read".into(),
        ));
    }
    share(
        circle,
        me,
        signer,
        identities,
        ShareRequest {
            kind: BundleKind::Comment,
            target: Some(target),
            tlp: h.tlp,
            named,
            body: BundleBody::Text(text.to_owned()),
            bundle_id: new_bundle_id(),
        },
        now,
    )
}

fn named_of(h: &BundleHeader, me: &MemberId) -> Vec<MemberId> {
    if h.tlp == Tlp::Red {
        h.recipient_members()
            .into_iter()
            .filter(|m| m != me)
            .collect()
    } else {
        Vec::new()
    }
}

/// The body of a report bundle: the report's canonical JSON as a value.
pub fn report_body(report: &Report) -> Result<BundleBody, SharingError> {
    let bytes = report
        .to_canonical_json()
        .map_err(|e| SharingError::Refused(format!("cannot encode the report: {e}")))?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| SharingError::Refused(format!("cannot encode the report: {e}")))?;
    Ok(BundleBody::Report(value))
}

/// Whether a lineage was retracted.
pub fn retracted(circle: &Circle, bundle_id: &str) -> Result<bool, SharingError> {
    Ok(circle
        .store
        .conn()
        .query_row(
            "SELECT retracted_at IS NOT NULL FROM reports WHERE bundle_id = ?1",
            [bundle_id],
            |r| r.get::<_, bool>(0),
        )
        .optional()?
        .unwrap_or(false))
}

/// Rebuilds the plaintext cache, the search index and the derived tables from the stored signed
/// bytes and the keystore. Never restores a retracted lineage's body. Returns how many bundles
/// were decrypted.
pub fn reindex(
    circle: &mut Circle,
    me: &MemberId,
    identities: &[age::x25519::Identity],
    now: Timestamp,
) -> Result<usize, SharingError> {
    let rows: Vec<(String, String, String, Parts)> = circle
        .store
        .conn()
        .prepare(
            "SELECT b.header_id, b.bundle_id, b.kind, l.envelope, b.header, b.ciphertext
             FROM bundles b JOIN links l ON l.header_id = b.header_id
             WHERE b.readable = 1 ORDER BY b.ingest_seq",
        )?
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                (r.get(3)?, r.get(4)?, r.get(5)?),
            ))
        })?
        .collect::<Result<_, _>>()?;
    let retracted_lineages: BTreeSet<String> = circle
        .store
        .conn()
        .prepare("SELECT bundle_id FROM reports WHERE retracted_at IS NOT NULL")?
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    let mut opened = Vec::new();
    for (header_id, bundle_id, kind, (link, header, ct)) in rows {
        if retracted_lineages.contains(&bundle_id) && kind != "retraction" && kind != "comment" {
            continue;
        }
        let obj = object_from_parts(&link, &header, ct)?;
        let o = bundle::open(&obj, &circle.roster, me, identities, now)?;
        opened.push((header_id, bundle_id, o.content().value().clone()));
    }
    let tx = circle.store.transaction()?;
    tx.execute("DELETE FROM search_index", [])?;
    tx.execute("DELETE FROM report_factors", [])?;
    tx.execute("DELETE FROM report_actions", [])?;
    tx.execute("DELETE FROM plaintext", [])?;
    let mut lineages = BTreeSet::new();
    for (header_id, bundle_id, content) in &opened {
        let id: EnvelopeId = header_id
            .parse()
            .map_err(|e| StoreError::Invalid(format!("stored header id: {e}")))?;
        insert_plaintext(&tx, &id, content)?;
        lineages.insert(match (&content.kind, &content.target) {
            (BundleKind::Retraction, Some(t)) => t.bundle.to_hex(),
            _ => bundle_id.clone(),
        });
    }
    for l in &lineages {
        refresh_lineage(&tx, l)?;
    }
    tx.commit()?;
    checkpoint_truncate(circle)?;
    Ok(opened.len())
}

fn object_from_parts(
    link: &[u8],
    header: &[u8],
    ct: Vec<u8>,
) -> Result<BundleObject, SharingError> {
    let bad =
        |e: debrief_protocol::EnvelopeError| StoreError::Invalid(format!("stored envelope: {e}"));
    Ok(BundleObject::new(
        Envelope::from_json(link).map_err(bad)?,
        Envelope::from_json(header).map_err(bad)?,
        ct,
    ))
}

/// Bundle objects for export (JSON Lines, DESIGN §3), in ingest order so targets come before
/// what acts on them. `lineages` limits the export to those bundle ids and every bundle that
/// targets them (revisions, retractions, comments); empty means everything held.
pub fn export_objects(
    circle: &Circle,
    lineages: &[String],
) -> Result<Vec<BundleObject>, SharingError> {
    let rows: Vec<(String, String, Option<String>, Parts)> = circle
        .store
        .conn()
        .prepare(
            "SELECT b.bundle_id, b.kind, b.target_bundle, l.envelope, b.header, b.ciphertext
             FROM bundles b JOIN links l ON l.header_id = b.header_id ORDER BY b.ingest_seq",
        )?
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                (r.get(3)?, r.get(4)?, r.get(5)?),
            ))
        })?
        .collect::<Result<_, _>>()?;
    let mut wanted: BTreeSet<String> = lineages.iter().cloned().collect();
    let mut out = Vec::new();
    for (bundle_id, _kind, target, (link, header, ct)) in rows {
        if !lineages.is_empty() {
            let hit =
                wanted.contains(&bundle_id) || target.as_ref().is_some_and(|t| wanted.contains(t));
            if !hit {
                continue;
            }
            // Replies to comments of a wanted lineage follow them.
            wanted.insert(bundle_id.clone());
        }
        out.push(object_from_parts(&link, &header, ct)?);
    }
    Ok(out)
}

/// The outcome of importing one line of an export file.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum ImportLine {
    Accepted {
        line: usize,
        accepted: Accepted,
    },
    Quarantined {
        line: usize,
        key: String,
        reason: String,
    },
    /// Names a roster seq beyond ours (protocol.md §3.4): import again after a roster sync.
    Deferred {
        line: usize,
        reason: String,
    },
}

/// Imports a JSON Lines file of bundle objects held in memory; see [`import_stream`], which
/// callers reading a file should use instead (it never holds more than one line).
pub fn import_objects(
    circle: &mut Circle,
    me: &MemberId,
    identities: &[age::x25519::Identity],
    data: &[u8],
    source: &str,
    now: Timestamp,
) -> Result<Vec<ImportLine>, SharingError> {
    let mut out = Vec::new();
    import_stream(circle, me, identities, data, source, now, |l| out.push(l))?;
    Ok(out)
}

/// The longest line [`import_stream`] reads whole: no valid bundle object is longer.
pub const MAX_IMPORT_LINE_BYTES: usize = bundle::MAX_BUNDLE_OBJECT_BYTES;

/// Lines [`import_stream`] accepts in one transaction (protocol.md §3.29, batches), unless
/// [`IMPORT_BATCH_BYTES`] is reached first.
pub const IMPORT_BATCH_LINES: usize = 64;

/// Bytes of lines past which [`import_stream`] commits the batch it holds.
pub const IMPORT_BATCH_BYTES: usize = 8 * 1024 * 1024;

/// Imports JSON Lines of bundle objects from `reader`: each line is accepted, recognised as
/// held, deferred or quarantined, and its outcome handed to `on_line`, in line order, once the
/// batch holding it has committed; one bad line never stops the others. Lines are accepted
/// [`IMPORT_BATCH_LINES`] to a transaction (`accept_bundles`), so
/// memory stays bounded by one batch ([`IMPORT_BATCH_BYTES`] plus one line of at most
/// [`MAX_IMPORT_LINE_BYTES`]; a longer line is quarantined by its first bytes and skipped),
/// whatever the length of the export (docs/benchmarks.md, "memory"). Returns how many lines were
/// read.
pub fn import_stream<R: std::io::BufRead>(
    circle: &mut Circle,
    me: &MemberId,
    identities: &[age::x25519::Identity],
    mut reader: R,
    source: &str,
    now: Timestamp,
    mut on_line: impl FnMut(ImportLine),
) -> Result<usize, SharingError> {
    use std::io::{BufRead as _, Read as _};
    let read_err = |e: std::io::Error| SharingError::Refused(format!("cannot read {source}: {e}"));
    // (line number, the line without its end) of the batch not yet committed.
    let mut batch: Vec<(usize, Vec<u8>)> = Vec::new();
    let mut batch_bytes = 0;
    let mut line = Vec::new();
    let mut line_no = 0;
    loop {
        line.clear();
        let limit = MAX_IMPORT_LINE_BYTES as u64 + 1;
        let n = reader
            .by_ref()
            .take(limit)
            .read_until(b'\n', &mut line)
            .map_err(read_err)?;
        if n == 0 {
            import_batch(circle, me, identities, &batch, source, now, &mut on_line)?;
            return Ok(line_no);
        }
        line_no += 1;
        let overlong = line.last() != Some(&b'\n') && line.len() > MAX_IMPORT_LINE_BYTES;
        if overlong {
            // Skip the rest of the line without holding it.
            loop {
                let buf = reader.fill_buf().map_err(read_err)?;
                if buf.is_empty() {
                    break;
                }
                match buf.iter().position(|b| *b == b'\n') {
                    Some(i) => {
                        reader.consume(i + 1);
                        break;
                    }
                    None => {
                        let len = buf.len();
                        reader.consume(len);
                    }
                }
            }
            // Outcomes stay in line order: the lines before this one are committed first.
            import_batch(circle, me, identities, &batch, source, now, &mut on_line)?;
            (batch, batch_bytes) = (Vec::new(), 0);
            let reason = format!(
                "line longer than {MAX_IMPORT_LINE_BYTES} bytes, more than any bundle object; \
                 its first bytes are kept"
            );
            let key = quarantine(circle, &line, &reason, &format!("{source}:{line_no}"), now)?;
            on_line(ImportLine::Quarantined {
                line: line_no,
                key,
                reason,
            });
            continue;
        }
        let body = line.strip_suffix(b"\n").unwrap_or(&line);
        let trimmed = body.strip_suffix(b"\r").unwrap_or(body);
        if trimmed.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        batch_bytes += trimmed.len();
        batch.push((line_no, trimmed.to_vec()));
        if batch.len() >= IMPORT_BATCH_LINES || batch_bytes >= IMPORT_BATCH_BYTES {
            import_batch(circle, me, identities, &batch, source, now, &mut on_line)?;
            (batch, batch_bytes) = (Vec::new(), 0);
        }
    }
}

/// Accepts one batch of import lines in one transaction, then quarantines the refused ones and
/// reports every line's outcome in order.
fn import_batch(
    circle: &mut Circle,
    me: &MemberId,
    identities: &[age::x25519::Identity],
    batch: &[(usize, Vec<u8>)],
    source: &str,
    now: Timestamp,
    on_line: &mut impl FnMut(ImportLine),
) -> Result<(), SharingError> {
    if batch.is_empty() {
        return Ok(());
    }
    let objects: Vec<&[u8]> = batch.iter().map(|(_, b)| b.as_slice()).collect();
    let results = accept_bundles(circle, me, identities, &objects, now, &|_, _| Ok(()))?;
    for ((line_no, bytes), result) in batch.iter().zip(results) {
        let line = *line_no;
        match result {
            Ok(accepted) => on_line(ImportLine::Accepted { line, accepted }),
            Err(SharingError::Store(e)) => return Err(SharingError::Store(e)),
            // protocol.md §3.4: not a bad bundle, only one from a roster we have not reached
            // yet; it is not quarantined and is accepted once the roster is synced.
            Err(SharingError::Rejected(e @ BundleError::RosterBehind { .. })) => {
                on_line(ImportLine::Deferred {
                    line,
                    reason: e.to_string(),
                });
            }
            Err(e) => {
                let reason = e.to_string();
                let key = quarantine(circle, bytes, &reason, &format!("{source}:{line}"), now)?;
                on_line(ImportLine::Quarantined { line, key, reason });
            }
        }
    }
    Ok(())
}

/// One feed entry for a peer: a bundle header it may see, with its ingest cursor.
#[derive(Debug, Clone)]
pub struct FeedEntry {
    pub ingest_seq: i64,
    pub object: EnvelopeId,
    pub header: Envelope,
}

/// Chain links stored after `cursor` (ingest seq), oldest first, at most `limit`. Every member
/// may see every link (protocol.md §3).
pub fn links_after(
    circle: &Circle,
    cursor: i64,
    limit: usize,
) -> Result<Vec<(i64, Envelope)>, SharingError> {
    let rows: Vec<(i64, Vec<u8>)> = circle
        .store
        .conn()
        .prepare("SELECT ingest_seq, envelope FROM links WHERE ingest_seq > ?1 ORDER BY ingest_seq LIMIT ?2")?
        .query_map(params![cursor, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(|(s, b)| {
            Envelope::from_json(&b)
                .map(|e| (s, e))
                .map_err(|e| SharingError::Store(StoreError::Invalid(format!("stored link: {e}"))))
        })
        .collect()
}

/// Headers stored after `cursor` that `viewer` may see (RED only to its recipients, protocol.md
/// §3.32), oldest
/// first, at most `limit`, and the cursor to resume from (the last row looked at, so hidden rows
/// are not scanned again).
pub fn feed_after(
    circle: &Circle,
    viewer: &MemberId,
    cursor: i64,
    limit: usize,
) -> Result<(Vec<FeedEntry>, i64), SharingError> {
    let mut next = cursor;
    let mut out = Vec::new();
    let mut stmt = circle.store.conn().prepare(
        "SELECT ingest_seq, header_id, tlp, recipients, header FROM bundles
         WHERE ingest_seq > ?1 ORDER BY ingest_seq LIMIT 500",
    )?;
    loop {
        let rows: Vec<(i64, String, String, String, Vec<u8>)> = stmt
            .query_map([next], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<Result<_, _>>()?;
        if rows.is_empty() {
            return Ok((out, next));
        }
        for (seq, id, tlp, recipients, header) in rows {
            next = seq;
            if !visible(viewer, &tlp, &recipients)? {
                continue;
            }
            let bad = |e: String| SharingError::Store(StoreError::Invalid(e));
            out.push(FeedEntry {
                ingest_seq: seq,
                object: id.parse().map_err(|e| bad(format!("stored id: {e}")))?,
                header: Envelope::from_json(&header)
                    .map_err(|e| bad(format!("stored header: {e}")))?,
            });
            if out.len() >= limit {
                return Ok((out, next));
            }
        }
    }
}

fn visible(viewer: &MemberId, tlp: &str, recipients: &str) -> Result<bool, SharingError> {
    if tlp != Tlp::Red.as_str() {
        return Ok(true);
    }
    let members: Vec<MemberId> = serde_json::from_str(recipients)
        .map_err(|e| StoreError::Invalid(format!("stored recipients: {e}")))?;
    Ok(members.contains(viewer))
}

/// The bundle object with this outer-header envelope id, if held and `viewer` may see it
/// (protocol.md §3.32).
pub fn bundle_object(
    circle: &Circle,
    object: &EnvelopeId,
    viewer: &MemberId,
) -> Result<Option<BundleObject>, SharingError> {
    let row: Option<(String, String, Parts)> = circle
        .store
        .conn()
        .query_row(
            "SELECT b.tlp, b.recipients, l.envelope, b.header, b.ciphertext
             FROM bundles b JOIN links l ON l.header_id = b.header_id WHERE b.header_id = ?1",
            [object.to_hex()],
            |r| Ok((r.get(0)?, r.get(1)?, (r.get(2)?, r.get(3)?, r.get(4)?))),
        )
        .optional()?;
    let Some((tlp, recipients, (link, header, ct))) = row else {
        return Ok(None);
    };
    if !visible(viewer, &tlp, &recipients)? {
        return Ok(None);
    }
    Ok(Some(object_from_parts(&link, &header, ct)?))
}

/// A decrypted comment or notice body, if held.
pub fn text_body(circle: &Circle, header_id: &str) -> Result<Option<String>, SharingError> {
    Ok(circle
        .store
        .conn()
        .query_row(
            "SELECT body FROM plaintext WHERE header_id = ?1 AND body_kind = 'text'",
            [header_id],
            |r| r.get(0),
        )
        .optional()?)
}

/// The stored report JSON of a version, if held (and not purged).
pub fn report_of(circle: &Circle, header_id: &str) -> Result<Option<Report>, SharingError> {
    let body: Option<String> = circle
        .store
        .conn()
        .query_row(
            "SELECT body FROM plaintext WHERE header_id = ?1 AND body_kind = 'report'",
            [header_id],
            |r| r.get(0),
        )
        .optional()?;
    body.map(|b| report_from_body(&b)).transpose()
}

/// A stored field that is `Field<T>`: its known value or marker spelling.
pub fn field_text<T: Serialize>(f: &Field<T>) -> String {
    spell(f)
}
