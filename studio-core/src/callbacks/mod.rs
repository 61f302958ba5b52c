//! Creator callbacks: the outbox the `jobs_callback_outbox` trigger fills when a job with a
//! `callbackUrl` reaches a final state, read and settled here; the worker (`cpu-worker/src/callbacks.rs`)
//! does the HTTP. The retry schedule is written once ([`next_attempt_delay_ms`]), every attempt is
//! recorded, and what a creator may see of it (`GET /api/jobs/{id}/deliveries`) never includes the URL
//! or the payload.

use serde_json::{json, Value as Json};

use crate::hrana::{DbError, HranaClient, HttpTransport, Stmt, Value};
use crate::redact::{scrub, Secret};

mod deliveries;
pub use deliveries::{deliveries_from_rows, deliveries_stmt, AttemptView, DeliveryView};

/// Waits after each failed attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 6 h. With the first attempt
/// made at once that is [`MAX_ATTEMPTS`] attempts, the last about 23.6 h after the first.
const RETRY_DELAYS_MS: [i64; 7] =
    [5_000, 5 * 60_000, 30 * 60_000, 2 * 3_600_000, 5 * 3_600_000, 10 * 3_600_000, 6 * 3_600_000];

/// Attempts made before a callback is given up.
pub const MAX_ATTEMPTS: i64 = RETRY_DELAYS_MS.len() as i64 + 1;

/// Longest error text stored for an attempt.
const MAX_ERROR_CHARS: usize = 200;

/// How long to wait before the next attempt once `attempts_made` attempts have failed (0 before the
/// first: at once); `None` when the schedule is spent. `scale` multiplies every wait (1.0 in production,
/// tiny in tests).
pub fn next_attempt_delay_ms(attempts_made: i64, scale: f64) -> Option<i64> {
    let delay = match attempts_made {
        n if n < 1 => 0,
        n => *RETRY_DELAYS_MS.get(usize::try_from(n - 1).ok()?)?,
    };
    Some((delay as f64 * scale).round().max(0.0) as i64)
}

/// Which final state the callback announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackEvent {
    Completed,
    Failed,
    Cancelled,
}

impl CallbackEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackEvent::Completed => "job.completed",
            CallbackEvent::Failed => "job.failed",
            CallbackEvent::Cancelled => "job.cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Completed, Self::Failed, Self::Cancelled].into_iter().find(|e| e.as_str() == s)
    }
}

/// A claimed callback with what it takes to build and sign its message. `Debug` prints neither the
/// URL (a creator may put a token in it) nor the secrets.
#[derive(Clone)]
pub struct DueCallback {
    /// `msg_…`: the `webhook-id`, the same on every attempt.
    pub id: String,
    pub job_id: String,
    pub account_id: String,
    pub event: CallbackEvent,
    pub url: String,
    /// This attempt's number (1 for the first).
    pub attempt: i64,
    pub job_type: String,
    pub job_status: String,
    pub result: Option<Json>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub output_key: Option<String>,
    /// The account's webhook secret (`None` if the account is gone).
    pub secret: Option<Secret>,
    /// The secret before the last rotation, while it is still honoured.
    pub previous_secret: Option<Secret>,
}

impl std::fmt::Debug for DueCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DueCallback")
            .field("id", &self.id)
            .field("job_id", &self.job_id)
            .field("account_id", &self.account_id)
            .field("event", &self.event)
            .field("attempt", &self.attempt)
            .field("job_type", &self.job_type)
            .field("job_status", &self.job_status)
            .finish_non_exhaustive()
    }
}

/// The due callback that waited longest (with attempts left).
fn due_sql() -> String {
    format!(
        "SELECT id FROM callbacks WHERE status = 'pending' AND next_attempt_at <= ? \
         AND (lease_until IS NULL OR lease_until < ?) AND attempts < {MAX_ATTEMPTS} ORDER BY next_attempt_at, id LIMIT 1"
    )
}

