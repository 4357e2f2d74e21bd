//! Test fixtures for the bundle rules: fixed members (Ed25519 and age keys from fixed seeds) and
//! a small in-memory `RosterHistory` (members per seq, key rotations and removals with their
//! chain tips). This stands in for the roster fold only in tests of the pure bundle rules.
#![allow(dead_code, clippy::unwrap_used)]

use std::str::FromStr;

use debrief_protocol::bundle::{
    BundleBody, BundleContent, BundleHeader, BundleId, BundleKind, BundleObject, ChainLink,
    SealRequest, TargetInfo, Tlp, seal,
};
use debrief_protocol::envelope::{Envelope, PayloadType, PublicKey, Signer};
use debrief_protocol::ids::{EnvelopeId, KeyId, MemberId, Sha256Digest};
use debrief_protocol::membership::{AuthorKey, ChainTip, MemberAt, RosterHistory};
use debrief_protocol::profile::{Industry, OrgProfile, Region, SizeBand};
use debrief_protocol::timestamp::Timestamp;
use ed25519_dalek::SigningKey;

/// 2026-11-25T10:00:00Z.
pub const NOW: Timestamp = Timestamp::from_unix(1_795_600_800);

/// Bech32 (BIP-173) so that age identities can come from fixed seeds like the signing keys.
fn bech32_encode(hrp: &str, data: &[u8]) -> String {
    const CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    fn polymod(values: &[u8]) -> u32 {
        const GEN: [u32; 5] = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
        let mut chk: u32 = 1;
        for &v in values {
            let b = chk >> 25;
            chk = ((chk & 0x1ffffff) << 5) ^ u32::from(v);
            for (i, g) in GEN.iter().enumerate() {
                if (b >> i) & 1 == 1 {
                    chk ^= g;
                }
            }
        }
        chk
    }
    let mut five = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in data {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            five.push(((acc >> bits) & 31) as u8);
        }
    }
    if bits > 0 {
        five.push(((acc << (5 - bits)) & 31) as u8);
    }
    let mut values: Vec<u8> = hrp.bytes().map(|c| c >> 5).collect();
    values.push(0);
    values.extend(hrp.bytes().map(|c| c & 31));
    values.extend_from_slice(&five);
    values.extend_from_slice(&[0; 6]);
    let pm = polymod(&values) ^ 1;
    let mut out = format!("{hrp}1");
    for &v in &five {
        out.push(CHARSET[usize::from(v)] as char);
    }
    for i in 0..6 {
        out.push(CHARSET[((pm >> (5 * (5 - i))) & 31) as usize] as char);
    }
    out
}

/// The age identity with secret scalar bytes `[seed; 32]`.
pub fn age_identity(seed: u8) -> age::x25519::Identity {
    let text = bech32_encode("age-secret-key-", &[seed; 32]).to_uppercase();
    age::x25519::Identity::from_str(&text).unwrap()
}

/// A member company with fixed keys: signing key `[seed; 32]`, age key `[seed + 100; 32]`.
pub struct Member {
    pub seed: u8,
    pub signing: SigningKey,
    pub age: age::x25519::Identity,
    pub id: MemberId,
}

impl Member {
    pub fn new(seed: u8) -> Member {
        let signing = SigningKey::from_bytes(&[seed; 32]);
        let id = signing.public_key().member_id();
        Member {
            seed,
            signing,
            age: age_identity(seed.wrapping_add(100)),
            id,
        }
    }

    pub fn recipient(&self) -> String {
        self.age.to_public().to_string()
    }

    pub fn key(&self) -> PublicKey {
        self.signing.public_key()
    }
}

#[derive(Clone)]
struct KeyRecord {
    key: PublicKey,
    from_seq: u64,
    /// (roster seq of the retirement, tip)
    retired: Option<(u64, ChainTip)>,
}

#[derive(Clone)]
struct Entry {
    id: MemberId,
    org: String,
    joined: u64,
    left: Option<u64>,
    maintainer: bool,
    keys: Vec<KeyRecord>,
    /// (from seq, recipient)
    enc: Vec<(u64, String)>,
}

/// An in-memory roster history: seq 0 is genesis; each change appends one event.
#[derive(Clone)]
pub struct FixtureRoster {
    circle: EnvelopeId,
    events: Vec<EnvelopeId>,
    entries: Vec<Entry>,
    frozen: bool,
}

impl FixtureRoster {
    /// A circle named by `label`, founded by `founders` (the first is a maintainer).
    pub fn new(label: &str, founders: &[&Member]) -> FixtureRoster {
        let circle = EnvelopeId(Sha256Digest::of(label.as_bytes()));
        let mut roster = FixtureRoster {
            circle,
            events: vec![circle],
            entries: Vec::new(),
            frozen: false,
        };
        for (i, m) in founders.iter().enumerate() {
            roster.add_entry(m, 0, i == 0);
        }
        roster
    }

    fn add_entry(&mut self, m: &Member, seq: u64, maintainer: bool) {
        self.entries.push(Entry {
            id: m.id.clone(),
            org: format!("Org {}", m.seed),
            joined: seq,
            left: None,
            maintainer,
            keys: vec![KeyRecord {
                key: m.key(),
                from_seq: seq,
                retired: None,
            }],
            enc: vec![(seq, m.recipient())],
        });
    }

