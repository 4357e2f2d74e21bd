//! The HTTPS client one node uses to call one peer (protocol.md §4.1, §4.3): it accepts only the
//! peer's pinned TLS key, speaks HTTPS only, follows no redirects, ignores proxy settings from the
//! environment, and signs every member request.

use std::sync::Arc;
use std::time::Duration;

use debrief_protocol::encoding::base64_encode;
use debrief_protocol::wire::{AUTH_HEADER, HttpRequestClaim, RequestNonce};
use debrief_protocol::{EnvelopeError, EnvelopeId, MemberId, Sha256Digest, Signer, Timestamp};
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use reqwest::{Method, Url};

use super::clock::Clock;
use crate::tls::{TlsError, pinned_client_config};

/// Timeouts for calls to a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientTimeouts {
    /// TCP connect plus TLS handshake.
    pub connect: Duration,
    /// The whole request, until the response body is read.
    pub total: Duration,
}

impl Default for ClientTimeouts {
    fn default() -> Self {
        ClientTimeouts {
            connect: Duration::from_secs(10),
            total: Duration::from_secs(60),
        }
    }
}

/// Why a peer client or request could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot build the HTTP client: {0}")]
    Build(reqwest::Error),
    #[error("peer endpoint {0:?} is not an https:// URL")]
    BadEndpoint(String),
    #[error("cannot sign the request: {0}")]
    Sign(#[from] EnvelopeError),
}

/// A reqwest client that trusts only the TLS key with `pin`.
pub fn pinned_client(
    pin: Sha256Digest,
    timeouts: ClientTimeouts,
) -> Result<reqwest::Client, ClientError> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(pinned_client_config(pin)?)
        .https_only(true)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .http1_only()
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.total)
        .build()
        .map_err(ClientError::Build)
}

/// The `Debrief-Auth` header value for a claim: standard base64 of the envelope's JSON
/// (protocol.md §4.3).
pub fn auth_header_value(
    claim: &HttpRequestClaim,
    signer: &dyn Signer,
) -> Result<HeaderValue, ClientError> {
    let envelope = claim.sign(signer)?;
    // Base64 is ASCII, which is always a valid header value.
    HeaderValue::from_str(&base64_encode(&envelope.to_json()))
        .map_err(|_| ClientError::Sign(EnvelopeError::Malformed("header value".into())))
}

/// The raw path and query of a URL, exactly as the request line will carry it.
pub fn request_target(url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{}", url.path(), q),
        None => url.path().to_owned(),
    }
}

/// A signing client for one peer.
#[derive(Clone)]
pub struct PeerClient {
    http: reqwest::Client,
    base: Url,
    peer: MemberId,
    me: MemberId,
    signer: Arc<dyn Signer + Send + Sync>,
}

impl std::fmt::Debug for PeerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerClient")
            .field("base", &self.base.as_str())
            .field("peer", &self.peer)
            .field("me", &self.me)
            .finish_non_exhaustive()
    }
}

/// An unsigned request to a peer, before [`PeerClient::send`] signs it.
#[derive(Debug, Clone)]
pub struct PeerRequest {
    pub method: Method,
    pub circle: EnvelopeId,
    /// Path and query relative to the endpoint, e.g. `/v1/c/{circle}/feed?after=x`.
    pub path_and_query: String,
    /// `(content type, body)`, or `None` for no body.
    pub body: Option<(String, Vec<u8>)>,
}

impl PeerClient {
    /// A client for the peer `peer` at `endpoint` (`https://host:port`) whose TLS key has
    /// `pin`, signing as member `me` with `signer`.
    pub fn new(
        endpoint: &str,
        peer: MemberId,
        pin: Sha256Digest,
        me: MemberId,
        signer: Arc<dyn Signer + Send + Sync>,
        timeouts: ClientTimeouts,
    ) -> Result<Self, ClientError> {
        let base = Url::parse(endpoint).map_err(|_| ClientError::BadEndpoint(endpoint.into()))?;
        if base.scheme() != "https" {
            return Err(ClientError::BadEndpoint(endpoint.into()));
        }
        Ok(PeerClient {
            http: pinned_client(pin, timeouts)?,
            base,
            peer,
            me,
            signer,
        })
    }

