//! Shared fixture for the roster tests: fixed keys (`SigningKey::from_bytes(&[n; 32])`), fixed
//! times, and a small circle built event by event through the public API.
//!
//! Age recipients are the bech32 encoding (`age1…`) of the 32 bytes `[n; 32]`: valid X25519
//! public keys whose secret nobody holds, which is all the roster rules need (they never
//! decrypt). They were computed once and are listed in `RECIPIENTS`.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;

use debrief_protocol::envelope::{Envelope, PublicKey, Signer};
use debrief_protocol::identity::{IdentityCard, tls_spki_pin};
use debrief_protocol::ids::MemberId;
use debrief_protocol::membership::RosterHistory;
use debrief_protocol::profile::{Industry, OrgProfile, Region, SizeBand};
use debrief_protocol::roster::{
    EventBody, Genesis, InviteToken, JoinRequest, MemberChange, Policy, PublicationKey,
    QuorumAction, Roster, RosterBuilder, TipStatement, cosign,
};
use debrief_protocol::timestamp::Timestamp;
use ed25519_dalek::SigningKey;

/// `age1…` of `[n; 32]` for n = 1..=24.
pub const RECIPIENTS: [&str; 24] = [
    "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq",
    "age1qgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpquuzgag",
    "age1qvpsxqcrqvpsxqcrqvpsxqcrqvpsxqcrqvpsxqcrqvpsxqcrqvpsewmjt2",
    "age1qszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgz4v0d",
    "age1q5zs2pg9q5zs2pg9q5zs2pg9q5zs2pg9q5zs2pg9q5zs2pg9q5zsdsvke0",
    "age1qcrqvpsxqcrqvpsxqcrqvpsxqcrqvpsxqcrqvpsxqcrqvpsxqcrqqxt3v8",
    "age1qurswpc8qurswpc8qurswpc8qurswpc8qurswpc8qurswpc8qurs95jt69",
    "age1pqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqa5xyql",
    "age1pyysjzgfpyysjzgfpyysjzgfpyysjzgfpyysjzgfpyysjzgfpyyscxl7ka",
    "age1pg9q5zs2pg9q5zs2pg9q5zs2pg9q5zs2pg9q5zs2pg9q5zs2pg9q4scer4",
    "age1pv9skzctpv9skzctpv9skzctpv9skzctpv9skzctpv9skzctpv9sszpr4h",
    "age1psxqcrqvpsxqcrqvpsxqcrqvpsxqcrqvpsxqcrqvpsxqcrqvpsxqpw0a3s",
    "age1p5xs6rgdp5xs6rgdp5xs6rgdp5xs6rgdp5xs6rgdp5xs6rgdp5xsyuk88j",
    "age1pc8qurswpc8qurswpc8qurswpc8qurswpc8qurswpc8qurswpc8qf23qj6",
    "age1pu8s7rc0pu8s7rc0pu8s7rc0pu8s7rc0pu8s7rc0pu8s7rc0pu8svcg6yc",
    "age1zqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgq2lfzzw",
    "age1zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygs0dsc5v",
    "age1zgfpyysjzgfpyysjzgfpyysjzgfpyysjzgfpyysjzgfpyysjzgfqzmhlpy",
    "age1zvf3xycnzvf3xycnzvf3xycnzvf3xycnzvf3xycnzvf3xycnzvfs8fw9hx",
    "age1zs2pg9q5zs2pg9q5zs2pg9q5zs2pg9q5zs2pg9q5zs2pg9q5zs2qk9qmnp",
    "age1z52329g4z52329g4z52329g4z52329g4z52329g4z52329g4z52snhep9r",
    "age1zctpv9skzctpv9skzctpv9skzctpv9skzctpv9skzctpv9skzctq7p7xst",
    "age1zut3w9chzut3w9chzut3w9chzut3w9chzut3w9chzut3w9chzutsmn8uxf",
    "age1rqvpsxqcrqvpsxqcrqvpsxqcrqvpsxqcrqvpsxqcrqvpsxqcrqvqrnnnun",
];

