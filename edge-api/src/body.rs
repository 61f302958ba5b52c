//! Reading JSON request bodies with a size cap and clear 400s.

use serde::de::DeserializeOwned;
use studio_core::ErrorCode;
use worker::Request;

use crate::error::ApiError;

const MAX_JSON_BYTES: usize = 64 * 1024;

pub async fn json<T: DeserializeOwned>(req: &mut Request) -> Result<T, ApiError> {
    let bytes =
        req.bytes().await.map_err(|_| ApiError::problem(ErrorCode::InvalidRequest, "could not read the body"))?;
    if bytes.len() > MAX_JSON_BYTES {
        return Err(ApiError::problem(ErrorCode::PayloadTooLarge, "JSON bodies are limited to 64 KiB"));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::problem(ErrorCode::InvalidRequest, format!("invalid JSON body: {e}")))
}
