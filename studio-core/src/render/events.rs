//! A render job's life on the render service: the worker hands its claim over (the service's call id,
//! a per-job webhook token, the lease extended to the job's deadline), then the service's signed
//! webhooks move the job. Each webhook is applied at most once — its `webhook-id` is stored with a
//! nonce of the request that stored it, and every statement requires that receipt — and only with the
//! job's token while the job is still running, so a late, replayed or stale callback changes nothing.
//! One transaction per webhook.

use serde::Deserialize;
use serde_json::Value as Json;

use crate::error_code::ErrorCode;
use crate::hrana::{DbError, HranaClient, HttpTransport, Stmt, Value};
use crate::jobs::transitions::{self, failure_detail, Guard, To, UPDATE_INDEX};
use crate::keys;

/// How long a `webhook-id` is remembered: far beyond the render service's last retry (~45 min).
pub const RECEIPT_TTL_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// A render-service webhook body (docs/RENDER_CONTRACT.md).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenderEvent {
    #[serde(rename = "type")]
    pub kind: String,
    pub job_id: String,
    #[serde(default)]
    pub call_id: Option<String>,
    pub token: String,
    #[serde(default)]
    pub data: Json,
}

/// What became of a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The job moved.
    Applied,
    /// This `webhook-id` was applied before.
    Duplicate,
    /// Not for a running job with this token (stale, forged token, finished job), or an unknown type.
    Ignored,
}

/// Applies one verified webhook. `nonce` must be unique to this request (it marks the receipt as ours).
pub async fn apply<T: HttpTransport>(
    db: &HranaClient<T>,
    webhook_id: &str,
    nonce: &str,
    event: &RenderEvent,
    now_ms: i64,
) -> Result<Applied, DbError> {
    let receipt = Stmt::new(
        "INSERT INTO webhook_receipts (webhook_id, nonce, job_id, received_at) VALUES (?, ?, ?, ?) \
         ON CONFLICT (webhook_id) DO NOTHING RETURNING webhook_id",
        vec![Value::from(webhook_id), Value::from(nonce), Value::from(event.job_id.as_str()), Value::from(now_ms)],
    );
    let guard = Guard::webhook(&event.job_id, &event.token, webhook_id, nonce);
    let mut stmts = vec![receipt];
    let moved_index = match event.kind.as_str() {
        "render.progress" => {
            stmts.extend(progress(&guard, &event.data, now_ms));
            stmts.len() - 1
        }
        "render.completed" => {
            let base = stmts.len();
            stmts.extend(complete(&guard, &event.job_id, &event.data, now_ms));
            base + COMPLETE_UPDATE_INDEX
        }
        "render.failed" => {
            let code = event.data.get("code").and_then(Json::as_str).unwrap_or(ErrorCode::RenderFailed.as_str());
            let message = event.data.get("message").and_then(Json::as_str).unwrap_or("The render failed.");
            let base = stmts.len();
            stmts.extend(fail(&guard, code, message, now_ms));
            base + UPDATE_INDEX
        }
        _ => return Ok(Applied::Ignored),
    };
    let outcomes = db.transaction(stmts).await?;
    Ok(if outcomes[0].is_empty() {
        Applied::Duplicate
    } else if outcomes[moved_index].is_empty() {
        Applied::Ignored
    } else {
        Applied::Applied
    })
}

/// Forgets webhook receipts older than [`RECEIPT_TTL_MS`] (housekeeping); returns how many.
pub async fn prune_receipts<T: HttpTransport>(db: &HranaClient<T>, now_ms: i64) -> Result<usize, DbError> {
    let rows = db
        .execute(Stmt::new(
            "DELETE FROM webhook_receipts WHERE received_at < ? RETURNING webhook_id",
            vec![Value::from(now_ms - RECEIPT_TTL_MS)],
        ))
        .await?;
    Ok(rows.len())
}

