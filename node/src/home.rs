//! A node's home directory: where its configuration, keystore and data live, and how to unlock
//! it. See docs/keys.md and docs/configuration.md.
//!
//! ```text
//! <home>/config.toml        configuration (docs/configuration.md)
//! <home>/keystore.age       the identity, age scrypt-encrypted, mode 0600 (docs/keys.md)
//! <home>/rotations/N.json   signed key-rotation statements, for the circle commands to submit
//! <data_dir>/circles/       one SQLite file per circle (data_dir defaults to <home>/data)
//! ```
//!
//! The passphrase comes from the file named by `DEBRIEF_PASSPHRASE_FILE` (its contents, one
//! trailing newline removed) or from a no-echo prompt on the terminal; never from argv.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use debrief_config::{ConfigError, NodeConfig};
use debrief_keys::Identity;
use debrief_keys::keystore::{self, KeystoreError, KeystoreOptions, Passphrase};
use zeroize::Zeroizing;

/// Environment variable naming a file that holds the keystore passphrase (for scripts/tests).
pub const PASSPHRASE_FILE_ENV: &str = "DEBRIEF_PASSPHRASE_FILE";

/// Environment variable overriding `[keystore] scrypt_work_factor` (tests use a low value).
pub const WORK_FACTOR_ENV: &str = "DEBRIEF_SCRYPT_WORK_FACTOR";

/// The keystore's file name inside the home.
pub const KEYSTORE_FILE: &str = "keystore.age";

/// Why the home could not be used.
#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Keystore(#[from] KeystoreError),
    #[error("{WORK_FACTOR_ENV}={0:?} is not a work factor; use a whole number from 1 to 30")]
    BadWorkFactorEnv(String),
    #[error("cannot read the passphrase file {path} (from {PASSPHRASE_FILE_ENV}): {source}")]
    PassphraseFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "cannot prompt for the passphrase ({0}); run in a terminal or set {PASSPHRASE_FILE_ENV}"
    )]
    Prompt(io::Error),
    #[error("the two passphrases differ; nothing was created")]
    PassphraseMismatch,
    #[error(
        "an identity already exists at {0}; refusing to overwrite it (move the home away to \
         start over, and keep the old keystore: it is the only copy of those keys)"
    )]
    AlreadyInitialised(PathBuf),
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// A node's home directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    root: PathBuf,
}

/// An unlocked home: its configuration, the identity and the passphrase that opened it (kept
/// so the keystore can be rewritten after a rotation).
#[derive(Debug)]
pub struct Unlocked {
    pub config: NodeConfig,
    pub identity: Identity,
    passphrase: Passphrase,
    options: KeystoreOptions,
}

impl Home {
    /// `explicit` is `--home` / `DEBRIEF_HOME`; otherwise the platform default.
    pub fn resolve(explicit: Option<&Path>) -> Result<Home, HomeError> {
        Ok(Home {
            root: debrief_config::resolve_home(explicit)?,
        })
    }

    /// A home at exactly `root`.
    pub fn at(root: impl Into<PathBuf>) -> Home {
        Home { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config_path(&self) -> PathBuf {
        self.root.join(debrief_config::CONFIG_FILE)
    }

    pub fn keystore_path(&self) -> PathBuf {
        self.root.join(KEYSTORE_FILE)
    }

    pub fn rotations_dir(&self) -> PathBuf {
        self.root.join("rotations")
    }

    /// The data directory from the configuration.
    pub fn data_dir(config: &NodeConfig) -> PathBuf {
        config.node.data_dir.clone()
    }

    /// Where circle databases live.
    pub fn circles_dir(config: &NodeConfig) -> PathBuf {
        config.node.data_dir.join("circles")
    }

    /// Loads and validates `config.toml`.
    pub fn load_config(&self) -> Result<NodeConfig, HomeError> {
        Ok(NodeConfig::load(&self.root)?)
    }

    /// The keystore options: `DEBRIEF_SCRYPT_WORK_FACTOR` if set, else the configuration.
    pub fn keystore_options(config: &NodeConfig) -> Result<KeystoreOptions, HomeError> {
        match std::env::var(WORK_FACTOR_ENV) {
            Ok(text) => {
                let n: u8 = text
                    .trim()
                    .parse()
                    .map_err(|_| HomeError::BadWorkFactorEnv(text.clone()))?;
                KeystoreOptions::with_work_factor(n)
                    .map_err(|_| HomeError::BadWorkFactorEnv(text.clone()))
            }
            Err(_) => Ok(KeystoreOptions {
                work_factor: config.keystore.scrypt_work_factor,
            }),
        }
    }

    /// Loads the configuration and unlocks the keystore, asking for the passphrase
    /// ([`read_passphrase`]). The keystore's existence and permissions are checked before the
    /// passphrase is asked for. Reads only.
    pub fn unlock(&self) -> Result<Unlocked, HomeError> {
        self.unlock_inner(None)
    }

    /// Like [`Home::unlock`] with a passphrase the caller already has (in-process tests, or a
    /// server that asked once at start).
    pub fn unlock_with(&self, passphrase: Passphrase) -> Result<Unlocked, HomeError> {
        self.unlock_inner(Some(passphrase))
    }

    fn unlock_inner(&self, passphrase: Option<Passphrase>) -> Result<Unlocked, HomeError> {
        let config = self.load_config()?;
        let options = Home::keystore_options(&config)?;
        let path = self.keystore_path();
        keystore::check_file(&path)?;
        let passphrase = match passphrase {
            Some(p) => p,
            None => read_passphrase("Keystore passphrase: ", false)?,
        };
        let identity = keystore::open(&path, &passphrase, options)?;
        Ok(Unlocked {
            config,
            identity,
            passphrase,
            options,
        })
    }

    /// Creates the home around a new identity: the home directory (0700), `config.toml` from
    /// `config_text` unless one exists already (mode 0600: it can hold private deny terms),
    /// `<data_dir>/circles/`, and the keystore. Refuses if a keystore exists. The keystore's
    /// work factor comes from [`Home::keystore_options`] of the resulting configuration.
    pub fn create(
        &self,
        identity: Identity,
        config_text: &str,
        passphrase: Passphrase,
    ) -> Result<Unlocked, HomeError> {
        let keystore_path = self.keystore_path();
        if fs::symlink_metadata(&keystore_path).is_ok() {
            return Err(HomeError::AlreadyInitialised(keystore_path));
        }
        let config_path = self.config_path();
        let existing = config_path.exists();
        // Validate before creating anything.
        let config = if existing {
            self.load_config()?
        } else {
            NodeConfig::parse(config_text, &config_path, &self.root)?
        };
        let options = Home::keystore_options(&config)?;
        create_private_dir(&self.root)?;
        if !existing {
            write_new_private_file(&config_path, config_text.as_bytes())?;
        }
        create_private_dir(&Home::circles_dir(&config))?;
        keystore::create(&keystore_path, &identity, &passphrase, options)?;
        Ok(Unlocked {
            config,
            identity,
            passphrase,
            options,
        })
    }

    /// Writes the identity back to the keystore atomically, with the passphrase it was
    /// unlocked with.
    pub fn save(&self, unlocked: &Unlocked) -> Result<(), HomeError> {
        keystore::save(
            &self.keystore_path(),
            &unlocked.identity,
            &unlocked.passphrase,
            unlocked.options,
        )?;
        Ok(())
    }
}

/// Creates `dir` (and parents) with mode 0700 where new.
pub fn create_private_dir(dir: &Path) -> Result<(), HomeError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|source| HomeError::Io {
        action: "cannot create directory",
        path: dir.to_owned(),
        source,
    })
}

