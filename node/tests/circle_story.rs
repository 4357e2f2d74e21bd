//! The membership life cycle through the built binary (issue "Circles on a node"): four
//! companies on real homes in temp dirs, real keys (low scrypt work factor), real SQLite files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use debrief_protocol::Envelope;
use debrief_protocol::identity::verify_card;
use debrief_protocol::roster::fold;

struct World {
    dir: tempfile::TempDir,
    pass: PathBuf,
}

struct Company<'w> {
    world: &'w World,
    home: PathBuf,
}

fn out_text(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let pass = dir.path().join("pass.txt");
        fs::write(&pass, "correct horse battery staple\n").unwrap();
        World { dir, pass }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn company(&self, dir: &str, org: &str, region: &str) -> Company<'_> {
        let c = Company {
            world: self,
            home: self.dir.path().join(dir),
        };
        let endpoint = format!("https://{dir}.example:8443");
        c.ok(&[
            "init",
            "--org",
            org,
            "--industry",
            "saas",
            "--size-band",
            "250-999",
            "--region",
            region,
            "--endpoint",
            &endpoint,
        ]);
        c
    }
}

impl Company<'_> {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_debrief"))
            .args(args)
            .env("DEBRIEF_HOME", &self.home)
            .env("DEBRIEF_PASSPHRASE_FILE", &self.world.pass)
            .env("DEBRIEF_SCRYPT_WORK_FACTOR", "10")
            .output()
            .unwrap()
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?} failed:\n{}", out_text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs and expects a refusal (exit 2); returns stderr.
    fn refused(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?} should be refused:\n{}",
            out_text(&out)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn member_id(&self) -> String {
        let show = self.ok(&["id", "show"]);
        let line = show.lines().nth(1).unwrap().trim();
        line.trim_start_matches('(')
            .trim_end_matches(')')
            .to_owned()
    }

    fn export_log(&self, name: &str, circle: Option<&str>) -> PathBuf {
        let file = self.world.file(name);
        let mut args = vec!["circle", "export", file.to_str().unwrap(), "--force"];
        if let Some(c) = circle {
            args.extend(["--circle", c]);
        }
        self.ok(&args);
        file
    }

    fn log_json(&self, circle: &str) -> String {
        self.ok(&["circle", "log", "--json", "--circle", circle])
    }
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn log_events(file: &Path) -> Vec<Envelope> {
    let v: serde_json::Value = serde_json::from_slice(&fs::read(file).unwrap()).unwrap();
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| Envelope::from_value(e.clone()).unwrap())
        .collect()
}