    fn push_event(&mut self) -> u64 {
        let seq = self.events.len() as u64;
        let id = EnvelopeId(Sha256Digest::of_parts(&[
            &self.circle.0.0,
            &seq.to_be_bytes(),
        ]));
        self.events.push(id);
        seq
    }

    fn entry_mut(&mut self, id: &MemberId) -> &mut Entry {
        self.entries.iter_mut().find(|e| &e.id == id).unwrap()
    }

    pub fn admit(&mut self, m: &Member) -> u64 {
        let seq = self.push_event();
        self.add_entry(m, seq, false);
        seq
    }

    /// An event that changes nothing the bundle rules see (e.g. an endpoint change).
    pub fn other_event(&mut self) -> u64 {
        self.push_event()
    }

    pub fn remove(&mut self, id: &MemberId, tip: ChainTip) -> u64 {
        let seq = self.push_event();
        let e = self.entry_mut(id);
        e.left = Some(seq);
        for k in &mut e.keys {
            if k.retired.is_none() {
                k.retired = Some((seq, tip));
            }
        }
        seq
    }

    pub fn rotate(&mut self, id: &MemberId, new_key: PublicKey, tip: ChainTip) -> u64 {
        let seq = self.push_event();
        let e = self.entry_mut(id);
        for k in &mut e.keys {
            if k.retired.is_none() {
                k.retired = Some((seq, tip));
            }
        }
        e.keys.push(KeyRecord {
            key: new_key,
            from_seq: seq,
            retired: None,
        });
        seq
    }

    pub fn set_enc(&mut self, id: &MemberId, recipient: String) -> u64 {
        let seq = self.push_event();
        self.entry_mut(id).enc.push((seq, recipient));
        seq
    }

    pub fn set_maintainer(&mut self, id: &MemberId) -> u64 {
        let seq = self.push_event();
        self.entry_mut(id).maintainer = true;
        seq
    }

    pub fn freeze(&mut self) {
        self.frozen = true;
    }

    fn at(&self, seq: u64, e: &Entry) -> Option<MemberAt> {
        if e.joined > seq || e.left.is_some_and(|l| l <= seq) || seq as usize >= self.events.len() {
            return None;
        }
        let key = e.keys.iter().rev().find(|k| k.from_seq <= seq)?.key;
        let enc = e.enc.iter().rev().find(|(s, _)| *s <= seq)?.1.clone();
        Some(MemberAt {
            member: e.id.clone(),
            org: e.org.clone(),
            profile: OrgProfile {
                industry: Industry::Saas,
                size_band: SizeBand::S,
                region: Region::Europe,
            },
            signing_key: key,
            enc_recipient: enc,
            is_maintainer: e.maintainer,
            deny_terms: Vec::new(),
        })
    }
}

impl RosterHistory for FixtureRoster {
    fn circle_id(&self) -> EnvelopeId {
        self.circle
    }

    fn head(&self) -> (u64, EnvelopeId) {
        let seq = self.events.len() as u64 - 1;
        (seq, self.events[seq as usize])
    }

    fn event_id_at(&self, seq: u64) -> Option<EnvelopeId> {
        self.events.get(usize::try_from(seq).ok()?).copied()
    }

    fn member_at(&self, seq: u64, member: &MemberId) -> Option<MemberAt> {
        let e = self.entries.iter().find(|e| &e.id == member)?;
        self.at(seq, e)
    }

    fn members_at(&self, seq: u64) -> Vec<MemberAt> {
        let mut out: Vec<MemberAt> = self
            .entries
            .iter()
            .filter_map(|e| self.at(seq, e))
            .collect();
        out.sort_by(|a, b| a.member.cmp(&b.member));
        out
    }

    fn author_key(&self, seq: u64, member: &MemberId, key: &KeyId) -> Option<AuthorKey> {
        let e = self.entries.iter().find(|e| &e.id == member)?;
        if e.joined > seq {
            return None;
        }
        let k = e
            .keys
            .iter()
            .find(|k| k.from_seq <= seq && &k.key.key_id() == key)?;
        Some(AuthorKey {
            key: k.key,
            retired_at: k.retired.filter(|(at, _)| *at <= seq).map(|(_, tip)| tip),
        })
    }

    fn is_frozen(&self) -> bool {
        self.frozen
    }
}

/// The usual world: A (maintainer), B, C, D in the circle; E outside.
pub struct World {
    pub a: Member,
    pub b: Member,
    pub c: Member,
    pub d: Member,
    pub e: Member,
    pub roster: FixtureRoster,
}

impl World {
    pub fn new() -> World {
        let (a, b, c, d, e) = (
            Member::new(1),
            Member::new(2),
            Member::new(3),
            Member::new(4),
            Member::new(5),
        );
        let mut roster = FixtureRoster::new("test circle", &[&a, &b]);
        roster.admit(&c);
        roster.admit(&d);
        World {
            a,
            b,
            c,
            d,
            e,
            roster,
        }
    }
}

