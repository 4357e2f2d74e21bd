//! The rules on a header's fields that both the sealer and every receiver apply
//! (protocol.md §3.7–§3.17), and the rules that need the target bundle (§3.26).

use crate::ids::{EnvelopeId, KeyId, MemberId};
use crate::membership::{ChainTip, MemberAt, RosterHistory};
use crate::timestamp::Timestamp;

use super::errors::{BundleError, Part};
use super::types::{
    BundleBody, BundleHeader, BundleId, BundleKind, ENC_AGE_X25519_V1, Tlp, recipients_digest,
};
use super::{CLOCK_SKEW_SECS, MAX_RECIPIENTS};

/// protocol.md §3.7: the object belongs to this circle.
pub(crate) fn check_circle(
    part: Part,
    found: EnvelopeId,
    roster: &dyn RosterHistory,
) -> Result<(), BundleError> {
    let expected = roster.circle_id();
    if found != expected {
        return Err(BundleError::WrongCircle {
            part,
            expected,
            found,
        });
    }
    Ok(())
}

/// protocol.md §3.10: author seqs start at 1, and a retired key signs nothing beyond its recorded tip.
pub(crate) fn check_within_tip(
    part: Part,
    author_seq: u64,
    tip: Option<ChainTip>,
) -> Result<(), BundleError> {
    if author_seq == 0 {
        return Err(BundleError::ZeroAuthorSeq { part });
    }
    if let Some(tip) = tip
        && author_seq > tip.seq
    {
        return Err(BundleError::KeyRetired {
            part,
            author_seq,
            tip_seq: tip.seq,
        });
    }
    Ok(())
}

/// The earlier of two retirement tips (a key retired once has one tip; taking the minimum keeps
/// us safe whichever roster position a lookup was made at).
pub(crate) fn earliest_tip(a: Option<ChainTip>, b: Option<ChainTip>) -> Option<ChainTip> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if x.seq <= y.seq { x } else { y }),
        (x, None) => x,
        (None, y) => y,
    }
}

/// protocol.md §3.8–§3.10 for a header whose signature verified under `keyid`: the named roster position is
/// this circle's, the author was a member holding that key then, and the key may still sign at
/// this author seq. `tip_at_head` is the retirement tip known at the roster head.
pub(crate) fn check_roster_and_author(
    h: &BundleHeader,
    keyid: &KeyId,
    tip_at_head: Option<ChainTip>,
    roster: &dyn RosterHistory,
) -> Result<(), BundleError> {
    // protocol.md §3.8: mix-and-match of roster and bundle is refused.
    if roster.event_id_at(h.roster.seq) != Some(h.roster.head) {
        return Err(BundleError::RosterMismatch { seq: h.roster.seq });
    }
    // protocol.md §3.9: a member at that roster seq, holding that key then.
    if roster.member_at(h.roster.seq, &h.author).is_none() {
        return Err(BundleError::AuthorNotMember {
            author: h.author.clone(),
            seq: h.roster.seq,
        });
    }
    let at_seq = roster
        .author_key(h.roster.seq, &h.author, keyid)
        .ok_or_else(|| BundleError::KeyNotHeldAt {
            author: h.author.clone(),
            seq: h.roster.seq,
        })?;
    // protocol.md §3.10: judged against the head too, so naming an old roster seq does not escape a later
    // retirement.
    check_within_tip(
        Part::Header,
        h.author_seq,
        earliest_tip(at_seq.retired_at, tip_at_head),
    )
}

/// protocol.md §3.11–§3.17: the header's own fields, against the members at its roster seq.
pub(crate) fn check_header_fields(
    h: &BundleHeader,
    roster: &dyn RosterHistory,
    now: Timestamp,
) -> Result<(), BundleError> {
    // protocol.md §3.11
    if h.created_at > now.plus_seconds(CLOCK_SKEW_SECS) {
        return Err(BundleError::FromTheFuture {
            created_at: h.created_at,
            now,
        });
    }
    // protocol.md §3.12
    if h.enc != ENC_AGE_X25519_V1 {
        return Err(BundleError::UnknownEnc(h.enc.clone()));
    }
    let members = roster.members_at(h.roster.seq);
    check_recipients(h, &members)?;
    // protocol.md §3.14
    if recipients_digest(&h.recipients) != h.recipients_digest {
        return Err(BundleError::DigestMismatch);
    }
    check_tlp(h, &members)?;
    check_kind(h)?;
    check_declass(h, &members)
}

