//! The reaper: idempotent housekeeping any worker may run. Attempts past their deadline fail with
//! `timeout`; expired leases go back to `pending` on the retry schedule while attempts remain, else
//! `failed` with `lease_expired`. The transitions themselves are [`super::transitions`]'s.

use super::backoff::{self, Next};
use super::model::TIMEOUT_MESSAGE;
use super::transitions::{self, failure_detail, Guard, To, UPDATE_INDEX};
use crate::error_code::ErrorCode;
use crate::hrana::{DbError, HranaClient, HttpTransport, Stmt, Value};

const LEASE_MESSAGE: &str = "The worker running this job stopped responding.";

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReapReport {
    pub requeued: u64,
    pub lease_failed: u64,
    pub timed_out: u64,
}

pub async fn reap<T: HttpTransport>(db: &HranaClient<T>, now_ms: i64, jitter: f64) -> Result<ReapReport, DbError> {
    let mut report = ReapReport::default();
    let timeout = ErrorCode::Timeout.as_str();
    let timed_out = db
        .transaction(
            transitions::transition(
                &Guard::past_deadline(now_ms),
                &To::Failed { code: timeout, message: TIMEOUT_MESSAGE },
                "failed",
                Some(&failure_detail(timeout, TIMEOUT_MESSAGE)),
                now_ms,
            )
            .into(),
        )
        .await?;
    report.timed_out = timed_out[UPDATE_INDEX].len() as u64;

    let expired = db
        .execute(Stmt::new(
            "SELECT id, claim_token, attempt, max_attempts FROM jobs \
             WHERE status = 'processing' AND lease_expires_at < ?",
            vec![Value::from(now_ms)],
        ))
        .await?;
    let lease_expired = ErrorCode::LeaseExpired.as_str();
    for row in expired.iter() {
        let guard = Guard::expired_lease(&row.text("id")?, &row.text("claim_token")?, now_ms);
        let next = backoff::next(row.int("attempt")?, row.int("max_attempts")?, true, jitter, now_ms);
        let stmts =
            transitions::retry_or_fail(&guard, next, lease_expired, LEASE_MESSAGE, "lease_expired_retry", now_ms);
        let outcome = db.transaction(stmts.into()).await?;
        if !outcome[UPDATE_INDEX].is_empty() {
            match next {
                Next::Retry { .. } => report.requeued += 1,
                Next::Fail => report.lease_failed += 1,
            }
        }
    }
    Ok(report)
}
