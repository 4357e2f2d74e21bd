//! `debrief demo` through the built binary: every step is reported, the non-recipient is
//! refused the RED report, the comment crosses nodes, and it exits 0. With `--dir`, the homes
//! stay and the ordinary CLI reads them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn debrief() -> Command {
    Command::new(env!("CARGO_BIN_EXE_debrief"))
}

#[test]
fn the_demo_tells_every_step_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let out = debrief()
        .args(["demo", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");

    let steps: Vec<&str> = stdout.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(steps.len(), 12, "{stdout}");
    for (i, line) in steps.iter().enumerate() {
        assert!(line.starts_with(&format!("[{}] ", i + 1)), "{line}");
    }
    for expected in [
        "Acme founds the circle \"ops-demo\"",
        "Bravo fetched the roster over HTTPS and is a member now",
        "Bravo vouched for Charlie over HTTPS",
        "Charlie fetched the roster over HTTPS and is a member now",
        "Bravo    reads  \"A partial deploy re-activated retired trading code",
        "Charlie  cannot read bundle",
        "not a recipient (TLP RED)",
        "Acme reads a comment from Bravo: \"Did the failover runbook",
        "A 43-second network partition led to a cross-region database failover",
        "verdict Publishable",
        "Demo finished: 12 steps, all real.",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    assert!(
        !stdout.contains("Charlie  reads  \"A partial deploy"),
        "the non-recipient read the RED report:\n{stdout}"
    );
    // Every endpoint printed is a real loopback HTTPS listener.
    let endpoints = stdout.matches("https://127.0.0.1:").count();
    assert!(endpoints >= 3, "{stdout}");

    // The homes stay with --dir, and the ordinary CLI reads them: Bravo sees both reports.
    let list = debrief()
        .env("DEBRIEF_PASSPHRASE_FILE", dir.path().join("passphrase"))
        .args(["--home"])
        .arg(dir.path().join("bravo"))
        .args(["list", "--json"])
        .output()
        .unwrap();
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    let listed: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
}
