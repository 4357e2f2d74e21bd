//! Sealing: sign the inner content, encrypt it with age in memory, sign the outer header over
//! the ciphertext, sign the chain link over the header (protocol.md §3.27).

use std::fmt;
use std::io::Write as _;

use crate::envelope::{Envelope, PayloadType, Signer};
use crate::ids::{EnvelopeId, MemberId, Sha256Digest};
use crate::membership::RosterHistory;
use crate::timestamp::Timestamp;

use super::errors::{BundleError, Part};
use super::open::verify_header_only;
use super::rules::{TargetInfo, check_body, check_header_fields, check_target, check_within_tip};
use super::types::{
    BundleBody, BundleContent, BundleHeader, BundleId, BundleKind, BundleObject, ChainLink,
    ENC_AGE_X25519_V1, Recipient, RosterRef, TargetRef, Tlp, recipients_digest,
};

/// Everything [`seal`] needs. Randomness for the bundle id is the caller's (`bundle_id`); age
/// draws its own for the encryption.
pub struct SealRequest<'a> {
    /// The circle's roster history; the bundle is sealed at its head.
    pub roster: &'a dyn RosterHistory,
    /// When the roster head was last confirmed (a checkpoint or a live head comparison).
    pub roster_fresh_as_of: Timestamp,
    /// The circle's `policy.max_roster_age`, in seconds.
    pub max_roster_age_secs: u64,
    /// The author's member id and its current signing key.
    pub author: MemberId,
    pub signer: &'a dyn Signer,
    /// The author's next chain position: seq (1 for the first bundle) and the previous link.
    pub author_seq: u64,
    pub prev_link: Option<EnvelopeId>,
    /// A fresh random id for kinds that start a lineage; the target's for revisions and
    /// reshares.
    pub bundle_id: BundleId,
    pub kind: BundleKind,
    /// The target, for every kind but `report`.
    pub target: Option<&'a TargetInfo>,
    pub tlp: Tlp,
    /// For RED: the named recipients (the author is added). Empty for circle-wide labels.
    pub named: Vec<MemberId>,
    pub body: BundleBody,
    pub now: Timestamp,
}

impl fmt::Debug for SealRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealRequest")
            .field("author", &self.author)
            .field("author_seq", &self.author_seq)
            .field("bundle_id", &self.bundle_id)
            .field("kind", &self.kind)
            .field("tlp", &self.tlp)
            .field("named", &self.named)
            .finish_non_exhaustive()
    }
}

