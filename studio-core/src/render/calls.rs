//! The reconciler's side of a render on the render service: renders whose webhooks have gone quiet are
//! settled from the service's own status (progress, complete, fail, or resubmit while attempts remain),
//! and renders that ended here while their call may still run (cancelled, failed, timed out) are told
//! to stop, once. Every write is guarded by the hand-over (`HAND_OVER_PREFIX` + call id), so the reconciler and the
//! webhooks can race freely: whichever lands first wins, the other changes nothing.

use serde_json::Value as Json;

use super::events::{self as render_events, COMPLETE_UPDATE_INDEX};
use crate::error_code::ErrorCode;
use crate::hrana::{DbError, HranaClient, HttpTransport, Stmt, Value};
use crate::jobs::backoff;
use crate::jobs::transitions::{self, handed_over_owner_sql, Guard, UPDATE_INDEX};
use crate::render::CallState;

/// A running render held by the render service.
#[derive(Debug, Clone, PartialEq)]
pub struct HandedOver {
    pub job_id: String,
    pub call_id: String,
    pub attempt: i64,
    pub max_attempts: i64,
}

/// What the service's status says to do with a render.
#[derive(Debug, Clone, PartialEq)]
pub enum Settlement {
    /// Queued on the service, not started: only mark the job as heard from.
    Waiting,
    /// Rendering: record its progress (0–1), which also marks the job as heard from.
    Progress(f64),
    /// Finished: the `render.completed` data.
    Complete(Json),
    /// Failed for good with the service's code.
    Fail { code: String, message: String },
    /// The call is not running any more and will not finish (crashed, unknown to the service, stopped
    /// by it): run the job again while attempts remain.
    Resubmit { code: String, message: String },
}

/// The outcome of a status the service reports for a call (`None`: a state the contract does not know).
pub fn settlement_for(status: &str, result: Option<&Json>, error: Option<&Json>, progress: f64) -> Option<Settlement> {
    let text =
        |key: &str, default: &str| error.and_then(|e| e.get(key)).and_then(Json::as_str).unwrap_or(default).to_owned();
    match CallState::parse(status)? {
        CallState::Pending => Some(Settlement::Waiting),
        CallState::Running => Some(Settlement::Progress(progress)),
        CallState::Complete => result.cloned().map(Settlement::Complete),
        CallState::Failed => {
            let code = text("code", ErrorCode::RenderFailed.as_str());
            if ErrorCode::render_failure(&code).is_some_and(ErrorCode::render_retried) {
                Some(Settlement::Resubmit { code, message: text("message", "The render stopped unexpectedly.") })
            } else {
                Some(Settlement::Fail { code, message: text("message", "The render failed.") })
            }
        }
        // Stopped without our asking (we only cancel jobs that are over), or lost by the service.
        CallState::Cancelled | CallState::Unknown => Some(Settlement::Resubmit {
            code: ErrorCode::RenderLost.as_str().into(),
            message: "The render service lost the render; it will be submitted again.".into(),
        }),
    }
}

/// Handed-over renders not heard from (webhook or reconciler) since `now_ms - quiet_ms`, in random order
/// (so renders whose status cannot be read do not hold up the rest).
pub async fn quiet<T: HttpTransport>(
    db: &HranaClient<T>,
    now_ms: i64,
    quiet_ms: i64,
    limit: i64,
) -> Result<Vec<HandedOver>, DbError> {
    let rows = db
        .execute(Stmt::new(
            format!(
                "SELECT id, call_id, attempt, max_attempts FROM jobs WHERE status = 'processing' AND type = 'render' \
                 AND lease_owner = {} AND updated_at < ? ORDER BY random() LIMIT ?",
                handed_over_owner_sql()
            ),
            vec![Value::from(now_ms - quiet_ms), Value::from(limit)],
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(HandedOver {
                job_id: r.text("id")?,
                call_id: r.text("call_id")?,
                attempt: r.int("attempt")?,
                max_attempts: r.int("max_attempts")?,
            })
        })
        .collect()
}