/// Creates a file that must not exist yet, mode 0600, and fsyncs it.
fn write_new_private_file(path: &Path, bytes: &[u8]) -> Result<(), HomeError> {
    use std::io::Write;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let io = |action| {
        move |source| HomeError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    };
    let mut file = options.open(path).map_err(io("cannot create"))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(io("cannot write"))
}

/// Reads the passphrase: from `DEBRIEF_PASSPHRASE_FILE` if set, else a no-echo prompt (twice
/// when `confirm`, for a new keystore).
pub fn read_passphrase(prompt: &str, confirm: bool) -> Result<Passphrase, HomeError> {
    if let Some(path) = std::env::var_os(PASSPHRASE_FILE_ENV) {
        let path = PathBuf::from(path);
        let mut text = Zeroizing::new(fs::read_to_string(&path).map_err(|source| {
            HomeError::PassphraseFile {
                path: path.clone(),
                source,
            }
        })?);
        // One trailing newline is the file's line ending, not part of the passphrase.
        if text.ends_with('\n') {
            text.pop();
            if text.ends_with('\r') {
                text.pop();
            }
        }
        return Ok(Passphrase::new(text)?);
    }
    let first = Zeroizing::new(rpassword::prompt_password(prompt).map_err(HomeError::Prompt)?);
    if confirm {
        let again = Zeroizing::new(
            rpassword::prompt_password("Repeat the passphrase: ").map_err(HomeError::Prompt)?,
        );
        if *again != *first {
            return Err(HomeError::PassphraseMismatch);
        }
    }
    Ok(Passphrase::new(first)?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use debrief_protocol::Timestamp;
    use debrief_protocol::profile::{Industry, OrgProfile, Region, SizeBand};
    use rand::SeedableRng;

    fn identity(seed: u64) -> Identity {
        let profile = OrgProfile {
            industry: Industry::Finance,
            size_band: SizeBand::S,
            region: Region::Global,
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        Identity::generate(
            &mut rng,
            "Acme",
            profile,
            Timestamp::from_unix(1_795_602_000),
        )
        .unwrap()
    }

    fn pass(text: &str) -> Passphrase {
        Passphrase::new(Zeroizing::new(text.to_owned())).unwrap()
    }

    #[test]
    fn create_then_unlock_in_process() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path().join("h"));
        let text = NodeConfig::initial_toml("Acme", None, Some(10));
        let created = home.create(identity(1), &text, pass("pw")).unwrap();
        assert_eq!(created.config.keystore.scrypt_work_factor, Some(10));
        assert!(Home::circles_dir(&created.config).is_dir());
        let unlocked = home.unlock_with(pass("pw")).unwrap();
        assert_eq!(unlocked.identity.member_id(), created.identity.member_id());
        assert!(matches!(
            home.unlock_with(pass("nope")).unwrap_err(),
            HomeError::Keystore(KeystoreError::WrongPassphrase(_))
        ));
        assert!(matches!(
            home.create(identity(2), &text, pass("pw")).unwrap_err(),
            HomeError::AlreadyInitialised(p) if p == home.keystore_path()
        ));
        assert_eq!(
            home.unlock_with(pass("pw")).unwrap().identity.member_id(),
            created.identity.member_id()
        );
    }

    #[test]
    fn save_after_rotation_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        let text = NodeConfig::initial_toml("Acme", None, Some(10));
        let mut unlocked = home.create(identity(3), &text, pass("pw")).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        unlocked
            .identity
            .rotate(&mut rng, Timestamp::from_unix(1_795_700_000))
            .unwrap();
        home.save(&unlocked).unwrap();
        let again = home.unlock_with(pass("pw")).unwrap();
        assert_eq!(
            again.identity.signing_public_key(),
            unlocked.identity.signing_public_key()
        );
        assert_eq!(again.identity.retired_age_identity_count(), 1);
    }
}