/// protocol.md §3.13: 1 to MAX_RECIPIENTS recipients, strictly sorted by member id, each a member at the
/// roster seq listed with exactly its age recipient then, the author among them.
fn check_recipients(h: &BundleHeader, members: &[MemberAt]) -> Result<(), BundleError> {
    let count = h.recipients.len();
    if count == 0 || count > MAX_RECIPIENTS {
        return Err(BundleError::RecipientCount {
            count,
            max: MAX_RECIPIENTS,
        });
    }
    if h.recipients.windows(2).any(|w| w[0].member >= w[1].member) {
        return Err(BundleError::RecipientsUnsorted);
    }
    // Both lists are sorted by member id: one linear merge.
    let mut roster_iter = members.iter().peekable();
    for r in &h.recipients {
        while roster_iter.next_if(|m| m.member < r.member).is_some() {}
        match roster_iter.peek() {
            Some(m) if m.member == r.member => {
                if m.enc_recipient != r.age_recipient {
                    return Err(BundleError::RecipientKeyMismatch(r.member.clone()));
                }
            }
            _ => return Err(BundleError::RecipientNotMember(r.member.clone())),
        }
    }
    if !h.is_recipient(&h.author) {
        return Err(BundleError::AuthorNotRecipient);
    }
    Ok(())
}

/// protocol.md §3.15: CLEAR never; circle-wide labels reach every member at the roster seq; RED names at
/// least one recipient besides the author.
fn check_tlp(h: &BundleHeader, members: &[MemberAt]) -> Result<(), BundleError> {
    match h.tlp {
        Tlp::Clear => Err(BundleError::ClearInCircle),
        Tlp::Green | Tlp::Amber | Tlp::AmberStrict => {
            // Every recipient is a member (§3.13), so equal counts would mean equal sets; find
            // the first member left out to say who.
            match members.iter().find(|m| !h.is_recipient(&m.member)) {
                Some(m) => Err(BundleError::PartialCircleAudience {
                    tlp: h.tlp.as_str(),
                    missing: m.member.clone(),
                }),
                None => Ok(()),
            }
        }
        Tlp::Red => {
            if h.recipients.len() < 2 {
                Err(BundleError::RedWithoutNamed)
            } else {
                Ok(())
            }
        }
    }
}

/// protocol.md §3.16: what each kind's target, bundle id and version must be.
fn check_kind(h: &BundleHeader) -> Result<(), BundleError> {
    let rule = |problem| BundleError::KindRule {
        kind: h.kind,
        problem,
    };
    let Some(target) = &h.target else {
        return match h.kind {
            BundleKind::Report if h.version == 1 => Ok(()),
            BundleKind::Report => Err(rule("a report starts its lineage at version 1")),
            _ => Err(rule("needs a target")),
        };
    };
    if h.kind.needs_own_target() && target.author != h.author {
        return Err(BundleError::NotTargetAuthor { kind: h.kind });
    }
    match h.kind {
        BundleKind::Report => Err(rule("a report has no target")),
        BundleKind::Revision => {
            if target.bundle != h.bundle {
                Err(rule("keeps its target's bundle id"))
            } else if Some(h.version) != target.version.checked_add(1) {
                Err(rule("has its target's version + 1"))
            } else {
                Ok(())
            }
        }
        BundleKind::Reshare => {
            if target.bundle != h.bundle {
                Err(rule("keeps its target's bundle id"))
            } else if h.version != target.version {
                Err(rule("keeps its target's version"))
            } else {
                Ok(())
            }
        }
        BundleKind::Retraction
        | BundleKind::Comment
        | BundleKind::DeclassRequest
        | BundleKind::DeclassReview => {
            if target.bundle == h.bundle {
                Err(rule("has a bundle id of its own, not its target's"))
            } else if h.version != 1 {
                Err(rule("has version 1"))
            } else {
                Ok(())
            }
        }
    }
}

