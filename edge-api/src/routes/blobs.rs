//! Signed blob URLs (`/blobs/{key}?exp=&max=&sig=`): streaming PUT into R2 with a known length and a
//! size limit checked before any byte is read, GET/HEAD with `Range` and `ETag`, and DELETE; the steps
//! of a multipart upload go to `multipart`. The
//! signature is the only credential, so these URLs can be handed to browsers, the worker and Modal.

use studio_core::range::{self, RangeDecision};
use studio_core::signing::{BlobGrant, BlobMethod, MultipartStep, SignatureError, SignedQuery};
use studio_core::uploads::{self, PutFinish, PutSlot};
use studio_core::{keys, ErrorCode};
use worker::{Data, Headers, HttpMetadata, Method, Object, Range, Request, Response};

use crate::body;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::routes::stored::{json_headers, stored_response};
use crate::routes::{multipart, render_output};

pub async fn handle(req: &mut Request, ctx: &Ctx, key: &str, query: &str) -> Result<Response, ApiError> {
    if !keys::is_valid_key(key) {
        return Err(ApiError::not_found("blob"));
    }
    let http_method = req.method();
    let method = BlobMethod::from_http(http_method.as_ref()).ok_or_else(|| {
        ApiError::problem(ErrorCode::MethodNotAllowed, "blob URLs take GET, HEAD, PUT, POST or DELETE")
    })?;
    let (signed, step) = verify(ctx, method, key, query)?;
    if let Some(step) = step {
        return multipart::handle(req, ctx, key, step, &signed).await;
    }
    match method {
        BlobMethod::Put => put(req, ctx, key, &signed).await,
        BlobMethod::Get => get(req, ctx, key, http_method == Method::Head).await,
        BlobMethod::Delete => {
            ctx.config.bucket.delete(key).await?;
            Ok(Response::empty()?.with_status(204))
        }
        BlobMethod::Post => {
            Err(ApiError::problem(ErrorCode::MethodNotAllowed, "POST is for multipart upload URLs only"))
        }
    }
}

fn verify(
    ctx: &Ctx,
    method: BlobMethod,
    key: &str,
    query: &str,
) -> Result<(SignedQuery, Option<MultipartStep>), ApiError> {
    // A signature that does not match names nothing: the answer is the unknown blob's, so a URL with
    // another account's key swapped in learns nothing. A genuine URL past its time says so.
    let refuse = |e: SignatureError| match e {
        SignatureError::Mismatch => ApiError::not_found("blob"),
        _ => ApiError::problem(ErrorCode::SignatureInvalid, e.to_string()),
    };
    let signed = SignedQuery::parse(query).map_err(refuse)?;
    let step = signed.multipart_step(method).map_err(refuse)?;
    let grant = BlobGrant {
        multipart: step.clone(),
        claim: signed.claim,
        ..BlobGrant::object(method, key, signed.expires_at_ms, signed.max_bytes)
    };
    ctx.config.signing_key.verify(&grant, &signed.signature, ctx.now_ms).map_err(refuse)?;
    Ok((signed, step))
}

async fn put(req: &Request, ctx: &Ctx, key: &str, signed: &SignedQuery) -> Result<Response, ApiError> {
    body::known_length(req, signed.max_bytes)?;
    if let Some((account, upload_id)) = keys::parse_upload_source(key) {
        return put_upload(req, ctx, account, upload_id).await;
    }
    if let Some((_, job_id)) = keys::parse_render_output(key) {
        return put_render_output(req, ctx, key, job_id, signed.claim).await;
    }
    let object = store(req, ctx, key).await?;
    stored_response(key, &object)
}

/// An upload's bytes land under this PUT's own key; they become the upload's only if no ingest job
/// consumed it meanwhile. A PUT that lost that race deletes its own key and nothing else, so the bytes
/// a job reads are never overwritten or removed.
async fn put_upload(req: &Request, ctx: &Ctx, account: Option<&str>, upload_id: &str) -> Result<Response, ApiError> {
    let consumed = || ApiError::problem(ErrorCode::UploadConsumed, "this upload was already ingested");
    let (seq, storage_key) = match uploads::begin_put(&ctx.db, account, upload_id, ctx.now_ms).await? {
        PutSlot::Open { seq, key } => (seq, key),
        PutSlot::NotFound => return Err(ApiError::not_found("upload")),
        PutSlot::Consumed => return Err(consumed()),
    };
    let object = store(req, ctx, &storage_key).await?;
    match uploads::finish_put(&ctx.db, account, upload_id, seq, object.size(), ctx.now_ms).await {
        Ok(PutFinish::Received { replaced }) => {
            if let Some(old) = replaced {
                ctx.config.bucket.delete(&old).await?;
            }
            stored_response(&keys::upload_source(account, upload_id), &object)
        }
        Ok(PutFinish::Refused) => {
            ctx.config.bucket.delete(&storage_key).await?;
            Err(consumed())
        }
        // Unknown whether the row moved: the bytes stay for the upload sweeper, which deletes every
        // PUT key of the upload once it is over.
        Err(e) => Err(e.into()),
    }
}

/// A render's video is stored only while its job runs, checked before and after the bytes stream in: a
/// cancelled or failed render's URL stores nothing, however long the URL itself is valid. (A job that
/// completed meanwhile keeps what it has: its video is that key.)
async fn put_render_output(
    req: &Request,
    ctx: &Ctx,
    key: &str,
    job_id: &str,
    claim: Option<i64>,
) -> Result<Response, ApiError> {
    render_output::ensure_running(ctx, job_id, claim).await?;
    let object = store(req, ctx, key).await?;
    render_output::ensure_still_running(ctx, key, job_id, claim).await?;
    stored_response(key, &object)
}

/// Streams the request body into R2 under `key`: a known-length stream (from Content-Length).
async fn store(req: &Request, ctx: &Ctx, key: &str) -> Result<Object, ApiError> {
    let content_type = body::content_type(req)?;
    let stream = req.inner().body().ok_or_else(|| ApiError::problem(ErrorCode::LengthRequired, "send the bytes"))?;
    ctx.config
        .bucket
        .put(key, Data::from(stream))
        .http_metadata(HttpMetadata { content_type: Some(content_type), ..Default::default() })
        .execute()
        .await
        .map_err(|e| ApiError::Storage(e.to_string()))?
        .ok_or_else(|| ApiError::Storage("put returned no object".into()))
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
