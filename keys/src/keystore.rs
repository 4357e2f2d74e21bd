//! The keystore: one file holding a member [`Identity`], encrypted with age's scrypt passphrase
//! mode, mode 0600, replaced atomically. See docs/keys.md for the format.
//!
//! Opening never writes: a wrong passphrase, a damaged file or too-open permissions leave every
//! byte on disk as it was. Writing goes to a temporary file in the same directory, which is
//! fsynced and renamed over the target, and then the directory is fsynced, so a crash leaves
//! either the old keystore or the new one, never a mix.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use age::secrecy::SecretString;
use debrief_protocol::encoding::{base64_decode, base64_encode};
use debrief_protocol::envelope::{PublicKey, Signer};
use debrief_protocol::profile::OrgProfile;
use debrief_protocol::timestamp::Timestamp;
use ed25519_dalek::SigningKey;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::identity::{
    AgeSecret, AttributionSigner, Identity, RetiredSigningKey, check_org_name, check_salt_id,
};

/// The plaintext format version written by this code.
pub const FORMAT_VERSION: u32 = 1;

/// The largest scrypt work factor (log2 N) accepted when opening, unless the configured work
/// factor is larger. 22 is what age itself accepts on a typical machine (about 16 s, 4 GiB);
/// it bounds the work a damaged or hostile file can demand.
pub const DEFAULT_MAX_WORK_FACTOR: u8 = 22;

/// The largest work factor we let anyone configure: 2^30 scrypt needs 128 GiB of memory.
pub const MAX_WORK_FACTOR: u8 = 30;

/// Largest keystore we read: a real one is a few KiB; this bounds memory on a wrong path.
const MAX_KEYSTORE_BYTES: u64 = 16 * 1024 * 1024;

/// A passphrase, zeroized on drop and never printed.
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// Wraps a passphrase, refusing an empty one.
    pub fn new(text: Zeroizing<String>) -> Result<Self, KeystoreError> {
        if text.is_empty() {
            return Err(KeystoreError::EmptyPassphrase);
        }
        Ok(Passphrase(text))
    }

    fn secret(&self) -> SecretString {
        SecretString::from(self.0.as_str().to_owned())
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase([redacted])")
    }
}

/// The scrypt work factor (log2 of scrypt's N). `None` in [`KeystoreOptions`] means age's
/// default, which targets about one second on the current machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeystoreOptions {
    /// The work factor for writing; also raises the cap for opening if above the default cap.
    pub work_factor: Option<u8>,
}

impl KeystoreOptions {
    /// Options with a fixed work factor, checked to be within 1..=30.
    pub fn with_work_factor(log_n: u8) -> Result<Self, KeystoreError> {
        check_work_factor(log_n)?;
        Ok(KeystoreOptions {
            work_factor: Some(log_n),
        })
    }
}

fn check_work_factor(log_n: u8) -> Result<(), KeystoreError> {
    if (1..=MAX_WORK_FACTOR).contains(&log_n) {
        Ok(())
    } else {
        Err(KeystoreError::BadWorkFactor(log_n))
    }
}

/// Why the keystore could not be opened or written. Nothing on disk changed in any case.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    #[error("no keystore at {0}; run `debrief init` to create one")]
    Missing(PathBuf),
    #[error("a keystore already exists at {0}; refusing to overwrite an identity")]
    AlreadyExists(PathBuf),
    #[error(
        "keystore {path} is readable or writable by group or others (mode {mode:04o}); \
         fix it with `chmod 600 {path}`"
    )]
    PermissionsTooOpen { path: PathBuf, mode: u32 },
    #[error("keystore {0} is not a regular file")]
    NotAFile(PathBuf),
    #[error("cannot unlock keystore {0}: wrong passphrase")]
    WrongPassphrase(PathBuf),
    #[error("keystore {0} is truncated; restore it from a backup")]
    Truncated(PathBuf),
    #[error("keystore {0} is damaged or was modified; restore it from a backup")]
    Tampered(PathBuf),
    #[error("{0} is not a Debrief keystore (not an age passphrase-encrypted file)")]
    NotAKeystore(PathBuf),
    #[error(
        "keystore {path} needs scrypt work factor {required}, above the accepted {max}; \
         if you set it yourself, set [keystore] scrypt_work_factor = {required}"
    )]
    ExcessiveWork {
        path: PathBuf,
        required: u8,
        max: u8,
    },
    #[error(
        "keystore {path} has format version {found}; this debrief reads version {FORMAT_VERSION}"
    )]
    UnsupportedVersion { path: PathBuf, found: u32 },
    #[error("keystore {path} decrypted but its contents are invalid: {detail}")]
    Malformed { path: PathBuf, detail: String },
    #[error("scrypt work factor {0} is out of range; use 1 to {MAX_WORK_FACTOR} (tests use 10)")]
    BadWorkFactor(u8),
    #[error("the passphrase is empty")]
    EmptyPassphrase,
    #[error("cannot encrypt the keystore: {0}")]
    Encrypt(String),
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> KeystoreError + 'a {
    move |source| KeystoreError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

