//! Request bodies: a byte body's known length against its signed limit, and JSON bodies read with a
//! size cap and clear 400s. The cap is enforced before the body is
//! buffered: a declared `Content-Length` over it is refused without reading a byte, and a body without
//! one (chunked) is read only up to the cap. After a route answers, a small body it did not read is
//! discarded so a kept-alive connection can carry the next request; a large one is left unread.

use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use studio_core::ErrorCode;
use worker::Request;

use crate::error::ApiError;

const MAX_JSON_BYTES: usize = 64 * 1024;

fn too_large() -> ApiError {
    ApiError::problem(ErrorCode::PayloadTooLarge, format!("JSON bodies are limited to {} KiB", MAX_JSON_BYTES / 1024))
}

/// The request's `Content-Length`, if it sent one that parses.
pub fn declared_length(req: &Request) -> Result<Option<u64>, ApiError> {
    Ok(req.headers().get("content-length")?.and_then(|v| v.trim().parse().ok()))
}

pub async fn json<T: DeserializeOwned>(req: &mut Request) -> Result<T, ApiError> {
    let bytes = bytes(req).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::problem(ErrorCode::InvalidRequest, format!("invalid JSON body: {e}")))
}

/// A JSON value (already read) as the route's request type; a mismatch is a 400.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_json::from_value(value)
        .map_err(|e| ApiError::problem(ErrorCode::InvalidRequest, format!("invalid request body: {e}")))
}

/// The raw body, capped like JSON bodies (for signed payloads that must be verified byte for byte).
pub async fn bytes(req: &mut Request) -> Result<Vec<u8>, ApiError> {
    if declared_length(req)?.is_some_and(|len| len > MAX_JSON_BYTES as u64) {
        return Err(too_large());
    }
    let unreadable = || ApiError::problem(ErrorCode::InvalidRequest, "could not read the body");
    let mut bytes = Vec::new();
    if req.inner().body().is_some() {
        let mut stream = req.stream().map_err(|_| unreadable())?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| unreadable())?;
            if bytes.len() + chunk.len() > MAX_JSON_BYTES {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
    }
    Ok(bytes)
}

/// Reads and drops a body the route left unread, within the same cap as [`bytes`] (a larger declared
/// body is never read), so a kept-alive connection can carry the next request.
pub async fn discard_unread(req: &mut Request) {
    if !req.inner().body_used() {
        let _ = bytes(req).await;
    }
}

/// The body's declared `Content-Type`, stored with the object (`application/octet-stream` if none).
pub fn content_type(req: &Request) -> Result<String, ApiError> {
    Ok(req.headers().get("content-type")?.unwrap_or_else(|| "application/octet-stream".into()))
}

/// The body's declared length: R2 needs a known length, a PUT without bytes is never an upload (both
/// 411), and a body above the signed limit (`limit`, 0: none) is refused before any byte is read.
pub(crate) fn known_length(req: &Request, limit: u64) -> Result<u64, ApiError> {
    let length = declared_length(req)?
        .filter(|len| *len > 0 && req.inner().body().is_some())
        .ok_or_else(|| ApiError::problem(ErrorCode::LengthRequired, "send the bytes with their Content-Length"))?;
    if limit > 0 && length > limit {
        return Err(ApiError::problem(
            ErrorCode::PayloadTooLarge,
            format!("the body is {length} bytes; this URL accepts at most {limit}"),
        ));
    }
    Ok(length)
}
