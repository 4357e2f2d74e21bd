//! Issue 17, the attacks on a node's sharing store: bundles arriving from a relay (a peer that
//! forwards other members' bundles, as sync and `debrief import` do) are verified and stored by
//! `sharing::accept_bundle` in one transaction (protocol.md §3.29), refused ones go to the
//! quarantine. Each story runs on a real node (real SQLite file in a temp dir, real keys), with
//! real bundles sealed by the protocol; it asserts the documented refusal and that nothing of
//! the attacker's object was stored.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use debrief_keys::{Identity, Passphrase};
use debrief_node::home::Home;
use debrief_node::node::{Circle, Node};
use debrief_node::sharing::{self, Accepted, ImportLine, SharingError};
use debrief_node::store::bundles;
use debrief_node::store::circle::RosterImportError;
use debrief_protocol::bundle::{
    AgeHeaderError, BundleError, BundleObject, Part, Recipient, recipients_digest,
};
use debrief_protocol::envelope::Envelope;
use debrief_protocol::profile::{Industry, OrgProfile, Region, SizeBand};
use debrief_protocol::roster::{
    EventBody, MemberChange, Policy, QuorumAction, RosterError, TipStatement,
};
use debrief_protocol::{MemberId, Sha256Digest, Timestamp};
use debrief_tests::attack_kit::{
    ChainPos, company, encrypt_to, forge_bundle, header_json, inner_of, listed_recipients,
    node_report,
};
use zeroize::Zeroizing;

/// Node S ("Acme", the circle's maintainer and sequencer) holds the circle; Bravo, Charlie and
/// Delta are members. Charlie plays the relay.
struct World {
    _dir: tempfile::TempDir,
    now: Timestamp,
    node: Node,
    circle: Circle,
    bravo: Identity,
    charlie: Identity,
    delta: Identity,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let now = debrief_node::node::now();
    let profile = OrgProfile {
        industry: Industry::Saas,
        size_band: SizeBand::M,
        region: Region::Europe,
    };
    let pass = Passphrase::new(Zeroizing::new("correct horse battery".to_owned())).unwrap();
    let node = Node::init(
        Home::at(dir.path()),
        "Acme Corp",
        profile,
        None,
        pass,
        Some(10),
        now,
    )
    .unwrap();
    let bravo = company(2, "Bravo Ltd");
    let charlie = company(3, "Charlie Inc");
    let delta = company(4, "Delta GmbH");
    let cards = [&bravo, &charlie, &delta]
        .iter()
        .map(|i| i.signed_card(None, now).unwrap())
        .collect();
    let circle = node
        .create_circle("ops", "Be kind.", Policy::default(), cards, now)
        .unwrap();
    World {
        _dir: dir,
        now,
        node,
        circle,
        bravo,
        charlie,
        delta,
    }
}

impl World {
    /// What the node does with bytes from a relay: accept, or refuse.
    fn accept(&mut self, bundle: &[u8]) -> Result<Accepted, SharingError> {
        let me = self.node.identity().member_id();
        let ids = self.node.identity().age_identities();
        sharing::accept_bundle(&mut self.circle, &me, &ids, bundle, self.now)
    }

    /// What the node does with a relay's export (sync and `debrief import` alike): accept each
    /// line, quarantine refused ones.
    fn import(&mut self, lines: &[&[u8]]) -> Vec<ImportLine> {
        let me = self.node.identity().member_id();
        let ids = self.node.identity().age_identities();
        let mut export = Vec::new();
        for line in lines {
            export.extend_from_slice(line);
            export.push(b'\n');
        }
        sharing::import_objects(&mut self.circle, &me, &ids, &export, "relay", self.now).unwrap()
    }

    /// (links, bundles) rows held.
    fn held(&self) -> (i64, i64) {
        let count = |table: &str| {
            self.circle
                .store
                .conn()
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .unwrap()
        };
        (count("links"), count("bundles"))
    }

