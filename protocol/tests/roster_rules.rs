//! One table of cases per numbered rule of protocol.md §2: each case breaks the rule and
//! asserts the exact error.
#![allow(clippy::unwrap_used)]

mod roster_support;

use debrief_protocol::Signer;
use debrief_protocol::envelope::{Envelope, EnvelopeError, PayloadType};
use debrief_protocol::identity::tls_spki_pin;
use debrief_protocol::ids::{EnvelopeId, Sha256Digest};
use debrief_protocol::membership::RosterHistory;
use debrief_protocol::roster::{
    EventBody, Genesis, InviteToken, JoinRequest, MemberChange, Policy, QuorumAction,
    RosterBuilder, RosterError, RosterEvent, TipStatement, fold,
};
use roster_support::*;

fn other_id() -> EnvelopeId {
    EnvelopeId(Sha256Digest::of(b"elsewhere"))
}

/// The fixture after admitting 4 (so there are 4 members, 3 companies besides the candidate).
fn with_delta() -> Fixture {
    let mut f = Fixture::genesis();
    f.admit(1, 4, "Delta GmbH", &[2, 3]);
    f
}

fn refused(f: &Fixture, env: &Envelope) -> RosterError {
    f.try_push(env).unwrap_err()
}

#[test]
fn rule_2_1_payload_types_and_kinds() {
    let f = Fixture::genesis();
    // An event signed under another payload type.
    let ev = f.roster.next_event(
        t(60),
        EventBody::SetRole {
            proposal: f.proposal(
                QuorumAction::SetRole {
                    member: id(3),
                    maintainer: true,
                },
                &[1, 2],
            ),
        },
    );
    let wrong = Envelope::sign(&ev, PayloadType::Checkpoint, &key(1)).unwrap();
    assert_eq!(
        refused(&f, &wrong),
        RosterError::Envelope {
            seq: 1,
            object: "roster event".into(),
            source: EnvelopeError::WrongPayloadType {
                expected: PayloadType::RosterEvent,
                found: PayloadType::Checkpoint.media_type(),
            },
        }
    );
    // An event kind that does not match the embedded request.
    let request = f.request(
        3,
        MemberChange::Leave {
            chain_tip: TipStatement::EMPTY,
        },
    );
    let env = f.event(EventBody::SetEndpoint { request });
    let err = refused(&f, &env);
    assert_eq!(err.rule(), "§2.1");
    assert_eq!(
        err.to_string(),
        "§2.1 roster event 1 is a set_endpoint event but embeds a leave request"
    );
    // A quorum event embedding another action.
    let proposal = f.proposal(
        QuorumAction::SetRole {
            member: id(3),
            maintainer: true,
        },
        &[1, 2],
    );
    let env = f.event(EventBody::ChangePolicy { proposal });
    assert_eq!(
        refused(&f, &env),
        RosterError::KindMismatch {
            seq: 1,
            kind: "change_policy",
            found: "a set_role proposal".into()
        }
    );
    // A forged identity card in a join request.
    let mut g = Fixture::genesis();
    let (invite, _) = g.join(1, 4, "Delta GmbH");
    let mut forged = card(4, "Delta GmbH");
    forged = Envelope::from_parts(
        forged.payload_type().to_owned(),
        forged.payload().to_vec(),
        card(5, "Echo").signatures().to_vec(),
    );
    let jr = JoinRequest {
        circle: g.roster.circle_id(),
        card: forged,
        charter_sha256: g.roster.charter_sha256(),
        invite_token: InviteToken::from_bytes([1; 32]).to_hex(),
        rotations: Vec::new(),
    }
    .sign(&key(4))
    .unwrap();
    let env = g.event(EventBody::Admit {
        invite,
        join_request: jr,
        vouches: vec![],
    });
    let err = refused(&g, &env);
    assert!(matches!(err, RosterError::Identity { seq: 1, .. }), "{err}");
    assert_eq!(err.rule(), "§2.1");
}

