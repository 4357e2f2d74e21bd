//! The membership life cycle of a circle on this node: invites, join requests, vouches,
//! admissions, member requests, quorum proposals, checkpoints, imports and fork proofs.
//!
//! Every operation checks the object against the roster rules (protocol.md §2) before anything
//! is stored, stores exact signed bytes, and — where this node is the sequencer — signs and
//! appends the roster event in one transaction. The CLI (`debrief circle …`) and, later, the
//! HTTPS routes and the join flow call these functions; they hold no logic of their own.

use debrief_protocol::envelope::{self, Envelope, PayloadType, Signer};
use debrief_protocol::ids::{EnvelopeId, MemberId};
use debrief_protocol::roster::{
    EventBody, EventObservation, ForkProof, ForkStatus, Invite, InviteToken, JoinRequest,
    LoggedEvent, Member, MemberChange, MemberRequest, QuorumAction, QuorumProposal, Roster,
    RosterError, Vouch, cosign as add_cosignature,
};
use debrief_protocol::{Sha256Digest, Timestamp};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::node::{Circle, NodeError};
use crate::store::StoreError;
use crate::store::bundles::author_tip;
use crate::store::circle::{PendingKind, RosterImportError};

/// How long a member request or quorum proposal stays valid by default.
pub const DEFAULT_REQUEST_LIFETIME_SECS: i64 = 7 * 24 * 60 * 60;
/// How long an invite stays valid by default.
pub const DEFAULT_INVITE_LIFETIME_SECS: i64 = 14 * 24 * 60 * 60;

/// Why a circle operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum CircleOpError {
    /// A roster rule refused the object; the message names the event and the rule (`§2.x`)
    /// and already includes its cause, so it is not chained again.
    #[error("{0}")]
    Rule(RosterError),
    #[error(transparent)]
    Import(RosterImportError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Node(#[from] NodeError),
    #[error("{what} is not a valid {expected}: {message}")]
    Malformed {
        what: String,
        expected: &'static str,
        message: String,
    },
    #[error("{query:?} matches several members of this circle: {}; use a longer id prefix", candidates.join(", "))]
    AmbiguousMember {
        query: String,
        candidates: Vec<String>,
    },
    #[error(
        "{query:?} names no current member of circle {circle:?} (by member id, id prefix or organisation)"
    )]
    UnknownMember { query: String, circle: String },
    #[error("{0}")]
    Refused(String),
}

impl From<RosterError> for CircleOpError {
    fn from(e: RosterError) -> Self {
        CircleOpError::Rule(e)
    }
}

impl From<RosterImportError> for CircleOpError {
    fn from(e: RosterImportError) -> Self {
        match e {
            // The rule's own message names the event and the rule; keep it as the one error.
            RosterImportError::Rule { source, .. } => CircleOpError::Rule(source),
            other => CircleOpError::Import(other),
        }
    }
}

/// What a maintainer hands a candidate (`circle invite`): everything `circle request` needs to
/// check the circle and sign a join request. It carries the one-time token, so it is sent to
/// that candidate only.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircleInfo {
    pub format: String,
    /// The circle id the candidate confirms out of band.
    pub circle: EnvelopeId,
    pub name: String,
    pub charter: String,
    pub invite: Envelope,
    /// The one-time invite token, 64 hex.
    pub token: String,
    /// The roster log, so the candidate can check the invite's maintainer and the charter.
    pub roster: Vec<Envelope>,
}

/// The format tag of [`CircleInfo`].
pub const CIRCLE_INFO_FORMAT: &str = "debrief-circle-info/v1";

/// A candidate's join request with the invite it answers (`circle request --out`): what
/// sponsors vouch for and the sequencer admits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinRequestFile {
    pub format: String,
    pub invite: Envelope,
    pub join_request: Envelope,
}

/// The format tag of [`JoinRequestFile`].
pub const JOIN_REQUEST_FORMAT: &str = "debrief-join-request/v1";

/// The `meta` key under which the invite with this token hash is kept (the v1 schema has no
/// invite table; the invite is needed again when the sequencer admits).
pub fn invite_meta_key(token_sha256: &Sha256Digest) -> String {
    format!("invite:{}", token_sha256.to_hex())
}

/// The `at` for the next event: now, or one second after the head when several events are
/// made within one second (protocol.md §2.6: `at` strictly increases).
pub fn next_at(roster: &Roster, now: Timestamp) -> Timestamp {
    let after_head = roster.head_at().plus_seconds(1);
    if after_head > now { after_head } else { now }
}

/// Resolves a MEMBER argument: a member id (plain or grouped), a unique id prefix, or a unique
/// organisation name (normalised as in protocol.md §1.10). Ambiguity is refused with the
/// candidates listed.
pub fn resolve_member(roster: &Roster, query: &str) -> Result<MemberId, CircleOpError> {
    let compact: String = query.chars().filter(|c| !c.is_whitespace()).collect();
    let compact = compact.to_ascii_lowercase();
    let members: Vec<&Member> = roster.members().collect();
    if let Some(m) = members.iter().find(|m| m.id.as_str() == compact) {
        return Ok(m.id.clone());
    }
    let by_prefix: Vec<&&Member> = if !compact.is_empty() {
        members
            .iter()
            .filter(|m| m.id.as_str().starts_with(&compact))
            .collect()
    } else {
        Vec::new()
    };
    let wanted = debrief_protocol::identity::normalise_org_name(query);
    let by_org: Vec<&&Member> = members
        .iter()
        .filter(|m| debrief_protocol::identity::normalise_org_name(&m.org) == wanted)
        .collect();
    let mut found: Vec<&Member> = by_prefix.into_iter().chain(by_org).copied().collect();
    found.sort_by(|a, b| a.id.cmp(&b.id));
    found.dedup_by(|a, b| a.id == b.id);
    match found.as_slice() {
        [one] => Ok(one.id.clone()),
        [] => Err(CircleOpError::UnknownMember {
            query: query.to_owned(),
            circle: roster.name().to_owned(),
        }),
        many => Err(CircleOpError::AmbiguousMember {
            query: query.to_owned(),
            candidates: many
                .iter()
                .map(|m| format!("{} ({})", m.id, m.org))
                .collect(),
        }),
    }
}

/// Refuses unless `me` is a current member, saying when it left if it did (protocol.md §2.13).
pub fn require_member<'r>(roster: &'r Roster, me: &MemberId) -> Result<&'r Member, CircleOpError> {
    if let Some(m) = roster.member(me) {
        return Ok(m);
    }
    match roster.departure(me) {
        Some(d) => Err(CircleOpError::Refused(format!(
            "§2.13 this node ({me}) {} at roster seq {} of circle {:?}; nothing it signs is accepted there",
            d.how,
            d.seq,
            roster.name()
        ))),
        None => Err(CircleOpError::Refused(format!(
            "this node ({me}) is not a member of circle {:?}",
            roster.name()
        ))),
    }
}

fn require_maintainer(roster: &Roster, me: &MemberId) -> Result<(), CircleOpError> {
    if require_member(roster, me)?.maintainer {
        Ok(())
    } else {
        Err(CircleOpError::Refused(format!(
            "this node ({me}) is not a maintainer of circle {:?}",
            roster.name()
        )))
    }
}

/// Whether this node sequences the circle.
pub fn is_sequencer(roster: &Roster, me: &MemberId) -> bool {
    roster.sequencer() == me
}

fn require_sequencer(roster: &Roster, me: &MemberId) -> Result<(), CircleOpError> {
    if is_sequencer(roster, me) {
        Ok(())
    } else {
        Err(CircleOpError::Refused(format!(
            "only the sequencer of circle {:?} ({}) appends roster events; send it this file",
            roster.name(),
            roster.sequencer()
        )))
    }
}

