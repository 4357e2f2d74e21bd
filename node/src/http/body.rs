//! Reading a request body with a size cap and an idle timeout (protocol.md §4.8.7): a body over
//! the cap is refused as soon as it passes it, and an upload that pauses longer than the idle
//! timeout is cut off, so a slow sender cannot hold a connection and a buffer for long.

use std::time::Duration;

use axum::body::{Body, Bytes};
use http_body_util::BodyExt as _;

/// Why a body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the request body stalled for more than {0} s")]
    Idle(u64),
    #[error("the request body could not be read")]
    Broken,
}

/// Reads `body` whole, refusing more than `cap` bytes and any pause longer than `idle`.
pub async fn read_body(body: Body, cap: usize, idle: Option<Duration>) -> Result<Bytes, BodyError> {
    let mut body = body;
    let mut out: Vec<u8> = Vec::new();
    loop {
        let next = match idle {
            Some(idle) => tokio::time::timeout(idle, body.frame())
                .await
                .map_err(|_| BodyError::Idle(idle.as_secs()))?,
            None => body.frame().await,
        };
        let Some(frame) = next else { break };
        let frame = frame.map_err(|_| BodyError::Broken)?;
        if let Ok(data) = frame.into_data() {
            if out.len().saturating_add(data.len()) > cap {
                return Err(BodyError::TooLarge(cap));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(out))
}