#[test]
fn rule_2_2_policy_floors() {
    let f = Fixture::genesis();
    let body = f.quorum_body(
        QuorumAction::ChangePolicy {
            policy: Policy {
                vouches: 0,
                ..Policy::default()
            },
        },
        &[1, 2],
    );
    assert_eq!(
        refused(&f, &f.event(body)),
        RosterError::PolicyFloor {
            seq: 1,
            field: "vouches",
            message: "must be at least 1".into()
        }
    );
    let body = f.quorum_body(
        QuorumAction::ChangePolicy {
            policy: Policy {
                maintainer_quorum: 0,
                ..Policy::default()
            },
        },
        &[1, 2],
    );
    assert_eq!(
        refused(&f, &f.event(body)),
        RosterError::PolicyFloor {
            seq: 1,
            field: "maintainer_quorum",
            message: "must be at least 1".into()
        }
    );
    // At genesis too.
    let g = genesis_event(Genesis {
        policy: Policy {
            vouches: 0,
            ..Policy::default()
        },
        ..genesis_body()
    });
    assert_eq!(
        fold(&[g], None).unwrap_err(),
        RosterError::PolicyFloor {
            seq: 0,
            field: "vouches",
            message: "must be at least 1".into()
        }
    );
}

fn genesis_body() -> Genesis {
    Genesis {
        name: "G".into(),
        maintainers: vec![card(1, "Alpha Corp")],
        members: vec![],
        policy: Policy::default(),
        charter: CHARTER.into(),
        publication_keys: vec![],
        sequencer: id(1),
    }
}

fn genesis_event(g: Genesis) -> Envelope {
    RosterEvent::genesis(t(0), g).sign(&key(1)).unwrap()
}

#[test]
fn rule_2_3_genesis() {
    assert_eq!(fold(&[], None).unwrap_err(), RosterError::EmptyLog);
    let cases: Vec<(Genesis, &str)> = vec![
        (
            Genesis {
                sequencer: id(2),
                ..genesis_body()
            },
            "§2.3 genesis refused: the sequencer db1",
        ),
        (
            Genesis {
                maintainers: vec![],
                ..genesis_body()
            },
            "§2.3 genesis refused: at least one founding maintainer is needed",
        ),
        (
            Genesis {
                charter: " ".into(),
                ..genesis_body()
            },
            "§2.3 genesis refused: the charter text is empty",
        ),
        (
            Genesis {
                publication_keys: vec![debrief_protocol::roster::PublicationKey {
                    member: id(9),
                    key: key(9).public_key(),
                }],
                ..genesis_body()
            },
            "§2.3 genesis refused: publication key of db1",
        ),
    ];
    for (g, want) in cases {
        let err = fold(&[genesis_event(g)], None).unwrap_err();
        assert_eq!(err.rule(), "§2.3");
        assert!(err.to_string().starts_with(want), "{err}");
    }
    // The first event must be a genesis event.
    let f = Fixture::genesis();
    let not_genesis = f.event(f.quorum_body(
        QuorumAction::SetRole {
            member: id(3),
            maintainer: true,
        },
        &[1, 2],
    ));
    let mut ev: RosterEvent = not_genesis.unverified_payload().unwrap();
    ev.seq = 0;
    ev.prev = None;
    ev.circle = None;
    let err = fold(&[ev.sign(&key(1)).unwrap()], None).unwrap_err();
    assert_eq!(
        err,
        RosterError::Genesis {
            reason: "the first event must be genesis, got set_role".into()
        }
    );
    // A second genesis.
    let g2 = f.event(EventBody::Genesis(Box::new(genesis_body())));
    assert_eq!(
        refused(&f, &g2),
        RosterError::Genesis {
            reason: "a second genesis at seq 1".into()
        }
    );
}

#[test]
fn rule_2_4_chain_and_circle() {
    let f = Fixture::genesis();
    let body = || {
        f.quorum_body(
            QuorumAction::SetRole {
                member: id(3),
                maintainer: true,
            },
            &[1, 2],
        )
    };
    let mut ev = f.roster.next_event(t(60), body());
    ev.seq = 2;
    assert_eq!(
        refused(&f, &ev.sign(&key(1)).unwrap()),
        RosterError::Seq {
            expected: 1,
            found: 2
        }
    );
    let mut ev = f.roster.next_event(t(60), body());
    ev.prev = Some(other_id());
    assert_eq!(
        refused(&f, &ev.sign(&key(1)).unwrap()),
        RosterError::Prev {
            seq: 1,
            expected: Some(f.roster.circle_id()),
            found: Some(other_id())
        }
    );
    let mut ev = f.roster.next_event(t(60), body());
    ev.circle = Some(other_id());
    assert_eq!(
        refused(&f, &ev.sign(&key(1)).unwrap()),
        RosterError::Circle {
            seq: 1,
            object: "roster event".into(),
            expected: f.roster.circle_id(),
            found: Some(other_id()),
        }
    );
    // A request made for another circle.
    let mut req = f.roster.member_request(
        &id(3),
        MemberChange::SetProfile {
            profile: debrief_protocol::profile::OrgProfile {
                industry: debrief_protocol::profile::Industry::Finance,
                size_band: debrief_protocol::profile::SizeBand::S,
                region: debrief_protocol::profile::Region::Global,
            },
        },
        t(86_400),
    );
    req.circle = other_id();
    let env = f.event(EventBody::SetProfile {
        request: req.sign(&key(3)).unwrap(),
    });
    assert_eq!(
        refused(&f, &env),
        RosterError::Circle {
            seq: 1,
            object: "member request".into(),
            expected: f.roster.circle_id(),
            found: Some(other_id()),
        }
    );
}