/// Leases the callback that is due longest, counting the attempt about to be made (one round trip).
/// A worker that dies mid-delivery leaves a lease that runs out after `lease_ms`; the callback is then
/// due again.
pub async fn claim_due<T: HttpTransport>(
    db: &HranaClient<T>,
    now_ms: i64,
    lease_ms: i64,
) -> Result<Option<DueCallback>, DbError> {
    let now = Value::from(now_ms);
    // Both statements pick the same row: the transaction holds the write lock and the order is total.
    let outcomes = db
        .transaction(vec![
            // Attempts whose outcome was never recorded (a worker died mid-delivery) still count: a
            // callback whose attempts are spent and whose last lease ran out has failed.
            Stmt::new(
                "UPDATE callbacks SET status = 'failed', finished_at = ?, lease_until = NULL \
                 WHERE status = 'pending' AND attempts >= ? AND (lease_until IS NULL OR lease_until < ?)",
                vec![now.clone(), Value::from(MAX_ATTEMPTS), now.clone()],
            ),
            Stmt::new(
                format!(
                    "SELECT c.id, c.job_id, c.account_id, c.event_type, c.url, j.type AS job_type, \
                       j.status AS job_status, j.result, j.error_code, j.error_message, j.output_key, \
                       a.webhook_secret, CASE WHEN a.previous_secret_until > ? \
                         THEN a.previous_webhook_secret END AS previous_secret \
                     FROM callbacks c JOIN jobs j ON j.id = c.job_id LEFT JOIN accounts a ON a.id = c.account_id \
                     WHERE c.id = ({})",
                    due_sql()
                ),
                vec![now.clone(), now.clone(), now.clone()],
            ),
            Stmt::new(
                format!(
                    "UPDATE callbacks SET lease_until = ?, attempts = attempts + 1 \
                     WHERE id = ({}) AND status = 'pending' RETURNING id, attempts",
                    due_sql()
                ),
                vec![Value::from(now_ms + lease_ms), now.clone(), now],
            ),
        ])
        .await?;
    let (Some(r), Some(claimed)) = (outcomes[1].first(), outcomes[2].first()) else {
        return Ok(None);
    };
    let id = r.text("id")?;
    if claimed.text("id")? != id {
        return Err(DbError::Decode("claimed a different callback than was read".into()));
    }
    let event = r.text("event_type")?;
    Ok(Some(DueCallback {
        event: CallbackEvent::parse(&event).ok_or(DbError::Decode(format!("callback event {event}")))?,
        id,
        job_id: r.text("job_id")?,
        account_id: r.text("account_id")?,
        url: r.text("url")?,
        attempt: claimed.int("attempts")?,
        job_type: r.text("job_type")?,
        job_status: r.text("job_status")?,
        result: r.opt_json("result")?,
        error_code: r.opt_text("error_code")?,
        error_message: r.opt_text("error_message")?,
        output_key: r.opt_text("output_key")?,
        secret: r.opt_text("webhook_secret")?.map(Secret::new),
        previous_secret: r.opt_text("previous_secret")?.map(Secret::new),
    }))
}

/// The message body (Standard Webhooks shape): `{"type", "timestamp", "data": {"jobId", "type",
/// "status", "result" | "error"}}`. A completed job's `result` gains `downloadUrl` when one is given; a
/// failed job carries `error`; a cancelled one neither.
pub fn payload(due: &DueCallback, download_url: Option<&str>, now_ms: i64) -> Json {
    let mut data = json!({"jobId": due.job_id, "type": due.job_type, "status": due.job_status});
    match due.event {
        CallbackEvent::Completed => {
            let mut result = due.result.clone().unwrap_or(Json::Null);
            if let Some(url) = download_url {
                if !result.is_object() {
                    result = json!({});
                }
                result["downloadUrl"] = Json::from(url);
            }
            data["result"] = result;
        }
        CallbackEvent::Failed => {
            data["error"] = json!({"code": due.error_code, "message": due.error_message});
        }
        CallbackEvent::Cancelled => {}
    }
    json!({"type": due.event.as_str(), "timestamp": rfc3339(now_ms), "data": data})
}

/// `ms` since the Unix epoch as RFC 3339 UTC with milliseconds (`2026-03-01T12:00:00.000Z`).
pub fn rfc3339(ms: i64) -> String {
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let secs = ms_of_day / 1000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        ms_of_day % 1000
    )
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    /// The receiver answered with this HTTP status (2xx: delivered; anything else: retried).
    Answered(u16),
    /// The receiver could not be reached; a later attempt may get through. The text names no URL.
    Unreachable(String),
    /// Refused for good (the URL fails the network guard, the account has no usable secret).
    Refused(String),
}

/// One attempt, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptOutcome {
    pub result: AttemptResult,
    pub duration_ms: i64,
}

