//! The attacker's toolkit for the `attack_*` tests (issue 17): real member identities from the
//! keys crate, a real circle folded event by event through the roster rules, real sealed
//! bundles, and the primitives an attacker uses to bend them (re-signing, re-encrypting,
//! relabelling, replaying).
//!
//! Nothing here weakens a check: every object the kit builds honestly passes the rules, so an
//! attack test that fails proves the protocol refused exactly the attacker's change.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read as _, Write as _};

use debrief_keys::Identity;
use debrief_protocol::bundle::{
    BundleBody, BundleError, BundleId, BundleKind, BundleObject, SealRequest, TargetInfo, Tlp,
    open, seal,
};
use debrief_protocol::envelope::{Envelope, EnvelopeSignature, PayloadType, Signer};
use debrief_protocol::ids::{EnvelopeId, MemberId};
use debrief_protocol::membership::RosterHistory;
use debrief_protocol::profile::{Industry, OrgProfile, Region, SizeBand};
use debrief_protocol::roster::{
    EventBody, Genesis, InviteToken, JoinRequest, MemberChange, Policy, QuorumAction, Roster,
    RosterBuilder, RosterError, RosterEvent, TipStatement, cosign,
};
use debrief_protocol::{Timestamp, canonical};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::Value;

/// 2026-11-26T07:00:00Z: the circle's genesis.
pub const T0: i64 = 1_795_602_000;

/// `T0 + offset_secs`.
pub fn at(offset_secs: i64) -> Timestamp {
    Timestamp::from_unix(T0 + offset_secs)
}

/// A member company with real keys (Ed25519 signing, age X25519, TLS, attribution), drawn from a
/// seeded RNG so a failing test can be replayed. No keystore file: these tests attack the
/// protocol, not the passphrase.
pub fn company(seed: u64, org: &str) -> Identity {
    let profile = OrgProfile {
        industry: Industry::Saas,
        size_band: SizeBand::M,
        region: Region::Europe,
    };
    Identity::generate(&mut StdRng::seed_from_u64(seed), org, profile, at(-86_400))
        .expect("a valid organisation name")
}

/// The five companies of the attack stories. Acme sequences; Acme and Bravo maintain;
/// Charlie and Delta are members; Echo is a candidate, outside until admitted.
#[derive(Debug)]
pub struct Cast {
    pub acme: Identity,
    pub bravo: Identity,
    pub charlie: Identity,
    pub delta: Identity,
    pub echo: Identity,
}

impl Cast {
    pub fn new() -> Cast {
        Cast {
            acme: company(1, "Acme Corp"),
            bravo: company(2, "Bravo Ltd"),
            charlie: company(3, "Charlie Inc"),
            delta: company(4, "Delta GmbH"),
            echo: company(5, "Echo SA"),
        }
    }
}

impl Default for Cast {
    fn default() -> Self {
        Cast::new()
    }
}

/// A circle's roster, folded from real signed events, with its log exactly as signed.
#[derive(Debug, Clone)]
pub struct Circle {
    pub roster: Roster,
    pub log: Vec<Envelope>,
    /// Seconds after [`T0`] of the head event.
    pub clock: i64,
    next_token: u8,
}

impl Circle {
    /// Founds a circle: `maintainers[0]` sequences and signs genesis at `T0`.
    pub fn found(
        name: &str,
        maintainers: &[&Identity],
        members: &[&Identity],
        policy: Policy,
    ) -> Circle {
        let card = |i: &Identity| {
            let url = format!("https://{}.example.net:8443", i.member_id().as_str());
            i.signed_card(Some(&url), at(-3_600)).unwrap()
        };
        let genesis = RosterEvent::genesis(
            at(0),
            Genesis {
                name: name.into(),
                maintainers: maintainers.iter().map(|i| card(i)).collect(),
                members: members.iter().map(|i| card(i)).collect(),
                policy,
                charter: "Share postmortems in confidence.".into(),
                publication_keys: Vec::new(),
                sequencer: maintainers[0].member_id(),
            },
        );
        let env = genesis.sign(maintainers[0]).unwrap();
        let mut b = RosterBuilder::new(Some(at(0)));
        b.append(&env).unwrap();
        Circle {
            roster: b.finish().unwrap(),
            log: vec![env],
            clock: 0,
            next_token: 1,
        }
    }