#[test]
fn rule_2_5_sequencer_authority() {
    let f = Fixture::genesis();
    let ev = f.roster.next_event(
        t(60),
        f.quorum_body(
            QuorumAction::SetRole {
                member: id(3),
                maintainer: true,
            },
            &[1, 2],
        ),
    );
    // Maintainer 2 is not the sequencer.
    assert_eq!(
        refused(&f, &ev.sign(&key(2)).unwrap()),
        RosterError::NotSequencer {
            seq: 1,
            sequencer: id(1)
        }
    );
    // A tampered signature by the sequencer's key is an envelope failure, not silence.
    let good = ev.sign(&key(1)).unwrap();
    let mut sigs = good.signatures().to_vec();
    sigs[0].sig[0] ^= 1;
    let bad = Envelope::from_parts(good.payload_type().into(), good.payload().into(), sigs);
    assert_eq!(
        refused(&f, &bad),
        RosterError::Envelope {
            seq: 1,
            object: "roster event".into(),
            source: EnvelopeError::BadSignature(key(1).public_key().key_id()),
        }
    );
    // Genesis signed by someone other than its sequencer.
    let g = RosterEvent::genesis(t(0), genesis_body())
        .sign(&key(2))
        .unwrap();
    assert_eq!(
        fold(&[g], None).unwrap_err(),
        RosterError::NotSequencer {
            seq: 0,
            sequencer: id(1)
        }
    );
}

#[test]
fn rule_2_6_event_time() {
    let f = Fixture::genesis();
    let body = f.quorum_body(
        QuorumAction::SetRole {
            member: id(3),
            maintainer: true,
        },
        &[1, 2],
    );
    let env = f.event_at(body.clone(), 0);
    assert_eq!(
        refused(&f, &env),
        RosterError::AtNotIncreasing {
            seq: 1,
            at: t(0),
            prev_at: t(0)
        }
    );
    let env = f.event_at(body, 1_000);
    let mut b = RosterBuilder::resume(f.roster.clone(), Some(t(879)));
    let err = b.append(&env).unwrap_err();
    assert_eq!(
        err,
        RosterError::AtInFuture {
            seq: 1,
            at: t(1_000),
            now: t(879),
            skew_secs: 120
        }
    );
    assert_eq!(
        err.to_string(),
        "§2.6 roster event 1: at 2026-11-25T00:16:40Z is beyond this node's clock 2026-11-25T00:14:39Z plus 120 s of skew"
    );
    // Exactly at now + skew is fine.
    let mut b = RosterBuilder::resume(f.roster.clone(), Some(t(880)));
    assert!(b.append(&env).is_ok());
}