    fn held_object(&self, bundle: &BundleObject) -> Option<Vec<u8>> {
        sharing::bundle_object(
            &self.circle,
            &bundle.header().id(),
            &self.node.identity().member_id(),
        )
        .unwrap()
        .map(|b| b.as_bytes().to_vec())
    }
}

fn rejected(got: Result<Accepted, SharingError>) -> BundleError {
    match got {
        Err(SharingError::Rejected(e)) => e,
        other => panic!("the attack was not refused by a bundle rule: {other:?}"),
    }
}

fn quarantined(line: &ImportLine) -> (&str, &str) {
    match line {
        ImportLine::Quarantined { key, reason, .. } => (key, reason),
        other => panic!("not quarantined: {other:?}"),
    }
}

/// Charlie relays Bravo's report, but first PUTs corrupt copies under the same object id (a
/// flipped ciphertext byte, a truncated copy) hoping the node then holds "that object" and
/// refuses the genuine one. Refused copies are quarantined by the SHA-256 of their full bytes,
/// never by the object id they claim, so the genuine bundle is accepted afterwards, and a
/// corrupt copy arriving later does not displace it (protocol.md §3.18, §3.29).
#[test]
fn attack_corrupt_copy_put_by_relay() {
    let mut w = world();
    let genuine = node_report(&w.bravo, "Disk full on the primary")
        .seal(&w.circle.roster, w.now)
        .unwrap();
    let mut ct = genuine.ciphertext().to_vec();
    let last = ct.len() - 1;
    ct[last] ^= 1;
    let flipped = BundleObject::new(genuine.link().clone(), genuine.header().clone(), ct);
    assert_eq!(
        flipped.header().id(),
        genuine.header().id(),
        "same object id"
    );
    let truncated = &genuine.as_bytes()[..genuine.as_bytes().len() - 20];

    let lines = w.import(&[flipped.as_bytes(), truncated]);
    let (key, reason) = quarantined(&lines[0]);
    assert_eq!(key, Sha256Digest::of(flipped.as_bytes()).to_hex());
    assert_eq!(reason, BundleError::CiphertextMismatch.to_string());
    let (key, _) = quarantined(&lines[1]);
    assert_eq!(key, Sha256Digest::of(truncated).to_hex());
    assert_eq!(w.held(), (0, 0), "nothing of the corrupt copies is stored");
    assert_eq!(w.held_object(&genuine), None);

    // The genuine bundle from another peer: accepted, byte for byte.
    let got = w.accept(genuine.as_bytes()).unwrap();
    assert!(matches!(got, Accepted::New { .. }), "{got:?}");
    assert_eq!(w.held_object(&genuine), Some(genuine.as_bytes().to_vec()));
    // The corrupt copy again: verified before it is compared, so refused, not "already held";
    // the genuine one stays.
    assert_eq!(
        rejected(w.accept(flipped.as_bytes())),
        BundleError::CiphertextMismatch
    );
    assert_eq!(w.held(), (1, 1));
    assert_eq!(w.held_object(&genuine), Some(genuine.as_bytes().to_vec()));
    let q = sharing::quarantine_list(&w.circle).unwrap();
    assert_eq!(q.len(), 2);
    assert!(
        q.iter()
            .all(|e| e.key != Sha256Digest::of(genuine.as_bytes()).to_hex())
    );
}

