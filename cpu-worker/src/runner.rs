//! The claim loop: up to `concurrency` jobs at once, each with a heartbeat that extends its lease and
//! notices cancellation, a per-type timeout, and a clean shutdown (stop claiming, let running jobs
//! finish within the grace period, release the rest).

use std::sync::Arc;
use std::time::Duration;

use studio_core::jobs::{self, ClaimedJob, FailOutcome, JobFailure, Ownership};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn, Instrument};

use crate::blobs::BlobClient;
use crate::config::Config;
use crate::jobs::{execute, runnable, Done, JobCtx, JobError};
use crate::render_service::RenderService;
use crate::transport::{jitter, now_ms, random_hex, Db};
use crate::workdirs::WorkRoot;

/// How long shutdown waits for render submissions in flight (a submit times out after 60 s).
const SUBMIT_DRAIN: Duration = Duration::from_secs(75);

#[derive(Clone)]
pub struct Runner {
    pub config: Arc<Config>,
    pub db: Db,
    pub blobs: BlobClient,
    pub workroot: Arc<WorkRoot>,
    pub render_service: Option<RenderService>,
    /// Detached work of attempts (render submissions) that must end before the process does.
    pub tasks: TaskTracker,
}

enum Outcome {
    Finished(Result<Done, JobError>),
    TimedOut,
    Lost,
    Released,
}

impl Runner {
    /// A runner for this process; `workroot` is its claimed scratch space (see [`WorkRoot::open`]).
    pub fn new(config: Config, db: Db, workroot: WorkRoot) -> Self {
        let blobs = BlobClient::new(config.signing_key.clone(), config.edge_base_url.clone());
        let render_service = config.render.as_ref().map(|r| RenderService::new(&r.service_url, r.auth_token.clone()));
        Runner {
            config: Arc::new(config),
            db,
            blobs,
            workroot: Arc::new(workroot),
            render_service,
            tasks: TaskTracker::new(),
        }
    }

    /// Runs until `shutdown` fires, then drains within the grace period.
    pub async fn run(&self, shutdown: CancellationToken) {
        let slots = Arc::new(Semaphore::new(self.config.concurrency));
        let release = CancellationToken::new();
        let mut running = JoinSet::new();
        let reaper = tokio::spawn(crate::housekeeping::run(
            self.db.clone(),
            self.blobs.clone(),
            self.config.reaper_interval,
            self.config.asset_unused_after,
            shutdown.clone(),
        ));
        let render_watch = match (&self.render_service, &self.config.render) {
            (Some(service), Some(config)) => Some(tokio::spawn(crate::render_watch::run(
                self.db.clone(),
                self.blobs.clone(),
                service.clone(),
                config.clone(),
                shutdown.clone(),
            ))),
            _ => None,
        };
        let runnable = runnable(self.render_service.is_some());
        info!(worker = %self.config.worker_id, concurrency = self.config.concurrency, renders = self.render_service.is_some(), "claiming jobs");
        loop {
            let permit = tokio::select! {
                _ = shutdown.cancelled() => break,
                permit = slots.clone().acquire_owned() => permit.expect("semaphore open"),
            };
            let token = random_hex(16);
            let (worker, cap) = (&self.config.worker_id, self.config.account_max_slots);
            match jobs::claim_capped(&self.db, runnable, worker, &token, self.lease_ms(), now_ms(), cap).await {
                Ok(Some(job)) => {
                    let runner = self.clone();
                    let release = release.clone();
                    let span = tracing::info_span!("job", job.id = %job.id, job.kind = job.job_type.as_str(), attempt = job.attempt);
                    running.spawn(
                        async move {
                            runner.run_job(job, release).await;
                            drop(permit);
                        }
                        .instrument(span),
                    );
                    continue;
                }
                Ok(None) => drop(permit),
                Err(e) => {
                    warn!(error = %e, "claim failed");
                    drop(permit);
                }
            }
            while running.try_join_next().is_some() {}
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }
        reaper.abort();
        if let Some(watch) = render_watch {
            watch.abort();
        }
        info!(running = running.len(), grace_ms = self.config.shutdown_grace.as_millis() as u64, "shutting down");
        let drained =
            tokio::time::timeout(self.config.shutdown_grace, async { while running.join_next().await.is_some() {} })
                .await;
        if drained.is_err() {
            release.cancel();
            while running.join_next().await.is_some() {}
        }
        // Render submissions still in flight are handed over or stopped before the process exits.
        self.tasks.close();
        if tokio::time::timeout(SUBMIT_DRAIN, self.tasks.wait()).await.is_err() {
            warn!(in_flight = self.tasks.len(), "render submissions still in flight at exit");
        }
        info!("stopped");
    }

