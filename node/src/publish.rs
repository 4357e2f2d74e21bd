//! Review, approvals and publishing on a node (issue 14; docs/declassification.md "Review,
//! approvals and publishing on a node"; rules: protocol.md §3.17, §7).
//!
//! Two halves:
//! - the **declassification thread**: a `declass-request` bundle (the author's candidate public
//!   content, its hash, the provenance commitment, the allowances, and the author's own
//!   approval) and `declass-review` bundles (a verdict, and the signed approval when
//!   approving), RED to the author, the reviewer and every maintainer (§3.17). Their bodies are
//!   JSON texts ([`RequestBody`], [`ReviewBody`]);
//! - the circle's **public log** on disk under `data/circles/<circle-id>/public/` in the
//!   published layout (protocol.md §7.10), and **proposals** ([`Proposal`]) that carry a
//!   genesis, an entry or a checkpoint between publication-key holders until t companies signed.
//!   A proposal is a self-contained JSON file: the same object can later travel over HTTP.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use debrief_config::NodeConfig;
use debrief_keys::Identity;
use debrief_protocol::Timestamp;
use debrief_protocol::bundle::{BundleBody, BundleHeader, BundleKind, Tlp};
use debrief_protocol::declassify::{Allowance, Scrubber};
use debrief_protocol::envelope::{self, Envelope, PayloadType, Signer};
use debrief_protocol::ids::{EnvelopeId, KeyId, MemberId, Sha256Digest};
use debrief_protocol::publog::{
    Approval, ApprovalRole, EntryBody, Erratum, KeySet, LogCheckpoint, LogEntry, LogGenesis,
    MAX_LOG_CHECKPOINT_LIFETIME_SECS, MIN_PUBLICATION_THRESHOLD, PublicContent, Publication,
    PublogError, Retraction, VerifiedLog, check_approvals, check_embargo, layout, verify_log,
};
use debrief_protocol::report::Field;
use debrief_protocol::roster::PublicationKey;
use rusqlite::OptionalExtension as _;
use serde::{Deserialize, Serialize};

use crate::declassify::{self, DeclassifyError, rescan, scrub_config};
use crate::node::Circle;
use crate::sharing::{self, ShareRequest, Shared, SharingError, new_bundle_id};
use crate::store::StoreError;

/// How long an approval stays valid (protocol.md §7.2 item 3): long enough for a review round,
/// short enough that a forgotten sign-off does not stay usable.
pub const APPROVAL_LIFETIME_SECS: i64 = 30 * 24 * 60 * 60;

/// The `format` of a request body.
pub const REQUEST_FORMAT: &str = "debrief-declass-request/1";
/// The `format` of a review body.
pub const REVIEW_FORMAT: &str = "debrief-declass-review/1";
/// The `format` of a proposal file.
pub const PROPOSAL_FORMAT: &str = "debrief-publication-proposal/1";

/// Why a declassification or publishing step was refused.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Sharing(#[from] SharingError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Declassify(#[from] DeclassifyError),
    #[error(transparent)]
    Log(#[from] PublogError),
    #[error("{0}")]
    Refused(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<rusqlite::Error> for PublishError {
    fn from(e: rusqlite::Error) -> Self {
        PublishError::Store(StoreError::from(e))
    }
}

fn refused<T>(message: impl Into<String>) -> Result<T, PublishError> {
    Err(PublishError::Refused(message.into()))
}

// ---------------------------------------------------------------------------------------------
// The declassification thread
// ---------------------------------------------------------------------------------------------

/// The body of a `declass-request` bundle (JSON text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestBody {
    pub format: String,
    /// The report's bundle id (hex) and the exact version (object id) the content comes from.
    pub report_bundle: String,
    pub report_object: EnvelopeId,
    pub version: u64,
    /// The member asked for "fresh eyes".
    pub reviewer: MemberId,
    /// The candidate public content and its hash (protocol.md §7.1).
    pub content: PublicContent,
    pub content_sha256: Sha256Digest,
    /// The provenance commitment (protocol.md §7.3); the salt stays in the author's keystore.
    pub provenance: Sha256Digest,
    /// The report's `timeline.resolved`, for the embargo (§7.11).
    pub resolved: Option<Timestamp>,
    /// The author's allowances with their reasons: reviewers read them, cosigners rescan with them.
    pub allowances: Vec<Allowance>,
    /// The author's signed approval of `content_sha256` (role `author`).
    pub approval: Envelope,
}

/// A reviewer's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Approve,
    RequestChanges,
}

/// The body of a `declass-review` bundle (JSON text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewBody {
    pub format: String,
    /// The request (object id) this review answers.
    pub request: EnvelopeId,
    pub verdict: Verdict,
    pub text: String,
    /// The signed approval (role `reviewer` or `maintainer`) when approving.
    pub approval: Option<Envelope>,
}

/// A request as held in the store.
#[derive(Debug, Clone)]
pub struct HeldRequest {
    pub object: EnvelopeId,
    pub header: BundleHeader,
    pub body: RequestBody,
}

/// A review as held in the store.
#[derive(Debug, Clone)]
pub struct HeldReview {
    pub object: EnvelopeId,
    pub header: BundleHeader,
    pub body: ReviewBody,
}

fn text_json<T: for<'de> Deserialize<'de>>(
    circle: &Circle,
    object: &str,
    what: &str,
) -> Result<T, PublishError> {
    let Some(text) = sharing::text_body(circle, object)? else {
        return refused(format!("the {what} {object} is not readable on this node"));
    };
    serde_json::from_str(&text)
        .map_err(|e| PublishError::Refused(format!("the {what} {object} is not well formed: {e}")))
}

fn held_header(circle: &Circle, object: &str) -> Result<(EnvelopeId, BundleHeader), PublishError> {
    let id: EnvelopeId = object
        .parse()
        .map_err(|e| StoreError::Invalid(format!("stored header id: {e}")))?;
    let h = sharing::stored_header(circle, &id)?
        .ok_or_else(|| PublishError::Refused(format!("bundle {object} is not held")))?;
    Ok((id, h))
}

