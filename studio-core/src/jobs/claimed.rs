//! `ClaimedJob`: the only way a worker may change a job it claimed. Every write is fenced by
//! `id = ? AND claim_token = ? AND status = 'processing'`; zero rows means the job is no longer ours
//! (cancelled, timed out, re-leased) and the worker must stop. State changes go through
//! [`super::transitions`], the one owner of the lifecycle SQL.

use serde_json::Value as Json;

use super::attempt_blobs;
use super::backoff::{self, Next};
use super::model::{JobFailure, JobType};
use super::transitions::{self, Guard, To, DEADLINE_SQL, FENCE_SQL, HAND_OVER_PREFIX, UPDATE_INDEX};
use crate::hrana::{DbError, HranaClient, HttpTransport, Row, Stmt, Value};

/// A job this worker holds under a claim token.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    pub id: String,
    pub job_type: JobType,
    pub input: Json,
    pub attempt: i64,
    pub max_attempts: i64,
    /// When this attempt must be over (ms since the epoch): the job type's timeout from the claim.
    pub deadline_ms: i64,
    /// This claim's number, unique among the job's claims (a render's video URLs are bound to it).
    pub claim_seq: i64,
    /// The account the job belongs to: its blobs go under that account's prefix.
    pub account_id: Option<String>,
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
            deadline_ms: row.int("deadline_ms")?,
            claim_seq: row.int("claim_seq")?,
            account_id: row.opt_text("account_id")?,
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

    /// The claim fence as a transition guard.
    pub(crate) fn guard(&self) -> Guard {
        Guard::claim(&self.id, &self.claim_token)
    }

    /// How long this attempt may still run.
    pub fn remaining_ms(&self, now_ms: i64) -> i64 {
        (self.deadline_ms - now_ms).max(0)
    }

    /// Extends the lease; learns in the same statement whether the job is still ours. Never shortens
    /// it: a heartbeat racing the hand-over to the render service must not undo the longer lease.
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
                format!(
                    "UPDATE jobs SET lease_expires_at = max(coalesce(lease_expires_at, 0), ?), updated_at = ? \
                     WHERE {FENCE_SQL} RETURNING id"
                ),
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

    /// Records that this attempt is about to write blob `key`, so the blob is deleted if the attempt
    /// never completes (whatever ends it, a kill -9 included). `Lost`: do not write.
    pub async fn record_write<T: HttpTransport>(
        &self,
        db: &HranaClient<T>,
        key: &str,
        now_ms: i64,
    ) -> Result<Ownership, DbError> {
        let rows = db.execute(attempt_blobs::record_stmt(self.fence_args(), key, now_ms)).await?;
        Ok(if rows.is_empty() { Ownership::Lost } else { Ownership::Held })
    }

    /// Notes that the recorded blob `key` is being written as multipart upload `upload_id`, so the
    /// upload is aborted if the attempt never completes. `Lost`: abort it now.
    pub async fn record_multipart<T: HttpTransport>(
        &self,
        db: &HranaClient<T>,
        key: &str,
        upload_id: &str,
    ) -> Result<Ownership, DbError> {
        let rows = db.execute(attempt_blobs::upload_stmt(self.fence_args(), key, upload_id)).await?;
        Ok(if rows.is_empty() { Ownership::Lost } else { Ownership::Held })
    }

    /// Completes the job with its result. `effects` are statements that must happen only if the job is
    /// still ours (e.g. recording the asset); they are written with [`FENCE_SQL`] guards and run in the
    /// same transaction, before the job flips to `complete`. The blobs this attempt recorded are kept.
    pub async fn complete<T: HttpTransport>(
        &self,
        db: &HranaClient<T>,
        result: &Json,
        output_key: Option<&str>,
        effects: Vec<Stmt>,
        now_ms: i64,
    ) -> Result<Ownership, DbError> {
        let mut stmts = effects;
        stmts.push(attempt_blobs::keep_stmt(self.fence_args()));
        let base = stmts.len();
        stmts.extend(transitions::transition(
            &self.guard(),
            &To::Complete { result, output_key },
            "completed",
            None,
            now_ms,
        ));
        let outcomes = db.transaction(stmts).await?;
        Ok(if outcomes[base + UPDATE_INDEX].is_empty() { Ownership::Lost } else { Ownership::Held })
    }

    /// Ends this attempt with a failure. A retryable failure with attempts left goes back to `pending`
    /// after the backoff (`jitter` in `[0, 1)`); otherwise the job is `failed`. The event carries the
    /// failure's code and message only: `detail` is for the operator's log.
    pub async fn fail<T: HttpTransport>(
        &self,
        db: &HranaClient<T>,
        failure: &JobFailure,
        jitter: f64,
        now_ms: i64,
    ) -> Result<FailOutcome, DbError> {
        let next = backoff::next(self.attempt, self.max_attempts, failure.retryable, jitter, now_ms);
        let stmts = transitions::retry_or_fail(
            &self.guard(),
            next,
            failure.code.as_str(),
            &failure.message,
            "retry_scheduled",
            now_ms,
        );
        let outcomes = db.transaction(stmts.into()).await?;
        Ok(match (outcomes[UPDATE_INDEX].is_empty(), next) {
            (true, _) => FailOutcome::Lost,
            (false, Next::Retry { run_after_ms }) => FailOutcome::RetryScheduled { run_after_ms },
            (false, Next::Fail) => FailOutcome::Failed,
        })
    }

    /// Gives the job back untouched (shutdown): `pending` again, this attempt not counted.
    pub async fn release<T: HttpTransport>(&self, db: &HranaClient<T>, now_ms: i64) -> Result<Ownership, DbError> {
        let to = To::Pending { run_after_ms: now_ms, failure: None, uncount_attempt: true };
        let outcomes =
            db.transaction(transitions::transition(&self.guard(), &to, "released", None, now_ms).into()).await?;
        Ok(if outcomes[UPDATE_INDEX].is_empty() { Ownership::Lost } else { Ownership::Held })
    }

    /// Hands the running attempt to the render service: the lease becomes the job's deadline and is
    /// owned by `HAND_OVER_PREFIX` + call id; from now on only webhooks carrying `webhook_token` (or the
    /// reconciler) move the job. The claim token becomes the same (the attempt's blob
    /// records follow it), so this worker's own claim is over: a late heartbeat or release of it finds
    /// the job lost instead of undoing the hand-over. `output_key` is where the call writes the video;
    /// it becomes the job's output when the render completes.
    pub async fn hand_over<T: HttpTransport>(
        &self,
        db: &HranaClient<T>,
        call_id: &str,
        webhook_token: &str,
        output_key: &str,
        now_ms: i64,
    ) -> Result<Ownership, DbError> {
        let guard = self.guard();
        let mut blob_args = vec![Value::from(HAND_OVER_PREFIX), Value::from(call_id)];
        blob_args.extend(self.fence_args());
        blob_args.extend(guard.args());
        let blobs = Stmt::new(
            format!(
                "UPDATE attempt_blobs SET claim_token = ? || ? WHERE job_id = ? AND claim_token = ? \
                 AND EXISTS (SELECT 1 FROM jobs WHERE {})",
                guard.sql()
            ),
            blob_args,
        );
        let mut args = vec![
            Value::from(HAND_OVER_PREFIX),
            Value::from(call_id),
            Value::from(HAND_OVER_PREFIX),
            Value::from(call_id),
            Value::from(call_id),
            Value::from(webhook_token),
            Value::from(output_key),
            Value::from(now_ms),
        ];
        args.extend(guard.args());
        let update = Stmt::new(
            format!(
                "UPDATE jobs SET claim_token = ? || ?, lease_owner = ? || ?, call_id = ?, \
                 webhook_token = ?, output_key = ?, lease_expires_at = {DEADLINE_SQL}, updated_at = ? WHERE {} \
                 RETURNING id",
                guard.sql()
            ),
            args,
        );
        let event = transitions::event(&guard, "submitted", None, now_ms);
        let outcomes = db.transaction(vec![event, blobs, update]).await?;
        Ok(if outcomes[2].is_empty() { Ownership::Lost } else { Ownership::Held })
    }
}
