//! Sharing between three real homes through the built binary (issue "Sharing on a node"):
//! share, read, list, export/import, RED to one member, quarantine, idempotent import, a crash
//! inside `accept_bundle`, retraction purge and `reindex`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sharing_support;

use std::fs;

use sharing_support::*;

const WAF: &str = "2019-07-waf-regex-cpu-exhaustion.md";
const DB: &str = "2017-01-database-directory-deleted.md";

#[test]
fn circle_wide_and_red_shares_reach_the_right_members_and_tampering_is_quarantined() {
    let c3 = circle3();
    let (a, b, c) = (&c3.a, &c3.b, &c3.c);
    let amber = fixture(a, WAF, "waf.md", &[]);
    let out = a.ok(&["share", &amber]);
    assert!(out.contains("Shared bundle "), "{out}");
    for org in ["Acme", "Bravo", "Charlie"] {
        assert!(out.contains(org), "recipients by org name: {out}");
    }
    let shared: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    let amber_id = shared[2].to_owned();

    // A flag that contradicts the front matter, and --to without RED, are refused.
    let bad = a.run(&["share", &amber, "--tlp", "GREEN"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("contradicts"), "{}", stderr(&bad));
    let bad = a.run(&["share", &amber, "--to", "Bravo"]);
    assert!(stderr(&bad).contains("only TLP RED"), "{}", stderr(&bad));
    // A report with lint errors is refused before anything is signed.
    let broken = a.path("broken.md");
    fs::write(&broken, "+++\ntitle = 1\n+++\n").unwrap();
    let bad = a.run(&["share", &broken]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("lint errors"), "{}", stderr(&bad));

    // RED to Bravo only.
    let red = fixture(a, DB, "db-red.md", &[("tlp = \"GREEN\"", "tlp = \"RED\"")]);
    let r = a.json(&["share", &red, "--to", "Bravo", "--json"]);
    let red_id = shared_id(&r);
    let red_object = r["object"].as_str().unwrap().to_owned();
    let orgs: Vec<&str> = r["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[1].as_str().unwrap())
        .collect();
    assert_eq!(orgs.len(), 2);
    assert!(
        orgs.contains(&"Acme") && orgs.contains(&"Bravo"),
        "{orgs:?}"
    );

    let file = a.path("all.jsonl");
    a.ok(&["export", "--out", &file]);
    assert_eq!(fs::read_to_string(&file).unwrap().lines().count(), 2);

    // A tampered copy (one ciphertext character changed) reaches Charlie first.
    let text = fs::read_to_string(&file).unwrap();
    let first = text.lines().next().unwrap();
    let at = first.find("\"ciphertext\":\"").unwrap() + 40;
    let mut bytes = first.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    let tampered = a.path("tampered.jsonl");
    fs::write(&tampered, [bytes, b"\n".to_vec()].concat()).unwrap();
    let out = c.ok(&["import", &tampered]);
    assert!(
        out.contains("0 accepted, 0 already held, 1 quarantined"),
        "{out}"
    );
    assert!(
        out.contains("ciphertext does not match the length and SHA-256 in the header"),
        "{out}"
    );
    let q = c.json(&["quarantine", "list", "--json"]);
    assert_eq!(q.as_array().unwrap().len(), 1);
    let key = q[0]["key"].as_str().unwrap().to_owned();
    let shown = c.ok(&["quarantine", "show", &key[..10]]);
    assert!(shown.contains("ciphertext does not match"), "{shown}");
    assert_eq!(c.count("SELECT count(*) FROM bundles"), 0);

    // The genuine file is accepted afterwards.
    for h in [b, c] {
        let out = h.ok(&["import", &file]);
        assert!(
            out.contains("2 accepted, 0 already held, 0 quarantined"),
            "{out}"
        );
    }
    assert!(
        c.ok(&["import", &file])
            .contains("0 accepted, 2 already held")
    );

    // Both others read the circle-wide report, by a unique prefix.
    for h in [b, c] {
        let out = h.ok(&["read", &amber_id[..8]]);
        assert!(out.contains("==== TLP:AMBER ===="), "{out}");
        assert!(out.contains("Author: Acme"), "{out}");
        assert!(out.contains("Verified:"), "{out}");
        assert!(out.contains("backtracking regular expression"), "{out}");
        let list = h.json(&["list", "--json"]);
        assert_eq!(list[0]["author_org"], "Acme");
    }
    // Bravo reads the RED one; Charlie holds only its link and says so.
    let out = b.ok(&["read", &red_id]);
    assert!(out.contains("==== TLP:RED ===="), "{out}");
    let out = c.run(&["read", &red_object[..12]]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("TLP RED and was not shared with you"),
        "{text}"
    );
    assert!(text.contains("chain link: author Acme"), "{text}");
    assert_eq!(c.count("SELECT count(*) FROM links"), 2);
    assert_eq!(c.count("SELECT count(*) FROM bundles"), 1);
    let list = c.json(&["list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[test]
fn importing_the_same_file_twice_changes_nothing() {
    let c3 = circle3();
    let (a, b) = (&c3.a, &c3.b);
    a.ok(&["share", &fixture(a, WAF, "waf.md", &[])]);
    let file = a.path("all.jsonl");
    a.ok(&["export", "--out", &file]);
    b.ok(&["import", &file]);
    let state = |h: &Home| {
        (
            h.count("SELECT value FROM counters WHERE name = 'ingest_seq'"),
            h.count("SELECT count(*) FROM bundles"),
            h.count("SELECT count(*) FROM links"),
            h.count("SELECT count(*) FROM plaintext"),
            h.count("SELECT count(*) FROM quarantine"),
            h.ok(&["list", "--json"]),
        )
    };
    let before = state(b);
    let out = b.ok(&["import", &file]);
    assert!(
        out.contains("0 accepted, 1 already held, 0 quarantined"),
        "{out}"
    );
    assert_eq!(state(b), before);
}

#[test]
fn a_crash_inside_accept_bundle_leaves_no_partial_bundle() {
    let c3 = circle3();
    let (a, b) = (&c3.a, &c3.b);
    a.ok(&["share", &fixture(a, WAF, "waf.md", &[])]);
    let file = a.path("all.jsonl");
    a.ok(&["export", "--out", &file]);
    for point in ["accept-after-link", "accept-after-bundle"] {
        let out = b.run_env(&["import", &file], &[("DEBRIEF_CRASH_POINT", point)]);
        assert!(
            !out.status.success(),
            "the injected crash must kill the process"
        );
        assert!(stderr(&out).contains(point), "{}", stderr(&out));
        assert_eq!(b.count("SELECT count(*) FROM links"), 0);
        assert_eq!(b.count("SELECT count(*) FROM bundles"), 0);
        assert_eq!(b.count("SELECT count(*) FROM plaintext"), 0);
        assert_eq!(b.count("SELECT count(*) FROM reports"), 0);
    }
    let out = b.ok(&["import", &file]);
    assert!(out.contains("1 accepted"), "{out}");
    assert_eq!(b.count("SELECT count(*) FROM bundles"), 1);
}

#[test]
fn retraction_purges_the_body_everywhere_and_reindex_does_not_restore_it() {
    const WORD: &str = "zorblaxquint";
    let c3 = circle3();
    let (a, b) = (&c3.a, &c3.b);
    let secret = fixture(
        a,
        WAF,
        "waf.md",
        &[(
            "single sign-on",
            &format!("single sign-on ({WORD} cluster)"),
        )],
    );
    let keep = fixture(a, DB, "db.md", &[]);
    let s1 = shared_id(&a.json(&["share", &secret, "--json"]));
    let s2 = shared_id(&a.json(&["share", &keep, "--json"]));
    let file = a.path("all.jsonl");
    a.ok(&["export", "--out", &file]);
    b.ok(&["import", &file]);
    assert!(b.ok(&["search", WORD]).contains(&s1[..12]));
    assert!(
        !contains(&b.store_files(), WORD).is_empty(),
        "the word is stored before"
    );

    let out = a.ok(&[
        "retract",
        &s1[..8],
        "--reason",
        "Shared with the wrong circle.",
    ]);
    assert!(out.contains("Retracted"), "{out}");
    let file2 = a.path("retraction.jsonl");
    a.ok(&["export", "--out", &file2]);
    let out = b.ok(&["import", &file2]);
    assert!(out.contains("1 accepted, 2 already held"), "{out}");

    for h in [a, b] {
        assert_eq!(
            contains(&h.store_files(), WORD),
            Vec::<std::path::PathBuf>::new()
        );
        let list = h.json(&["list", "--json"]);
        assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
        assert_eq!(list[0]["bundle"], s2.as_str());
        let all = h.json(&["list", "--include-retracted", "--json"]);
        assert_eq!(all.as_array().unwrap().len(), 2);
        let out = h.ok(&["read", &s1]);
        assert!(out.contains("RETRACTED by its author"), "{out}");
        assert!(out.contains("Global edge outage"), "title stays: {out}");
        assert!(out.contains("Shared with the wrong circle."), "{out}");
    }

    // Lose the plaintext table; reindex rebuilds it from the signed bytes and the keystore.
    {
        let conn = rusqlite::Connection::open(b.store_path()).unwrap();
        conn.execute("DELETE FROM plaintext", []).unwrap();
    }
    assert!(!b.ok(&["read", &s2]).contains("Lessons"));
    let out = b.ok(&["reindex"]);
    assert!(out.contains("Reindexed"), "{out}");
    // s2 and the retraction notice are decrypted again; s1's body is not.
    assert_eq!(b.json(&["reindex", "--json"])["decrypted"], 2);
    assert!(b.ok(&["read", &s2]).contains("database"));
    assert!(b.ok(&["read", &s1]).contains("RETRACTED"));
    assert_eq!(
        contains(&b.store_files(), WORD),
        Vec::<std::path::PathBuf>::new()
    );
    assert!(b.ok(&["search", WORD]).contains("(no reports)"));

    // Out of order: Charlie gets the retraction before the report it retracts.
    let c = &c3.c;
    let mut lines: Vec<String> = fs::read_to_string(&file2)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    lines.reverse();
    let reversed = a.path("reversed.jsonl");
    fs::write(&reversed, lines.join("\n") + "\n").unwrap();
    let out = c.ok(&["import", &reversed]);
    assert!(
        out.contains("3 accepted, 0 already held, 0 quarantined"),
        "{out}"
    );
    assert_eq!(ids_of(&c.json(&["list", "--json"])), vec![s2.clone()]);
    assert!(c.ok(&["read", &s1]).contains("RETRACTED by its author"));
    assert_eq!(
        contains(&c.store_files(), WORD),
        Vec::<std::path::PathBuf>::new()
    );
}

fn ids_of(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|h| h["bundle"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn feed_and_object_queries_show_red_bundles_only_to_their_recipients() {
    use debrief_keys::Passphrase;
    use debrief_node::home::Home as NodeHome;
    use debrief_node::node::{Node, now};
    use debrief_node::sharing::{bundle_object, feed_after, links_after};
    use debrief_protocol::bundle::{BundleObject, verify_header_only};
    use zeroize::Zeroizing;

    let c3 = circle3();
    let (a, b, c) = (&c3.a, &c3.b, &c3.c);
    a.ok(&["share", &fixture(a, WAF, "waf.md", &[])]);
    let red = fixture(a, DB, "db-red.md", &[("tlp = \"GREEN\"", "tlp = \"RED\"")]);
    let red_object = a.json(&["share", &red, "--to", "Bravo", "--json"])["object"]
        .as_str()
        .unwrap()
        .to_owned();
    let member = |h: &Home| {
        let out = h.ok(&["id", "show"]);
        out.split_whitespace()
            .find(|w| w.starts_with("(db1"))
            .unwrap()
            .trim_matches(|c| c == '(' || c == ')')
            .to_owned()
    };
    let (bid, cid) = (member(b), member(c));

    let pass = Passphrase::new(Zeroizing::new("correct horse battery staple".into())).unwrap();
    let node = Node::open_with(NodeHome::at(&a.home), pass).unwrap();
    let t = now();
    let circle = node.circle(None, t).unwrap();
    let links = links_after(&circle, 0, 10).unwrap();
    assert_eq!(links.len(), 2);
    assert!(links[0].0 < links[1].0, "ingest seqs strictly increase");
    assert_eq!(links_after(&circle, links[0].0, 10).unwrap().len(), 1);

    let (for_b, cur_b) = feed_after(&circle, &bid.parse().unwrap(), 0, 10).unwrap();
    let (for_c, cur_c) = feed_after(&circle, &cid.parse().unwrap(), 0, 10).unwrap();
    assert_eq!(for_b.len(), 2);
    assert_eq!(for_c.len(), 1, "RED header hidden from Charlie");
    assert_eq!(cur_b, cur_c, "the cursor moves past hidden rows too");
    assert!(
        feed_after(&circle, &bid.parse().unwrap(), cur_b, 10)
            .unwrap()
            .0
            .is_empty()
    );

    let id = red_object.parse().unwrap();
    assert!(
        bundle_object(&circle, &id, &cid.parse().unwrap())
            .unwrap()
            .is_none()
    );
    let obj = bundle_object(&circle, &id, &bid.parse().unwrap())
        .unwrap()
        .unwrap();
    // What is served parses and verifies like anything received.
    let again = BundleObject::parse(obj.as_bytes()).unwrap();
    assert_eq!(again.id(), id);
    verify_header_only(&again, &circle.roster, t).unwrap();
}

#[test]
fn a_second_link_for_a_held_chain_position_is_quarantined_as_equivocation() {
    use debrief_keys::Passphrase;
    use debrief_node::home::Home as NodeHome;
    use debrief_node::node::{Node, now};
    use debrief_node::sharing::{new_bundle_id, report_body};
    use debrief_protocol::bundle::{BundleKind, SealRequest, Tlp, seal};
    use debrief_protocol::report;
    use zeroize::Zeroizing;

    let c3 = circle3();
    let (a, b) = (&c3.a, &c3.b);
    let waf = fixture(a, WAF, "waf.md", &[]);
    a.ok(&["share", &waf]);
    let file = a.path("1.jsonl");
    a.ok(&["export", "--out", &file]);
    b.ok(&["import", &file]);

    let pass = Passphrase::new(Zeroizing::new("correct horse battery staple".into())).unwrap();
    let node = Node::open_with(NodeHome::at(&a.home), pass).unwrap();
    let t = now();
    let circle = node.circle(None, t).unwrap();
    let parsed = report::parse(&fs::read_to_string(&waf).unwrap()).unwrap();
    let forge = |seq: u64, prev| {
        seal(SealRequest {
            roster: &circle.roster,
            roster_fresh_as_of: t,
            max_roster_age_secs: 86_400,
            author: node.identity().member_id(),
            signer: node.identity(),
            author_seq: seq,
            prev_link: prev,
            bundle_id: new_bundle_id(),
            kind: BundleKind::Report,
            target: None,
            tlp: Tlp::Amber,
            named: Vec::new(),
            body: report_body(&parsed).unwrap(),
            now: t,
        })
        .unwrap()
    };
    let same_seq = forge(1, None);
    let broken_prev = forge(2, Some(same_seq.id()));
    drop(circle);
    drop(node);
    let bad = a.path("bad.jsonl");
    fs::write(
        &bad,
        [same_seq.as_bytes(), b"\n", broken_prev.as_bytes(), b"\n"].concat(),
    )
    .unwrap();
    let out = b.ok(&["import", &bad]);
    assert!(
        out.contains("0 accepted, 0 already held, 2 quarantined"),
        "{out}"
    );
    assert!(out.contains("line 1: quarantined"), "{out}");
    assert!(out.contains("already has link"), "{out}");
    assert!(out.contains("equivocation (broken-prev)"), "{out}");
    assert_eq!(b.count("SELECT count(*) FROM links"), 1);
}

#[test]
fn share_names_members_admitted_since_the_previous_share() {
    use debrief_keys::Passphrase;
    use debrief_node::home::Home as NodeHome;
    use debrief_node::node::{Node, now};
    use debrief_protocol::Sha256Digest;
    use debrief_protocol::roster::{EventBody, InviteToken, JoinRequest};
    use zeroize::Zeroizing;

    let c3 = circle3();
    let (a, b) = (&c3.a, &c3.b);
    let first = a.ok(&["share", &fixture(a, WAF, "waf.md", &[])]);
    assert!(!first.contains("admitted since"), "{first}");

    // Delta joins: invited by Acme, vouched by Acme and Bravo (policy: 2 vouches), sequenced
    // by Acme, built with the protocol's authoring helpers and real keys.
    let d = sharing_support::init(c3.dir.path(), "Delta");
    let open = |h: &Home| {
        let pass = Passphrase::new(Zeroizing::new("correct horse battery staple".into())).unwrap();
        Node::open_with(NodeHome::at(&h.home), pass).unwrap()
    };
    let (na, nb, nd) = (open(a), open(b), open(&d));
    let t = now().plus_seconds(1);
    let mut circle = na.circle(None, t).unwrap();
    let token = InviteToken::from_bytes([9; 32]);
    let invite = circle
        .roster
        .invite(
            &na.identity().member_id(),
            "https://acme.example:8443".into(),
            Sha256Digest::of(b"acme tls key"),
            &token,
            t.plus_seconds(14 * 86_400),
        )
        .sign(na.identity())
        .unwrap();
    let join_request = JoinRequest {
        circle: circle.roster.circle_id(),
        card: nd.signed_card(t).unwrap(),
        charter_sha256: circle.roster.charter_sha256(),
        invite_token: token.to_hex(),
        rotations: Vec::new(),
    }
    .sign(nd.identity())
    .unwrap();
    let vouch = |n: &Node| {
        circle
            .roster
            .vouch(
                &n.identity().member_id(),
                join_request.id(),
                t,
                t.plus_seconds(7 * 86_400),
                "we worked with them".into(),
            )
            .sign(n.identity())
            .unwrap()
    };
    let vouches = vec![vouch(&na), vouch(&nb)];
    let admit = circle
        .roster
        .sequence(
            t,
            EventBody::Admit {
                invite,
                join_request,
                vouches,
            },
            na.identity(),
            Some(t),
        )
        .unwrap();
    let roster = circle.roster.clone();
    circle
        .store
        .append_roster_events(Some(&roster), &[admit], t)
        .unwrap();
    drop((circle, na, nb, nd));

    let second = a.ok(&["share", &fixture(a, DB, "db.md", &[])]);
    assert!(
        second.contains("members admitted since your last share"),
        "{second}"
    );
    let tail = &second[second.find("admitted since").unwrap()..];
    assert!(tail.contains("Delta"), "{second}");
    assert!(!tail.contains("Bravo"), "{second}");
    let third = a.ok(&["share", &fixture(a, WAF, "waf3.md", &[])]);
    assert!(!third.contains("admitted since"), "{third}");
}