/// Where a callback stands after an attempt was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Delivered,
    RetryAt(i64),
    Failed,
    /// The callback had moved on (settled, or claimed again after this attempt's lease ran out): the
    /// attempt is logged, the callback untouched.
    Stale,
}

/// Records attempt `attempt` and settles the callback accordingly, in one transaction: delivered on a
/// 2xx; due again after the schedule's wait on any other answer or a network failure; failed when the
/// schedule is spent or the attempt was refused for good. Only the attempt that holds the callback's
/// current attempt number may settle it.
pub async fn record_attempt<T: HttpTransport>(
    db: &HranaClient<T>,
    callback_id: &str,
    attempt: i64,
    outcome: &AttemptOutcome,
    now_ms: i64,
    scale: f64,
) -> Result<Recorded, DbError> {
    let (status_code, error, retry) = match &outcome.result {
        AttemptResult::Answered(code) if (200..300).contains(code) => (Some(i64::from(*code)), None, false),
        AttemptResult::Answered(code) => (Some(i64::from(*code)), None, true),
        AttemptResult::Unreachable(e) => (None, Some(short_error(e)), true),
        AttemptResult::Refused(e) => (None, Some(short_error(e)), false),
    };
    let next = if retry { next_attempt_delay_ms(attempt, scale).map(|d| now_ms + d) } else { None };
    let settle = match (status_code, retry, next) {
        // A delivery settles the callback even if its lease ran out meanwhile (another attempt may be
        // under way; the receiver deduplicates on `webhook-id`), so it is not sent again after this.
        (Some(_), false, _) => Stmt::new(
            "UPDATE callbacks SET status = 'delivered', lease_until = NULL, finished_at = ? \
             WHERE id = ? AND status = 'pending' RETURNING status, next_attempt_at",
            vec![Value::from(now_ms), Value::from(callback_id)],
        ),
        (_, true, Some(at)) => Stmt::new(
            "UPDATE callbacks SET next_attempt_at = ?, lease_until = NULL \
             WHERE id = ? AND attempts = ? AND status = 'pending' RETURNING status, next_attempt_at",
            vec![Value::from(at), Value::from(callback_id), Value::from(attempt)],
        ),
        _ => Stmt::new(
            "UPDATE callbacks SET status = 'failed', lease_until = NULL, finished_at = ? \
             WHERE id = ? AND attempts = ? AND status = 'pending' RETURNING status, next_attempt_at",
            vec![Value::from(now_ms), Value::from(callback_id), Value::from(attempt)],
        ),
    };
    let outcomes = db
        .transaction(vec![
            Stmt::new(
                "INSERT INTO callback_attempts (callback_id, attempt, at, status_code, error, duration_ms) \
                 VALUES (?, ?, ?, ?, ?, ?)",
                vec![
                    Value::from(callback_id),
                    Value::from(attempt),
                    Value::from(now_ms),
                    status_code.map_or(Value::Null, Value::from),
                    error.map_or(Value::Null, Value::from),
                    Value::from(outcome.duration_ms.max(0)),
                ],
            ),
            settle,
        ])
        .await?;
    let Some(row) = outcomes[1].first() else { return Ok(Recorded::Stale) };
    Ok(match row.text("status")?.as_str() {
        "delivered" => Recorded::Delivered,
        "pending" => Recorded::RetryAt(row.int("next_attempt_at")?),
        _ => Recorded::Failed,
    })
}

