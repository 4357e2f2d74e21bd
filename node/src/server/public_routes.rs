//! The public routes (protocol.md §4.13): a circle's published log, read-only and without
//! authentication, under `/v1/public/{circle}/` in the layout of §7.10.
//!
//! Only the names of that layout are mapped to files: `genesis.json`, `checkpoint.json`,
//! `keys.json` and `entries/NNNNNN.json` (a seq parsed back to its canonical name). Nothing the
//! caller sends is joined into a path, so `public/pending/` (unpublished proposals), temp files
//! and anything outside the directory cannot be reached (§4.13.3).

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use debrief_protocol::EnvelopeId;
use debrief_protocol::publog::layout;

use super::{ServerState, internal};
use crate::http::auth::{declared_length, rate_limited, too_large};
use crate::http::error::ApiError;
use crate::http::rate::PeerKey;

/// Largest file of the log served (the same bound readers apply, protocol.md §4.13.4).
const MAX_PUBLIC_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// The content type of every file of the layout: canonical JSON (§7.10).
const JSON: &str = "application/json";

/// One file of the published layout, as named in a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PublicFile {
    Genesis,
    Checkpoint,
    Keys,
    Entry(u64),
}

impl PublicFile {
    /// A top-level name; `None` for anything else (protocol.md §4.13.3).
    fn top(name: &str) -> Option<Self> {
        match name {
            layout::GENESIS_FILE => Some(PublicFile::Genesis),
            layout::CHECKPOINT_FILE => Some(PublicFile::Checkpoint),
            layout::KEYS_FILE => Some(PublicFile::Keys),
            _ => None,
        }
    }

    /// An entry file name: exactly the canonical spelling of a seq ≥ 1.
    fn entry(name: &str) -> Option<Self> {
        layout::parse_entry_file_name(name)
            .filter(|seq| *seq >= 1)
            .map(PublicFile::Entry)
    }

    /// The path relative to the public directory, built from constants and a number only.
    fn relative(self) -> String {
        match self {
            PublicFile::Genesis => layout::GENESIS_FILE.to_owned(),
            PublicFile::Checkpoint => layout::CHECKPOINT_FILE.to_owned(),
            PublicFile::Keys => layout::KEYS_FILE.to_owned(),
            PublicFile::Entry(seq) => layout::entry_path(seq),
        }
    }

    /// Genesis and entries never change once written; the checkpoint and the key set do.
    fn cache_control(self) -> &'static str {
        match self {
            PublicFile::Genesis | PublicFile::Entry(_) => "public, max-age=86400, immutable",
            PublicFile::Checkpoint | PublicFile::Keys => "no-cache",
        }
    }
}

/// The public routes (protocol.md §4.13.1), merged into [`ServerState::router`]. GET only
/// (axum answers HEAD from it); no signed-request layer.
pub fn router() -> Router<Arc<ServerState>> {
    Router::new()
        .route("/v1/public/{circle}/{file}", get(top_file))
        .route("/v1/public/{circle}/entries/{file}", get(entry_file))
}

/// `GET /v1/public/{circle}/{file}` (protocol.md §4.13.1).
pub async fn top_file(
    State(state): State<Arc<ServerState>>,
    Path((circle, name)): Path<(String, String)>,
    request: Request,
) -> Result<Response, ApiError> {
    serve(&state, &circle, PublicFile::top(&name), request).await
}

/// `GET /v1/public/{circle}/entries/{file}` (protocol.md §4.13.1).
pub async fn entry_file(
    State(state): State<Arc<ServerState>>,
    Path((circle, name)): Path<(String, String)>,
    request: Request,
) -> Result<Response, ApiError> {
    serve(&state, &circle, PublicFile::entry(&name), request).await
}

/// The bucket of an anonymous caller: its address (protocol.md §4.13.2).
fn address_key(request: &Request) -> PeerKey {
    request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map_or(PeerKey::Unknown, |c| PeerKey::Address(c.0.ip()))
}

async fn serve(
    state: &Arc<ServerState>,
    circle: &str,
    file: Option<PublicFile>,
    request: Request,
) -> Result<Response, ApiError> {
    // Cheapest first: the bucket, the body, the name, the circle, then the disk.
    state
        .rate
        .take(&address_key(&request), 1, state.clock.now())
        .map_err(rate_limited)?;
    let (parts, _body) = request.into_parts();
    if declared_length(&parts).is_some_and(|n| n > 0) {
        return Err(too_large(0));
    }
    let file = file.ok_or_else(ApiError::not_found)?;
    let id: EnvelopeId = circle.parse().map_err(|_| ApiError::not_found())?;
    let handle = state.circle(&id).ok_or_else(ApiError::not_found)?;
    let dir = handle
        .with_circle(|c| Ok(crate::publish::public_dir(c)))
        .await?;
    let bytes = tokio::task::spawn_blocking(move || read_public(&dir, file))
        .await
        .map_err(|e| internal("public file task failed", e))??;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(JSON));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static(file.cache_control()),
    );
    Ok(response)
}

/// Reads one file of the public log; 404 when the circle has no log (no genesis) or the file
/// does not exist. Symlinks are not followed, so a link planted in the directory serves
/// nothing (protocol.md §4.13.3).
fn read_public(dir: &std::path::Path, file: PublicFile) -> Result<Vec<u8>, ApiError> {
    if !is_regular(&dir.join(layout::GENESIS_FILE)) {
        return Err(ApiError::not_found());
    }
    let path: PathBuf = dir.join(file.relative());
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(m) if m.file_type().is_file() => m,
        Ok(_) => return Err(ApiError::not_found()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ApiError::not_found()),
        Err(e) => return Err(internal("reading the public log", e)),
    };
    if meta.len() > MAX_PUBLIC_FILE_BYTES {
        return Err(internal(
            "a public log file is larger than the served limit",
            path.display(),
        ));
    }
    std::fs::read(&path).map_err(|e| internal("reading the public log", e))
}

fn is_regular(path: &std::path::Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_layout_names_map_to_files() {
        assert_eq!(PublicFile::top("genesis.json"), Some(PublicFile::Genesis));
        assert_eq!(
            PublicFile::top("checkpoint.json"),
            Some(PublicFile::Checkpoint)
        );
        assert_eq!(PublicFile::top("keys.json"), Some(PublicFile::Keys));
        assert_eq!(PublicFile::entry("000007.json"), Some(PublicFile::Entry(7)));
        assert_eq!(
            PublicFile::Entry(7).relative(),
            "entries/000007.json".to_owned()
        );
        for bad in [
            "",
            ".",
            "..",
            "pending",
            "entries",
            "../genesis.json",
            "genesis.json/",
            "GENESIS.json",
            ".genesis.json.tmp-1",
        ] {
            assert_eq!(PublicFile::top(bad), None, "{bad:?}");
        }
        for bad in [
            "000000.json",
            "7.json",
            "../000001.json",
            "000001.json.tmp",
            "..",
        ] {
            assert_eq!(PublicFile::entry(bad), None, "{bad:?}");
        }
    }
}
