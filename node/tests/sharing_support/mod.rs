//! Three real homes (Acme, Bravo, Charlie) in one circle, driven through the built binary.
//! Shared by `share_cli.rs` and `search_cli.rs`.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use debrief_node::store::circle::CircleStore;

pub struct Home {
    pub org: &'static str,
    pub home: PathBuf,
    pass: PathBuf,
}

pub struct Circle3 {
    pub dir: tempfile::TempDir,
    pub a: Home,
    pub b: Home,
    pub c: Home,
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "command failed ({:?}): {}\n{}",
        out.status,
        stdout(out),
        stderr(out)
    );
}

impl Home {
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_debrief"));
        cmd.args(args)
            .env("DEBRIEF_HOME", &self.home)
            .env("DEBRIEF_PASSPHRASE_FILE", &self.pass)
            .env("DEBRIEF_SCRYPT_WORK_FACTOR", "10")
            .env_remove("DEBRIEF_CRASH_POINT");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    /// The command `run_env` would run, for tests that spawn and kill the child themselves.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_debrief"));
        cmd.args(args)
            .env("DEBRIEF_HOME", &self.home)
            .env("DEBRIEF_PASSPHRASE_FILE", &self.pass)
            .env("DEBRIEF_SCRYPT_WORK_FACTOR", "10")
            .env_remove("DEBRIEF_CRASH_POINT");
        cmd
    }

    /// A copy of this home (same identity and circles) under `dir/name/home`, so crash tests
    /// can start every run from the same state.
    pub fn copy_to(&self, dir: &Path, name: &str) -> Home {
        fn copy(from: &Path, to: &Path) {
            fs::create_dir_all(to).unwrap();
            for e in fs::read_dir(from).unwrap() {
                let p = e.unwrap().path();
                let dest = to.join(p.file_name().unwrap());
                if p.is_dir() {
                    copy(&p, &dest);
                } else {
                    fs::copy(&p, &dest).unwrap();
                }
            }
        }
        let home = dir.join(name).join("home");
        copy(&self.home, &home);
        Home {
            org: self.org,
            home,
            pass: self.pass.clone(),
        }
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[])
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_ok(&out);
        stdout(&out)
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    /// The circle's store file.
    pub fn store_path(&self) -> PathBuf {
        fn find(dir: &Path) -> Option<PathBuf> {
            for e in fs::read_dir(dir).ok()? {
                let p = e.ok()?.path();
                if p.is_dir() {
                    if let Some(f) = find(&p) {
                        return Some(f);
                    }
                } else if p.file_name().is_some_and(|n| n == "store.sqlite")
                    && p.to_string_lossy().contains("circles")
                {
                    return Some(p);
                }
            }
            None
        }
        find(&self.home).expect("no circle store under the home")
    }

    /// Every file of the circle store (main, -wal, -shm), with bytes.
    pub fn store_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let main = self.store_path();
        let dir = main.parent().unwrap();
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .map(|p| {
                let b = fs::read(&p).unwrap();
                (p, b)
            })
            .collect()
    }

    /// A count from the store, read with a separate connection.
    pub fn count(&self, sql: &str) -> i64 {
        let conn = rusqlite::Connection::open(self.store_path()).unwrap();
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// Records that this node's roster head was confirmed now (what a checkpoint or a live head
    /// comparison with a peer records; those arrive with the sync issue, so tests record it).
    pub fn confirm_roster_fresh(&self) {
        let store = CircleStore::open(&self.store_path()).unwrap();
        let roster = store.load_roster(None).unwrap();
        store
            .record_freshness(
                "test-head-comparison",
                roster.head_seq(),
                &roster.head_id(),
                debrief_node::node::now(),
            )
            .unwrap();
    }

    pub fn path(&self, name: &str) -> String {
        self.home
            .parent()
            .unwrap()
            .join(name)
            .to_string_lossy()
            .into_owned()
    }
}

/// A new home for `org` under `dir` (initialised, in no circle).
pub fn init(dir: &Path, org: &'static str) -> Home {
    let root = dir.join(org);
    fs::create_dir_all(&root).unwrap();
    let pass = root.join("pass.txt");
    fs::write(&pass, "correct horse battery staple\n").unwrap();
    let h = Home {
        org,
        home: root.join("home"),
        pass,
    };
    h.ok(&[
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
    h
}

/// Acme founds circle "ops" with Bravo and Charlie as founding members; B and C import it.
pub fn circle3() -> Circle3 {
    let dir = tempfile::tempdir().unwrap();
    let a = init(dir.path(), "Acme");
    let b = init(dir.path(), "Bravo");
    let c = init(dir.path(), "Charlie");
    let (bc, cc) = (b.path("card.json"), c.path("card.json"));
    b.ok(&["id", "export", &bc]);
    c.ok(&["id", "export", &cc]);
    a.ok(&[
        "circle",
        "create",
        "--name",
        "ops",
        "--founding-member",
        &bc,
        "--founding-member",
        &cc,
    ]);
    let roster = a.path("roster.json");
    a.ok(&["circle", "export", &roster]);
    b.ok(&["circle", "import", &roster]);
    c.ok(&["circle", "import", &roster]);
    b.confirm_roster_fresh();
    c.confirm_roster_fresh();
    Circle3 { dir, a, b, c }
}

/// A fixture report from tests/fixtures/valid, with text replacements, written next to `home`.
pub fn fixture(home: &Home, name: &str, out: &str, edits: &[(&str, &str)]) -> String {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/valid")
        .join(name);
    let mut text = fs::read_to_string(src).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "fixture {name} has no {from:?}");
        text = text.replacen(from, to, 1);
    }
    let path = home.path(out);
    fs::write(&path, text).unwrap();
    path
}

/// The bundle id printed by `share`/`revise`/`retract`/`comment --json`.
pub fn shared_id(v: &serde_json::Value) -> String {
    v["bundle"].as_str().unwrap().to_owned()
}

/// Whether `needle` occurs in any of the bytes.
pub fn contains(files: &[(PathBuf, Vec<u8>)], needle: &str) -> Vec<PathBuf> {
    files
        .iter()
        .filter(|(_, b)| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        .map(|(p, _)| p.clone())
        .collect()
}
