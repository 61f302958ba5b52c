//! Housekeeping any worker may run, idempotently, on a timer: the job reaper (expired leases, per-type
//! timeouts), the sweeper of blobs written by attempts that are over (failed, cancelled, re-leased,
//! killed), the upload sweeper, which deletes upload bytes nobody needs any more, the expiry of unused
//! assets and old previews, the sweeper of retired blobs (deleted once no render reads them), and the
//! pruning of old webhook receipts and idempotency keys.

use std::time::Duration;

use studio_core::jobs::{attempt_blobs, reaper};
use studio_core::library::{retention, retired};
use studio_core::render::events as render_events;
use studio_core::uploads;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::blobs::BlobClient;
use crate::transport::{jitter, now_ms, Db};

const SWEEP_BATCH: i64 = 50;

pub async fn run(
    db: Db,
    blobs: BlobClient,
    every: Duration,
    asset_unused_after: Duration,
    shutdown: CancellationToken,
) {
    loop {
        match reaper::reap(&db, now_ms(), jitter()).await {
            Ok(r) if r.requeued + r.lease_failed + r.timed_out > 0 => {
                info!(requeued = r.requeued, lease_failed = r.lease_failed, timed_out = r.timed_out, "reaped")
            }
            Ok(_) => {}
            Err(e) => warn!(error = %e, "reaper failed"),
        }
        match sweep_dead_blobs(&db, &blobs, None).await {
            Ok(DeadBlobSweep { swept: 0, .. }) => {}
            Ok(sweep) => info!(blobs = sweep.swept, "deleted blobs of attempts that did not complete"),
            Err(e) => warn!(error = %e, "attempt blob sweep failed"),
        }
        if let Err(e) = render_events::prune_receipts(&db, now_ms()).await {
            warn!(error = %e, "webhook receipt pruning failed");
        }
        if let Err(e) = studio_core::accounts::idempotency::prune(&db, now_ms()).await {
            warn!(error = %e, "idempotency key pruning failed");
        }
        match sweep_uploads(&db, &blobs).await {
            Ok(0) => {}
            Ok(n) => info!(uploads = n, "swept upload bytes"),
            Err(e) => warn!(error = %e, "upload sweep failed"),
        }
        expire(&db, asset_unused_after).await;
        match sweep_retired(&db, &blobs).await {
            Ok(0) => {}
            Ok(n) => info!(blobs = n, "deleted retired blobs"),
            Err(e) => warn!(error = %e, "retired blob sweep failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// What a sweep of dead attempts' blobs did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeadBlobSweep {
    /// Blobs deleted for the first time.
    pub swept: usize,
    /// Blobs (or multipart uploads) that could not be removed this time; retried at the next sweep.
    pub failed: usize,
}

/// Deletes the blobs written by attempts that are over without completing (only `job_id`'s when given),
/// aborting first the multipart upload an attempt opened for one.
pub async fn sweep_dead_blobs(
    db: &Db,
    blobs: &BlobClient,
    job_id: Option<&str>,
) -> Result<DeadBlobSweep, studio_core::hrana::DbError> {
    let mut sweep = DeadBlobSweep::default();
    for blob in attempt_blobs::dead(db, job_id, now_ms(), SWEEP_BATCH).await? {
        if let Some(upload_id) = &blob.upload_id {
            if let Err(e) = blobs.abort_multipart(&blob.key, upload_id).await {
                warn!(key = blob.key, error = %e, "could not abort a dead attempt's multipart upload; will retry");
                sweep.failed += 1;
                continue;
            }
        }
        if let Err(e) = blobs.delete(&blob.key).await {
            warn!(key = blob.key, error = %e, "could not delete a dead attempt's blob; will retry");
            sweep.failed += 1;
            continue;
        }
        attempt_blobs::swept(db, &blob, now_ms()).await?;
        sweep.swept += usize::from(!blob.last_pass);
    }
    Ok(sweep)
}

/// Removes assets unused for `asset_unused_after` and previews past their time (their blobs retired).
async fn expire(db: &Db, asset_unused_after: Duration) {
    match retention::expire_unused_assets(db, now_ms(), asset_unused_after.as_millis() as i64, SWEEP_BATCH).await {
        Ok(ids) if !ids.is_empty() => info!(assets = ?ids, "removed assets unused for too long"),
        Ok(_) => {}
        Err(e) => warn!(error = %e, "unused asset expiry failed"),
    }
    match retention::expire_previews(db, now_ms()).await {
        Ok(0) => {}
        Ok(n) => info!(previews = n, "removed old previews"),
        Err(e) => warn!(error = %e, "preview expiry failed"),
    }
}

/// Deletes retired blobs nothing needs any more, and forgets them.
pub async fn sweep_retired(db: &Db, blobs: &BlobClient) -> Result<usize, studio_core::hrana::DbError> {
    let mut deleted = Vec::new();
    for key in retired::free(db, now_ms(), SWEEP_BATCH).await? {
        match blobs.delete(&key).await {
            Ok(()) => deleted.push(key),
            Err(e) => warn!(key, error = %e, "could not delete a retired blob; will retry"),
        }
    }
    retired::forget(db, &deleted).await?;
    Ok(deleted.len())
}

/// Deletes the bytes of uploads that were never ingested in time, or whose ingest job has finished.
pub async fn sweep_uploads(db: &Db, blobs: &BlobClient) -> Result<usize, studio_core::hrana::DbError> {
    let mut swept = 0;
    for item in uploads::purgeable(db, now_ms(), SWEEP_BATCH).await? {
        // An unused upload is withdrawn first, so a racing PUT or ingest cannot start on deleted bytes;
        // its row stays (and is listed again) until every key is gone.
        if !item.consumed && !uploads::withdraw(db, &item.upload_id, now_ms()).await? {
            continue;
        }
        if let Some((key, upload_id)) = &item.multipart {
            // Parts of an upload never completed are invisible garbage until the upload is aborted.
            if let Err(e) = blobs.abort_multipart(key, upload_id).await {
                warn!(upload.id = %item.upload_id, error = %e, "could not abort an upload's parts; will retry");
                continue;
            }
        }
        let mut deleted = true;
        for key in &item.keys {
            if let Err(e) = blobs.delete(key).await {
                warn!(upload.id = %item.upload_id, error = %e, "could not delete upload bytes; will retry");
                deleted = false;
            }
        }
        if !deleted {
            continue;
        }
        if item.consumed {
            uploads::mark_purged(db, &item.upload_id, now_ms()).await?;
        } else {
            uploads::remove_withdrawn(db, &item.upload_id).await?;
        }
        swept += 1;
    }
    Ok(swept)
}
