//! A member's identity: every secret key the node holds, plus what it needs to describe itself.

use std::collections::BTreeMap;
use std::fmt;

use debrief_protocol::envelope::{Envelope, PublicKey, Signer};
use debrief_protocol::identity::{IdentityCard, IdentityError, check_endpoint, tls_spki_pin};
use debrief_protocol::ids::{KeyId, MemberId, Sha256Digest};
use debrief_protocol::profile::OrgProfile;
use debrief_protocol::rotation::{KeyRotation, RotationError};
use debrief_protocol::timestamp::Timestamp;
use ed25519_dalek::SigningKey;
use rand::{CryptoRng, RngCore};
use zeroize::Zeroizing;

/// Why an identity operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityOpError {
    #[error("organisation name must be 1 to 100 characters without control characters")]
    BadOrgName,
    #[error("endpoint {0:?} must be an https:// URL with a host and optional port, nothing else")]
    BadEndpoint(String),
    #[error("provenance salt id {0:?} must be 1 to 128 printable ASCII characters")]
    BadSaltId(String),
    #[error("provenance salt {0:?} is already stored with a different value; salts never change")]
    SaltConflict(String),
    #[error("cannot sign: {0}")]
    Card(#[from] IdentityError),
    #[error("cannot sign the rotation statement: {0}")]
    Rotation(#[from] RotationError),
}

/// An age X25519 secret key, kept as its 32 raw bytes (zeroized on drop).
#[derive(Clone)]
pub struct AgeSecret(Zeroizing<[u8; 32]>);

impl AgeSecret {
    /// 32 fresh random bytes. Any 32 bytes are a valid X25519 secret (it is clamped on use).
    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(bytes.as_mut());
        AgeSecret(bytes)
    }

    /// Wraps raw secret bytes.
    pub fn from_bytes(bytes: Zeroizing<[u8; 32]>) -> Self {
        AgeSecret(bytes)
    }

    /// The raw secret bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The age identity. age can only build one from its Bech32 text form (or from its own
    /// OS randomness), so we go through the text, which is zeroized afterwards.
    pub fn to_age(&self) -> age::x25519::Identity {
        let mut text = Zeroizing::new(String::with_capacity(128));
        let hrp = bech32::Hrp::parse_unchecked("AGE-SECRET-KEY-");
        // Invariant, not input: the HRP is a valid constant, any 32 bytes are a valid X25519
        // secret and 32 bytes are far below Bech32's length limit, so neither step can fail.
        #[allow(clippy::expect_used)]
        {
            bech32::encode_upper_to_fmt::<bech32::Bech32, String>(&mut text, hrp, self.0.as_ref())
                .expect("32 bytes always encode");
            text.parse::<age::x25519::Identity>()
                .expect("a Bech32 age secret key always parses")
        }
    }

    /// The public recipient (`age1…`).
    pub fn recipient(&self) -> age::x25519::Recipient {
        self.to_age().to_public()
    }
}

impl fmt::Debug for AgeSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AgeSecret({} [redacted])", self.recipient())
    }
}

/// A signing key that was retired by a rotation; kept so objects signed before it still verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetiredSigningKey {
    pub key: PublicKey,
    pub retired_at: Timestamp,
}

/// The attribution key (declassification issues): a separate Ed25519 key that proves authorship
/// of a published report without using the member's signing key.
pub struct AttributionSigner(SigningKey);

impl AttributionSigner {
    pub(crate) fn from_seed(seed: &[u8; 32]) -> Self {
        AttributionSigner(SigningKey::from_bytes(seed))
    }

    pub(crate) fn secret_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }
}

impl Signer for AttributionSigner {
    fn public_key(&self) -> PublicKey {
        self.0.public_key()
    }
    fn sign_message(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign_message(message)
    }
}

impl fmt::Debug for AttributionSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AttributionSigner({} [redacted])",
            self.0.public_key().key_id()
        )
    }
}

