//! `GET /api/jobs` (newest first, paged), `GET /api/jobs/{id}`, `GET /api/jobs/{id}/events`,
//! `GET /api/jobs/{id}/deliveries`, `GET /api/jobs/{id}/download`, `POST /api/jobs/{id}/cancel` — the caller's jobs only: another
//! account's job is answered exactly like an unknown one.

use serde_json::json;
use studio_core::api::JobView;
use studio_core::jobs::listing::{self, JobQuery};
use studio_core::jobs::{self, CancelOutcome, Job, JobStatus};
use studio_core::ErrorCode;
use worker::Response;

use crate::context::Ctx;
use crate::error::{json_response, redirect, ApiError};

pub async fn list(ctx: &Ctx, query: &str) -> Result<Response, ApiError> {
    let query = JobQuery::parse(query)?;
    let page = listing::list(&ctx.db, ctx.session()?, &query).await?;
    let jobs: Vec<JobView> = page.jobs.into_iter().map(|job| view(ctx, job)).collect();
    Ok(json_response(200, &json!({ "jobs": jobs, "nextCursor": page.next.map(|c| c.encode()) })))
}

pub async fn get(ctx: &Ctx, job_id: &str) -> Result<Response, ApiError> {
    let job = jobs::get(&ctx.db, ctx.session()?, job_id).await?.ok_or_else(|| ApiError::not_found("job"))?;
    Ok(json_response(200, &view(ctx, job)))
}

/// The job as the API shows it, with a signed download link once it is complete.
fn view(ctx: &Ctx, job: Job) -> JobView {
    let download_url = download_url(ctx, &job);
    JobView::new(job, download_url, ctx.now_ms)
}

/// A signed link to a complete job's output (the asset's audio, the preview, the video).
fn download_url(ctx: &Ctx, job: &Job) -> Option<String> {
    match (&job.output_key, job.status) {
        (Some(key), JobStatus::Complete) => Some(ctx.download_url(key)),
        _ => None,
    }
}

/// `GET /api/jobs/{id}/download`: a redirect to the job's output once it is complete; 409 `not_ready`
/// before (or when the job ended without one).
pub async fn download(ctx: &Ctx, job_id: &str) -> Result<Response, ApiError> {
    let job = jobs::get(&ctx.db, ctx.session()?, job_id).await?.ok_or_else(|| ApiError::not_found("job"))?;
    let Some(url) = download_url(ctx, &job) else {
        let message = match job.status {
            JobStatus::Complete => "the job has no output to download".to_owned(),
            s if s.is_terminal() => format!("the job is {} and has no output", s.as_str()),
            _ => "the job is not complete yet".to_owned(),
        };
        return Err(ApiError::problem(ErrorCode::NotReady, message));
    };
    redirect(&url)
}

pub async fn events(ctx: &Ctx, job_id: &str) -> Result<Response, ApiError> {
    let events = jobs::events(&ctx.db, ctx.session()?, job_id).await?.ok_or_else(|| ApiError::not_found("job"))?;
    Ok(json_response(200, &json!({ "jobId": job_id, "events": events })))
}

/// `GET /api/jobs/{id}/deliveries`: the job's callback and every attempt to deliver it.
pub async fn deliveries(ctx: &Ctx, job_id: &str) -> Result<Response, ApiError> {
    let deliveries =
        jobs::deliveries(&ctx.db, ctx.session()?, job_id).await?.ok_or_else(|| ApiError::not_found("job"))?;
    Ok(json_response(200, &json!({ "jobId": job_id, "deliveries": deliveries })))
}

pub async fn cancel(ctx: &Ctx, job_id: &str) -> Result<Response, ApiError> {
    match jobs::cancel(&ctx.db, ctx.session()?, job_id).await? {
        CancelOutcome::Cancelled => Ok(json_response(200, &json!({ "jobId": job_id, "status": "cancelled" }))),
        CancelOutcome::AlreadyTerminal(status) => Err(ApiError::problem(
            ErrorCode::JobTerminal,
            format!("the job is already {} and cannot be cancelled", status.as_str()),
        )),
        CancelOutcome::NotFound => Err(ApiError::not_found("job")),
    }
}
