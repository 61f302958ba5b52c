//! The reaper: idempotent housekeeping any worker may run. Expired leases go back to `pending` (with
//! backoff) while attempts remain, else `failed` with `lease_expired`; attempts past their type's
//! wall-clock timeout fail with `timeout`.

use super::backoff::retry_delay_ms;
use crate::hrana::{DbError, HranaClient, HttpTransport, Stmt, Value};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReapReport {
    pub requeued: u64,
    pub lease_failed: u64,
    pub timed_out: u64,
}

pub async fn reap<T: HttpTransport>(db: &HranaClient<T>, now_ms: i64, jitter: f64) -> Result<ReapReport, DbError> {
    let mut report = ReapReport::default();
    let timed_out = db
        .transaction(vec![
            Stmt::new(
                "INSERT INTO job_events (job_id, at, kind, attempt, detail) \
                 SELECT id, ?, 'failed', attempt, json_object('code', 'timeout') FROM jobs \
                 WHERE status = 'processing' AND started_at + timeout_ms < ?",
                vec![Value::from(now_ms), Value::from(now_ms)],
            ),
            Stmt::new(
                "UPDATE jobs SET status = 'failed', error_code = 'timeout', \
                 error_message = 'The job ran past its time limit.', finished_at = ?, updated_at = ?, \
                 lease_expires_at = NULL WHERE status = 'processing' AND started_at + timeout_ms < ? RETURNING id",
                vec![Value::from(now_ms), Value::from(now_ms), Value::from(now_ms)],
            ),
        ])
        .await?;
    report.timed_out = timed_out[1].len() as u64;

    let expired = db
        .execute(Stmt::new(
            "SELECT id, claim_token, attempt, max_attempts FROM jobs \
             WHERE status = 'processing' AND lease_expires_at < ?",
            vec![Value::from(now_ms)],
        ))
        .await?;
    for row in expired.iter() {
        let (id, token) = (row.text("id")?, row.text("claim_token")?);
        let (attempt, max_attempts) = (row.int("attempt")?, row.int("max_attempts")?);
        let fence = vec![Value::from(id.as_str()), Value::from(token.as_str()), Value::from(now_ms)];
        let fence_sql = "id = ? AND claim_token = ? AND status = 'processing' AND lease_expires_at < ?";
        let (kind, update, args) = if attempt < max_attempts {
            let run_after = now_ms + retry_delay_ms(attempt, jitter);
            (
                "lease_expired_retry",
                format!(
                    "UPDATE jobs SET status = 'pending', run_after = ?, claim_token = NULL, lease_owner = NULL, \
                     lease_expires_at = NULL, stage = NULL, progress = 0, updated_at = ? WHERE {fence_sql} RETURNING id"
                ),
                vec![Value::from(run_after), Value::from(now_ms)],
            )
        } else {
            (
                "failed",
                format!(
                    "UPDATE jobs SET status = 'failed', error_code = 'lease_expired', \
                     error_message = 'The worker running this job stopped responding.', finished_at = ?, \
                     updated_at = ?, lease_expires_at = NULL WHERE {fence_sql} RETURNING id"
                ),
                vec![Value::from(now_ms), Value::from(now_ms)],
            )
        };
        let mut event_args = vec![Value::from(now_ms), Value::from(kind)];
        event_args.extend(fence.clone());
        let mut update_args = args;
        update_args.extend(fence);
        let outcome = db
            .transaction(vec![
                Stmt::new(
                    format!(
                        "INSERT INTO job_events (job_id, at, kind, attempt, detail) \
                         SELECT id, ?, ?, attempt, json_object('code', 'lease_expired') FROM jobs WHERE {fence_sql}"
                    ),
                    event_args,
                ),
                Stmt::new(update, update_args),
            ])
            .await?;
        if !outcome[1].is_empty() {
            if attempt < max_attempts {
                report.requeued += 1;
            } else {
                report.lease_failed += 1;
            }
        }
    }
    Ok(report)
}