/// Everything secret a member node holds, plus its organisation name and profile.
///
/// The member id derives from the first signing key and never changes. After a rotation the
/// retired age identities stay (to open bundles made before it) and the retired signing keys'
/// public halves stay (to verify objects signed before it). Secrets are zeroized on drop and
/// never appear in `Debug`.
pub struct Identity {
    pub(crate) first_signing_key: PublicKey,
    pub(crate) signing: SigningKey,
    pub(crate) enc: AgeSecret,
    pub(crate) retired_enc: Vec<AgeSecret>,
    pub(crate) retired_signing_keys: Vec<RetiredSigningKey>,
    pub(crate) tls_seed: Zeroizing<[u8; 32]>,
    pub(crate) attribution: AttributionSigner,
    pub(crate) provenance_salts: BTreeMap<String, Zeroizing<[u8; 32]>>,
    pub(crate) org: String,
    pub(crate) profile: OrgProfile,
    pub(crate) created_at: Timestamp,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("member", &self.member_id())
            .field("org", &self.org)
            .field("signing_key", &self.signing_key_id())
            .field("secrets", &"[redacted]")
            .finish()
    }
}

fn random_seed(rng: &mut (impl RngCore + CryptoRng)) -> Zeroizing<[u8; 32]> {
    let mut seed = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(seed.as_mut());
    seed
}

fn signing_key_from(rng: &mut (impl RngCore + CryptoRng)) -> SigningKey {
    SigningKey::from_bytes(&random_seed(rng))
}

/// The same rule as the identity card (protocol.md §1.10), checked early so `init` fails before
/// it creates anything.
pub(crate) fn check_org_name(org: &str) -> Result<(), IdentityOpError> {
    let ok =
        !org.trim().is_empty() && org.chars().count() <= 100 && !org.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(IdentityOpError::BadOrgName)
    }
}

pub(crate) fn check_salt_id(id: &str) -> Result<(), IdentityOpError> {
    let ok = !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(IdentityOpError::BadSaltId(id.to_owned()))
    }
}

impl Identity {
    /// Generates a fresh identity: signing, age, TLS and attribution keys from `rng`.
    pub fn generate(
        rng: &mut (impl RngCore + CryptoRng),
        org: &str,
        profile: OrgProfile,
        now: Timestamp,
    ) -> Result<Identity, IdentityOpError> {
        check_org_name(org)?;
        let signing = signing_key_from(rng);
        let enc = AgeSecret::generate(rng);
        let tls_seed = random_seed(rng);
        let attribution = AttributionSigner(signing_key_from(rng));
        Ok(Identity {
            first_signing_key: signing.public_key(),
            signing,
            enc,
            retired_enc: Vec::new(),
            retired_signing_keys: Vec::new(),
            tls_seed,
            attribution,
            provenance_salts: BTreeMap::new(),
            org: org.to_owned(),
            profile,
            created_at: now,
        })
    }

    /// The stable member id (protocol.md §1.2): from the first signing key.
    pub fn member_id(&self) -> MemberId {
        self.first_signing_key.member_id()
    }

    /// The signing key the identity was created with.
    pub fn first_signing_key(&self) -> PublicKey {
        self.first_signing_key
    }

    /// The current signing key's public half.
    pub fn signing_public_key(&self) -> PublicKey {
        self.signing.public_key()
    }

    /// The current signing key's key id.
    pub fn signing_key_id(&self) -> KeyId {
        self.signing.public_key().key_id()
    }

    /// Signing keys retired by rotations, oldest first.
    pub fn retired_signing_keys(&self) -> &[RetiredSigningKey] {
        &self.retired_signing_keys
    }

    /// The current age recipient that bundles are encrypted to.
    pub fn enc_recipient(&self) -> age::x25519::Recipient {
        self.enc.recipient()
    }

    /// The current age identity.
    pub fn age_identity(&self) -> age::x25519::Identity {
        self.enc.to_age()
    }

