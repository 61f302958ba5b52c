//! `ClaimedJob`: the only way a worker may change a job it claimed. Every write is fenced by
//! `id = ? AND claim_token = ? AND status = 'processing'`; zero rows means the job is no longer ours
//! (cancelled, timed out, re-leased) and the worker must stop.

use serde_json::Value as Json;

use super::backoff::retry_delay_ms;
use super::model::{JobFailure, JobType};
use crate::hrana::{DbError, HranaClient, HttpTransport, Row, Stmt, Value};

/// The fence every worker write carries (three arguments: id, claim token).
pub const FENCE_SQL: &str = "id = ? AND claim_token = ? AND status = 'processing'";

/// A job this worker holds under a claim token.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    pub id: String,
    pub job_type: JobType,
    pub input: Json,
    pub attempt: i64,
    pub max_attempts: i64,
    pub timeout_ms: i64,
    claim_token: String,
}

/// Whether a fenced write took effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    Held,
    /// The job is no longer ours: stop, kill children, write nothing more.
    Lost,
}

/// What `fail` did with the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    Failed,
    RetryScheduled { run_after_ms: i64 },
    Lost,
}

impl ClaimedJob {
    pub(crate) fn from_row(row: &Row<'_>) -> Result<Self, DbError> {
        let job_type = row.text("type")?;
        Ok(ClaimedJob {
            id: row.text("id")?,
            job_type: JobType::parse(&job_type).ok_or_else(|| DbError::Decode(format!("job type {job_type}")))?,
            input: row.opt_json("input")?.unwrap_or(Json::Null),
            attempt: row.int("attempt")?,
            max_attempts: row.int("max_attempts")?,
            timeout_ms: row.int("timeout_ms")?,
            claim_token: row.text("claim_token")?,
        })
    }

    /// A stand-in for a worker that believes it holds the job under `claim_token` — used by tests
    /// that play a stale worker.
    pub fn impersonate(mut self, claim_token: &str) -> Self {
        self.claim_token = claim_token.to_owned();
        self
    }

    /// SQL arguments for [`FENCE_SQL`].
    pub fn fence_args(&self) -> Vec<Value> {
        vec![Value::from(self.id.as_str()), Value::from(self.claim_token.as_str())]
    }

    /// Extends the lease; learns in the same statement whether the job is still ours.
    pub async fn heartbeat<T: HttpTransport>(
        &self,
        db: &HranaClient<T>,
        lease_ms: i64,
        now_ms: i64,
    ) -> Result<Ownership, DbError> {
        let mut args = vec![Value::from(now_ms + lease_ms), Value::from(now_ms)];
        args.extend(self.fence_args());
        let rows = db
            .execute(Stmt::new(
                format!("UPDATE jobs SET lease_expires_at = ?, updated_at = ? WHERE {FENCE_SQL} RETURNING id"),
                args,
            ))
            .await?;
        Ok(if rows.is_empty() { Ownership::Lost } else { Ownership::Held })
    }

    /// Records the current stage and overall progress (0–100); a stage change is logged as an event.
    pub async fn progress<T: HttpTransport>(
        &self,
        db: &HranaClient<T>,
        stage: &str,
        progress: f64,
        now_ms: i64,
    ) -> Result<Ownership, DbError> {
        let mut update_args = vec![Value::from(stage), Value::from(progress.clamp(0.0, 100.0)), Value::from(now_ms)];
        update_args.extend(self.fence_args());
        let mut event_args = vec![Value::from(now_ms), Value::from(stage)];
        event_args.extend(self.fence_args());
        event_args.push(Value::from(stage));
        let outcomes = db
            .transaction(vec![
                // The event first: it only fires when the stage actually changes.
                Stmt::new(
                    format!(
                        "INSERT INTO job_events (job_id, at, kind, attempt, detail) \
                         SELECT id, ?, 'stage', attempt, json_object('stage', ?) FROM jobs \
                         WHERE {FENCE_SQL} AND stage IS NOT ?"
                    ),
                    event_args,
                ),
                Stmt::new(
                    format!("UPDATE jobs SET stage = ?, progress = ?, updated_at = ? WHERE {FENCE_SQL} RETURNING id"),
                    update_args,
                ),
            ])
            .await?;
        Ok(if outcomes[1].is_empty() { Ownership::Lost } else { Ownership::Held })
    }