/// A seal request with the usual defaults: fresh roster, first bundle, a report body.
pub fn request<'a>(
    roster: &'a FixtureRoster,
    author: &'a Member,
    kind: BundleKind,
    tlp: Tlp,
    named: Vec<MemberId>,
) -> SealRequest<'a> {
    SealRequest {
        roster,
        roster_fresh_as_of: NOW,
        max_roster_age_secs: 86_400,
        author: author.id.clone(),
        signer: &author.signing,
        author_seq: 1,
        prev_link: None,
        bundle_id: BundleId([author.seed; 16]),
        kind,
        target: None,
        tlp,
        named,
        body: if kind.carries_report() {
            BundleBody::Report(serde_json::json!({"title": "DNS outage", "severity": 2}))
        } else {
            BundleBody::Text("a note".into())
        },
        now: NOW,
    }
}

/// A GREEN report by A to the whole circle, author seq 1.
pub fn green_report(w: &World) -> BundleObject {
    seal(request(
        &w.roster,
        &w.a,
        BundleKind::Report,
        Tlp::Green,
        vec![],
    ))
    .unwrap()
}

/// Target facts for a sealed bundle, as a node would build them from its store.
pub fn target_of(obj: &BundleObject, lineage: &[&BundleObject]) -> TargetInfo {
    let h: BundleHeader = obj.header().unverified_payload().unwrap();
    let mut all: Vec<MemberId> = lineage
        .iter()
        .flat_map(|o| {
            let h: BundleHeader = o.header().unverified_payload().unwrap();
            h.recipient_members()
        })
        .collect();
    all.sort();
    all.dedup();
    TargetInfo::from_header(obj.id(), &h, all)
}

pub fn header_of(obj: &BundleObject) -> BundleHeader {
    obj.header().unverified_payload().unwrap()
}

pub fn link_of(obj: &BundleObject) -> ChainLink {
    obj.link().unverified_payload().unwrap()
}

/// Decrypts the inner envelope as `reader` (a test's view of what a recipient sees).
pub fn inner_of(obj: &BundleObject, reader: &Member) -> Envelope {
    let plain = age::decrypt(&reader.age, obj.ciphertext()).unwrap();
    Envelope::from_json(&plain).unwrap()
}

pub fn content_of(obj: &BundleObject, reader: &Member) -> BundleContent {
    inner_of(obj, reader).unverified_payload().unwrap()
}

/// age-encrypts `plaintext` to `recipients` (age recipient strings).
pub fn encrypt_to(recipients: &[String], plaintext: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let keys: Vec<age::x25519::Recipient> = recipients.iter().map(|r| r.parse().unwrap()).collect();
    let enc =
        age::Encryptor::with_recipients(keys.iter().map(|k| k as &dyn age::Recipient)).unwrap();
    let mut out = Vec::new();
    let mut w = enc.wrap_output(&mut out).unwrap();
    w.write_all(plaintext).unwrap();
    w.finish().unwrap();
    out
}

/// Re-frames a bundle as a (possibly malicious) author would: the given header value is signed
/// by `signer`, the ciphertext digest and length are set to match `ciphertext` when
/// `fix_ciphertext`, and the link is re-signed by `signer` to name the new header.
pub fn reframe(
    obj: &BundleObject,
    mut header: serde_json::Value,
    ciphertext: Vec<u8>,
    signer: &SigningKey,
    fix_ciphertext: bool,
) -> BundleObject {
    if fix_ciphertext {
        header["ciphertext_sha256"] = serde_json::json!(Sha256Digest::of(&ciphertext).to_hex());
        header["ciphertext_len"] = serde_json::json!(ciphertext.len());
    }
    let header_env = Envelope::sign(&header, PayloadType::BundleHeader, signer).unwrap();
    let mut link: serde_json::Value = obj.link().unverified_payload().unwrap();
    link["header"] = serde_json::json!(header_env.id().to_hex());
    let link_env = Envelope::sign(&link, PayloadType::ChainLink, signer).unwrap();
    BundleObject::new(link_env, header_env, ciphertext)
}

/// The header of `obj` as a JSON value, for tampering.
pub fn header_value(obj: &BundleObject) -> serde_json::Value {
    obj.header().unverified_payload().unwrap()
}

/// Replaces the link with `link` signed by `signer`.
pub fn with_link(obj: &BundleObject, link: serde_json::Value, signer: &SigningKey) -> BundleObject {
    let link_env = Envelope::sign(&link, PayloadType::ChainLink, signer).unwrap();
    BundleObject::new(link_env, obj.header().clone(), obj.ciphertext().to_vec())
}

/// Replaces the header envelope with the same payload bytes but other signatures/type, keeping
/// the link (which then names a different header id unless relinked).
pub fn with_header_env(obj: &BundleObject, header_env: Envelope) -> BundleObject {
    BundleObject::new(obj.link().clone(), header_env, obj.ciphertext().to_vec())
}

pub fn sign_value(value: &serde_json::Value, t: PayloadType, signer: &dyn Signer) -> Envelope {
    Envelope::sign(value, t, signer).unwrap()
}
