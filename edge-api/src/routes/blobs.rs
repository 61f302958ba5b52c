//! Signed blob URLs (`/blobs/{key}?exp=&max=&sig=`): streaming PUT into R2 with a known length and a
//! size limit checked before any byte is read, GET/HEAD with `Range` and `ETag`, and DELETE. The
//! signature is the only credential, so these URLs can be handed to browsers, the worker and Modal.

use studio_core::db::uploads::{self, UploadStatus};
use studio_core::range::{self, RangeDecision};
use studio_core::signing::{BlobGrant, BlobMethod, SignatureError, SignedQuery};
use studio_core::{keys, ErrorCode};
use worker::{Data, Headers, HttpMetadata, Method, Range, Request, Response};

use crate::context::Ctx;
use crate::error::ApiError;

pub async fn handle(req: &Request, ctx: &Ctx, key: &str, query: &str) -> Result<Response, ApiError> {
    if !keys::is_valid_key(key) {
        return Err(ApiError::not_found("blob"));
    }
    let http_method = req.method();
    let method = BlobMethod::from_http(http_method.as_ref())
        .ok_or_else(|| ApiError::problem(ErrorCode::MethodNotAllowed, "blob URLs take GET, HEAD, PUT or DELETE"))?;
    let signed = verify(ctx, method, key, query)?;
    match method {
        BlobMethod::Put => put(req, ctx, key, signed.max_bytes).await,
        BlobMethod::Get => get(req, ctx, key, http_method == Method::Head).await,
        BlobMethod::Delete => {
            ctx.config.bucket.delete(key).await?;
            Ok(Response::empty()?.with_status(204))
        }
    }
}

fn verify(ctx: &Ctx, method: BlobMethod, key: &str, query: &str) -> Result<SignedQuery, ApiError> {
    let refuse = |e: SignatureError| ApiError::problem(ErrorCode::SignatureInvalid, e.to_string());
    let signed = SignedQuery::parse(query).map_err(refuse)?;
    let grant =
        BlobGrant { method, key: key.to_owned(), expires_at_ms: signed.expires_at_ms, max_bytes: signed.max_bytes };
    ctx.config.signing_key.verify(&grant, &signed.signature, ctx.now_ms).map_err(refuse)?;
    Ok(signed)
}

/// `limit` is the signed size grant (0: none).
async fn put(req: &Request, ctx: &Ctx, key: &str, limit: u64) -> Result<Response, ApiError> {
    let length: u64 = req
        .headers()
        .get("content-length")?
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| ApiError::problem(ErrorCode::LengthRequired, "send Content-Length with the body"))?;
    if limit > 0 && length > limit {
        return Err(ApiError::problem(
            ErrorCode::PayloadTooLarge,
            format!("the body is {length} bytes; this URL accepts at most {limit}"),
        ));
    }
    let upload_id = keys::parse_upload_source(key);
    // Checked before writing: re-PUTting an ingested upload would overwrite bytes its job may be reading.
    if let Some(id) = upload_id {
        let upload = uploads::get(&ctx.db, id).await?.ok_or_else(|| ApiError::not_found("upload"))?;
        if upload.status == UploadStatus::Consumed {
            return Err(ApiError::problem(ErrorCode::UploadConsumed, "this upload was already ingested"));
        }
    }
    let content_type = req.headers().get("content-type")?.unwrap_or_else(|| "application/octet-stream".into());
    // The request body is a known-length stream (from Content-Length), which R2 requires.
    let data = match req.inner().body() {
        Some(stream) if length > 0 => Data::from(stream),
        _ => Data::Empty,
    };
    let object = ctx
        .config
        .bucket
        .put(key, data)
        .http_metadata(HttpMetadata { content_type: Some(content_type), ..Default::default() })
        .execute()
        .await
        .map_err(|e| ApiError::Storage(e.to_string()))?
        .ok_or_else(|| ApiError::Storage("put returned no object".into()))?;
    let size = object.size();
    if let Some(id) = upload_id {
        if !uploads::mark_received(&ctx.db, id, size, ctx.now_ms).await? {
            ctx.config.bucket.delete(key).await?;
            return Err(ApiError::problem(ErrorCode::UploadConsumed, "this upload was already ingested"));
        }
    }
    let headers = Headers::new();
    headers.set("etag", &object.http_etag())?;
    Ok(crate::error::json_response(200, &serde_json::json!({ "key": key, "size": size }))
        .with_headers(json_headers(headers)?))
}

async fn get(req: &Request, ctx: &Ctx, key: &str, head_only: bool) -> Result<Response, ApiError> {
    let meta = ctx.config.bucket.head(key).await?.ok_or_else(|| ApiError::not_found("blob"))?;
    let size = meta.size();
    let etag = meta.http_etag();
    let headers = Headers::new();
    headers.set("etag", &etag)?;
    headers.set("accept-ranges", "bytes")?;
    headers.set("cache-control", "private, max-age=3600")?;
    headers
        .set("content-type", &meta.http_metadata().content_type.unwrap_or_else(|| "application/octet-stream".into()))?;
    if let Some(tags) = req.headers().get("if-none-match")? {
        if tags.split(',').any(|t| t.trim() == etag || t.trim() == "*") {
            return Ok(Response::empty()?.with_status(304).with_headers(headers));
        }
    }
    let decision = range::decide(req.headers().get("range")?.as_deref(), size);
    if let Some(content_range) = decision.content_range(size) {
        headers.set("content-range", &content_range)?;
    }
    let (status, r2_range, length) = match decision {
        RangeDecision::Unsatisfiable => {
            let body = studio_core::api::ErrorBody::from(&studio_core::Problem::new(
                ErrorCode::RangeNotSatisfiable,
                format!("the object has {size} bytes"),
            ));
            return Ok(crate::error::json_response(416, &body).with_headers(json_headers(headers)?));
        }
        RangeDecision::Full => (200, None, size),
        RangeDecision::Partial { start, end } => {
            (206, Some(Range::OffsetWithLength { offset: start, length: end - start + 1 }), end - start + 1)
        }
    };
    headers.set("content-length", &length.to_string())?;
    if head_only || length == 0 {
        return Ok(Response::empty()?.with_status(status).with_headers(headers));
    }
    let mut get = ctx.config.bucket.get(key);
    if let Some(r) = r2_range {
        get = get.range(r);
    }
    let object = get.execute().await?.ok_or_else(|| ApiError::not_found("blob"))?;
    let body = object.body().ok_or_else(|| ApiError::Storage("object has no body".into()))?;
    let stream = body.response_body()?;
    Ok(Response::from_body(stream)?.with_status(status).with_headers(headers))
}

/// Extra headers for a JSON answer: `with_headers` replaces them all, so the content type goes back in.
fn json_headers(headers: Headers) -> Result<Headers, ApiError> {
    headers.set("content-type", "application/json")?;
    Ok(headers)
}
