//! The signed bundle objects (protocol.md §3, "Objects"): the inner content, the outer header, the
//! chain link, and the bundle object that frames them on the wire.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::canonical;
use crate::encoding::{base64_decode, base64_encode, hex, parse_hex};
use crate::envelope::Envelope;
use crate::ids::{EnvelopeId, IdError, MemberId, Sha256Digest};
use crate::timestamp::Timestamp;

use super::errors::BundleError;
use super::{MAX_BUNDLE_OBJECT_BYTES, MAX_CIPHERTEXT_BYTES};

/// The only encryption scheme of version 1 (protocol.md §3.12).
pub const ENC_AGE_X25519_V1: &str = "age-x25519-v1";

/// A bundle lineage id: 128 random bits chosen by the author, written as 32 lowercase hex
/// characters. Kept by every revision and reshare.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BundleId(pub [u8; 16]);

impl BundleId {
    /// The lowercase hex form.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

impl fmt::Display for BundleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for BundleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BundleId({})", self.to_hex())
    }
}

impl FromStr for BundleId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        parse_hex::<16>(s).map(BundleId).ok_or_else(|| IdError {
            kind: "bundle id",
            text: s.to_owned(),
            expected: "32 lowercase hex characters",
        })
    }
}

impl Serialize for BundleId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for BundleId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What a bundle is (protocol.md §3, "Kinds").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BundleKind {
    /// A new report; starts a lineage (version 1).
    Report,
    /// A new version of the author's own report (same bundle id, version + 1).
    Revision,
    /// Withdraws the author's own report, to every reader it ever had.
    Retraction,
    /// A comment on a bundle the commenter could read, to a subset of its readers.
    Comment,
    /// The same version of the author's own report, sent to more recipients.
    Reshare,
    /// Asks to declassify the author's own report.
    DeclassRequest,
    /// A review in a declassification thread.
    DeclassReview,
}

impl BundleKind {
    /// Every kind.
    pub const ALL: [BundleKind; 7] = [
        BundleKind::Report,
        BundleKind::Revision,
        BundleKind::Retraction,
        BundleKind::Comment,
        BundleKind::Reshare,
        BundleKind::DeclassRequest,
        BundleKind::DeclassReview,
    ];

    /// The spelling in signed payloads.
    pub const fn as_str(self) -> &'static str {
        match self {
            BundleKind::Report => "report",
            BundleKind::Revision => "revision",
            BundleKind::Retraction => "retraction",
            BundleKind::Comment => "comment",
            BundleKind::Reshare => "reshare",
            BundleKind::DeclassRequest => "declass-request",
            BundleKind::DeclassReview => "declass-review",
        }
    }

    /// Whether the body is a report (the others carry text).
    pub const fn carries_report(self) -> bool {
        matches!(
            self,
            BundleKind::Report | BundleKind::Revision | BundleKind::Reshare
        )
    }

    /// Whether this kind acts on the author's own earlier bundle (protocol.md §3.16).
    pub const fn needs_own_target(self) -> bool {
        matches!(
            self,
            BundleKind::Revision
                | BundleKind::Retraction
                | BundleKind::Reshare
                | BundleKind::DeclassRequest
        )
    }

    /// Whether this kind belongs to a declassification thread (protocol.md §3.17).
    pub const fn is_declass(self) -> bool {
        matches!(self, BundleKind::DeclassRequest | BundleKind::DeclassReview)
    }
}

impl fmt::Display for BundleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Traffic Light Protocol 2.0 label (protocol.md §3.15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Tlp {
    /// Reserved for the public archive; never inside a circle.
    #[serde(rename = "CLEAR")]
    Clear,
    #[serde(rename = "GREEN")]
    Green,
    #[serde(rename = "AMBER")]
    Amber,
    #[serde(rename = "AMBER+STRICT")]
    AmberStrict,
    /// Named recipients only.
    #[serde(rename = "RED")]
    Red,
}

impl Tlp {
    /// The spelling in signed payloads.
    pub const fn as_str(self) -> &'static str {
        match self {
            Tlp::Clear => "CLEAR",
            Tlp::Green => "GREEN",
            Tlp::Amber => "AMBER",
            Tlp::AmberStrict => "AMBER+STRICT",
            Tlp::Red => "RED",
        }
    }

    /// The chain-link audience this label requires, or `None` for `CLEAR` (never in a circle).
    pub const fn audience(self) -> Option<Audience> {
        match self {
            Tlp::Clear => None,
            Tlp::Green | Tlp::Amber | Tlp::AmberStrict => Some(Audience::Circle),
            Tlp::Red => Some(Audience::Named),
        }
    }
}

impl fmt::Display for Tlp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who a bundle went to, as every member may see on its chain link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Audience {
    /// Every member at the header's roster seq (`GREEN`, `AMBER`, `AMBER+STRICT`).
    Circle,
    /// Named recipients (`RED`).
    Named,
}

/// A roster position: the seq and the envelope id of the event at that seq.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RosterRef {
    pub seq: u64,
    pub head: EnvelopeId,
}

