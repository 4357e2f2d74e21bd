//! `debrief init`: create a node home with a new identity.

use std::fs;
use std::path::Path;

use anyhow::bail;
use clap::Args;
use debrief_config::NodeConfig;
use debrief_keys::Identity;
use debrief_protocol::profile::{Industry, OrgProfile, Region, SizeBand};

use crate::home::{self, Home, HomeError};

/// Arguments of `debrief init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The organisation's display name, as its people write it (signed on the identity card).
    /// Taken from `[node] org` in an existing config.toml when absent.
    #[arg(long, value_name = "NAME")]
    pub org: Option<String>,
    /// Industry: saas, cloud-hosting, finance, ecommerce, media, gaming, telecom, healthcare,
    /// government, education, transport, energy, manufacturing, nonprofit, other.
    #[arg(long, value_name = "INDUSTRY")]
    pub industry: Option<Industry>,
    /// Headcount band: 1-49, 50-249, 250-999, 1000-9999, 10000+.
    #[arg(long, value_name = "BAND")]
    pub size_band: Option<SizeBand>,
    /// Region: north-america, latin-america, europe, middle-east-africa, asia-pacific, global.
    #[arg(long, value_name = "REGION")]
    pub region: Option<Region>,
    /// The https://host[:port] URL peers use to reach this node (written to
    /// `[server] public_endpoint`).
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
}

fn required<T: Copy>(
    value: Option<T>,
    flag: &str,
    all: &[T],
    show: fn(T) -> &'static str,
) -> anyhow::Result<T> {
    match value {
        Some(v) => Ok(v),
        None => {
            let allowed: Vec<&str> = all.iter().map(|v| show(*v)).collect();
            bail!("--{flag} is required; one of: {}", allowed.join(", "))
        }
    }
}

/// Runs `debrief init`.
pub fn run(home_arg: Option<&Path>, args: InitArgs) -> anyhow::Result<()> {
    let home = Home::resolve(home_arg)?;
    let keystore_path = home.keystore_path();
    if fs::symlink_metadata(&keystore_path).is_ok() {
        return Err(HomeError::AlreadyInitialised(keystore_path).into());
    }

    // An existing config.toml (e.g. prepared by an operator) is kept and used; otherwise a
    // minimal one is written.
    let config_path = home.config_path();
    let existing = if config_path.exists() {
        Some(home.load_config()?)
    } else {
        None
    };
    let org = match (
        &args.org,
        existing.as_ref().and_then(|c| c.node.org.clone()),
    ) {
        (Some(flag), Some(conf)) if *flag != conf => bail!(
            "--org {flag:?} differs from `[node] org = {conf:?}` in {}; edit one so they agree",
            config_path.display()
        ),
        (Some(flag), _) => flag.clone(),
        (None, Some(conf)) => conf,
        (None, None) => bail!("--org NAME is required (the organisation's display name)"),
    };
    let profile = OrgProfile {
        industry: required(args.industry, "industry", Industry::ALL, Industry::as_str)?,
        size_band: required(args.size_band, "size-band", SizeBand::ALL, SizeBand::as_str)?,
        region: required(args.region, "region", Region::ALL, Region::as_str)?,
    };
    if let (Some(config), Some(url)) = (&existing, &args.endpoint)
        && config.server.public_endpoint.as_deref() != Some(url.as_str())
    {
        bail!(
            "--endpoint differs from `[server] public_endpoint` in {}; edit it there",
            config_path.display()
        );
    }
    let config_text = NodeConfig::initial_toml(&org, args.endpoint.as_deref(), None);
    if existing.is_none() {
        // Validates the org name and the endpoint before the passphrase is asked for.
        NodeConfig::parse(&config_text, &config_path, home.root())?;
    }
    let identity = Identity::generate(&mut rand::rngs::OsRng, &org, profile, super::id::now())?;

    let passphrase = home::read_passphrase("New keystore passphrase: ", true)?;
    let unlocked = home.create(identity, &config_text, passphrase)?;
    let identity = &unlocked.identity;

    println!("Created a Debrief home at {}", home.root().display());
    println!("  member id     {}", identity.member_id().grouped());
    println!("  organisation  {}", identity.org());
    println!("  keystore      {}", keystore_path.display());
    println!("  config        {}", config_path.display());
    println!();
    println!(
        "Back up the keystore and remember its passphrase: without both, this identity is lost."
    );
    println!(
        "Next: `debrief id show`, then `debrief id export card.json` to share your identity card."
    );
    Ok(())
}
