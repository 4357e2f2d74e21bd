//! `debrief id show | export | rotate`: this member's identity.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use debrief_protocol::identity::verify_card;

use crate::circle_ops;
use crate::home::{self, Home};
use crate::node::Node;

/// `debrief id` subcommands.
#[derive(Debug, Subcommand)]
pub enum IdCommand {
    /// Show the member id (grouped for reading aloud), key ids, TLS pin and organisation.
    Show,
    /// Write the signed identity card (envelope JSON) to FILE, to give to a circle maintainer.
    Export {
        /// Where to write the card.
        file: PathBuf,
        /// Overwrite FILE if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Replace the signing key and the age identity, node-wide. Old age identities are kept
    /// to open earlier bundles. Writes the signed key-rotation statement to
    /// `<home>/rotations/N.json` and submits the rotation to every circle: applied at once
    /// where this node is the sequencer, else written to `<home>/rotations/N.<circle>.request.json`
    /// for the sequencer.
    Rotate,
}

/// The current time as a signed-payload timestamp.
pub(crate) fn now() -> debrief_protocol::Timestamp {
    debrief_protocol::Timestamp::from_datetime(time::OffsetDateTime::now_utc())
}

/// Runs a `debrief id` subcommand.
pub fn run(home_arg: Option<&Path>, command: IdCommand) -> anyhow::Result<()> {
    let home = Home::resolve(home_arg)?;
    match command {
        IdCommand::Show => show(&home),
        IdCommand::Export { file, force } => export(&home, &file, force),
        IdCommand::Rotate => rotate(&home),
    }
}

fn show(home: &Home) -> anyhow::Result<()> {
    let unlocked = home.unlock()?;
    let id = &unlocked.identity;
    let profile = id.profile();
    println!("member id       {}", id.member_id().grouped());
    println!("                ({})", id.member_id());
    println!("organisation    {}", id.org());
    println!(
        "profile         industry {}, size {}, region {}",
        profile.industry, profile.size_band, profile.region
    );
    println!("signing key id  {}", id.signing_key_id());
    println!("first key id    {}", id.first_signing_key().key_id());
    println!("age recipient   {}", id.enc_recipient());
    println!("TLS pin         sha256:{}", id.tls_spki_pin());
    println!(
        "attribution id  {}",
        debrief_protocol::Signer::public_key(id.attribution_signer()).key_id()
    );
    match &unlocked.config.server.public_endpoint {
        Some(url) => println!("endpoint        {url}"),
        None => println!("endpoint        (none: this node does not serve peers)"),
    }
    for retired in id.retired_signing_keys() {
        println!(
            "retired key id  {} (rotated {})",
            retired.key.key_id(),
            retired.retired_at
        );
    }
    if let Some(conf_org) = &unlocked.config.node.org
        && conf_org != id.org()
    {
        println!(
            "note: `[node] org = {conf_org:?}` in config.toml differs from the signed name {:?}",
            id.org()
        );
    }
    Ok(())
}

fn export(home: &Home, file: &Path, force: bool) -> anyhow::Result<()> {
    if !force && fs::symlink_metadata(file).is_ok() {
        bail!("{} exists; pass --force to overwrite it", file.display());
    }
    let unlocked = home.unlock()?;
    let endpoint = unlocked.config.server.public_endpoint.as_deref();
    let envelope = unlocked.identity.signed_card(endpoint, now())?;
    // Check what we hand out exactly as a receiver will.
    verify_card(&envelope).context("the card we just signed does not verify")?;
    let mut json = envelope.to_json();
    json.push(b'\n');
    fs::write(file, json).with_context(|| format!("cannot write {}", file.display()))?;
    println!(
        "Wrote the identity card of {} ({}) to {}",
        unlocked.identity.org(),
        unlocked.identity.member_id().grouped(),
        file.display()
    );
    Ok(())
}

/// The next free statement number in `dir`: one more than the largest `N.json`.
fn next_rotation_number(dir: &Path) -> anyhow::Result<u64> {
    let mut max = 0;
    for entry in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let name = entry.file_name();
        let n = name
            .to_str()
            .and_then(|n| n.strip_suffix(".json"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(n) = n {
            max = max.max(n);
        }
    }
    Ok(max + 1)
}

fn rotate(home: &Home) -> anyhow::Result<()> {
    // The circle-scoped rotation request (protocol.md §2.11) is signed by the old AND the new
    // key, and where this node sequences, the event is signed by the old key (the sequencer's
    // key as the roster knows it before the event). The keystore drops the old secret on
    // rotation, so a second copy of the identity is opened first with the same passphrase
    // (asked once), and dropped (zeroized) at the end of this function.
    let passphrase = home::read_passphrase("Keystore passphrase: ", false)?;
    let config = home.load_config()?;
    let options = Home::keystore_options(&config)?;
    let old = debrief_keys::keystore::open(&home.keystore_path(), &passphrase, options)?;
    let mut node = Node::open_with(home.clone(), passphrase)?;
    let dir = home.rotations_dir();
    home::create_private_dir(&dir)?;
    let n = next_rotation_number(&dir)?;
    let old_key = node.identity().signing_key_id();
    let t = now();
    let statement = node.identity_mut().rotate(&mut rand::rngs::OsRng, t)?;
    let mut json = statement.to_json();
    json.push(b'\n');

    // Order matters: a statement for keys we failed to save would hand our circles keys we
    // do not have, and saved keys without their statement would lock us out of them. So the
    // statement is written aside first, the keystore is replaced, then the statement is
    // renamed into place (and removed if the keystore could not be saved).
    let pending = dir.join(format!(".pending-{n}.json"));
    let final_path = dir.join(format!("{n}.json"));
    fs::write(&pending, &json).with_context(|| format!("cannot write {}", pending.display()))?;
    if let Err(err) = node.save_identity() {
        let _ = fs::remove_file(&pending);
        return Err(err.into());
    }
    fs::rename(&pending, &final_path).with_context(|| {
        format!(
            "the keys were rotated, but the statement could not be moved into place; it is in {}",
            pending.display()
        )
    })?;
    let identity = node.identity();
    println!("Rotated the signing key and the age identity.");
    println!("  old signing key id  {old_key}");
    println!("  new signing key id  {}", identity.signing_key_id());
    println!("  new age recipient   {}", identity.enc_recipient());
    println!("  statement           {}", final_path.display());

    // Submit the rotation to every circle this node belongs to.
    let my_id = identity.member_id();
    let mut failures = 0;
    for entry in node.index().list()? {
        // One circle that cannot be opened must not keep the rotation from the others.
        let mut circle = match node.circle(Some(&entry.circle_id.to_hex()), t) {
            Ok(c) => c,
            Err(e) => {
                failures += 1;
                println!("  circle {:?}: NOT submitted: {e}", entry.name);
                continue;
            }
        };
        let name = circle.roster.name().to_owned();
        if circle.roster.member(&my_id).is_none() {
            continue;
        }
        match circle_ops::submit_rotation(&mut circle, &old, identity, &my_id, t) {
            Ok(circle_ops::Submitted::Applied(event)) => {
                println!("  circle {name:?}: applied as roster event {}", event.seq);
            }
            Ok(circle_ops::Submitted::Pending(env)) => {
                let file = dir.join(format!(
                    "{n}.{}.request.json",
                    &circle.roster.circle_id().to_hex()[..16]
                ));
                let mut bytes = env.to_json();
                bytes.push(b'\n');
                fs::write(&file, bytes)
                    .with_context(|| format!("cannot write {}", file.display()))?;
                println!(
                    "  circle {name:?}: request written to {}; send it to the sequencer {} \
                     (it runs `debrief circle apply FILE`)",
                    file.display(),
                    circle.roster.sequencer()
                );
            }
            Err(e) => {
                failures += 1;
                println!("  circle {name:?}: NOT submitted: {e}");
            }
        }
    }
    if failures > 0 {
        bail!(
            "the keys were rotated, but {failures} circle(s) did not take the rotation; until \
             they do they encrypt to your old key, which this node keeps"
        );
    }
    Ok(())
}
