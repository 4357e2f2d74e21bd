//! TLS between nodes (protocol.md §4.1): each node serves a self-signed certificate for its
//! Ed25519 TLS key, and peers accept exactly the key pinned in the roster, by the SHA-256 of its
//! SubjectPublicKeyInfo. There is no CA anywhere: the pin is the trust.
//!
//! rustls runs with the `ring` provider only, passed explicitly to every config builder, so no
//! process-wide default provider is needed and aws-lc never enters the build.

use std::fmt;
use std::sync::Arc;

use debrief_protocol::Sha256Digest;
use debrief_protocol::identity::tls_spki_pin;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, ServerConfig, SignatureScheme,
};
use zeroize::Zeroizing;

/// DER prefix of an Ed25519 private key in PKCS#8 v1 (RFC 8410 §7): the 32-byte seed follows.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The only ALPN protocol nodes speak (protocol.md §4.1).
pub const ALPN_HTTP_1_1: &[u8] = b"http/1.1";

/// The subject alternative name in every node certificate. Peers never check it (the pin is
/// what they check), so it is a fixed name in a reserved TLD rather than the node's host.
pub const CERTIFICATE_NAME: &str = "debrief-node.invalid";

/// Why TLS material could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot build the node certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("TLS configuration refused: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("the certificate is not valid DER X.509: {0}")]
    BadCertificate(rustls::Error),
}

/// The `ring` crypto provider, as every config in this crate uses it.
pub fn ring_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A node's TLS identity: its Ed25519 key and the self-signed certificate for it.
pub struct NodeTlsIdentity {
    certificate: CertificateDer<'static>,
    pkcs8: Zeroizing<Vec<u8>>,
    public_key: [u8; 32],
    pin: Sha256Digest,
}

impl fmt::Debug for NodeTlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the private key.
        f.debug_struct("NodeTlsIdentity")
            .field("pin", &self.pin)
            .finish_non_exhaustive()
    }
}

/// The PKCS#8 v1 DER encoding of an Ed25519 private key given by its 32-byte seed.
pub fn ed25519_pkcs8_from_seed(seed: &[u8; 32]) -> Zeroizing<Vec<u8>> {
    let mut der = Zeroizing::new(Vec::with_capacity(48));
    der.extend_from_slice(&ED25519_PKCS8_PREFIX);
    der.extend_from_slice(seed);
    der
}

impl NodeTlsIdentity {
    /// Builds the key and a self-signed certificate from the node's TLS key seed. The same seed
    /// always gives the same certificate bytes: the serial number is derived from the key, the
    /// validity dates are fixed (rcgen's 1975–4096; pins, not dates, are what peers trust) and
    /// Ed25519 signatures are deterministic.
    pub fn from_seed(seed: &[u8; 32]) -> Result<Self, TlsError> {
        let pkcs8 = ed25519_pkcs8_from_seed(seed);
        let key_pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
            &PrivatePkcs8KeyDer::from(pkcs8.as_slice()),
            &rcgen::PKCS_ED25519,
        )?;
        let public_key: [u8; 32] = key_pair
            .public_key_raw()
            .try_into()
            .map_err(|_| TlsError::Certificate(rcgen::Error::CouldNotParseKeyPair))?;
        let mut params = rcgen::CertificateParams::new(vec![CERTIFICATE_NAME.to_owned()])?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "debrief node");
        let certificate = params.self_signed(&key_pair)?.der().clone();
        Ok(NodeTlsIdentity {
            certificate,
            pkcs8,
            public_key,
            pin: tls_spki_pin(&public_key),
        })
    }

    /// The pin peers must hold for this node: SHA-256 of the SubjectPublicKeyInfo.
    pub fn pin(&self) -> Sha256Digest {
        self.pin
    }

    /// The raw Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.public_key
    }

    /// The DER certificate the node presents.
    pub fn certificate_der(&self) -> &CertificateDer<'static> {
        &self.certificate
    }

    /// A rustls server config presenting this certificate: ring provider, TLS 1.3 and 1.2,
    /// ALPN `http/1.1`, no client certificates (members authenticate by signing requests).
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.pkcs8.to_vec()));
        let mut config = ServerConfig::builder_with_provider(ring_provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![self.certificate.clone()], key)?;
        config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
        Ok(Arc::new(config))
    }
}

/// SHA-256 of the SubjectPublicKeyInfo of a DER certificate (the pin it would match).
pub fn certificate_spki_pin(certificate: &CertificateDer<'_>) -> Result<Sha256Digest, TlsError> {
    let parsed = ParsedCertificate::try_from(certificate).map_err(TlsError::BadCertificate)?;
    Ok(Sha256Digest::of(parsed.subject_public_key_info().as_ref()))
}

