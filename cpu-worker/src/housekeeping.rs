//! Housekeeping any worker may run, idempotently, on a timer: the job reaper (expired leases, per-type
//! timeouts) and the upload sweeper, which deletes upload bytes nobody needs any more.

use std::time::Duration;

use studio_core::db::uploads;
use studio_core::jobs::reaper;
use studio_core::keys;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::blobs::BlobClient;
use crate::transport::{jitter, now_ms, Db};

const SWEEP_BATCH: i64 = 50;

pub async fn run(db: Db, blobs: BlobClient, every: Duration, shutdown: CancellationToken) {
    loop {
        match reaper::reap(&db, now_ms(), jitter()).await {
            Ok(r) if r.requeued + r.lease_failed + r.timed_out > 0 => {
                info!(requeued = r.requeued, lease_failed = r.lease_failed, timed_out = r.timed_out, "reaped")
            }
            Ok(_) => {}
            Err(e) => warn!(error = %e, "reaper failed"),
        }
        match sweep_uploads(&db, &blobs).await {
            Ok(0) => {}
            Ok(n) => info!(uploads = n, "swept upload bytes"),
            Err(e) => warn!(error = %e, "upload sweep failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// Deletes the bytes of uploads that were never ingested in time, or whose ingest job has finished.
pub async fn sweep_uploads(db: &Db, blobs: &BlobClient) -> Result<usize, studio_core::hrana::DbError> {
    let mut swept = 0;
    for item in uploads::purgeable(db, now_ms(), SWEEP_BATCH).await? {
        let key = keys::upload_source(&item.upload_id);
        // An unused upload loses its row first, so a racing ingest cannot start on deleted bytes.
        if !item.consumed && !uploads::remove_unused(db, &item.upload_id).await? {
            continue;
        }
        if let Err(e) = blobs.delete(&key).await {
            warn!(upload.id = %item.upload_id, error = %e, "could not delete upload bytes; will retry");
            continue;
        }
        if item.consumed {
            uploads::mark_purged(db, &item.upload_id, now_ms()).await?;
        }
        swept += 1;
    }
    Ok(swept)
}
