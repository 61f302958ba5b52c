//! Watches the renders this system handed to the render service (any worker with a render service
//! configured may run it; every write is guarded, so several may): renders whose webhooks went quiet
//! are settled from the service's `/status`, and renders whose job ended here (cancelled, failed,
//! timed out) are stopped through `/cancel`, once.

use std::time::Duration;

use studio_core::hrana::DbError;
use studio_core::render::calls::{self as render_calls, Settlement};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::blobs::BlobClient;
use crate::config::RenderConfig;
use crate::render_service::RenderService;
use crate::transport::{jitter, now_ms, Db};

const BATCH: i64 = 20;

pub async fn run(db: Db, blobs: BlobClient, service: RenderService, config: RenderConfig, shutdown: CancellationToken) {
    loop {
        if let Err(e) = stop_ended_calls(&db, &blobs, &service).await {
            warn!(error = %e, "could not look for renders to stop");
        }
        if let Err(e) = reconcile_quiet(&db, &blobs, &service, config.quiet_after).await {
            warn!(error = %e, "could not reconcile quiet renders");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(config.reconcile_interval) => {}
        }
    }
}

/// Tells the service to stop the calls of jobs that are over, then clears what their attempt began to
/// write; returns how many calls it confirmed stopped.
pub async fn stop_ended_calls(db: &Db, blobs: &BlobClient, service: &RenderService) -> Result<usize, DbError> {
    let mut stopped = 0;
    for call in render_calls::open_calls(db, now_ms(), BATCH).await? {
        match service.cancel(&call.call_id).await {
            Ok(()) => {
                render_calls::call_stopped(db, &call, now_ms()).await?;
                info!(job.id = %call.job_id, call.id = %call.call_id, "render call stopped");
                sweep(db, blobs, &call.job_id).await;
                stopped += 1;
            }
            Err(e) => warn!(job.id = %call.job_id, error = %e, "could not stop a render call; will retry"),
        }
    }
    Ok(stopped)
}

/// Settles handed-over renders not heard from within `quiet_after` from the service's status; returns
/// how many moved.
pub async fn reconcile_quiet(
    db: &Db,
    blobs: &BlobClient,
    service: &RenderService,
    quiet_after: Duration,
) -> Result<usize, DbError> {
    let mut moved = 0;
    for render in render_calls::quiet(db, now_ms(), quiet_after.as_millis() as i64, BATCH).await? {
        let status = match service.status(&render.call_id).await {
            Ok(status) => status,
            Err(e) => {
                warn!(job.id = %render.job_id, error = %e, "could not ask the render service; will retry");
                continue;
            }
        };
        let Some(settlement) = render_calls::settlement_for(
            &status.status,
            status.result.as_ref(),
            status.error.as_ref(),
            status.progress,
        ) else {
            warn!(job.id = %render.job_id, status = %status.status, "the render service reported an unknown state");
            continue;
        };
        if render_calls::settle(db, &render, &settlement, jitter(), now_ms()).await? {
            let outcome = match &settlement {
                Settlement::Waiting => "waiting",
                Settlement::Progress(_) => "progress",
                Settlement::Complete(_) => "complete",
                Settlement::Fail { .. } => "failed",
                Settlement::Resubmit { .. } => "resubmit",
            };
            info!(job.id = %render.job_id, call.id = %render.call_id, outcome, "reconciled a quiet render");
            if matches!(settlement, Settlement::Fail { .. } | Settlement::Resubmit { .. }) {
                sweep(db, blobs, &render.job_id).await;
            }
            moved += 1;
        }
    }
    Ok(moved)
}

/// What the job's ended attempt began to write (an open multipart upload, a video) goes now, not at the
/// next housekeeping round — before a resubmitted attempt records the same key.
async fn sweep(db: &Db, blobs: &BlobClient, job_id: &str) {
    if let Err(e) = crate::housekeeping::sweep_dead_blobs(db, blobs, Some(job_id)).await {
        warn!(job.id = %job_id, error = %e, "could not clean up the render's blobs; housekeeping will retry");
    }
}