    /// Every age identity this member can decrypt with: the current one first, then the retired
    /// ones, newest first.
    pub fn age_identities(&self) -> Vec<age::x25519::Identity> {
        std::iter::once(&self.enc)
            .chain(self.retired_enc.iter().rev())
            .map(AgeSecret::to_age)
            .collect()
    }

    /// How many age identities were retired by rotations.
    pub fn retired_age_identity_count(&self) -> usize {
        self.retired_enc.len()
    }

    /// The TLS key's Ed25519 public half.
    pub fn tls_public_key(&self) -> [u8; 32] {
        SigningKey::from_bytes(&self.tls_seed)
            .verifying_key()
            .to_bytes()
    }

    /// The TLS key's 32-byte Ed25519 seed (for wrapping as PKCS#8 for rustls/rcgen).
    pub fn tls_seed(&self) -> Zeroizing<[u8; 32]> {
        self.tls_seed.clone()
    }

    /// SHA-256 of the TLS SubjectPublicKeyInfo (protocol.md §1.10).
    pub fn tls_spki_pin(&self) -> Sha256Digest {
        tls_spki_pin(&self.tls_public_key())
    }

    /// The attribution key, as a signer.
    pub fn attribution_signer(&self) -> &AttributionSigner {
        &self.attribution
    }

    /// Stores a provenance salt. Adding the same salt again is a no-op; a different salt under
    /// an existing id is refused, because a changed salt would break an earlier commitment.
    pub fn add_provenance_salt(&mut self, id: &str, salt: [u8; 32]) -> Result<(), IdentityOpError> {
        check_salt_id(id)?;
        let salt = Zeroizing::new(salt);
        match self.provenance_salts.get(id) {
            Some(existing) if **existing == *salt => Ok(()),
            Some(_) => Err(IdentityOpError::SaltConflict(id.to_owned())),
            None => {
                self.provenance_salts.insert(id.to_owned(), salt);
                Ok(())
            }
        }
    }

    /// A stored provenance salt.
    pub fn provenance_salt(&self, id: &str) -> Option<&[u8; 32]> {
        self.provenance_salts.get(id).map(|s| &**s)
    }

    /// The ids of every stored provenance salt, sorted.
    pub fn provenance_salt_ids(&self) -> impl Iterator<Item = &str> {
        self.provenance_salts.keys().map(String::as_str)
    }

    /// The organisation's display name.
    pub fn org(&self) -> &str {
        &self.org
    }

    /// The organisation's profile.
    pub fn profile(&self) -> &OrgProfile {
        &self.profile
    }

    /// When the identity was created.
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }

    /// The unsigned identity card (protocol.md §1.10); sign it with `card.sign(&identity)`.
    pub fn card(
        &self,
        endpoint: Option<&str>,
        now: Timestamp,
    ) -> Result<IdentityCard, IdentityOpError> {
        if let Some(url) = endpoint {
            check_endpoint(url).map_err(|_| IdentityOpError::BadEndpoint(url.to_owned()))?;
        }
        Ok(IdentityCard {
            member: self.member_id(),
            org: self.org.clone(),
            profile: self.profile.clone(),
            first_signing_key: self.first_signing_key,
            signing_key: self.signing_public_key(),
            enc_recipient: self.enc_recipient().to_string(),
            tls_spki_sha256: self.tls_spki_pin(),
            endpoint: endpoint.map(str::to_owned),
            created_at: now,
        })
    }

    /// The identity card, signed by the current signing key.
    pub fn signed_card(
        &self,
        endpoint: Option<&str>,
        now: Timestamp,
    ) -> Result<Envelope, IdentityOpError> {
        Ok(self.card(endpoint, now)?.sign(self)?)
    }

    /// Rotates node-wide: a new signing key and a new age identity. The old age identity is kept
    /// (secret) and the old signing key's public half is kept. Returns the `key-rotation`
    /// statement signed by the old and the new signing key (protocol.md §1.11). On error the
    /// identity is unchanged.
    pub fn rotate(
        &mut self,
        rng: &mut (impl RngCore + CryptoRng),
        now: Timestamp,
    ) -> Result<Envelope, IdentityOpError> {
        let new_signing = signing_key_from(rng);
        let new_enc = AgeSecret::generate(rng);
        let statement = KeyRotation {
            member: self.member_id(),
            old_signing_key: self.signing_public_key(),
            new_signing_key: new_signing.public_key(),
            new_enc_recipient: new_enc.recipient().to_string(),
            at: now,
        };
        let envelope = statement.sign(&self.signing, &new_signing)?;
        let old_signing = std::mem::replace(&mut self.signing, new_signing);
        let old_enc = std::mem::replace(&mut self.enc, new_enc);
        self.retired_signing_keys.push(RetiredSigningKey {
            key: old_signing.public_key(),
            retired_at: now,
        });
        self.retired_enc.push(old_enc);
        Ok(envelope)
    }
}

