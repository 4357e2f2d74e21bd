//! Approvals (protocol.md §7.2): author, reviewer and maintainer of three distinct member
//! companies each sign the SHA-256 of exactly the public content to be published.

use serde::{Deserialize, Serialize};

use crate::envelope::{self, Envelope, EnvelopeError, PayloadType, Signer, Verified};
use crate::ids::EnvelopeId;
use crate::ids::{MemberId, Sha256Digest};
use crate::membership::RosterHistory;
use crate::timestamp::Timestamp;

use super::error::PublogError;

/// Fewest distinct companies a publication needs, whatever the policy says (§7.2).
pub const MIN_APPROVING_COMPANIES: u32 = 3;

/// In which capacity a member approves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApprovalRole {
    Author,
    Reviewer,
    Maintainer,
}

impl ApprovalRole {
    pub const fn as_str(self) -> &'static str {
        match self {
            ApprovalRole::Author => "author",
            ApprovalRole::Reviewer => "reviewer",
            ApprovalRole::Maintainer => "maintainer",
        }
    }
}

/// The signed approval payload (`application/vnd.debrief.approval.v1+json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    pub circle: EnvelopeId,
    pub role: ApprovalRole,
    /// The approving member; its signing key at `roster_seq` signs.
    pub member: MemberId,
    /// The roster seq the approver judged membership and roles against.
    pub roster_seq: u64,
    /// SHA-256 of the public content's canonical JSON (§7.1).
    pub content_sha256: Sha256Digest,
    pub issued_at: Timestamp,
    pub expires: Timestamp,
}

impl Approval {
    /// Signs the approval with the member's current signing key.
    pub fn sign(&self, signer: &dyn Signer) -> Result<Envelope, EnvelopeError> {
        Envelope::sign(self, PayloadType::Approval, signer)
    }
}

/// Approvals that met §7.2 for one content hash.
#[derive(Debug, Clone)]
pub struct ApprovalSet {
    /// The content hash they cover.
    pub content_sha256: Sha256Digest,
    /// The author, reviewer and maintainer companies that satisfied the role rule.
    pub author: MemberId,
    pub reviewer: MemberId,
    pub maintainer: MemberId,
    /// Every distinct company with a valid approval, sorted.
    pub companies: Vec<MemberId>,
    /// The verified approvals that counted.
    pub approvals: Vec<Verified<Approval>>,
}

/// Checks approvals for publishing `content_sha256` in `history`'s circle (protocol.md §7.2).
///
/// `author` is the report's author (known to the circle, never published); `required` is the
/// policy's `declassification_approvals` (floored at [`MIN_APPROVING_COMPANIES`]). Each
/// approval must verify under the approver's signing key at its roster seq, name this circle
/// and this exact content hash (an approval of earlier content is stale), be unexpired at
/// `now`, and its role must fit: the author approves as author, a maintainer at that seq as
/// maintainer, any other member as reviewer. Then author, reviewer and maintainer must be
/// three distinct companies, and at least `required` companies must approve in all.
pub fn check_approvals(
    approvals: &[Envelope],
    content_sha256: &Sha256Digest,
    author: &MemberId,
    history: &dyn RosterHistory,
    required: u32,
    now: Timestamp,
) -> Result<ApprovalSet, PublogError> {
    let circle = history.circle_id();
    let (head_seq, _) = history.head();
    let mut good: Vec<Verified<Approval>> = Vec::new();
    for (index, env) in approvals.iter().enumerate() {
        let fail = |message: String| PublogError::Approval { index, message };
        let claimed: Approval = env.unverified_payload().map_err(|e| fail(e.to_string()))?;
        if claimed.roster_seq > head_seq {
            return Err(fail(format!(
                "names roster seq {} beyond the head {head_seq}",
                claimed.roster_seq
            )));
        }
        let Some(at) = history.member_at(claimed.roster_seq, &claimed.member) else {
            return Err(fail(format!(
                "{} was not a member at roster seq {}",
                claimed.member, claimed.roster_seq
            )));
        };
        let v: Verified<Approval> = envelope::verify(env, PayloadType::Approval, &at.signing_key)
            .map_err(|e| fail(e.to_string()))?;
        let a = v.value();
        if a.circle != circle {
            return Err(fail(format!("names circle {}, not {circle}", a.circle)));
        }
        // §7.2: any change to the content invalidates earlier approvals.
        if a.content_sha256 != *content_sha256 {
            return Err(fail(format!(
                "by {} ({}) is stale: it approves content {}, the content is now {}",
                a.member,
                a.role.as_str(),
                a.content_sha256,
                content_sha256
            )));
        }
        if a.expires <= now {
            return Err(fail(format!(
                "by {} ({}) expired at {}",
                a.member,
                a.role.as_str(),
                a.expires
            )));
        }
        if a.issued_at >= a.expires {
            return Err(fail("issued_at is not before expires".into()));
        }
        if history.member_at(head_seq, &a.member).is_none() {
            return Err(fail(format!("{} is no longer a member", a.member)));
        }
        match a.role {
            ApprovalRole::Author if a.member != *author => {
                return Err(fail(format!(
                    "{} approves as author but is not the report's author",
                    a.member
                )));
            }
            ApprovalRole::Reviewer if a.member == *author => {
                return Err(fail("the author cannot also be the reviewer".into()));
            }
            ApprovalRole::Maintainer if !at.is_maintainer => {
                return Err(fail(format!(
                    "{} approves as maintainer but was not one at roster seq {}",
                    a.member, a.roster_seq
                )));
            }
            _ => {}
        }
        good.push(v);
    }
    let with_role = |role: ApprovalRole| -> Vec<MemberId> {
        let mut m: Vec<MemberId> = good
            .iter()
            .filter(|v| v.role == role)
            .map(|v| v.member.clone())
            .collect();
        m.sort();
        m.dedup();
        m
    };
    let authors = with_role(ApprovalRole::Author);
    if authors.is_empty() {
        return Err(PublogError::ApprovalsInsufficient(
            "no approval by the author".into(),
        ));
    }
    let reviewers = with_role(ApprovalRole::Reviewer);
    let maintainers = with_role(ApprovalRole::Maintainer);
    // §7.2: three distinct companies fill the three roles.
    let pair = reviewers.iter().find_map(|r| {
        maintainers
            .iter()
            .find(|m| *m != r && *m != author)
            .map(|m| (r.clone(), m.clone()))
    });
    let Some((reviewer, maintainer)) = pair else {
        return Err(PublogError::ApprovalsInsufficient(format!(
            "author, reviewer and maintainer must be three distinct companies (reviewers: {}, maintainers: {})",
            reviewers.len(),
            maintainers.len()
        )));
    };
    let mut companies: Vec<MemberId> = good.iter().map(|v| v.member.clone()).collect();
    companies.sort();
    companies.dedup();
    let needed = required.max(MIN_APPROVING_COMPANIES);
    if (companies.len() as u64) < u64::from(needed) {
        return Err(PublogError::ApprovalsInsufficient(format!(
            "{} distinct companies approved, policy requires {needed}",
            companies.len()
        )));
    }
    Ok(ApprovalSet {
        content_sha256: *content_sha256,
        author: author.clone(),
        reviewer,
        maintainer,
        companies,
        approvals: good,
    })
}
