//! Blobs an attempt writes, recorded (fenced by its claim) *before* each write. Completing the job
//! removes its attempt's records in the same transaction, handing the blobs to what the job created.
//! Every other record belongs to an attempt that is over — failed, cancelled, timed out, re-leased or
//! killed — and its blob is garbage: [`dead`] finds them for the sweeper, whatever killed the attempt.

use super::claimed::ClaimedJob;
use super::transitions::FENCE_SQL;
use crate::hrana::{DbError, HranaClient, HttpTransport, Stmt, Value};

/// Records `key` for the attempt holding the claim; no row (the job is no longer ours) means: do not write.
pub(crate) fn record_stmt(job: &ClaimedJob, key: &str, now_ms: i64) -> Stmt {
    let mut args = vec![Value::from(key), Value::from(now_ms)];
    args.extend(job.fence_args());
    Stmt::new(
        format!(
            "INSERT INTO attempt_blobs (key, job_id, claim_token, created_at) \
             SELECT ?, id, claim_token, ? FROM jobs WHERE {FENCE_SQL} \
             ON CONFLICT (key) DO UPDATE SET job_id = excluded.job_id, claim_token = excluded.claim_token \
             RETURNING key"
        ),
        args,
    )
}

/// Forgets the attempt's records while it still holds the claim (part of completing the job).
pub(crate) fn keep_stmt(job: &ClaimedJob) -> Stmt {
    let mut args = job.fence_args();
    args.extend(job.fence_args());
    Stmt::new(
        format!(
            "DELETE FROM attempt_blobs WHERE job_id = ? AND claim_token = ? \
             AND EXISTS (SELECT 1 FROM jobs WHERE {FENCE_SQL})"
        ),
        args,
    )
}

/// Keys written by attempts that are over, oldest first; only `job_id`'s when given.
pub async fn dead<T: HttpTransport>(
    db: &HranaClient<T>,
    job_id: Option<&str>,
    limit: i64,
) -> Result<Vec<String>, DbError> {
    let rows = db
        .execute(Stmt::new(
            "SELECT b.key FROM attempt_blobs b WHERE (? IS NULL OR b.job_id = ?) AND NOT EXISTS ( \
               SELECT 1 FROM jobs j WHERE j.id = b.job_id AND j.claim_token = b.claim_token \
               AND j.status = 'processing') \
             ORDER BY b.created_at LIMIT ?",
            vec![Value::from(job_id), Value::from(job_id), Value::from(limit)],
        ))
        .await?;
    rows.iter().map(|r| r.text("key")).collect()
}

/// Drops the record of a dead attempt's blob once the blob is deleted. A record that a live attempt
/// took over meanwhile is kept.
pub async fn forget<T: HttpTransport>(db: &HranaClient<T>, key: &str) -> Result<(), DbError> {
    db.execute(Stmt::new(
        "DELETE FROM attempt_blobs WHERE key = ? AND NOT EXISTS ( \
           SELECT 1 FROM jobs j WHERE j.id = attempt_blobs.job_id AND j.claim_token = attempt_blobs.claim_token \
           AND j.status = 'processing')",
        vec![Value::from(key)],
    ))
    .await?;
    Ok(())
}
