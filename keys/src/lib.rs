//! Secret key material for a Debrief member: the [`Identity`] (signing, age, TLS and attribution
//! keys, provenance salts) and the passphrase-encrypted [`keystore`] file that holds it.
//!
//! This crate does filesystem IO (the keystore) but no prompting: the node's CLI layer finds the
//! passphrase (`DEBRIEF_PASSPHRASE_FILE` or a no-echo prompt) and passes a [`Passphrase`] in.
//! See docs/keys.md.

pub mod identity;
pub mod keystore;

pub use identity::{AgeSecret, AttributionSigner, Identity, IdentityOpError, RetiredSigningKey};
pub use keystore::{KeystoreError, KeystoreOptions, Passphrase};
