//! Attacks on signed envelopes (issue 17; protocol.md §1.6–§1.7, refusals carried by §2 and
//! §3 errors). Each test is one attacker's story told from its side: what it holds, what it
//! crafts, and the exact refusal that leaves the circle unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use debrief_protocol::bundle::{BundleError, Part};
use debrief_protocol::canonical::CanonicalError;
use debrief_protocol::envelope::{self, EnvelopeError, PayloadType, PublicKey, Signer};
use debrief_protocol::identity::{IdentityError, verify_card};
use debrief_protocol::roster::{
    Checkpoint, EventBody, JoinRequest, MemberChange, QuorumAction, RosterError,
};
use debrief_protocol::{Envelope, Sha256Digest};
use debrief_tests::attack_kit::*;
use serde_json::{Value, json};

/// Charlie, a plain member, wants Delta removed. It cannot sign as the sequencer, so it signs
/// the event with its own key and labels the signature with Acme's key id.
#[test]
fn attack_forged_signature() {
    let cast = Cast::new();
    let circle = Circle::standard(&cast);
    let action = QuorumAction::SetRole {
        member: cast.charlie.member_id(),
        maintainer: true,
    };
    let proposal = circle.proposal(action.clone(), &[&cast.acme, &cast.bravo]);
    let honest = circle.event(&cast.acme, Circle::quorum_body(proposal, &action));
    // Charlie's signature over the same PAE bytes, under Acme's key id.
    let forged = with_sig(&honest, cast.charlie.sign_message(&honest.pae()));
    circle.refuses(
        &forged,
        RosterError::Envelope {
            seq: 1,
            object: "roster event".into(),
            source: EnvelopeError::BadSignature(cast.acme.signing_key_id()),
        },
        "§2.1",
    );
    // Random bytes fare no better.
    let noise = with_sig(&honest, [0x5a; 64]);
    circle.refuses(
        &noise,
        RosterError::Envelope {
            seq: 1,
            object: "roster event".into(),
            source: EnvelopeError::BadSignature(cast.acme.signing_key_id()),
        },
        "§2.1",
    );
    // Under its own key id the signature verifies, but Charlie is not the sequencer.
    let own = circle.event(&cast.charlie, honest_body(&circle, &cast, &action));
    circle.refuses(
        &own,
        RosterError::NotSequencer {
            seq: 1,
            sequencer: cast.acme.member_id(),
        },
        "§2.5",
    );
    // The genuine event is accepted: only the forgery was refused.
    assert_eq!(circle.offer(&honest, at(3_600)), Ok(()));
}

fn honest_body(circle: &Circle, cast: &Cast, action: &QuorumAction) -> EventBody {
    Circle::quorum_body(
        circle.proposal(action.clone(), &[&cast.acme, &cast.bravo]),
        action,
    )
}

/// An outsider picks a small-order Ed25519 point as its key: under a lax verifier the
/// all-zero-ish signature below verifies for *every* message, so one card could be "signed"
/// without any secret. Weak keys are refused wherever a key is parsed (protocol.md §1.6).
#[test]
fn attack_weak_small_order_key() {
    let cast = Cast::new();
    let mut circle = Circle::standard(&cast);
    // The identity (order 1), the point of order 2, and a point of order 4.
    let mut order2 = [0xff; 32];
    order2[0] = 0xec;
    order2[31] = 0x7f;
    let mut identity = [0u8; 32];
    identity[0] = 1;
    for weak in [identity, order2, [0u8; 32]] {
        assert_eq!(PublicKey::from_bytes(&weak), Err(EnvelopeError::WeakKey));
    }
    // A card that names the identity point as its signing key, with R = identity, S = 0.
    let honest_card = cast
        .echo
        .signed_card(Some("https://echo.example.net:8443"), at(0))
        .unwrap();
    let mut card: Value = honest_card.unverified_payload().unwrap();
    let weak_b64 = debrief_protocol::encoding::base64_encode(&identity);
    card["signing_key"] = json!(weak_b64);
    card["first_signing_key"] = json!(weak_b64);
    let weak_card = Envelope::from_parts(
        PayloadType::IdentityCard.media_type(),
        canonical_bytes(&card),
        vec![debrief_protocol::envelope::EnvelopeSignature {
            keyid: debrief_protocol::KeyId(Sha256Digest::of(&identity)),
            sig: {
                let mut s = [0u8; 64];
                s[0] = 1;
                s
            },
        }],
    );
    let err = verify_card(&weak_card).unwrap_err();
    match &err {
        IdentityError::Envelope(EnvelopeError::Schema {
            payload_type: PayloadType::IdentityCard,
            message,
        }) => assert!(message.contains("weak (small-order)"), "{message}"),
        other => panic!("expected the weak key refused, got {other:?}"),
    }
    // The card smuggled into a join request is refused at admission, nothing admitted.
    let (token, invite) = circle.invite(&cast.acme);
    let join_request = JoinRequest {
        circle: circle.roster.circle_id(),
        card: weak_card,
        charter_sha256: circle.roster.charter_sha256(),
        invite_token: token.to_hex(),
        rotations: Vec::new(),
    }
    .sign(&cast.echo)
    .unwrap();
    let admit = circle.event(
        &cast.acme,
        EventBody::Admit {
            invite,
            join_request,
            vouches: vec![],
        },
    );
    circle.refuses(
        &admit,
        RosterError::Identity {
            seq: 1,
            object: "the candidate's identity card".into(),
            source: err,
        },
        "§2.1",
    );
    assert_eq!(circle.roster.members().count(), 4);
}

