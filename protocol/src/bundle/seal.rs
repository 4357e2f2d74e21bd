//! Sealing: sign the inner content, encrypt it with age in memory, sign the outer header over
//! the ciphertext, sign the chain link over the header (protocol.md §3.27). [`seal_own`] also
//! hands back the inner bytes it encrypted, for storing one's own bundle (protocol.md §3.33).

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

/// A bundle this process has just sealed, together with the exact inner envelope bytes that
/// were encrypted into its ciphertext (protocol.md §3.33). Only [`seal_own`] makes one: the
/// inner bytes are private, there is no other constructor, and it is neither `Clone` nor
/// `Deserialize`, so they cannot be paired with any other object. [`open_own`](super::open_own)
/// checks it without decrypting.
pub struct Sealed {
    object: BundleObject,
    /// `inner.to_json()`: the plaintext handed to age.
    inner: Vec<u8>,
}

impl Sealed {
    /// The sealed bundle object, exactly as it will be sent.
    pub fn object(&self) -> &BundleObject {
        &self.object
    }

    /// The sealed bundle object, dropping the inner bytes.
    pub fn into_object(self) -> BundleObject {
        self.object
    }

    /// The inner envelope bytes encrypted into [`Self::object`]'s ciphertext; only the bundle
    /// module reads them, to check them as a recipient would after decrypting.
    pub(super) fn inner_envelope(&self) -> &[u8] {
        &self.inner
    }
}

impl fmt::Debug for Sealed {
    // The inner bytes are the plaintext: never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealed")
            .field("id", &self.object.id())
            .field("inner_len", &self.inner.len())
            .finish_non_exhaustive()
    }
}

/// Seals a bundle (protocol.md §3.27); see [`seal_own`], of which this keeps only the object.
pub fn seal(req: SealRequest<'_>) -> Result<BundleObject, BundleError> {
    seal_own(req).map(Sealed::into_object)
}