/// Signs the next event with `sequencer`, checks it against every rule and stores it in one
/// transaction. `signer` is the sequencer's current key as the roster knows it.
pub fn sequence_event(
    circle: &mut Circle,
    signer: &dyn Signer,
    body: EventBody,
    now: Timestamp,
) -> Result<LoggedEvent, CircleOpError> {
    let at = next_at(&circle.roster, now);
    let env = circle.roster.sequence(at, body, signer, Some(now))?;
    let (roster, _) =
        circle
            .store
            .append_roster_events(Some(&circle.roster), std::slice::from_ref(&env), now)?;
    circle.roster = roster;
    circle
        .roster
        .events()
        .last()
        .cloned()
        .ok_or_else(|| CircleOpError::Refused("the roster is empty after appending".into()))
}

// ---------------------------------------------------------------------------------------------
// Joining: invite, join request, vouch, admit.

/// Issues a one-time invite (a maintainer): the [`CircleInfo`] to hand the candidate. The
/// invite is kept in `meta` so the sequencer (if it is this node) finds it again at admission.
pub fn issue_invite(
    circle: &mut Circle,
    me: &dyn Signer,
    my_id: &MemberId,
    endpoint: Option<&str>,
    tls_spki_sha256: Sha256Digest,
    now: Timestamp,
    lifetime_secs: i64,
) -> Result<CircleInfo, CircleOpError> {
    require_maintainer(&circle.roster, my_id)?;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = InviteToken::from_bytes(bytes);
    let invite = circle.roster.invite(
        my_id,
        endpoint.unwrap_or_default().to_owned(),
        tls_spki_sha256,
        &token,
        now.plus_seconds(lifetime_secs),
    );
    let env = invite
        .sign(me)
        .map_err(|e| CircleOpError::Refused(format!("cannot sign the invite: {e}")))?;
    // protocol.md §4.11.3: recorded where the `charter` and `join` routes look for it (the
    // same `meta` key the sequencer reads at admission), after checking it like any invite.
    crate::server::invites::record_invite(&mut circle.store, &circle.roster, &env).map_err(
        |e| match e {
            crate::server::invites::InviteError::Store(e) => CircleOpError::Store(e),
            other => CircleOpError::Refused(other.to_string()),
        },
    )?;
    Ok(CircleInfo {
        format: CIRCLE_INFO_FORMAT.into(),
        circle: circle.roster.circle_id(),
        name: circle.roster.name().to_owned(),
        charter: circle.roster.charter().to_owned(),
        invite: env,
        token: token.to_hex(),
        roster: circle.store.roster_envelopes()?,
    })
}

/// Checks a [`CircleInfo`] as a candidate: the roster log folds, its genesis is the circle id
/// stated, the charter is the circle's, and the invite is signed by a current maintainer.
/// Returns the folded roster (for display) and the verified invite.
pub fn check_circle_info(info: &CircleInfo, now: Timestamp) -> Result<Roster, CircleOpError> {
    if info.format != CIRCLE_INFO_FORMAT {
        return Err(CircleOpError::Malformed {
            what: "the circle info".into(),
            expected: CIRCLE_INFO_FORMAT,
            message: format!("format is {:?}", info.format),
        });
    }
    let roster = debrief_protocol::roster::fold(&info.roster, Some(now))?;
    if roster.circle_id() != info.circle {
        return Err(CircleOpError::Refused(format!(
            "the circle info names circle {} but its roster log is circle {}",
            info.circle,
            roster.circle_id()
        )));
    }
    if roster.charter() != info.charter {
        return Err(CircleOpError::Refused(
            "the charter in the circle info is not the circle's charter".into(),
        ));
    }
    let claim: Invite = info
        .invite
        .unverified_payload()
        .map_err(|e| CircleOpError::Malformed {
            what: "the invite".into(),
            expected: "invite",
            message: e.to_string(),
        })?;
    let Some(maintainer) = roster.member(&claim.maintainer).filter(|m| m.maintainer) else {
        return Err(CircleOpError::Refused(format!(
            "§2.8 the invite is issued by {}, who is not a current maintainer",
            claim.maintainer
        )));
    };
    let invite: envelope::Verified<Invite> =
        envelope::verify(&info.invite, PayloadType::Invite, &maintainer.signing_key)
            .map_err(|e| CircleOpError::Refused(format!("§2.8 the invite refused: {e}")))?;
    let token = InviteToken::parse(&info.token)
        .ok_or_else(|| CircleOpError::Refused("the invite token is not 64 hex".into()))?;
    if token.hash() != invite.token_sha256 {
        return Err(CircleOpError::Refused(
            "the invite token does not match the invite".into(),
        ));
    }
    if invite.expires <= now {
        return Err(CircleOpError::Refused(format!(
            "§2.8 the invite expired on {}",
            invite.expires
        )));
    }
    Ok(roster)
}

/// Signs a join request as a candidate (after it accepted the charter).
pub fn make_join_request(
    info: &CircleInfo,
    card: Envelope,
    rotations: Vec<Envelope>,
    candidate: &dyn Signer,
    now: Timestamp,
) -> Result<JoinRequestFile, CircleOpError> {
    let roster = check_circle_info(info, now)?;
    let join = JoinRequest {
        circle: info.circle,
        card,
        charter_sha256: roster.charter_sha256(),
        invite_token: info.token.clone(),
        rotations,
    };
    let env = join
        .sign(candidate)
        .map_err(|e| CircleOpError::Refused(format!("cannot sign the join request: {e}")))?;
    // Check what we hand out exactly as the sequencer will.
    roster.check_join(&info.invite, &env, now)?;
    Ok(JoinRequestFile {
        format: JOIN_REQUEST_FORMAT.into(),
        invite: info.invite.clone(),
        join_request: env,
    })
}

/// Checks a join request file's format.
pub fn check_join_file(file: &JoinRequestFile) -> Result<(), CircleOpError> {
    if file.format != JOIN_REQUEST_FORMAT {
        return Err(CircleOpError::Malformed {
            what: "the join request file".into(),
            expected: JOIN_REQUEST_FORMAT,
            message: format!("format is {:?}", file.format),
        });
    }
    Ok(())
}

/// Checks a join request and the invite it answers against the current roster (the §2.8
/// checks plus the invite's expiry at `now`), storing nothing. Returns the join request id
/// (what vouches name) and the candidate's member id.
pub fn check_join_request(
    roster: &Roster,
    invite: &Envelope,
    join: &Envelope,
    now: Timestamp,
) -> Result<(EnvelopeId, MemberId), CircleOpError> {
    let verified = roster.check_join(invite, join, now)?;
    let card: debrief_protocol::identity::IdentityCard = verified
        .card
        .unverified_payload()
        .map_err(|e| CircleOpError::Malformed {
            what: "the candidate's card".into(),
            expected: "identity card",
            message: e.to_string(),
        })?;
    Ok((join.id(), card.member))
}

/// Accepts a candidate's join request into `pending` (what a maintainer's node does when a
/// candidate posts one): [`check_join_request`], then the request and its invite are stored
/// in one transaction. Returns the join request's id and the candidate's member id.
pub fn accept_join_request(
    circle: &mut Circle,
    invite: &Envelope,
    join: &Envelope,
    now: Timestamp,
) -> Result<(EnvelopeId, MemberId), CircleOpError> {
    let checked = check_join_request(&circle.roster, invite, join, now)?;
    let claim: Invite = invite
        .unverified_payload()
        .map_err(|e| CircleOpError::Malformed {
            what: "the invite".into(),
            expected: "invite",
            message: e.to_string(),
        })?;
    let meta = vec![(
        invite_meta_key(&claim.token_sha256),
        String::from_utf8_lossy(&invite.to_json()).into_owned(),
    )];
    circle
        .store
        .put_pending(PendingKind::JoinRequest, join, None, &meta, now)?;
    Ok(checked)
}