fn proposal_id(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("Quorum proposal "))
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
fn four_companies_found_admit_refuse_remove_rotate_and_fork() {
    let w = World::new();
    let a = w.company("alpha", "Alpha Corp", "europe");
    let b = w.company("beta", "Beta Ltd", "europe");
    let c = w.company("gamma", "Gamma GmbH", "europe");
    let d = w.company("delta", "Delta Inc", "north-america");
    let (a_id, b_id, c_id) = (a.member_id(), b.member_id(), c.member_id());

    // A founds "ops" with policy "2 vouches" and B as a founding member.
    let b_card = w.file("b.card");
    b.ok(&["id", "export", p(&b_card)]);
    let created = a.ok(&[
        "circle",
        "create",
        "--name",
        "ops",
        "--founding-member",
        p(&b_card),
        "--vouches",
        "2",
        "--quorum",
        "2",
    ]);
    assert!(
        created.contains("this circle has 1 maintainer"),
        "{created}"
    );
    let log = a.export_log("log0.json", None);
    b.ok(&["circle", "import", p(&log)]);

    // C is admitted on the vouches of A and B.
    let c_info = w.file("c.info");
    a.ok(&["circle", "invite", "--out", p(&c_info)]);
    let c_req = w.file("c.req");
    let requested = c.ok(&[
        "circle",
        "request",
        p(&c_info),
        "--out",
        p(&c_req),
        "--accept-charter",
    ]);
    assert!(requested.contains("--- charter ---"), "{requested}");
    let b_vouch = w.file("b.vouch");
    b.ok(&[
        "circle",
        "vouch",
        p(&c_req),
        "--reason",
        "we ran a joint incident review",
        "--out",
        p(&b_vouch),
    ]);
    a.ok(&[
        "circle",
        "vouch",
        p(&c_req),
        "--reason",
        "long-time peer",
        "--out",
        p(&w.file("a.vouch")),
    ]);
    // A's own vouch waits in its pending store; B's comes as a file.
    let admitted = a.ok(&["circle", "admit", p(&c_req), "--vouch", p(&b_vouch)]);
    assert!(
        admitted.contains("Roster event 1:") && admitted.contains("admitted on 2 vouch(es)"),
        "{admitted}"
    );
    let log = a.export_log("log1.json", None);
    c.ok(&["circle", "import", p(&log)]);
    b.ok(&["circle", "import", p(&log)]);

    // D with one vouch is refused, with the precise reason, and nothing is stored.
    let d_info = w.file("d.info");
    a.ok(&["circle", "invite", "--out", p(&d_info)]);
    let d_req = w.file("d.req");
    d.ok(&[
        "circle",
        "request",
        p(&d_info),
        "--out",
        p(&d_req),
        "--accept-charter",
    ]);
    a.ok(&[
        "circle",
        "vouch",
        p(&d_req),
        "--reason",
        "customer of ours",
        "--out",
        p(&w.file("ad.vouch")),
    ]);
    let before = a.log_json("ops");
    let files_before = snapshot(&a.home.join("data"));
    let err = a.refused(&["circle", "admit", p(&d_req)]);
    assert_eq!(snapshot(&a.home.join("data")), files_before);
    assert!(
        err.contains("§2.7 roster event 2: 2 vouches from distinct member companies needed, got 1"),
        "{err}"
    );
    assert_eq!(a.log_json("ops"), before);

    // C, not yet knowing what is coming, vouches for D and asks for a new endpoint.
    let c_vouch_d = w.file("cd.vouch");
    c.ok(&[
        "circle",
        "vouch",
        p(&d_req),
        "--reason",
        "met them at a conference",
        "--out",
        p(&c_vouch_d),
    ]);
    let c_endpoint = w.file("c.endpoint");
    let asked = c.ok(&[
        "circle",
        "endpoint",
        "https://gamma2.example",
        "--out",
        p(&c_endpoint),
    ]);
    assert!(asked.contains("the sequencer"), "{asked}");

    // B becomes a maintainer: with one maintainer the quorum is min(2, 1) = 1.
    let made = a.ok(&["circle", "role", "Beta Ltd", "maintainer"]);
    assert!(made.contains("quorum met"), "{made}");
    a.ok(&["circle", "apply", &proposal_id(&made)[..12]]);
    let log = a.export_log("log3.json", None);
    b.ok(&["circle", "import", p(&log)]);

    // Removing C needs the quorum of 2 maintainer companies.
    let rm = w.file("rm.json");
    let made = a.ok(&[
        "circle",
        "remove",
        &c_id[..10],
        "--reason",
        "stopped paying dues",
        "--out",
        p(&rm),
    ]);
    assert!(made.contains("signed by 1 of the 2"), "{made}");
    let err = a.refused(&["circle", "apply", p(&rm)]);
    assert!(
        err.contains("§2.12 roster event 3: 2 cosigning maintainer companies needed, got 1"),
        "{err}"
    );
    let rm2 = w.file("rm2.json");
    let cosigned = b.ok(&["circle", "cosign", p(&rm), "--out", p(&rm2)]);
    assert!(cosigned.contains("quorum met"), "{cosigned}");
    let removed = a.ok(&["circle", "apply", p(&rm2)]);
    assert!(
        removed.contains("Roster event 3:") && removed.contains("removed"),
        "{removed}"
    );

    // The removed member's later request and vouch are refused, saying when it was removed.
    let err = a.refused(&["circle", "apply", p(&c_endpoint)]);
    assert!(
        err.contains(&format!(
            "§2.13 roster event 4: {c_id} was removed at roster seq 3"
        )),
        "{err}"
    );
    let err = a.refused(&["circle", "admit", p(&d_req), "--vouch", p(&c_vouch_d)]);
    assert!(
        err.contains("got 1")
            && err.contains(&format!(
                "the vouch from {c_id}: it was removed at roster seq 3"
            )),
        "{err}"
    );
    let log = a.export_log("log4.json", None);
    c.ok(&["circle", "import", p(&log)]);
    let err = c.refused(&[
        "circle",
        "vouch",
        p(&d_req),
        "--reason",
        "again",
        "--out",
        p(&w.file("x.vouch")),
    ]);
    assert!(err.contains("was removed at roster seq 3"), "{err}");
    b.ok(&["circle", "import", p(&log)]);

    // A tampered log changes nothing and names the event and the rule.
    a.ok(&["circle", "deny-terms", "alpha-internal", "project-zeus"]);
    let good = a.export_log("log5.json", None);
    let mut v: serde_json::Value = serde_json::from_slice(&fs::read(&good).unwrap()).unwrap();
    let last = v["events"].as_array().unwrap().len() - 1;
    let payload = v["events"][last]["payload"].as_str().unwrap().to_owned();
    use base64::Engine;
    let engine = base64::engine::general_purpose::STANDARD;
    // The terms sit in the member request embedded in the event: rewrite them there.
    let mut event: serde_json::Value =
        serde_json::from_slice(&engine.decode(&payload).unwrap()).unwrap();
    let inner = event["event"]["body"]["request"]["payload"]
        .as_str()
        .unwrap();
    let inner_text = String::from_utf8(engine.decode(inner).unwrap()).unwrap();
    let changed = inner_text.replace("project-zeus", "project-zeta");
    assert_ne!(inner_text, changed);
    event["event"]["body"]["request"]["payload"] =
        serde_json::Value::String(engine.encode(changed));
    let tampered_text = serde_json::to_string(&event).unwrap();
    v["events"][last]["payload"] = serde_json::Value::String(engine.encode(tampered_text));
    let tampered = w.file("tampered.json");
    fs::write(&tampered, serde_json::to_vec(&v).unwrap()).unwrap();
    let before = b.log_json("ops");
    let files_before = snapshot(&b.home.join("data"));
    let err = b.refused(&["circle", "import", p(&tampered)]);
    assert_eq!(snapshot(&b.home.join("data")), files_before);
    assert!(
        err.contains("nothing was stored") && err.contains("roster event 4"),
        "{err}"
    );
    assert!(
        err.contains("§2.1 roster event 4: roster event refused: signature invalid"),
        "{err}"
    );
    assert_eq!(b.log_json("ops"), before);
    b.ok(&["circle", "import", p(&good)]);

    // Rotation: B (not the sequencer) writes its request for A; A (the sequencer) applies its
    // own at once. Objects signed by the old keys still verify.
    let rotated = b.ok(&["id", "rotate"]);
    let b_request = rotated
        .lines()
        .find_map(|l| l.split("request written to ").nth(1))
        .map(|rest| rest.split(';').next().unwrap().to_owned())
        .expect(&rotated);
    let applied = a.ok(&["circle", "apply", &b_request]);
    assert!(applied.contains("rotated its signing key"), "{applied}");
    let rotated = a.ok(&["id", "rotate"]);
    assert!(
        rotated.contains("circle \"ops\": applied as roster event 6"),
        "{rotated}"
    );
    a.ok(&["circle", "checkpoint"]);
    let log = a.export_log("log7.json", None);
    let events = log_events(&log);
    assert_eq!(events.len(), 7);
    let roster = fold(&events, None).unwrap();
    assert_eq!(roster.head_seq(), 6);
    // B's old vouch still verifies under the key on its old card.
    let old_card = verify_card(&Envelope::from_json(&fs::read(&b_card).unwrap()).unwrap()).unwrap();
    let old_vouch = Envelope::from_json(&fs::read(&b_vouch).unwrap()).unwrap();
    debrief_protocol::envelope::verify::<debrief_protocol::roster::Vouch>(
        &old_vouch,
        debrief_protocol::PayloadType::Vouch,
        &old_card.signing_key,
    )
    .unwrap();
    assert_ne!(
        roster.member(&b_id.parse().unwrap()).unwrap().signing_key,
        old_card.signing_key
    );
    b.ok(&["circle", "import", p(&log)]);
    let status = b.ok(&["circle", "status"]);
    assert!(status.contains("checkpoint: seq 6"), "{status}");
    assert!(status.contains("fresh: yes"), "{status}");
    assert!(status.contains("frozen: no"), "{status}");
    assert!(!status.contains("warning:"), "{status}");

    // A sequencer that signs two different events for one seq is caught at import: a copy of
    // A's home (a restored backup) sequences a different event 7.
    let a2_home = w.dir.path().join("alpha-copy");
    copy_dir(&a.home, &a2_home);
    let a2 = Company {
        world: &w,
        home: a2_home,
    };
    a.ok(&["circle", "endpoint", "https://alpha.example:9443"]);
    a2.ok(&["circle", "endpoint", "https://alpha-copy.example:9443"]);
    let branch_a = a.export_log("branch-a.json", None);
    let branch_b = a2.export_log("branch-b.json", None);
    b.ok(&["circle", "import", p(&branch_a)]);
    let before = b.log_json("ops");
    let err = b.refused(&["circle", "import", p(&branch_b)]);
    assert!(
        err.contains("signed two different roster events")
            && err.contains("for seq 7")
            && err.contains("FROZEN"),
        "{err}"
    );
    assert_eq!(b.log_json("ops"), before);
    let status = b.ok(&["circle", "status"]);
    assert!(status.contains("frozen: YES"), "{status}");
    assert!(
        status.contains("fork proof ") && status.contains("at seq 7"),
        "{status}"
    );
    // Recovery: B, the other maintainer, is appointed sequencer by a quorum that leaves out
    // the sequencer that forked, resolving the proof; the circle thaws on B's branch.
    let proof = status
        .lines()
        .find_map(|l| l.trim().strip_prefix("fork proof "))
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_owned();
    let made = b.ok(&[
        "circle",
        "sequencer",
        "Beta Ltd",
        "--resolves",
        &proof[..16],
    ]);
    assert!(
        made.contains("signed by 1 of the 1") && made.contains("quorum met"),
        "{made}"
    );
    let applied = b.ok(&["circle", "apply", &proposal_id(&made)]);
    assert!(
        applied.contains("Roster event 8:") && applied.contains("resolving a fork"),
        "{applied}"
    );
    let status = b.ok(&["circle", "status"]);
    assert!(
        status.contains("frozen: no") && status.contains(&format!("sequencer: {b_id}")),
        "{status}"
    );
    // The losing branch is refused from now on.
    let err = b.refused(&["circle", "import", p(&branch_b)]);
    assert!(
        err.contains("§2.15") && err.contains("losing branch"),
        "{err}"
    );

    // The proof travels in B's export.
    let with_proof = b.export_log("with-proof.json", None);
    let v: serde_json::Value = serde_json::from_slice(&fs::read(&with_proof).unwrap()).unwrap();
    assert_eq!(v["fork_proofs"].as_array().unwrap().len(), 1);

    // Two circles on one node never see each other's members.
    let d_card = w.file("d.card");
    d.ok(&["id", "export", p(&d_card)]);
    a.ok(&[
        "circle",
        "create",
        "--name",
        "vendors",
        "--founding-member",
        p(&d_card),
        "--vouches",
        "1",
    ]);
    let ops = a.ok(&["circle", "status", "--circle", "ops"]);
    let vendors = a.ok(&["circle", "status", "--circle", "vendors"]);
    assert!(
        ops.contains("Beta Ltd") && !ops.contains("Delta Inc"),
        "{ops}"
    );
    assert!(
        vendors.contains("Delta Inc") && !vendors.contains("Beta Ltd"),
        "{vendors}"
    );
    assert!(!ops.contains("Gamma GmbH"), "{ops}");
    let err = a.refused(&[
        "circle",
        "remove",
        "Delta Inc",
        "--reason",
        "x",
        "--circle",
        "ops",
    ]);
    assert!(
        err.contains("names no current member of circle \"ops\""),
        "{err}"
    );
    // Without --circle a node with two circles asks which.
    let out = a.run(&["circle", "status"]);
    assert_eq!(out.status.code(), Some(2));
    let _ = a_id;
}

