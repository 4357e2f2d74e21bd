//! `debrief reshare` through the built binary (issue 12): a member admitted after a report was
//! shared cannot read it; once the author reshares it to them, they can.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sharing_support;

use sharing_support::*;

const WAF: &str = "2019-07-waf-regex-cpu-exhaustion.md";
const DB: &str = "2017-01-database-directory-deleted.md";

/// Delta is invited by Acme, vouched for by Acme and Bravo, admitted by Acme; every home
/// imports the new roster.
fn admit_delta(c3: &Circle3) -> Home {
    let (a, b, c) = (&c3.a, &c3.b, &c3.c);
    let d = init(c3.dir.path(), "Delta");
    let info = a.path("d.info");
    a.ok(&["circle", "invite", "--out", &info]);
    let req = a.path("d.req");
    d.ok(&[
        "circle",
        "request",
        &info,
        "--out",
        &req,
        "--accept-charter",
    ]);
    let bv = a.path("b.vouch");
    b.ok(&[
        "circle",
        "vouch",
        &req,
        "--reason",
        "worked together",
        "--out",
        &bv,
    ]);
    a.ok(&[
        "circle",
        "vouch",
        &req,
        "--reason",
        "long-time peer",
        "--out",
        &a.path("a.vouch"),
    ]);
    let admitted = a.ok(&["circle", "admit", &req, "--vouch", &bv]);
    assert!(admitted.contains("admitted"), "{admitted}");
    let roster = a.path("roster-d.json");
    a.ok(&["circle", "export", &roster, "--force"]);
    for h in [b, c, &d] {
        h.ok(&["circle", "import", &roster]);
    }
    d
}

#[test]
fn a_newcomer_reads_a_report_only_once_it_is_reshared_to_them() {
    let c3 = circle3();
    let (a, b) = (&c3.a, &c3.b);
    let waf = shared_id(&a.json(&["share", &fixture(a, WAF, "waf.md", &[]), "--json"]));
    let red = fixture(a, DB, "db-red.md", &[("tlp = \"GREEN\"", "tlp = \"RED\"")]);
    let red = shared_id(&a.json(&["share", &red, "--to", "Bravo", "--json"]));
    let d = admit_delta(&c3);
    a.confirm_roster_fresh();

    // Delta receives everything Acme holds, but was not a recipient of either report.
    let all = a.path("all.jsonl");
    a.ok(&["export", "--out", &all, "--force"]);
    let out = d.ok(&["import", &all]);
    assert!(out.contains("2 accepted"), "{out}");
    let out = d.run(&["read", &waf]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("was not encrypted to you"),
        "{}",
        stdout(&out)
    );
    assert_eq!(d.json(&["list", "--json"]), serde_json::json!([]));

    // Only the author may reshare (Bravo holds and reads the report, but did not write it);
    // nobody may reshare to someone who can already read it.
    b.ok(&["import", &all]);
    let err = b.run(&["reshare", &waf, "--to", "Delta"]);
    assert_eq!(err.status.code(), Some(2));
    assert!(stderr(&err).contains("only the author"), "{}", stderr(&err));
    let err = a.run(&["reshare", &waf, "--to", "Bravo"]);
    assert!(
        stderr(&err).contains("can already read"),
        "{}",
        stderr(&err)
    );

    // Acme reshares both; Delta can read them afterwards.
    let r = a.json(&["reshare", &waf[..10], "--to", "Delta", "--json"]);
    assert_eq!(r["kind"], "reshare");
    assert_eq!(r["bundle"].as_str().unwrap(), waf, "same lineage");
    assert_eq!(r["version"], 1);
    let new: Vec<&str> = r["new_readers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[1].as_str().unwrap())
        .collect();
    assert_eq!(new, ["Delta"]);
    let out = a.ok(&["reshare", &red, "--to", "Delta"]);
    assert!(out.contains("Reshared bundle"), "{out}");
    assert!(out.contains("new readers:"), "{out}");
    let recipients = &out[out.find("recipients:").unwrap()..out.find("new readers:").unwrap()];
    assert!(
        recipients.contains("Delta")
            && !recipients.contains("Bravo")
            && !recipients.contains("Charlie"),
        "a RED reshare goes to the named members only: {out}"
    );
    let file = a.path("reshares.jsonl");
    a.ok(&["export", &waf, &red, "--out", &file]);
    let out = d.ok(&["import", &file]);
    assert!(out.contains("2 accepted, 2 already held"), "{out}");
    for (id, banner, words) in [
        (
            &waf,
            "==== TLP:AMBER ====",
            "backtracking regular expression",
        ),
        (&red, "==== TLP:RED ====", "data directory"),
    ] {
        let text = d.ok(&["read", id]);
        assert!(text.contains(banner), "{text}");
        assert!(text.contains("Author: Acme"), "{text}");
        assert!(text.contains(words), "{text}");
    }
    let list = d.json(&["list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    assert!(d.ok(&["search", "backtracking"]).contains(&waf[..12]));

    // Charlie gets the circle-wide reshare too (it goes to the whole circle), still sees one
    // report, and still cannot read the RED one.
    let c = &c3.c;
    c.ok(&["import", &all]);
    c.ok(&["import", &file]);
    let list = c.json(&["list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["bundle"].as_str().unwrap(), waf);

    // A retraction must now reach Delta too (it read the lineage); the reshare counts.
    let r = a.json(&["retract", &waf, "--reason", "wrong customer data", "--json"]);
    let names: Vec<&str> = r["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[1].as_str().unwrap())
        .collect();
    assert!(names.contains(&"Delta"), "{names:?}");
    let err = a.run(&["reshare", &waf, "--to", "Delta"]);
    assert!(stderr(&err).contains("retracted"), "{}", stderr(&err));
}