// ---------------------------------------------------------------------------------------------
// Plaintext format (version 1). Secret fields are base64 strings inside types that zeroize on
// drop, so the decoded intermediate copies do not outlive a load or a save.

#[derive(Deserialize)]
struct VersionProbe {
    version: u32,
}

#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
struct StoredIdentity {
    version: u32,
    org: String,
    #[zeroize(skip)]
    profile: OrgProfile,
    #[zeroize(skip)]
    created_at: Timestamp,
    #[zeroize(skip)]
    first_signing_key: PublicKey,
    signing_key: String,
    enc_identity: String,
    retired_enc_identities: Vec<String>,
    #[zeroize(skip)]
    retired_signing_keys: Vec<StoredRetiredKey>,
    tls_seed: String,
    attribution_key: String,
    provenance_salts: Vec<StoredSalt>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredRetiredKey {
    key: PublicKey,
    retired_at: Timestamp,
}

#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
struct StoredSalt {
    id: String,
    salt: String,
}

fn decode32(text: &str, field: &str) -> Result<Zeroizing<[u8; 32]>, String> {
    let bytes = Zeroizing::new(base64_decode(text).unwrap_or_default());
    let mut out = Zeroizing::new([0u8; 32]);
    if bytes.len() != 32 {
        return Err(format!("{field} is not 32 bytes of base64"));
    }
    out.copy_from_slice(&bytes);
    Ok(out)
}

impl StoredIdentity {
    fn from_identity(id: &Identity) -> StoredIdentity {
        StoredIdentity {
            version: FORMAT_VERSION,
            org: id.org.clone(),
            profile: id.profile.clone(),
            created_at: id.created_at,
            first_signing_key: id.first_signing_key,
            signing_key: base64_encode(id.signing.as_bytes()),
            enc_identity: base64_encode(id.enc.as_bytes()),
            retired_enc_identities: id
                .retired_enc
                .iter()
                .map(|s| base64_encode(s.as_bytes()))
                .collect(),
            retired_signing_keys: id
                .retired_signing_keys
                .iter()
                .map(|r| StoredRetiredKey {
                    key: r.key,
                    retired_at: r.retired_at,
                })
                .collect(),
            tls_seed: base64_encode(&id.tls_seed[..]),
            attribution_key: base64_encode(id.attribution.secret_bytes()),
            provenance_salts: id
                .provenance_salts
                .iter()
                .map(|(k, v)| StoredSalt {
                    id: k.clone(),
                    salt: base64_encode(&v[..]),
                })
                .collect(),
        }
    }