    /// The standard circle of the stories: Acme (sequencer) and Bravo maintain, Charlie and
    /// Delta are members; default policy (2 vouches, quorum 2).
    pub fn standard(cast: &Cast) -> Circle {
        Circle::found(
            "Payments resilience",
            &[&cast.acme, &cast.bravo],
            &[&cast.charlie, &cast.delta],
            Policy::default(),
        )
    }

    /// The next event signed by `sequencer`, dated one minute after the head.
    pub fn event(&self, sequencer: &dyn Signer, body: EventBody) -> Envelope {
        self.event_at(sequencer, body, self.clock + 60)
    }

    /// The next event signed by `sequencer`, dated `offset` seconds after `T0`.
    pub fn event_at(&self, sequencer: &dyn Signer, body: EventBody, offset: i64) -> Envelope {
        self.roster
            .next_event(at(offset), body)
            .sign(sequencer)
            .unwrap()
    }

    /// Appends an event that must be accepted.
    pub fn push(&mut self, env: Envelope) {
        let mut b = RosterBuilder::resume(self.roster.clone(), None);
        b.append(&env).unwrap();
        self.roster = b.finish().unwrap();
        self.clock = self.roster.head_at().unix() - T0;
        self.log.push(env);
    }

    /// Offers an event to a node holding this roster whose clock reads `now`. Asserts that a
    /// refusal left the roster exactly as it was (nothing accepted), and returns the refusal.
    pub fn offer(&self, env: &Envelope, now: Timestamp) -> Result<(), RosterError> {
        let before = self.roster.head();
        let mut b = RosterBuilder::resume(self.roster.clone(), Some(now));
        match b.append(env) {
            Ok(_) => Ok(()),
            Err(e) => {
                assert_eq!(
                    b.roster().map(|r| r.head()),
                    Some(before),
                    "a refused event changed the roster"
                );
                Err(e)
            }
        }
    }

    /// Offers `env` with the node's clock at the head's time plus an hour and expects `err`
    /// with `rule`; nothing is accepted.
    pub fn refuses(&self, env: &Envelope, err: RosterError, rule: &str) {
        let got = self
            .offer(env, at(self.clock + 3_600))
            .expect_err("the attack was accepted");
        assert_eq!(got, err);
        assert_eq!(got.rule(), rule, "{got}");
    }

    /// An invite by maintainer `by` and the token it carries.
    pub fn invite(&mut self, by: &Identity) -> (InviteToken, Envelope) {
        let token = InviteToken::from_bytes([self.next_token; 32]);
        self.next_token += 1;
        let invite = self
            .roster
            .invite(
                &by.member_id(),
                format!("https://{}.example.net:8443", by.member_id().as_str()),
                by.tls_spki_pin(),
                &token,
                at(self.clock + 14 * 86_400),
            )
            .sign(by)
            .unwrap();
        (token, invite)
    }

    /// The candidate's join request answering an invite with `token`.
    pub fn join_request(&self, candidate: &Identity, token: &InviteToken) -> Envelope {
        JoinRequest {
            circle: self.roster.circle_id(),
            card: candidate
                .signed_card(Some("https://candidate.example.net:8443"), at(self.clock))
                .unwrap(),
            charter_sha256: self.roster.charter_sha256(),
            invite_token: token.to_hex(),
            rotations: Vec::new(),
        }
        .sign(candidate)
        .unwrap()
    }

    /// A vouch by `sponsor` for `subject`, issued at the head's time, valid a week.
    pub fn vouch(&self, sponsor: &Identity, subject: EnvelopeId) -> Envelope {
        self.roster
            .vouch(
                &sponsor.member_id(),
                subject,
                at(self.clock),
                at(self.clock + 7 * 86_400),
                "we ran incidents together".into(),
            )
            .sign(sponsor)
            .unwrap()
    }

