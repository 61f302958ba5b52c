//! `POST /api/audio/ingest`: turns the caller's received upload into a pending ingest job (one round
//! trip), with an optional `callbackUrl` for when it ends.

use studio_core::api::{IngestRequest, IngestSource, JobAccepted};
use studio_core::ingest::youtube;
use studio_core::ingest::{create_from_link, create_from_upload, CreateFromUpload, IngestSourceInput};
use studio_core::net_policy::{check_callback_url, check_source_url};
use studio_core::ErrorCode;
use worker::Response;

use crate::body;
use crate::context::Ctx;
use crate::error::{json_response, ApiError};

pub async fn create(body: serde_json::Value, ctx: &Ctx) -> Result<Response, ApiError> {
    let request: IngestRequest = body::from_value(body)?;
    let callback_url = match &request.callback_url {
        Some(url) => Some(check_callback_url(url, &ctx.config.callback_allow)?),
        None => None,
    };
    let session = ctx.session()?;
    let upload_id = match request.source {
        IngestSource::Upload { upload_id } => upload_id,
        IngestSource::Url { url } => {
            let url = check_source_url(&url, &ctx.config.ingest_allow)?;
            return from_link(ctx, IngestSourceInput::Url { url }, callback_url.as_deref()).await;
        }
        IngestSource::Youtube { url, rights_attested } => {
            let (url, video_id) = youtube::canonical(&url, rights_attested, &ctx.config.ingest_allow)?;
            let source = IngestSourceInput::Youtube { url, video_id, rights_attested_at: ctx.now_ms };
            return from_link(ctx, source, callback_url.as_deref()).await;
        }
    };
    match create_from_upload(&ctx.db, session, &upload_id, callback_url.as_deref(), &ctx.config.quotas).await? {
        CreateFromUpload::Created(job) => Ok(json_response(202, &JobAccepted::new(job.id, job.status.as_str()))),
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

/// A job that downloads a link.
async fn from_link(ctx: &Ctx, source: IngestSourceInput, callback_url: Option<&str>) -> Result<Response, ApiError> {
    let job = create_from_link(&ctx.db, ctx.session()?, source, callback_url, &ctx.config.quotas).await?;
    Ok(json_response(202, &JobAccepted::new(job.id, job.status.as_str())))
}
