//! Author chains through the built binary: the tip a removal records (protocol.md §2.9), gaps
//! and equivocation proofs (§3.28) shown by `debrief chains`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sharing_support;

use std::fs;

use debrief_protocol::Envelope;
use sharing_support::*;

const WAF: &str = "2019-07-waf-regex-cpu-exhaustion.md";
const DB: &str = "2017-01-database-directory-deleted.md";

/// The payload of the newest roster event in a home's circle store.
fn last_event(h: &Home) -> serde_json::Value {
    let conn = rusqlite::Connection::open(h.store_path()).unwrap();
    let bytes: Vec<u8> = conn
        .query_row(
            "SELECT envelope FROM roster_events ORDER BY seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    Envelope::from_json(&bytes)
        .unwrap()
        .unverified_payload()
        .unwrap()
}

fn find<'a>(v: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
    match v {
        serde_json::Value::Object(m) => {
            m.get(key).or_else(|| m.values().find_map(|x| find(x, key)))
        }
        serde_json::Value::Array(a) => a.iter().find_map(|x| find(x, key)),
        _ => None,
    }
}

#[test]
fn a_removal_records_the_real_tip_and_nothing_past_it_is_accepted() {
    let c3 = circle3();
    let (a, b, c) = (&c3.a, &c3.b, &c3.c);
    // Charlie shares two reports; Acme (the sequencer) holds both links.
    c.ok(&["share", &fixture(c, WAF, "c1.md", &[])]);
    c.ok(&["share", &fixture(c, DB, "c2.md", &[])]);
    let two = c.path("c-two.jsonl");
    c.ok(&["export", "--out", &two]);
    assert!(a.ok(&["import", &two]).contains("2 accepted"));
    let link2: String = {
        let conn = rusqlite::Connection::open(a.store_path()).unwrap();
        conn.query_row("SELECT link_id FROM links WHERE author_seq = 2", [], |r| {
            r.get(0)
        })
        .unwrap()
    };

    // Acme removes Charlie (one maintainer: the quorum is 1).
    let rm = a.path("rm.json");
    let made = a.ok(&[
        "circle",
        "remove",
        "Charlie",
        "--reason",
        "left the sector",
        "--out",
        &rm,
    ]);
    assert!(made.contains("quorum met"), "{made}");
    let applied = a.ok(&["circle", "apply", &rm]);
    assert!(applied.contains("removed"), "{applied}");
    let event = last_event(a);
    assert_eq!(event["event"]["kind"], "remove", "{event}");
    let tip = find(&event, "chain_tip").unwrap();
    assert_eq!(tip["seq"], 2, "{event}");
    assert_eq!(tip["link"].as_str().unwrap(), link2, "{event}");

    // Charlie has not heard yet and signs a third report (seq 3) under its old roster.
    c.ok(&[
        "share",
        &fixture(c, WAF, "c3.md", &[("title = \"", "title = \"Again: ")]),
    ]);
    let three = c.path("c-three.jsonl");
    c.ok(&["export", "--out", &three]);
    assert_eq!(fs::read_to_string(&three).unwrap().lines().count(), 3);

    // Bravo learns of the removal, then receives Charlie's bundles late: seqs 1 and 2 are
    // within the tip and accepted; seq 3 is past it and refused.
    let roster = a.path("roster-after.json");
    a.ok(&["circle", "export", &roster, "--force"]);
    b.ok(&["circle", "import", &roster]);
    let out = b.ok(&["import", &three]);
    assert!(
        out.contains("2 accepted, 0 already held, 1 quarantined"),
        "{out}"
    );
    assert!(
        out.contains("author seq 3 is beyond seq 2, the last one the signing key may sign"),
        "{out}"
    );
    assert_eq!(b.count("SELECT max(author_seq) FROM links"), 2);
    // Acme, which held 1 and 2 already, refuses 3 too.
    let out = a.ok(&["import", &three]);
    assert!(
        out.contains("0 accepted, 2 already held, 1 quarantined"),
        "{out}"
    );
}