    /// The underlying pinned HTTP client (for unsigned routes such as `/healthz`).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The full URL for a path and query.
    pub fn url(&self, path_and_query: &str) -> Result<Url, ClientError> {
        self.base
            .join(path_and_query)
            .map_err(|_| ClientError::BadEndpoint(format!("{}{}", self.base, path_and_query)))
    }

    /// The claim this client would sign for `request` at `now` with `nonce`.
    pub fn claim_for(
        &self,
        request: &PeerRequest,
        now: Timestamp,
        nonce: RequestNonce,
    ) -> Result<HttpRequestClaim, ClientError> {
        let url = self.url(&request.path_and_query)?;
        let (content_type, body): (&str, &[u8]) = match &request.body {
            Some((ct, body)) => (ct, body),
            None => ("", &[]),
        };
        Ok(HttpRequestClaim {
            method: request.method.as_str().to_owned(),
            path: request_target(&url),
            circle: request.circle,
            destination: self.peer.clone(),
            content_type: content_type.to_owned(),
            body_sha256: Sha256Digest::of(body),
            timestamp: now,
            nonce,
            signer: self.me.clone(),
        })
    }

    /// Builds the HTTP request carrying `claim` (normally from [`PeerClient::claim_for`]).
    pub fn build(
        &self,
        request: PeerRequest,
        claim: &HttpRequestClaim,
    ) -> Result<reqwest::RequestBuilder, ClientError> {
        let url = self.url(&request.path_and_query)?;
        let header = auth_header_value(claim, self.signer.as_ref())?;
        let mut builder = self
            .http
            .request(request.method, url)
            .header(AUTH_HEADER, header);
        if let Some((content_type, body)) = request.body {
            builder = builder.header(CONTENT_TYPE, content_type).body(body);
        }
        Ok(builder)
    }

    /// Signs and sends `request`, with the caller's clock and a fresh random nonce.
    pub async fn send(
        &self,
        request: PeerRequest,
        now: Timestamp,
        nonce: RequestNonce,
    ) -> Result<reqwest::Response, SendError> {
        let claim = self.claim_for(&request, now, nonce)?;
        Ok(self.build(request, &claim)?.send().await?)
    }
}

impl PeerClient {
    /// Signs `request` with the time from `clock` and a fresh random nonce, and sends it.
    pub async fn call(
        &self,
        request: PeerRequest,
        clock: &dyn Clock,
    ) -> Result<reqwest::Response, SendError> {
        self.send(request, clock.now(), random_nonce()).await
    }
}

/// Why a request to a peer failed before an HTTP status came back.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("request to peer failed: {0}")]
    Http(#[from] reqwest::Error),
}

/// 16 fresh random bytes for a request nonce.
pub fn random_nonce() -> RequestNonce {
    use rand::RngCore as _;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    RequestNonce(bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn request_target_keeps_the_raw_query() {
        let url = Url::parse("https://127.0.0.1:1/v1/c/ab/feed?after=x%20y&limit=5").unwrap();
        assert_eq!(request_target(&url), "/v1/c/ab/feed?after=x%20y&limit=5");
        let url = Url::parse("https://127.0.0.1:1/healthz").unwrap();
        assert_eq!(request_target(&url), "/healthz");
    }

    #[test]
    fn plain_http_endpoints_are_refused() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
        let me = key.public_key().member_id();
        let err = PeerClient::new(
            "http://127.0.0.1:1",
            me.clone(),
            Sha256Digest::of(b"x"),
            me,
            Arc::new(key),
            ClientTimeouts::default(),
        )
        .unwrap_err();
        assert!(matches!(err, ClientError::BadEndpoint(_)));
    }
}
