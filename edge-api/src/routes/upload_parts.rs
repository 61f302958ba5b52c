//! The parts of a creator's resumable upload, through its signed URLs: each part is stored only while
//! the upload is open and only at its planned length, and recorded; completion assembles exactly the
//! recorded parts (409 `upload_incomplete` naming the missing ones) and makes them the upload's bytes.
//! Only the edge starts these multipart uploads; the sweeper aborts abandoned ones.

use studio_core::signing::{MultipartStep, SignedQuery};
use studio_core::uploads::parts::{self as upload_parts, Resumable};
use studio_core::ErrorCode;
use worker::{Data, Headers, Request, Response, UploadedPart};

use super::stored::{abort_multipart, json_headers, stored_response};
use crate::body;
use crate::context::Ctx;
use crate::error::{json_response, ApiError};

pub async fn handle(
    req: &mut Request,
    ctx: &Ctx,
    key: &str,
    (account, upload_id): (Option<&str>, &str),
    step: MultipartStep,
    signed: &SignedQuery,
) -> Result<Response, ApiError> {
    let upload = upload_parts::get(&ctx.db, account, upload_id).await?.ok_or_else(|| ApiError::not_found("upload"))?;
    let bucket = &ctx.config.bucket;
    match step {
        MultipartStep::Create => {
            Err(ApiError::problem(ErrorCode::MethodNotAllowed, "resumable uploads are started by POST /api/uploads"))
        }
        MultipartStep::Part { upload_id: multipart_id, part_number } => {
            ensure_open(&upload, &multipart_id)?;
            if part_number == 0 || part_number > upload.part_count {
                return Err(ApiError::problem(ErrorCode::InvalidRequest, "no such part"));
            }
            let expected = upload_parts::part_length(upload.size, upload.part_size, part_number);
            let length = body::known_length(req, signed.max_bytes)?;
            if length != expected {
                return Err(ApiError::problem(
                    ErrorCode::InvalidRequest,
                    format!("part {part_number} must be exactly {expected} bytes, not {length}"),
                ));
            }
            let stream =
                req.inner().body().ok_or_else(|| ApiError::problem(ErrorCode::LengthRequired, "send the bytes"))?;
            let part = bucket
                .resume_multipart_upload(key, &multipart_id)?
                .upload_part(part_number, Data::from(stream))
                .await
                .map_err(|e| ApiError::Storage(e.to_string()))?;
            if !upload_parts::record(&ctx.db, &upload.upload_id, part_number, &part.etag(), length, ctx.now_ms).await? {
                return Err(closed());
            }
            let headers = Headers::new();
            headers.set("etag", &part.etag())?;
            let body = serde_json::json!({ "partNumber": part_number, "etag": part.etag(), "size": length });
            Ok(json_response(200, &body).with_headers(json_headers(headers)?))
        }
        MultipartStep::Complete { upload_id: multipart_id } => {
            ensure_open(&upload, &multipart_id)?;
            let missing = upload.missing();
            if !missing.is_empty() {
                let list: Vec<String> = missing.iter().map(u16::to_string).collect();
                return Err(ApiError::problem(
                    ErrorCode::UploadIncomplete,
                    format!("parts {} have not arrived; send them, then complete again", list.join(", ")),
                ));
            }
            let parts = upload.received.iter().map(|p| UploadedPart::new(p.part_number, p.etag.clone()));
            let object = bucket
                .resume_multipart_upload(key, &multipart_id)?
                .complete(parts)
                .await
                .map_err(|e| ApiError::Storage(e.to_string()))?;
            if !upload_parts::finish(&ctx.db, &upload, object.size(), ctx.now_ms).await? {
                bucket.delete(key).await?;
                return Err(closed());
            }
            stored_response(key, &object)
        }
        MultipartStep::Abort { upload_id: multipart_id } => abort_multipart(ctx, key, &multipart_id).await,
    }
}

fn ensure_open(upload: &Resumable, multipart_id: &str) -> Result<(), ApiError> {
    if upload.multipart_id.as_deref() != Some(multipart_id) {
        return Err(ApiError::not_found("upload"));
    }
    if !upload.open {
        return Err(closed());
    }
    Ok(())
}

fn closed() -> ApiError {
    ApiError::problem(ErrorCode::UploadConsumed, "this upload is complete or was ingested; it takes no more parts")
}