/// A relay holds Bravo's genuine vouch and the sequencer's genuine event. It rewrites each
/// signature's S to S + ℓ: the same envelope id, a "different" signature that a lax verifier
/// accepts. Strict verification refuses both (protocol.md §1.7.3).
#[test]
fn attack_non_canonical_signature() {
    let cast = Cast::new();
    let mut circle = Circle::standard(&cast);
    let vouch = circle.vouch(
        &cast.bravo,
        debrief_protocol::EnvelopeId(Sha256Digest::of(b"subject")),
    );
    let twin = with_sig(&vouch, malleate(vouch.signatures()[0].sig));
    assert_ne!(twin, vouch);
    assert_eq!(
        twin.id(),
        vouch.id(),
        "the malleated twin names the same object"
    );
    assert_eq!(
        envelope::verify::<Value>(&twin, PayloadType::Vouch, &cast.bravo.signing_public_key())
            .unwrap_err(),
        EnvelopeError::BadSignature(cast.bravo.signing_key_id())
    );
    // The sequencer's admit event, malleated in transit.
    let admit = circle.admit_event(
        &cast.acme,
        &cast.acme,
        &cast.echo,
        &[&cast.charlie, &cast.delta],
    );
    let twin = with_sig(&admit, malleate(admit.signatures()[0].sig));
    circle.refuses(
        &twin,
        RosterError::Envelope {
            seq: 1,
            object: "roster event".into(),
            source: EnvelopeError::BadSignature(cast.acme.signing_key_id()),
        },
        "§2.1",
    );
    // The untouched event is accepted.
    circle.push(admit);
    assert!(circle.roster.member(&cast.echo.member_id()).is_some());
    // A malleated bundle header is refused the same way (§3.6).
    let report = Share::report(&cast.charlie, "Queue backlog")
        .seal(&circle.roster, at(circle.clock + 60))
        .unwrap();
    let twin = debrief_protocol::bundle::BundleObject::new(
        report.link().clone(),
        with_sig(
            report.header(),
            malleate(report.header().signatures()[0].sig),
        ),
        report.ciphertext().to_vec(),
    );
    assert_refused(
        open_as(&twin, &circle.roster, &cast.delta, at(circle.clock + 61)),
        BundleError::BadSignature { part: Part::Header },
        "§3.6",
    );
}