/// A progress report: progress only grows, the stage only moves forward (with a `stage` event), frame
/// counts follow, and the time rendering began is kept for the ETA.
pub(crate) fn progress(guard: &Guard, data: &Json, now_ms: i64) -> [Stmt; 2] {
    // 100 is kept for the completed job: the upload and the bookkeeping still follow the last frame.
    let percent = (data.get("progress").and_then(Json::as_f64).unwrap_or(0.0) * 100.0).clamp(0.0, 99.0);
    // A stage outside the list (e.g. the service's `starting`) leaves the stage as it is.
    // Stages in order (`contracts/render.json` → `jobStages`); progress never moves a job back to an earlier one.
    let stages = crate::render::job_stages();
    let first = stages[0].as_str();
    let stage = data.get("stage").and_then(Json::as_str).filter(|s| stages.iter().any(|k| k == s)).unwrap_or(first);
    // The ETA counts from the first report of frames being drawn.
    let position = |name: &str| stages.iter().position(|s| s == name);
    let rendering = position(stage) >= position("rendering");
    let rank = |column: &str| {
        let cases: String = stages.iter().enumerate().map(|(i, s)| format!(" WHEN '{s}' THEN {i}")).collect();
        format!("(CASE {column}{cases} ELSE -1 END)")
    };
    let forward = format!("{} > {}", rank("?"), rank("stage"));
    let mut event_args = vec![Value::from(now_ms), Value::from(stage)];
    event_args.extend(guard.args());
    event_args.push(Value::from(stage));
    let event = Stmt::new(
        format!(
            "INSERT INTO job_events (job_id, at, kind, attempt, detail) \
             SELECT id, ?, 'stage', attempt, json_object('stage', ?) FROM jobs WHERE {} AND {forward}",
            guard.sql()
        ),
        event_args,
    );
    let mut args = vec![
        Value::from(stage),
        Value::from(stage),
        Value::from(percent),
        Value::from(data.get("framesDone").and_then(Json::as_i64)),
        Value::from(data.get("framesTotal").and_then(Json::as_i64)),
        Value::from(i64::from(rendering)),
        Value::from(now_ms),
        Value::from(now_ms),
    ];
    args.extend(guard.args());
    let update = Stmt::new(
        format!(
            "UPDATE jobs SET stage = CASE WHEN {forward} THEN ? ELSE stage END, progress = max(progress, ?), \
             frames_done = max(coalesce(frames_done, 0), coalesce(?, 0)), frames_total = coalesce(?, frames_total), \
             rendering_since = CASE WHEN ? THEN coalesce(rendering_since, ?) ELSE rendering_since END, \
             updated_at = ? WHERE {} RETURNING id",
            guard.sql()
        ),
        args,
    );
    [event, update]
}

/// Index of the job's update in [`complete`]'s statements.
pub(crate) const COMPLETE_UPDATE_INDEX: usize = 2 + UPDATE_INDEX;

/// Completes a render with the service's `render.completed` data: `result.video` is that data (less the
/// storage key), the output is the job's own video key (recorded at hand-over) whatever the data says,
/// and the attempt's recorded blobs (the video) now belong to the completed job.
pub(crate) fn complete(guard: &Guard, job_id: &str, data: &Json, now_ms: i64) -> Vec<Stmt> {
    let mut video = data.clone();
    if let Some(map) = video.as_object_mut() {
        map.remove("key");
    }
    let result = serde_json::json!({ "video": video });
    let keep = Stmt::new(
        format!(
            "DELETE FROM attempt_blobs WHERE (job_id, claim_token) IN \
             (SELECT id, claim_token FROM jobs WHERE {})",
            guard.sql()
        ),
        guard.args(),
    );
    // A render handed over before hand-overs recorded the key (and before accounts) has the bare key.
    let mut legacy_args = vec![Value::from(keys::render_video(None, job_id))];
    legacy_args.extend(guard.args());
    let legacy_key =
        Stmt::new(format!("UPDATE jobs SET output_key = ? WHERE {} AND output_key IS NULL", guard.sql()), legacy_args);
    let mut stmts = vec![keep, legacy_key];
    stmts.extend(transitions::transition(
        guard,
        &To::Complete { result: &result, output_key: None },
        "completed",
        None,
        now_ms,
    ));
    stmts
}

/// Fails a render with the service's code; the message is scrubbed before anyone sees it.
pub(crate) fn fail(guard: &Guard, code: &str, message: &str, now_ms: i64) -> [Stmt; 2] {
    let message = crate::redact::scrub(message);
    transitions::transition(
        guard,
        &To::Failed { code, message: &message },
        "failed",
        Some(&failure_detail(code, &message)),
        now_ms,
    )
}
