//! Multipart uploads through signed URLs, for objects above the single-PUT body limit (a long render's
//! video): `POST ?mpu=create` starts one, `PUT ?upload=&part=` streams one part (a known length within
//! its signed limit), `POST ?upload=` with `{"parts":[{"partNumber","etag"}]}` completes it, `DELETE
//! ?upload=` aborts it. Only the worker mints these URLs, for the render service. A render's parts and
//! its completion are accepted only while its job runs; a video completed after the job ended is deleted.

use serde::Deserialize;
use studio_core::signing::{MultipartStep, SignedQuery};
use studio_core::{keys, ErrorCode};
use worker::{Data, Headers, HttpMetadata, Request, Response, UploadedPart};

use super::render_output;
use super::stored::{abort_multipart, json_headers, stored_response};
use crate::body;
use crate::context::Ctx;
use crate::error::{json_response, ApiError};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CompleteRequest {
    parts: Vec<CompletedPart>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CompletedPart {
    part_number: u16,
    etag: String,
}

pub async fn handle(
    req: &mut Request,
    ctx: &Ctx,
    key: &str,
    step: MultipartStep,
    signed: &SignedQuery,
) -> Result<Response, ApiError> {
    if let Some(upload) = keys::parse_upload_multipart(key) {
        return super::upload_parts::handle(req, ctx, key, upload, step, signed).await;
    }
    if keys::parse_upload_source(key).is_some() {
        return Err(ApiError::problem(ErrorCode::InvalidRequest, "uploads take a single PUT"));
    }
    let render_job = keys::parse_render_output(key).map(|(_, job_id)| job_id);
    if let (Some(job_id), false) = (render_job, matches!(step, MultipartStep::Abort { .. })) {
        render_output::ensure_running(ctx, job_id, signed.claim).await?;
    }
    let bucket = &ctx.config.bucket;
    match step {
        MultipartStep::Create => {
            let content_type = body::content_type(req)?;
            let upload = bucket
                .create_multipart_upload(key)
                .http_metadata(HttpMetadata { content_type: Some(content_type), ..Default::default() })
                .execute()
                .await?;
            Ok(json_response(200, &serde_json::json!({ "key": key, "uploadId": upload.upload_id().await })))
        }
        MultipartStep::Part { upload_id, part_number } => {
            let length = body::known_length(req, signed.max_bytes)?;
            let stream =
                req.inner().body().ok_or_else(|| ApiError::problem(ErrorCode::LengthRequired, "send the bytes"))?;
            let part = bucket
                .resume_multipart_upload(key, upload_id)?
                .upload_part(part_number, Data::from(stream))
                .await
                .map_err(|e| ApiError::Storage(e.to_string()))?;
            let headers = Headers::new();
            headers.set("etag", &part.etag())?;
            let body = serde_json::json!({ "partNumber": part.part_number(), "etag": part.etag(), "size": length });
            Ok(json_response(200, &body).with_headers(json_headers(headers)?))
        }
        MultipartStep::Complete { upload_id } => {
            let request: CompleteRequest = body::json(req).await?;
            if request.parts.is_empty() {
                return Err(ApiError::problem(ErrorCode::InvalidRequest, "parts: at least one part"));
            }
            let parts = request.parts.into_iter().map(|p| UploadedPart::new(p.part_number, p.etag));
            let object = bucket
                .resume_multipart_upload(key, upload_id)?
                .complete(parts)
                .await
                .map_err(|e| ApiError::Storage(e.to_string()))?;
            if let Some(job_id) = render_job {
                render_output::ensure_still_running(ctx, key, job_id, signed.claim).await?;
            }
            stored_response(key, &object)
        }
        MultipartStep::Abort { upload_id } => abort_multipart(ctx, key, &upload_id).await,
    }
}