    fn to_identity(&self) -> Result<Identity, String> {
        check_org_name(&self.org).map_err(|e| format!("org: {e}"))?;
        let signing = SigningKey::from_bytes(&*decode32(&self.signing_key, "signing_key")?);
        let enc = AgeSecret::from_bytes(decode32(&self.enc_identity, "enc_identity")?);
        let retired_enc = self
            .retired_enc_identities
            .iter()
            .map(|s| decode32(s, "retired_enc_identities").map(AgeSecret::from_bytes))
            .collect::<Result<Vec<_>, _>>()?;
        let retired_signing_keys: Vec<RetiredSigningKey> = self
            .retired_signing_keys
            .iter()
            .map(|r| RetiredSigningKey {
                key: r.key,
                retired_at: r.retired_at,
            })
            .collect();
        // The member id hangs on the first key: it must be the oldest key this identity held.
        let oldest = retired_signing_keys
            .first()
            .map(|r| r.key)
            .unwrap_or_else(|| signing.public_key());
        if oldest != self.first_signing_key {
            return Err("first_signing_key is not the oldest signing key".into());
        }
        if retired_enc.len() != retired_signing_keys.len() {
            return Err("retired age identities and retired signing keys differ in number".into());
        }
        let mut provenance_salts = BTreeMap::new();
        for s in &self.provenance_salts {
            check_salt_id(&s.id).map_err(|e| e.to_string())?;
            let salt = decode32(&s.salt, "provenance_salts")?;
            if provenance_salts.insert(s.id.clone(), salt).is_some() {
                return Err(format!("provenance salt {:?} appears twice", s.id));
            }
        }
        Ok(Identity {
            first_signing_key: self.first_signing_key,
            signing,
            enc,
            retired_enc,
            retired_signing_keys,
            tls_seed: decode32(&self.tls_seed, "tls_seed")?,
            attribution: AttributionSigner::from_seed(&*decode32(
                &self.attribution_key,
                "attribution_key",
            )?),
            provenance_salts,
            org: self.org.clone(),
            profile: self.profile.clone(),
            created_at: self.created_at,
        })
    }
}

/// Serialises the identity to its plaintext form. The buffer is sized up front so it is not
/// reallocated (which would leave unzeroized copies behind) while secrets are written into it.
fn to_plaintext(identity: &Identity) -> Result<Zeroizing<Vec<u8>>, KeystoreError> {
    let stored = StoredIdentity::from_identity(identity);
    let estimate = 4096
        + 128 * (stored.retired_enc_identities.len() * 2 + stored.provenance_salts.len())
        + stored.org.len() * 6;
    let mut buf = Zeroizing::new(Vec::with_capacity(estimate));
    serde_json::to_writer(&mut *buf, &stored).map_err(|e| KeystoreError::Encrypt(e.to_string()))?;
    Ok(buf)
}

fn from_plaintext(path: &Path, plaintext: &[u8]) -> Result<Identity, KeystoreError> {
    let malformed = |detail: String| KeystoreError::Malformed {
        path: path.to_owned(),
        detail,
    };
    let probe: VersionProbe =
        serde_json::from_slice(plaintext).map_err(|e| malformed(e.to_string()))?;
    if probe.version != FORMAT_VERSION {
        return Err(KeystoreError::UnsupportedVersion {
            path: path.to_owned(),
            found: probe.version,
        });
    }
    let stored: StoredIdentity =
        serde_json::from_slice(plaintext).map_err(|e| malformed(e.to_string()))?;
    stored.to_identity().map_err(malformed)
}

// ---------------------------------------------------------------------------------------------
// Files.

/// Checks that `path` is a regular file readable only by its owner (mode 0600 or stricter).
pub fn check_file(path: &Path) -> Result<(), KeystoreError> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(KeystoreError::Missing(path.to_owned()));
        }
        Err(e) => return Err(io_err("cannot read the metadata of", path)(e)),
    };
    if !meta.is_file() {
        return Err(KeystoreError::NotAFile(path.to_owned()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(KeystoreError::PermissionsTooOpen {
                path: path.to_owned(),
                mode,
            });
        }
    }
    Ok(())
}

/// Opens and decrypts the keystore. Reads only; never writes.
pub fn open(
    path: &Path,
    passphrase: &Passphrase,
    options: KeystoreOptions,
) -> Result<Identity, KeystoreError> {
    check_file(path)?;
    let mut file = File::open(path).map_err(io_err("cannot open", path))?;
    let mut ciphertext = Vec::new();
    Read::by_ref(&mut file)
        .take(MAX_KEYSTORE_BYTES + 1)
        .read_to_end(&mut ciphertext)
        .map_err(io_err("cannot read", path))?;
    if ciphertext.len() as u64 > MAX_KEYSTORE_BYTES {
        return Err(KeystoreError::NotAKeystore(path.to_owned()));
    }
    let plaintext = decrypt(path, &ciphertext, passphrase, options)?;
    from_plaintext(path, &plaintext)
}