/// Bravo signs two different bundles at author seq 1 and sends one to each half of the circle;
/// a relay brings the second to a node holding the first. The node refuses it, keeps the first,
/// and stores an equivocation proof that anyone can check (protocol.md §3.28).
#[test]
fn attack_author_equivocation_in_store() {
    let mut w = world();
    let one = node_report(&w.bravo, "Version for Charlie")
        .seal(&w.circle.roster, w.now)
        .unwrap();
    let two = node_report(&w.bravo, "Version for Delta")
        .seal(&w.circle.roster, w.now)
        .unwrap();
    assert!(matches!(
        w.accept(one.as_bytes()).unwrap(),
        Accepted::New { .. }
    ));
    let err = w.accept(two.as_bytes()).unwrap_err();
    let SharingError::Refused(message) = &err else {
        panic!("{err:?}");
    };
    assert_eq!(
        message,
        &format!(
            "chain link equivocation (same-seq): author {} already has link {} at seq 1; the \
             proof is stored (`debrief chains`)",
            w.bravo.member_id(),
            one.link().id()
        )
    );
    assert_eq!(w.held(), (1, 1));
    assert_eq!(w.held_object(&two), None);
    let proofs = bundles::equivocations(w.circle.store.conn()).unwrap();
    assert_eq!(proofs.len(), 1);
    assert_eq!(
        (
            proofs[0].author.clone(),
            proofs[0].author_seq,
            proofs[0].form
        ),
        (w.bravo.member_id(), 1, "same-seq")
    );
    assert_eq!(
        proofs[0].proof.verify(&w.circle.roster).unwrap(),
        (w.bravo.member_id(), 1)
    );
}

/// Bravo shares seq 1, 2, 3; the relay withholds seq 2 (say, an embarrassing report) and passes
/// on the rest. The node accepts what it got and names the gap, so sync asks other peers for it
/// (protocol.md §3.28).
#[test]
fn attack_seq_gap_hidden_by_relay_in_store() {
    let mut w = world();
    let first = node_report(&w.bravo, "One")
        .seal(&w.circle.roster, w.now)
        .unwrap();
    let hidden = node_report(&w.bravo, "Two")
        .at(ChainPos::after(&first))
        .seal(&w.circle.roster, w.now)
        .unwrap();
    let third = node_report(&w.bravo, "Three")
        .at(ChainPos::after(&hidden))
        .seal(&w.circle.roster, w.now)
        .unwrap();
    for b in [&first, &third] {
        assert!(matches!(
            w.accept(b.as_bytes()).unwrap(),
            Accepted::New { .. }
        ));
    }
    assert_eq!(
        sharing::chain_gaps(&w.circle).unwrap(),
        vec![(w.bravo.member_id(), 2..=2)]
    );
    // Any honest peer's copy closes it.
    assert!(matches!(
        w.accept(hidden.as_bytes()).unwrap(),
        Accepted::New { .. }
    ));
    assert!(sharing::chain_gaps(&w.circle).unwrap().is_empty());
}

/// Charlie is removed (its chain tip recorded at seq 1); it keeps signing with its old key and
/// relays a new bundle sealed against the roster it last knew. The node refuses it: the key is
/// retired beyond its recorded tip (protocol.md §3.10).
#[test]
fn attack_removed_members_new_bundle_at_accept() {
    let mut w = world();
    let last = node_report(&w.charlie, "Last words")
        .seal(&w.circle.roster, w.now)
        .unwrap();
    assert!(matches!(
        w.accept(last.as_bytes()).unwrap(),
        Accepted::New { .. }
    ));
    let old_roster = w.circle.roster.clone();
    let proposal = w
        .circle
        .roster
        .propose(
            QuorumAction::Remove {
                member: w.charlie.member_id(),
                reason: "breach of charter".into(),
            },
            w.now.plus_seconds(3600),
        )
        .sign(w.node.identity())
        .unwrap();
    let event = w
        .circle
        .roster
        .sequence(
            w.now.plus_seconds(1),
            EventBody::Remove {
                proposal,
                chain_tip: TipStatement {
                    seq: 1,
                    link: Some(last.link().id()),
                },
            },
            w.node.identity(),
            Some(w.now),
        )
        .unwrap();
    w.circle
        .store
        .append_roster_events(Some(&w.circle.roster), &[event], w.now)
        .unwrap();
    w.circle = w
        .node
        .circle(Some(&w.circle.roster.circle_id().to_hex()), w.now)
        .unwrap();
    assert!(w.circle.roster.member(&w.charlie.member_id()).is_none());

    let after = node_report(&w.charlie, "Still here")
        .at(ChainPos::after(&last))
        .seal(&old_roster, w.now)
        .unwrap();
    assert_eq!(
        rejected(w.accept(after.as_bytes())),
        BundleError::KeyRetired {
            part: Part::Header,
            author_seq: 2,
            tip_seq: 1
        }
    );
    assert_eq!(w.held(), (1, 1), "only the last bundle before removal");
    assert_eq!(w.held_object(&after), None);
}