/// Every request held for the report lineage `report_bundle`, oldest first.
pub fn requests_for(
    circle: &Circle,
    report_bundle: &str,
) -> Result<Vec<HeldRequest>, PublishError> {
    let ids: Vec<String> = circle
        .store
        .conn()
        .prepare(
            "SELECT header_id FROM bundles WHERE kind = 'declass-request' AND target_bundle = ?1
             AND readable = 1 ORDER BY created_at, header_id",
        )?
        .query_map([report_bundle], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for id in ids {
        let (object, header) = held_header(circle, &id)?;
        let body: RequestBody = text_json(circle, &id, "declassification request")?;
        if body.format != REQUEST_FORMAT {
            return refused(format!("request {id} has format {:?}", body.format));
        }
        out.push(HeldRequest {
            object,
            header,
            body,
        });
    }
    Ok(out)
}

/// Every review held of any of `requests`, oldest first.
pub fn reviews_of(
    circle: &Circle,
    requests: &[HeldRequest],
) -> Result<Vec<HeldReview>, PublishError> {
    let mut out = Vec::new();
    for r in requests {
        let ids: Vec<String> = circle
            .store
            .conn()
            .prepare(
                "SELECT header_id FROM bundles WHERE kind = 'declass-review' AND target_header = ?1
                 AND readable = 1 ORDER BY created_at, header_id",
            )?
            .query_map([r.object.to_hex()], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        for id in ids {
            let (object, header) = held_header(circle, &id)?;
            let body: ReviewBody = text_json(circle, &id, "declassification review")?;
            if body.format != REVIEW_FORMAT || body.request != r.object {
                return refused(format!("review {id} does not answer request {}", r.object));
            }
            out.push(HeldReview {
                object,
                header,
                body,
            });
        }
    }
    Ok(out)
}

/// Resolves a command-line id to a report lineage: a report's bundle id, or a request's (the
/// request names its report).
pub fn report_lineage(circle: &Circle, text: &str) -> Result<String, PublishError> {
    let b = match sharing::resolve_id(circle, text)? {
        sharing::Resolved::Bundle(b) => b,
        sharing::Resolved::LinkOnly(h) => {
            return refused(format!(
                "bundle {h} is not readable on this node (it was not shared with this member)"
            ));
        }
    };
    let target: Option<Option<String>> = circle
        .store
        .conn()
        .query_row(
            "SELECT target_bundle FROM bundles WHERE bundle_id = ?1 AND kind = 'declass-request'",
            [&b],
            |r| r.get(0),
        )
        .optional()?;
    Ok(target.flatten().unwrap_or(b))
}

/// The thread of a report: its requests (the latest is the current one) and their reviews.
#[derive(Debug, Clone)]
pub struct Thread {
    pub report_bundle: String,
    pub requests: Vec<HeldRequest>,
    pub reviews: Vec<HeldReview>,
}

impl Thread {
    pub fn load(circle: &Circle, report_bundle: &str) -> Result<Thread, PublishError> {
        let requests = requests_for(circle, report_bundle)?;
        let reviews = reviews_of(circle, &requests)?;
        Ok(Thread {
            report_bundle: report_bundle.to_owned(),
            requests,
            reviews,
        })
    }

    /// The current (latest) request.
    pub fn current(&self) -> Result<&HeldRequest, PublishError> {
        self.requests.last().ok_or_else(|| {
            PublishError::Refused(format!(
                "no declassification request for {} is held here; the author opens one with \
                 `debrief declassify request {} --reviewer MEMBER`",
                self.report_bundle, self.report_bundle
            ))
        })
    }

    /// Every approval in the thread: the authors' (in requests) and the reviewers' and
    /// maintainers' (in reviews), oldest first.
    pub fn approvals(&self) -> Vec<Envelope> {
        let mut out: Vec<Envelope> = self
            .requests
            .iter()
            .map(|r| r.body.approval.clone())
            .collect();
        out.extend(self.reviews.iter().filter_map(|r| r.body.approval.clone()));
        out
    }
}

/// An approval as `status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ApprovalLine {
    pub member: String,
    pub org: String,
    pub role: ApprovalRole,
    pub content_sha256: String,
    /// `current`, `stale` (approves other content) or `expired`.
    pub state: &'static str,
    pub expires: Timestamp,
}

/// Approval payloads of `envelopes`, split into those for `hash` and unexpired at `now`, and the
/// rest as lines for people.
pub fn sort_approvals(
    circle: &Circle,
    envelopes: &[Envelope],
    hash: &Sha256Digest,
    now: Timestamp,
) -> (Vec<Envelope>, Vec<ApprovalLine>) {
    let mut current = Vec::new();
    let mut lines = Vec::new();
    for env in envelopes {
        let Ok(a) = env.unverified_payload::<Approval>() else {
            continue;
        };
        let state = if a.content_sha256 != *hash {
            "stale"
        } else if a.expires <= now {
            "expired"
        } else {
            current.push(env.clone());
            "current"
        };
        lines.push(ApprovalLine {
            org: circle
                .roster
                .member(&a.member)
                .map_or_else(|| "(former member)".to_owned(), |m| m.org.clone()),
            member: a.member.to_string(),
            role: a.role,
            content_sha256: a.content_sha256.to_hex(),
            state,
            expires: a.expires,
        });
    }
    (current, lines)
}

fn sign_approval(
    circle: &Circle,
    me: &MemberId,
    signer: &dyn Signer,
    role: ApprovalRole,
    hash: Sha256Digest,
    now: Timestamp,
) -> Result<Envelope, PublishError> {
    let approval = Approval {
        circle: circle.roster.circle_id(),
        role,
        member: me.clone(),
        roster_seq: circle.roster.head_seq(),
        content_sha256: hash,
        issued_at: now,
        expires: now.plus_seconds(APPROVAL_LIFETIME_SECS),
    };
    approval
        .sign(signer)
        .map_err(|e| PublishError::Refused(format!("cannot sign the approval: {e}")))
}

/// The thread's audience (protocol.md §3.17): the named people and every current maintainer,
/// never circle-wide.
fn thread_audience(circle: &Circle, me: &MemberId, named: &[MemberId]) -> Vec<MemberId> {
    let mut out: Vec<MemberId> = named.to_vec();
    out.extend(circle.roster.maintainers().map(|m| m.id.clone()));
    out.retain(|m| m != me && circle.roster.member(m).is_some());
    out.sort();
    out.dedup();
    out
}

/// The latest version of `report_bundle` if `me` wrote it and has not retracted it: checked
/// before a provenance salt is drawn, so a refused request leaves the keystore unchanged.
pub fn own_report(
    circle: &Circle,
    me: &MemberId,
    report_bundle: &str,
) -> Result<(EnvelopeId, BundleHeader), PublishError> {
    let (object, h) = sharing::latest_version(circle, report_bundle)?;
    if h.author != *me {
        return refused(format!(
            "only the author of a report may ask to declassify it; {report_bundle} is by {}",
            h.author
        ));
    }
    if sharing::retracted(circle, report_bundle)? {
        return refused(format!("{report_bundle} was retracted"));
    }
    Ok((object, h))
}

/// What [`request`] needs from the author's node besides the circle.
#[allow(missing_debug_implementations)] // holds age identities, which do not print
pub struct Author<'a> {
    pub me: MemberId,
    pub identity: &'a Identity,
    pub config: &'a NodeConfig,
    pub identities: &'a [age::x25519::Identity],
}

/// The outcome of [`request`].
#[derive(Debug, Clone, Serialize)]
pub struct Requested {
    pub shared: Shared,
    pub content_sha256: String,
    pub slug: String,
}

