//! The render job's part on this worker: mint the render's signed URLs (its audio, for an hour; its
//! video, until the job's deadline — the edge stores it only while the job runs), record the video
//! before anything can write it, submit to the render service with a fresh webhook token, and hand the
//! lease over to the call. The render service's webhooks, or the reconciler, finish the job.

use studio_core::jobs::{JobFailure, Ownership};
use studio_core::limits::SINGLE_PUT_MAX_BYTES;
use studio_core::render_job::RenderInput;
use studio_core::signing::BlobMethod;
use studio_core::{keys, ErrorCode};
use tracing::{info, warn};

use super::{Done, JobCtx, JobError};
use crate::render_service::{RenderService, RenderServiceError, Submission};
use crate::transport::{now_ms, random_hex};

pub async fn run(ctx: &JobCtx) -> Result<Done, JobError> {
    let (Some(service), Some(config)) = (&ctx.render_service, &ctx.config.render) else {
        return Err(JobFailure::transient(ErrorCode::Unavailable, "no render service is configured").into());
    };
    let input: RenderInput = serde_json::from_value(ctx.job.input.clone()).map_err(|e| {
        JobFailure::permanent(ErrorCode::InvalidRequest, "the job input is invalid").with_detail(e.to_string())
    })?;
    ctx.stage("submitting", 0.0).await?;
    let audio_url = ctx.blobs.signed_url(BlobMethod::Get, &input.audio.key, 0);
    let output_key = keys::render_video(&ctx.job.id);
    let upload_url =
        ctx.blobs.signed_url_until(BlobMethod::Put, &output_key, ctx.job.deadline_ms, SINGLE_PUT_MAX_BYTES);
    ctx.will_write(&output_key).await?;
    let webhook_token = random_hex(24);
    let submission = Submission {
        job_id: &ctx.job.id,
        audio_url: &audio_url,
        output_key: &output_key,
        upload_url: &upload_url,
        webhook_url: &config.webhook_url,
        webhook_token: &webhook_token,
        settings: &input.settings,
    };
    let call_id = service.submit(&submission).await.map_err(submit_failure)?;
    info!(call_id, "submitted to the render service");
    match ctx.job.hand_over(&ctx.db, &call_id, &webhook_token, now_ms()).await {
        Ok(Ownership::Held) => Ok(Done::HandedOver),
        Ok(Ownership::Lost) => {
            stop(service, &call_id).await;
            Err(JobError::Lost)
        }
        Err(e) => {
            // Nobody would hear this call's webhooks: stop it, and let the attempt be retried.
            stop(service, &call_id).await;
            Err(e.into())
        }
    }
}

async fn stop(service: &RenderService, call_id: &str) {
    if let Err(e) = service.cancel(call_id).await {
        warn!(call_id, error = %e, "could not cancel a render nobody follows");
    }
}

fn submit_failure(e: RenderServiceError) -> JobError {
    let failure = match &e {
        RenderServiceError::Invalid { field, message } => {
            JobFailure::permanent(ErrorCode::InvalidRequest, format!("the render service refused {field}: {message}"))
        }
        RenderServiceError::Unauthorized | RenderServiceError::Unavailable(_) => {
            JobFailure::transient(ErrorCode::Unavailable, "the render service was unavailable")
        }
        RenderServiceError::Protocol(_) => {
            JobFailure::transient(ErrorCode::Internal, "the render service answered unexpectedly")
        }
    };
    failure.with_detail(e.to_string()).into()
}