/// protocol.md §3.17: a declassification thread goes, RED, to named members and every maintainer.
fn check_declass(h: &BundleHeader, members: &[MemberAt]) -> Result<(), BundleError> {
    if !h.kind.is_declass() {
        return Ok(());
    }
    if h.tlp != Tlp::Red {
        return Err(BundleError::DeclassAudience { missing: None });
    }
    match members
        .iter()
        .find(|m| m.is_maintainer && !h.is_recipient(&m.member))
    {
        Some(m) => Err(BundleError::DeclassAudience {
            missing: Some(m.member.clone()),
        }),
        None => Ok(()),
    }
}

/// protocol.md §3.16: report kinds carry a report; the others carry text.
pub(crate) fn check_body(kind: BundleKind, body: &BundleBody) -> Result<(), BundleError> {
    match (kind.carries_report(), body) {
        (true, BundleBody::Report(_)) | (false, BundleBody::Text(_)) => Ok(()),
        (true, BundleBody::Text(_)) => Err(BundleError::KindRule {
            kind,
            problem: "carries a report, not text",
        }),
        (false, BundleBody::Report(_)) => Err(BundleError::KindRule {
            kind,
            problem: "carries text, not a report",
        }),
    }
}

/// What the sealer or a receiver knows about a target bundle from its own verified store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetInfo {
    /// Envelope id of the target's outer header.
    pub header_id: EnvelopeId,
    pub author: MemberId,
    pub bundle: BundleId,
    pub version: u64,
    pub kind: BundleKind,
    pub tlp: Tlp,
    /// The target's own recipients (a comment's parent audience).
    pub recipients: Vec<MemberId>,
    /// Every recipient of every version and reshare of the target's lineage (what a
    /// retraction must reach).
    pub lineage_recipients: Vec<MemberId>,
}

impl TargetInfo {
    /// The facts about a target, from its verified header and the recipients of every bundle
    /// of its lineage the caller holds.
    pub fn from_header(
        header_id: EnvelopeId,
        header: &BundleHeader,
        lineage_recipients: Vec<MemberId>,
    ) -> TargetInfo {
        TargetInfo {
            header_id,
            author: header.author.clone(),
            bundle: header.bundle,
            version: header.version,
            kind: header.kind,
            tlp: header.tlp,
            recipients: header.recipient_members(),
            lineage_recipients,
        }
    }
}

/// protocol.md §3.26: the rules that need the target itself. The sealer runs them before sealing; a
/// receiver runs them once it holds the target (until then the static rules of §3.16 hold).
pub fn check_target(
    h: &BundleHeader,
    target: &TargetInfo,
    roster: &dyn RosterHistory,
) -> Result<(), BundleError> {
    let Some(named) = &h.target else {
        return Err(BundleError::KindRule {
            kind: h.kind,
            problem: "needs a target",
        });
    };
    let mismatch = |field| Err(BundleError::TargetMismatch { field });
    if named.header != target.header_id {
        return mismatch("header id");
    }
    if named.author != target.author {
        return mismatch("author");
    }
    if named.bundle != target.bundle {
        return mismatch("bundle id");
    }
    if named.version != target.version {
        return mismatch("version");
    }
    use BundleKind as K;
    let allowed: &[BundleKind] = match h.kind {
        K::Report => &[],
        K::Revision | K::Retraction | K::Reshare | K::DeclassRequest => &[K::Report, K::Revision],
        K::Comment => &[K::Report, K::Revision, K::Reshare, K::Comment],
        K::DeclassReview => &[K::DeclassRequest, K::DeclassReview],
    };
    if !allowed.contains(&target.kind) {
        return Err(BundleError::TargetKind {
            kind: h.kind,
            target_kind: target.kind,
        });
    }
    if h.kind.needs_own_target() && h.author != target.author {
        return Err(BundleError::NotTargetAuthor { kind: h.kind });
    }
    match h.kind {
        K::Reshare if h.tlp != target.tlp => mismatch("tlp"),
        K::Retraction => {
            // Every earlier reader still in the circle: removed members cannot be reached, and
            // removal never gave forward secrecy anyway.
            for m in &target.lineage_recipients {
                if !h.is_recipient(m) && roster.member_at(h.roster.seq, m).is_some() {
                    return Err(BundleError::RetractionNarrows(m.clone()));
                }
            }
            Ok(())
        }
        K::Comment => {
            for r in &h.recipients {
                if !target.recipients.contains(&r.member) {
                    return Err(BundleError::CommentWidens(r.member.clone()));
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}