/// An attempt's error as stored: scrubbed of credentials and cut short.
fn short_error(text: &str) -> String {
    let clean = scrub(text.trim());
    match clean.char_indices().nth(MAX_ERROR_CHARS) {
        Some((i, _)) => format!("{}…", &clean[..i]),
        None => clean,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due(event: CallbackEvent, status: &str) -> DueCallback {
        DueCallback {
            id: "msg_1".into(),
            job_id: "job_1".into(),
            account_id: "acc_1".into(),
            event,
            url: "https://receiver.example/hook?token=creator-token".into(),
            attempt: 1,
            job_type: "render".into(),
            job_status: status.into(),
            result: Some(json!({"durationSec": 2.5})),
            error_code: Some("render_failed".into()),
            error_message: Some("the render service gave up".into()),
            output_key: Some("renders/job_1/video.mp4".into()),
            secret: Some(Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")),
            previous_secret: Some(Secret::new("whsec_c2VjcmV0LW90aGVyLWtleQ==")),
        }
    }

    #[test]
    fn the_schedule_makes_eight_attempts_within_a_day() {
        assert_eq!(next_attempt_delay_ms(0, 1.0), Some(0));
        assert_eq!(next_attempt_delay_ms(1, 1.0), Some(5_000));
        assert_eq!(next_attempt_delay_ms(2, 1.0), Some(300_000));
        assert_eq!(next_attempt_delay_ms(7, 1.0), Some(6 * 3_600_000));
        assert_eq!(next_attempt_delay_ms(8, 1.0), None);
        assert_eq!(next_attempt_delay_ms(100, 1.0), None);
        let waits: Vec<i64> = (1..).map_while(|n| next_attempt_delay_ms(n, 1.0)).collect();
        assert_eq!(waits.len() as i64 + 1, MAX_ATTEMPTS);
        assert_eq!(MAX_ATTEMPTS, 8);
        let total: i64 = waits.iter().sum();
        assert!(total > 23 * 3_600_000 && total < 24 * 3_600_000, "{total}");
        assert!(waits.windows(2).take(5).all(|w| w[0] < w[1]), "backs off");
    }

    #[test]
    fn the_scale_shrinks_every_wait() {
        assert_eq!(next_attempt_delay_ms(1, 0.001), Some(5));
        assert_eq!(next_attempt_delay_ms(6, 0.001), Some(36_000));
        assert_eq!(next_attempt_delay_ms(8, 0.001), None);
        assert_eq!(next_attempt_delay_ms(1, 0.0), Some(0));
    }

    #[test]
    fn a_completed_job_carries_its_result_and_download_url() {
        let body = payload(&due(CallbackEvent::Completed, "complete"), Some("https://edge/blobs/x?sig=s"), 0);
        assert_eq!(
            body,
            json!({"type": "job.completed", "timestamp": "1970-01-01T00:00:00.000Z", "data": {
                "jobId": "job_1", "type": "render", "status": "complete",
                "result": {"durationSec": 2.5, "downloadUrl": "https://edge/blobs/x?sig=s"}}})
        );
        let mut bare = due(CallbackEvent::Completed, "complete");
        bare.result = None;
        assert_eq!(payload(&bare, None, 0)["data"]["result"], Json::Null);
        assert_eq!(payload(&bare, Some("u"), 0)["data"]["result"], json!({"downloadUrl": "u"}));
    }

    #[test]
    fn failed_and_cancelled_jobs_carry_an_error_or_nothing() {
        let failed = payload(&due(CallbackEvent::Failed, "failed"), None, 1_772_366_400_123);
        assert_eq!(
            failed,
            json!({"type": "job.failed", "timestamp": "2026-03-01T12:00:00.123Z", "data": {
                "jobId": "job_1", "type": "render", "status": "failed",
                "error": {"code": "render_failed", "message": "the render service gave up"}}})
        );
        let cancelled = payload(&due(CallbackEvent::Cancelled, "cancelled"), None, 0);
        assert_eq!(cancelled["type"], "job.cancelled");
        assert_eq!(cancelled["data"], json!({"jobId": "job_1", "type": "render", "status": "cancelled"}));
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(4_102_444_799_999), "2099-12-31T23:59:59.999Z");
    }

    #[test]
    fn debug_prints_neither_url_nor_secrets() {
        let shown = format!("{:?}", due(CallbackEvent::Completed, "complete"));
        assert!(shown.contains("msg_1"), "{shown}");
        for hidden in ["receiver.example", "creator-token", "whsec_", "MfKQ9r8G", "c2VjcmV0"] {
            assert!(!shown.contains(hidden), "{shown}");
        }
    }

    #[test]
    fn stored_errors_are_short_and_scrubbed() {
        let long = format!("network: token=abc123 {}", "x".repeat(500));
        let stored = short_error(&long);
        assert!(!stored.contains("abc123") && stored.chars().count() <= MAX_ERROR_CHARS + 1, "{stored}");
    }

    #[test]
    fn deliveries_are_scoped_to_the_owner() {
        let owner = "SELECT account_id FROM api_keys WHERE request_nonce = ?";
        let stmt = deliveries_stmt("job_1", owner, vec![Value::from("n1")]);
        let sql = stmt.sql.unwrap();
        assert!(sql.contains(&format!("c.account_id = ({owner})")), "{sql}");
        assert!(!sql.contains("url"), "{sql}");
        assert_eq!(stmt.args, vec![Value::from("job_1"), Value::from("n1")]);
    }
}
