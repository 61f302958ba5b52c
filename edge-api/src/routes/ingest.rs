//! `POST /api/audio/ingest`: turns a received upload into a pending ingest job (one round trip).

use studio_core::api::{IngestRequest, IngestSource, JobAccepted};
use studio_core::ingest::{create_from_upload, CreateFromUpload};
use studio_core::ErrorCode;
use worker::{Request, Response};

use crate::body;
use crate::context::Ctx;
use crate::error::{json_response, ApiError};

pub async fn create(req: &mut Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let request: IngestRequest = body::json(req).await?;
    let IngestSource::Upload { upload_id } = request.source;
    match create_from_upload(&ctx.db, &upload_id, ctx.now_ms).await? {
        CreateFromUpload::Created(job) => {
            Ok(json_response(202, &JobAccepted { job_id: job.id, status: job.status.as_str().into() }))
        }
        CreateFromUpload::UploadNotFound => Err(ApiError::not_found("upload")),
        CreateFromUpload::UploadIncomplete => Err(ApiError::problem(
            ErrorCode::UploadIncomplete,
            "the upload's bytes have not arrived; PUT them to the uploadUrl first",
        )),
        CreateFromUpload::UploadConsumed => {
            Err(ApiError::problem(ErrorCode::UploadConsumed, "this upload was already ingested by another job"))
        }
    }
}