const ARMOR_BEGIN: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";
const ARMOR_END: &[u8] = b"-----END AGE ENCRYPTED FILE-----";

/// The keystore is ASCII-armored so that a cut-short file is recognisable: age's STREAM cannot
/// tell a truncated final chunk from a modified one, but a missing END line can only mean the
/// file was cut.
fn check_armor_frame(path: &Path, bytes: &[u8]) -> Result<(), KeystoreError> {
    if !bytes.starts_with(ARMOR_BEGIN) {
        return Err(if ARMOR_BEGIN.starts_with(bytes) {
            KeystoreError::Truncated(path.to_owned())
        } else {
            KeystoreError::NotAKeystore(path.to_owned())
        });
    }
    if !bytes.trim_ascii_end().ends_with(ARMOR_END) {
        return Err(KeystoreError::Truncated(path.to_owned()));
    }
    Ok(())
}

fn max_work_factor(options: KeystoreOptions) -> u8 {
    options
        .work_factor
        .map_or(DEFAULT_MAX_WORK_FACTOR, |w| w.max(DEFAULT_MAX_WORK_FACTOR))
}

fn decrypt(
    path: &Path,
    ciphertext: &[u8],
    passphrase: &Passphrase,
    options: KeystoreOptions,
) -> Result<Zeroizing<Vec<u8>>, KeystoreError> {
    use age::DecryptError as D;
    let max = max_work_factor(options);
    check_armor_frame(path, ciphertext)?;
    // The frame is intact, so any failure from here on is a modified file (or a wrong
    // passphrase, which age reports separately).
    let header_error = |e: D| match e {
        D::UnknownFormat => KeystoreError::NotAKeystore(path.to_owned()),
        _ => KeystoreError::Tampered(path.to_owned()),
    };
    let decryptor = age::Decryptor::new_buffered(age::armor::ArmoredReader::new(ciphertext))
        .map_err(header_error)?;
    if !decryptor.is_scrypt() {
        return Err(KeystoreError::NotAKeystore(path.to_owned()));
    }
    let mut identity = age::scrypt::Identity::new(passphrase.secret());
    identity.set_max_work_factor(max);
    let mut reader = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|e| match e {
            // age's scrypt stanza decrypts the file key with an AEAD: a wrong passphrase fails
            // there; a modified header after that fails the header MAC.
            D::DecryptionFailed | D::KeyDecryptionFailed | D::NoMatchingKeys => {
                KeystoreError::WrongPassphrase(path.to_owned())
            }
            D::ExcessiveWork { required, .. } => KeystoreError::ExcessiveWork {
                path: path.to_owned(),
                required,
                max,
            },
            other => header_error(other),
        })?;
    // The plaintext is never longer than the ciphertext, so this buffer never reallocates.
    let mut plaintext = Zeroizing::new(Vec::with_capacity(ciphertext.len()));
    reader
        .read_to_end(&mut plaintext)
        .map_err(|_| KeystoreError::Tampered(path.to_owned()))?;
    Ok(plaintext)
}

fn encrypt(
    identity: &Identity,
    passphrase: &Passphrase,
    options: KeystoreOptions,
) -> Result<Vec<u8>, KeystoreError> {
    let plaintext = to_plaintext(identity)?;
    let mut recipient = age::scrypt::Recipient::new(passphrase.secret());
    if let Some(log_n) = options.work_factor {
        check_work_factor(log_n)?;
        recipient.set_work_factor(log_n);
    }
    let encryptor = age::Encryptor::with_recipients(std::iter::once(&recipient as _))
        .map_err(|e| KeystoreError::Encrypt(e.to_string()))?;
    let mut ciphertext = Vec::with_capacity(plaintext.len() * 2 + 512);
    let armored =
        age::armor::ArmoredWriter::wrap_output(&mut ciphertext, age::armor::Format::AsciiArmor)
            .map_err(|e| KeystoreError::Encrypt(e.to_string()))?;
    let mut writer = encryptor
        .wrap_output(armored)
        .map_err(|e| KeystoreError::Encrypt(e.to_string()))?;
    writer
        .write_all(&plaintext)
        .and_then(|()| writer.finish())
        .and_then(|armored| armored.finish().map(|_| ()))
        .map_err(|e| KeystoreError::Encrypt(e.to_string()))?;
    Ok(ciphertext)
}

