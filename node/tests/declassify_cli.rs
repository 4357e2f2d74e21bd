//! `debrief declassify preview` through the built binary: a home with a one-member circle, a
//! report carrying the text of corpus report 01, the diff, the findings, the verdict and exit
//! code, justified allowances kept in the circle store, and the exact JSON.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::{Value, json};

struct TestHome {
    _dir: tempfile::TempDir,
    home: PathBuf,
    pass: PathBuf,
}

fn report_file() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/declassify/reports/consumer-rebalance.md")
        .to_string_lossy()
        .into_owned()
}

impl TestHome {
    /// `debrief init` as Brightwave, a private deny list, and `debrief circle create`.
    fn new() -> TestHome {
        let dir = tempfile::tempdir().unwrap();
        let pass = dir.path().join("pass.txt");
        fs::write(&pass, "correct horse battery staple\n").unwrap();
        let t = TestHome {
            home: dir.path().join("home"),
            pass,
            _dir: dir,
        };
        ok(&t.run(&[
            "init",
            "--org",
            "Brightwave Inc.",
            "--industry",
            "saas",
            "--size-band",
            "250-999",
            "--region",
            "europe",
            "--endpoint",
            "https://brightwave.example:8443",
        ]));
        let config = t.home.join("config.toml");
        let mut text = fs::read_to_string(&config).unwrap();
        assert!(!text.contains("[declassify]"), "{text}");
        text.push_str("\n[declassify]\nprivate_terms = [\"Northwind Traders\", \"Priya Raman\"]\n");
        fs::write(&config, text).unwrap();
        ok(&t.run(&["circle", "create", "--name", "ring"]));
        t
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_debrief"))
            .args(args)
            .env("DEBRIEF_HOME", &self.home)
            .env("DEBRIEF_PASSPHRASE_FILE", &self.pass)
            .env("DEBRIEF_SCRYPT_WORK_FACTOR", "10")
            .output()
            .unwrap()
    }

