//! What a creator may see of a job's callback (`GET /api/jobs/{id}/deliveries`): its state and every
//! attempt, never the URL or the payload.

use serde::Serialize;

use crate::hrana::{DbError, Rows, Stmt, Value};

/// One job's callback as its owner sees it (never the URL, never the payload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    pub callback_id: String,
    pub event: String,
    pub status: String,
    pub attempt_count: i64,
    /// When the next attempt is due; only while pending.
    pub next_attempt_at: Option<i64>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    pub attempts: Vec<AttemptView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    pub attempt: i64,
    pub at: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// The job's callback and its attempts, oldest first, if `callbacks.account_id = (owner_sql)`:
/// `owner_sql` is an SQL expression yielding the caller's account id, whose `?` take `owner_args`.
pub fn deliveries_stmt(job_id: &str, owner_sql: &str, owner_args: Vec<Value>) -> Stmt {
    let mut args = vec![Value::from(job_id)];
    args.extend(owner_args);
    Stmt::new(
        format!(
            "SELECT c.id AS callback_id, c.event_type, c.status, c.attempts, c.next_attempt_at, c.created_at, \
               c.finished_at, a.attempt, a.at, a.status_code, a.error, a.duration_ms \
             FROM callbacks c LEFT JOIN callback_attempts a ON a.callback_id = c.id \
             WHERE c.job_id = ? AND c.account_id = ({owner_sql}) ORDER BY a.id"
        ),
        args,
    )
}

/// Reads [`deliveries_stmt`]'s rows: empty when the job has no callback (or is not the caller's).
pub fn deliveries_from_rows(rows: &Rows) -> Result<Vec<DeliveryView>, DbError> {
    let mut views: Vec<DeliveryView> = Vec::new();
    for r in rows.iter() {
        let callback_id = r.text("callback_id")?;
        if views.last().map(|v| v.callback_id.as_str()) != Some(callback_id.as_str()) {
            let status = r.text("status")?;
            views.push(DeliveryView {
                callback_id,
                event: r.text("event_type")?,
                attempt_count: r.int("attempts")?,
                next_attempt_at: if status == "pending" { Some(r.int("next_attempt_at")?) } else { None },
                status,
                created_at: r.int("created_at")?,
                finished_at: r.opt_int("finished_at")?,
                attempts: Vec::new(),
            });
        }
        if let Some(attempt) = r.opt_int("attempt")? {
            let view = views.last_mut().expect("pushed above");
            view.attempts.push(AttemptView {
                attempt,
                at: r.int("at")?,
                status_code: r.opt_int("status_code")?,
                error: r.opt_text("error")?,
                duration_ms: r.int("duration_ms")?,
            });
        }
    }
    Ok(views)
}
