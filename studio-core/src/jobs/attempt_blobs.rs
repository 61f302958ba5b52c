//! Blobs an attempt writes, recorded (fenced by its claim) *before* each write. Completing the job
//! removes its attempt's records in the same transaction, handing the blobs to what the job created.
//! Every other record belongs to an attempt that is over — failed, cancelled, timed out, re-leased or
//! killed — and its blob is garbage: [`dead`] finds them for the sweeper, whatever killed the attempt.
//! A worker that lost its claim may still be streaming a write when the sweeper first deletes the blob
//! (it notices the loss at its next heartbeat), so the sweeper deletes each blob twice: at once, and
//! again after [`LATE_WRITE_GRACE_MS`]; only then is the record forgotten.

use super::transitions::FENCE_SQL;
use crate::hrana::{DbError, HranaClient, HttpTransport, Stmt, Value};
use crate::limits::MACHINE_URL_TTL_MS;

/// How long a dead attempt's write may still land: its signed PUT URL lives at most
/// `MACHINE_URL_TTL_MS`, and a transfer that started before expiry gets as long again.
pub const LATE_WRITE_GRACE_MS: i64 = 2 * MACHINE_URL_TTL_MS;

/// A blob of a dead attempt, and whether this is the final deletion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadBlob {
    pub key: String,
    /// The multipart upload the attempt opened for the key, to abort before deleting it.
    pub upload_id: Option<String>,
    /// Deleted once already, longer than the grace period ago: delete again, then forget the record.
    pub last_pass: bool,
}

/// Records `key` for the attempt holding the claim (`fence`: the [`FENCE_SQL`] arguments); no row (the
/// job is no longer ours) means: do not write.
pub(crate) fn record_stmt(fence: Vec<Value>, key: &str, now_ms: i64) -> Stmt {
    let mut args = vec![Value::from(key), Value::from(now_ms)];
    args.extend(fence);
    Stmt::new(
        format!(
            "INSERT INTO attempt_blobs (key, job_id, claim_token, created_at) \
             SELECT ?, id, claim_token, ? FROM jobs WHERE {FENCE_SQL} \
             ON CONFLICT (key) DO UPDATE SET job_id = excluded.job_id, claim_token = excluded.claim_token, \
               upload_id = NULL, swept_at = NULL \
             RETURNING key"
        ),
        args,
    )
}

/// Notes the multipart upload the attempt opened for its recorded `key` (fenced like the record).
pub(crate) fn upload_stmt(fence: Vec<Value>, key: &str, upload_id: &str) -> Stmt {
    let mut args = vec![Value::from(upload_id), Value::from(key)];
    args.extend(fence);
    Stmt::new(
        format!(
            "UPDATE attempt_blobs SET upload_id = ? WHERE key = ? AND (job_id, claim_token) IN \
             (SELECT id, claim_token FROM jobs WHERE {FENCE_SQL}) RETURNING key"
        ),
        args,
    )
}

/// Forgets the attempt's records while it still holds the claim (part of completing the job).
pub(crate) fn keep_stmt(fence: Vec<Value>) -> Stmt {
    let mut args = fence.clone();
    args.extend(fence);
    Stmt::new(
        format!(
            "DELETE FROM attempt_blobs WHERE job_id = ? AND claim_token = ? \
             AND EXISTS (SELECT 1 FROM jobs WHERE {FENCE_SQL})"
        ),
        args,
    )
}

/// Blobs written by attempts that are over and due for a deletion pass (first, or final after the
/// grace period); only `job_id`'s when given. Order is random, so blobs whose deletion keeps failing
/// cannot hold up the rest.
pub async fn dead<T: HttpTransport>(
    db: &HranaClient<T>,
    job_id: Option<&str>,
    now_ms: i64,
    limit: i64,
) -> Result<Vec<DeadBlob>, DbError> {
    let rows = db
        .execute(Stmt::new(
            "SELECT b.key, b.upload_id, b.swept_at IS NOT NULL AS last_pass FROM attempt_blobs b \
             WHERE (? IS NULL OR b.job_id = ?) AND (b.swept_at IS NULL OR b.swept_at < ?) AND NOT EXISTS ( \
               SELECT 1 FROM jobs j WHERE j.id = b.job_id AND j.claim_token = b.claim_token \
               AND j.status = 'processing') \
             ORDER BY random() LIMIT ?",
            vec![
                Value::from(job_id),
                Value::from(job_id),
                Value::from(now_ms - LATE_WRITE_GRACE_MS),
                Value::from(limit),
            ],
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(DeadBlob {
                key: r.text("key")?,
                upload_id: r.opt_text("upload_id")?,
                last_pass: r.int("last_pass")? != 0,
            })
        })
        .collect()
}

/// Records a deletion pass over a dead attempt's blob: the first marks it swept, the last forgets it.
/// A record that a live attempt took over meanwhile is left alone.
pub async fn swept<T: HttpTransport>(db: &HranaClient<T>, blob: &DeadBlob, now_ms: i64) -> Result<(), DbError> {
    let dead = "NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = attempt_blobs.job_id \
                AND j.claim_token = attempt_blobs.claim_token AND j.status = 'processing')";
    let stmt = if blob.last_pass {
        Stmt::new(format!("DELETE FROM attempt_blobs WHERE key = ? AND {dead}"), vec![Value::from(blob.key.as_str())])
    } else {
        Stmt::new(
            format!("UPDATE attempt_blobs SET swept_at = ? WHERE key = ? AND swept_at IS NULL AND {dead}"),
            vec![Value::from(now_ms), Value::from(blob.key.as_str())],
        )
    };
    db.execute(stmt).await?;
    Ok(())
}
