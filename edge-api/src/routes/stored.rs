//! The JSON answers of blob writes (a stored object's key, size and `ETag`), shared by single PUTs and
//! multipart uploads.

use worker::{Headers, Object, Response};

use crate::error::ApiError;

/// 200 `{key, size}` with the object's `ETag`.
pub(crate) fn stored_response(key: &str, object: &Object) -> Result<Response, ApiError> {
    let headers = Headers::new();
    headers.set("etag", &object.http_etag())?;
    Ok(crate::error::json_response(200, &serde_json::json!({ "key": key, "size": object.size() }))
        .with_headers(json_headers(headers)?))
}

/// Extra headers for a JSON answer: `with_headers` replaces them all, so the content type goes back in.
pub(crate) fn json_headers(headers: Headers) -> Result<Headers, ApiError> {
    headers.set("content-type", "application/json")?;
    Ok(headers)
}
