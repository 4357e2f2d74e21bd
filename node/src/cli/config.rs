//! `debrief config check`: validate the configuration without unlocking anything.

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;
use debrief_config::format_duration;
use debrief_keys::keystore;

use crate::home::Home;

/// `debrief config` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate config.toml and show the values the node will use. Exit code 1 if the
    /// configuration or the keystore file has a problem.
    Check,
}

/// Runs a `debrief config` subcommand.
pub fn run(home_arg: Option<&Path>, command: ConfigCommand) -> anyhow::Result<ExitCode> {
    let home = Home::resolve(home_arg)?;
    match command {
        ConfigCommand::Check => check(&home),
    }
}

fn check(home: &Home) -> anyhow::Result<ExitCode> {
    let config = match home.load_config() {
        Ok(c) => c,
        Err(err) => {
            eprintln!("problem: {err}");
            return Ok(ExitCode::from(1));
        }
    };
    let options = match Home::keystore_options(&config) {
        Ok(o) => o,
        Err(err) => {
            eprintln!("problem: {err}");
            return Ok(ExitCode::from(1));
        }
    };
    println!("{}: ok", home.config_path().display());
    let opt = |v: Option<String>| v.unwrap_or_else(|| "(unset)".into());
    println!(
        "  node.org                       {}",
        opt(config.node.org.clone())
    );
    println!(
        "  node.data_dir                  {}",
        config.node.data_dir.display()
    );
    println!("  server.listen                  {}", config.server.listen);
    println!(
        "  server.admin_listen            {}",
        opt(config.server.admin_listen.map(|a| a.to_string()))
    );
    println!(
        "  server.public_endpoint         {}",
        opt(config.server.public_endpoint.clone())
    );
    println!(
        "  limits.max_request_body        {} bytes",
        config.limits.max_request_body
    );
    println!(
        "  limits.max_bundle              {} bytes",
        config.limits.max_bundle
    );
    println!(
        "  limits.max_report              {} bytes",
        config.limits.max_report
    );
    println!(
        "  limits.rate_limit_per_minute   {}",
        config.limits.rate_limit_per_minute
    );
    println!(
        "  limits.request_timeout         {}",
        format_duration(config.limits.request_timeout)
    );
    println!("  sync.enabled                   {}", config.sync.enabled);
    println!(
        "  sync.interval                  {}",
        format_duration(config.sync.interval)
    );
    println!(
        "  sync.peer_timeout              {}",
        format_duration(config.sync.peer_timeout)
    );
    println!(
        "  sync.max_clock_skew            {}",
        format_duration(config.sync.max_clock_skew)
    );
    println!(
        "  keystore.scrypt_work_factor    {}",
        options
            .work_factor
            .map_or_else(|| "(age default)".into(), |n| n.to_string())
    );
    println!(
        "  declassify.private_terms       {} term(s)",
        config.declassify.private_terms.len()
    );
    match keystore::check_file(&home.keystore_path()) {
        Ok(()) => {
            println!("{}: present, mode ok", home.keystore_path().display());
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            eprintln!("problem: {err}");
            Ok(ExitCode::from(1))
        }
    }
}
