//! What a running job holds: its claim, the database, blob access, and a scratch directory (under
//! this worker's [`WorkRoot`]) that is removed with it.

use std::sync::Arc;

use studio_core::jobs::{ClaimedJob, JobFailure, Ownership};
use studio_core::ErrorCode;
use tokio_util::task::TaskTracker;

use super::JobError;
use crate::blobs::BlobClient;
use crate::config::Config;
use crate::render_service::RenderService;
use crate::transport::{now_ms, Db};
use crate::workdirs::WorkRoot;

pub struct JobCtx {
    pub job: ClaimedJob,
    pub db: Db,
    pub blobs: BlobClient,
    pub config: Arc<Config>,
    /// Present where the worker has a render service configured.
    pub render_service: Option<RenderService>,
    /// Work that must finish even if the attempt is dropped (the runner waits for it at shutdown).
    pub tasks: TaskTracker,
    pub workdir: tempfile::TempDir,
}

impl JobCtx {
    pub fn new(
        job: ClaimedJob,
        db: Db,
        blobs: BlobClient,
        config: Arc<Config>,
        render_service: Option<RenderService>,
        tasks: TaskTracker,
        root: &WorkRoot,
    ) -> std::io::Result<Self> {
        let workdir = root.job_dir(&job.id)?;
        Ok(JobCtx { job, db, blobs, config, render_service, tasks, workdir })
    }

    /// The job's input as its type; one that does not parse fails the job for good.
    pub fn input<T: serde::de::DeserializeOwned>(&self) -> Result<T, JobError> {
        serde_json::from_value(self.job.input.clone()).map_err(|e| {
            JobFailure::permanent(ErrorCode::InvalidRequest, "the job input is invalid")
                .with_detail(e.to_string())
                .into()
        })
    }

    /// Completes the job with `result`, its output blob and the writes that go with it, fenced by the
    /// claim; a lost job stops here.
    pub async fn complete(
        &self,
        result: &serde_json::Value,
        output_key: &str,
        effects: Vec<studio_core::hrana::Stmt>,
    ) -> Result<(), JobError> {
        match self.job.complete(&self.db, result, Some(output_key), effects, now_ms()).await? {
            Ownership::Held => Ok(()),
            Ownership::Lost => Err(JobError::Lost),
        }
    }

    /// Records stage and progress; a lost job stops here.
    pub async fn stage(&self, stage: &str, progress: f64) -> Result<(), JobError> {
        tracing::info!(stage, progress, "stage");
        match self.job.progress(&self.db, stage, progress, now_ms()).await? {
            Ownership::Held => Ok(()),
            Ownership::Lost => Err(JobError::Lost),
        }
    }

    /// Call before writing blob `key`: the write is recorded under this attempt's claim, so the blob
    /// is deleted if the attempt never completes, even if this process dies. A lost job stops here.
    pub async fn will_write(&self, key: &str) -> Result<(), JobError> {
        match self.job.record_write(&self.db, key, now_ms()).await? {
            Ownership::Held => Ok(()),
            Ownership::Lost => Err(JobError::Lost),
        }
    }
}