/// Vouches for a join request as a sponsor: the sponsor must be a current member other than
/// the candidate; the join request must pass the §2.8 checks. The vouch is valid for
/// `lifetime_secs` (capped by the policy's vouch lifetime), stored in `pending` and returned.
pub fn vouch(
    circle: &mut Circle,
    me: &dyn Signer,
    my_id: &MemberId,
    request: &JoinRequestFile,
    reason: &str,
    lifetime_secs: Option<i64>,
    now: Timestamp,
) -> Result<Envelope, CircleOpError> {
    let env = make_vouch(circle, me, my_id, request, reason, lifetime_secs, now)?;
    accept_join_request(circle, &request.invite, &request.join_request, now)?;
    accept_vouch(circle, &env, now)?;
    Ok(env)
}

/// Checks a join request as a sponsor and signs a vouch for it, storing nothing (the network
/// form posts it to the node holding the join request; [`vouch`] stores it here). The sponsor
/// must be a current member other than the candidate; the join request and its invite must
/// pass the §2.8 checks against this node's roster.
pub fn make_vouch(
    circle: &Circle,
    me: &dyn Signer,
    my_id: &MemberId,
    request: &JoinRequestFile,
    reason: &str,
    lifetime_secs: Option<i64>,
    now: Timestamp,
) -> Result<Envelope, CircleOpError> {
    check_join_file(request)?;
    require_member(&circle.roster, my_id)?;
    if reason.trim().is_empty() {
        return Err(CircleOpError::Refused(
            "a vouch needs a reason (--reason): maintainers read it".into(),
        ));
    }
    let (subject, candidate) =
        check_join_request(&circle.roster, &request.invite, &request.join_request, now)?;
    if candidate == *my_id {
        return Err(CircleOpError::Refused(
            "§2.7 a candidate cannot vouch for itself".into(),
        ));
    }
    let max = i64::try_from(circle.roster.policy().vouch_lifetime_secs).unwrap_or(i64::MAX);
    let lifetime = lifetime_secs.unwrap_or(max).min(max);
    let v = circle.roster.vouch(
        my_id,
        subject,
        now,
        now.plus_seconds(lifetime),
        reason.to_owned(),
    );
    v.sign(me)
        .map_err(|e| CircleOpError::Refused(format!("cannot sign the vouch: {e}")))
}

/// Accepts a vouch into `pending` (what a node does when a sponsor posts one): it must read as
/// a vouch for this circle, from a current member, verify under that member's current key and
/// be unexpired now (protocol.md §2.7, §2.13).
pub fn accept_vouch(
    circle: &mut Circle,
    env: &Envelope,
    now: Timestamp,
) -> Result<EnvelopeId, CircleOpError> {
    let claim: Vouch = env
        .unverified_payload()
        .map_err(|e| CircleOpError::Malformed {
            what: "the vouch".into(),
            expected: "vouch",
            message: e.to_string(),
        })?;
    let sponsor = require_member(&circle.roster, &claim.sponsor).map_err(|_| {
        match circle.roster.departure(&claim.sponsor) {
            Some(d) => CircleOpError::Refused(format!(
                "§2.13 the vouch from {} is refused: it {} at roster seq {}",
                claim.sponsor, d.how, d.seq
            )),
            None => CircleOpError::Refused(format!(
                "§2.13 the vouch from {} is refused: not a current member",
                claim.sponsor
            )),
        }
    })?;
    let v: envelope::Verified<Vouch> =
        envelope::verify(env, PayloadType::Vouch, &sponsor.signing_key).map_err(|e| {
            CircleOpError::Refused(format!(
                "§2.7 the vouch from {} is not validly signed by its current key ({e})",
                claim.sponsor
            ))
        })?;
    if v.circle != circle.roster.circle_id() {
        return Err(CircleOpError::Refused(format!(
            "§2.4 the vouch is for circle {}, not {}",
            v.circle,
            circle.roster.circle_id()
        )));
    }
    if v.expires <= now {
        return Err(CircleOpError::Refused(format!(
            "§2.7 the vouch from {} expired on {}",
            v.sponsor, v.expires
        )));
    }
    circle
        .store
        .put_pending(PendingKind::Vouch, env, Some(&v.subject), &[], now)?;
    Ok(env.id())
}

/// Pending join requests (with the invites they answer, when held).
pub fn pending_join_requests(circle: &Circle) -> Result<Vec<JoinRequestFile>, CircleOpError> {
    let mut out = Vec::new();
    for p in circle.store.pending(PendingKind::JoinRequest, None)? {
        let Ok(claim) = p.envelope.unverified_payload::<JoinRequest>() else {
            continue;
        };
        let Some(token) = InviteToken::parse(&claim.invite_token) else {
            continue;
        };
        let Some(text) = circle.store.meta(&invite_meta_key(&token.hash()))? else {
            continue;
        };
        let Ok(invite) = Envelope::from_json(text.as_bytes()) else {
            continue;
        };
        out.push(JoinRequestFile {
            format: JOIN_REQUEST_FORMAT.into(),
            invite,
            join_request: p.envelope,
        });
    }
    Ok(out)
}

/// Pending vouches for one join request (or replacement card) id.
pub fn pending_vouches(
    circle: &Circle,
    subject: &EnvelopeId,
) -> Result<Vec<Envelope>, CircleOpError> {
    Ok(circle
        .store
        .pending(PendingKind::Vouch, Some(subject))?
        .into_iter()
        .map(|p| p.envelope)
        .collect())
}

/// Admits a candidate (the sequencer): the join request with the given vouches plus every
/// pending vouch for it. Refused with the precise §2.7/§2.8 reason when the rules say no;
/// nothing is stored then.
pub fn admit(
    circle: &mut Circle,
    sequencer: &dyn Signer,
    my_id: &MemberId,
    request: &JoinRequestFile,
    vouches: &[Envelope],
    now: Timestamp,
) -> Result<LoggedEvent, CircleOpError> {
    check_join_file(request)?;
    require_sequencer(&circle.roster, my_id)?;
    let (subject, candidate) =
        check_join_request(&circle.roster, &request.invite, &request.join_request, now)?;
    let mut all: Vec<Envelope> = vouches.to_vec();
    for v in pending_vouches(circle, &subject)? {
        if !all.iter().any(|h| h.id() == v.id()) {
            all.push(v);
        }
    }
    // protocol.md §2.7: the same count the fold will run, so the refusal names each vouch.
    let at = next_at(&circle.roster, now);
    let count = circle.roster.count_vouches(subject, &candidate, &all, at);
    count.check(circle.roster.head_seq() + 1)?;
    let used: Vec<EnvelopeId> = all.iter().map(Envelope::id).collect();
    // Embed only the vouches that count, one per company (judged one by one exactly as the
    // fold judges them), so a signed event never carries a refused vouch.
    let mut counted: Vec<MemberId> = Vec::new();
    let mut embed = Vec::new();
    for v in &all {
        let single = circle
            .roster
            .count_vouches(subject, &candidate, std::slice::from_ref(v), at);
        if let Some(sponsor) = single.counted.first()
            && !counted.contains(sponsor)
        {
            counted.push(sponsor.clone());
            embed.push(v.clone());
        }
    }
    let all = embed;
    let event = sequence_event(
        circle,
        sequencer,
        EventBody::Admit {
            invite: request.invite.clone(),
            join_request: request.join_request.clone(),
            vouches: all,
        },
        now,
    )?;
    // The event embeds them now; the pending copies are no longer needed.
    let mut done = used;
    done.push(subject);
    circle.store.remove_pending(&done)?;
    Ok(event)
}