#[test]
fn rule_2_7_vouch_threshold() {
    let mut f = Fixture::genesis();
    let (invite, jr) = f.join(1, 4, "Delta GmbH");
    let v2 = f.vouch(2, jr.id());
    let v3 = f.vouch(3, jr.id());
    let own = f
        .roster
        .vouch(&id(4), jr.id(), t(0), t(86_400), "me".into())
        .sign(&key(4))
        .unwrap();
    let expired = f
        .roster
        .vouch(&id(3), jr.id(), t(-100), t(30), "old".into())
        .sign(&key(3))
        .unwrap();
    let other_subject = f.vouch(3, other_id());
    let too_long = f
        .roster
        .vouch(&id(3), jr.id(), t(0), t(31 * 86_400), "x".into())
        .sign(&key(3))
        .unwrap();
    let cases: Vec<(Vec<Envelope>, String)> = vec![
        (vec![v2.clone()], "got 1".into()),
        (
            vec![v2.clone(), v2.clone()],
            format!(
                "got 1: the vouch from {} repeats a company already counted",
                id(2)
            ),
        ),
        (
            vec![v2.clone(), expired],
            format!(
                "got 1: the vouch from {} expired on 2026-11-25T00:00:30Z",
                id(3)
            ),
        ),
        (
            vec![v2.clone(), own],
            format!("got 1: the vouch from {} is the candidate's own", id(4)),
        ),
        (
            vec![v2.clone(), other_subject],
            format!(
                "got 1: the vouch from {} is for {}, not {}",
                id(3),
                other_id(),
                jr.id()
            ),
        ),
        (
            vec![v2.clone(), too_long],
            format!(
                "got 1: the vouch from {} is valid for longer than the policy's vouch lifetime of 2592000 s",
                id(3)
            ),
        ),
        (vec![], "got 0".into()),
    ];
    for (vouches, want) in cases {
        let env = f.event(EventBody::Admit {
            invite: invite.clone(),
            join_request: jr.clone(),
            vouches,
        });
        let err = refused(&f, &env);
        assert_eq!(err.rule(), "§2.7");
        assert_eq!(
            err.to_string(),
            format!("§2.7 roster event 1: 2 vouches from distinct member companies needed, {want}")
        );
    }
    // The count helper says the same before the event is built.
    let count = f
        .roster
        .count_vouches(jr.id(), &id(4), &[v2.clone(), v3.clone()], t(60));
    assert!(count.is_met());
    assert_eq!(count.counted, vec![id(2), id(3)]);
    let env = f.event(EventBody::Admit {
        invite,
        join_request: jr,
        vouches: vec![v2, v3],
    });
    f.push(env);
}

