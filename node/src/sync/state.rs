//! Sync bookkeeping in the circle store (migration v6): cursors per peer, and the last
//! contact with each peer (`debrief status`).

use debrief_protocol::{MemberId, Timestamp};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::node::Circle;
use crate::store::StoreError;

/// Which cursor of a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorKind {
    /// The peer's `links` cursor (opaque, the peer's).
    Links,
    /// The peer's `feed` cursor (opaque, the peer's).
    Feed,
    /// Our own ingest seq up to which our bundles were offered to the peer.
    Offer,
}

impl CursorKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            CursorKind::Links => "links",
            CursorKind::Feed => "feed",
            CursorKind::Offer => "offer",
        }
    }
}

/// The saved cursor, if any.
pub fn cursor(
    circle: &Circle,
    peer: &MemberId,
    kind: CursorKind,
) -> Result<Option<String>, StoreError> {
    Ok(circle
        .store
        .conn()
        .query_row(
            "SELECT cursor FROM sync_cursors WHERE peer = ?1 AND kind = ?2",
            params![peer.as_str(), kind.as_str()],
            |r| r.get(0),
        )
        .optional()?)
}

/// Saves a cursor. Callers save it in the transaction that stores the last new object it
/// covers, or on its own when everything it covers was already held (protocol.md §5.3).
pub fn save_cursor(
    circle: &mut Circle,
    peer: &MemberId,
    kind: CursorKind,
    value: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    save_cursor_on(circle.store.conn(), peer, kind, value, now)
}

/// [`save_cursor`] on a connection (or an open transaction, which derefs to one).
pub fn save_cursor_on(
    conn: &rusqlite::Connection,
    peer: &MemberId,
    kind: CursorKind,
    value: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO sync_cursors (peer, kind, cursor, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (peer, kind) DO UPDATE SET cursor = excluded.cursor,
             updated_at = excluded.updated_at",
        params![peer.as_str(), kind.as_str(), value, now.unix()],
    )?;
    Ok(())
}

/// Records a round with `peer`: success (no `error`) resets its failure count.
pub fn record_contact(
    circle: &mut Circle,
    peer: &MemberId,
    now: Timestamp,
    error: Option<&str>,
    head: Option<(u64, String)>,
    not_before: i64,
) -> Result<(), StoreError> {
    let (head_seq, head_id) = head.unzip();
    circle.store.conn().execute(
        "INSERT INTO sync_peers (peer, last_attempt, last_success, failures, not_before,
             last_error, head_seq, head_id)
         VALUES (?1, ?2, CASE WHEN ?3 IS NULL THEN ?2 END, CASE WHEN ?3 IS NULL THEN 0 ELSE 1 END,
             ?6, ?3, ?4, ?5)
         ON CONFLICT (peer) DO UPDATE SET last_attempt = excluded.last_attempt,
             last_success = COALESCE(excluded.last_success, sync_peers.last_success),
             failures = CASE WHEN ?3 IS NULL THEN 0 ELSE sync_peers.failures + 1 END,
             last_error = excluded.last_error,
             not_before = excluded.not_before,
             head_seq = COALESCE(excluded.head_seq, sync_peers.head_seq),
             head_id = COALESCE(excluded.head_id, sync_peers.head_id)",
        params![
            peer.as_str(),
            now.unix(),
            error,
            head_seq.map(|s| s as i64),
            head_id,
            not_before
        ],
    )?;
    Ok(())
}

/// One peer's row for `debrief status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerStatus {
    pub peer: String,
    pub last_attempt: Timestamp,
    pub last_success: Option<Timestamp>,
    pub failures: u32,
    /// Not contacted before this time (backoff after failures).
    pub not_before: Timestamp,
    pub last_error: Option<String>,
    /// The peer's roster head (seq, event id) at the last contact.
    pub head_seq: Option<u64>,
    pub head_id: Option<String>,
}