/// The identity signs with its current signing key.
impl Signer for Identity {
    fn public_key(&self) -> PublicKey {
        self.signing.public_key()
    }
    fn sign_message(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign_message(message)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use debrief_protocol::identity::verify_card;
    use debrief_protocol::profile::{Industry, Region, SizeBand};
    use debrief_protocol::rotation::verify_rotation;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use std::io::{Read, Write};

    pub(crate) fn profile() -> OrgProfile {
        OrgProfile {
            industry: Industry::Saas,
            size_band: SizeBand::M,
            region: Region::Europe,
        }
    }

    pub(crate) fn test_identity(seed: u64) -> Identity {
        let mut rng = StdRng::seed_from_u64(seed);
        Identity::generate(
            &mut rng,
            "Example Corp",
            profile(),
            Timestamp::from_unix(1_795_602_000),
        )
        .unwrap()
    }

    fn encrypt_to(recipient: &age::x25519::Recipient, text: &[u8]) -> Vec<u8> {
        let enc =
            age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))
                .unwrap();
        let mut out = Vec::new();
        let mut w = enc.wrap_output(&mut out).unwrap();
        w.write_all(text).unwrap();
        w.finish().unwrap();
        out
    }

    fn decrypt_with(ids: &[age::x25519::Identity], ct: &[u8]) -> Option<Vec<u8>> {
        let dec = age::Decryptor::new_buffered(ct).ok()?;
        let mut r = dec
            .decrypt(ids.iter().map(|i| i as &dyn age::Identity))
            .ok()?;
        let mut out = Vec::new();
        r.read_to_end(&mut out).ok()?;
        Some(out)
    }

    #[test]
    fn same_seed_same_identity() {
        let a = test_identity(1);
        let b = test_identity(1);
        let c = test_identity(2);
        assert_eq!(a.member_id(), b.member_id());
        assert_eq!(a.enc_recipient().to_string(), b.enc_recipient().to_string());
        assert_ne!(a.member_id(), c.member_id());
        assert_eq!(a.member_id(), a.first_signing_key().member_id());
        // Four independent keys.
        let keys = [
            a.signing_public_key().to_bytes(),
            a.tls_public_key(),
            a.attribution_signer().public_key().to_bytes(),
        ];
        assert_ne!(keys[0], keys[1]);
        assert_ne!(keys[0], keys[2]);
        assert_ne!(keys[1], keys[2]);
    }

    #[test]
    fn age_secret_round_trips_through_age() {
        let id = test_identity(3);
        let ct = encrypt_to(&id.enc_recipient(), b"hello");
        assert_eq!(decrypt_with(&[id.age_identity()], &ct).unwrap(), b"hello");
    }

    #[test]
    fn debug_redacts_secrets() {
        let id = test_identity(4);
        let text = format!("{id:?} {:?} {:?}", id.enc, id.attribution_signer());
        assert!(text.contains("[redacted]"));
        let secret_b64 = debrief_protocol::encoding::base64_encode(id.enc.as_bytes());
        assert!(!text.contains(&secret_b64));
        assert!(!text.contains(&format!("{:?}", &id.tls_seed[..])));
    }

    #[test]
    fn card_signs_and_verifies() {
        let id = test_identity(5);
        let env = id
            .signed_card(
                Some("https://node.example.com:8443"),
                Timestamp::from_unix(1_795_602_100),
            )
            .unwrap();
        let card = verify_card(&env).unwrap();
        assert_eq!(card.value().member, id.member_id());
        assert_eq!(card.value().tls_spki_sha256, id.tls_spki_pin());
        assert_eq!(card.value().enc_recipient, id.enc_recipient().to_string());
        assert_eq!(
            id.card(Some("http://x"), Timestamp::from_unix(0))
                .unwrap_err(),
            IdentityOpError::BadEndpoint("http://x".into())
        );
    }

    #[test]
    fn rotation_keeps_member_id_and_old_age_identity() {
        let mut rng = StdRng::seed_from_u64(77);
        let mut id = test_identity(6);
        let member = id.member_id();
        let old_key = id.signing_public_key();
        let before = encrypt_to(&id.enc_recipient(), b"before rotation");
        let env = id
            .rotate(&mut rng, Timestamp::from_unix(1_795_700_000))
            .unwrap();
        assert_eq!(id.member_id(), member);
        assert_ne!(id.signing_public_key(), old_key);
        assert_eq!(id.retired_signing_keys()[0].key, old_key);
        assert_eq!(id.retired_age_identity_count(), 1);
        let v = verify_rotation(&env, &old_key).unwrap();
        assert_eq!(v.value().new_signing_key, id.signing_public_key());
        assert_eq!(v.value().new_enc_recipient, id.enc_recipient().to_string());
        assert_eq!(v.value().member, member);
        // The current age identity alone cannot open the old bundle; the kept one can.
        assert!(decrypt_with(&[id.age_identity()], &before).is_none());
        assert_eq!(
            decrypt_with(&id.age_identities(), &before).unwrap(),
            b"before rotation"
        );
        // The card after rotation names the new key but keeps the first one.
        let card = id.card(None, Timestamp::from_unix(1_795_700_001)).unwrap();
        assert_eq!(card.first_signing_key, old_key);
        assert_eq!(card.signing_key, id.signing_public_key());
        assert!(verify_card(&card.sign(&id).unwrap()).is_ok());
    }

    #[test]
    fn provenance_salts_are_write_once() {
        let mut id = test_identity(7);
        id.add_provenance_salt("pub-1", [1; 32]).unwrap();
        id.add_provenance_salt("pub-1", [1; 32]).unwrap();
        assert_eq!(
            id.add_provenance_salt("pub-1", [2; 32]).unwrap_err(),
            IdentityOpError::SaltConflict("pub-1".into())
        );
        assert_eq!(id.provenance_salt("pub-1"), Some(&[1; 32]));
        assert_eq!(id.provenance_salt("pub-2"), None);
        assert_eq!(
            id.add_provenance_salt("has space", [1; 32]).unwrap_err(),
            IdentityOpError::BadSaltId("has space".into())
        );
    }

    #[test]
    fn bad_org_names_are_refused() {
        let mut rng = StdRng::seed_from_u64(1);
        for bad in ["", "   ", "a\nb", &"x".repeat(101)] {
            assert_eq!(
                Identity::generate(&mut rng, bad, profile(), Timestamp::from_unix(0)).unwrap_err(),
                IdentityOpError::BadOrgName
            );
        }
    }

    #[test]
    fn attribution_signer_signs_verifiably() {
        let id = test_identity(8);
        let sig = id.attribution_signer().sign_message(b"m");
        assert!(
            id.attribution_signer()
                .public_key()
                .verify_strict(b"m", &sig)
        );
        assert!(!id.signing_public_key().verify_strict(b"m", &sig));
    }
}