/// Opens (or renews, after a revision) the declassification thread of our report
/// `report_bundle` (docs/declassification.md "Review, approvals and publishing on a node"): the
/// candidate must have no finding left; `salt` is the provenance salt the caller keeps in its
/// keystore. Sends the request RED to `reviewer` and every maintainer (§3.17).
#[allow(clippy::too_many_arguments)]
pub fn request(
    circle: &mut Circle,
    author: &Author<'_>,
    report_bundle: &str,
    reviewer: &MemberId,
    slug: Option<&str>,
    salt: &[u8; 32],
    now: Timestamp,
) -> Result<Requested, PublishError> {
    let (object, h) = own_report(circle, &author.me, report_bundle)?;
    if *reviewer == author.me {
        return refused("the reviewer must be another member (the author approves as author)");
    }
    if circle.roster.member(reviewer).is_none() {
        return refused(format!("{reviewer} is not a current member"));
    }
    let report = sharing::report_of(circle, &object.to_hex())?.ok_or_else(|| {
        PublishError::Refused(format!("the text of {report_bundle} is not held (purged?)"))
    })?;
    let subject = declassify::Subject::Bundle(report_bundle.to_owned());
    let cand = declassify::candidate(
        &report,
        &subject,
        circle,
        author.identity,
        author.config,
        slug,
        now,
    )?;
    if !cand.preview.findings.is_empty() {
        return refused(format!(
            "{} finding(s) remain in the preview; resolve or allow them first \
             (`debrief declassify preview {report_bundle}`)",
            cand.preview.findings.len()
        ));
    }
    let hash = cand.content.sha256()?;
    let provenance = debrief_protocol::publog::provenance_commitment(
        &circle.roster.circle_id(),
        &hash,
        &author.identity.attribution_signer().public_key(),
        salt,
    );
    let approval = sign_approval(
        circle,
        &author.me,
        author.identity,
        ApprovalRole::Author,
        hash,
        now,
    )?;
    let body = RequestBody {
        format: REQUEST_FORMAT.into(),
        report_bundle: report_bundle.to_owned(),
        report_object: object,
        version: h.version,
        reviewer: reviewer.clone(),
        content: cand.content.clone(),
        content_sha256: hash,
        provenance,
        resolved: report.timeline.resolved.known().copied(),
        allowances: cand.allowances.clone(),
        approval,
    };
    let text = serde_json::to_string(&body)
        .map_err(|e| PublishError::Refused(format!("cannot encode the request: {e}")))?;
    let named = thread_audience(circle, &author.me, std::slice::from_ref(reviewer));
    let shared = sharing::share(
        circle,
        &author.me,
        author.identity,
        author.identities,
        ShareRequest {
            kind: BundleKind::DeclassRequest,
            target: Some(object),
            tlp: Tlp::Red,
            named,
            body: BundleBody::Text(text),
            bundle_id: new_bundle_id(),
        },
        now,
    )?;
    Ok(Requested {
        shared,
        content_sha256: hash.to_hex(),
        slug: cand.content.slug,
    })
}

/// Answers the current request of `report_bundle`: approve (signing an approval of its content
/// hash) or request changes. The named reviewer approves as `reviewer`, any other maintainer as
/// `maintainer` (protocol.md §7.2 item 4); the author approved with the request. The reviewer's
/// node rescans the content with its own lists first: a finding blocks approving.
#[allow(clippy::too_many_arguments)]
pub fn review(
    circle: &mut Circle,
    me: &MemberId,
    identity: &Identity,
    config: &NodeConfig,
    identities: &[age::x25519::Identity],
    report_bundle: &str,
    verdict: Verdict,
    text: &str,
    now: Timestamp,
) -> Result<(Shared, Option<ApprovalRole>), PublishError> {
    let thread = Thread::load(circle, report_bundle)?;
    let req = thread.current()?.clone();
    if req.header.author == *me {
        return refused("the author approved with the request; a review is another member's");
    }
    let role = if req.body.reviewer == *me {
        ApprovalRole::Reviewer
    } else if circle.roster.member(me).is_some_and(|m| m.maintainer) {
        ApprovalRole::Maintainer
    } else {
        return refused(format!(
            "only the named reviewer ({}) or a maintainer may review this request",
            req.body.reviewer
        ));
    };
    let approval = match verdict {
        Verdict::Approve => {
            let hash = req.body.content.sha256()?;
            if hash != req.body.content_sha256 {
                return refused("the request's content does not match its stated hash");
            }
            if let Ok((_, latest)) = sharing::latest_version(circle, report_bundle)
                && latest.version != req.body.version
            {
                return refused(format!(
                    "the report was revised (version {}) after this request (version {}); \
                     wait for the author's new request",
                    latest.version, req.body.version
                ));
            }
            let scrubber =
                Scrubber::new(&scrub_config(circle, config)).map_err(DeclassifyError::from)?;
            let left = rescan(&req.body.content, &scrubber, &req.body.allowances);
            if let Some((field, matched, reason)) = left.first() {
                return refused(format!(
                    "{} finding(s) in the candidate on this node, e.g. {field} {matched:?} \
                     ({reason}); request changes instead",
                    left.len()
                ));
            }
            Some(sign_approval(circle, me, identity, role, hash, now)?)
        }
        Verdict::RequestChanges => {
            if text.trim().is_empty() {
                return refused("--request-changes needs a text saying what to change");
            }
            None
        }
    };
    let body = ReviewBody {
        format: REVIEW_FORMAT.into(),
        request: req.object,
        verdict,
        text: text.to_owned(),
        approval,
    };
    let json = serde_json::to_string(&body)
        .map_err(|e| PublishError::Refused(format!("cannot encode the review: {e}")))?;
    let named = thread_audience(
        circle,
        me,
        &[req.header.author.clone(), req.body.reviewer.clone()],
    );
    let shared = sharing::share(
        circle,
        me,
        identity,
        identities,
        ShareRequest {
            kind: BundleKind::DeclassReview,
            target: Some(req.object),
            tlp: Tlp::Red,
            named,
            body: BundleBody::Text(json),
            bundle_id: new_bundle_id(),
        },
        now,
    )?;
    Ok((shared, (verdict == Verdict::Approve).then_some(role)))
}

/// What `declassify status` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub report: String,
    pub request: String,
    pub requested_version: u64,
    /// The latest version of the report held here, when held.
    pub latest_version: Option<u64>,
    pub slug: String,
    pub content_sha256: String,
    pub reviewer: String,
    pub approvals: Vec<ApprovalLine>,
    pub changes_requested: Vec<(String, String)>,
    /// Findings this node's scrubber still reports in the candidate.
    pub findings: Vec<(String, String, String)>,
    pub resolved: Option<Timestamp>,
    pub embargo_until: Option<Timestamp>,
    /// What is still missing before `debrief publish` can succeed; empty when ready.
    pub missing: Vec<String>,
}