/// One recipient: the member and the age X25519 recipient it had at the header's roster seq.
/// Written as a two-element array `[member id, "age1…"]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Recipient {
    pub member: MemberId,
    pub age_recipient: String,
}

impl Serialize for Recipient {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (&self.member, &self.age_recipient).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Recipient {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (member, age_recipient) = <(MemberId, String)>::deserialize(d)?;
        Ok(Recipient {
            member,
            age_recipient,
        })
    }
}

/// SHA-256 of the canonical JSON array of `[member id, recipient]` pairs, in the order given
/// (protocol.md §3.14; callers pass them sorted by member id).
pub fn recipients_digest(recipients: &[Recipient]) -> Sha256Digest {
    // Member ids and age recipients are plain strings, so canonical encoding cannot fail; an
    // empty byte string would give a digest no header matches.
    let bytes = canonical::to_canonical_vec(recipients).unwrap_or_default();
    Sha256Digest::of(&bytes)
}

/// The exact bundle a revision, retraction, reshare, comment or declassification message acts
/// on. The header id names one bundle object; the rest lets receivers check the static rules
/// before they hold the target (protocol.md §3.16).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetRef {
    /// Envelope id of the target's outer header.
    pub header: EnvelopeId,
    /// The target's author.
    pub author: MemberId,
    /// The target's bundle id.
    pub bundle: BundleId,
    /// The target's version.
    pub version: u64,
}

/// The body of the inner content: a report (the canonical JSON of the parsed document) or text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum BundleBody {
    /// The parsed report as a JSON value (it must be canonical-JSON representable: no floats).
    Report(serde_json::Value),
    /// Comment, retraction notice or declassification text.
    Text(String),
}

/// The inner, encrypted, signed content (payload type `bundle-content`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleContent {
    pub circle: EnvelopeId,
    pub author: MemberId,
    pub bundle: BundleId,
    pub version: u64,
    pub kind: BundleKind,
    pub target: Option<TargetRef>,
    pub tlp: Tlp,
    pub recipients_digest: Sha256Digest,
    pub body: BundleBody,
}

/// The outer, public-to-recipients-and-relays header (payload type `bundle-header`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleHeader {
    pub circle: EnvelopeId,
    pub author: MemberId,
    pub author_seq: u64,
    pub roster: RosterRef,
    pub bundle: BundleId,
    pub version: u64,
    pub kind: BundleKind,
    pub target: Option<TargetRef>,
    pub tlp: Tlp,
    pub enc: String,
    /// Sorted by member id, no duplicates.
    pub recipients: Vec<Recipient>,
    pub recipients_digest: Sha256Digest,
    pub ciphertext_sha256: Sha256Digest,
    pub ciphertext_len: u64,
    pub created_at: Timestamp,
}

impl BundleHeader {
    /// Whether `member` is listed as a recipient.
    pub fn is_recipient(&self, member: &MemberId) -> bool {
        self.recipients
            .binary_search_by(|r| r.member.cmp(member))
            .is_ok()
    }

    /// The recipients' member ids, in order.
    pub fn recipient_members(&self) -> Vec<MemberId> {
        self.recipients.iter().map(|r| r.member.clone()).collect()
    }
}

/// One link of an author's chain (payload type `chain-link`): visible to every member, so
/// withholding is detectable even for RED bundles they cannot read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainLink {
    pub circle: EnvelopeId,
    pub author: MemberId,
    pub author_seq: u64,
    /// Envelope id of the author's link at `author_seq - 1`; `None` exactly when `author_seq` is 1.
    pub prev: Option<EnvelopeId>,
    /// Envelope id of the bundle header this link commits to.
    pub header: EnvelopeId,
    pub audience: Audience,
}

/// The wire and export framing: `{ "link": envelope, "header": envelope, "ciphertext": base64 }`.
/// The bytes are kept exactly as received (or as first serialised), so a stored or relayed copy
/// is byte-identical and a quarantine key is the SHA-256 of exactly these bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct BundleObject {
    link: Envelope,
    header: Envelope,
    ciphertext: Vec<u8>,
    bytes: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBundleObject {
    link: Envelope,
    header: Envelope,
    ciphertext: String,
}

impl fmt::Debug for BundleObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BundleObject")
            .field("id", &self.id())
            .field("link", &self.link)
            .field("header", &self.header)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish()
    }
}

impl BundleObject {
    /// Frames three parts and serialises them (canonical JSON).
    pub fn new(link: Envelope, header: Envelope, ciphertext: Vec<u8>) -> BundleObject {
        let raw = RawBundleObject {
            link: link.clone(),
            header: header.clone(),
            ciphertext: base64_encode(&ciphertext),
        };
        // Only strings inside, so canonical encoding cannot fail.
        let bytes = canonical::to_canonical_vec(&raw).unwrap_or_default();
        BundleObject {
            link,
            header,
            ciphertext,
            bytes,
        }
    }