    /// The admit event for `candidate`, invited by `by`, vouched by `sponsors`, signed by
    /// `sequencer`.
    pub fn admit_event(
        &mut self,
        sequencer: &Identity,
        by: &Identity,
        candidate: &Identity,
        sponsors: &[&Identity],
    ) -> Envelope {
        let (token, invite) = self.invite(by);
        let join_request = self.join_request(candidate, &token);
        let vouches = sponsors
            .iter()
            .map(|s| self.vouch(s, join_request.id()))
            .collect();
        self.event(
            sequencer,
            EventBody::Admit {
                invite,
                join_request,
                vouches,
            },
        )
    }

    /// A member request by `member` with its next counter, valid for a day.
    pub fn request(&self, member: &Identity, change: MemberChange) -> Envelope {
        self.roster
            .member_request(&member.member_id(), change, at(self.clock + 86_400))
            .sign(member)
            .unwrap()
    }

    /// A quorum proposal against the head, valid for a day, signed by each of `signers`.
    pub fn proposal(&self, action: QuorumAction, signers: &[&dyn Signer]) -> Envelope {
        let mut env = self
            .roster
            .propose(action, at(self.clock + 86_400))
            .sign(signers[0])
            .unwrap();
        for s in &signers[1..] {
            cosign(&mut env, *s).unwrap();
        }
        env
    }

    /// The event body that carries a quorum proposal (an empty chain tip where one is needed).
    pub fn quorum_body(proposal: Envelope, action: &QuorumAction) -> EventBody {
        match action {
            QuorumAction::Remove { .. } => EventBody::Remove {
                proposal,
                chain_tip: TipStatement::EMPTY,
            },
            QuorumAction::SetRole { .. } => EventBody::SetRole { proposal },
            QuorumAction::ChangePolicy { .. } => EventBody::ChangePolicy { proposal },
            QuorumAction::SetSequencer { .. } => EventBody::SetSequencer { proposal },
            QuorumAction::ReplaceKeys { .. } => EventBody::ReplaceKeys {
                proposal,
                chain_tip: TipStatement::EMPTY,
                vouches: Vec::new(),
            },
        }
    }
}

/// An author's position in its chain: the next seq and the previous link.
#[derive(Debug, Clone, Copy)]
pub struct ChainPos {
    pub seq: u64,
    pub prev: Option<EnvelopeId>,
}

impl ChainPos {
    pub const FIRST: ChainPos = ChainPos { seq: 1, prev: None };

    /// The position after `bundle`.
    pub fn after(bundle: &BundleObject) -> ChainPos {
        let link: Value = bundle.link().unverified_payload().unwrap();
        ChainPos {
            seq: link["author_seq"].as_u64().unwrap() + 1,
            prev: Some(bundle.link().id()),
        }
    }
}

/// What a member shares; `seal` applies every rule a receiver will.
#[derive(Debug)]
pub struct Share<'a> {
    pub author: &'a Identity,
    pub pos: ChainPos,
    pub kind: BundleKind,
    pub tlp: Tlp,
    pub named: Vec<MemberId>,
    pub target: Option<&'a TargetInfo>,
    pub bundle_id: BundleId,
    pub body: BundleBody,
}

impl<'a> Share<'a> {
    /// A first report, circle-wide AMBER.
    pub fn report(author: &'a Identity, title: &str) -> Share<'a> {
        Share {
            author,
            pos: ChainPos::FIRST,
            kind: BundleKind::Report,
            tlp: Tlp::Amber,
            named: Vec::new(),
            target: None,
            bundle_id: BundleId(Sha256Id::of(title)),
            body: BundleBody::Report(serde_json::json!({ "title": title })),
        }
    }

    /// RED to `named` (the author is added).
    pub fn red(mut self, named: &[&Identity]) -> Share<'a> {
        self.tlp = Tlp::Red;
        self.named = named.iter().map(|i| i.member_id()).collect();
        self
    }