/// The state of `report_bundle`'s declassification thread (protocol.md §7.2, §7.11).
pub fn status(
    circle: &Circle,
    config: &NodeConfig,
    report_bundle: &str,
    now: Timestamp,
) -> Result<Status, PublishError> {
    let thread = Thread::load(circle, report_bundle)?;
    let req = thread.current()?;
    let hash = req.body.content_sha256;
    let (current, approvals) = sort_approvals(circle, &thread.approvals(), &hash, now);
    let mut missing = Vec::new();
    let latest_version = sharing::latest_version(circle, report_bundle)
        .ok()
        .map(|(_, h)| h.version);
    if let Some(v) = latest_version
        && v != req.body.version
    {
        missing.push(format!(
            "the report was revised to version {v} after the request (version {}): the author \
             must request again, and every approval must be given again",
            req.body.version
        ));
    }
    let stale = approvals.iter().filter(|a| a.state == "stale").count();
    if stale > 0 {
        missing.push(format!(
            "{stale} approval(s) are stale: they approve earlier content, and any change to the \
             content invalidates earlier approvals"
        ));
    }
    if let Err(e) = check_approvals(
        &current,
        &hash,
        &req.header.author,
        &circle.roster,
        circle.roster.policy().declassification_approvals,
        now,
    ) {
        missing.push(format!("approvals: {e}"));
    }
    let scrubber = Scrubber::new(&scrub_config(circle, config)).map_err(DeclassifyError::from)?;
    let findings = rescan(&req.body.content, &scrubber, &req.body.allowances);
    if !findings.is_empty() {
        missing.push(format!("{} finding(s) remain", findings.len()));
    }
    let embargo_secs = i64::try_from(circle.roster.policy().embargo_secs).unwrap_or(i64::MAX);
    let embargo_until = req.body.resolved.map(|r| r.plus_seconds(embargo_secs));
    match embargo_until {
        None => missing.push("timeline.resolved is not known: the embargo cannot be judged".into()),
        Some(t) if now < t => missing.push(format!("the embargo runs until {t}")),
        Some(_) => {}
    }
    let changes_requested = thread
        .reviews
        .iter()
        .filter(|r| r.body.request == req.object && r.body.verdict == Verdict::RequestChanges)
        .map(|r| {
            let org = circle
                .roster
                .member(&r.header.author)
                .map_or_else(|| r.header.author.to_string(), |m| m.org.clone());
            (org, r.body.text.clone())
        })
        .collect();
    Ok(Status {
        report: report_bundle.to_owned(),
        request: req.object.to_hex(),
        requested_version: req.body.version,
        latest_version,
        slug: req.body.content.slug.clone(),
        content_sha256: hash.to_hex(),
        reviewer: req.body.reviewer.to_string(),
        approvals,
        changes_requested,
        findings,
        resolved: req.body.resolved,
        embargo_until,
        missing,
    })
}

// ---------------------------------------------------------------------------------------------
// The public log on disk
// ---------------------------------------------------------------------------------------------

/// Where the circle's public log lives: `data/circles/<circle-id>/public/`.
pub fn public_dir(circle: &Circle) -> PathBuf {
    circle
        .store
        .path()
        .parent()
        .map_or_else(|| PathBuf::from("public"), |p| p.join("public"))
}