    /// Parses a bundle object, keeping the exact bytes (protocol.md §3.1, §3.2). Nothing in it is
    /// trusted until [`super::open`] or [`super::verify_header_only`] says so.
    pub fn parse(bytes: &[u8]) -> Result<BundleObject, BundleError> {
        // protocol.md §3.1: the whole object is bounded before anything is parsed.
        if bytes.len() > MAX_BUNDLE_OBJECT_BYTES {
            return Err(BundleError::TooLarge {
                what: "bundle object",
                len: bytes.len(),
                max: MAX_BUNDLE_OBJECT_BYTES,
            });
        }
        // protocol.md §3.2: exactly the three members, ciphertext in standard base64.
        let raw: RawBundleObject =
            serde_json::from_slice(bytes).map_err(|e| BundleError::Framing(e.to_string()))?;
        let ciphertext = base64_decode(&raw.ciphertext).ok_or_else(|| {
            BundleError::Framing("ciphertext is not standard padded base64".into())
        })?;
        if ciphertext.len() > MAX_CIPHERTEXT_BYTES {
            return Err(BundleError::TooLarge {
                what: "ciphertext",
                len: ciphertext.len(),
                max: MAX_CIPHERTEXT_BYTES,
            });
        }
        Ok(BundleObject {
            link: raw.link,
            header: raw.header,
            ciphertext,
            bytes: bytes.to_vec(),
        })
    }

    /// The exact bytes (as received, or as first serialised).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The chain link envelope.
    pub fn link(&self) -> &Envelope {
        &self.link
    }

    /// The outer header envelope.
    pub fn header(&self) -> &Envelope {
        &self.header
    }

    /// The binary age file.
    pub fn ciphertext(&self) -> &[u8] {
        &self.ciphertext
    }

    /// The id the wire addresses a bundle object by: the outer header's envelope id.
    pub fn id(&self) -> EnvelopeId {
        self.header.id()
    }

    /// The quarantine key: SHA-256 of the exact bytes.
    pub fn quarantine_key(&self) -> Sha256Digest {
        Sha256Digest::of(&self.bytes)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_kinds_tlp_and_audience() {
        for k in BundleKind::ALL {
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("\"{}\"", k.as_str())
            );
        }
        assert_eq!(
            serde_json::to_string(&Tlp::AmberStrict).unwrap(),
            "\"AMBER+STRICT\""
        );
        assert_eq!(serde_json::from_str::<Tlp>("\"RED\"").unwrap(), Tlp::Red);
        assert!(serde_json::from_str::<Tlp>("\"red\"").is_err());
        assert_eq!(
            serde_json::to_string(&Audience::Named).unwrap(),
            "\"named\""
        );
    }

    #[test]
    fn bundle_id_is_32_lowercase_hex() {
        let id = BundleId([0xab; 16]);
        assert_eq!(id.to_hex(), "ab".repeat(16));
        assert_eq!(id.to_hex().parse::<BundleId>().unwrap(), id);
        assert!("AB".repeat(16).parse::<BundleId>().is_err());
        assert!("ab".repeat(15).parse::<BundleId>().is_err());
    }

    #[test]
    fn recipient_is_a_pair_and_digest_is_over_the_array() {
        let member = MemberId::from_first_key(&[1; 32]);
        let r = Recipient {
            member: member.clone(),
            age_recipient: "age1xyz".into(),
        };
        let json = serde_json::to_string(std::slice::from_ref(&r)).unwrap();
        assert_eq!(json, format!("[[\"{member}\",\"age1xyz\"]]"));
        assert_eq!(recipients_digest(&[r]), Sha256Digest::of(json.as_bytes()));
    }

    #[test]
    fn object_keeps_exact_bytes_and_refuses_extra_members() {
        let env = Envelope::from_parts("t".into(), b"{}".to_vec(), Vec::new());
        let obj = BundleObject::new(env.clone(), env.clone(), vec![1, 2, 3]);
        let again = BundleObject::parse(obj.as_bytes()).unwrap();
        assert_eq!(again, obj);
        assert_eq!(again.ciphertext(), &[1, 2, 3]);
        // A different spelling of the same object keeps its own bytes (and quarantine key).
        let spaced = String::from_utf8(obj.as_bytes().to_vec())
            .unwrap()
            .replace(",\"link\"", ", \"link\"");
        let spaced_obj = BundleObject::parse(spaced.as_bytes()).unwrap();
        assert_eq!(spaced_obj.as_bytes(), spaced.as_bytes());
        assert_ne!(spaced_obj.quarantine_key(), obj.quarantine_key());
        let extra = String::from_utf8(obj.as_bytes().to_vec())
            .unwrap()
            .replacen('{', "{\"x\":1,", 1);
        assert!(matches!(
            BundleObject::parse(extra.as_bytes()),
            Err(BundleError::Framing(_))
        ));
        let bad_b64 = String::from_utf8(obj.as_bytes().to_vec())
            .unwrap()
            .replace("AQID", "AQI");
        assert!(matches!(
            BundleObject::parse(bad_b64.as_bytes()),
            Err(BundleError::Framing(m)) if m.contains("base64")
        ));
    }
}