/// The endless-data attacks at the accept path (what a bundle PUT or an import reaches): an age
/// header padded past its bound, a stanza count that differs from the listed recipients, and
/// more recipients than any header may list. Each is refused before any decryption work beyond
/// the bound and quarantined; nothing is stored (protocol.md §3.13, §3.22).
#[test]
fn attack_endless_data_at_accept() {
    let mut w = world();
    let report = node_report(&w.bravo, "Slow")
        .seal(&w.circle.roster, w.now)
        .unwrap();
    // A huge age header.
    let line = format!("{}\n", "A".repeat(64));
    let stanza = format!("-> grease\n{}\n", line.repeat(20_000));
    let intro = debrief_protocol::bundle::AGE_INTRO.len();
    let mut ct = report.ciphertext()[..intro].to_vec();
    ct.extend_from_slice(stanza.as_bytes());
    ct.extend_from_slice(&report.ciphertext()[intro..]);
    let huge = forge_bundle(&report, header_json(&report), ct, &w.bravo);
    assert!(matches!(
        rejected(w.accept(huge.as_bytes())),
        BundleError::AgeHeader(AgeHeaderError::TooLarge { .. })
    ));
    // One stanza more than the listed recipients (an unlisted reader).
    let inner = inner_of(&report, &w.bravo).to_json();
    let mut more = listed_recipients(&report);
    more.push(company(66, "Mallory Holdings").enc_recipient().to_string());
    let extra = forge_bundle(
        &report,
        header_json(&report),
        encrypt_to(&more, &inner),
        &w.bravo,
    );
    assert_eq!(
        rejected(w.accept(extra.as_bytes())),
        BundleError::AgeHeader(AgeHeaderError::X25519Count {
            found: 5,
            expected: 4
        })
    );
    // 1 001 listed recipients (the bound is 1 000).
    let mut recips: Vec<Recipient> = (0..1_001u64)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&i.to_le_bytes());
            Recipient {
                member: MemberId::from_first_key(&seed),
                age_recipient: w.bravo.enc_recipient().to_string(),
            }
        })
        .collect();
    recips.sort();
    let mut h = header_json(&report);
    h["recipients"] = serde_json::to_value(&recips).unwrap();
    h["recipients_digest"] = serde_json::json!(recipients_digest(&recips).to_hex());
    let crowd = forge_bundle(&report, h, report.ciphertext().to_vec(), &w.bravo);
    assert_eq!(
        rejected(w.accept(crowd.as_bytes())),
        BundleError::RecipientCount {
            count: 1_001,
            max: 1_000
        }
    );
    let lines = w.import(&[huge.as_bytes(), extra.as_bytes(), crowd.as_bytes()]);
    assert_eq!(lines.len(), 3);
    for l in &lines {
        quarantined(l);
    }
    assert_eq!(sharing::quarantine_list(&w.circle).unwrap().len(), 3);
    assert_eq!(w.held(), (0, 0));
    // Delta, a recipient, sees none of it in the feed.
    let (feed, _) = sharing::feed_after(&w.circle, &w.delta.member_id(), 0, 100).unwrap();
    assert!(feed.is_empty());
}

