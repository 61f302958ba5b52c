//! `POST /api/uploads`: declares an upload (within the caller's storage quota) and hands back where
//! its bytes go, under the caller's prefix: one signed PUT URL, or — for a large file, or on request —
//! a resumable plan of signed part URLs and a completion URL. `GET /api/uploads/{id}`: the upload, with
//! the parts already received and fresh URLs for the missing ones.

use serde_json::json;
use studio_core::api::{CreateUploadRequest, CreateUploadResponse};
use studio_core::keys;
use studio_core::limits::UPLOAD_URL_TTL_MS;
use studio_core::signing::{BlobGrant, BlobMethod, MultipartStep};
use studio_core::uploads;
use studio_core::uploads::parts::{self as upload_parts, Resumable};
use worker::{HttpMetadata, Response};

use crate::body;
use crate::context::Ctx;
use crate::error::{json_response, ApiError};

pub async fn create(body: serde_json::Value, ctx: &Ctx) -> Result<Response, ApiError> {
    let request: CreateUploadRequest = body::from_value(body)?;
    request.validate()?;
    let upload = uploads::create(&ctx.db, ctx.session()?, &request, &ctx.config.quotas).await?;
    if !request.resumable() {
        let key = keys::upload_source(upload.account_id.as_deref(), &upload.id);
        let grant = BlobGrant::object(BlobMethod::Put, &key, upload.expires_at, upload.declared_size);
        let body = CreateUploadResponse {
            upload_url: ctx.config.signing_key.url(&ctx.origin, &grant),
            upload_id: upload.id,
            method: "PUT".into(),
            expires_at: upload.expires_at,
        };
        return Ok(json_response(201, &body));
    }
    let key = keys::upload_multipart(upload.account_id.as_deref(), &upload.id);
    let multipart = ctx
        .config
        .bucket
        .create_multipart_upload(key)
        .http_metadata(HttpMetadata {
            content_type: Some(request.content_type.trim().to_owned()),
            ..Default::default()
        })
        .execute()
        .await?;
    let multipart_id = multipart.upload_id().await;
    let (part_size, part_count) = upload_parts::plan(request.size);
    if let Err(e) = upload_parts::start(&ctx.db, &upload.id, &multipart_id, part_size, part_count).await {
        // Unrecorded, the multipart upload could never be found to abort: abort it now.
        let _ = multipart.abort().await;
        return Err(e.into());
    }
    let resumable = Resumable {
        upload_id: upload.id.clone(),
        account_id: upload.account_id.clone(),
        multipart_id: Some(multipart_id),
        size: request.size,
        part_size,
        part_count,
        open: true,
        status: "awaiting_bytes".into(),
        received: vec![],
    };
    Ok(json_response(201, &view(ctx, &resumable)))
}

/// `GET /api/uploads/{id}`.
pub async fn get(ctx: &Ctx, upload_id: &str) -> Result<Response, ApiError> {
    let upload = upload_parts::get_owned(&ctx.db, ctx.session()?, upload_id)
        .await?
        .ok_or_else(|| ApiError::not_found("upload"))?;
    Ok(json_response(200, &view(ctx, &upload)))
}

/// The upload as the creator sees it: for a resumable one still open, the parts received and signed
/// URLs (valid for an hour) for the missing ones and for completion.
fn view(ctx: &Ctx, upload: &Resumable) -> serde_json::Value {
    let expires_at = ctx.now_ms + UPLOAD_URL_TTL_MS;
    let mut view =
        json!({ "uploadId": upload.upload_id, "status": upload.status, "size": upload.size, "expiresAt": expires_at });
    let Some(multipart_id) = &upload.multipart_id else { return view };
    let key = upload.key();
    let url = |step: MultipartStep, max_bytes: u64| {
        let grant = BlobGrant {
            multipart: Some(step.clone()),
            ..BlobGrant::object(step.method(), &key, expires_at, max_bytes)
        };
        ctx.config.signing_key.url(&ctx.origin, &grant)
    };
    let missing = upload.missing();
    let parts: Vec<serde_json::Value> = if upload.open {
        missing
            .iter()
            .map(|&n| {
                let step = MultipartStep::Part { upload_id: multipart_id.clone(), part_number: n };
                let length = upload_parts::part_length(upload.size, upload.part_size, n);
                json!({ "partNumber": n, "size": length, "url": url(step, length) })
            })
            .collect()
    } else {
        vec![]
    };
    view["multipart"] = json!({
        "partSize": upload.part_size,
        "partCount": upload.part_count,
        "received": upload.received,
        "missing": missing,
        "parts": parts,
        "completeUrl": upload.open.then(|| url(MultipartStep::Complete { upload_id: multipart_id.clone() }, 0)),
    });
    view
}
