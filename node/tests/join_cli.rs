//! Joining over the network through the built binary (docs/operations.md "Joining a circle over
//! the network"): A runs `debrief serve` on 127.0.0.1 port 0; C joins with `circle join`, B
//! and A vouch by id, A admits by id, C completes with `circle fetch`. Real homes in temp dirs,
//! real keys (low scrypt work factor), real SQLite files, real HTTPS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

struct World {
    dir: tempfile::TempDir,
    pass: PathBuf,
}

struct Company<'w> {
    world: &'w World,
    home: PathBuf,
}

/// Kills the server child (started by this test) when the test ends, even on a panic.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn out_text(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
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

    fn company(&self, dir: &str, org: &str) -> Company<'_> {
        let c = Company {
            world: self,
            home: self.dir.path().join(dir),
        };
        c.ok(&[
            "init",
            "--org",
            org,
            "--industry",
            "saas",
            "--size-band",
            "250-999",
            "--region",
            "europe",
        ]);
        c
    }
}

impl Company<'_> {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_debrief"));
        cmd.args(args)
            .env("DEBRIEF_HOME", &self.home)
            .env("DEBRIEF_PASSPHRASE_FILE", &self.world.pass)
            .env("DEBRIEF_SCRYPT_WORK_FACTOR", "10");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?} failed:\n{}", out_text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

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

    /// Starts `debrief serve` on 127.0.0.1 port 0; returns the child and its https URL.
    fn serve(&self) -> (Served, String) {
        let mut child = self
            .command(&["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let served = Served(child);
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        // Keep reading what `serve` prints: a closed pipe would make its next line fail.
        std::thread::spawn(move || {
            let mut rest = String::new();
            while reader.read_line(&mut rest).is_ok_and(|n| n > 0) {
                rest.clear();
            }
        });
        let url = line
            .trim()
            .strip_prefix("serving ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        (served, url)
    }
}

/// The join request id `circle pending` prints on its `join request ID from …` line.
fn join_request_id(pending: &str) -> String {
    pending
        .lines()
        .find_map(|l| l.trim().strip_prefix("join request "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no join request in:\n{pending}"))
        .to_owned()
}

#[test]
fn a_candidate_joins_through_the_cli_over_https() {
    let w = World::new();
    let a = w.company("alpha", "Alpha Corp");
    let b = w.company("beta", "Beta Ltd");
    let c = w.company("gamma", "Gamma GmbH");

    let b_card = w.file("b.card");
    b.ok(&["id", "export", p(&b_card)]);
    a.ok(&[
        "circle",
        "create",
        "--name",
        "ops",
        "--founding-member",
        p(&b_card),
        "--vouches",
        "2",
    ]);
    let (_server, url) = a.serve();
    // A publishes its endpoint in the roster; B gets the roster by file (a founding member).
    a.ok(&["circle", "endpoint", &url]);
    let log = w.file("log.json");
    a.ok(&["circle", "export", p(&log)]);
    b.ok(&["circle", "import", p(&log)]);

    let invite = w.file("c.invite");
    let issued = a.ok(&["circle", "invite", "--out", p(&invite), "--endpoint", &url]);
    let circle_id: String =
        serde_json::from_slice::<serde_json::Value>(&fs::read(&invite).unwrap()).unwrap()["circle"]
            .as_str()
            .unwrap()
            .to_owned();
    let grouped: Vec<String> = circle_id
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    assert!(issued.contains(&grouped.join(" ")), "{issued}");

    // Without --yes and with nothing typed, the circle id is not confirmed: nothing is sent.
    let err = c.refused(&["circle", "join", p(&invite)]);
    assert!(
        err.contains("the circle id was not confirmed; nothing was sent"),
        "{err}"
    );
    let joined = c.ok(&["circle", "join", p(&invite), "--yes"]);
    assert!(joined.contains(&grouped.join(" ")), "{joined}");
    assert!(
        joined.contains("--- charter (fetched from the maintainer"),
        "{joined}"
    );
    assert!(joined.contains("Sent join request "), "{joined}");
    let early = c.ok(&["circle", "fetch"]);
    assert!(early.contains("not admitted yet"), "{early}");

    // B sees it on the sequencer's node and vouches over the network; A vouches on its own.
    let remote = b.ok(&["circle", "pending", "--remote"]);
    assert!(
        remote.contains("from Gamma GmbH") && remote.contains("0 of 2 vouches"),
        "{remote}"
    );
    let id = join_request_id(&remote);
    let vouched = b.ok(&["circle", "vouch", &id[..16], "--reason", "joint game day"]);
    assert!(vouched.contains("sent to "), "{vouched}");
    let vouched = a.ok(&["circle", "vouch", &id[..16], "--reason", "long-time peer"]);
    assert!(vouched.contains("held on this node"), "{vouched}");

    // The sequencer sees the threshold met and admits by id.
    let pending = a.ok(&["circle", "pending"]);
    assert!(
        pending.contains("2 of 2 vouches")
            && pending.contains(&format!("`debrief circle admit {id}`")),
        "{pending}"
    );
    let admitted = a.ok(&["circle", "admit", &id[..16]]);
    assert!(
        admitted.contains("Roster event 2:") && admitted.contains("admitted on 2 vouch(es)"),
        "{admitted}"
    );

    // `serve` takes up the new roster within seconds; C polls until it is admitted there.
    let mut done = String::new();
    for _ in 0..50 {
        done = c.ok(&["circle", "fetch"]);
        if done.contains("Joined circle") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(
        done.contains("Joined circle \"ops\" (3 roster events)"),
        "{done}"
    );
    let status = c.ok(&["circle", "status"]);
    assert!(status.contains("Gamma GmbH"), "{status}");

    // B pulls the admission from the sequencer.
    let fetched = b.ok(&["circle", "fetch"]);
    assert!(
        fetched.contains("1 new roster events") && fetched.contains("head is now seq 2"),
        "{fetched}"
    );
}