/// Creates a new keystore at `path`, refusing to overwrite an existing file.
pub fn create(
    path: &Path,
    identity: &Identity,
    passphrase: &Passphrase,
    options: KeystoreOptions,
) -> Result<(), KeystoreError> {
    if fs::symlink_metadata(path).is_ok() {
        return Err(KeystoreError::AlreadyExists(path.to_owned()));
    }
    let bytes = encrypt(identity, passphrase, options)?;
    write_atomically(path, &bytes)
}

/// Replaces the keystore at `path` (after a rotation or a new provenance salt). The existing
/// file must pass [`check_file`], so a keystore with wrong permissions is never silently fixed
/// by a rewrite.
pub fn save(
    path: &Path,
    identity: &Identity,
    passphrase: &Passphrase,
    options: KeystoreOptions,
) -> Result<(), KeystoreError> {
    check_file(path)?;
    let bytes = encrypt(identity, passphrase, options)?;
    write_atomically(path, &bytes)
}

/// Writes `bytes` to `path` atomically with mode 0600: temp file in the same directory,
/// fsync, rename, fsync the directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), KeystoreError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "keystore".into());
    let mut suffix = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut suffix);
    let tmp = dir.join(format!(
        ".{name}.tmp-{}",
        debrief_protocol::encoding::hex(&suffix)
    ));
    let result = write_then_rename(&tmp, path, &dir, bytes);
    if result.is_err() {
        // Best effort: the temp file is ours and holds nothing the target does not.
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn write_then_rename(
    tmp: &Path,
    path: &Path,
    dir: &Path,
    bytes: &[u8],
) -> Result<(), KeystoreError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(tmp).map_err(io_err("cannot create", tmp))?;
    file.write_all(bytes).map_err(io_err("cannot write", tmp))?;
    file.sync_all().map_err(io_err("cannot fsync", tmp))?;
    drop(file);
    fs::rename(tmp, path).map_err(io_err("cannot rename the new keystore onto", path))?;
    #[cfg(unix)]
    {
        let d = File::open(dir).map_err(io_err("cannot open directory", dir))?;
        d.sync_all()
            .map_err(io_err("cannot fsync directory", dir))?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::identity::tests::test_identity;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn pass(text: &str) -> Passphrase {
        Passphrase::new(Zeroizing::new(text.to_owned())).unwrap()
    }

    fn fast() -> KeystoreOptions {
        KeystoreOptions::with_work_factor(10).unwrap()
    }

    fn store(dir: &Path) -> (PathBuf, Identity) {
        let path = dir.join("keystore.age");
        let id = test_identity(11);
        create(&path, &id, &pass("correct horse"), fast()).unwrap();
        (path, id)
    }

    #[test]
    fn round_trip_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keystore.age");
        let mut id = test_identity(12);
        id.add_provenance_salt("pub-1", [3; 32]).unwrap();
        id.rotate(
            &mut StdRng::seed_from_u64(5),
            Timestamp::from_unix(1_795_700_000),
        )
        .unwrap();
        create(&path, &id, &pass("pw"), fast()).unwrap();
        let back = open(&path, &pass("pw"), fast()).unwrap();
        assert_eq!(back.member_id(), id.member_id());
        assert_eq!(back.signing_public_key(), id.signing_public_key());
        assert_eq!(back.first_signing_key(), id.first_signing_key());
        assert_eq!(back.retired_signing_keys(), id.retired_signing_keys());
        assert_eq!(
            back.enc_recipient().to_string(),
            id.enc_recipient().to_string()
        );
        assert_eq!(back.retired_age_identity_count(), 1);
        assert_eq!(back.tls_public_key(), id.tls_public_key());
        assert_eq!(
            back.attribution_signer().public_key(),
            id.attribution_signer().public_key()
        );
        assert_eq!(back.provenance_salt("pub-1"), Some(&[3; 32]));
        assert_eq!(back.org(), "Example Corp");
        assert_eq!(back.profile(), id.profile());
        assert_eq!(back.created_at(), id.created_at());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        // No temp files left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn create_refuses_to_clobber() {
        let dir = tempfile::tempdir().unwrap();
        let (path, id) = store(dir.path());
        let before = fs::read(&path).unwrap();
        let err = create(&path, &id, &pass("other"), fast()).unwrap_err();
        assert!(matches!(err, KeystoreError::AlreadyExists(p) if p == path));
        assert_eq!(fs::read(&path).unwrap(), before);
    }

    #[test]
    fn wrong_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = store(dir.path());
        let err = open(&path, &pass("wrong"), fast()).unwrap_err();
        assert!(
            matches!(&err, KeystoreError::WrongPassphrase(p) if *p == path),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "cannot unlock keystore {}: wrong passphrase",
                path.display()
            )
        );
    }

    /// The binary age file inside the armor.
    fn dearmor(bytes: &[u8]) -> Vec<u8> {
        let text = std::str::from_utf8(bytes).unwrap();
        let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
        base64_decode(&body).unwrap()
    }

    /// Armors a binary age file the way age does (64 columns, BEGIN/END lines).
    fn rearmor(binary: &[u8]) -> Vec<u8> {
        let b64 = base64_encode(binary);
        let mut out = String::from("-----BEGIN AGE ENCRYPTED FILE-----\n");
        for line in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(line).unwrap());
            out.push('\n');
        }
        out.push_str("-----END AGE ENCRYPTED FILE-----\n");
        out.into_bytes()
    }

    #[test]
    fn armor_helpers_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = store(dir.path());
        let full = fs::read(&path).unwrap();
        assert_eq!(rearmor(&dearmor(&full)), full);
    }

    #[test]
    fn truncated_files() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = store(dir.path());
        let full = fs::read(&path).unwrap();
        // Empty, inside the BEGIN line, inside the header, inside the payload, and just the END
        // line missing.
        let end_line = full.len() - "-----END AGE ENCRYPTED FILE-----\n".len();
        for cut in [0, 20, 60, full.len() / 2, end_line, full.len() - 5] {
            fs::write(&path, &full[..cut]).unwrap();
            let err = open(&path, &pass("correct horse"), fast()).unwrap_err();
            assert!(
                matches!(&err, KeystoreError::Truncated(p) if *p == path),
                "cut at {cut}: {err:?}"
            );
            assert_eq!(
                err.to_string(),
                format!(
                    "keystore {} is truncated; restore it from a backup",
                    path.display()
                )
            );
        }
    }

    #[test]
    fn tampered_payload_and_header() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = store(dir.path());
        let binary = dearmor(&fs::read(&path).unwrap());
        let header_end = binary.windows(4).position(|w| w == b"\n---").unwrap();
        // A bit in the payload, and a character of the header MAC (`--- <base64 MAC>`): the MAC's
        // second character is replaced by another base64 character, so the header still parses
        // (flipping a bit there could make it invalid base64, which is a different error).
        for (pos, is_mac) in [(binary.len() - 3, false), (header_end + 6, true)] {
            let mut flipped = binary.clone();
            if is_mac {
                flipped[pos] = if flipped[pos] == b'A' { b'B' } else { b'A' };
            } else {
                flipped[pos] ^= 0x01;
            }
            fs::write(&path, rearmor(&flipped)).unwrap();
            let err = open(&path, &pass("correct horse"), fast()).unwrap_err();
            assert!(
                matches!(&err, KeystoreError::Tampered(p) if *p == path),
                "at {pos}: {err:?}"
            );
        }
        // A changed stanza line is a modified file too.
        let mut retagged = binary.clone();
        let at = retagged.windows(6).position(|w| w == b"scrypt").unwrap();
        retagged[at] = b'x';
        fs::write(&path, rearmor(&retagged)).unwrap();
        let err = open(&path, &pass("correct horse"), fast()).unwrap_err();
        assert!(
            matches!(
                &err,
                KeystoreError::Tampered(_) | KeystoreError::NotAKeystore(_)
            ),
            "{err:?}"
        );
    }

    #[test]
    fn not_a_keystore_and_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keystore.age");
        assert!(matches!(
            open(&path, &pass("x"), fast()).unwrap_err(),
            KeystoreError::Missing(p) if p == path
        ));
        fs::write(&path, b"hello, this is not age").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        }
        assert!(matches!(
            open(&path, &pass("x"), fast()).unwrap_err(),
            KeystoreError::NotAKeystore(_)
        ));
    }

    #[cfg(unix)]
    #[test]
    fn too_open_permissions_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (path, id) = store(dir.path());
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let err = open(&path, &pass("correct horse"), fast()).unwrap_err();
        assert!(matches!(
            err,
            KeystoreError::PermissionsTooOpen { mode: 0o640, .. }
        ));
        assert!(
            err.to_string()
                .contains(&format!("chmod 600 {}", path.display()))
        );
        // Saving over it is refused too, and the mode stays as the user left it.
        assert!(matches!(
            save(&path, &id, &pass("correct horse"), fast()).unwrap_err(),
            KeystoreError::PermissionsTooOpen { .. }
        ));
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o640
        );
    }

    #[test]
    fn save_replaces_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut id) = store(dir.path());
        id.add_provenance_salt("s", [9; 32]).unwrap();
        save(&path, &id, &pass("correct horse"), fast()).unwrap();
        let back = open(&path, &pass("correct horse"), fast()).unwrap();
        assert_eq!(back.provenance_salt("s"), Some(&[9; 32]));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn excessive_work_is_refused_without_running_scrypt() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = store(dir.path());
        // Rewrite the stanza's work factor from 10 to 40; the cap (22) refuses it before any
        // scrypt work is done.
        let mut binary = dearmor(&fs::read(&path).unwrap());
        let pos = binary.windows(4).position(|w| w == b" 10\n").unwrap();
        binary[pos + 1] = b'4';
        fs::write(&path, rearmor(&binary)).unwrap();
        assert!(matches!(
            open(&path, &pass("correct horse"), fast()).unwrap_err(),
            KeystoreError::ExcessiveWork {
                required: 40,
                max: 22,
                ..
            }
        ));
    }

    #[test]
    fn bad_work_factor_and_empty_passphrase() {
        assert!(matches!(
            KeystoreOptions::with_work_factor(0).unwrap_err(),
            KeystoreError::BadWorkFactor(0)
        ));
        assert!(matches!(
            KeystoreOptions::with_work_factor(31).unwrap_err(),
            KeystoreError::BadWorkFactor(31)
        ));
        assert!(matches!(
            Passphrase::new(Zeroizing::new(String::new())).unwrap_err(),
            KeystoreError::EmptyPassphrase
        ));
        assert_eq!(format!("{:?}", pass("secret")), "Passphrase([redacted])");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        /// Any single-byte change to a keystore is refused (never opened, never a panic), and
        /// the file is left as it was.
        #[test]
        fn any_changed_byte_is_refused(pos in 0usize..4096, xor in 1u8..=255) {
            let dir = tempfile::tempdir().unwrap();
            let (path, _) = store(dir.path());
            let mut bytes = fs::read(&path).unwrap();
            let pos = pos % bytes.len();
            bytes[pos] ^= xor;
            fs::write(&path, &bytes).unwrap();
            let result = open(&path, &pass("correct horse"), fast());
            proptest::prop_assert!(result.is_err());
            proptest::prop_assert_eq!(fs::read(&path).unwrap(), bytes);
        }
    }

    #[test]
    fn plaintext_versions() {
        let id = test_identity(13);
        let plain = to_plaintext(&id).unwrap();
        let mut value: serde_json::Value = serde_json::from_slice(&plain).unwrap();
        value["version"] = 2.into();
        let err = from_plaintext(Path::new("k"), &serde_json::to_vec(&value).unwrap()).unwrap_err();
        assert!(matches!(
            err,
            KeystoreError::UnsupportedVersion { found: 2, .. }
        ));
        value["version"] = 1.into();
        value["extra"] = true.into();
        let err = from_plaintext(Path::new("k"), &serde_json::to_vec(&value).unwrap()).unwrap_err();
        assert!(matches!(err, KeystoreError::Malformed { .. }));
    }
}
