//! Job kinds the worker runs, one file each, and the error type every job returns: either the job
//! was lost (cancelled, re-leased) or it failed with a classified, client-safe failure.

pub mod context;
pub mod edit;
pub mod ingest;
pub mod render;

use studio_core::hrana::DbError;
use studio_core::jobs::{JobFailure, JobType};
use studio_core::ErrorCode;

use crate::blobs::BlobError;
use crate::media::probe::ProbeError;
use crate::media::process::ProcessError;
pub use context::JobCtx;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The job is no longer ours: stop and write nothing more.
    #[error("job lost (cancelled or re-leased)")]
    Lost,
    #[error("{}: {}", .0.code, .0.message)]
    Failed(JobFailure),
}

impl From<JobFailure> for JobError {
    fn from(f: JobFailure) -> Self {
        JobError::Failed(f)
    }
}

impl From<DbError> for JobError {
    fn from(e: DbError) -> Self {
        let failure = if e.is_transient() {
            JobFailure::transient(ErrorCode::Unavailable, "the database was unavailable")
        } else {
            JobFailure::transient(ErrorCode::Internal, "an internal error occurred")
        };
        JobError::Failed(failure.with_detail(e.to_string()))
    }
}

impl From<BlobError> for JobError {
    fn from(e: BlobError) -> Self {
        let failure = match &e {
            BlobError::NotFound(_) => JobFailure::permanent(ErrorCode::SourceUnavailable, "the source file is missing"),
            BlobError::TooLarge { .. } => {
                JobFailure::permanent(ErrorCode::PayloadTooLarge, "the source file is too large")
            }
            e if e.is_transient() => JobFailure::transient(ErrorCode::Unavailable, "storage was unavailable"),
            _ => JobFailure::transient(ErrorCode::Internal, "an internal error occurred"),
        };
        JobError::Failed(failure.with_detail(e.to_string()))
    }
}

impl From<ProcessError> for JobError {
    fn from(e: ProcessError) -> Self {
        let detail = e.stderr_tail().map(str::to_owned).unwrap_or_else(|| e.to_string());
        let failure = match e {
            // A decoder that gives up on this input will give up again.
            ProcessError::Failed { .. } => {
                JobFailure::permanent(ErrorCode::MediaToolFailed, "the media could not be processed")
            }
            _ => JobFailure::transient(ErrorCode::Internal, "a media tool could not run"),
        };
        JobError::Failed(failure.with_detail(detail))
    }
}

impl From<ProbeError> for JobError {
    fn from(e: ProbeError) -> Self {
        match e {
            ProbeError::Rejected(failure) => JobError::Failed(failure),
            ProbeError::Tool(e) => e.into(),
        }
    }
}

impl From<std::io::Error> for JobError {
    fn from(e: std::io::Error) -> Self {
        JobError::Failed(
            JobFailure::transient(ErrorCode::Internal, "an internal error occurred").with_detail(e.to_string()),
        )
    }
}

/// How an attempt that did not fail ended on this worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// The job is complete.
    Completed,
    /// The render service holds the job now; its webhooks or the reconciler finish it.
    HandedOver,
}

/// The job kinds this worker claims: renders only where a render service is configured.
pub fn runnable(render_configured: bool) -> &'static [JobType] {
    if render_configured {
        &[JobType::Ingest, JobType::EditPreview, JobType::EditSave, JobType::Render]
    } else {
        &[JobType::Ingest, JobType::EditPreview, JobType::EditSave]
    }
}

/// Runs one attempt of a claimed job.
pub async fn execute(ctx: &JobCtx) -> Result<Done, JobError> {
    match ctx.job.job_type {
        JobType::Ingest => ingest::run(ctx).await.map(|()| Done::Completed),
        JobType::Render => render::run(ctx).await,
        JobType::EditPreview => edit::preview(ctx).await.map(|()| Done::Completed),
        JobType::EditSave => edit::save(ctx).await.map(|()| Done::Completed),
    }
}
