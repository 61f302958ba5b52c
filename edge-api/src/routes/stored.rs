//! What blob writes share — single PUTs, render multipart uploads and resumable uploads: the JSON answer
//! of a stored object (its key, size and `ETag`), and aborting a multipart upload.

use worker::{Headers, Object, Response};

use crate::context::Ctx;
use crate::error::ApiError;

/// Aborts a multipart upload: 204, or 404 when it was completed or aborted already.
pub(crate) async fn abort_multipart(ctx: &Ctx, key: &str, upload_id: &str) -> Result<Response, ApiError> {
    match ctx.config.bucket.resume_multipart_upload(key, upload_id)?.abort().await {
        Ok(()) => Ok(Response::empty()?.with_status(204)),
        // R2's NoSuchUpload (10024): completed or aborted already.
        Err(e) if e.to_string().contains("10024") => Err(ApiError::not_found("multipart upload")),
        Err(e) => Err(ApiError::Storage(e.to_string())),
    }
}

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
