//! Review, approvals and publishing through the built binary (issue 14, node side): three real
//! homes (Acme: maintainer; Bravo: author; Charlie: reviewer), bundles carried by export/import
//! and proposals by files. Preview → request → review → approvals → publish → cosign → `verify`
//! on a copy; the refusals; errata after a revision (stale approvals); retraction; provenance.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sharing_support;

use std::fs;
use std::path::Path;

use debrief_keys::Passphrase;
use debrief_node::home::Home as NodeHome;
use debrief_protocol::Timestamp;
use debrief_protocol::envelope::Envelope;
use debrief_protocol::publog::{ProvenanceClaim, layout};
use sharing_support::*;
use zeroize::Zeroizing;

const WAF: &str = "2019-07-waf-regex-cpu-exhaustion.md";
const DB: &str = "2017-01-database-directory-deleted.md";

/// Carries every bundle `from` holds to `to` (what sync will do over HTTPS).
fn carry(from: &Home, to: &Home) {
    let file = from.path(&format!("carry-{}-{}.jsonl", from.org, to.org));
    from.ok(&["export", "--out", &file, "--force"]);
    to.ok(&["import", &file]);
}

fn code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap()
}

/// Runs, expects exit 2 (refused), returns stderr.
fn refused(h: &Home, args: &[&str]) -> String {
    let out = h.run(args);
    assert_eq!(
        code(&out),
        2,
        "expected a refusal: {}\n{}",
        stdout(&out),
        stderr(&out)
    );
    stderr(&out)
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap();
        if name == "pending" {
            continue;
        }
        if p.is_dir() {
            copy_dir(&p, &to.join(name));
        } else {
            fs::copy(&p, to.join(name)).unwrap();
        }
    }
}

fn public_dir(h: &Home) -> std::path::PathBuf {
    h.store_path().parent().unwrap().join("public")
}

fn share(h: &Home, file: &str) -> String {
    shared_id(&h.json(&["share", file, "--json"]))
}