    pub fn at(mut self, pos: ChainPos) -> Share<'a> {
        self.pos = pos;
        self
    }

    /// A `kind` (comment, retraction, revision, reshare) acting on `target`, with text.
    pub fn acting_on(mut self, kind: BundleKind, target: &'a TargetInfo, text: &str) -> Share<'a> {
        self.kind = kind;
        self.target = Some(target);
        if matches!(kind, BundleKind::Revision | BundleKind::Reshare) {
            self.bundle_id = target.bundle;
        }
        if !kind.carries_report() {
            self.body = BundleBody::Text(text.into());
        }
        self
    }

    /// Seals against `roster` at `now` (the roster confirmed fresh at `now`).
    pub fn seal(
        self,
        roster: &dyn RosterHistory,
        now: Timestamp,
    ) -> Result<BundleObject, BundleError> {
        seal(SealRequest {
            roster,
            roster_fresh_as_of: now,
            max_roster_age_secs: 86_400,
            author: self.author.member_id(),
            signer: self.author,
            author_seq: self.pos.seq,
            prev_link: self.pos.prev,
            bundle_id: self.bundle_id,
            kind: self.kind,
            target: self.target,
            tlp: self.tlp,
            named: self.named,
            body: self.body,
            now,
        })
    }
}

/// A report by `author` with a real report body (a node parses what it stores, so bundles
/// offered to a real node carry a full report), its bundle id derived from `title`.
pub fn node_report<'a>(author: &'a Identity, title: &str) -> Share<'a> {
    let source = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/valid/book-2017-leap-second-dns.md"),
    )
    .unwrap();
    let mut share = Share::report(author, title);
    share.body =
        debrief_node::sharing::report_body(&debrief_protocol::report::parse(&source).unwrap())
            .unwrap();
    share
}

/// A 16-byte bundle id derived from a title, so each story's bundles differ.
struct Sha256Id;

impl Sha256Id {
    fn of(text: &str) -> [u8; 16] {
        let d = debrief_protocol::Sha256Digest::of(text.as_bytes());
        let mut out = [0u8; 16];
        out.copy_from_slice(&d.0[..16]);
        out
    }
}

/// `reader` opens `bundle` at `now` against `roster` with its own age identities.
pub fn open_as(
    bundle: &BundleObject,
    roster: &dyn RosterHistory,
    reader: &Identity,
    now: Timestamp,
) -> Result<(), BundleError> {
    open(
        bundle,
        roster,
        &reader.member_id(),
        &reader.age_identities(),
        now,
    )
    .map(|_| ())
}

/// Asserts the exact refusal and its rule.
pub fn assert_refused(got: Result<(), BundleError>, err: BundleError, rule: &str) {
    let got = got.expect_err("the attack was accepted");
    assert_eq!(got, err);
    assert_eq!(got.rule(), rule, "{got}");
}

/// The decrypted inner envelope of `bundle`, as `reader` (a recipient) sees it.
pub fn inner_of(bundle: &BundleObject, reader: &Identity) -> Envelope {
    let identity = reader.age_identity();
    let decryptor = age::Decryptor::new_buffered(bundle.ciphertext()).unwrap();
    let mut reader = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .unwrap();
    let mut plaintext = Vec::new();
    reader.read_to_end(&mut plaintext).unwrap();
    Envelope::from_json(&plaintext).unwrap()
}

/// age-encrypts `plaintext` to the `age1…` recipients given, in memory.
pub fn encrypt_to(recipients: &[String], plaintext: &[u8]) -> Vec<u8> {
    let keys: Vec<age::x25519::Recipient> = recipients.iter().map(|r| r.parse().unwrap()).collect();
    let encryptor =
        age::Encryptor::with_recipients(keys.iter().map(|k| k as &dyn age::Recipient)).unwrap();
    let mut out = Vec::new();
    let mut w = encryptor.wrap_output(&mut out).unwrap();
    w.write_all(plaintext).unwrap();
    w.finish().unwrap();
    out
}