/// A server certificate verifier that accepts exactly one key, by its SPKI pin
/// (protocol.md §4.1). Unlike a plain pin check it also verifies the handshake signatures with
/// the ring provider's algorithms, so a peer that merely replays the pinned certificate without
/// holding its private key fails the handshake.
#[derive(Debug)]
pub struct PinnedServerVerifier {
    pin: Sha256Digest,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinnedServerVerifier {
    /// A verifier for the peer whose roster entry carries `pin`.
    pub fn new(pin: Sha256Digest) -> Self {
        PinnedServerVerifier {
            pin,
            algorithms: rustls::crypto::ring::default_provider().signature_verification_algorithms,
        }
    }

    /// The pin this verifier accepts.
    pub fn pin(&self) -> Sha256Digest {
        self.pin
    }
}

impl ServerCertVerifier for PinnedServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // protocol.md §4.1: the end-entity SPKI must hash to the pin; names, issuers, validity
        // dates and intermediates play no part (there is no CA to fall back to).
        let parsed = ParsedCertificate::try_from(end_entity)?;
        let presented = Sha256Digest::of(parsed.subject_public_key_info().as_ref());
        if presented == self.pin {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // protocol.md §4.1: the handshake proves possession of the pinned key.
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // protocol.md §4.1: the handshake proves possession of the pinned key.
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A rustls client config that talks only to the peer whose TLS key has `pin`: ring provider,
/// TLS 1.3 and 1.2, ALPN `http/1.1`, no client certificate.
pub fn pinned_client_config(pin: Sha256Digest) -> Result<ClientConfig, TlsError> {
    let mut config = ClientConfig::builder_with_provider(ring_provider())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedServerVerifier::new(pin)))
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
    Ok(config)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pkcs8_is_prefix_then_seed() {
        let der = ed25519_pkcs8_from_seed(&[7u8; 32]);
        assert_eq!(der.len(), 48);
        assert_eq!(&der[..16], &ED25519_PKCS8_PREFIX);
        assert_eq!(&der[16..], &[7u8; 32]);
    }

    #[test]
    fn certificate_spki_matches_the_identity_pin() {
        let seed = [3u8; 32];
        let id = NodeTlsIdentity::from_seed(&seed).unwrap();
        // The public key is the Ed25519 key of the seed, as ed25519-dalek derives it.
        let expected_key = ed25519_dalek_public(&seed);
        assert_eq!(id.public_key(), expected_key);
        assert_eq!(id.pin(), tls_spki_pin(&expected_key));
        assert_eq!(
            certificate_spki_pin(id.certificate_der()).unwrap(),
            id.pin()
        );
        // Deterministic: a restart serves the very same certificate.
        let again = NodeTlsIdentity::from_seed(&seed).unwrap();
        assert_eq!(again.certificate_der(), id.certificate_der());
        // Another seed, another pin.
        let other = NodeTlsIdentity::from_seed(&[4u8; 32]).unwrap();
        assert_ne!(
            certificate_spki_pin(other.certificate_der()).unwrap(),
            id.pin()
        );
    }

    #[test]
    fn verifier_accepts_only_the_pinned_certificate() {
        let id = NodeTlsIdentity::from_seed(&[3u8; 32]).unwrap();
        let other = NodeTlsIdentity::from_seed(&[4u8; 32]).unwrap();
        let verifier = PinnedServerVerifier::new(id.pin());
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let now = UnixTime::now();
        assert!(
            verifier
                .verify_server_cert(id.certificate_der(), &[], &name, &[], now)
                .is_ok()
        );
        assert_eq!(
            verifier
                .verify_server_cert(other.certificate_der(), &[], &name, &[], now)
                .unwrap_err(),
            rustls::Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure)
        );
        let garbage = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00]);
        assert!(
            verifier
                .verify_server_cert(&garbage, &[], &name, &[], now)
                .is_err()
        );
    }

    #[test]
    fn configs_build_with_ring_and_alpn() {
        let id = NodeTlsIdentity::from_seed(&[3u8; 32]).unwrap();
        let server = id.server_config().unwrap();
        assert_eq!(server.alpn_protocols, vec![b"http/1.1".to_vec()]);
        let client = pinned_client_config(id.pin()).unwrap();
        assert_eq!(client.alpn_protocols, vec![b"http/1.1".to_vec()]);
        assert!(format!("{id:?}").contains(&id.pin().to_hex()));
    }

    fn ed25519_dalek_public(seed: &[u8; 32]) -> [u8; 32] {
        use debrief_protocol::Signer as _;
        ed25519_dalek::SigningKey::from_bytes(seed)
            .public_key()
            .to_bytes()
    }
}