/// A join request waiting for vouches, as `circle pending` shows it.
#[derive(Debug, Clone)]
pub struct PendingAdmission {
    /// The join request's envelope id (what vouches name and `circle admit ID` takes).
    pub join_request: EnvelopeId,
    pub candidate: MemberId,
    pub org: String,
    /// The §2.7 count of the vouches held for it, judged as an admit made now would.
    pub vouches: debrief_protocol::roster::VouchCount,
    /// Whether this node holds the invite the request answers (the sequencer needs it to
    /// admit: it is the node whose maintainer issued the invite).
    pub invite_held: bool,
}

impl PendingAdmission {
    /// Whether the sequencer can admit now.
    pub fn ready(&self) -> bool {
        self.invite_held && self.vouches.is_met()
    }
}

/// Summarises one join request and the vouches held for it against `roster` at `now`; `None`
/// when the envelope is not a readable join request with a valid card.
pub fn admission_summary(
    roster: &Roster,
    join: &Envelope,
    vouches: &[Envelope],
    invite_held: bool,
    now: Timestamp,
) -> Option<PendingAdmission> {
    let claim: JoinRequest = join.unverified_payload().ok()?;
    let card = debrief_protocol::identity::verify_card(&claim.card).ok()?;
    let at = next_at(roster, now);
    let count = roster.count_vouches(join.id(), &card.member, vouches, at);
    Some(PendingAdmission {
        join_request: join.id(),
        candidate: card.member.clone(),
        org: card.org.clone(),
        vouches: count,
        invite_held,
    })
}

/// Every join request pending on this node with its vouch count (protocol.md §2.7), oldest
/// first: what the sequencer reads in `circle pending` before `circle admit ID`.
pub fn pending_admissions(
    circle: &Circle,
    now: Timestamp,
) -> Result<Vec<PendingAdmission>, CircleOpError> {
    let mut out = Vec::new();
    for p in circle.store.pending(PendingKind::JoinRequest, None)? {
        let held = join_invite(circle, &p.envelope)?.is_some();
        let vouches = pending_vouches(circle, &p.envelope.id())?;
        if let Some(s) = admission_summary(&circle.roster, &p.envelope, &vouches, held, now) {
            out.push(s);
        }
    }
    Ok(out)
}

/// The recorded invite a join request answers (by its token's hash), if this node holds it.
fn join_invite(circle: &Circle, join: &Envelope) -> Result<Option<Envelope>, CircleOpError> {
    let Some(token) = join
        .unverified_payload::<JoinRequest>()
        .ok()
        .and_then(|j| InviteToken::parse(&j.invite_token))
    else {
        return Ok(None);
    };
    Ok(crate::server::invites::find_invite(
        &circle.store,
        &token.hash(),
    )?)
}

