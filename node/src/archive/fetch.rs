//! Mirrors a published log from a URL (`archive build --log https://…/log/`) into a local
//! directory, which `build` then verifies like any other copy (docs/archive.md "Commands").
//!
//! The transport is not trusted: integrity comes from the signatures, the pinned genesis and the
//! checkpoint, all checked after the download. The fetcher only bounds what it accepts (file
//! size, entry count, no redirects) so a hostile server cannot exhaust the disk or loop.

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use debrief_protocol::envelope::Envelope;
use debrief_protocol::publog::LogCheckpoint;
use debrief_protocol::publog::layout;
use reqwest::{StatusCode, Url};

use super::ArchiveError;
use super::logdir::MAX_LOG_FILE_BYTES;

/// Most entries a mirrored log may have.
pub const MAX_FETCHED_ENTRIES: u64 = 1_000_000;

fn err(m: String) -> ArchiveError {
    ArchiveError::Log(m)
}

/// An HTTP(S) client for public archives: the system's trusted roots (rustls platform
/// verifier over ring), HTTP/1.1, no redirects, bounded time.
pub fn public_client() -> Result<reqwest::Client, ArchiveError> {
    let provider = crate::tls::ring_provider();
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
        .map_err(|e| err(format!("TLS verifier: {e}")))?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err(format!("TLS config: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .redirect(reqwest::redirect::Policy::none())
        .http1_only()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .user_agent("debrief-archive")
        .build()
        .map_err(|e| err(format!("HTTP client: {e}")))
}

/// GETs one file of the log; `Ok(None)` on 404.
async fn get(client: &reqwest::Client, url: &Url) -> Result<Option<Vec<u8>>, ArchiveError> {
    let mut resp = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| err(format!("{url}: {e}")))?;
    if resp.status() == StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !resp.status().is_success() {
        return Err(err(format!("{url}: HTTP {}", resp.status())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| err(format!("{url}: {e}")))? {
        if (body.len() + chunk.len()) as u64 > MAX_LOG_FILE_BYTES {
            return Err(err(format!(
                "{url}: more than the limit of {MAX_LOG_FILE_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

fn write(dir: &Path, rel: &str, bytes: &[u8]) -> Result<(), ArchiveError> {
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| ArchiveError::Io {
            path: parent.to_path_buf(),
            source: e,
        })?;
    }
    fs::write(&path, bytes).map_err(|e| ArchiveError::Io { path, source: e })
}

/// Downloads the log at `base` (a URL ending in `/`) into `dir`: genesis, checkpoint, keys (if
/// served) and entries 1, 2, … until the first missing one, which must lie beyond the
/// checkpoint's seq. Returns the number of entries.
pub async fn fetch_log(
    client: &reqwest::Client,
    base: &Url,
    dir: &Path,
) -> Result<u64, ArchiveError> {
    let at = |rel: &str| base.join(rel).map_err(|e| err(format!("{base}{rel}: {e}")));
    let genesis = get(client, &at(layout::GENESIS_FILE)?)
        .await?
        .ok_or_else(|| err(format!("{base}: no {}", layout::GENESIS_FILE)))?;
    write(dir, layout::GENESIS_FILE, &genesis)?;
    let checkpoint = get(client, &at(layout::CHECKPOINT_FILE)?)
        .await?
        .ok_or_else(|| err(format!("{base}: no {}", layout::CHECKPOINT_FILE)))?;
    write(dir, layout::CHECKPOINT_FILE, &checkpoint)?;
    if let Some(keys) = get(client, &at(layout::KEYS_FILE)?).await? {
        write(dir, layout::KEYS_FILE, &keys)?;
    }
    // Unverified here: only to know how many entries must exist. Verification follows.
    let covered = Envelope::from_json(&checkpoint)
        .ok()
        .and_then(|e| e.unverified_payload::<LogCheckpoint>().ok())
        .map_or(0, |c| c.seq);
    let mut seq = 0;
    loop {
        if seq >= MAX_FETCHED_ENTRIES {
            return Err(err(format!(
                "{base}: more than {MAX_FETCHED_ENTRIES} entries"
            )));
        }
        let rel = layout::entry_path(seq + 1);
        match get(client, &at(&rel)?).await? {
            Some(bytes) => {
                write(dir, &rel, &bytes)?;
                seq += 1;
            }
            None if seq >= covered => return Ok(seq),
            None => {
                return Err(err(format!(
                    "{base}{rel}: missing, but the checkpoint covers {covered} entries"
                )));
            }
        }
    }
}