    fn lease_ms(&self) -> i64 {
        self.config.lease.as_millis() as i64
    }

    async fn run_job(&self, job: ClaimedJob, release: CancellationToken) {
        info!("claimed");
        let ctx = match JobCtx::new(
            job.clone(),
            self.db.clone(),
            self.blobs.clone(),
            self.config.clone(),
            self.render_service.clone(),
            self.tasks.clone(),
            &self.workroot,
        ) {
            Ok(ctx) => ctx,
            Err(e) => {
                error!(error = %e, "cannot create a work directory; releasing the job");
                let _ = job.release(&self.db, now_ms()).await;
                return;
            }
        };
        let lost = CancellationToken::new();
        let heartbeat = tokio::spawn(self.clone().heartbeat(job.clone(), lost.clone()));
        // The same deadline the reaper enforces, so the job stops here first and cleans up.
        let limit = Duration::from_millis(job.remaining_ms(now_ms()) as u64);
        let outcome = tokio::select! {
            r = tokio::time::timeout(limit, execute(&ctx)) => match r {
                Ok(result) => Outcome::Finished(result),
                Err(_) => Outcome::TimedOut,
            },
            _ = lost.cancelled() => Outcome::Lost,
            _ = release.cancelled() => Outcome::Released,
        };
        heartbeat.abort();
        let job_id = ctx.job.id.clone();
        self.settle(&ctx, outcome).await;
        drop(ctx);
        // Whatever the outcome, blobs of this attempt that no completed job kept are garbage now.
        if let Err(e) = crate::housekeeping::sweep_dead_blobs(&self.db, &self.blobs, Some(&job_id)).await {
            warn!(job.id = %job_id, error = %e, "could not clean up the attempt's blobs; housekeeping will retry");
        }
    }

    /// Writes the outcome of an attempt (each write fenced) and cleans up after it.
    async fn settle(&self, ctx: &JobCtx, outcome: Outcome) {
        let job = &ctx.job;
        let failure = match outcome {
            Outcome::Finished(Ok(Done::Completed)) => {
                info!(job.id = %job.id, "completed");
                return;
            }
            Outcome::Finished(Ok(Done::HandedOver)) => {
                info!(job.id = %job.id, "handed over to the render service");
                return;
            }
            Outcome::Finished(Err(JobError::Lost)) | Outcome::Lost => {
                info!(job.id = %job.id, "job is no longer ours (cancelled or re-leased); stopped its work");
                return;
            }
            Outcome::Released => {
                match job.release(&self.db, now_ms()).await {
                    Ok(Ownership::Held) => info!(job.id = %job.id, "released for another worker"),
                    Ok(Ownership::Lost) => info!(job.id = %job.id, "job was no longer ours at release"),
                    Err(e) => warn!(job.id = %job.id, error = %e, "release failed; the reaper will recover the lease"),
                }
                return;
            }
            Outcome::TimedOut => JobFailure::timed_out(),
            Outcome::Finished(Err(JobError::Failed(f))) => f,
        };
        warn!(
            job.id = %job.id,
            code = failure.code.as_str(),
            retryable = failure.retryable,
            detail = failure.detail.as_deref().unwrap_or(""),
            "attempt failed"
        );
        match job.fail(&self.db, &failure, jitter(), now_ms()).await {
            Ok(FailOutcome::Failed) => info!(job.id = %job.id, "failed"),
            Ok(FailOutcome::RetryScheduled { run_after_ms }) => {
                info!(job.id = %job.id, run_after_ms, "retry scheduled")
            }
            Ok(FailOutcome::Lost) => info!(job.id = %job.id, "job was no longer ours when failing it"),
            Err(e) => error!(job.id = %job.id, error = %e, "could not record the failure; the reaper will recover it"),
        }
    }

    async fn heartbeat(self, job: ClaimedJob, lost: CancellationToken) {
        loop {
            tokio::time::sleep(self.config.heartbeat_interval).await;
            match job.heartbeat(&self.db, self.lease_ms(), now_ms()).await {
                Ok(Ownership::Held) => {}
                Ok(Ownership::Lost) => {
                    lost.cancel();
                    return;
                }
                Err(e) => warn!(job.id = %job.id, error = %e, "heartbeat failed; will retry"),
            }
        }
    }
}
