//! What a running job holds: its claim, the database, blob access, a scratch directory that is
//! removed with it, and the list of blobs it wrote (deleted again if the attempt does not complete).

use std::sync::{Arc, Mutex};

use studio_core::jobs::{ClaimedJob, Ownership};

use super::JobError;
use crate::blobs::BlobClient;
use crate::config::Config;
use crate::transport::{now_ms, Db};

pub struct JobCtx {
    pub job: ClaimedJob,
    pub db: Db,
    pub blobs: BlobClient,
    pub config: Arc<Config>,
    pub workdir: tempfile::TempDir,
    written: Mutex<Vec<String>>,
}

impl JobCtx {
    pub fn new(job: ClaimedJob, db: Db, blobs: BlobClient, config: Arc<Config>) -> std::io::Result<Self> {
        let workdir = tempfile::Builder::new().prefix(&format!("{}-", job.id)).tempdir()?;
        Ok(JobCtx { job, db, blobs, config, workdir, written: Mutex::new(Vec::new()) })
    }

    /// Records stage and progress; a lost job stops here.
    pub async fn stage(&self, stage: &str, progress: f64) -> Result<(), JobError> {
        tracing::info!(stage, progress, "stage");
        match self.job.progress(&self.db, stage, progress, now_ms()).await? {
            Ownership::Held => Ok(()),
            Ownership::Lost => Err(JobError::Lost),
        }
    }

    /// Notes a blob this attempt created, so it can be removed if the attempt does not complete.
    pub fn wrote(&self, key: String) {
        self.written.lock().expect("written lock").push(key);
    }

    pub fn take_written(&self) -> Vec<String> {
        std::mem::take(&mut *self.written.lock().expect("written lock"))
    }
}