/// The sequencer itself signs an event whose bytes are not canonical JSON (keys out of order,
/// whitespace): two spellings of one event would give two ids for one meaning. Refused after
/// the signature verifies (protocol.md §1.7.4); a bundle header likewise (§3.6).
#[test]
fn attack_non_canonical_payload() {
    let cast = Cast::new();
    let circle = Circle::standard(&cast);
    let action = QuorumAction::SetRole {
        member: cast.delta.member_id(),
        maintainer: true,
    };
    let honest = circle.event(&cast.acme, honest_body(&circle, &cast, &action));
    let value: Value = serde_json::from_slice(honest.payload()).unwrap();
    let pretty = serde_json::to_vec_pretty(&value).unwrap();
    let signed_pretty = Envelope::from_parts(
        PayloadType::RosterEvent.media_type(),
        pretty.clone(),
        vec![],
    );
    let mut spaced = signed_pretty.clone();
    spaced.add_signature(&cast.acme).unwrap();
    circle.refuses(
        &spaced,
        RosterError::Envelope {
            seq: 1,
            object: "roster event".into(),
            source: EnvelopeError::NonCanonicalPayload(CanonicalError::NotCanonical),
        },
        "§2.1",
    );
    // A bundle header spelled with an explicit field order of the author's choosing.
    let report = Share::report(&cast.charlie, "DNS flap")
        .seal(&circle.roster, at(60))
        .unwrap();
    let header = header_json(&report);
    let canonical = String::from_utf8(canonical_bytes(&header)).unwrap();
    let tlp = ",\"tlp\":\"AMBER\"";
    assert!(canonical.contains(tlp));
    let bytes = format!(
        "{{\"tlp\":\"AMBER\",{}",
        &canonical.replacen(tlp, "", 1)[1..]
    )
    .into_bytes();
    let mut odd = Envelope::from_parts(PayloadType::BundleHeader.media_type(), bytes, vec![]);
    odd.add_signature(&cast.charlie).unwrap();
    let crafted = debrief_protocol::bundle::BundleObject::new(
        report.link().clone(),
        odd,
        report.ciphertext().to_vec(),
    );
    let err = open_as(&crafted, &circle.roster, &cast.delta, at(61)).unwrap_err();
    assert!(
        matches!(
            err,
            BundleError::NotCanonical {
                part: Part::Header,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.rule(), "§3.6");
}

/// Acme signed a roster checkpoint. An attacker presents the same payload and signature as a
/// public log checkpoint (nearly the same fields), hoping readers of the archive take it as a
/// signed statement about the public log. The payload type is in the signed PAE bytes
/// (protocol.md §1.1, §1.4), so the signature does not carry over.
#[test]
fn attack_signature_replayed_across_payload_types() {
    let cast = Cast::new();
    let circle = Circle::standard(&cast);
    let cp: Checkpoint = circle.roster.checkpoint(at(60), at(3_600));
    let signed = cp.sign(&cast.acme).unwrap();
    let acme = cast.acme.signing_public_key();
    // Presented under its own label where another is expected: refused before any crypto.
    assert_eq!(
        envelope::verify::<Value>(&signed, PayloadType::PublicLogCheckpoint, &acme).unwrap_err(),
        EnvelopeError::WrongPayloadType {
            expected: PayloadType::PublicLogCheckpoint,
            found: PayloadType::Checkpoint.media_type(),
        }
    );
    // Relabelled: the signature no longer verifies.
    for other in [
        PayloadType::PublicLogCheckpoint,
        PayloadType::Approval,
        PayloadType::ChainLink,
    ] {
        let relabelled = relabel(&signed, other);
        assert_eq!(
            envelope::verify::<Value>(&relabelled, other, &acme).unwrap_err(),
            EnvelopeError::BadSignature(cast.acme.signing_key_id())
        );
    }
    // A chain link passed off as a bundle header, in a bundle object.
    let report = Share::report(&cast.charlie, "Cert expiry")
        .seal(&circle.roster, at(60))
        .unwrap();
    let swapped = debrief_protocol::bundle::BundleObject::new(
        report.link().clone(),
        relabel(report.link(), PayloadType::BundleHeader),
        report.ciphertext().to_vec(),
    );
    let err = open_as(&swapped, &circle.roster, &cast.delta, at(61)).unwrap_err();
    assert!(
        matches!(
            err,
            BundleError::Malformed {
                part: Part::Header,
                ..
            }
        ),
        "{err:?}"
    );
    let swapped = debrief_protocol::bundle::BundleObject::new(
        report.link().clone(),
        report.link().clone(),
        report.ciphertext().to_vec(),
    );
    assert_refused(
        open_as(&swapped, &circle.roster, &cast.delta, at(61)),
        BundleError::WrongPayloadType {
            part: Part::Header,
            found: PayloadType::ChainLink.media_type(),
        },
        "§3.3",
    );
}

/// Bravo belongs to two circles. Delta's signed request to move its endpoint in one circle is
/// replayed by the other circle's sequencer; a bundle shared in one is offered in the other.
/// Every circle-scoped payload names its circle (protocol.md §2.4, §3.7).
#[test]
fn attack_object_replayed_into_another_circle() {
    let cast = Cast::new();
    let payments = Circle::standard(&cast);
    let vendor = Circle::found(
        "Vendor customers",
        &[&cast.bravo],
        &[&cast.delta, &cast.charlie],
        Default::default(),
    );
    // Delta's request in the payments circle.
    let change = MemberChange::SetEndpoint {
        endpoint: Some("https://delta-new.example.net:8443".into()),
        tls_spki_sha256: cast.delta.tls_spki_pin(),
    };
    let request = payments.request(&cast.delta, change.clone());
    let replayed = vendor.event(&cast.bravo, EventBody::for_member_request(&change, request));
    vendor.refuses(
        &replayed,
        RosterError::Circle {
            seq: 1,
            object: "member request".into(),
            expected: vendor.roster.circle_id(),
            found: Some(payments.roster.circle_id()),
        },
        "§2.4",
    );
    // Charlie's payments report offered to Delta's vendor-circle node.
    let report = Share::report(&cast.charlie, "Ledger lag")
        .seal(&payments.roster, at(60))
        .unwrap();
    assert_refused(
        open_as(&report, &vendor.roster, &cast.delta, at(61)),
        BundleError::WrongCircle {
            part: Part::Header,
            expected: vendor.roster.circle_id(),
            found: payments.roster.circle_id(),
        },
        "§3.7",
    );
    // A vouch from one circle does not count in the other.
    let mut vendor = vendor;
    let admit = {
        let (token, invite) = vendor.invite(&cast.bravo);
        let jr = vendor.join_request(&cast.echo, &token);
        let foreign = payments.vouch(&cast.delta, jr.id());
        let own = vendor.vouch(&cast.charlie, jr.id());
        vendor.event(
            &cast.bravo,
            EventBody::Admit {
                invite,
                join_request: jr,
                vouches: vec![foreign, own],
            },
        )
    };
    vendor.refuses(
        &admit,
        RosterError::VouchThreshold {
            seq: 1,
            needed: 2,
            got: 1,
            reasons: vec![format!(
                "the vouch from {} is for circle {}",
                cast.delta.member_id(),
                payments.roster.circle_id()
            )],
        },
        "§2.7",
    );
}