/// Applies a settlement if the render is still handed over to `call_id`; returns whether it moved.
pub async fn settle<T: HttpTransport>(
    db: &HranaClient<T>,
    render: &HandedOver,
    settlement: &Settlement,
    jitter: f64,
    now_ms: i64,
) -> Result<bool, DbError> {
    let guard = Guard::handed_over(&render.job_id, &render.call_id);
    let (stmts, index): (Vec<Stmt>, usize) = match settlement {
        Settlement::Waiting => {
            let mut args = vec![Value::from(now_ms)];
            args.extend(guard.args());
            let touch = Stmt::new(format!("UPDATE jobs SET updated_at = ? WHERE {} RETURNING id", guard.sql()), args);
            (vec![touch], 0)
        }
        Settlement::Progress(fraction) => {
            let data = serde_json::json!({ "progress": fraction, "stage": "rendering" });
            (render_events::progress(&guard, &data, now_ms).into(), UPDATE_INDEX)
        }
        Settlement::Complete(data) => {
            (render_events::complete(&guard, &render.job_id, data, now_ms), COMPLETE_UPDATE_INDEX)
        }
        Settlement::Fail { code, message } => (render_events::fail(&guard, code, message, now_ms).into(), UPDATE_INDEX),
        Settlement::Resubmit { code, message } => {
            let next = backoff::next(render.attempt, render.max_attempts, true, jitter, now_ms);
            (transitions::retry_or_fail(&guard, next, code, message, "retry_scheduled", now_ms).into(), UPDATE_INDEX)
        }
    };
    let outcomes = db.transaction(stmts).await?;
    Ok(!outcomes[index].is_empty())
}

/// A render call that may still run on the service although its job is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenCall {
    pub job_id: String,
    pub call_id: String,
}

/// How long after a job ended its call is still told to stop: past the render timeout, the service has
/// ended it anyway.
pub const STOP_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// Jobs that ended (cancelled, failed, timed out) within [`STOP_WINDOW_MS`] with a call the service has
/// not yet confirmed stopped, in random order (so calls the service fails to stop do not hold up the rest).
pub async fn open_calls<T: HttpTransport>(
    db: &HranaClient<T>,
    now_ms: i64,
    limit: i64,
) -> Result<Vec<OpenCall>, DbError> {
    let rows = db
        .execute(Stmt::new(
            "SELECT id, call_id FROM jobs WHERE status IN ('cancelled', 'failed') AND call_id IS NOT NULL \
             AND call_stopped_at IS NULL AND finished_at > ? ORDER BY random() LIMIT ?",
            vec![Value::from(now_ms - STOP_WINDOW_MS), Value::from(limit)],
        ))
        .await?;
    rows.iter().map(|r| Ok(OpenCall { job_id: r.text("id")?, call_id: r.text("call_id")? })).collect()
}

/// A call the service started for a job that ended before the call could be handed over: it is noted on
/// the job (if the job has no call yet) so the render watcher stops it like any other; `false` if not.
pub async fn record_stray_call<T: HttpTransport>(
    db: &HranaClient<T>,
    job_id: &str,
    call_id: &str,
) -> Result<bool, DbError> {
    let rows = db
        .execute(Stmt::new(
            "UPDATE jobs SET call_id = ? WHERE id = ? AND status IN ('cancelled', 'failed') AND call_id IS NULL \
             RETURNING id",
            vec![Value::from(call_id), Value::from(job_id)],
        ))
        .await?;
    Ok(!rows.is_empty())
}

/// Records that the service stopped (or had already finished) the call.
pub async fn call_stopped<T: HttpTransport>(db: &HranaClient<T>, call: &OpenCall, now_ms: i64) -> Result<(), DbError> {
    db.execute(Stmt::new(
        "UPDATE jobs SET call_stopped_at = ? WHERE id = ? AND call_id = ?",
        vec![Value::from(now_ms), Value::from(call.job_id.as_str()), Value::from(call.call_id.as_str())],
    ))
    .await?;
    Ok(())
}