/// The `age1…` recipients a header lists.
pub fn listed_recipients(bundle: &BundleObject) -> Vec<String> {
    header_json(bundle)["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| pair[1].as_str().unwrap().to_owned())
        .collect()
}

/// The header payload as JSON, for an attacker to edit.
pub fn header_json(bundle: &BundleObject) -> Value {
    bundle.header().unverified_payload().unwrap()
}

/// The link payload as JSON.
pub fn link_json(bundle: &BundleObject) -> Value {
    bundle.link().unverified_payload().unwrap()
}

/// Signs `payload` (canonical JSON) under `payload_type` with `signer`.
pub fn sign_json(payload: &Value, payload_type: PayloadType, signer: &dyn Signer) -> Envelope {
    Envelope::sign(payload, payload_type, signer).unwrap()
}

/// Rebuilds a bundle from an edited header payload and a ciphertext, signing the header with
/// `signer` and a fresh link (same author, seq, prev and audience) over the new header id: what
/// an author, or someone holding its key, can produce.
pub fn forge_bundle(
    bundle: &BundleObject,
    mut header: Value,
    ciphertext: Vec<u8>,
    signer: &dyn Signer,
) -> BundleObject {
    header["ciphertext_sha256"] =
        Value::String(debrief_protocol::Sha256Digest::of(&ciphertext).to_hex());
    header["ciphertext_len"] = Value::from(ciphertext.len() as u64);
    let header_env = sign_json(&header, PayloadType::BundleHeader, signer);
    let mut link = link_json(bundle);
    link["header"] = Value::String(header_env.id().to_hex());
    for field in ["author", "author_seq", "circle"] {
        link[field] = header[field].clone();
    }
    let link_env = sign_json(&link, PayloadType::ChainLink, signer);
    BundleObject::new(link_env, header_env, ciphertext)
}

/// Replaces the link of `bundle` with `link` signed by `signer`.
pub fn with_link(bundle: &BundleObject, link: &Value, signer: &dyn Signer) -> BundleObject {
    BundleObject::new(
        sign_json(link, PayloadType::ChainLink, signer),
        bundle.header().clone(),
        bundle.ciphertext().to_vec(),
    )
}

/// The same payload bytes presented under another payload type, with the original signatures:
/// the cross-type replay an attacker tries.
pub fn relabel(env: &Envelope, payload_type: PayloadType) -> Envelope {
    Envelope::from_parts(
        payload_type.media_type(),
        env.payload().to_vec(),
        env.signatures().to_vec(),
    )
}

/// The envelope with its payload replaced by `payload` bytes, keeping the old signatures.
pub fn with_payload(env: &Envelope, payload: Vec<u8>) -> Envelope {
    Envelope::from_parts(
        env.payload_type().to_owned(),
        payload,
        env.signatures().to_vec(),
    )
}

/// The envelope with its signature bytes replaced.
pub fn with_sig(env: &Envelope, sig: [u8; 64]) -> Envelope {
    let keyid = env.signatures()[0].keyid;
    Envelope::from_parts(
        env.payload_type().to_owned(),
        env.payload().to_vec(),
        vec![EnvelopeSignature { keyid, sig }],
    )
}

/// The order ℓ of the Ed25519 base point, little-endian.
pub const GROUP_ORDER: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
];

/// The malleated twin of a valid signature: `S + ℓ` instead of `S`. The same point equation
/// holds, so only a strict verifier (which requires `S < ℓ`) refuses it.
pub fn malleate(sig: [u8; 64]) -> [u8; 64] {
    let mut out = sig;
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(sig[32 + i]) + u16::from(GROUP_ORDER[i]) + carry;
        out[32 + i] = (sum & 0xff) as u8;
        carry = sum >> 8;
    }
    out
}

/// A canonical JSON re-encoding of `value` (what an honest signer emits).
pub fn canonical_bytes(value: &Value) -> Vec<u8> {
    canonical::to_canonical_vec(value).unwrap()
}