/// The pending proposals: `public/pending/<id>.json`.
pub fn pending_dir(circle: &Circle) -> PathBuf {
    public_dir(circle).join("pending")
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PublishError + '_ {
    move |source| PublishError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes `bytes` to `path` so that readers see the old file or the new one, never a part:
/// a temp file in the same directory, fsync, rename, fsync the directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), PublishError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let name = path
        .file_name()
        .map_or_else(|| "file".to_owned(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(bytes).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        drop(f);
        fs::rename(&tmp, path).map_err(io_err(path))?;
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(dir))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Largest file of the log this node reads back.
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

fn read_envelope(path: &Path) -> Result<Envelope, PublishError> {
    let meta = fs::metadata(path).map_err(io_err(path))?;
    if meta.len() > MAX_FILE_BYTES {
        return refused(format!(
            "{}: {} bytes is more than {MAX_FILE_BYTES}",
            path.display(),
            meta.len()
        ));
    }
    let bytes = fs::read(path).map_err(io_err(path))?;
    Envelope::from_json(&bytes)
        .map_err(|e| PublishError::Refused(format!("{}: not an envelope: {e}", path.display())))
}

/// A log directory read and verified (from its own genesis: this node wrote it, or was given
/// it to read; readers pin the id with `debrief verify --genesis`).
pub fn load_log(dir: &Path) -> Result<Option<(VerifiedLog, Option<Envelope>)>, PublishError> {
    let gpath = dir.join(layout::GENESIS_FILE);
    if !gpath.exists() {
        return Ok(None);
    }
    let genesis = read_envelope(&gpath)?;
    let mut entries = Vec::new();
    for seq in 1u64.. {
        let p = dir.join(layout::entry_path(seq));
        if !p.exists() {
            break;
        }
        entries.push(read_envelope(&p)?);
    }
    let log = verify_log(&genesis.id(), &genesis, &entries)?;
    let cpath = dir.join(layout::CHECKPOINT_FILE);
    let checkpoint = if cpath.exists() {
        Some(read_envelope(&cpath)?)
    } else {
        None
    };
    Ok(Some((log, checkpoint)))
}

/// Writes the files of `log` and `checkpoint` that are new or changed, entries before the
/// checkpoint, so a crash leaves a valid (if older-checkpointed) log.
fn write_log(dir: &Path, log: &VerifiedLog, checkpoint: &Envelope) -> Result<(), PublishError> {
    for (rel, bytes) in layout::files(log, checkpoint) {
        let path = dir.join(&rel);
        if fs::read(&path).ok().as_deref() == Some(bytes.as_slice()) {
            continue;
        }
        write_atomically(&path, &bytes)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Proposals and cosigning
// ---------------------------------------------------------------------------------------------

/// What a proposal asks publication-key holders to sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProposalKind {
    /// A new log's genesis (and its first checkpoint, seq 0).
    Genesis,
    /// The next entry (and the checkpoint naming it as head).
    Entry,
    /// A re-issued checkpoint for the current head.
    Checkpoint,
}

/// A publication proposal: the objects being cosigned and what a cosigner needs to re-check
/// them. A JSON file in this round (`--out`, `publish --cosign FILE`), shaped so that HTTP
/// routes can carry the same object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proposal {
    pub format: String,
    pub circle: EnvelopeId,
    pub kind: ProposalKind,
    /// The genesis or entry envelope (signatures accumulate); none for a checkpoint.
    pub object: Option<Envelope>,
    /// The checkpoint for the head after `object` (signatures accumulate).
    pub checkpoint: Envelope,
    /// For publish and erratum entries: the declassification request (object id) approved.
    pub request: Option<EnvelopeId>,
    /// The approvals the proposer checked (protocol.md §7.2); every cosigner checks them again.
    pub approvals: Vec<Envelope>,
}

impl Proposal {
    /// The proposal's id: the envelope id of what it proposes.
    pub fn id(&self) -> EnvelopeId {
        self.object
            .as_ref()
            .map_or_else(|| self.checkpoint.id(), Envelope::id)
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    pub fn from_json(bytes: &[u8]) -> Result<Proposal, PublishError> {
        let p: Proposal = serde_json::from_slice(bytes)
            .map_err(|e| PublishError::Refused(format!("not a publication proposal: {e}")))?;
        if p.format != PROPOSAL_FORMAT {
            return refused(format!(
                "proposal format {:?} is not {PROPOSAL_FORMAT}",
                p.format
            ));
        }
        Ok(p)
    }
}

/// The outcome of proposing or cosigning.
#[derive(Debug, Clone, Serialize)]
pub struct Cosigned {
    pub proposal: String,
    pub kind: ProposalKind,
    /// The seq the proposal covers (0 for a genesis).
    pub seq: u64,
    /// Distinct publication-key companies that signed so far.
    pub companies: Vec<String>,
    pub threshold: u32,
    /// True once appended to this node's log (and the proposal left `pending/`).
    pub appended: bool,
    /// The log (genesis) id, when known.
    pub log: Option<String>,
    #[serde(skip)]
    pub file: Proposal,
}

/// What cosigning needs from this node.
#[derive(Debug)]
pub struct KeyHolder<'a> {
    pub me: MemberId,
    pub identity: &'a Identity,
    pub config: &'a NodeConfig,
}

fn my_key(holder: &KeyHolder<'_>) -> KeyId {
    holder.identity.signing_key_id()
}

fn sign_if_needed(env: &mut Envelope, holder: &KeyHolder<'_>) -> Result<(), PublishError> {
    let k = my_key(holder);
    if env.signatures().iter().any(|s| s.keyid == k) {
        return Ok(());
    }
    env.add_signature(holder.identity)
        .map_err(|e| PublishError::Refused(format!("cannot sign: {e}")))
}

fn companies_signed(
    env: &Envelope,
    set: &KeySet,
    pt: PayloadType,
) -> Result<Vec<MemberId>, PublishError> {
    let v: envelope::Verified<serde_json::Value> = envelope::verify_with(env, pt, |id| {
        set.keys
            .iter()
            .find(|k| k.key.key_id() == *id)
            .map(|k| k.key)
    })
    .map_err(|e| {
        PublishError::Refused(format!("a signature on the proposal does not verify: {e}"))
    })?;
    let mut m: Vec<MemberId> = v
        .signers()
        .iter()
        .filter_map(|id| set.member_of(id))
        .collect();
    m.sort();
    m.dedup();
    Ok(m)
}

/// The key set a genesis may declare (docs/declassification.md "Review, approvals and
/// publishing on a node", publication keys): every key is the roster's declared publication key
/// of its member or that member's current signing key, and the threshold is at least
/// max(`policy.publication_threshold`, 2) (§7.11).
fn check_key_set_against_roster(circle: &Circle, set: &KeySet) -> Result<(), PublishError> {
    set.check()?;
    let floor = circle
        .roster
        .policy()
        .publication_threshold
        .max(MIN_PUBLICATION_THRESHOLD);
    if set.threshold < floor {
        return refused(format!(
            "the key set's threshold {} is below the circle policy's {floor}",
            set.threshold
        ));
    }
    for k in &set.keys {
        let declared = circle.roster.publication_keys().contains(k);
        let signing = circle
            .roster
            .member(&k.member)
            .is_some_and(|m| m.signing_key == k.key);
        if !declared && !signing {
            return refused(format!(
                "publication key {} is neither {}'s declared publication key nor its current \
                 signing key in the roster",
                k.key.key_id(),
                k.member
            ));
        }
    }
    Ok(())
}

/// Checks a publish or erratum entry's content against its declassification thread, as held on
/// this node (protocol.md §7.2, §7.11, declassification.md §3): what the proposer and every
/// cosigner run before signing.
fn check_publication(
    circle: &Circle,
    config: &NodeConfig,
    request: &EnvelopeId,
    content: &serde_json::Value,
    provenance: &Sha256Digest,
    approvals: &[Envelope],
    now: Timestamp,
) -> Result<(), PublishError> {
    let (_, header) = held_header(circle, &request.to_hex()).map_err(|_| {
        PublishError::Refused(format!(
            "this node does not hold the declassification request {request}; only members the \
             thread reached (the author, the reviewer, the maintainers) can check it"
        ))
    })?;
    if header.kind != BundleKind::DeclassRequest {
        return refused(format!("{request} is not a declassification request"));
    }
    let body: RequestBody = text_json(circle, &request.to_hex(), "declassification request")?;
    let (parsed, hash) = PublicContent::from_value(content)?;
    if hash != body.content_sha256 {
        return refused(format!(
            "the proposed content ({hash}) is not the content the request asked to publish ({})",
            body.content_sha256
        ));
    }
    if *provenance != body.provenance {
        return refused("the proposed provenance commitment is not the author's");
    }
    if let Ok((_, latest)) = sharing::latest_version(circle, &body.report_bundle)
        && latest.version != body.version
    {
        return refused(format!(
            "the report was revised to version {} after the request (version {}): earlier \
             approvals are stale; the author must request again",
            latest.version, body.version
        ));
    }
    if sharing::retracted(circle, &body.report_bundle)? {
        return refused("the author retracted the report in the circle");
    }
    // declassification.md §3: re-run the scan with this node's lists; any finding blocks.
    let scrubber = Scrubber::new(&scrub_config(circle, config)).map_err(DeclassifyError::from)?;
    let left = rescan(&parsed, &scrubber, &body.allowances);
    if !left.is_empty() {
        let list: Vec<String> = left
            .iter()
            .map(|(f, m, r)| format!("{f} {m:?} ({r})"))
            .collect();
        return refused(format!(
            "the scan finds {} finding(s) in the content: {}",
            left.len(),
            list.join("; ")
        ));
    }
    // protocol.md §7.11: the report's own resolution time when held, else the author's signed
    // statement in the request.
    let resolved = match sharing::report_of(circle, &body.report_object.to_hex())? {
        Some(r) => r.timeline.resolved,
        None => body.resolved.map_or(Field::Unknown, Field::Known),
    };
    check_embargo(&resolved, circle.roster.policy().embargo_secs, now)?;
    // protocol.md §7.2.
    check_approvals(
        approvals,
        &hash,
        &header.author,
        &circle.roster,
        circle.roster.policy().declassification_approvals,
        now,
    )?;
    Ok(())
}

/// A checkpoint for (`seq`, `head`) of log `log`, valid 7 days (protocol.md §7.8 maximum).
fn checkpoint_for(
    circle: EnvelopeId,
    log: EnvelopeId,
    seq: u64,
    head: EnvelopeId,
    at: Timestamp,
) -> LogCheckpoint {
    LogCheckpoint {
        circle,
        log,
        seq,
        head,
        at,
        expires: at.plus_seconds(MAX_LOG_CHECKPOINT_LIFETIME_SECS),
    }
}

/// Cosigns `proposal` with this node's publication key after re-checking it (for an entry:
/// chain, kind, and for publish/erratum the thread, scan, approvals and embargo). At t distinct
/// companies the object is appended to this node's log and the checkpoint written; until then
/// the proposal is kept in `public/pending/`. A node that holds no publication key may still
/// "cosign" a complete proposal: it checks it and appends it to its own copy.
pub fn cosign(
    circle: &Circle,
    holder: &KeyHolder<'_>,
    mut proposal: Proposal,
    now: Timestamp,
) -> Result<Cosigned, PublishError> {
    if proposal.circle != circle.roster.circle_id() {
        return refused(format!(
            "the proposal is for circle {}, not {}",
            proposal.circle,
            circle.roster.circle_id()
        ));
    }
    let dir = public_dir(circle);
    let existing = load_log(&dir)?;
    let me = my_key(holder);
    let cp_claim: LogCheckpoint = proposal
        .checkpoint
        .unverified_payload()
        .map_err(|e| PublishError::Refused(format!("the proposal's checkpoint: {e}")))?;
    if cp_claim.circle != circle.roster.circle_id() {
        return refused("the proposal's checkpoint names another circle");
    }
    // Running a proposal this node already appended again is not an error: say so.
    if let (Some((log, _)), Some(obj)) = (&existing, &proposal.object) {
        let at = match proposal.kind {
            ProposalKind::Genesis => Some(0),
            _ => obj
                .unverified_payload::<LogEntry>()
                .ok()
                .map(|e| e.seq)
                .filter(|s| *s <= log.head_seq()),
        };
        if let Some(seq) = at
            && log.id_at(seq) == Some(obj.id())
        {
            let pending = pending_dir(circle).join(format!("{}.json", obj.id().to_hex()));
            if pending.exists() {
                fs::remove_file(&pending).map_err(io_err(&pending))?;
            }
            let set = log.key_set_for(seq.max(1));
            return Ok(Cosigned {
                proposal: obj.id().to_hex(),
                kind: proposal.kind,
                seq,
                companies: companies_signed(obj, set, PayloadType::PublicLogEntry)?
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
                threshold: set.threshold,
                appended: true,
                log: Some(log.genesis_id().to_hex()),
                file: proposal,
            });
        }
    }
    let (set, seq, log_id) = match proposal.kind {
        ProposalKind::Genesis => {
            if existing.is_some() {
                return refused(format!(
                    "this node already has a public log in {}",
                    dir.display()
                ));
            }
            let Some(g) = &proposal.object else {
                return refused("a genesis proposal carries the genesis");
            };
            let claimed: LogGenesis = g
                .unverified_payload()
                .map_err(|e| PublishError::Refused(format!("the proposed genesis: {e}")))?;
            if claimed.circle != circle.roster.circle_id() {
                return refused("the proposed genesis names another circle");
            }
            check_key_set_against_roster(circle, &claimed.key_set)?;
            if cp_claim.seq != 0 || cp_claim.head != g.id() || cp_claim.log != g.id() {
                return refused("the proposal's checkpoint does not name the proposed genesis");
            }
            (claimed.key_set, 0, g.id())
        }
        ProposalKind::Entry => {
            let Some((log, _)) = &existing else {
                return refused("this node has no public log yet (`debrief publish init`)");
            };
            let Some(e) = &proposal.object else {
                return refused("an entry proposal carries the entry");
            };
            // protocol.md §7.6: it extends this node's head.
            log.cosign_progress(e)?;
            // A publication-key holder re-checks the thread, the scan, the approvals and the
            // embargo before signing (§7.11); a node without a key only keeps a copy of what
            // t key holders signed, and the log rules (§7.6, §7.7) are checked at append.
            let signs = log
                .key_set_for(log.head_seq() + 1)
                .keys
                .iter()
                .any(|k| k.key.key_id() == me);
            let entry: LogEntry = e
                .unverified_payload()
                .map_err(|e| PublishError::Refused(format!("the proposed entry: {e}")))?;
            match &entry.entry {
                EntryBody::Publish(p) => {
                    let Some(request) = &proposal.request else {
                        return refused("a publication proposal names its request");
                    };
                    slug_free(log, &p.content)?;
                    if signs {
                        check_publication(
                            circle,
                            holder.config,
                            request,
                            &p.content,
                            &p.provenance,
                            &proposal.approvals,
                            now,
                        )?;
                    }
                }
                EntryBody::Erratum(er) => {
                    let Some(request) = &proposal.request else {
                        return refused("an erratum proposal names its request");
                    };
                    erratum_fits(log, er)?;
                    if signs {
                        check_publication(
                            circle,
                            holder.config,
                            request,
                            &er.content,
                            &er.provenance,
                            &proposal.approvals,
                            now,
                        )?;
                    }
                }
                EntryBody::Retraction(r) => retraction_fits(log, r)?,
                EntryBody::KeySet(_) => {
                    return refused(
                        "key-set changes are not proposed through this command; see docs/declassification.md",
                    );
                }
            }
            if cp_claim.seq != entry.seq
                || cp_claim.head != e.id()
                || cp_claim.log != log.genesis_id()
                || cp_claim.at < entry.at
            {
                return refused(
                    "the proposal's checkpoint does not name the proposed entry as head",
                );
            }
            (
                log.key_set_for(entry.seq).clone(),
                entry.seq,
                log.genesis_id(),
            )
        }
        ProposalKind::Checkpoint => {
            let Some((log, _)) = &existing else {
                return refused("this node has no public log yet (`debrief publish init`)");
            };
            if cp_claim.seq != log.head_seq()
                || cp_claim.head != log.head_id()
                || cp_claim.log != log.genesis_id()
            {
                return refused(format!(
                    "the proposed checkpoint names seq {}, this node's log ends at seq {}",
                    cp_claim.seq,
                    log.head_seq()
                ));
            }
            (
                log.current_key_set().clone(),
                log.head_seq(),
                log.genesis_id(),
            )
        }
    };
    let holds_key = set.keys.iter().any(|k| k.key.key_id() == me);
    if holds_key {
        if let Some(obj) = &mut proposal.object {
            sign_if_needed(obj, holder)?;
        }
        sign_if_needed(&mut proposal.checkpoint, holder)?;
    }
    let pt = match proposal.kind {
        ProposalKind::Checkpoint => PayloadType::PublicLogCheckpoint,
        _ => PayloadType::PublicLogEntry,
    };
    let signed_obj = match &proposal.object {
        Some(o) => companies_signed(o, &set, pt)?,
        None => companies_signed(&proposal.checkpoint, &set, PayloadType::PublicLogCheckpoint)?,
    };
    let signed_cp = companies_signed(&proposal.checkpoint, &set, PayloadType::PublicLogCheckpoint)?;
    let companies: Vec<MemberId> = signed_obj
        .iter()
        .filter(|m| signed_cp.contains(m))
        .cloned()
        .collect();
    let complete = companies.len() as u64 >= u64::from(set.threshold);
    if !holds_key && !complete {
        return refused(format!(
            "this node holds no publication key of the set, and the proposal has {} of {} \
             signatures: pass it to a publication-key holder",
            companies.len(),
            set.threshold
        ));
    }
    let pending = pending_dir(circle).join(format!("{}.json", proposal.id().to_hex()));
    let mut appended = false;
    if complete {
        let log = match (proposal.kind, existing) {
            (ProposalKind::Genesis, _) => {
                let g = proposal.object.as_ref().ok_or_else(|| {
                    PublishError::Refused("a genesis proposal carries the genesis".into())
                })?;
                VerifiedLog::start(&g.id(), g)?
            }
            (ProposalKind::Entry, Some((mut log, _))) => {
                let e = proposal.object.as_ref().ok_or_else(|| {
                    PublishError::Refused("an entry proposal carries the entry".into())
                })?;
                log.append(e)?;
                log
            }
            (_, Some((log, _))) => log,
            (_, None) => return refused("this node has no public log"),
        };
        log.check_checkpoint(&proposal.checkpoint, now, None)?;
        write_log(&dir, &log, &proposal.checkpoint)?;
        if pending.exists() {
            fs::remove_file(&pending).map_err(io_err(&pending))?;
        }
        appended = true;
    } else {
        write_atomically(&pending, &proposal.to_json())?;
    }
    Ok(Cosigned {
        proposal: proposal.id().to_hex(),
        kind: proposal.kind,
        seq,
        companies: companies.iter().map(ToString::to_string).collect(),
        threshold: set.threshold,
        appended,
        log: Some(log_id.to_hex()),
        file: proposal,
    })
}

fn slug_free(log: &VerifiedLog, content: &serde_json::Value) -> Result<(), PublishError> {
    let (c, _) = PublicContent::from_value(content)?;
    for seq in 1..=log.head_seq() {
        if let Some((other, _)) = log.content(seq)
            && other.slug == c.slug
        {
            return refused(format!(
                "slug {:?} is already used by entry {seq}; publish an erratum of it, or request \
                 again with another --slug",
                c.slug
            ));
        }
    }
    Ok(())
}

fn erratum_fits(log: &VerifiedLog, er: &Erratum) -> Result<(), PublishError> {
    let (c, _) = PublicContent::from_value(&er.content)?;
    let Some((orig, _)) = log.content(er.corrects) else {
        return refused(format!("entry {} is not a publication", er.corrects));
    };
    if orig.slug != c.slug {
        return refused(format!(
            "an erratum keeps its publication's slug {:?}; the request has {:?} (request again \
             with --slug {})",
            orig.slug, c.slug, orig.slug
        ));
    }
    if er.note.trim().is_empty() {
        return refused("an erratum says what changed (--note)");
    }
    Ok(())
}

fn retraction_fits(log: &VerifiedLog, r: &Retraction) -> Result<(), PublishError> {
    match log.status(r.retracts)? {
        debrief_protocol::publog::EntryStatus::Retracted { retraction, .. } => refused(format!(
            "entry {} was already retracted by entry {retraction}",
            r.retracts
        )),
        debrief_protocol::publog::EntryStatus::NotContent { kind } => refused(format!(
            "entry {} is a {kind} entry, not a publication",
            r.retracts
        )),
        _ if r.reason.trim().is_empty() => refused("a retraction states its reason (--reason)"),
        _ => Ok(()),
    }
}

fn require_maintainer(circle: &Circle, me: &MemberId, what: &str) -> Result<(), PublishError> {
    if circle.roster.member(me).is_some_and(|m| m.maintainer) {
        Ok(())
    } else {
        refused(format!("only a maintainer may {what}"))
    }
}

fn require_key(set: &KeySet, holder: &KeyHolder<'_>) -> Result<(), PublishError> {
    if set.keys.iter().any(|k| k.key.key_id() == my_key(holder)) {
        Ok(())
    } else {
        refused(
            "this node holds no publication key of the log's key set, so it cannot sign the \
             proposal (the proposer signs as one publication key)",
        )
    }
}

/// `debrief publish init`: proposes the circle's log genesis. The key set is the roster's
/// declared publication keys, or — when `members` are named — those members' current signing
/// keys (docs/declassification.md: how publication keys are chosen). Threshold: max(policy, 2)
/// unless a larger one is given.
pub fn propose_genesis(
    circle: &Circle,
    holder: &KeyHolder<'_>,
    members: &[MemberId],
    name: &str,
    threshold: Option<u32>,
    now: Timestamp,
) -> Result<Cosigned, PublishError> {
    require_maintainer(circle, &holder.me, "start the public log")?;
    if load_log(&public_dir(circle))?.is_some() {
        return refused("this circle already has a public log on this node");
    }
    let floor = circle
        .roster
        .policy()
        .publication_threshold
        .max(MIN_PUBLICATION_THRESHOLD);
    let keys: Vec<PublicationKey> = if members.is_empty() {
        circle.roster.publication_keys().to_vec()
    } else {
        let mut out = Vec::new();
        for m in members {
            let Some(member) = circle.roster.member(m) else {
                return refused(format!("{m} is not a current member"));
            };
            out.push(PublicationKey {
                member: m.clone(),
                key: member.signing_key,
            });
        }
        out
    };
    if keys.is_empty() {
        return refused(
            "the roster declares no publication keys: name the key holders with --keys MEMBER \
             (at least two companies)",
        );
    }
    let set = KeySet {
        keys,
        threshold: threshold.unwrap_or(floor).max(floor),
    };
    check_key_set_against_roster(circle, &set)?;
    require_key(&set, holder)?;
    let genesis = LogGenesis {
        circle: circle.roster.circle_id(),
        name: name.to_owned(),
        key_set: set,
        created_at: now,
    };
    let g = genesis
        .sign(&[holder.identity])
        .map_err(|e| PublishError::Refused(format!("cannot sign the genesis: {e}")))?;
    let cp = checkpoint_for(genesis.circle, g.id(), 0, g.id(), now)
        .sign(&[holder.identity])
        .map_err(|e| PublishError::Refused(format!("cannot sign the checkpoint: {e}")))?;
    cosign(
        circle,
        holder,
        Proposal {
            format: PROPOSAL_FORMAT.into(),
            circle: genesis.circle,
            kind: ProposalKind::Genesis,
            object: Some(g),
            checkpoint: cp,
            request: None,
            approvals: Vec::new(),
        },
        now,
    )
}

/// What an entry proposal publishes.
#[derive(Debug, Clone, Copy)]
pub enum Proposed<'a> {
    /// The current request of this report lineage, as a new publication.
    Publish { report_bundle: &'a str },
    /// The current request of this report lineage, correcting publication `corrects`.
    Erratum {
        report_bundle: &'a str,
        corrects: u64,
        note: &'a str,
    },
    /// A signed tombstone for publication `retracts`.
    Retraction { retracts: u64, reason: &'a str },
}

/// `debrief publish ID` / `publish erratum` / `publish retract` (maintainer only): checks
/// everything a cosigner will check, signs the entry and its checkpoint as one publication key,
/// and keeps the proposal in `pending/` until t companies signed.
pub fn propose_entry(
    circle: &Circle,
    holder: &KeyHolder<'_>,
    what: Proposed<'_>,
    now: Timestamp,
) -> Result<Cosigned, PublishError> {
    require_maintainer(circle, &holder.me, "propose a public log entry")?;
    let Some((log, _)) = load_log(&public_dir(circle))? else {
        return refused(
            "this circle has no public log on this node yet: start it with \
             `debrief publish init --keys MEMBER MEMBER`",
        );
    };
    let set = log.key_set_for(log.head_seq() + 1).clone();
    let (body, request, approvals) = match what {
        Proposed::Publish { report_bundle } | Proposed::Erratum { report_bundle, .. } => {
            let thread = Thread::load(circle, report_bundle)?;
            let req = thread.current()?;
            let hash = req.body.content_sha256;
            let (current, lines) = sort_approvals(circle, &thread.approvals(), &hash, now);
            let stale = lines.iter().filter(|l| l.state == "stale").count();
            let value = serde_json::to_value(&req.body.content)
                .map_err(|e| PublishError::Refused(format!("cannot encode the content: {e}")))?;
            let body = match what {
                Proposed::Erratum { corrects, note, .. } => EntryBody::Erratum(Erratum {
                    corrects,
                    content: value.clone(),
                    provenance: req.body.provenance,
                    note: note.to_owned(),
                }),
                _ => EntryBody::Publish(Publication {
                    content: value.clone(),
                    provenance: req.body.provenance,
                }),
            };
            match &body {
                EntryBody::Erratum(er) => erratum_fits(&log, er)?,
                _ => slug_free(&log, &value)?,
            }
            if let Err(e) = check_publication(
                circle,
                holder.config,
                &req.object,
                &value,
                &req.body.provenance,
                &current,
                now,
            ) {
                if stale > 0
                    && matches!(e, PublishError::Log(PublogError::ApprovalsInsufficient(_)))
                {
                    return refused(format!(
                        "{e}; {stale} earlier approval(s) are stale: they approve content that \
                         has since changed, and must be given again for {hash}"
                    ));
                }
                return Err(e);
            }
            (body, Some(req.object), current)
        }
        Proposed::Retraction { retracts, reason } => {
            let r = Retraction {
                retracts,
                reason: reason.to_owned(),
            };
            retraction_fits(&log, &r)?;
            (EntryBody::Retraction(r), None, Vec::new())
        }
    };
    require_key(&set, holder)?;
    let entry = log.next_entry(now, body);
    let e = entry
        .sign(&[holder.identity])
        .map_err(|e| PublishError::Refused(format!("cannot sign the entry: {e}")))?;
    let cp = checkpoint_for(entry.circle, entry.log, entry.seq, e.id(), now)
        .sign(&[holder.identity])
        .map_err(|e| PublishError::Refused(format!("cannot sign the checkpoint: {e}")))?;
    cosign(
        circle,
        holder,
        Proposal {
            format: PROPOSAL_FORMAT.into(),
            circle: entry.circle,
            kind: ProposalKind::Entry,
            object: Some(e),
            checkpoint: cp,
            request,
            approvals,
        },
        now,
    )
}

/// `debrief publish checkpoint`: proposes a fresh checkpoint for the current head (protocol.md
/// §7.8: re-issued before the previous one expires, also when nothing changed).
pub fn propose_checkpoint(
    circle: &Circle,
    holder: &KeyHolder<'_>,
    now: Timestamp,
) -> Result<Cosigned, PublishError> {
    let Some((log, _)) = load_log(&public_dir(circle))? else {
        return refused("this circle has no public log on this node yet");
    };
    require_key(log.current_key_set(), holder)?;
    let cp = checkpoint_for(
        log.circle(),
        log.genesis_id(),
        log.head_seq(),
        log.head_id(),
        now,
    )
    .sign(&[holder.identity])
    .map_err(|e| PublishError::Refused(format!("cannot sign the checkpoint: {e}")))?;
    cosign(
        circle,
        holder,
        Proposal {
            format: PROPOSAL_FORMAT.into(),
            circle: log.circle(),
            kind: ProposalKind::Checkpoint,
            object: None,
            checkpoint: cp,
            request: None,
            approvals: Vec::new(),
        },
        now,
    )
}

/// Finds a pending proposal by id prefix.
pub fn find_pending(circle: &Circle, prefix: &str) -> Result<Proposal, PublishError> {
    let dir = pending_dir(circle);
    let p = prefix.trim().to_ascii_lowercase();
    let mut found = Vec::new();
    if let Ok(rd) = fs::read_dir(&dir) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(&p) && name.ends_with(".json") && !name.starts_with('.') {
                found.push(e.path());
            }
        }
    }
    match found.as_slice() {
        [one] => {
            let bytes = fs::read(one).map_err(io_err(one))?;
            Proposal::from_json(&bytes)
        }
        [] => refused(format!(
            "{prefix:?} is neither a proposal file nor a pending proposal in {}",
            dir.display()
        )),
        _ => refused(format!(
            "{prefix:?} matches {} pending proposals",
            found.len()
        )),
    }
}

/// `debrief declassify prove`: the provenance claim (protocol.md §7.4) for our report
/// `report_bundle`, from the salt in our keystore, against the entry of `log` whose commitment
/// it opens (the latest, when an erratum reused the salt).
pub fn prove(
    log: &VerifiedLog,
    identity: &Identity,
    report_bundle: &str,
    claimant: &str,
    now: Timestamp,
) -> Result<(u64, Envelope), PublishError> {
    let Some(salt) = identity.provenance_salt(report_bundle) else {
        return refused(format!(
            "this keystore holds no provenance salt for {report_bundle}: only the author's node \
             that requested its declassification can prove it"
        ));
    };
    let key = identity.attribution_signer().public_key();
    for seq in (1..=log.head_seq()).rev() {
        if let Some((hash, commitment)) = log.commitment_of(seq)
            && debrief_protocol::publog::provenance_commitment(&log.circle(), &hash, &key, salt)
                == commitment
        {
            let claim = debrief_protocol::publog::ProvenanceClaim::make(
                log.circle(),
                log.genesis_id(),
                seq,
                hash,
                salt,
                claimant,
                now,
                identity.attribution_signer(),
            )
            .map_err(|e| PublishError::Refused(format!("cannot sign the claim: {e}")))?;
            return Ok((seq, claim));
        }
    }
    refused(format!(
        "no entry of this copy of the log ({} entries) carries this node's commitment for \
         {report_bundle}; is the copy up to date?",
        log.head_seq()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_files_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir
            .path()
            .join("public")
            .join("entries")
            .join("000001.json");
        write_atomically(&path, b"first").unwrap();
        write_atomically(&path, b"second, longer").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second, longer");
        let names: Vec<String> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["000001.json"]);
    }

    #[test]
    fn a_missing_log_is_none_and_a_proposal_of_another_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load_log(dir.path()).unwrap().is_none());
        let err = Proposal::from_json(br#"{"format":"x"}"#).unwrap_err();
        assert!(
            err.to_string().contains("not a publication proposal"),
            "{err}"
        );
    }
}