/// Finds a pending join request by id or unique id prefix, with the invite it answers.
pub fn pending_join_request(
    circle: &Circle,
    prefix: &str,
) -> Result<JoinRequestFile, CircleOpError> {
    let prefix = prefix.trim().to_ascii_lowercase();
    if prefix.is_empty() {
        return Err(CircleOpError::Refused(
            "give a join request file or id prefix".into(),
        ));
    }
    let found: Vec<Envelope> = circle
        .store
        .pending(PendingKind::JoinRequest, None)?
        .into_iter()
        .map(|p| p.envelope)
        .filter(|e| e.id().to_hex().starts_with(&prefix))
        .collect();
    let join = match found.as_slice() {
        [one] => one.clone(),
        [] => {
            return Err(CircleOpError::Refused(format!(
                "no pending join request of circle {:?} has an id starting with {prefix:?} \
                 (see `debrief circle pending`)",
                circle.roster.name()
            )));
        }
        many => {
            return Err(CircleOpError::Refused(format!(
                "{prefix:?} matches several pending join requests: {}",
                many.iter()
                    .map(|e| e.id().to_hex())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    };
    let invite = join_invite(circle, &join)?.ok_or_else(|| {
        CircleOpError::Refused(format!(
            "join request {} answers an invite this node holds no record of (issued on \
             another node, or revoked); the sequencer admits it with the join request file \
             from the maintainer that issued it",
            join.id()
        ))
    })?;
    Ok(JoinRequestFile {
        format: JOIN_REQUEST_FORMAT.into(),
        invite,
        join_request: join,
    })
}

/// Admits a pending join request (the sequencer, `circle admit ID`): the join request posted to
/// this node's `join` route, its invite and every vouch held for it, from the pending store;
/// no files needed. Refused with the precise §2.7/§2.8 reason, storing nothing.
pub fn admit_pending(
    circle: &mut Circle,
    sequencer: &dyn Signer,
    my_id: &MemberId,
    prefix: &str,
    now: Timestamp,
) -> Result<LoggedEvent, CircleOpError> {
    let file = pending_join_request(circle, prefix)?;
    admit(circle, sequencer, my_id, &file, &[], now)
}

// ---------------------------------------------------------------------------------------------
// Member requests: leave, endpoint, profile, deny terms, rotation.

/// What happened to a member request this node made or received.
#[derive(Debug, Clone)]
pub enum Submitted {
    /// This node sequences the circle: the event is appended.
    Applied(LoggedEvent),
    /// Stored in `pending`; the envelope goes to the sequencer.
    Pending(Envelope),
}

/// Makes and signs a member request for this node's own entry. Where this node is the
/// sequencer the event is appended at once; otherwise the request is stored in `pending` and
/// returned for delivery to the sequencer.
pub fn request_change(
    circle: &mut Circle,
    me: &dyn Signer,
    my_id: &MemberId,
    change: MemberChange,
    now: Timestamp,
) -> Result<Submitted, CircleOpError> {
    require_member(&circle.roster, my_id)?;
    // protocol.md §2.9: leaving retires our key at our real chain tip.
    let change = match change {
        MemberChange::Leave { .. } => MemberChange::Leave {
            chain_tip: author_tip(circle.store.conn(), my_id)?,
        },
        other => other,
    };
    let request = circle.roster.member_request(
        my_id,
        change,
        now.plus_seconds(DEFAULT_REQUEST_LIFETIME_SECS),
    );
    let env = request
        .sign(me)
        .map_err(|e| CircleOpError::Refused(format!("cannot sign the member request: {e}")))?;
    submit_member_request(circle, me, my_id, env, now)
}

/// Accepts another member's signed request into `pending` (what a node does when a member
/// posts one for the sequencer): it must pass every check the sequencer will run on it
/// (protocol.md §2.10, §2.11, §2.13) against the current roster.
pub fn accept_member_request(
    circle: &mut Circle,
    env: &Envelope,
    now: Timestamp,
) -> Result<EnvelopeId, CircleOpError> {
    let claim: MemberRequest = env
        .unverified_payload()
        .map_err(|e| CircleOpError::Malformed {
            what: "the member request".into(),
            expected: "member request",
            message: e.to_string(),
        })?;
    let body = EventBody::for_member_request(&claim.change, env.clone());
    // The same checks the sequencer's event will get, on an unsigned draft: only the
    // sequencer signature is missing, so §2.5 is the one rule not judged here.
    let draft = circle.roster.next_event(next_at(&circle.roster, now), body);
    let member = require_member(&circle.roster, &claim.member).map_err(|_| {
        match circle.roster.departure(&claim.member) {
            Some(d) => CircleOpError::Refused(format!(
                "§2.13 {} {} at roster seq {}; nothing is accepted for it",
                claim.member, d.how, d.seq
            )),
            None => {
                CircleOpError::Refused(format!("§2.13 {} is not a current member", claim.member))
            }
        }
    })?;
    let v: envelope::Verified<MemberRequest> =
        envelope::verify(env, PayloadType::MemberRequest, &member.signing_key).map_err(|e| {
            CircleOpError::Refused(format!(
                "§2.10 the request is not signed by the current key of {} ({e})",
                claim.member
            ))
        })?;
    if v.circle != circle.roster.circle_id() {
        return Err(CircleOpError::Refused(format!(
            "§2.4 the request is for circle {}, not {}",
            v.circle,
            circle.roster.circle_id()
        )));
    }
    if v.counter <= member.last_counter {
        return Err(CircleOpError::Refused(format!(
            "§2.10 request counter {} of {} is not above the last applied counter {}",
            v.counter, v.member, member.last_counter
        )));
    }
    if v.expires <= draft.at {
        return Err(CircleOpError::Refused(format!(
            "§2.10 the request of {} expired on {}",
            v.member, v.expires
        )));
    }
    circle
        .store
        .put_pending(PendingKind::MemberRequest, env, None, &[], now)?;
    Ok(env.id())
}

/// Accepts a quorum proposal (with any number of cosignatures) into the proposal store, after
/// checking its signatures against current maintainers' current keys (protocol.md §2.12).
pub fn accept_proposal(
    circle: &mut Circle,
    env: &Envelope,
    now: Timestamp,
) -> Result<QuorumStatus, CircleOpError> {
    let proposal = read_proposal(env)?;
    let status = quorum_status(&circle.roster, env)?;
    if proposal.expires <= now {
        return Err(CircleOpError::Refused(format!(
            "§2.12 the proposal expired on {}",
            proposal.expires
        )));
    }
    circle.store.put_proposal(env, proposal.expires, now)?;
    Ok(status)
}

/// Submits a signed member request: applied at once if this node sequences, else stored.
pub fn submit_member_request(
    circle: &mut Circle,
    sequencer: &dyn Signer,
    my_id: &MemberId,
    env: Envelope,
    now: Timestamp,
) -> Result<Submitted, CircleOpError> {
    if is_sequencer(&circle.roster, my_id) {
        return apply_member_request(circle, sequencer, my_id, &env, now).map(Submitted::Applied);
    }
    circle
        .store
        .put_pending(PendingKind::MemberRequest, &env, None, &[], now)?;
    Ok(Submitted::Pending(env))
}

/// Applies a member's signed request (the sequencer). Every §2.10/§2.11/§2.13 rule is checked
/// by the roster: a removed member's request is refused with when it was removed.
pub fn apply_member_request(
    circle: &mut Circle,
    sequencer: &dyn Signer,
    my_id: &MemberId,
    env: &Envelope,
    now: Timestamp,
) -> Result<LoggedEvent, CircleOpError> {
    require_sequencer(&circle.roster, my_id)?;
    let claim: MemberRequest = env
        .unverified_payload()
        .map_err(|e| CircleOpError::Malformed {
            what: "the member request".into(),
            expected: "member request",
            message: e.to_string(),
        })?;
    let body = EventBody::for_member_request(&claim.change, env.clone());
    let event = sequence_event(circle, sequencer, body, now)?;
    circle.store.remove_pending(&[env.id()])?;
    Ok(event)
}

/// Submits a node-wide signing key rotation to one circle (protocol.md §2.11): the
/// `rotate_signing_key` request is signed by the old and the new key. Where this node is the
/// sequencer the event is appended, signed by the old key (the sequencer's key as the roster
/// knows it before the event); otherwise it waits in `pending` for the sequencer.
pub fn submit_rotation(
    circle: &mut Circle,
    old_key: &dyn Signer,
    new_key: &dyn Signer,
    my_id: &MemberId,
    now: Timestamp,
) -> Result<Submitted, CircleOpError> {
    require_member(&circle.roster, my_id)?;
    // protocol.md §2.9: the old key is retired at our chain tip as this store holds it.
    let change = MemberChange::RotateSigningKey {
        new_key: new_key.public_key(),
        chain_tip: author_tip(circle.store.conn(), my_id)?,
    };
    let request = circle.roster.member_request(
        my_id,
        change,
        now.plus_seconds(DEFAULT_REQUEST_LIFETIME_SECS),
    );
    let env = request
        .sign_rotation(old_key, new_key)
        .map_err(|e| CircleOpError::Refused(format!("cannot sign the rotation request: {e}")))?;
    submit_member_request(circle, old_key, my_id, env, now)
}

// ---------------------------------------------------------------------------------------------
// Quorum proposals.

/// How far a proposal is from its quorum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumStatus {
    pub needed: u32,
    /// Current maintainers whose current key signed it.
    pub signed_by: Vec<MemberId>,
}

impl QuorumStatus {
    pub fn is_met(&self) -> bool {
        self.signed_by.len() >= self.needed as usize
    }
}

/// Reads a proposal envelope without trusting it, for display and routing.
pub fn read_proposal(env: &Envelope) -> Result<QuorumProposal, CircleOpError> {
    if env.payload_type() != PayloadType::QuorumProposal.media_type() {
        return Err(CircleOpError::Malformed {
            what: "the file".into(),
            expected: "quorum proposal",
            message: format!("its payload type is {}", env.payload_type()),
        });
    }
    env.unverified_payload()
        .map_err(|e| CircleOpError::Malformed {
            what: "the proposal".into(),
            expected: "quorum proposal",
            message: e.to_string(),
        })
}

/// Counts the maintainer companies that signed `env` with their current keys
/// (protocol.md §2.12); a bad signature by a maintainer's key refuses the proposal.
pub fn quorum_status(roster: &Roster, env: &Envelope) -> Result<QuorumStatus, CircleOpError> {
    let maintainers: Vec<&Member> = roster.maintainers().collect();
    // protocol.md §2.15: for a fork-resolving set_sequencer, the sequencer that forked neither
    // counts nor is counted among the maintainers. This count is advisory (the fold decides
    // when the event is made); the forking sequencer is taken to be the current one.
    let excluded: Option<MemberId> = match read_proposal(env)?.action {
        QuorumAction::SetSequencer {
            resolves: Some(_), ..
        } => Some(roster.sequencer().clone()),
        _ => None,
    };
    let n = maintainers
        .iter()
        .filter(|m| Some(&m.id) != excluded.as_ref())
        .count();
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    let needed = roster.policy().maintainer_quorum.min(n).max(1);
    let verified: envelope::Verified<QuorumProposal> =
        envelope::verify_with(env, PayloadType::QuorumProposal, |id| {
            maintainers
                .iter()
                .find(|m| m.signing_key.key_id() == *id)
                .map(|m| m.signing_key)
        })
        .map_err(|e| CircleOpError::Refused(format!("§2.12 the proposal refused: {e}")))?;
    if verified.circle != roster.circle_id() {
        return Err(CircleOpError::Refused(format!(
            "§2.4 the proposal is for circle {}, not {}",
            verified.circle,
            roster.circle_id()
        )));
    }
    let mut signed_by: Vec<MemberId> = verified
        .signers()
        .iter()
        .filter_map(|k| maintainers.iter().find(|m| m.signing_key.key_id() == *k))
        .map(|m| m.id.clone())
        .filter(|id| Some(id) != excluded.as_ref())
        .collect();
    signed_by.sort();
    signed_by.dedup();
    Ok(QuorumStatus { needed, signed_by })
}

/// Proposes a quorum action (a maintainer): signs it against the current head and stores it.
pub fn propose(
    circle: &mut Circle,
    me: &dyn Signer,
    my_id: &MemberId,
    action: QuorumAction,
    now: Timestamp,
) -> Result<(Envelope, QuorumStatus), CircleOpError> {
    require_maintainer(&circle.roster, my_id)?;
    let expires = now.plus_seconds(DEFAULT_REQUEST_LIFETIME_SECS);
    let proposal = circle.roster.propose(action, expires);
    let env = proposal
        .sign(me)
        .map_err(|e| CircleOpError::Refused(format!("cannot sign the proposal: {e}")))?;
    let status = quorum_status(&circle.roster, &env)?;
    circle.store.put_proposal(&env, expires, now)?;
    Ok((env, status))
}

/// Adds this maintainer's signature to a proposal and stores the result.
pub fn cosign(
    circle: &mut Circle,
    me: &dyn Signer,
    my_id: &MemberId,
    mut env: Envelope,
    now: Timestamp,
) -> Result<(Envelope, QuorumStatus), CircleOpError> {
    require_maintainer(&circle.roster, my_id)?;
    let proposal = read_proposal(&env)?;
    // Checks the signatures already there before adding ours.
    quorum_status(&circle.roster, &env)?;
    if proposal.expires <= now {
        return Err(CircleOpError::Refused(format!(
            "§2.12 the proposal expired on {}",
            proposal.expires
        )));
    }
    let my_key = me.public_key().key_id();
    if env.signatures().iter().any(|s| s.keyid == my_key) {
        return Err(CircleOpError::Refused(
            "this node already signed the proposal".into(),
        ));
    }
    add_cosignature(&mut env, me)
        .map_err(|e| CircleOpError::Refused(format!("cannot cosign: {e}")))?;
    let status = quorum_status(&circle.roster, &env)?;
    circle.store.put_proposal(&env, proposal.expires, now)?;
    Ok((env, status))
}

/// Finds a stored proposal, or a pending member request, by id or unique id prefix.
pub fn stored_proposal(circle: &Circle, prefix: &str) -> Result<Envelope, CircleOpError> {
    let prefix = prefix.trim().to_ascii_lowercase();
    if prefix.is_empty() {
        return Err(CircleOpError::Refused(
            "give a proposal file or id prefix".into(),
        ));
    }
    let requests = circle
        .store
        .pending(PendingKind::MemberRequest, None)?
        .into_iter()
        .map(|p| p.envelope);
    let found: Vec<Envelope> = circle
        .store
        .proposals()?
        .into_iter()
        .chain(requests)
        .filter(|p| p.id().to_hex().starts_with(&prefix))
        .collect();
    match found.len() {
        1 => Ok(found
            .into_iter()
            .next()
            .ok_or_else(|| CircleOpError::Refused("proposal vanished".into()))?),
        0 => Err(CircleOpError::Refused(format!(
            "no stored proposal has an id starting with {prefix:?}"
        ))),
        _ => Err(CircleOpError::Refused(format!(
            "{prefix:?} matches several proposals: {}",
            found
                .iter()
                .map(|p| p.id().to_hex())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Applies a proposal whose quorum is met (the sequencer). `vouches` are for `replace_keys`.
pub fn apply_proposal(
    circle: &mut Circle,
    sequencer: &dyn Signer,
    my_id: &MemberId,
    env: &Envelope,
    vouches: &[Envelope],
    now: Timestamp,
) -> Result<LoggedEvent, CircleOpError> {
    let proposal = read_proposal(env)?;
    let fork_resolving = matches!(
        &proposal.action,
        QuorumAction::SetSequencer { member, resolves: Some(_) } if member == my_id
    );
    // §2.5: a fork-resolving set_sequencer may be signed by the maintainer it appoints.
    if !fork_resolving {
        require_sequencer(&circle.roster, my_id)?;
    }
    // protocol.md §2.9: the sequencer records the member's tip as this store holds it (the
    // highest seq with every link below it held): nothing past it is accepted afterwards.
    let tip_of = |m: &MemberId| author_tip(circle.store.conn(), m);
    let body = match &proposal.action {
        QuorumAction::Remove { member, .. } => EventBody::Remove {
            proposal: env.clone(),
            chain_tip: tip_of(member)?,
        },
        QuorumAction::SetRole { .. } => EventBody::SetRole {
            proposal: env.clone(),
        },
        QuorumAction::ChangePolicy { .. } => EventBody::ChangePolicy {
            proposal: env.clone(),
        },
        QuorumAction::SetSequencer { .. } => EventBody::SetSequencer {
            proposal: env.clone(),
        },
        QuorumAction::ReplaceKeys { member, .. } => EventBody::ReplaceKeys {
            proposal: env.clone(),
            chain_tip: tip_of(member)?,
            vouches: vouches.to_vec(),
        },
    };
    let event = sequence_event(circle, sequencer, body, now)?;
    circle.store.remove_proposal(&env.id())?;
    Ok(event)
}

// ---------------------------------------------------------------------------------------------
// Checkpoints, imports and forks.

/// Issues a checkpoint of the head (the sequencer), stores it and records it as freshness.
pub fn issue_checkpoint(
    circle: &mut Circle,
    sequencer: &dyn Signer,
    my_id: &MemberId,
    now: Timestamp,
) -> Result<Envelope, CircleOpError> {
    require_sequencer(&circle.roster, my_id)?;
    let expiry = i64::try_from(circle.roster.policy().checkpoint_expiry_secs).unwrap_or(i64::MAX);
    let at = if now < circle.roster.head_at() {
        circle.roster.head_at()
    } else {
        now
    };
    let cp = circle.roster.checkpoint(at, at.plus_seconds(expiry));
    let env = cp
        .sign(sequencer)
        .map_err(|e| CircleOpError::Refused(format!("cannot sign the checkpoint: {e}")))?;
    accept_checkpoint(circle, &env, sequencer, now)?;
    Ok(env)
}

/// Whether the sequencer owes a checkpoint at `now`: none yet for the current head, or the
/// last one is older than `policy.checkpoint_interval_secs` (protocol.md §2.14).
pub fn checkpoint_needed(circle: &Circle, now: Timestamp) -> Result<bool, CircleOpError> {
    Ok(match circle.store.latest_checkpoint()? {
        None => true,
        Some((seq, at, _)) => {
            seq != circle.roster.head_seq() || circle.roster.checkpoint_due(Some(at), now)
        }
    })
}

/// What accepting a checkpoint did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointOutcome {
    Stored,
    /// It names a different head for a seq we hold: the fork proof is stored, the circle frozen.
    Forked {
        seq: u64,
        proof_id: String,
    },
}

/// Verifies and stores a checkpoint (protocol.md §2.14); a conflicting one yields a fork proof.
pub fn accept_checkpoint(
    circle: &mut Circle,
    env: &Envelope,
    reporter: &dyn Signer,
    now: Timestamp,
) -> Result<CheckpointOutcome, CircleOpError> {
    use debrief_protocol::roster::CheckpointStatus;
    let (v, status) = circle.roster.observe_checkpoint(env, now)?;
    if let CheckpointStatus::Fork(proof) = status {
        let proof_id = record_fork(circle, &proof, reporter, now)?;
        return Ok(CheckpointOutcome::Forked {
            seq: proof.seq,
            proof_id,
        });
    }
    circle
        .store
        .put_checkpoint(env, v.seq, &v.head, v.at, v.expires)?;
    if matches!(status, CheckpointStatus::Current) {
        circle
            .store
            .record_freshness(&env.id().to_hex(), v.seq, &v.head, v.at)?;
    }
    Ok(CheckpointOutcome::Stored)
}

/// Verifies and records a fork proof: stored (signed by `reporter`), and the circle frozen
/// (protocol.md §2.15). Returns the proof id.
pub fn record_fork(
    circle: &mut Circle,
    proof: &ForkProof,
    reporter: &dyn Signer,
    now: Timestamp,
) -> Result<String, CircleOpError> {
    let mut roster = circle.roster.clone();
    let status = roster.record_fork_proof(proof)?;
    let id = proof.id().to_hex();
    if status == ForkStatus::Frozen {
        let env = proof
            .sign(reporter)
            .map_err(|e| CircleOpError::Refused(format!("cannot sign the fork proof: {e}")))?;
        circle.store.put_fork_proof(&id, proof.seq, &env, now)?;
        circle.roster = roster;
    }
    Ok(id)
}

/// What importing a roster log did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    /// The log extends ours (or repeats it): `added` new events.
    Extended { added: usize },
    /// The log holds a validly signed event that differs from ours for `seq`: only the fork
    /// proof was stored and the circle is frozen.
    Forked { seq: u64, proof_id: String },
}

/// Imports a roster log (and the checkpoints and fork proofs that travel with it). An invalid
/// log stores nothing and names the event and the rule; a log that conflicts with ours stores
/// only the fork proof and freezes the circle (protocol.md §2.4, §2.15).
pub fn import_log(
    circle: &mut Circle,
    events: &[Envelope],
    checkpoints: &[Envelope],
    fork_proofs: &[Envelope],
    reporter: &dyn Signer,
    now: Timestamp,
) -> Result<ImportOutcome, CircleOpError> {
    let outcome = match circle
        .store
        .append_roster_events(Some(&circle.roster), events, now)
    {
        Ok((roster, added)) => {
            circle.roster = roster;
            ImportOutcome::Extended { added }
        }
        Err(RosterImportError::Conflict { event, .. }) => {
            match circle.roster.observe_event(&event)? {
                EventObservation::Fork(proof) => {
                    let proof_id = record_fork(circle, &proof, reporter, now)?;
                    return Ok(ImportOutcome::Forked {
                        seq: proof.seq,
                        proof_id,
                    });
                }
                other => {
                    return Err(CircleOpError::Refused(format!(
                        "unexpected observation of a conflicting event: {other:?}"
                    )));
                }
            }
        }
        Err(e) => return Err(e.into()),
    };
    // Fork proofs spread like roster events (protocol.md §2.15): each is checked on its own
    // sequencer signatures; a new, unresolved one freezes the circle.
    let mut newly_frozen = None;
    for env in fork_proofs {
        let proof: ForkProof = env
            .unverified_payload()
            .map_err(|e| CircleOpError::Malformed {
                what: format!("fork proof {}", env.id()),
                expected: "fork proof",
                message: e.to_string(),
            })?;
        let was_frozen = circle.roster.unresolved_forks().len();
        let id = record_fork(circle, &proof, reporter, now)?;
        if circle.roster.unresolved_forks().len() > was_frozen && newly_frozen.is_none() {
            newly_frozen = Some(ImportOutcome::Forked {
                seq: proof.seq,
                proof_id: id,
            });
        }
    }
    if let Some(forked) = newly_frozen {
        return Ok(forked);
    }
    for env in checkpoints {
        match accept_checkpoint(circle, env, reporter, now) {
            Ok(CheckpointOutcome::Forked { seq, proof_id }) => {
                return Ok(ImportOutcome::Forked { seq, proof_id });
            }
            Ok(CheckpointOutcome::Stored) => {}
            // An expired or superseded checkpoint in an old export is not an error: the log
            // itself was accepted.
            Err(CircleOpError::Rule(RosterError::Checkpoint { .. })) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(outcome)
}

/// A one-line summary of an event, for `circle log`.
pub fn describe_event(roster: &Roster, event: &LoggedEvent) -> String {
    use debrief_protocol::roster::RosterEvent;
    let Ok(ev) = event.envelope.unverified_payload::<RosterEvent>() else {
        return String::new();
    };
    let org = |id: &MemberId| {
        roster
            .member(id)
            .map(|m| format!("{id} ({})", m.org))
            .unwrap_or_else(|| id.to_string())
    };
    let request_member = |env: &Envelope| {
        env.unverified_payload::<MemberRequest>()
            .map(|r| org(&r.member))
            .unwrap_or_default()
    };
    let action = |env: &Envelope| -> String {
        let Ok(p) = env.unverified_payload::<QuorumProposal>() else {
            return String::new();
        };
        let signers = env.signatures().len();
        match p.action {
            QuorumAction::Remove { member, reason } => {
                format!("{} removed: {reason} ({signers} signatures)", org(&member))
            }
            QuorumAction::SetRole { member, maintainer } => format!(
                "{} is {} ({signers} signatures)",
                org(&member),
                if maintainer {
                    "a maintainer"
                } else {
                    "no longer a maintainer"
                }
            ),
            QuorumAction::ChangePolicy { policy } => format!(
                "policy: {} vouches, quorum {} ({signers} signatures)",
                policy.vouches, policy.maintainer_quorum
            ),
            QuorumAction::SetSequencer { member, resolves } => format!(
                "sequencer is now {}{} ({signers} signatures)",
                org(&member),
                if resolves.is_some() {
                    ", resolving a fork"
                } else {
                    ""
                }
            ),
            QuorumAction::ReplaceKeys { member, .. } => {
                format!("keys of {} replaced ({signers} signatures)", org(&member))
            }
        }
    };
    match &ev.event {
        EventBody::Genesis(g) => format!(
            "circle {:?} founded; {} maintainer(s), {} founding member(s)",
            g.name,
            g.maintainers.len(),
            g.members.len()
        ),
        EventBody::Admit {
            join_request,
            vouches,
            ..
        } => {
            let who = join_request
                .unverified_payload::<JoinRequest>()
                .ok()
                .and_then(|j| {
                    j.card
                        .unverified_payload::<debrief_protocol::identity::IdentityCard>()
                        .ok()
                })
                .map(|c| format!("{} ({})", c.member, c.org))
                .unwrap_or_default();
            format!("{who} admitted on {} vouch(es)", vouches.len())
        }
        EventBody::Leave { request } => format!("{} left", request_member(request)),
        EventBody::SetEndpoint { request } => {
            format!("{} set its endpoint", request_member(request))
        }
        EventBody::SetEncKey { request } => {
            format!("{} set its encryption key", request_member(request))
        }
        EventBody::SetProfile { request } => {
            format!("{} set its profile", request_member(request))
        }
        EventBody::SetDenyTerms { request } => {
            format!("{} set its deny terms", request_member(request))
        }
        EventBody::RotateSigningKey { request } => {
            format!("{} rotated its signing key", request_member(request))
        }
        EventBody::Remove { proposal, .. }
        | EventBody::SetRole { proposal }
        | EventBody::ChangePolicy { proposal }
        | EventBody::SetSequencer { proposal }
        | EventBody::ReplaceKeys { proposal, .. } => action(proposal),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::home::Home;
    use crate::node::{Node, now};
    use debrief_keys::Passphrase;
    use debrief_protocol::profile::{Industry, OrgProfile, Region, SizeBand};
    use debrief_protocol::roster::Policy;
    use zeroize::Zeroizing;

    fn node(dir: &std::path::Path, org: &str) -> Node {
        let profile = OrgProfile {
            industry: Industry::Saas,
            size_band: SizeBand::M,
            region: Region::Europe,
        };
        let pass = Passphrase::new(Zeroizing::new("correct horse".to_owned())).unwrap();
        Node::init(Home::at(dir), org, profile, None, pass, Some(10), now()).unwrap()
    }

    #[test]
    fn member_requests_from_others_wait_then_apply_once() {
        let dir = tempfile::tempdir().unwrap();
        let a = node(&dir.path().join("a"), "Alpha");
        let b = node(&dir.path().join("b"), "Beta");
        let t = now();
        let card = b.signed_card(t).unwrap();
        let mut ca = a
            .create_circle("ops", "Be kind.", Policy::default(), vec![card], t)
            .unwrap();
        let events = ca.store.roster_envelopes().unwrap();
        let mut cb = b.add_circle("ops", &events, t).unwrap();
        let (a_id, b_id) = (a.identity().member_id(), b.identity().member_id());

        // Grouped ids and org names resolve; "db1" is ambiguous.
        assert_eq!(resolve_member(&ca.roster, &b_id.grouped()).unwrap(), b_id);
        assert_eq!(resolve_member(&ca.roster, "  BETA ").unwrap(), b_id);
        assert!(matches!(
            resolve_member(&ca.roster, "db1"),
            Err(CircleOpError::AmbiguousMember { candidates, .. }) if candidates.len() == 2
        ));

        let change = MemberChange::SetDenyTerms {
            terms: vec!["beta-secret".into()],
        };
        let Submitted::Pending(env) =
            request_change(&mut cb, b.identity(), &b_id, change, t).unwrap()
        else {
            panic!("B does not sequence");
        };
        accept_member_request(&mut ca, &env, t).unwrap();
        let id = env.id().to_hex();
        let found = stored_proposal(&ca, &id[..10]).unwrap();
        assert_eq!(found, env);
        let event = apply_member_request(&mut ca, a.identity(), &a_id, &found, t).unwrap();
        assert_eq!(event.seq, 1);
        assert_eq!(
            ca.roster.member(&b_id).unwrap().deny_terms,
            vec!["beta-secret".to_owned()]
        );
        // Applied requests leave pending; a replay is refused by its counter.
        assert!(stored_proposal(&ca, &id[..10]).is_err());
        let err = accept_member_request(&mut ca, &env, t).unwrap_err();
        assert!(
            err.to_string().starts_with("§2.10 request counter 1"),
            "{err}"
        );
        let err = apply_member_request(&mut ca, a.identity(), &a_id, &env, t).unwrap_err();
        assert_eq!(
            err.to_string().split(':').next().unwrap(),
            "§2.10 roster event 2"
        );
        // B cannot append: it is not the sequencer.
        let err = apply_member_request(&mut cb, b.identity(), &b_id, &env, t).unwrap_err();
        assert!(err.to_string().contains("only the sequencer"), "{err}");
    }

    #[test]
    fn proposals_keep_the_copy_with_most_signatures() {
        let dir = tempfile::tempdir().unwrap();
        let a = node(&dir.path().join("a"), "Alpha");
        let b = node(&dir.path().join("b"), "Beta");
        let t = now();
        let card = b.signed_card(t).unwrap();
        let mut ca = a
            .create_circle("ops", "Be kind.", Policy::default(), vec![card], t)
            .unwrap();
        let (a_id, b_id) = (a.identity().member_id(), b.identity().member_id());
        let (env, status) = propose(
            &mut ca,
            a.identity(),
            &a_id,
            QuorumAction::SetRole {
                member: b_id.clone(),
                maintainer: true,
            },
            t,
        )
        .unwrap();
        // One maintainer: the quorum is min(2, 1) = 1.
        assert_eq!(status.needed, 1);
        assert!(status.is_met());
        // A copy with a foreign extra signature counts no more, and a copy with fewer
        // signatures never replaces a stored one.
        let mut more = env.clone();
        more.add_signature(b.identity()).unwrap();
        accept_proposal(&mut ca, &more, t).unwrap();
        accept_proposal(&mut ca, &env, t).unwrap();
        assert_eq!(ca.store.proposals().unwrap(), vec![more.clone()]);
        let event = apply_proposal(&mut ca, a.identity(), &a_id, &more, &[], t).unwrap();
        assert_eq!(event.kind, "set_role");
        assert!(ca.store.proposals().unwrap().is_empty());
        // B is a maintainer now: its cosignature of a new proposal counts.
        let (env, status) = propose(
            &mut ca,
            a.identity(),
            &a_id,
            QuorumAction::Remove {
                member: b_id.clone(),
                reason: "test".into(),
            },
            t,
        )
        .unwrap();
        assert_eq!((status.needed, status.signed_by.len()), (2, 1));
        let err = apply_proposal(&mut ca, a.identity(), &a_id, &env, &[], t).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "§2.12 roster event 2: 2 cosigning maintainer companies needed, got 1"
            ),
            "{err}"
        );
        assert_eq!(ca.roster.head_seq(), 1);
    }

    #[test]
    fn admit_pending_takes_the_request_invite_and_vouches_from_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let a = node(&dir.path().join("a"), "Alpha");
        let b = node(&dir.path().join("b"), "Beta");
        let c = node(&dir.path().join("c"), "Gamma");
        let t = now();
        let policy = Policy {
            vouches: 2,
            ..Policy::default()
        };
        let mut ca = a
            .create_circle(
                "ops",
                "Be kind.",
                policy,
                vec![b.signed_card(t).unwrap()],
                t,
            )
            .unwrap();
        let cb = b
            .add_circle("ops", &ca.store.roster_envelopes().unwrap(), t)
            .unwrap();
        let a_id = a.identity().member_id();
        let b_id = b.identity().member_id();
        let info = issue_invite(
            &mut ca,
            a.identity(),
            &a_id,
            Some("https://a.example"),
            a.identity().tls_spki_pin(),
            t,
            3600,
        )
        .unwrap();
        let file = make_join_request(
            &info,
            c.signed_card(t).unwrap(),
            Vec::new(),
            c.identity(),
            t,
        )
        .unwrap();
        let join_id = file.join_request.id();
        accept_join_request(&mut ca, &file.invite, &file.join_request, t).unwrap();

        // Unknown prefixes are refused; a held request shows 0 of 2 vouches.
        let err = admit_pending(&mut ca, a.identity(), &a_id, "zz", t).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "no pending join request of circle \"ops\" has an id starting with \"zz\""
            ),
            "{err}"
        );
        let shown = pending_admissions(&ca, t).unwrap();
        assert_eq!(shown.len(), 1);
        assert_eq!(
            (
                shown[0].join_request,
                shown[0].org.as_str(),
                shown[0].vouches.needed
            ),
            (join_id, "Gamma", 2)
        );
        assert!(shown[0].vouches.counted.is_empty() && !shown[0].ready());

        // B's vouch, made without storing, then accepted by A; A vouches on its own node.
        let bv = make_vouch(&cb, b.identity(), &b_id, &file, "peer", None, t).unwrap();
        assert!(pending_vouches(&cb, &join_id).unwrap().is_empty());
        accept_vouch(&mut ca, &bv, t).unwrap();
        let held = pending_join_request(&ca, &join_id.to_hex()[..10]).unwrap();
        assert_eq!(held.invite, info.invite);
        vouch(
            &mut ca,
            a.identity(),
            &a_id,
            &held,
            "long-time peer",
            None,
            t,
        )
        .unwrap();
        assert!(pending_admissions(&ca, t).unwrap()[0].ready());

        // With its invite forgotten, the request can no longer be admitted by id.
        let hash = InviteToken::parse(&info.token).unwrap().hash();
        let kept = ca.store.meta(&invite_meta_key(&hash)).unwrap().unwrap();
        crate::server::invites::revoke_invite(&mut ca.store, &hash).unwrap();
        assert!(!pending_admissions(&ca, t).unwrap()[0].ready());
        let err = admit_pending(&mut ca, a.identity(), &a_id, &join_id.to_hex(), t).unwrap_err();
        assert!(err.to_string().contains("holds no record of"), "{err}");
        ca.store.put_meta(&invite_meta_key(&hash), &kept).unwrap();

        let event =
            admit_pending(&mut ca, a.identity(), &a_id, &join_id.to_hex()[..10], t).unwrap();
        assert_eq!((event.seq, event.kind), (1, "admit"));
        assert!(ca.roster.member(&c.identity().member_id()).is_some());
        assert!(pending_admissions(&ca, t).unwrap().is_empty());
        // B's store never held anything for it.
        assert!(
            cb.store
                .pending(PendingKind::JoinRequest, None)
                .unwrap()
                .is_empty()
        );
    }
}