/// 2026-11-25T00:00:00Z.
pub const T0: i64 = 1_795_564_800;
/// The charter of the fixture circle.
pub const CHARTER: &str = "Share postmortems in confidence; publish only what the circle approves.";

pub fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

pub fn id(n: u8) -> MemberId {
    key(n).public_key().member_id()
}

pub fn t(offset_secs: i64) -> Timestamp {
    Timestamp::from_unix(T0 + offset_secs)
}

pub fn recipient(n: u8) -> String {
    RECIPIENTS[usize::from(n - 1) % RECIPIENTS.len()].to_owned()
}

/// An identity card for seed `n` (current key = first key) signed by its key.
pub fn card(n: u8, org: &str) -> Envelope {
    card_with_key(n, n, org)
}

/// A card whose identity was created with seed `first` and whose current key is seed `current`.
pub fn card_with_key(first: u8, current: u8, org: &str) -> Envelope {
    let c = IdentityCard {
        member: key(first).public_key().member_id(),
        org: org.into(),
        profile: OrgProfile {
            industry: Industry::Saas,
            size_band: SizeBand::M,
            region: Region::Europe,
        },
        first_signing_key: key(first).public_key(),
        signing_key: key(current).public_key(),
        enc_recipient: recipient(current),
        tls_spki_sha256: tls_spki_pin(&[current; 32]),
        endpoint: Some(format!("https://node{first}.example.net:8443")),
        created_at: t(-86_400),
    };
    c.sign(&key(current)).unwrap()
}

/// A circle built through the public API, with the current key of every member it knows.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub roster: Roster,
    pub log: Vec<Envelope>,
    pub keys: BTreeMap<MemberId, SigningKey>,
    /// Seconds after T0 of the last event.
    pub clock: i64,
    next_token: u8,
}

impl Fixture {
    /// Genesis at T0: maintainers 1 "Alpha Corp" (sequencer) and 2 "Bravo Ltd", founding
    /// member 3 "Charlie Inc", default policy (2 vouches, quorum 2).
    pub fn genesis() -> Fixture {
        Fixture::genesis_with(Policy::default())
    }

    pub fn genesis_with(policy: Policy) -> Fixture {
        let genesis = Genesis {
            name: "Fixture circle".into(),
            maintainers: vec![card(1, "Alpha Corp"), card(2, "Bravo Ltd")],
            members: vec![card(3, "Charlie Inc")],
            policy,
            charter: CHARTER.into(),
            publication_keys: vec![
                PublicationKey {
                    member: id(1),
                    key: key(101).public_key(),
                },
                PublicationKey {
                    member: id(2),
                    key: key(102).public_key(),
                },
            ],
            sequencer: id(1),
        };
        let env = debrief_protocol::roster::RosterEvent::genesis(t(0), genesis)
            .sign(&key(1))
            .unwrap();
        let mut b = RosterBuilder::new(Some(t(0)));
        b.append(&env).unwrap();
        let roster = b.finish().unwrap();
        let keys = [1u8, 2, 3].into_iter().map(|n| (id(n), key(n))).collect();
        Fixture {
            roster,
            log: vec![env],
            keys,
            clock: 0,
            next_token: 1,
        }
    }

    pub fn key_of(&self, n: u8) -> SigningKey {
        self.keys.get(&id(n)).cloned().unwrap_or_else(|| key(n))
    }

    fn sequencer_key(&self) -> SigningKey {
        self.keys[self.roster.sequencer()].clone()
    }

    /// Signs `body` as the next event, one minute after the last, by the current sequencer.
    pub fn event(&self, body: EventBody) -> Envelope {
        self.event_at(body, self.clock + 60)
    }

    pub fn event_at(&self, body: EventBody, at: i64) -> Envelope {
        self.roster
            .next_event(t(at), body)
            .sign(&self.sequencer_key())
            .unwrap()
    }

    /// Appends an event (panics if refused: for building valid logs).
    pub fn push(&mut self, env: Envelope) {
        let mut b = RosterBuilder::resume(self.roster.clone(), None);
        b.append(&env).unwrap();
        self.roster = b.finish().unwrap();
        let seq = self.roster.head_seq();
        self.clock = self.roster.head_at().unix() - T0;
        assert_eq!(self.roster.event_id_at(seq), Some(env.id()));
        self.log.push(env);
    }

