//! `debrief init`, `id show|export|rotate` and `config check` through the built binary, on
//! temporary homes, with a low scrypt work factor and the passphrase from a file.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use debrief_keys::keystore::{self, KeystoreOptions, Passphrase};
use debrief_protocol::Envelope;
use debrief_protocol::identity::verify_card;
use debrief_protocol::rotation::verify_rotation;
use zeroize::Zeroizing;

struct TestHome {
    _dir: tempfile::TempDir,
    home: PathBuf,
    pass: PathBuf,
    wrong: PathBuf,
    scratch: PathBuf,
}

impl TestHome {
    fn new() -> TestHome {
        let dir = tempfile::tempdir().unwrap();
        let pass = dir.path().join("pass.txt");
        // A trailing newline, as an editor would leave it: not part of the passphrase.
        fs::write(&pass, "correct horse battery staple\n").unwrap();
        let wrong = dir.path().join("wrong.txt");
        fs::write(&wrong, "correct horse battery stapler\n").unwrap();
        let scratch = dir.path().join("out");
        fs::create_dir(&scratch).unwrap();
        TestHome {
            home: dir.path().join("home"),
            pass,
            wrong,
            scratch,
            _dir: dir,
        }
    }

    fn run_with(&self, pass: &Path, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_debrief"))
            .args(args)
            .env("DEBRIEF_HOME", &self.home)
            .env("DEBRIEF_PASSPHRASE_FILE", pass)
            .env("DEBRIEF_SCRYPT_WORK_FACTOR", "10")
            .output()
            .unwrap()
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with(&self.pass, args)
    }

    fn init(&self) -> Output {
        let out = self.run(&[
            "init",
            "--org",
            "Acme, Inc.",
            "--industry",
            "saas",
            "--size-band",
            "250-999",
            "--region",
            "europe",
            "--endpoint",
            "https://acme.example:8443",
        ]);
        assert_ok(&out);
        out
    }

    fn keystore(&self) -> PathBuf {
        self.home.join("keystore.age")
    }

    fn export_card(&self, name: &str) -> Envelope {
        let file = self.scratch.join(name);
        assert_ok(&self.run(&["id", "export", file.to_str().unwrap()]));
        Envelope::from_json(&fs::read(&file).unwrap()).unwrap()
    }

