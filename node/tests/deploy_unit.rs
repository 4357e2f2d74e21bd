//! Checks `deploy/debrief.service`: it parses as a systemd unit, carries the hardening options
//! docs/operations.md promises, and its `ExecStart` is a command line the real CLI accepts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use clap::Parser;
use debrief_node::cli::{Cli, Command};

/// A parsed unit: section name → (key → values in file order).
type Unit = BTreeMap<String, BTreeMap<String, Vec<String>>>;

/// A small, strict reader of the systemd unit syntax we use: `[Section]` headers, `Key=Value`
/// lines, `#`/`;` comments and blank lines. Anything else is an error naming the line.
fn parse_unit(text: &str) -> Result<Unit, String> {
    let mut unit = Unit::new();
    let mut section: Option<String> = None;
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.ends_with('\\') {
            return Err(format!(
                "line {line_no}: continuation lines are not used here"
            ));
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            if unit.contains_key(name) {
                return Err(format!("line {line_no}: section [{name}] appears twice"));
            }
            unit.insert(name.to_owned(), BTreeMap::new());
            section = Some(name.to_owned());
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!(
                "line {line_no}: expected Key=Value, found {line:?}"
            ));
        };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!("line {line_no}: bad key {key:?}"));
        }
        let Some(section) = &section else {
            return Err(format!("line {line_no}: {key} outside any section"));
        };
        unit.get_mut(section)
            .expect("section was inserted")
            .entry(key.to_owned())
            .or_default()
            .push(value.trim().to_owned());
    }
    Ok(unit)
}

fn load() -> Unit {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/debrief.service");
    let text = std::fs::read_to_string(path).unwrap();
    parse_unit(&text).unwrap()
}

fn single<'a>(unit: &'a Unit, section: &str, key: &str) -> &'a str {
    let values = unit[section]
        .get(key)
        .unwrap_or_else(|| panic!("[{section}] has no {key}"));
    assert_eq!(values.len(), 1, "[{section}] {key} is set more than once");
    &values[0]
}

#[test]
fn unit_has_the_three_sections_and_nothing_else() {
    let unit = load();
    let sections: Vec<&str> = unit.keys().map(String::as_str).collect();
    assert_eq!(sections, ["Install", "Service", "Unit"]);
    assert_eq!(single(&unit, "Install", "WantedBy"), "multi-user.target");
    assert_eq!(single(&unit, "Unit", "After"), "network-online.target");
}

#[test]
fn only_repeatable_keys_repeat() {
    let unit = load();
    for (section, keys) in &unit {
        for (key, values) in keys {
            if values.len() > 1 {
                assert!(
                    ["Environment", "SystemCallFilter"].contains(&key.as_str()),
                    "[{section}] {key} repeats"
                );
            }
        }
    }
}

#[test]
fn service_is_hardened() {
    let unit = load();
    let expected = [
        ("User", "debrief"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("CapabilityBoundingSet", ""),
        ("AmbientCapabilities", ""),
        ("RestrictSUIDSGID", "yes"),
        ("LockPersonality", "yes"),
        ("MemoryDenyWriteExecute", "yes"),
        ("RestrictRealtime", "yes"),
        ("RestrictNamespaces", "yes"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectKernelLogs", "yes"),
        ("ProtectControlGroups", "yes"),
        ("ProtectClock", "yes"),
        ("ProtectHostname", "yes"),
        ("UMask", "0077"),
        ("StateDirectoryMode", "0700"),
        ("ReadWritePaths", "/var/lib/debrief"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("SystemCallArchitectures", "native"),
        ("KillSignal", "SIGTERM"),
    ];
    for (key, value) in expected {
        assert_eq!(single(&unit, "Service", key), value, "[Service] {key}");
    }
    let filters = &unit["Service"]["SystemCallFilter"];
    assert_eq!(filters, &["@system-service", "~@privileged @resources"]);
}

#[test]
fn passphrase_comes_from_a_credential_not_the_command_line() {
    let unit = load();
    assert_eq!(
        single(&unit, "Service", "LoadCredential"),
        "passphrase:/etc/debrief/passphrase"
    );
    let env = &unit["Service"]["Environment"];
    assert!(env.contains(&"DEBRIEF_PASSPHRASE_FILE=%d/passphrase".to_owned()));
    assert!(env.contains(&"DEBRIEF_HOME=/var/lib/debrief".to_owned()));
    assert!(!single(&unit, "Service", "ExecStart").contains("passphrase"));
}

#[test]
fn exec_start_is_accepted_by_the_real_cli() {
    let unit = load();
    let exec = single(&unit, "Service", "ExecStart");
    let args: Vec<&str> = exec.split_whitespace().collect();
    assert_eq!(args[0], "/usr/local/bin/debrief");
    let cli = Cli::try_parse_from(args).unwrap();
    assert!(
        matches!(cli.command, Command::Serve(_)),
        "ExecStart must run `debrief serve`"
    );
}

#[test]
fn parser_rejects_what_systemd_would_reject() {
    assert!(parse_unit("Key=outside\n").unwrap_err().contains("line 1"));
    assert!(
        parse_unit("[A]\njunk line\n")
            .unwrap_err()
            .contains("line 2")
    );
    assert!(parse_unit("[A]\n[A]\n").unwrap_err().contains("twice"));
}
