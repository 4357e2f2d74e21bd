//! Receiving: every check before decryption ([`verify_header_only`]), chain links on their own
//! ([`verify_link`]), opening a bundle this member is a recipient of ([`open`]), and checking
//! the author's own just-sealed bundle without decrypting it again ([`open_own`]).

use std::fmt;
use std::io::Read as _;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::canonical;
use crate::envelope::{self, Envelope, PayloadType, PublicKey, Verified};
use crate::ids::MemberId;
use crate::membership::RosterHistory;
use crate::timestamp::Timestamp;

use super::age_header::check_age_header;
use super::errors::{BundleError, Part, from_envelope_error};
use super::rules::{
    check_body, check_circle, check_header_fields, check_roster_and_author, check_within_tip,
};
use super::seal::Sealed;
use super::types::{BundleContent, BundleHeader, BundleObject, ChainLink};
use super::{MAX_CIPHERTEXT_BYTES, MAX_HEADER_PAYLOAD_BYTES, MAX_LINK_PAYLOAD_BYTES};
use crate::ids::Sha256Digest;

/// A bundle whose header and link passed every check before decryption (protocol.md
/// protocol.md §3.1–§3.20). Only [`verify_header_only`] makes one.
#[derive(Clone)]
pub struct CheckedBundle {
    header: Verified<BundleHeader>,
    link: Verified<ChainLink>,
    author_key: PublicKey,
}

impl CheckedBundle {
    /// The verified outer header.
    pub fn header(&self) -> &Verified<BundleHeader> {
        &self.header
    }

    /// The verified chain link.
    pub fn link(&self) -> &Verified<ChainLink> {
        &self.link
    }

    /// The author's key that signed both.
    pub fn author_key(&self) -> PublicKey {
        self.author_key
    }
}

impl fmt::Debug for CheckedBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckedBundle")
            .field("header", &self.header)
            .field("link", &self.link)
            .finish()
    }
}

/// A bundle that passed every check of protocol.md §3.1–§3.25 and was decrypted. Only [`open`]
/// makes one, and [`open_own`] for a bundle this process sealed, whose plaintext it already
/// holds (protocol.md §3.33).
#[derive(Clone)]
pub struct OpenedBundle {
    header: Verified<BundleHeader>,
    link: Verified<ChainLink>,
    content: Verified<BundleContent>,
}

impl OpenedBundle {
    /// The verified outer header.
    pub fn header(&self) -> &Verified<BundleHeader> {
        &self.header
    }

    /// The verified chain link.
    pub fn link(&self) -> &Verified<ChainLink> {
        &self.link
    }

    /// The verified inner content.
    pub fn content(&self) -> &Verified<BundleContent> {
        &self.content
    }

    /// Splits into header, link and content.
    pub fn into_parts(
        self,
    ) -> (
        Verified<BundleHeader>,
        Verified<ChainLink>,
        Verified<BundleContent>,
    ) {
        (self.header, self.link, self.content)
    }
}

impl fmt::Debug for OpenedBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenedBundle")
            .field("header", &self.header)
            .field("link", &self.link)
            .field("content", &self.content)
            .finish()
    }
}

/// protocol.md §3.1 and §3.3: bounded size, the expected payload type, exactly one signature.
fn check_shape(
    env: &Envelope,
    part: Part,
    expected: PayloadType,
    max_payload: usize,
) -> Result<(), BundleError> {
    if env.payload().len() > max_payload {
        return Err(BundleError::TooLarge {
            what: match part {
                Part::Header => "bundle header payload",
                Part::Link => "chain link payload",
                Part::Inner => "bundle content payload",
            },
            len: env.payload().len(),
            max: max_payload,
        });
    }
    if env.payload_type() != expected.media_type() {
        return Err(BundleError::WrongPayloadType {
            part,
            found: env.payload_type().to_owned(),
        });
    }
    if env.signatures().len() != 1 {
        return Err(BundleError::SignatureCount {
            part,
            count: env.signatures().len(),
        });
    }
    Ok(())
}

/// protocol.md §3.3: reads the payload before verification, only to learn whose key to verify with.
fn peek<T: DeserializeOwned>(env: &Envelope, part: Part) -> Result<T, BundleError> {
    serde_json::from_slice(env.payload()).map_err(|e| BundleError::Malformed {
        part,
        message: e.to_string(),
    })
}