#[test]
fn member_arguments_are_resolved_or_refused_with_candidates() {
    let w = World::new();
    let a = w.company("alpha", "Alpha Corp", "europe");
    let b = w.company("beta", "Beta Ltd", "europe");
    let b_card = w.file("b.card");
    b.ok(&["id", "export", p(&b_card)]);
    a.ok(&[
        "circle",
        "create",
        "--name",
        "ops",
        "--founding-member",
        p(&b_card),
        "--quorum",
        "1",
    ]);
    // "db1" prefixes every member id: ambiguous, both listed.
    let err = a.refused(&["circle", "role", "db1", "maintainer"]);
    assert!(
        err.contains("matches several members")
            && err.contains("Alpha Corp")
            && err.contains("Beta Ltd"),
        "{err}"
    );
    // An org name (any case) works; the log shows the change, also as JSON.
    let made = a.ok(&["circle", "role", "beta ltd", "maintainer"]);
    a.ok(&["circle", "apply", &proposal_id(&made)]);
    let text = a.ok(&["circle", "log"]);
    assert!(
        text.contains("set_role") && text.contains("is a maintainer"),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&a.ok(&["circle", "log", "--json"])).unwrap();
    assert_eq!(json[1]["kind"], "set_role");
    assert_eq!(json.as_array().unwrap().len(), 2);
    // The sequencer's own entry changes apply at once.
    let out = a.ok(&[
        "circle",
        "profile",
        "--industry",
        "finance",
        "--size-band",
        "250-999",
        "--region",
        "europe",
    ]);
    assert!(
        out.contains("Roster event 2:") && out.contains("set its profile"),
        "{out}"
    );
    let out = a.ok(&["circle", "endpoint", "--none"]);
    assert!(
        out.contains("Roster event 3:") && out.contains("set its endpoint"),
        "{out}"
    );
    let status = a.ok(&["circle", "status"]);
    assert!(
        status.contains("Alpha Corp") && status.contains("(no endpoint)"),
        "{status}"
    );
    // The sequencer cannot leave (a quorum must first move sequencing): refused by the rules.
    let err = a.refused(&["circle", "leave"]);
    assert!(err.contains("§2.10"), "{err}");
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(path.clone(), fs::read(&path).unwrap());
            }
        }
    }
    out
}