/// Seals a bundle (protocol.md §3.27): refuses when sharing is frozen or the roster is stale,
/// applies every rule a receiver will (§3.7–§3.17, and §3.26 against the target), then signs
/// the inner content, encrypts it to the recipients (always including the author), signs the
/// header and the chain link, and checks the result as a receiver would.
pub fn seal(req: SealRequest<'_>) -> Result<BundleObject, BundleError> {
    let roster = req.roster;
    // protocol.md §3.27: no sharing while a fork is unresolved, nor on a stale view of the roster.
    if roster.is_frozen() {
        return Err(BundleError::RosterFrozen);
    }
    let age_secs = req.now.unix().saturating_sub(req.roster_fresh_as_of.unix());
    if age_secs > 0 && age_secs.unsigned_abs() > req.max_roster_age_secs {
        return Err(BundleError::RosterStale {
            as_of: req.roster_fresh_as_of,
            max_age_secs: req.max_roster_age_secs,
        });
    }
    // protocol.md §3.27: the chain position is consistent (the first link has no predecessor).
    match (req.author_seq, req.prev_link) {
        (0, _) => return Err(BundleError::ChainPosition("author seq starts at 1")),
        (1, Some(_)) => {
            return Err(BundleError::ChainPosition(
                "the first bundle has no previous link",
            ));
        }
        (2.., None) => {
            return Err(BundleError::ChainPosition(
                "every bundle after the first names the previous link",
            ));
        }
        _ => {}
    }
    let (seq, head) = roster.head();
    let public = req.signer.public_key();
    // protocol.md §3.9: the author is a member now, signing with its current key.
    let me = roster
        .member_at(seq, &req.author)
        .ok_or_else(|| BundleError::AuthorNotMember {
            author: req.author.clone(),
            seq,
        })?;
    if me.signing_key != public {
        return Err(BundleError::UnknownAuthorKey {
            part: Part::Header,
            author: req.author.clone(),
        });
    }
    // protocol.md §3.10
    let tip = roster
        .author_key(seq, &req.author, &public.key_id())
        .and_then(|k| k.retired_at);
    check_within_tip(Part::Header, req.author_seq, tip)?;

    let recipients = choose_recipients(&req, seq)?;
    let digest = recipients_digest(&recipients);
    let target = req.target.map(|t| TargetRef {
        header: t.header_id,
        author: t.author.clone(),
        bundle: t.bundle,
        version: t.version,
    });
    let version = match (req.kind, req.target) {
        (BundleKind::Revision, Some(t)) => t.version.saturating_add(1),
        (BundleKind::Reshare, Some(t)) => t.version,
        _ => 1,
    };
    let mut header = BundleHeader {
        circle: roster.circle_id(),
        author: req.author.clone(),
        author_seq: req.author_seq,
        roster: RosterRef { seq, head },
        bundle: req.bundle_id,
        version,
        kind: req.kind,
        target: target.clone(),
        tlp: req.tlp,
        enc: ENC_AGE_X25519_V1.to_owned(),
        recipients,
        recipients_digest: digest,
        ciphertext_sha256: Sha256Digest([0; 32]),
        ciphertext_len: 0,
        created_at: req.now,
    };
    // The receivers' rules, before anything is signed or encrypted.
    check_header_fields(&header, roster, req.now)?;
    check_body(req.kind, &req.body)?;
    if let Some(t) = req.target {
        check_target(&header, t, roster)?;
    }

    // (1) the inner content, signed.
    let content = BundleContent {
        circle: header.circle,
        author: header.author.clone(),
        bundle: header.bundle,
        version,
        kind: req.kind,
        target,
        tlp: req.tlp,
        recipients_digest: digest,
        body: req.body,
    };
    let inner = Envelope::sign(&content, PayloadType::BundleContent, req.signer)
        .map_err(BundleError::Sign)?;
    // (2) encrypted in memory to every recipient.
    let ciphertext = encrypt(&header.recipients, &inner.to_json())?;
    // (3) the header over the ciphertext, and the chain link over the header.
    header.ciphertext_sha256 = Sha256Digest::of(&ciphertext);
    header.ciphertext_len = ciphertext.len() as u64;
    let header_env = Envelope::sign(&header, PayloadType::BundleHeader, req.signer)
        .map_err(BundleError::Sign)?;
    let link = ChainLink {
        circle: header.circle,
        author: header.author.clone(),
        author_seq: header.author_seq,
        prev: req.prev_link,
        header: header_env.id(),
        // check_header_fields refused CLEAR, the only label without an audience.
        audience: req.tlp.audience().ok_or(BundleError::ClearInCircle)?,
    };
    let link_env =
        Envelope::sign(&link, PayloadType::ChainLink, req.signer).map_err(BundleError::Sign)?;
    let object = BundleObject::new(link_env, header_env, ciphertext);
    // What we send, a receiver accepts: check it as one would.
    verify_header_only(&object, roster, req.now)?;
    Ok(object)
}

/// protocol.md §3.15: circle-wide labels go to every member at the roster seq; RED to the named members and
/// the author.
fn choose_recipients(req: &SealRequest<'_>, seq: u64) -> Result<Vec<Recipient>, BundleError> {
    let roster = req.roster;
    let mut recipients: Vec<Recipient> = match req.tlp {
        Tlp::Clear => return Err(BundleError::ClearInCircle),
        Tlp::Green | Tlp::Amber | Tlp::AmberStrict => {
            if !req.named.is_empty() {
                return Err(BundleError::NamedWithCircleTlp {
                    tlp: req.tlp.as_str(),
                });
            }
            roster
                .members_at(seq)
                .into_iter()
                .map(|m| Recipient {
                    member: m.member,
                    age_recipient: m.enc_recipient,
                })
                .collect()
        }
        Tlp::Red => {
            let mut out = Vec::with_capacity(req.named.len() + 1);
            for member in req.named.iter().chain(std::iter::once(&req.author)) {
                let m = roster
                    .member_at(seq, member)
                    .ok_or_else(|| BundleError::RecipientNotMember(member.clone()))?;
                out.push(Recipient {
                    member: m.member,
                    age_recipient: m.enc_recipient,
                });
            }
            out
        }
    };
    recipients.sort();
    recipients.dedup_by(|a, b| a.member == b.member);
    Ok(recipients)
}

/// age, in memory, to the X25519 recipients in header order.
fn encrypt(recipients: &[Recipient], plaintext: &[u8]) -> Result<Vec<u8>, BundleError> {
    let keys = recipients
        .iter()
        .map(|r| {
            r.age_recipient
                .parse::<age::x25519::Recipient>()
                .map_err(|e| {
                    BundleError::Encrypt(format!(
                        "member {} has an invalid age recipient: {e}",
                        r.member
                    ))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let encryptor = age::Encryptor::with_recipients(keys.iter().map(|k| k as &dyn age::Recipient))
        .map_err(|e| BundleError::Encrypt(e.to_string()))?;
    let mut out = Vec::with_capacity(plaintext.len() + 256 + 98 * recipients.len());
    let io = |e: std::io::Error| BundleError::Encrypt(e.to_string());
    let mut writer = encryptor.wrap_output(&mut out).map_err(io)?;
    writer.write_all(plaintext).map_err(io)?;
    writer.finish().map_err(io)?;
    Ok(out)
}
