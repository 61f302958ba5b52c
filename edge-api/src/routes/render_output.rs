//! The guard on a render's video: the edge stores it (a single PUT, a multipart step) only while the
//! render job runs the claim its URL is bound to, checked before and after the bytes land.

use studio_core::jobs::JobStatus;
use studio_core::render::job as render_job;
use studio_core::ErrorCode;

use crate::context::Ctx;
use crate::error::ApiError;

fn render_over() -> ApiError {
    ApiError::problem(ErrorCode::JobTerminal, "this render attempt is over; its video is not accepted")
}

/// Before a render's video (or a step of its upload) is taken: its job must be running under `claim`.
pub(crate) async fn ensure_running(ctx: &Ctx, job_id: &str, claim: Option<i64>) -> Result<(), ApiError> {
    match render_job::output_owner(&ctx.db, job_id).await? {
        Some((JobStatus::Processing, running)) if claim == Some(running) => Ok(()),
        _ => Err(render_over()),
    }
}

/// After a render's video was stored under `key`: if its job ended meanwhile without completing, the
/// video is deleted and refused. A job that completed meanwhile keeps it (its video is that key), and so
/// does one running a later claim (the key is that claim's now; its own upload comes after).
pub(crate) async fn ensure_still_running(
    ctx: &Ctx,
    key: &str,
    job_id: &str,
    claim: Option<i64>,
) -> Result<(), ApiError> {
    match render_job::output_owner(&ctx.db, job_id).await? {
        Some((JobStatus::Processing, running)) if claim == Some(running) => Ok(()),
        Some((JobStatus::Complete | JobStatus::Processing | JobStatus::Pending, _)) => Err(render_over()),
        _ => {
            ctx.config.bucket.delete(key).await?;
            Err(render_over())
        }
    }
}