    /// Tries to append; the fixture is unchanged either way.
    pub fn try_push(
        &self,
        env: &Envelope,
    ) -> Result<Roster, debrief_protocol::roster::RosterError> {
        let mut b = RosterBuilder::resume(self.roster.clone(), None);
        b.append(env)?;
        b.finish()
    }

    /// An invite by maintainer `by` and a join request for seed `n`.
    pub fn join(&mut self, by: u8, n: u8, org: &str) -> (Envelope, Envelope) {
        let token = InviteToken::from_bytes([self.next_token; 32]);
        self.next_token += 1;
        let invite = self
            .roster
            .invite(
                &id(by),
                format!("https://node{by}.example.net:8443"),
                tls_spki_pin(&[by; 32]),
                &token,
                t(self.clock + 14 * 86_400),
            )
            .sign(&self.key_of(by))
            .unwrap();
        let jr = JoinRequest {
            circle: self.roster.circle_id(),
            card: card(n, org),
            charter_sha256: self.roster.charter_sha256(),
            invite_token: token.to_hex(),
            rotations: Vec::new(),
        }
        .sign(&key(n))
        .unwrap();
        (invite, jr)
    }

    /// A vouch by member `by` (its current key) for `subject`, valid for 7 days from now.
    pub fn vouch(&self, by: u8, subject: debrief_protocol::ids::EnvelopeId) -> Envelope {
        self.roster
            .vouch(
                &id(by),
                subject,
                t(self.clock),
                t(self.clock + 7 * 86_400),
                "we worked with them".into(),
            )
            .sign(&self.key_of(by))
            .unwrap()
    }

    /// The admit event for seed `n`, invited by `by`, vouched by `sponsors`.
    pub fn admit_event(&mut self, by: u8, n: u8, org: &str, sponsors: &[u8]) -> Envelope {
        let (invite, join_request) = self.join(by, n, org);
        let vouches = sponsors
            .iter()
            .map(|s| self.vouch(*s, join_request.id()))
            .collect();
        self.event(EventBody::Admit {
            invite,
            join_request,
            vouches,
        })
    }

    pub fn admit(&mut self, by: u8, n: u8, org: &str, sponsors: &[u8]) {
        let env = self.admit_event(by, n, org, sponsors);
        self.push(env);
        self.keys.insert(id(n), key(n));
    }

    /// A member request by seed `n` with the next counter, valid for a day.
    pub fn request(&self, n: u8, change: MemberChange) -> Envelope {
        let req = self
            .roster
            .member_request(&id(n), change, t(self.clock + 86_400));
        match &req.change {
            MemberChange::RotateSigningKey { new_key, .. } => {
                let new = [key(14), key(24), key(34), key(44), key(21), key(22)]
                    .into_iter()
                    .find(|k| k.public_key() == *new_key)
                    .unwrap();
                req.sign_rotation(&self.key_of(n), &new).unwrap()
            }
            _ => req.sign(&self.key_of(n)).unwrap(),
        }
    }

    pub fn member_event(&self, n: u8, change: MemberChange) -> Envelope {
        let request = self.request(n, change.clone());
        self.event(EventBody::for_member_request(&change, request))
    }

    /// A proposal for `action`, signed by maintainers `signers` (current keys), valid a day.
    pub fn proposal(&self, action: QuorumAction, signers: &[u8]) -> Envelope {
        let p = self.roster.propose(action, t(self.clock + 86_400));
        let mut env = p.sign(&self.key_of(signers[0])).unwrap();
        for s in &signers[1..] {
            cosign(&mut env, &self.key_of(*s)).unwrap();
        }
        env
    }