#[test]
fn rule_2_7_vouches_by_removed_members_and_old_keys_do_not_count() {
    let mut f = with_delta();
    // Remove 3, rotate 4's key; then their vouches (3's, and 4's under its old key) fail.
    let b = f.quorum_body(
        QuorumAction::Remove {
            member: id(3),
            reason: "gone".into(),
        },
        &[1, 2],
    );
    let e = f.event(b);
    f.push(e);
    let e = f.member_event(
        4,
        MemberChange::RotateSigningKey {
            new_key: key(14).public_key(),
            chain_tip: TipStatement::EMPTY,
        },
    );
    f.push(e);
    let (invite, jr) = f.join(1, 5, "Echo AB");
    let by_removed = f
        .roster
        .vouch(&id(3), jr.id(), t(f.clock), t(f.clock + 100), "r".into())
        .sign(&key(3))
        .unwrap();
    let by_old_key = f
        .roster
        .vouch(&id(4), jr.id(), t(f.clock), t(f.clock + 100), "o".into())
        .sign(&key(4))
        .unwrap();
    let v2 = f.vouch(2, jr.id());
    let env = f.event(EventBody::Admit {
        invite,
        join_request: jr,
        vouches: vec![v2, by_removed, by_old_key],
    });
    let err = refused(&f, &env);
    let RosterError::VouchThreshold {
        needed: 2,
        got: 1,
        reasons,
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(
        reasons[0],
        format!("the vouch from {}: it was removed at roster seq 2", id(3))
    );
    assert!(
        reasons[1].starts_with(&format!(
            "the vouch from {} is not validly signed by its current key",
            id(4)
        )),
        "{}",
        reasons[1]
    );
}

#[test]
fn rule_2_8_admission() {
    let mut f = Fixture::genesis();
    // Same company under another spelling.
    let env = f.admit_event(1, 4, "ALPHA corp.", &[2, 3]);
    let err = refused(&f, &env);
    assert_eq!(
        err,
        RosterError::SameCompany {
            seq: 1,
            candidate: id(4),
            org: "ALPHA corp.".into(),
            existing: id(1)
        }
    );
    // Already a member.
    let env = f.admit_event(1, 3, "Charlie Inc", &[1, 2]);
    assert_eq!(
        refused(&f, &env),
        RosterError::AlreadyMember {
            seq: 1,
            member: id(3)
        }
    );
    // Charter not accepted.
    let (invite, jr) = f.join(1, 4, "Delta GmbH");
    let mut j: JoinRequest = jr.unverified_payload().unwrap();
    j.charter_sha256 = Sha256Digest::of(b"another charter");
    let jr2 = j.sign(&key(4)).unwrap();
    let vouches = vec![f.vouch(2, jr2.id()), f.vouch(3, jr2.id())];
    let env = f.event(EventBody::Admit {
        invite: invite.clone(),
        join_request: jr2,
        vouches,
    });
    let err = refused(&f, &env);
    assert_eq!(err.rule(), "§2.8");
    assert!(
        err.to_string()
            .contains("join request refused: it accepts charter"),
        "{err}"
    );
    // Wrong token.
    let mut j: JoinRequest = jr.unverified_payload().unwrap();
    j.invite_token = InviteToken::from_bytes([77; 32]).to_hex();
    let jr3 = j.sign(&key(4)).unwrap();
    let vouches = vec![f.vouch(2, jr3.id()), f.vouch(3, jr3.id())];
    let env = f.event(EventBody::Admit {
        invite: invite.clone(),
        join_request: jr3,
        vouches,
    });
    assert_eq!(
        refused(&f, &env),
        RosterError::JoinRequest {
            seq: 1,
            reason: "its invite token does not match the embedded invite".into()
        }
    );
    // Invite by a non-maintainer.
    let token = InviteToken::from_bytes([9; 32]);
    let inv = f
        .roster
        .invite(
            &id(3),
            "https://node3.example.net".into(),
            tls_spki_pin(&[3; 32]),
            &token,
            t(1_000),
        )
        .sign(&key(3))
        .unwrap();
    let env = f.event(EventBody::Admit {
        invite: inv,
        join_request: jr.clone(),
        vouches: vec![],
    });
    assert_eq!(
        refused(&f, &env),
        RosterError::Invite {
            seq: 1,
            reason: format!("issued by {}, who is not a maintainer", id(3))
        }
    );
    // A one-time token used twice.
    let vouches = vec![f.vouch(2, jr.id()), f.vouch(3, jr.id())];
    let env = f.event(EventBody::Admit {
        invite: invite.clone(),
        join_request: jr,
        vouches,
    });
    f.push(env);
    let j = JoinRequest {
        circle: f.roster.circle_id(),
        card: card(5, "Echo AB"),
        charter_sha256: f.roster.charter_sha256(),
        invite_token: InviteToken::from_bytes([1; 32]).to_hex(),
        rotations: Vec::new(),
    };
    let jr5 = j.sign(&key(5)).unwrap();
    let vouches = vec![f.vouch(2, jr5.id()), f.vouch(3, jr5.id())];
    let env = f.event(EventBody::Admit {
        invite,
        join_request: jr5,
        vouches,
    });
    assert_eq!(
        refused(&f, &env),
        RosterError::Invite {
            seq: 2,
            reason: "its one-time token was already used by an earlier admit".into()
        }
    );
}

#[test]
fn rule_2_9_chain_tips() {
    let f = with_delta();
    let env = f.member_event(
        4,
        MemberChange::Leave {
            chain_tip: TipStatement { seq: 3, link: None },
        },
    );
    assert_eq!(
        refused(&f, &env),
        RosterError::ChainTip {
            seq: 2,
            reason: "a tip at author seq 3 must name its link id".into()
        }
    );
    let b = f.quorum_body(
        QuorumAction::Remove {
            member: id(4),
            reason: "r".into(),
        },
        &[1, 2],
    );
    let EventBody::Remove { proposal, .. } = b else {
        unreachable!()
    };
    let env = f.event(EventBody::Remove {
        proposal,
        chain_tip: TipStatement {
            seq: 0,
            link: Some(other_id()),
        },
    });
    assert_eq!(
        refused(&f, &env),
        RosterError::ChainTip {
            seq: 2,
            reason: "a tip at author seq 0 names no link".into()
        }
    );
}

#[test]
fn rule_2_10_member_requests() {
    let mut f = with_delta();
    let change = MemberChange::SetDenyTerms {
        terms: vec!["delta".into()],
    };
    // Signed by another member's key.
    let req = f
        .roster
        .member_request(&id(4), change.clone(), t(86_400))
        .sign(&key(3))
        .unwrap();
    let env = f.event(EventBody::SetDenyTerms { request: req });
    assert_eq!(
        refused(&f, &env),
        RosterError::RequestNotByMember {
            seq: 2,
            member: id(4)
        }
    );
    // Expired at the event's time.
    let req = f
        .roster
        .member_request(&id(4), change.clone(), t(f.clock + 60))
        .sign(&key(4))
        .unwrap();
    let env = f.event(EventBody::SetDenyTerms { request: req });
    assert_eq!(
        refused(&f, &env),
        RosterError::RequestExpired {
            seq: 2,
            member: id(4),
            expires: t(f.clock + 60),
            at: t(f.clock + 60)
        }
    );
    // Bad values.
    let env = f.member_event(
        4,
        MemberChange::SetEndpoint {
            endpoint: Some("http://x".into()),
            tls_spki_sha256: tls_spki_pin(&[1; 32]),
        },
    );
    assert_eq!(refused(&f, &env).rule(), "§2.10");
    let env = f.member_event(
        4,
        MemberChange::SetEncKey {
            enc_recipient: "age1nope".into(),
        },
    );
    assert_eq!(
        refused(&f, &env),
        RosterError::BadChange {
            seq: 2,
            reason: "\"age1nope\" is not an age X25519 recipient (age1…)".into()
        }
    );
    let env = f.member_event(
        4,
        MemberChange::SetDenyTerms {
            terms: vec!["a".into(), "A".into()],
        },
    );
    assert_eq!(
        refused(&f, &env),
        RosterError::BadChange {
            seq: 2,
            reason: "deny term \"A\" is listed twice".into()
        }
    );
    // The sequencer cannot leave.
    let env = f.member_event(
        1,
        MemberChange::Leave {
            chain_tip: TipStatement::EMPTY,
        },
    );
    assert_eq!(refused(&f, &env).rule(), "§2.10");
    // Replay: apply once, then the same request again.
    let request = f.request(4, change.clone());
    let env = f.event(EventBody::SetDenyTerms {
        request: request.clone(),
    });
    f.push(env);
    let env = f.event(EventBody::SetDenyTerms { request });
    assert_eq!(
        refused(&f, &env),
        RosterError::CounterNotIncreasing {
            seq: 3,
            member: id(4),
            last: 1,
            got: 1
        }
    );
}

#[test]
fn rule_2_11_rotation() {
    let mut f = with_delta();
    let change = MemberChange::RotateSigningKey {
        new_key: key(14).public_key(),
        chain_tip: TipStatement::EMPTY,
    };
    // Old key only.
    let req = f
        .roster
        .member_request(&id(4), change.clone(), t(86_400))
        .sign(&key(4))
        .unwrap();
    let env = f.event(EventBody::RotateSigningKey { request: req });
    assert_eq!(
        refused(&f, &env),
        RosterError::RotationSignatures {
            seq: 2,
            member: id(4)
        }
    );
    // New key only.
    let req = f
        .roster
        .member_request(&id(4), change.clone(), t(86_400))
        .sign(&key(14))
        .unwrap();
    let env = f.event(EventBody::RotateSigningKey { request: req });
    assert_eq!(
        refused(&f, &env),
        RosterError::RotationSignatures {
            seq: 2,
            member: id(4)
        }
    );
    // A key another member holds.
    let reuse = MemberChange::RotateSigningKey {
        new_key: key(2).public_key(),
        chain_tip: TipStatement::EMPTY,
    };
    let req = f
        .roster
        .member_request(&id(4), reuse, t(86_400))
        .sign_rotation(&key(4), &key(2))
        .unwrap();
    let env = f.event(EventBody::RotateSigningKey { request: req });
    assert_eq!(
        refused(&f, &env),
        RosterError::KeyReused {
            seq: 2,
            key: key(2).public_key().key_id()
        }
    );
    // Both keys: accepted, and then the old key is no longer the member's.
    let env = f.member_event(4, change);
    f.push(env);
    f.keys.insert(id(4), key(14));
    let req = f
        .roster
        .member_request(
            &id(4),
            MemberChange::SetDenyTerms { terms: vec![] },
            t(86_400),
        )
        .sign(&key(4))
        .unwrap();
    let env = f.event(EventBody::SetDenyTerms { request: req });
    assert_eq!(
        refused(&f, &env),
        RosterError::RequestNotByMember {
            seq: 3,
            member: id(4)
        }
    );
}

#[test]
fn rule_2_12_quorum_events() {
    let mut f = with_delta();
    let action = QuorumAction::SetRole {
        member: id(4),
        maintainer: true,
    };
    // One maintainer company of the two needed; a non-maintainer's signature does not count.
    let env = f.event(f.quorum_body(action.clone(), &[1, 3]));
    let err = refused(&f, &env);
    let RosterError::QuorumNotMet {
        seq: 2,
        needed: 2,
        got: 1,
        reasons,
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(reasons.len(), 1);
    assert!(
        reasons[0].ends_with("is not by a current maintainer's key"),
        "{}",
        reasons[0]
    );
    // Expired.
    let mut p = f.roster.propose(action.clone(), t(f.clock + 30));
    let mut penv = p.sign(&key(1)).unwrap();
    penv.add_signature(&key(2)).unwrap();
    let env = f.event(EventBody::SetRole { proposal: penv });
    assert_eq!(
        refused(&f, &env),
        RosterError::ProposalExpired {
            seq: 2,
            expires: t(f.clock + 30),
            at: t(f.clock + 60)
        }
    );
    // Based on a seq that does not precede the event, or on a head that is not ours.
    p.expires = t(f.clock + 1_000);
    p.base_seq = 2;
    let mut penv = p.sign(&key(1)).unwrap();
    penv.add_signature(&key(2)).unwrap();
    let env = f.event(EventBody::SetRole { proposal: penv });
    assert_eq!(
        refused(&f, &env),
        RosterError::ProposalBase {
            seq: 2,
            base_seq: 2,
            reason: "is not before the event".into()
        }
    );
    p.base_seq = 0;
    p.base_head = other_id();
    let mut penv = p.sign(&key(1)).unwrap();
    penv.add_signature(&key(2)).unwrap();
    let env = f.event(EventBody::SetRole { proposal: penv });
    assert_eq!(refused(&f, &env).rule(), "§2.12");
    // Removing the sequencer.
    let env = f.event(f.quorum_body(
        QuorumAction::Remove {
            member: id(1),
            reason: "x".into(),
        },
        &[1, 2],
    ));
    assert_eq!(
        refused(&f, &env),
        RosterError::ActionRefused {
            seq: 2,
            reason: format!(
                "{} sequences; hand sequencing to another maintainer first",
                id(1)
            )
        }
    );
    // A proposal acts once.
    let proposal = f.proposal(action.clone(), &[1, 2]);
    let env = f.event(EventBody::SetRole {
        proposal: proposal.clone(),
    });
    f.push(env);
    let b = f.quorum_body(
        QuorumAction::SetRole {
            member: id(4),
            maintainer: false,
        },
        &[1, 2],
    );
    let env = f.event(b);
    f.push(env);
    let env = f.event(EventBody::SetRole {
        proposal: proposal.clone(),
    });
    assert_eq!(
        refused(&f, &env),
        RosterError::ProposalReused {
            seq: 4,
            proposal: proposal.id()
        }
    );
}

#[test]
fn rule_2_12_quorum_is_capped_by_the_number_of_maintainers() {
    // One maintainer: its signature alone is the quorum.
    let g = genesis_event(Genesis {
        members: vec![card(3, "Charlie Inc")],
        ..genesis_body()
    });
    let r = fold(std::slice::from_ref(&g), None).unwrap();
    let p = r
        .propose(
            QuorumAction::SetRole {
                member: id(3),
                maintainer: true,
            },
            t(1_000),
        )
        .sign(&key(1))
        .unwrap();
    let e = r
        .next_event(t(60), EventBody::SetRole { proposal: p })
        .sign(&key(1))
        .unwrap();
    let r2 = fold(&[g, e], None).unwrap();
    assert!(r2.member(&id(3)).unwrap().maintainer);
    assert!(r.single_maintainer_warning().is_some());
    assert!(r2.single_maintainer_warning().is_none());
}

#[test]
fn rule_2_13_nothing_for_departed_members() {
    let mut f = with_delta();
    let b = f.quorum_body(
        QuorumAction::Remove {
            member: id(4),
            reason: "r".into(),
        },
        &[1, 2],
    );
    let e = f.event(b);
    f.push(e);
    let env = f.member_event(4, MemberChange::SetDenyTerms { terms: vec![] });
    assert_eq!(
        refused(&f, &env),
        RosterError::Departed {
            seq: 3,
            member: id(4),
            how: "was removed",
            at_seq: 2
        }
    );
    // Re-admission of the same member id is refused too.
    let env = f.admit_event(1, 4, "Delta GmbH", &[2, 3]);
    assert_eq!(
        refused(&f, &env),
        RosterError::Departed {
            seq: 3,
            member: id(4),
            how: "was removed",
            at_seq: 2
        }
    );
    // A quorum action naming a stranger.
    let env = f.event(f.quorum_body(
        QuorumAction::SetRole {
            member: id(9),
            maintainer: true,
        },
        &[1, 2],
    ));
    assert_eq!(
        refused(&f, &env),
        RosterError::NotAMember {
            seq: 3,
            member: id(9)
        }
    );
    // 4's key stays retired at the tip the sequencer recorded.
    let k = f
        .roster
        .author_key(1, &id(4), &key(4).public_key().key_id())
        .unwrap();
    assert_eq!(k.retired_at.unwrap().seq, 0);
}

#[test]
fn rule_2_12_replace_keys() {
    let mut f = with_delta();
    let replace = |f: &Fixture, card: Envelope, vouchers: &[u8], signers: &[u8]| {
        let proposal = f.proposal(
            QuorumAction::ReplaceKeys {
                member: id(3),
                card: card.clone(),
            },
            signers,
        );
        let vouches = vouchers.iter().map(|v| f.vouch(*v, card.id())).collect();
        f.event(EventBody::ReplaceKeys {
            proposal,
            chain_tip: TipStatement::EMPTY,
            vouches,
        })
    };
    // Another organisation name.
    let env = replace(&f, card_with_key(3, 33, "Zulu Inc"), &[2, 4], &[1, 2]);
    assert_eq!(
        refused(&f, &env),
        RosterError::ActionRefused {
            seq: 2,
            reason: "the replacement card names organisation \"Zulu Inc\", not \"Charlie Inc\""
                .into()
        }
    );
    // Another member's card.
    let env = replace(&f, card_with_key(5, 33, "Charlie Inc"), &[2, 4], &[1, 2]);
    assert_eq!(refused(&f, &env).rule(), "§2.12");
    // Not enough fresh vouches; the member's own vouch never counts.
    let new_card = card_with_key(3, 33, "Charlie Inc");
    let env = replace(&f, new_card.clone(), &[2, 3], &[1, 2]);
    let err = refused(&f, &env);
    assert_eq!(
        err.to_string(),
        format!(
            "§2.7 roster event 2: 2 vouches from distinct member companies needed, got 1: the vouch from {} is the candidate's own",
            id(3)
        )
    );
    // Valid: the new key is current, the old one retired.
    let env = replace(&f, new_card, &[2, 4], &[1, 2]);
    f.push(env);
    let m = f.roster.member(&id(3)).unwrap();
    assert_eq!(m.signing_key, key(33).public_key());
    let old = f
        .roster
        .author_key(2, &id(3), &key(3).public_key().key_id())
        .unwrap();
    assert_eq!(old.retired_at.unwrap().seq, 0);
}

#[test]
fn sequencer_helper_checks_before_publishing() {
    let f = Fixture::genesis();
    let body = f.quorum_body(
        QuorumAction::SetRole {
            member: id(3),
            maintainer: true,
        },
        &[1],
    );
    let err = f
        .roster
        .sequence(t(60), body, &key(1), Some(t(60)))
        .unwrap_err();
    assert_eq!(err.rule(), "§2.12");
    let body = f.quorum_body(
        QuorumAction::SetRole {
            member: id(3),
            maintainer: true,
        },
        &[1, 2],
    );
    let env = f
        .roster
        .sequence(t(60), body, &key(1), Some(t(60)))
        .unwrap();
    assert!(f.try_push(&env).is_ok());
}

#[test]
fn rule_2_8_node_checks_join_requests_and_invite_expiry() {
    let mut f = Fixture::genesis();
    let (invite, jr) = f.join(1, 4, "Delta GmbH");
    let ok = f.roster.check_join(&invite, &jr, t(60)).unwrap();
    assert_eq!(ok.card, card(4, "Delta GmbH"));
    // The fixture's invites expire 14 days after they are made.
    assert_eq!(
        f.roster
            .check_join(&invite, &jr, t(14 * 86_400))
            .unwrap_err(),
        RosterError::Invite {
            seq: 1,
            reason: "it expired on 2026-12-09T00:00:00Z".into()
        }
    );
    let (_, other_jr) = f.join(1, 5, "Echo AB");
    assert_eq!(
        f.roster.check_join(&invite, &other_jr, t(60)).unwrap_err(),
        RosterError::JoinRequest {
            seq: 1,
            reason: "its invite token does not match the embedded invite".into()
        }
    );
}