/// protocol.md §3.6: `verify_strict`, canonical JSON, the schema, and exactly the canonical encoding of the
/// parsed fields (so an absent optional field and an explicit `null` are not two spellings).
fn verify_part<T: DeserializeOwned + Serialize>(
    env: &Envelope,
    part: Part,
    expected: PayloadType,
    key: &PublicKey,
) -> Result<Verified<T>, BundleError> {
    let verified: Verified<T> =
        envelope::verify(env, expected, key).map_err(|e| from_envelope_error(part, e))?;
    let again =
        canonical::to_canonical_vec(verified.value()).map_err(|e| BundleError::NotCanonical {
            part,
            message: e.to_string(),
        })?;
    if again != env.payload() {
        return Err(BundleError::NotCanonical {
            part,
            message: "fields are not spelled in their one canonical form".into(),
        });
    }
    Ok(verified)
}

/// Checks a chain link on its own (protocol.md §3.19): what every member can check, including
/// those who may not see the header (RED bundles). The author's key is looked up as of the
/// roster head, with its retirement tip.
pub fn verify_link(
    link: &Envelope,
    roster: &dyn RosterHistory,
) -> Result<Verified<ChainLink>, BundleError> {
    verify_link_inner(link, roster).map(|(v, _)| v)
}

fn verify_link_inner(
    link: &Envelope,
    roster: &dyn RosterHistory,
) -> Result<(Verified<ChainLink>, PublicKey), BundleError> {
    // protocol.md §3.1, §3.3
    check_shape(
        link,
        Part::Link,
        PayloadType::ChainLink,
        MAX_LINK_PAYLOAD_BYTES,
    )?;
    let peeked: ChainLink = peek(link, Part::Link)?;
    // protocol.md §3.5: a key the author held by the roster head.
    let (head_seq, _) = roster.head();
    let keyid = link.signatures()[0].keyid;
    let key = roster
        .author_key(head_seq, &peeked.author, &keyid)
        .ok_or_else(|| BundleError::UnknownAuthorKey {
            part: Part::Link,
            author: peeked.author.clone(),
        })?;
    // protocol.md §3.6
    let verified: Verified<ChainLink> =
        verify_part(link, Part::Link, PayloadType::ChainLink, &key.key)?;
    let l = verified.value();
    // protocol.md §3.7
    check_circle(Part::Link, l.circle, roster)?;
    // protocol.md §3.10
    check_within_tip(Part::Link, l.author_seq, key.retired_at)?;
    // protocol.md §3.19: the first link has no predecessor; every other one names it.
    match (l.author_seq, &l.prev) {
        (1, Some(_)) => return Err(BundleError::LinkShape("author seq 1 has no previous link")),
        (2.., None) => {
            return Err(BundleError::LinkShape(
                "every link after the first names its previous link",
            ));
        }
        _ => {}
    }
    // protocol.md §3.19: at a retired key's tip, the roster recorded which link that was.
    if let Some(tip) = key.retired_at
        && tip.seq == l.author_seq
        && let Some(tip_link) = tip.link
        && tip_link != verified.id()
    {
        return Err(BundleError::LinkTipMismatch);
    }
    Ok((verified, key.key))
}