    /// Completes the job with its result. `effects` are statements that must happen only if the job is
    /// still ours (e.g. recording the asset); they are written with [`FENCE_SQL`] guards and run in the
    /// same transaction, before the job flips to `complete`.
    pub async fn complete<T: HttpTransport>(
        &self,
        db: &HranaClient<T>,
        result: &Json,
        output_key: Option<&str>,
        effects: Vec<Stmt>,
        now_ms: i64,
    ) -> Result<Ownership, DbError> {
        let mut stmts = effects;
        let mut args =
            vec![Value::from(result.to_string()), Value::from(output_key), Value::from(now_ms), Value::from(now_ms)];
        args.extend(self.fence_args());
        stmts.push(Stmt::new(
            format!(
                "UPDATE jobs SET status = 'complete', progress = 100, stage = 'done', result = ?, output_key = ?, \
                 finished_at = ?, updated_at = ?, lease_expires_at = NULL WHERE {FENCE_SQL} RETURNING id"
            ),
            args,
        ));
        let index = stmts.len() - 1;
        stmts.push(self.event_stmt("completed", None, now_ms, "complete"));
        let outcomes = db.transaction(stmts).await?;
        Ok(if outcomes[index].is_empty() { Ownership::Lost } else { Ownership::Held })
    }

    /// Fails this attempt. A retryable failure with attempts left goes back to `pending` after a backoff
    /// (`jitter` in `[0, 1)`); otherwise the job is `failed` with the failure's code and message.
    pub async fn fail<T: HttpTransport>(
        &self,
        db: &HranaClient<T>,
        failure: &JobFailure,
        jitter: f64,
        now_ms: i64,
    ) -> Result<FailOutcome, DbError> {
        let detail = serde_json::json!({
            "code": failure.code.as_str(),
            "message": failure.message,
            "detail": failure.detail,
        });
        if failure.retryable && self.attempt < self.max_attempts {
            let run_after_ms = now_ms + retry_delay_ms(self.attempt, jitter);
            let mut args = vec![
                Value::from(run_after_ms),
                Value::from(failure.code.as_str()),
                Value::from(failure.message.as_str()),
                Value::from(now_ms),
            ];
            args.extend(self.fence_args());
            let event = self.event_stmt("retry_scheduled", Some(&detail), now_ms, "processing");
            let outcomes = db
                .transaction(vec![
                    event,
                    Stmt::new(
                        format!(
                            "UPDATE jobs SET status = 'pending', run_after = ?, error_code = ?, error_message = ?, \
                             updated_at = ?, claim_token = NULL, lease_owner = NULL, lease_expires_at = NULL, \
                             stage = NULL, progress = 0 WHERE {FENCE_SQL} RETURNING id"
                        ),
                        args,
                    ),
                ])
                .await?;
            return Ok(if outcomes[1].is_empty() {
                FailOutcome::Lost
            } else {
                FailOutcome::RetryScheduled { run_after_ms }
            });
        }
        let mut args = vec![
            Value::from(failure.code.as_str()),
            Value::from(failure.message.as_str()),
            Value::from(now_ms),
            Value::from(now_ms),
        ];
        args.extend(self.fence_args());
        let outcomes = db
            .transaction(vec![
                Stmt::new(
                    format!(
                        "UPDATE jobs SET status = 'failed', error_code = ?, error_message = ?, finished_at = ?, \
                         updated_at = ?, lease_expires_at = NULL WHERE {FENCE_SQL} RETURNING id"
                    ),
                    args,
                ),
                self.event_stmt("failed", Some(&detail), now_ms, "failed"),
            ])
            .await?;
        Ok(if outcomes[0].is_empty() { FailOutcome::Lost } else { FailOutcome::Failed })
    }

    /// Gives the job back untouched (shutdown): `pending` again, this attempt not counted.
    pub async fn release<T: HttpTransport>(&self, db: &HranaClient<T>, now_ms: i64) -> Result<Ownership, DbError> {
        let mut args = vec![Value::from(now_ms), Value::from(now_ms)];
        args.extend(self.fence_args());
        let event = self.event_stmt("released", None, now_ms, "processing");
        let outcomes = db
            .transaction(vec![
                event,
                Stmt::new(
                    format!(
                        "UPDATE jobs SET status = 'pending', attempt = attempt - 1, run_after = ?, updated_at = ?, \
                         claim_token = NULL, lease_owner = NULL, lease_expires_at = NULL, stage = NULL, progress = 0 \
                         WHERE {FENCE_SQL} RETURNING id"
                    ),
                    args,
                ),
            ])
            .await?;
        Ok(if outcomes[1].is_empty() { Ownership::Lost } else { Ownership::Held })
    }

    /// An event row guarded by the claim token and the status the job must have at that point.
    fn event_stmt(&self, kind: &str, detail: Option<&Json>, now_ms: i64, status: &str) -> Stmt {
        let mut args = vec![Value::from(now_ms), Value::from(kind), Value::from(detail.map(|d| d.to_string()))];
        args.extend(self.fence_args());
        args.push(Value::from(status));
        Stmt::new(
            "INSERT INTO job_events (job_id, at, kind, attempt, detail) \
             SELECT id, ?, ?, attempt, ? FROM jobs WHERE id = ? AND claim_token = ? AND status = ?",
            args,
        )
    }
}