/// Seals a bundle (protocol.md §3.27): refuses when sharing is frozen or the roster is stale,
/// applies every rule a receiver will (§3.7–§3.17, and §3.26 against the target), then signs
/// the inner content, encrypts it to the recipients (always including the author), signs the
/// header and the chain link, and checks the result as a receiver would.
///
/// Returns the object with the inner envelope bytes that were encrypted, so that the author's
/// node can store its own bundle with [`open_own`](super::open_own) instead of decrypting it
/// again (protocol.md §3.33).
pub fn seal_own(req: SealRequest<'_>) -> Result<Sealed, BundleError> {
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
    // (2) encrypted in memory to every recipient. These exact bytes are what `Sealed` carries
    // (protocol.md §3.33).
    let inner = inner.to_json();
    let ciphertext = encrypt(&header.recipients, &inner)?;
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
    Ok(Sealed { object, inner })
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::bundle::open::open_own;
    use crate::envelope::PublicKey;
    use crate::ids::KeyId;
    use crate::membership::{AuthorKey, MemberAt};
    use crate::profile::{Industry, OrgProfile, Region, SizeBand};
    use ed25519_dalek::SigningKey;

    const NOW: Timestamp = Timestamp::from_unix(1_795_600_800);

    /// A circle whose whole history is its genesis (seq 0): members with one key each.
    struct GenesisRoster {
        circle: EnvelopeId,
        members: Vec<(PublicKey, String)>,
    }

    impl GenesisRoster {
        fn find(&self, member: &MemberId) -> Option<&(PublicKey, String)> {
            self.members.iter().find(|(k, _)| &k.member_id() == member)
        }

        fn at(key: &PublicKey, enc: &str) -> MemberAt {
            MemberAt {
                member: key.member_id(),
                org: "Org".into(),
                profile: OrgProfile {
                    industry: Industry::Saas,
                    size_band: SizeBand::S,
                    region: Region::Europe,
                },
                signing_key: *key,
                enc_recipient: enc.to_owned(),
                is_maintainer: false,
                deny_terms: Vec::new(),
            }
        }
    }

    impl RosterHistory for GenesisRoster {
        fn circle_id(&self) -> EnvelopeId {
            self.circle
        }
        fn head(&self) -> (u64, EnvelopeId) {
            (0, self.circle)
        }
        fn event_id_at(&self, seq: u64) -> Option<EnvelopeId> {
            (seq == 0).then_some(self.circle)
        }
        fn member_at(&self, seq: u64, member: &MemberId) -> Option<MemberAt> {
            let (k, enc) = self.find(member).filter(|_| seq == 0)?;
            Some(Self::at(k, enc))
        }
        fn members_at(&self, seq: u64) -> Vec<MemberAt> {
            let mut out: Vec<MemberAt> = self
                .members
                .iter()
                .filter(|_| seq == 0)
                .map(|(k, enc)| Self::at(k, enc))
                .collect();
            out.sort_by(|a, b| a.member.cmp(&b.member));
            out
        }
        fn author_key(&self, _seq: u64, member: &MemberId, key: &KeyId) -> Option<AuthorKey> {
            let (k, _) = self.find(member).filter(|(k, _)| &k.key_id() == key)?;
            Some(AuthorKey {
                key: *k,
                retired_at: None,
            })
        }
        fn is_frozen(&self) -> bool {
            false
        }
    }

    fn green_report<'a>(
        roster: &'a GenesisRoster,
        signer: &'a SigningKey,
        bundle: u8,
    ) -> SealRequest<'a> {
        SealRequest {
            roster,
            roster_fresh_as_of: NOW,
            max_roster_age_secs: 86_400,
            author: signer.public_key().member_id(),
            signer,
            author_seq: 1,
            prev_link: None,
            bundle_id: BundleId([bundle; 16]),
            kind: BundleKind::Report,
            target: None,
            tlp: Tlp::Green,
            named: Vec::new(),
            body: BundleBody::Report(serde_json::json!({"title": "DNS outage", "severity": 2})),
            now: NOW,
        }
    }

    /// protocol.md §3.33: `open_own` really runs §3.24–§3.25 on the inner bytes it is given, so
    /// inner bytes that were not sealed into this object are refused.
    #[test]
    fn open_own_refuses_inner_bytes_of_another_bundle() {
        let (a, b) = (
            SigningKey::from_bytes(&[1; 32]),
            SigningKey::from_bytes(&[2; 32]),
        );
        let roster = GenesisRoster {
            circle: EnvelopeId(Sha256Digest::of(b"unit test circle")),
            members: [&a, &b]
                .iter()
                .map(|k| {
                    let age = age::x25519::Identity::generate();
                    (k.public_key(), age.to_public().to_string())
                })
                .collect(),
        };
        let me = a.public_key().member_id();
        let first = seal_own(green_report(&roster, &a, 1)).unwrap();
        let other_by_a = seal_own(green_report(&roster, &a, 2)).unwrap();
        let other_by_b = seal_own(green_report(&roster, &b, 3)).unwrap();
        // Untouched, it opens: what follows fails only because of the swap.
        let opened = open_own(&first, &roster, &me, NOW).unwrap();
        assert_eq!(opened.header().id(), first.object().id());

        // The same author's valid inner content of another bundle: signed by the right key, but
        // it names another bundle id (§3.25).
        let swapped = Sealed {
            object: first.object().clone(),
            inner: other_by_a.inner_envelope().to_vec(),
        };
        assert_eq!(
            open_own(&swapped, &roster, &me, NOW).unwrap_err(),
            BundleError::InnerMismatch { field: "bundle id" }
        );

        // Another author's inner content: not signed by the header's key (§3.24).
        let swapped = Sealed {
            object: first.object().clone(),
            inner: other_by_b.inner_envelope().to_vec(),
        };
        assert_eq!(
            open_own(&swapped, &roster, &me, NOW).unwrap_err(),
            BundleError::BadSignature { part: Part::Inner }
        );

        // Bytes that are not an envelope at all (§3.24).
        let swapped = Sealed {
            object: first.into_object(),
            inner: b"not an envelope".to_vec(),
        };
        assert!(matches!(
            open_own(&swapped, &roster, &me, NOW).unwrap_err(),
            BundleError::Malformed {
                part: Part::Inner,
                ..
            }
        ));
    }

    #[test]
    fn debug_shows_the_id_and_length_never_the_plaintext() {
        let a = SigningKey::from_bytes(&[1; 32]);
        let roster = GenesisRoster {
            circle: EnvelopeId(Sha256Digest::of(b"unit test circle")),
            members: vec![(
                a.public_key(),
                age::x25519::Identity::generate().to_public().to_string(),
            )],
        };
        let sealed = seal_own(green_report(&roster, &a, 1)).unwrap();
        let shown = format!("{sealed:?}");
        assert_eq!(
            shown,
            format!(
                "Sealed {{ id: {:?}, inner_len: {}, .. }}",
                sealed.object().id(),
                sealed.inner_envelope().len()
            )
        );
    }
}