/// Every check before decryption (protocol.md §3.1–§3.20), cheapest first: for relays and for
/// members that are not recipients. Never decrypts.
pub fn verify_header_only(
    bundle: &BundleObject,
    roster: &dyn RosterHistory,
    now: Timestamp,
) -> Result<CheckedBundle, BundleError> {
    let header_env = bundle.header();
    // protocol.md §3.1: sizes, before any parsing or crypto.
    if bundle.ciphertext().len() > MAX_CIPHERTEXT_BYTES {
        return Err(BundleError::TooLarge {
            what: "ciphertext",
            len: bundle.ciphertext().len(),
            max: MAX_CIPHERTEXT_BYTES,
        });
    }
    if bundle.link().payload().len() > MAX_LINK_PAYLOAD_BYTES {
        return Err(BundleError::TooLarge {
            what: "chain link payload",
            len: bundle.link().payload().len(),
            max: MAX_LINK_PAYLOAD_BYTES,
        });
    }
    // protocol.md §3.1, §3.3
    check_shape(
        header_env,
        Part::Header,
        PayloadType::BundleHeader,
        MAX_HEADER_PAYLOAD_BYTES,
    )?;
    let peeked: BundleHeader = peek(header_env, Part::Header)?;
    // protocol.md §3.4: a roster position beyond ours cannot be judged yet.
    let (head_seq, _) = roster.head();
    if peeked.roster.seq > head_seq {
        return Err(BundleError::RosterBehind {
            stated: peeked.roster.seq,
            have: head_seq,
        });
    }
    // protocol.md §3.5: the signing key is one the named author held by the roster head.
    let keyid = header_env.signatures()[0].keyid;
    let key_at_head = roster
        .author_key(head_seq, &peeked.author, &keyid)
        .ok_or_else(|| BundleError::UnknownAuthorKey {
            part: Part::Header,
            author: peeked.author.clone(),
        })?;
    // protocol.md §3.6
    let header: Verified<BundleHeader> = verify_part(
        header_env,
        Part::Header,
        PayloadType::BundleHeader,
        &key_at_head.key,
    )?;
    let h = header.value();
    // protocol.md §3.7
    check_circle(Part::Header, h.circle, roster)?;
    // protocol.md §3.8–§3.10
    check_roster_and_author(h, &keyid, key_at_head.retired_at, roster)?;
    // protocol.md §3.11–§3.17
    check_header_fields(h, roster, now)?;
    // protocol.md §3.18: the header commits to the exact ciphertext.
    let ct = bundle.ciphertext();
    if ct.len() as u64 != h.ciphertext_len || Sha256Digest::of(ct) != h.ciphertext_sha256 {
        return Err(BundleError::CiphertextMismatch);
    }
    // protocol.md §3.19
    let (link, link_key) = verify_link_inner(bundle.link(), roster)?;
    // protocol.md §3.20: the link commits to this header and agrees with it.
    let l = link.value();
    let agree = |ok: bool, field| {
        if ok {
            Ok(())
        } else {
            Err(BundleError::LinkHeaderMismatch { field })
        }
    };
    agree(l.header == header.id(), "header id")?;
    agree(l.author == h.author, "author")?;
    agree(l.author_seq == h.author_seq, "author seq")?;
    agree(link_key == key_at_head.key, "signing key")?;
    agree(Some(l.audience) == h.tlp.audience(), "audience")?;
    Ok(CheckedBundle {
        header,
        link,
        author_key: key_at_head.key,
    })
}

/// Opens a bundle for member `me` (protocol.md §3.1–§3.25): every header check, then whether
/// `me` is a recipient (never decrypting otherwise), our own parse of the age header, the
/// decryption, the inner signature, and the inner and outer fields agreeing one by one.
pub fn open(
    bundle: &BundleObject,
    roster: &dyn RosterHistory,
    me: &MemberId,
    identities: &[age::x25519::Identity],
    now: Timestamp,
) -> Result<OpenedBundle, BundleError> {
    let checked = verify_header_only(bundle, roster, now)?;
    open_checked(bundle, checked, me, identities)
}

/// [`open`] of a `bundle` whose header and link [`verify_header_only`] has already checked
/// (`checked` must come from this same object): what a node that looked at the header first
/// uses, so the signatures are verified once.
pub fn open_checked(
    bundle: &BundleObject,
    checked: CheckedBundle,
    me: &MemberId,
    identities: &[age::x25519::Identity],
) -> Result<OpenedBundle, BundleError> {
    let mine = recipient_of(bundle, &checked, me)?;
    // protocol.md §3.21: an identity of ours is the one the author encrypted to.
    let identity = identities
        .iter()
        .find(|i| i.to_public().to_string() == mine)
        .ok_or(BundleError::NoMatchingIdentity)?;
    // protocol.md §3.22: our own bounded, linear parse before age's.
    let recipient_count = checked.header.value().recipients.len();
    check_age_header(bundle.ciphertext(), recipient_count).map_err(BundleError::AgeHeader)?;
    // protocol.md §3.23
    let plaintext = decrypt(bundle.ciphertext(), identity)?;
    check_inner(checked, &plaintext)
}

/// Checks the author's own just-sealed bundle for member `me` exactly as [`open`] would
/// (protocol.md §3.33): §3.1–§3.20, `me` among the recipients (§3.21), our parse of the age
/// header (§3.22), then the inner envelope (§3.24) and its agreement with the header (§3.25,
/// §3.16), on the inner bytes `sealed` carries. Only the decryption (§3.23), and with it the
/// lookup of a matching age identity, is skipped.
///
/// That is safe because those bytes are the plaintext [`seal_own`](super::seal_own) encrypted
/// into this very ciphertext in this process; the header's `ciphertext_sha256`, checked by
/// [`verify_header_only`] (§3.18), binds that ciphertext to the signed header; and [`Sealed`]
/// can only be made by `seal_own`, so the inner bytes cannot be paired with another object.
/// Anything received from elsewhere, including one's own bundle from a peer, goes through
/// [`open`].
pub fn open_own(
    sealed: &Sealed,
    roster: &dyn RosterHistory,
    me: &MemberId,
    now: Timestamp,
) -> Result<OpenedBundle, BundleError> {
    let checked = verify_header_only(sealed.object(), roster, now)?;
    open_own_checked(sealed, checked, me)
}