    fn preview(&self, extra: &[&str]) -> Output {
        let file = report_file();
        let mut args = vec!["declassify", "preview", "--file", file.as_str()];
        args.extend_from_slice(extra);
        self.run(&args)
    }
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Every finding the report has: (text, because) pairs that allow all of them.
const ALLOW_ALL: &[(&str, &str)] = &[
    (
        "Brightwave",
        "the company is named in its own public status page post",
    ),
    ("NORTHWIND TRADERS", "the customer agreed in writing"),
    (
        "https://status.brightwave.io/incidents/88",
        "public status page",
    ),
    ("7c41e9ab", "open-source repository"),
    ("Priya Raman", "she asked to be credited"),
    ("OPS-4412", "public tracker"),
    ("#inc-order-lag", "channel was renamed"),
    (
        "pricing.svc.brightwave.internal",
        "internal-only name, harmless",
    ),
    ("OPS-4415", "public tracker"),
];

#[test]
fn preview_shows_diff_findings_and_blocks_until_allowed() {
    let t = TestHome::new();
    let out = t.preview(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    // The diff, original → public.
    assert!(text.contains("--- original\n+++ public\n"), "{text}");
    assert!(
        text.contains(
            "-- title: Consumer rebalance storm stalled Brightwave order events\n\
             +- title: Consumer rebalance storm stalled [org] order events\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("+- T+26 min [term] opened [ticket] and paged [channel].\n"),
        "{text}"
    );
    assert!(text.contains("+- timeline.started: 2026-Q1\n"), "{text}");
    assert!(
        text.contains("+- customer_impact.duration_minutes: 2–8 h\n"),
        "{text}"
    );
    // The quasi-identifier rule: one member company cannot be described.
    assert!(text.contains("Company published as: a company\n"), "{text}");
    assert!(
        text.contains("fewer than 3, so the region is withheld"),
        "{text}"
    );
    // Classes: confidential is shown to the author but dropped; secret is never shown.
    assert!(
        text.contains("-It happened on a Wednesday afternoon"),
        "{text}"
    );
    assert!(text.contains("  sections.lessons (secret)\n"), "{text}");
    assert!(!text.contains("Size poll intervals"), "{text}");
    // Findings with location and reason.
    assert!(
        text.contains("Findings (10), each blocks publication:\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "  6:43 title \"Brightwave\" → [org] (organisation name from the circle roster)\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "  38:28 sections.timeline \"OPS-4412\" → [ticket] (ticket id (PROJECT-123))\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("Verdict: BLOCKED by 10 finding(s)."),
        "{text}"
    );

    // Allowing everything, each with a reason, makes it publishable and is recorded.
    let mut args: Vec<&str> = Vec::new();
    for (allow, because) in ALLOW_ALL {
        args.extend_from_slice(&["--allow", allow, "--because", because]);
    }
    let out = t.preview(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains("Recorded allowance \"OPS-4412\": public tracker\n"),
        "{text}"
    );
    assert!(
        text.contains("Verdict: publishable (no unresolved finding)\n"),
        "{text}"
    );

    // The next preview, without flags, shows them as allowed with their justification.
    let out = t.preview(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("Allowed with justification:\n"), "{text}");
    assert!(
        text.contains("  38:28 sections.timeline \"OPS-4412\" because \"public tracker\"\n"),
        "{text}"
    );
    // An allowed text stays in the public text, so that line no longer changes.
    assert!(!text.contains("+- title:"), "{text}");
    assert!(!text.contains("Findings ("), "{text}");
}

#[test]
fn bad_allowances_are_refused_and_nothing_is_recorded() {
    let t = TestHome::new();
    // Unpaired flags.
    let out = t.preview(&["--allow", "OPS-4412"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("1 --allow but 0 --because"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // An empty justification.
    let out = t.preview(&["--allow", "OPS-4412", "--because", "  "]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a justification"));
    // A text that is not a finding (a typo) is refused with the valid one next to it.
    let out = t.preview(&[
        "--allow",
        "OPS-4412",
        "--because",
        "public tracker",
        "--allow",
        "OPS-9999",
        "--because",
        "typo",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--allow \"OPS-9999\" matches no finding"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = t.preview(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!stdout(&out).contains("Allowed with justification"));
}

#[test]
fn json_output_is_exact() {
    let t = TestHome::new();
    let out = t.preview(&[
        "--json",
        "--allow",
        "OPS-4415",
        "--because",
        "public tracker",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "allowed",
            "circle",
            "company",
            "diff",
            "dropped",
            "findings",
            "generalisations",
            "original",
            "public",
            "report",
            "unused_allowances",
            "verdict"
        ]
    );
    assert_eq!(v["report"], "pm-2026-031");
    assert_eq!(v["circle"], "ring");
    assert_eq!(v["verdict"], "blocked");
    assert_eq!(
        v["company"],
        json!({"industry": "other", "size_band": null, "region": null})
    );
    assert_eq!(
        v["dropped"],
        json!([
            {"field": "sections.where-we-got-lucky", "class": "confidential"},
            {"field": "sections.lessons", "class": "secret"}
        ])
    );
    assert_eq!(
        v["allowed"],
        json!([{
            "field": "sections.actions", "line": 58, "column": 59,
            "matched": "OPS-4415", "because": "public tracker"
        }])
    );
    assert_eq!(v["unused_allowances"], json!([]));
    let findings: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {}:{} ({}:{} @{}) {} {} {} {} | {}",
                f["field"].as_str().unwrap(),
                f["line"],
                f["column"],
                f["finding"]["line"],
                f["finding"]["column"],
                f["finding"]["offset"],
                f["finding"]["kind"].as_str().unwrap(),
                f["finding"]["detector"].as_str().unwrap(),
                f["finding"]["matched"],
                f["finding"]["replacement"].as_str().unwrap(),
                f["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        findings,
        [
            "title 6:43 (1:34 @33) org org-name \"Brightwave\" [org] | organisation name from the circle roster",
            "sections.summary 27:14 (2:14 @100) org org-name \"Brightwave\" [org] | organisation name from the circle roster",
            "sections.impact 32:14 (1:14 @13) term private-term \"NORTHWIND TRADERS\" [term] | term from your private deny list",
            "sections.impact 33:1 (2:1 @97) url url \"https://status.brightwave.io/incidents/88\" [url] | URL",
            "sections.timeline 37:44 (1:44 @43) commit commit-hash \"7c41e9ab\" [commit] | commit hash or content digest",
            "sections.timeline 38:9 (2:9 @97) term private-term \"Priya Raman\" [term] | term from your private deny list",
            "sections.timeline 38:28 (2:28 @116) ticket jira-ticket \"OPS-4412\" [ticket] | ticket id (PROJECT-123)",
            "sections.timeline 38:47 (2:47 @135) channel chat-channel \"#inc-order-lag\" [channel] | chat channel name",
            "sections.contributing-factors 45:1 (2:1 @98) host hostname \"pricing.svc.brightwave.internal\" [host] | hostname (known public or internal suffix)",
        ]
    );
    let generalised: Vec<String> = v["generalisations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            format!(
                "{}: {}",
                g["field"].as_str().unwrap(),
                g["note"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        generalised[3..],
        [
            "services: order-fanout, warehouse-feed → 2 services",
            "timeline.started: 2026-02-11T14:05:00Z → 2026-Q1",
            "timeline.detected: 2026-02-11T14:31:00Z → T+26 min",
            "timeline.mitigated: 2026-02-11T16:02:00Z → T+117 min",
            "timeline.resolved: 2026-02-11T17:40:00Z → T+215 min",
            "customer_impact.who: dates to quarters, clock times to T+minutes, counts to orders of magnitude, long durations to buckets",
            "customer_impact.magnitude: 10^4 → tens of thousands",
            "customer_impact.duration_minutes: 215 min → 2–8 h",
            "sections.timeline: dates to quarters, clock times to T+minutes, counts to orders of magnitude, long durations to buckets",
        ]
    );
    // The diff is exactly the diff of the two renderings shown, and the public text holds
    // none of the secret section.
    let original = v["original"].as_str().unwrap();
    let public = v["public"].as_str().unwrap();
    assert_eq!(
        v["diff"].as_str().unwrap(),
        debrief_protocol::declassify::unified_diff(original, public)
    );
    assert!(original.contains("## Lessons\n\n[secret: not shown]\n"));
    assert!(!public.contains("Lessons"));
    assert!(public.contains(
        "- customer_impact.who: about tens of thousands of orders placed between T+0 min and T+117 min\n"
    ));
    assert!(
        public.ends_with("A1 catches the storm early; the runbook fix is tracked as OPS-4415.\n\n")
    );
}