/// Delta moves its endpoint (request counter 1), then moves again (counter 2). Mallory, who
/// captured the first signed request, gets it sequenced again to point Delta's endpoint back at
/// a host she controls. The node's store folds every event through the roster rules before it
/// stores anything: the replay is refused and the roster keeps the new endpoint
/// (protocol.md §2.10). The sequencer's own authoring refuses it before signing, too.
#[test]
fn attack_member_request_replayed_at_node_store() {
    let mut w = world();
    let endpoint = |host: &str| MemberChange::SetEndpoint {
        endpoint: Some(format!("https://{host}.example.net:8443")),
        tls_spki_sha256: w.delta.tls_spki_pin(),
    };
    let (old, new) = (endpoint("delta-old"), endpoint("delta-new"));
    let mut at = w.now;
    let mut apply = |w: &mut World, change: &MemberChange, request: Envelope| {
        at = at.plus_seconds(60);
        let event = w
            .circle
            .roster
            .sequence(
                at,
                EventBody::for_member_request(change, request),
                w.node.identity(),
                Some(w.now.plus_seconds(3600)),
            )
            .unwrap();
        let (roster, _) = w
            .circle
            .store
            .append_roster_events(Some(&w.circle.roster), &[event], w.now.plus_seconds(3600))
            .unwrap();
        w.circle.roster = roster;
    };
    let expires = w.now.plus_seconds(86_400);
    let old_request = w
        .circle
        .roster
        .member_request(&w.delta.member_id(), old.clone(), expires)
        .sign(&w.delta)
        .unwrap();
    apply(&mut w, &old, old_request.clone());
    let new_request = w
        .circle
        .roster
        .member_request(&w.delta.member_id(), new.clone(), expires)
        .sign(&w.delta)
        .unwrap();
    apply(&mut w, &new, new_request);
    let head = w.circle.roster.head_id();
    let refusal = RosterError::CounterNotIncreasing {
        seq: 3,
        member: w.delta.member_id(),
        last: 2,
        got: 1,
    };
    let later = w.now.plus_seconds(3600);
    let replay_body = EventBody::for_member_request(&old, old_request);
    assert_eq!(
        w.circle
            .roster
            .sequence(
                w.now.plus_seconds(600),
                replay_body.clone(),
                w.node.identity(),
                Some(later)
            )
            .unwrap_err(),
        refusal
    );
    // Signed anyway (by a sequencer that skips its own checks) and offered to the store.
    let replay = w
        .circle
        .roster
        .next_event(w.now.plus_seconds(600), replay_body)
        .sign(w.node.identity())
        .unwrap();
    let err = w
        .circle
        .store
        .append_roster_events(Some(&w.circle.roster), &[replay], later)
        .unwrap_err();
    match err {
        RosterImportError::Rule { seq: 3, source } => {
            assert_eq!(source, refusal);
            assert_eq!(source.rule(), "§2.10");
        }
        other => panic!("{other:?}"),
    }
    let stored = w
        .node
        .circle(Some(&w.circle.roster.circle_id().to_hex()), later)
        .unwrap();
    assert_eq!(stored.roster.head_id(), head, "nothing stored");
    assert_eq!(
        stored
            .roster
            .member(&w.delta.member_id())
            .unwrap()
            .endpoint
            .as_deref(),
        Some("https://delta-new.example.net:8443")
    );
}