/// [`open_own`] with the header and link already checked by [`verify_header_only`] on
/// `sealed`'s object.
pub fn open_own_checked(
    sealed: &Sealed,
    checked: CheckedBundle,
    me: &MemberId,
) -> Result<OpenedBundle, BundleError> {
    let bundle = sealed.object();
    recipient_of(bundle, &checked, me)?;
    // protocol.md §3.22: the same bounded parse a receiver makes, though age never reads it here.
    let recipient_count = checked.header.value().recipients.len();
    check_age_header(bundle.ciphertext(), recipient_count).map_err(BundleError::AgeHeader)?;
    // protocol.md §3.33: no §3.23; the plaintext is the one sealed into this ciphertext.
    check_inner(checked, sealed.inner_envelope())
}

/// protocol.md §3.21: whether `me` is a recipient of the checked `bundle`. Returns the age
/// recipient listed for `me`. `checked` must be the check of this very object.
fn recipient_of(
    bundle: &BundleObject,
    checked: &CheckedBundle,
    me: &MemberId,
) -> Result<String, BundleError> {
    if checked.header.id() != bundle.id() {
        return Err(BundleError::Malformed {
            part: Part::Header,
            message: format!(
                "the header checked is {}, not this object's {}",
                checked.header.id(),
                bundle.id()
            ),
        });
    }
    // protocol.md §3.21: never decrypt what was not sent to us.
    Ok(checked
        .header
        .value()
        .recipients
        .iter()
        .find(|r| &r.member == me)
        .ok_or(BundleError::NotARecipient)?
        .age_recipient
        .clone())
}

/// protocol.md §3.24, §3.25 and §3.16: everything after the decryption, on the plaintext; the
/// one place these checks live, for [`open`] and [`open_own`] alike.
fn check_inner(checked: CheckedBundle, plaintext: &[u8]) -> Result<OpenedBundle, BundleError> {
    let h = checked.header.value();
    // protocol.md §3.24: the inner envelope, signed by the same author key as the header.
    let inner_env = Envelope::from_json(plaintext).map_err(|e| BundleError::Malformed {
        part: Part::Inner,
        message: e.to_string(),
    })?;
    check_shape(
        &inner_env,
        Part::Inner,
        PayloadType::BundleContent,
        MAX_CIPHERTEXT_BYTES,
    )?;
    if inner_env.signatures()[0].keyid != checked.author_key.key_id() {
        return Err(BundleError::BadSignature { part: Part::Inner });
    }
    let content: Verified<BundleContent> = verify_part(
        &inner_env,
        Part::Inner,
        PayloadType::BundleContent,
        &checked.author_key,
    )?;
    // protocol.md §3.25: inner and outer agree field by field.
    let c = content.value();
    let agree = |ok: bool, field| {
        if ok {
            Ok(())
        } else {
            Err(BundleError::InnerMismatch { field })
        }
    };
    agree(c.circle == h.circle, "circle")?;
    agree(c.author == h.author, "author")?;
    agree(c.bundle == h.bundle, "bundle id")?;
    agree(c.version == h.version, "version")?;
    agree(c.kind == h.kind, "kind")?;
    agree(c.target == h.target, "target")?;
    agree(c.tlp == h.tlp, "tlp")?;
    agree(
        c.recipients_digest == h.recipients_digest,
        "recipients digest",
    )?;
    // protocol.md §3.16: the body fits the kind.
    check_body(c.kind, &c.body)?;
    Ok(OpenedBundle {
        header: checked.header,
        link: checked.link,
        content,
    })
}

/// protocol.md §3.23: age with `Decryptor::new_buffered` (the unbuffered reader is far slower on large
/// headers). Every failure is the same coarse error.
fn decrypt(ciphertext: &[u8], identity: &age::x25519::Identity) -> Result<Vec<u8>, BundleError> {
    let decryptor = age::Decryptor::new_buffered(ciphertext).map_err(|_| BundleError::Decrypt)?;
    let reader = decryptor
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .map_err(|_| BundleError::Decrypt)?;
    let mut plaintext = Vec::new();
    // The plaintext is never longer than the ciphertext, which §3.1 bounded.
    reader
        .take(MAX_CIPHERTEXT_BYTES as u64)
        .read_to_end(&mut plaintext)
        .map_err(|_| BundleError::Decrypt)?;
    Ok(plaintext)
}