    /// Every file under the home with its bytes and mode: the whole on-disk state.
    fn snapshot(&self) -> BTreeMap<PathBuf, (Vec<u8>, u32)> {
        fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, (Vec<u8>, u32)>) {
            for entry in fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                let meta = fs::metadata(&path).unwrap();
                let mode = {
                    use std::os::unix::fs::PermissionsExt;
                    meta.permissions().mode()
                };
                if meta.is_dir() {
                    out.insert(path.clone(), (Vec::new(), mode));
                    walk(&path, out);
                } else {
                    out.insert(path.clone(), (fs::read(&path).unwrap(), mode));
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(&self.home, &mut out);
        out
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "command failed: {}\n{}",
        stdout(out),
        stderr(out)
    );
}

fn assert_fails_with(out: &Output, code: i32, message: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
    assert!(
        stderr(out).contains(message),
        "expected {message:?} in stderr: {}",
        stderr(out)
    );
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn test_passphrase() -> Passphrase {
    Passphrase::new(Zeroizing::new("correct horse battery staple".to_owned())).unwrap()
}

#[test]
fn init_show_export_on_a_fresh_home() {
    let t = TestHome::new();
    let init = t.init();
    assert!(
        stdout(&init).contains("member id     db1 "),
        "{}",
        stdout(&init)
    );
    assert_eq!(mode(&t.keystore()), 0o600);
    assert_eq!(mode(&t.home.join("config.toml")), 0o600);
    assert!(t.home.join("data/circles").is_dir());

    let show = t.run(&["id", "show"]);
    assert_ok(&show);
    let text = stdout(&show);
    assert!(text.contains("organisation    Acme, Inc."), "{text}");
    assert!(
        text.contains("industry saas, size 250-999, region europe"),
        "{text}"
    );
    assert!(
        text.contains("endpoint        https://acme.example:8443"),
        "{text}"
    );

    let envelope = t.export_card("card.json");
    let card = verify_card(&envelope).unwrap();
    let card = card.value();
    // The grouped id that `show` prints is the member id on the card, and so is the plain one.
    assert!(text.contains(&card.member.grouped()), "{text}");
    assert!(text.contains(&format!("({})", card.member)), "{text}");
    assert!(text.contains(&format!("signing key id  {}", card.signing_key.key_id())));
    assert!(text.contains(&format!("TLS pin         sha256:{}", card.tls_spki_sha256)));
    assert!(text.contains(&format!("age recipient   {}", card.enc_recipient)));
    assert_eq!(card.org, "Acme, Inc.");
    assert_eq!(card.endpoint.as_deref(), Some("https://acme.example:8443"));
    assert_eq!(card.first_signing_key, card.signing_key);

    // The keystore opens with the passphrase without its trailing newline.
    let identity = keystore::open(
        &t.keystore(),
        &test_passphrase(),
        KeystoreOptions::default(),
    )
    .unwrap();
    assert_eq!(identity.member_id(), card.member);
    assert_eq!(identity.tls_spki_pin(), card.tls_spki_sha256);

    // Exporting over an existing file needs --force.
    let again = t.scratch.join("card.json");
    assert_fails_with(
        &t.run(&["id", "export", again.to_str().unwrap()]),
        2,
        "exists; pass --force to overwrite it",
    );
    assert_ok(&t.run(&["id", "export", "--force", again.to_str().unwrap()]));

    let check = t.run(&["config", "check"]);
    assert_ok(&check);
    assert!(stdout(&check).contains("keystore.scrypt_work_factor    10"));
}

#[test]
fn init_refuses_to_clobber_an_identity() {
    let t = TestHome::new();
    t.init();
    let before = t.snapshot();
    let out = t.run(&[
        "init",
        "--org",
        "Other",
        "--industry",
        "finance",
        "--size-band",
        "1-49",
        "--region",
        "global",
    ]);
    assert_fails_with(&out, 2, "an identity already exists at");
    assert_eq!(t.snapshot(), before);
}

#[test]
fn init_needs_the_profile_and_creates_nothing_without_it() {
    let t = TestHome::new();
    let out = t.run(&[
        "init",
        "--org",
        "Acme",
        "--industry",
        "saas",
        "--region",
        "europe",
    ]);
    assert_fails_with(&out, 2, "--size-band is required; one of: 1-49, 50-249");
    assert!(!t.home.exists());
    let out = t.run(&["init", "--org", "Acme", "--industry", "fintech"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown industry \"fintech\""),
        "{}",
        stderr(&out)
    );
    assert!(!t.home.exists());
}

#[test]
fn wrong_passphrase_is_clear_and_changes_nothing() {
    let t = TestHome::new();
    t.init();
    let before = t.snapshot();
    for args in [&["id", "show"][..], &["id", "rotate"][..]] {
        let out = t.run_with(&t.wrong, args);
        assert_fails_with(
            &out,
            2,
            &format!(
                "cannot unlock keystore {}: wrong passphrase",
                t.keystore().display()
            ),
        );
        assert_eq!(t.snapshot(), before, "{args:?} changed the home");
    }
    let export = t.scratch.join("card.json");
    let out = t.run_with(&t.wrong, &["id", "export", export.to_str().unwrap()]);
    assert_fails_with(&out, 2, "wrong passphrase");
    assert!(!export.exists());
}

#[test]
fn tampered_and_truncated_keystores_are_clear_and_change_nothing() {
    let t = TestHome::new();
    t.init();
    let good = fs::read(t.keystore()).unwrap();

    // Change one base64 character in the middle of the armored payload.
    let mut tampered = good.clone();
    let mid = tampered.len() - 60;
    tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
    fs::write(t.keystore(), &tampered).unwrap();
    let before = t.snapshot();
    for args in [&["id", "show"][..], &["id", "rotate"][..]] {
        let out = t.run(args);
        assert_fails_with(
            &out,
            2,
            &format!(
                "keystore {} is damaged or was modified; restore it from a backup",
                t.keystore().display()
            ),
        );
        assert_eq!(t.snapshot(), before);
    }

    let truncated = &good[..good.len() / 2];
    fs::write(t.keystore(), truncated).unwrap();
    let before = t.snapshot();
    for args in [&["id", "show"][..], &["id", "rotate"][..]] {
        let out = t.run(args);
        assert_fails_with(
            &out,
            2,
            &format!(
                "keystore {} is truncated; restore it from a backup",
                t.keystore().display()
            ),
        );
        assert_eq!(t.snapshot(), before);
    }

    // Restored from the "backup", everything works again.
    fs::write(t.keystore(), &good).unwrap();
    assert_ok(&t.run(&["id", "show"]));
}

#[test]
fn too_open_permissions_are_refused_before_the_passphrase() {
    use std::os::unix::fs::PermissionsExt;
    let t = TestHome::new();
    t.init();
    fs::set_permissions(t.keystore(), fs::Permissions::from_mode(0o644)).unwrap();
    let before = t.snapshot();
    // Even the wrong passphrase gets the permissions error: the check comes first.
    let out = t.run_with(&t.wrong, &["id", "show"]);
    assert_fails_with(
        &out,
        2,
        &format!(
            "keystore {0} is readable or writable by group or others (mode 0644); fix it with `chmod 600 {0}`",
            t.keystore().display()
        ),
    );
    let out = t.run(&["id", "rotate"]);
    assert_fails_with(&out, 2, "mode 0644");
    assert_eq!(t.snapshot(), before);
    let check = t.run(&["config", "check"]);
    assert_fails_with(&check, 1, "chmod 600");
}

#[test]
fn missing_keystore_says_to_run_init() {
    let t = TestHome::new();
    fs::create_dir_all(&t.home).unwrap();
    fs::write(t.home.join("config.toml"), "[node]\norg = \"Acme\"\n").unwrap();
    let out = t.run(&["id", "show"]);
    assert_fails_with(
        &out,
        2,
        &format!(
            "no keystore at {}; run `debrief init` to create one",
            t.keystore().display()
        ),
    );
}

#[test]
fn rotation_keeps_old_age_identities_and_signs_with_old_and_new() {
    let t = TestHome::new();
    t.init();
    let before_card = t.export_card("before.json");
    let before = verify_card(&before_card).unwrap().value().clone();

    // Something encrypted to the member before the rotation.
    let old_recipient: age::x25519::Recipient = before.enc_recipient.parse().unwrap();
    let mut ciphertext = Vec::new();
    {
        let enc =
            age::Encryptor::with_recipients(std::iter::once(&old_recipient as &dyn age::Recipient))
                .unwrap();
        let mut w = enc.wrap_output(&mut ciphertext).unwrap();
        w.write_all(b"sent before the rotation").unwrap();
        w.finish().unwrap();
    }

    let out = t.run(&["id", "rotate"]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains("rotations/1.json"),
        "{}",
        stdout(&out)
    );
    assert_eq!(mode(&t.keystore()), 0o600);

    // The statement verifies with the old key and carries both signatures.
    let statement =
        Envelope::from_json(&fs::read(t.home.join("rotations/1.json")).unwrap()).unwrap();
    let rotation = verify_rotation(&statement, &before.signing_key).unwrap();
    let after = verify_card(&t.export_card("after.json"))
        .unwrap()
        .value()
        .clone();
    assert_eq!(rotation.value().member, before.member);
    assert_eq!(rotation.value().new_signing_key, after.signing_key);
    assert_eq!(rotation.value().new_enc_recipient, after.enc_recipient);
    assert!(rotation.signed_by(&before.signing_key.key_id()));
    assert!(rotation.signed_by(&after.signing_key.key_id()));

    // Same member, new keys; the first key stays.
    assert_eq!(after.member, before.member);
    assert_eq!(after.first_signing_key, before.signing_key);
    assert_ne!(after.signing_key, before.signing_key);
    assert_ne!(after.enc_recipient, before.enc_recipient);

    // The keystore kept the old age identity, which opens what was sent before.
    let identity = keystore::open(
        &t.keystore(),
        &test_passphrase(),
        KeystoreOptions::default(),
    )
    .unwrap();
    assert_eq!(identity.retired_signing_keys()[0].key, before.signing_key);
    let decryptor = age::Decryptor::new_buffered(&ciphertext[..]).unwrap();
    let ids = identity.age_identities();
    let mut reader = decryptor
        .decrypt(ids.iter().map(|i| i as &dyn age::Identity))
        .unwrap();
    let mut plain = Vec::new();
    reader.read_to_end(&mut plain).unwrap();
    assert_eq!(plain, b"sent before the rotation");

    // A second rotation is statement 2, verifiable with the key the first one installed.
    assert_ok(&t.run(&["id", "rotate"]));
    let second = Envelope::from_json(&fs::read(t.home.join("rotations/2.json")).unwrap()).unwrap();
    assert!(verify_rotation(&second, &after.signing_key).is_ok());
    assert!(verify_rotation(&second, &before.signing_key).is_err());
    // No leftovers from the atomic writes.
    let names: Vec<String> = fs::read_dir(&t.home)
        .unwrap()
        .chain(fs::read_dir(t.home.join("rotations")).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
}

#[test]
fn config_check_reports_the_key_path() {
    let t = TestHome::new();
    t.init();
    let config = t.home.join("config.toml");
    let mut text = fs::read_to_string(&config).unwrap();
    text.push_str("\n[sync]\ninterval = \"every hour\"\n");
    fs::write(&config, text).unwrap();
    let out = t.run(&["config", "check"]);
    assert_fails_with(
        &out,
        1,
        &format!(
            "{}: `sync.interval`: \"every hour\" is not a duration",
            config.display()
        ),
    );
    fs::write(&config, "[node]\norg = \"Acme\"\ncolour = \"blue\"\n").unwrap();
    let out = t.run(&["config", "check"]);
    assert_fails_with(&out, 1, "unknown field `colour`");
    // Commands that need the config fail with the same message.
    assert_fails_with(&t.run(&["id", "show"]), 2, "unknown field `colour`");
}

#[test]
fn home_flag_overrides_the_environment() {
    let t = TestHome::new();
    let other = t.scratch.join("elsewhere");
    let out = t.run(&[
        "--home",
        other.to_str().unwrap(),
        "init",
        "--org",
        "Acme",
        "--industry",
        "saas",
        "--size-band",
        "1-49",
        "--region",
        "global",
    ]);
    assert_ok(&out);
    assert!(other.join("keystore.age").is_file());
    assert!(!t.home.exists());
}
