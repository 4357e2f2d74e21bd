//! Search, revisions, retractions, comments and actions between three real homes through the
//! built binary (issue "Search, revisions, retractions, comments, and action tracking").
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sharing_support;

use std::fs;

use debrief_keys::Passphrase;
use debrief_node::home::Home as NodeHome;
use debrief_node::node::{Node, now};
use debrief_protocol::bundle::{BundleBody, BundleKind, SealRequest, TargetInfo, Tlp, seal};
use sharing_support::*;
use zeroize::Zeroizing;

const WAF: &str = "2019-07-waf-regex-cpu-exhaustion.md";
const DB: &str = "2017-01-database-directory-deleted.md";

fn ids(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|h| h["bundle"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn search_ranks_filters_and_follows_revisions_and_retractions_on_three_homes() {
    let c3 = circle3();
    let (a, b, c) = (&c3.a, &c3.b, &c3.c);
    // "quokka" is in the DB report's title and only in the WAF report's body.
    let waf = fixture(
        a,
        WAF,
        "waf.md",
        &[("single sign-on", "single sign-on (the quokka cluster)")],
    );
    let db = fixture(
        a,
        DB,
        "db.md",
        &[(
            "title = \"Primary database",
            "title = \"Quokka: primary database",
        )],
    );
    let w = shared_id(&a.json(&["share", &waf, "--json"]));
    let d = shared_id(&a.json(&["share", &db, "--json"]));
    let file = a.path("1.jsonl");
    a.ok(&["export", "--out", &file]);
    b.ok(&["import", &file]);
    c.ok(&["import", &file]);

    // Ranking: the title match comes first; snippets are highlighted.
    let hits = b.json(&["search", "quokka", "--json"]);
    assert_eq!(ids(&hits), vec![d.clone(), w.clone()]);
    assert!(
        hits[1]["snippet"].as_str().unwrap().contains("[quokka]"),
        "{hits}"
    );
    // A word from the body; factor category; pattern; other filters.
    assert_eq!(
        ids(&b.json(&["search", "backtracked", "--json"])),
        vec![w.clone()]
    );
    assert_eq!(
        ids(&b.json(&["search", "--category", "change.config", "--json"])),
        vec![w.clone()]
    );
    assert_eq!(
        ids(&b.json(&["search", "--pattern", "two-person-rule", "--json"])),
        vec![d.clone()]
    );
    assert_eq!(
        ids(&b.json(&["list", "--tlp", "green", "--author", "acme", "--json"])),
        vec![d.clone()]
    );
    assert_eq!(
        ids(&b.json(&["list", "--since", "2018-01-01", "--json"])),
        vec![w.clone()]
    );
    assert_eq!(
        ids(&b.json(&["search", "--category", "change.", "--json"])).len(),
        2
    );

    // Actions across reports; stats.
    let open = b.json(&["actions", "--status", "open", "--json"]);
    let got: Vec<(String, String)> = open
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["pattern"].as_str().unwrap().into(),
                x["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("bounded-execution".to_owned(), "in-progress".to_owned()),
            ("two-person-rule".to_owned(), "in-progress".to_owned())
        ]
    );
    let stats = b.json(&["stats", "--json"]);
    assert_eq!(stats["reports"], 2);

    // A revision (the author closes an action and renames the report) replaces the old version.
    let waf2 = fixture(
        a,
        WAF,
        "waf2.md",
        &[
            ("single sign-on", "single sign-on (the quokka cluster)"),
            (
                "title = \"Global edge outage",
                "title = \"Worldwide edge outage",
            ),
            ("status = \"in-progress\"", "status = \"done\""),
        ],
    );
    let r = a.json(&["revise", &w[..10], &waf2, "--json"]);
    assert_eq!(r["version"], 2);
    assert_eq!(shared_id(&r), w);
    let file2 = a.path("2.jsonl");
    a.ok(&["export", &w, "--out", &file2]);
    for h in [b, c] {
        h.ok(&["import", &file2]);
        let hits = h.json(&["search", "edge", "--json"]);
        assert_eq!(ids(&hits), vec![w.clone()]);
        assert_eq!(hits[0]["version"], 2);
        assert!(hits[0]["title"].as_str().unwrap().starts_with("Worldwide"));
        let open = h.json(&["actions", "--status", "open", "--json"]);
        assert_eq!(open.as_array().unwrap().len(), 1, "{open}");
        let out = h.ok(&["read", &w, "--history"]);
        assert!(out.contains("version 2 of 2"), "{out}");
        assert!(out.contains("changes from v1 to v2"), "{out}");
        assert!(out.contains("- title = \"Global edge outage"), "{out}");
        assert!(out.contains("+ title = \"Worldwide edge outage"), "{out}");
    }

    // Only the author may revise or retract.
    let bad = b.run(&["revise", &w, &waf2]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("only the author of a report may revise it"),
        "{}",
        stderr(&bad)
    );
    let bad = c.run(&["retract", &d, "--reason", "mine now"]);
    assert!(
        stderr(&bad).contains("only the author of a report may retract it"),
        "{}",
        stderr(&bad)
    );

    // A retraction hides the report on all three homes.
    a.ok(&[
        "retract",
        &d,
        "--reason",
        "Too specific; will reshare generalised.",
    ]);
    let file3 = a.path("3.jsonl");
    a.ok(&["export", &d, "--out", &file3]);
    for h in [a, b, c] {
        if h.org != "Acme" {
            h.ok(&["import", &file3]);
        }
        assert_eq!(
            ids(&h.json(&["search", "quokka", "--json"])),
            vec![w.clone()]
        );
        assert_eq!(ids(&h.json(&["list", "--json"])), vec![w.clone()]);
        let all = h.json(&["list", "--include-retracted", "--json"]);
        assert_eq!(all.as_array().unwrap().len(), 2);
        assert_eq!(
            all.as_array()
                .unwrap()
                .iter()
                .filter(|x| x["retracted"] == true)
                .count(),
            1
        );
        assert_eq!(h.json(&["stats", "--json"])["reports"], 1);
    }
}

#[test]
fn a_retraction_forged_by_a_non_author_is_quarantined() {
    let c3 = circle3();
    let (a, b) = (&c3.a, &c3.b);
    let w = shared_id(&a.json(&["share", &fixture(a, WAF, "waf.md", &[]), "--json"]));
    let file = a.path("1.jsonl");
    a.ok(&["export", "--out", &file]);
    b.ok(&["import", &file]);

    // Bravo signs a retraction of Acme's report that claims Bravo wrote the target.
    let pass = Passphrase::new(Zeroizing::new("correct horse battery staple".into())).unwrap();
    let node = Node::open_with(NodeHome::at(&b.home), pass).unwrap();
    let t = now();
    let circle = node.circle(None, t).unwrap();
    let header: String = rusqlite::Connection::open(b.store_path())
        .unwrap()
        .query_row(
            "SELECT header_id FROM bundles WHERE bundle_id = ?1",
            [&w],
            |r| r.get(0),
        )
        .unwrap();
    let me = node.identity().member_id();
    let lie = TargetInfo {
        header_id: header.parse().unwrap(),
        author: me.clone(),
        bundle: w.parse().unwrap(),
        version: 1,
        kind: BundleKind::Report,
        tlp: Tlp::Amber,
        recipients: circle.roster.members().map(|m| m.id.clone()).collect(),
        lineage_recipients: Vec::new(),
    };
    let forged = seal(SealRequest {
        roster: &circle.roster,
        roster_fresh_as_of: t,
        max_roster_age_secs: 86_400,
        author: me,
        signer: node.identity(),
        author_seq: 1,
        prev_link: None,
        bundle_id: debrief_node::sharing::new_bundle_id(),
        kind: BundleKind::Retraction,
        target: Some(&lie),
        tlp: Tlp::Amber,
        named: Vec::new(),
        body: BundleBody::Text("gone".into()),
        now: t,
    })
    .unwrap();
    drop(circle);
    drop(node);
    let forged_file = a.path("forged.jsonl");
    fs::write(&forged_file, [forged.as_bytes(), b"\n"].concat()).unwrap();
    let out = a.ok(&["import", &forged_file]);
    assert!(out.contains("1 quarantined"), "{out}");
    assert!(
        out.contains("the target is not the bundle this one names (author)"),
        "{out}"
    );
    assert_eq!(ids(&a.json(&["list", "--json"])), vec![w.clone()]);
    // Bravo, holding the same target, refuses it too (its own import path is the same check).
    let out = b.ok(&["import", &forged_file]);
    assert!(out.contains("1 quarantined"), "{out}");
    assert_eq!(ids(&b.json(&["list", "--json"])), vec![w]);
}

#[test]
fn a_comment_thread_round_trips_between_homes() {
    let c3 = circle3();
    let (a, b, c) = (&c3.a, &c3.b, &c3.c);
    let w = shared_id(&a.json(&["share", &fixture(a, WAF, "waf.md", &[]), "--json"]));
    let f1 = a.path("1.jsonl");
    a.ok(&["export", "--out", &f1]);
    b.ok(&["import", &f1]);
    c.ok(&["import", &f1]);

    let q = b.json(&[
        "comment",
        &w[..8],
        "How long did the global rule switch take?",
        "--json",
    ]);
    assert_eq!(q["kind"], "comment");
    let q_id = shared_id(&q);
    let f2 = b.path("2.jsonl");
    b.ok(&["export", &w, "--out", &f2]);
    assert!(a.ok(&["import", &f2]).contains("1 accepted"));
    let reply_file = a.path("reply.txt");
    fs::write(&reply_file, "About 20 minutes, mostly getting access.\n").unwrap();
    a.ok(&["comment", &q_id, "--file", &reply_file]);
    let f3 = a.path("3.jsonl");
    a.ok(&["export", &w, "--out", &f3]);
    for h in [b, c] {
        h.ok(&["import", &f3]);
        let out = h.ok(&["read", &w]);
        assert!(out.contains("Comments:"), "{out}");
        let qpos = out
            .find("How long did the global rule switch take?")
            .unwrap();
        let apos = out
            .find("About 20 minutes, mostly getting access.")
            .unwrap();
        assert!(qpos < apos, "{out}");
        assert!(out.contains(&format!("  [{}] Bravo", &q_id[..12])), "{out}");
        let v = h.json(&["read", &w, "--json"]);
        let comments = v["comments"].as_array().unwrap();
        assert_eq!(comments.len(), 2);
        assert_eq!(comments[0]["depth"], 0);
        assert_eq!(comments[0]["author_org"], "Bravo");
        assert_eq!(comments[1]["depth"], 1);
        assert_eq!(comments[1]["author_org"], "Acme");
    }
}