    pub fn quorum_body(&self, action: QuorumAction, signers: &[u8]) -> EventBody {
        let proposal = self.proposal(action.clone(), signers);
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

pub fn new_key_pub(seed: u8) -> PublicKey {
    key(seed).public_key()
}

/// The standard log (13 events) used by the vectors and the property tests:
///
/// | seq | event |
/// |---|---|
/// | 0 | genesis: maintainers 1 Alpha (sequencer), 2 Bravo; member 3 Charlie |
/// | 1 | admit 4 Delta, vouched by 2 and 3 |
/// | 2 | set_endpoint by 4 |
/// | 3 | set_deny_terms by 3 |
/// | 4 | rotate_signing_key by 4 (seed 4 → 14), tip (3, link) |
/// | 5 | set_role 4 maintainer (quorum 1, 2) |
/// | 6 | admit 5 Echo, vouched by 3 and 4 |
/// | 7 | change_policy vouches 1 (quorum 1, 4) |
/// | 8 | remove 5 (quorum 1, 2, 4), tip (0) |
/// | 9 | leave by 3, tip (2, link) |
/// | 10 | set_sequencer 2 (quorum 1, 2) |
/// | 11 | set_enc_key by 4 (sequenced by 2) |
/// | 12 | replace_keys of 1 (seed 1 → 21), vouched by 4; quorum 2, 4 |
pub fn standard_log() -> Fixture {
    use debrief_protocol::ids::{EnvelopeId, Sha256Digest};
    let mut f = Fixture::genesis();
    f.admit(1, 4, "Delta GmbH", &[2, 3]);
    let e = f.member_event(
        4,
        MemberChange::SetEndpoint {
            endpoint: Some("https://delta.example.net:9443".into()),
            tls_spki_sha256: tls_spki_pin(&[40; 32]),
        },
    );
    f.push(e);
    let e = f.member_event(
        3,
        MemberChange::SetDenyTerms {
            terms: vec!["charliecloud".into(), "charlie.example".into()],
        },
    );
    f.push(e);
    let link = EnvelopeId(Sha256Digest::of(b"delta link 3"));
    let e = f.member_event(
        4,
        MemberChange::RotateSigningKey {
            new_key: key(14).public_key(),
            chain_tip: TipStatement {
                seq: 3,
                link: Some(link),
            },
        },
    );
    f.push(e);
    f.keys.insert(id(4), key(14));
    let b = f.quorum_body(
        QuorumAction::SetRole {
            member: id(4),
            maintainer: true,
        },
        &[1, 2],
    );
    let e = f.event(b);
    f.push(e);
    f.admit(4, 5, "Echo AB", &[3, 4]);
    let b = f.quorum_body(
        QuorumAction::ChangePolicy {
            policy: Policy {
                vouches: 1,
                ..Policy::default()
            },
        },
        &[1, 4],
    );
    let e = f.event(b);
    f.push(e);
    let b = f.quorum_body(
        QuorumAction::Remove {
            member: id(5),
            reason: "left the industry".into(),
        },
        &[1, 2, 4],
    );
    let e = f.event(b);
    f.push(e);
    let e = f.member_event(
        3,
        MemberChange::Leave {
            chain_tip: TipStatement {
                seq: 2,
                link: Some(EnvelopeId(Sha256Digest::of(b"charlie link 2"))),
            },
        },
    );
    f.push(e);
    let b = f.quorum_body(
        QuorumAction::SetSequencer {
            member: id(2),
            resolves: None,
        },
        &[1, 2],
    );
    let e = f.event(b);
    f.push(e);
    let e = f.member_event(
        4,
        MemberChange::SetEncKey {
            enc_recipient: recipient(14),
        },
    );
    f.push(e);
    let new_card = card_with_key(1, 21, "Alpha Corp");
    let proposal = f.proposal(
        QuorumAction::ReplaceKeys {
            member: id(1),
            card: new_card.clone(),
        },
        &[2, 4],
    );
    let vouches = vec![f.vouch(4, new_card.id())];
    let e = f.event(EventBody::ReplaceKeys {
        proposal,
        chain_tip: TipStatement {
            seq: 7,
            link: Some(EnvelopeId(Sha256Digest::of(b"alpha link 7"))),
        },
        vouches,
    });
    f.push(e);
    f.keys.insert(id(1), key(21));
    f
}