/// Every peer this circle's store has a contact row for.
pub fn peer_statuses(circle: &Circle) -> Result<Vec<PeerStatus>, StoreError> {
    let mut stmt = circle.store.conn().prepare(
        "SELECT peer, last_attempt, last_success, failures, last_error, head_seq, head_id,
             not_before FROM sync_peers ORDER BY peer",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(PeerStatus {
            peer: r.get(0)?,
            last_attempt: Timestamp::from_unix(r.get(1)?),
            last_success: r.get::<_, Option<i64>>(2)?.map(Timestamp::from_unix),
            failures: u32::try_from(r.get::<_, i64>(3)?).unwrap_or(u32::MAX),
            last_error: r.get(4)?,
            head_seq: r
                .get::<_, Option<i64>>(5)?
                .and_then(|s| u64::try_from(s).ok()),
            head_id: r.get(6)?,
            not_before: Timestamp::from_unix(r.get(7)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The `meta` key of the own-chain confirmation (protocol.md §5.4).
pub const OWN_CHAIN_META: &str = "own_chain_confirmed";

/// "Our own author chain was confirmed up to `seq` by `peer` at `at`": recorded by sync after it
/// read a peer's whole `links` list, so this node holds at least every link of ours that peer
/// holds (protocol.md §5.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct OwnChainConfirmation {
    pub seq: u64,
    pub peer: String,
    pub at: Timestamp,
}

/// The highest author seq of ours this store holds (0 for none).
pub fn own_chain_seq(circle: &Circle, me: &MemberId) -> Result<u64, StoreError> {
    let seq: Option<i64> = circle.store.conn().query_row(
        "SELECT max(author_seq) FROM links WHERE author = ?1",
        [me.as_str()],
        |r| r.get(0),
    )?;
    Ok(seq.and_then(|s| u64::try_from(s).ok()).unwrap_or(0))
}

/// Records that `peer`'s links were read in full at `now`.
pub fn confirm_own_chain(
    circle: &mut Circle,
    me: &MemberId,
    peer: &MemberId,
    now: Timestamp,
) -> Result<(), StoreError> {
    let c = OwnChainConfirmation {
        seq: own_chain_seq(circle, me)?,
        peer: peer.to_string(),
        at: now,
    };
    let text = serde_json::to_string(&c).map_err(|e| StoreError::Invalid(e.to_string()))?;
    circle.store.put_meta(OWN_CHAIN_META, &text)
}

/// The recorded confirmation, if any.
pub fn own_chain_confirmation(circle: &Circle) -> Result<Option<OwnChainConfirmation>, StoreError> {
    circle
        .store
        .meta(OWN_CHAIN_META)?
        .map(|t| {
            serde_json::from_str(&t)
                .map_err(|e| StoreError::Invalid(format!("meta {OWN_CHAIN_META}: {e}")))
        })
        .transpose()
}

/// protocol.md §5.4: in a circle with peers, a node shares only while its own author chain is
/// confirmed by a peer within `policy.max_roster_age`, so a node restored from an old backup
/// fetches the links it already signed before it signs the next seq. `Err` says why not.
pub fn check_own_chain(circle: &Circle, me: &MemberId, now: Timestamp) -> Result<(), String> {
    let has_peers = circle
        .roster
        .members()
        .any(|m| &m.id != me && m.endpoint.is_some());
    if !has_peers {
        return Ok(());
    }
    let advice = "run `debrief sync --once` (a node restored from a backup must fetch the links \
                  it already signed before it signs another), then retry";
    let confirmed = own_chain_confirmation(circle).map_err(|e| e.to_string())?;
    let Some(c) = confirmed else {
        return Err(format!(
            "this node has not confirmed its own author chain with any peer yet: {advice}"
        ));
    };
    let max_age = i64::try_from(circle.roster.policy().max_roster_age_secs).unwrap_or(i64::MAX);
    if now.unix().saturating_sub(c.at.unix()) > max_age {
        return Err(format!(
            "this node's own author chain was last confirmed at {} (by {}), longer ago than \
             policy.max_roster_age: {advice}",
            c.at, c.peer
        ));
    }
    let held = own_chain_seq(circle, me).map_err(|e| e.to_string())?;
    if held < c.seq {
        return Err(format!(
            "this node holds its own author chain only up to seq {held}, but seq {} was \
             confirmed: {advice}",
            c.seq
        ));
    }
    Ok(())
}
