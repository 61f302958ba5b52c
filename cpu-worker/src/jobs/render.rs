//! The render job's part on this worker: mint the render's signed URLs (its audio, for an hour; its
//! video — one PUT, or a multipart plan when it may exceed the single-PUT limit — until the job's
//! deadline, as the edge stores it only while the job runs), record the video before anything can
//! write it, submit to the render service with a fresh webhook token, and hand the
//! lease over to the call. The render service's webhooks, or the reconciler, finish the job.

use studio_core::jobs::{JobFailure, Ownership};
use studio_core::limits::{MAX_RENDER_OUTPUT_BYTES, MULTIPART_PART_BYTES, SINGLE_PUT_MAX_BYTES};
use studio_core::render::calls as render_calls;
use studio_core::render::job::RenderInput;
use studio_core::signing::{BlobMethod, MultipartStep};
use studio_core::{keys, ErrorCode};
use tracing::{info, warn, Instrument};

use super::{Done, JobCtx, JobError};
use crate::render_service::{OutputUpload, RenderService, RenderServiceError, Submission};
use crate::transport::{now_ms, random_hex};

pub async fn run(ctx: &JobCtx) -> Result<Done, JobError> {
    let (Some(service), Some(config)) = (&ctx.render_service, &ctx.config.render) else {
        return Err(JobFailure::transient(ErrorCode::Unavailable, "no render service is configured").into());
    };
    let input: RenderInput = ctx.input()?;
    ctx.stage("submitting", 0.0).await?;
    let audio_url = ctx.blobs.signed_url(BlobMethod::Get, &input.audio.key, 0);
    let output_key = keys::render_video(ctx.job.account_id.as_deref(), &ctx.job.id);
    clear_earlier_attempts(ctx).await?;
    ctx.will_write(&output_key).await?;
    let upload = if input.estimated_output_bytes() > config.multipart_above_bytes {
        multipart_plan(ctx, &output_key).await?
    } else {
        OutputUpload::Put {
            url: ctx.blobs.render_put_url(&output_key, ctx.job.claim_seq, ctx.job.deadline_ms, SINGLE_PUT_MAX_BYTES),
        }
    };
    let webhook_token = random_hex(24);
    let body = Submission {
        job_id: &ctx.job.id,
        attempt: ctx.job.attempt,
        audio_url: &audio_url,
        output_key: &output_key,
        upload: &upload,
        webhook_url: &config.webhook_url,
        webhook_token: &webhook_token,
        settings: &input.settings,
    }
    .body();
    // Submitting and handing over run to their end even if this attempt is dropped meanwhile
    // (cancelled, released, timed out) — the runner waits for them before the process exits — so a
    // call the service started is either handed over (and stopped by the render watcher once the job
    // is over) or stopped, never left running unknown.
    let (service, db, job) = (service.clone(), ctx.db.clone(), ctx.job.clone());
    let submitted = ctx.tasks.spawn(
        async move {
            let call_id = service.submit_body(&body).await.map_err(submit_failure)?;
            info!(call_id, "submitted to the render service");
            match job.hand_over(&db, &call_id, &webhook_token, &output_key, now_ms()).await {
                Ok(Ownership::Held) => Ok(Done::HandedOver),
                Ok(Ownership::Lost) => {
                    // The job ended meanwhile: the render watcher stops the call (and retries) once it is
                    // noted on the job; a job that went back to the queue cannot hold it, so stop it here.
                    if !matches!(render_calls::record_stray_call(&db, &job.id, &call_id).await, Ok(true)) {
                        stop(&service, &call_id).await;
                    }
                    Err(JobError::Lost)
                }
                Err(e) => {
                    // Nobody would hear this call's webhooks: stop it, and let the attempt be retried.
                    stop(&service, &call_id).await;
                    Err(e.into())
                }
            }
        }
        .in_current_span(),
    );
    submitted.await.map_err(|e| {
        JobError::Failed(
            JobFailure::transient(ErrorCode::Internal, "an internal error occurred").with_detail(e.to_string()),
        )
    })?
}

/// A multipart upload opened for the video, with a URL per part (each valid until the job's deadline;
/// the edge takes them only while the job runs), enough parts for the largest video accepted.
async fn multipart_plan(ctx: &JobCtx, key: &str) -> Result<OutputUpload, JobError> {
    let claim = Some(ctx.job.claim_seq);
    let upload_id = ctx.blobs.create_multipart(key, "video/mp4", claim).await?;
    if ctx.job.record_multipart(&ctx.db, key, &upload_id).await? == Ownership::Lost {
        let _ = ctx.blobs.abort_multipart(key, &upload_id).await;
        return Err(JobError::Lost);
    }
    let deadline = ctx.job.deadline_ms;
    let parts = MAX_RENDER_OUTPUT_BYTES.div_ceil(MULTIPART_PART_BYTES) as u16;
    let part_urls = (1..=parts)
        .map(|part_number| {
            let step = MultipartStep::Part { upload_id: upload_id.clone(), part_number };
            ctx.blobs.multipart_url(key, step, deadline, MULTIPART_PART_BYTES, claim)
        })
        .collect();
    let complete_url = ctx.blobs.multipart_url(key, MultipartStep::Complete { upload_id }, deadline, 0, claim);
    Ok(OutputUpload::Multipart { part_size: MULTIPART_PART_BYTES, part_urls, complete_url })
}

/// Every attempt writes the same video key: what an earlier attempt began under it (an open multipart
/// upload, a video) is cleared before this one records the key as its own.
async fn clear_earlier_attempts(ctx: &JobCtx) -> Result<(), JobError> {
    if crate::housekeeping::sweep_dead_blobs(&ctx.db, &ctx.blobs, Some(&ctx.job.id)).await?.failed == 0 {
        Ok(())
    } else {
        Err(JobFailure::transient(ErrorCode::Unavailable, "storage was unavailable")
            .with_detail("an earlier attempt's upload could not be cleared")
            .into())
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