#[test]
fn preview_request_review_publish_cosign_verify_erratum_retract_and_prove() {
    let c3 = circle3();
    let (a, b, c) = (&c3.a, &c3.b, &c3.c);

    // Bravo shares a report circle-wide; everybody holds it.
    let waf = fixture(b, WAF, "waf.md", &[]);
    let r = share(b, &waf);
    carry(b, a);
    carry(b, c);

    // issue 13: preview by id, on the latest version decrypted from the store.
    let out = b.run(&["declassify", "preview", &r]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains(&format!("Declassification preview of report \"{r}\"")));
    assert!(
        stdout(&out).contains("Verdict: publishable"),
        "{}",
        stdout(&out)
    );
    // --file and an id together are refused by the parser.
    let both = b.run(&["declassify", "preview", &r, "--file", &waf]);
    assert_eq!(code(&both), 2);

    // The log: a single key is refused (t ≥ 2 companies); Acme + Charlie, cosigned.
    let e = refused(a, &["publish", "init", "--keys", "Acme"]);
    assert!(e.contains("fewer than the threshold 2"), "{e}");
    let e = refused(c, &["publish", "init", "--keys", "Acme", "Charlie"]);
    assert!(
        e.contains("only a maintainer may start the public log"),
        "{e}"
    );
    let g1 = a.path("genesis-1.json");
    let out = a.ok(&["publish", "init", "--keys", "Acme", "Charlie", "--out", &g1]);
    assert!(out.contains("signed by 1 of 2 companies"), "{out}");
    assert!(!public_dir(a).join("genesis.json").exists());
    let g2 = c.path("genesis-2.json");
    let out = c.ok(&["publish", "--cosign", &g1, "--out", &g2]);
    assert!(out.contains("signed by 2 of 2 companies"), "{out}");
    assert!(out.contains("Appended to the public log"), "{out}");
    a.ok(&["publish", "--cosign", &g2]);
    b.ok(&["publish", "--cosign", &g2]); // no key: a complete proposal is a copy to keep
    let genesis_id = Envelope::from_json(&fs::read(public_dir(a).join("genesis.json")).unwrap())
        .unwrap()
        .id()
        .to_hex();

    // Request: RED to the reviewer and the maintainers; the salt stays in Bravo's keystore.
    let e = refused(c, &["declassify", "request", &r, "--reviewer", "Acme"]);
    assert!(e.contains("only the author"), "{e}");
    let out = b.ok(&[
        "declassify",
        "request",
        &r,
        "--reviewer",
        "Charlie",
        "--slug",
        "waf-regex-outage",
    ]);
    assert!(out.contains("public slug \"waf-regex-outage\""), "{out}");
    assert_eq!(
        b.count("SELECT COUNT(*) FROM bundles WHERE kind = 'declass-request' AND tlp = 'RED'"),
        1
    );
    carry(b, a);
    carry(b, c);

    // Status before reviews: only the author's approval; missing approvals.
    let out = a.run(&["declassify", "status", &r]);
    assert_eq!(code(&out), 1);
    assert!(stdout(&out).contains("author"), "{}", stdout(&out));
    assert!(stdout(&out).contains("Missing:"), "{}", stdout(&out));

    // Charlie approves as reviewer; publishing is refused without a maintainer's approval.
    let out = c.ok(&["declassify", "review", &r, "--approve"]);
    assert!(out.contains("as reviewer"), "{out}");
    carry(c, a);
    let e = refused(a, &["publish", &r]);
    assert!(e.contains("§7.2"), "{e}");
    assert!(e.contains("three distinct companies"), "{e}");
    // A non-maintainer cannot propose.
    let e = refused(c, &["publish", &r]);
    assert!(e.contains("only a maintainer may propose"), "{e}");

    let out = a.ok(&["declassify", "review", &r, "--approve"]);
    assert!(out.contains("as maintainer"), "{out}");
    carry(a, b);
    carry(a, c);
    let out = b.run(&["declassify", "status", &r]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("Ready"), "{}", stdout(&out));

    // Publish: Acme proposes (1 of 2): nothing is appended by one key alone.
    let p1 = a.path("entry-1.json");
    let out = a.ok(&["publish", &r, "--out", &p1]);
    assert!(out.contains("entry 1"), "{out}");
    assert!(out.contains("signed by 1 of 2"), "{out}");
    assert!(!public_dir(a).join(layout::entry_path(1)).exists());
    let pending: Vec<_> = fs::read_dir(public_dir(a).join("pending"))
        .unwrap()
        .collect();
    assert_eq!(pending.len(), 1);
    // The same proposal "cosigned" again by its proposer stays at one company.
    let out = a.ok(&["publish", "--cosign", &p1]);
    assert!(out.contains("signed by 1 of 2"), "{out}");
    // A cosigner re-runs the scan with its own lists: a private term of Charlie's blocks.
    let config = c.home.join("config.toml");
    let before = fs::read_to_string(&config).unwrap();
    fs::write(
        &config,
        format!("{before}\n[declassify]\nprivate_terms = [\"kill switch\"]\n"),
    )
    .unwrap();
    let e = refused(c, &["publish", "--cosign", &p1]);
    assert!(e.contains("the scan finds"), "{e}");
    assert!(e.contains("kill switch"), "{e}");
    fs::write(&config, before).unwrap();
    // Charlie re-checks and cosigns: appended there; Acme and Bravo take the complete copy.
    let p2 = c.path("entry-1-done.json");
    let out = c.ok(&["publish", "--cosign", &p1, "--out", &p2]);
    assert!(out.contains("Appended"), "{out}");
    a.ok(&["publish", "--cosign", &p2]);
    b.ok(&["publish", "--cosign", &p2]);
    assert!(
        fs::read_dir(public_dir(a).join("pending"))
            .unwrap()
            .next()
            .is_none()
    );
    for h in [a, b, c] {
        assert_eq!(
            fs::read(public_dir(h).join(layout::entry_path(1))).unwrap(),
            fs::read(public_dir(a).join(layout::entry_path(1))).unwrap()
        );
    }

    // `debrief verify` on another machine's copy, pinned to the genesis id.
    let copy = c3.dir.path().join("mirror");
    copy_dir(&public_dir(a), &copy);
    let copy_s = copy.to_string_lossy().into_owned();
    let out = b.run(&["verify", &copy_s, "--genesis", &genesis_id, "--entry", "1"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("entry 1 is current"),
        "{}",
        stdout(&out)
    );
    let text = fs::read_to_string(copy.join(layout::entry_path(1))).unwrap();
    let envelope = Envelope::from_json(text.as_bytes()).unwrap();
    let entry: serde_json::Value = serde_json::from_slice(envelope.payload()).unwrap();
    let content = &entry["entry"]["body"]["content"];
    assert_eq!(content["slug"], "waf-regex-outage");
    assert_eq!(content["facts"]["timeline.started"], "2019-Q3");
    assert_eq!(content["facts"]["timeline.detected"], "T+3 min");
    // F5 is confidential in the report: not published.
    let factors: Vec<&str> = content["factors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(factors, ["F1", "F2", "F3", "F4"]);
    let payload = entry.to_string();
    assert!(
        !payload.contains("Bravo") && !payload.contains(&r),
        "{payload}"
    );
    // Running a proposal again after it was appended says so.
    let out = c.ok(&["publish", "--cosign", &p2]);
    assert!(out.contains("Appended"), "{out}");

    // Provenance: the author's claim convinces `verify --claim`; a wrong salt does not.
    let claim = b.path("claim.json");
    b.ok(&[
        "declassify",
        "prove",
        &r,
        "--out",
        &claim,
        "--claimant",
        "Bravo",
    ]);
    let out = b.run(&[
        "verify",
        &copy_s,
        "--genesis",
        &genesis_id,
        "--claim",
        &claim,
    ]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let e = refused(
        c,
        &["declassify", "prove", &r, "--out", &c.path("claim.json")],
    );
    assert!(e.contains("no provenance salt"), "{e}");
    let genuine: ProvenanceClaim = Envelope::from_json(&fs::read(&claim).unwrap())
        .unwrap()
        .unverified_payload()
        .unwrap();
    let unlocked = NodeHome::at(&b.home)
        .unlock_with(
            Passphrase::new(Zeroizing::new("correct horse battery staple".into())).unwrap(),
        )
        .unwrap();
    let forged = ProvenanceClaim::make(
        genuine.circle,
        genuine.log,
        genuine.seq,
        genuine.content_sha256,
        &[7u8; 32],
        "Bravo",
        Timestamp::parse("2026-12-01T00:00:00Z").unwrap(),
        unlocked.identity.attribution_signer(),
    )
    .unwrap();
    let wrong = b.path("wrong-claim.json");
    fs::write(&wrong, forged.to_json()).unwrap();
    let out = b.run(&[
        "verify",
        &copy_s,
        "--genesis",
        &genesis_id,
        "--claim",
        &wrong,
    ]);
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    assert!(
        format!("{}{}", stdout(&out), stderr(&out)).contains("do not open entry 1"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );

    // An edit (revision) makes the thread stale; a new request makes the old approvals stale.
    let waf2 = fixture(
        b,
        WAF,
        "waf2.md",
        &[("drove CPU to 100%", "drove CPU use to 100%")],
    );
    b.ok(&["revise", &r, &waf2]);
    carry(b, a);
    carry(b, c);
    let out = a.run(&["declassify", "status", &r]);
    assert!(
        stdout(&out).contains("revised to version 2"),
        "{}",
        stdout(&out)
    );
    let e = refused(a, &["publish", "erratum", "1", &r, "--note", "wording"]);
    assert!(e.contains("revised to version 2"), "{e}");
    b.ok(&[
        "declassify",
        "request",
        &r,
        "--reviewer",
        "Charlie",
        "--slug",
        "waf-regex-outage",
    ]);
    carry(b, a);
    carry(b, c);
    let out = a.run(&["declassify", "status", &r]);
    assert!(stdout(&out).contains("stale"), "{}", stdout(&out));
    let e = refused(a, &["publish", "erratum", "1", &r, "--note", "wording"]);
    assert!(e.contains("3 earlier approval(s) are stale"), "{e}");
    c.ok(&["declassify", "review", &r, "--approve"]);
    carry(c, a);
    a.ok(&["declassify", "review", &r, "--approve"]);
    carry(a, c);
    let e1 = a.path("erratum.json");
    a.ok(&[
        "publish",
        "erratum",
        "1",
        &r,
        "--note",
        "clearer wording",
        "--out",
        &e1,
    ]);
    let e2 = c.path("erratum-done.json");
    let out = c.ok(&["publish", "--cosign", &e1, "--out", &e2]);
    assert!(out.contains("Appended"), "{out}");
    a.ok(&["publish", "--cosign", &e2]);
    let out = c.run(&[
        "verify",
        &public_dir(c).to_string_lossy(),
        "--genesis",
        &genesis_id,
        "--entry",
        "1",
    ]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert!(
        stdout(&out).contains("superseded by erratum 2"),
        "{}",
        stdout(&out)
    );

    // Retraction: a t-of-n log entry like any other.
    let e = refused(c, &["publish", "retract", "1", "--reason", "x"]);
    assert!(e.contains("only a maintainer"), "{e}");
    let t1 = a.path("retract.json");
    a.ok(&[
        "publish",
        "retract",
        "1",
        "--reason",
        "the incident was misattributed",
        "--out",
        &t1,
    ]);
    let t2 = c.path("retract-done.json");
    c.ok(&["publish", "--cosign", &t1, "--out", &t2]);
    a.ok(&["publish", "--cosign", &t2]);
    let out = c.run(&[
        "verify",
        &public_dir(c).to_string_lossy(),
        "--genesis",
        &genesis_id,
        "--entry",
        "2",
    ]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    assert!(
        stdout(&out).contains("RETRACTED by entry 3: the incident was misattributed"),
        "{}",
        stdout(&out)
    );

    // A fresh checkpoint for the head, re-issued t-of-n like everything else.
    let before = fs::read(public_dir(c).join("checkpoint.json")).unwrap();
    let k1 = a.path("checkpoint.json");
    let out = a.ok(&["publish", "checkpoint", "--out", &k1]);
    assert!(out.contains("checkpoint at seq 3"), "{out}");
    let out = c.ok(&["publish", "--cosign", &k1]);
    assert!(out.contains("Appended"), "{out}");
    // (Within the same second it is byte for byte the one signed with the retraction.)
    let cp =
        Envelope::from_json(&fs::read(public_dir(c).join("checkpoint.json")).unwrap()).unwrap();
    let cp: serde_json::Value = serde_json::from_slice(cp.payload()).unwrap();
    assert_eq!(cp["seq"], 3);
    assert!(before.len() > 10);
    let out = c.ok(&["publish", "status"]);
    assert!(out.contains("3 entries"), "{out}");
    assert!(!out.contains("Pending"), "{out}");
}

#[test]
fn refusals_two_approvals_of_one_company_a_finding_and_the_embargo() {
    let c3 = circle3();
    let (a, b, c) = (&c3.a, &c3.b, &c3.c);
    let g1 = a.path("g1.json");
    a.ok(&["publish", "init", "--keys", "Acme", "Charlie", "--out", &g1]);
    let g2 = a.path("g2.json");
    c.ok(&["publish", "--cosign", &g1, "--out", &g2]);
    a.ok(&["publish", "--cosign", &g2]);

    // A finding left in the candidate: the request is refused.
    let leaky = fixture(
        b,
        WAF,
        "leaky.md",
        &[(
            "No data was lost or exposed.",
            "The origin at 203.0.113.77 stayed up.",
        )],
    );
    let r = share(b, &leaky);
    let out = b.run(&["declassify", "preview", &r]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let e = refused(b, &["declassify", "request", &r, "--reviewer", "Charlie"]);
    assert!(e.contains("finding(s) remain"), "{e}");

    // The maintainer as the named reviewer: two approvals of one company count once.
    let db = fixture(b, DB, "db.md", &[]);
    let r2 = share(b, &db);
    b.ok(&["declassify", "request", &r2, "--reviewer", "Acme"]);
    carry(b, a);
    carry(b, c);
    // protocol.md §3.17: the thread reaches the people involved and the maintainers only;
    // Charlie holds the report but only the chain link of this request.
    assert_eq!(
        c.count("SELECT COUNT(*) FROM bundles WHERE kind = 'declass-request'"),
        0
    );
    assert_eq!(
        a.count("SELECT COUNT(*) FROM bundles WHERE kind = 'declass-request' AND readable = 1"),
        1
    );
    let out = a.ok(&["declassify", "review", &r2, "--approve"]);
    assert!(out.contains("as reviewer"), "{out}");
    let e = refused(a, &["publish", &r2]);
    assert!(e.contains("three distinct companies"), "{e}");

    // The embargo (default 30 days after `resolved`): a report resolved yesterday waits.
    let yesterday = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    let day = format!(
        "{:04}-{:02}-{:02}",
        yesterday.year(),
        u8::from(yesterday.month()),
        yesterday.day()
    );
    let text = fs::read_to_string(Path::new(&fixture(b, WAF, "fresh.md", &[]))).unwrap();
    let fresh = b.path("fresh.md");
    fs::write(&fresh, text.replace("2019-07-02", &day)).unwrap();
    let r3 = share(b, &fresh);
    b.ok(&["declassify", "request", &r3, "--reviewer", "Charlie"]);
    carry(b, a);
    let out = a.run(&["declassify", "status", &r3]);
    assert!(
        stdout(&out).contains("the embargo runs until"),
        "{}",
        stdout(&out)
    );
    let e = refused(a, &["publish", &r3]);
    assert!(e.contains("§7.11"), "{e}");
    assert!(e.contains("embargo runs until"), "{e}");
}
