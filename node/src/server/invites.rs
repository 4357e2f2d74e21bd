//! Issued invites, so the invite-token routes (`charter`, `join`) can check a token
//! (protocol.md §4.11). The CLI records an invite when a maintainer issues one.
//!
//! Storage decision (docs/protocol.md §4.11.3): each invite is kept in the circle store's
//! `meta` table under the key `invite:<token_sha256 hex>`, the value being the signed invite
//! envelope's JSON exactly as signed. The envelope already holds the token's SHA-256 and the
//! expiry, and the token itself is never stored. This needs no schema change; the circle
//! store's numbered migrations stay with the store.

use debrief_protocol::envelope;
use debrief_protocol::roster::{EventBody, Invite, InviteToken, Roster, RosterEvent};
use debrief_protocol::{Envelope, PayloadType, Sha256Digest, Timestamp, Verified};
use rusqlite::params;

use crate::store::StoreError;
use crate::store::circle::{CircleStore, set_meta};

/// The `meta` key prefix of recorded invites.
pub const META_PREFIX: &str = "invite:";

/// Why an invite was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    #[error("the invite is not valid: {0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a token presented to the server amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenStatus {
    /// A recorded, unexpired, unused invite.
    Valid(Envelope),
    /// No invite with this token is recorded here.
    Unknown,
    /// The invite expired at the given time.
    Expired(Timestamp),
    /// An `admit` already used it.
    Used,
}

fn meta_key(token_sha256: &Sha256Digest) -> String {
    format!("{META_PREFIX}{}", token_sha256.to_hex())
}

/// Verifies `invite` against `roster` (an `invite` envelope for this circle and its charter,
/// signed by a current maintainer's current key) and records it. Returns the token hash.
pub fn record_invite(
    store: &mut CircleStore,
    roster: &Roster,
    invite: &Envelope,
) -> Result<Sha256Digest, InviteError> {
    let claimed: Invite = invite
        .unverified_payload()
        .map_err(|e| InviteError::Invalid(e.to_string()))?;
    let maintainer = roster
        .member(&claimed.maintainer)
        .filter(|m| m.maintainer)
        .ok_or_else(|| {
            InviteError::Invalid(format!(
                "{} is not a current maintainer of the circle",
                claimed.maintainer
            ))
        })?;
    let verified: Verified<Invite> =
        envelope::verify(invite, PayloadType::Invite, &maintainer.signing_key)
            .map_err(|e| InviteError::Invalid(e.to_string()))?;
    if verified.circle != roster.circle_id() {
        return Err(InviteError::Invalid(format!(
            "it is for circle {}, not {}",
            verified.circle,
            roster.circle_id()
        )));
    }
    if verified.charter_sha256 != roster.charter_sha256() {
        return Err(InviteError::Invalid(
            "it names another charter than the circle's".into(),
        ));
    }
    let json = String::from_utf8(invite.to_json())
        .map_err(|_| InviteError::Invalid("the envelope is not UTF-8 JSON".into()))?;
    let tx = store.transaction()?;
    set_meta(&tx, &meta_key(&verified.token_sha256), &json)?;
    tx.commit().map_err(StoreError::from)?;
    Ok(verified.token_sha256)
}

/// The recorded invite for a token hash, if any.
pub fn find_invite(
    store: &CircleStore,
    token_sha256: &Sha256Digest,
) -> Result<Option<Envelope>, StoreError> {
    store
        .meta(&meta_key(token_sha256))?
        .map(|json| {
            Envelope::from_json(json.as_bytes()).map_err(|e| {
                StoreError::Invalid(format!("recorded invite {token_sha256} is corrupt: {e}"))
            })
        })
        .transpose()
}

/// Every recorded invite, by token hash.
pub fn list_invites(store: &CircleStore) -> Result<Vec<(Sha256Digest, Envelope)>, StoreError> {
    let mut stmt = store
        .conn()
        .prepare("SELECT key, value FROM meta WHERE key LIKE 'invite:%' ORDER BY key")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (key, json) = row?;
        let hash: Sha256Digest = key
            .trim_start_matches(META_PREFIX)
            .parse()
            .map_err(|_| StoreError::Invalid(format!("meta key {key} is not an invite key")))?;
        let env = Envelope::from_json(json.as_bytes())
            .map_err(|e| StoreError::Invalid(format!("recorded invite {hash} is corrupt: {e}")))?;
        out.push((hash, env));
    }
    Ok(out)
}

/// Forgets an invite so its token no longer opens `charter` or `join`; returns whether one was
/// recorded.
pub fn revoke_invite(
    store: &mut CircleStore,
    token_sha256: &Sha256Digest,
) -> Result<bool, StoreError> {
    let tx = store.transaction()?;
    let n = tx.execute(
        "DELETE FROM meta WHERE key = ?1",
        params![meta_key(token_sha256)],
    )?;
    tx.commit()?;
    Ok(n > 0)
}

/// Whether an `admit` in `roster` already used the invite with this token hash (protocol.md
/// §2.8: one-time tokens).
pub fn invite_used(roster: &Roster, token_sha256: &Sha256Digest) -> bool {
    roster
        .events()
        .iter()
        .filter(|e| e.kind == "admit")
        .any(|e| {
            e.envelope
                .unverified_payload::<RosterEvent>()
                .ok()
                .and_then(|event| match event.event {
                    EventBody::Admit { invite, .. } => invite.unverified_payload::<Invite>().ok(),
                    _ => None,
                })
                .is_some_and(|invite| invite.token_sha256 == *token_sha256)
        })
}

/// What `token` opens in this circle at `now`.
pub fn check_token(
    store: &CircleStore,
    roster: &Roster,
    token: &InviteToken,
    now: Timestamp,
) -> Result<TokenStatus, StoreError> {
    let hash = token.hash();
    let Some(env) = find_invite(store, &hash)? else {
        return Ok(TokenStatus::Unknown);
    };
    let Ok(invite) = env.unverified_payload::<Invite>() else {
        return Ok(TokenStatus::Unknown);
    };
    if invite_used(roster, &hash) {
        return Ok(TokenStatus::Used);
    }
    if invite.expires <= now {
        return Ok(TokenStatus::Expired(invite.expires));
    }
    Ok(TokenStatus::Valid(env))
}