#[test]
fn chains_shows_gaps_and_stored_equivocation_proofs() {
    use debrief_keys::Passphrase;
    use debrief_node::home::Home as NodeHome;
    use debrief_node::node::{Node, now};
    use debrief_node::sharing::{self, new_bundle_id, report_body};
    use debrief_node::store::bundles::equivocations;
    use debrief_protocol::bundle::{BundleKind, SealRequest, Tlp, seal};
    use debrief_protocol::report;
    use zeroize::Zeroizing;

    let c3 = circle3();
    let (a, b) = (&c3.a, &c3.b);
    let mut files = Vec::new();
    for (i, f) in [WAF, DB, WAF, DB].iter().enumerate() {
        let r = a.json(&["share", &fixture(a, f, &format!("r{i}.md"), &[]), "--json"]);
        let file = a.path(&format!("r{i}.jsonl"));
        a.ok(&["export", &shared_id(&r), "--out", &file]);
        files.push(file);
    }
    // Bravo gets seqs 1 and 4 only: seqs 2-3 are a gap (a relay withheld them).
    b.ok(&["import", &files[0]]);
    b.ok(&["import", &files[3]]);
    let v = b.json(&["chains", "--json"]);
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v[0]["org"], "Acme");
    assert_eq!(v[0]["links"], 2);
    assert_eq!(v[0]["highest"], 4);
    assert_eq!(v[0]["contiguous_to"], 1);
    assert_eq!(v[0]["gaps"], serde_json::json!([[2, 3]]));
    let text = b.ok(&["chains"]);
    assert!(text.contains("gap: seqs 2-3 not held"), "{text}");
    {
        let pass = Passphrase::new(Zeroizing::new("correct horse battery staple".into())).unwrap();
        let node = Node::open_with(NodeHome::at(&b.home), pass).unwrap();
        let circle = node.circle(None, now()).unwrap();
        let gaps = sharing::chain_gaps(&circle).unwrap();
        assert_eq!(gaps.len(), 1);
        assert_eq!(gaps[0].1, 2..=3);
        assert_eq!(gaps[0].0.to_string(), v[0]["author"].as_str().unwrap());
    }
    b.ok(&["import", &files[2]]);
    b.ok(&["import", &files[1]]);
    let v = b.json(&["chains", "--json"]);
    assert_eq!(v[0]["gaps"], serde_json::json!([]));
    assert_eq!(v[0]["contiguous_to"], 4);

    // Acme signs a second, different link for seq 2: Bravo stores the proof and refuses it.
    let pass = Passphrase::new(Zeroizing::new("correct horse battery staple".into())).unwrap();
    let node = Node::open_with(NodeHome::at(&a.home), pass).unwrap();
    let t = now();
    let circle = node.circle(None, t).unwrap();
    let prev: String = circle
        .store
        .conn()
        .query_row("SELECT link_id FROM links WHERE author_seq = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    let waf = fixture(a, WAF, "forged.md", &[]);
    let parsed = report::parse(&fs::read_to_string(&waf).unwrap()).unwrap();
    let forged = seal(SealRequest {
        roster: &circle.roster,
        roster_fresh_as_of: t,
        max_roster_age_secs: 86_400,
        author: node.identity().member_id(),
        signer: node.identity(),
        author_seq: 2,
        prev_link: Some(prev.parse().unwrap()),
        bundle_id: new_bundle_id(),
        kind: BundleKind::Report,
        target: None,
        tlp: Tlp::Amber,
        named: Vec::new(),
        body: report_body(&parsed).unwrap(),
        now: t,
    })
    .unwrap();
    drop(circle);
    drop(node);
    let bad = a.path("forged.jsonl");
    fs::write(&bad, [forged.as_bytes(), b"\n"].concat()).unwrap();
    for _ in 0..2 {
        let out = b.ok(&["import", &bad]);
        assert!(out.contains("1 quarantined"), "{out}");
        assert!(out.contains("equivocation (same-seq)"), "{out}");
    }
    let out = b.run(&["chains"]);
    assert_eq!(out.status.code(), Some(1), "a held proof is a finding");
    let text = stdout(&out);
    assert!(text.contains("EQUIVOCATION (same-seq) at seq 2"), "{text}");
    assert_eq!(b.count("SELECT count(*) FROM chain_equivocations"), 1);
    assert_eq!(b.count("SELECT count(*) FROM links"), 4);
    // The stored proof is both links, exactly as signed, and checks against the roster.
    let store = debrief_node::store::circle::CircleStore::open(&b.store_path()).unwrap();
    let proofs = equivocations(store.conn()).unwrap();
    let roster = store.load_roster(None).unwrap();
    let (who, at) = proofs[0].proof.verify(&roster).unwrap();
    assert_eq!(
        (who.to_string(), at),
        (v[0]["author"].as_str().unwrap().to_owned(), 2)
    );
    debrief_node::store::bundles::check_invariants(&store).unwrap();
}