/// Bravo shares a RED report with the node S and Charlie only. Delta, a member but not a
/// recipient, asks the node for it by object id and reads the feed: the header (which lists
/// the recipients and the ciphertext) is never handed out; only the chain link, which every
/// member may see and which says no more than "named audience", is (protocol.md §3.21, §3).
/// These are the functions the `bundles/{id}` and `feed` routes answer from.
#[test]
fn attack_red_bundle_or_header_requested_by_non_recipient() {
    let mut w = world();
    let me = w.node.identity().member_id();
    let red = node_report(&w.bravo, "Our auth outage")
        .red(&[&w.charlie])
        .seal(&w.circle.roster, w.now)
        .unwrap();
    // S is not named: it keeps the link only, and serves no header to anyone.
    assert!(matches!(
        w.accept(red.as_bytes()).unwrap(),
        Accepted::New {
            readability: sharing::Readability::LinkOnly,
            ..
        }
    ));
    assert_eq!(w.held(), (1, 0));
    // A RED report naming S too: S holds it whole.
    let mut share = node_report(&w.bravo, "Our second auth outage").at(ChainPos::after(&red));
    share.tlp = debrief_protocol::bundle::Tlp::Red;
    share.named = vec![me.clone(), w.charlie.member_id()];
    let named = share.seal(&w.circle.roster, w.now).unwrap();
    assert!(matches!(
        w.accept(named.as_bytes()).unwrap(),
        Accepted::New {
            readability: sharing::Readability::Opened,
            ..
        }
    ));
    let id = named.header().id();
    for outsider in [
        w.delta.member_id(),
        company(66, "Mallory Holdings").member_id(),
    ] {
        assert!(
            sharing::bundle_object(&w.circle, &id, &outsider)
                .unwrap()
                .is_none()
        );
        assert!(
            sharing::bundle_object(&w.circle, &red.header().id(), &outsider)
                .unwrap()
                .is_none()
        );
        let (feed, _) = sharing::feed_after(&w.circle, &outsider, 0, 100).unwrap();
        assert!(feed.is_empty(), "{outsider} saw a RED header");
    }
    // Charlie, named, gets it byte for byte; both links are visible to every member.
    let got = sharing::bundle_object(&w.circle, &id, &w.charlie.member_id())
        .unwrap()
        .unwrap();
    assert_eq!(got.as_bytes(), named.as_bytes());
    let (feed, _) = sharing::feed_after(&w.circle, &w.charlie.member_id(), 0, 100).unwrap();
    assert_eq!(feed.iter().map(|e| e.object).collect::<Vec<_>>(), vec![id]);
    let links = sharing::links_after(&w.circle, 0, 100).unwrap();
    assert_eq!(links.len(), 2);
}

/// Delta, not a recipient of Bravo's RED report, tampers with its feed cursor (negative, zero,
/// exactly at and just before the hidden row, the largest and smallest values) hoping to land
/// inside the rows it may not see. Every cursor only moves the start of the scan; visibility is
/// decided per row, so the RED header never appears, and the circle-wide one always does
/// (protocol.md §3.21).
#[test]
fn attack_feed_cursor_tampering() {
    let mut w = world();
    let me = w.node.identity().member_id();
    let amber = node_report(&w.bravo, "Circle-wide")
        .seal(&w.circle.roster, w.now)
        .unwrap();
    let mut share = node_report(&w.bravo, "Named only").at(ChainPos::after(&amber));
    share.tlp = debrief_protocol::bundle::Tlp::Red;
    share.named = vec![me, w.charlie.member_id()];
    let red = share.seal(&w.circle.roster, w.now).unwrap();
    let amber2 = node_report(&w.charlie, "Circle-wide again")
        .seal(&w.circle.roster, w.now)
        .unwrap();
    for b in [&amber, &red, &amber2] {
        w.accept(b.as_bytes()).unwrap();
    }
    let delta = w.delta.member_id();
    let (all, end) = sharing::feed_after(&w.circle, &w.charlie.member_id(), 0, 100).unwrap();
    assert_eq!(all.len(), 3);
    let red_seq = all[1].ingest_seq;
    assert_eq!(all[1].object, red.header().id());
    for cursor in [i64::MIN, -1, 0, red_seq - 1, red_seq, end, i64::MAX] {
        for limit in [1, 100] {
            let mut seen = Vec::new();
            let mut c = cursor;
            loop {
                let (page, next) = sharing::feed_after(&w.circle, &delta, c, limit).unwrap();
                assert!(next >= c, "the cursor never moves back");
                if page.is_empty() {
                    break;
                }
                seen.extend(page.iter().map(|e| e.object));
                c = next;
            }
            assert!(
                !seen.contains(&red.header().id()),
                "cursor {cursor}: Delta saw the RED header"
            );
            let expected: Vec<_> = [&amber, &amber2]
                .iter()
                .zip([all[0].ingest_seq, all[2].ingest_seq])
                .filter(|(_, seq)| *seq > cursor)
                .map(|(b, _)| b.header().id())
                .collect();
            assert_eq!(seen, expected, "cursor {cursor}, limit {limit}");
        }
    }
}
