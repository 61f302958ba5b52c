//! Job SQL for the API side and the claim: create, get, list events, cancel, claim. Worker writes
//! after the claim go through [`super::ClaimedJob`] only.

use serde_json::Value as Json;

use super::claimed::{claim_columns, ClaimedJob};
use super::model::{Job, JobStatus, JobType};
use super::transitions::{self, Guard, To, UPDATE_INDEX};
use crate::hrana::{DbError, HranaClient, HttpTransport, Rows, Stmt, Value};

pub(crate) const JOB_COLUMNS: &str = "id, type, status, stage, progress, input, result, output_key, error_code, \
     error_message, attempt, max_attempts, created_at, updated_at";

/// What to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub job_type: JobType,
    pub input: Json,
    pub priority: i64,
    pub timeout_ms: i64,
    pub max_attempts: i64,
}

impl NewJob {
    pub fn new(job_type: JobType, input: Json) -> Self {
        NewJob {
            job_type,
            input,
            priority: 0,
            timeout_ms: job_type.default_timeout_ms(),
            max_attempts: job_type.default_max_attempts(),
        }
    }
}

/// `INSERT … SELECT … WHERE {guard}`: inserts the job only when `guard` (SQL, with its own `?`
/// arguments) holds, returning the new row. Lets a create be conditioned on another table in the same
/// statement, so a request needs one round trip.
pub fn insert_job_stmt(job: &NewJob, now_ms: i64, guard: &str, guard_args: Vec<Value>) -> Stmt {
    let sql = format!(
        "INSERT INTO jobs (type, input, priority, max_attempts, timeout_ms, run_after, created_at, updated_at) \
         SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE {guard} RETURNING {JOB_COLUMNS}"
    );
    let mut args = vec![
        Value::from(job.job_type.as_str()),
        Value::from(job.input.to_string()),
        Value::from(job.priority),
        Value::from(job.max_attempts),
        Value::from(job.timeout_ms),
        Value::from(now_ms),
        Value::from(now_ms),
        Value::from(now_ms),
    ];
    args.extend(guard_args);
    Stmt::new(sql, args)
}

/// Appends an event for a job that was just created by the previous statement of the same batch.
pub fn created_event_stmt(now_ms: i64) -> Stmt {
    Stmt::new(
        "INSERT INTO job_events (job_id, at, kind, attempt) \
         SELECT id, ?, 'created', 0 FROM jobs WHERE rowid = last_insert_rowid() AND changes() = 1",
        vec![Value::from(now_ms)],
    )
}

/// Reads the single job a statement returned, if any.
pub fn job_from_rows(rows: &Rows) -> Result<Option<Job>, DbError> {
    rows.first().map(|r| Job::from_row(&r)).transpose()
}

/// Enqueues a job unconditionally.
pub async fn create<T: HttpTransport>(db: &HranaClient<T>, job: &NewJob, now_ms: i64) -> Result<Job, DbError> {
    let rows = db.transaction(vec![insert_job_stmt(job, now_ms, "1", vec![]), created_event_stmt(now_ms)]).await?;
    job_from_rows(&rows[0])?.ok_or_else(|| DbError::Decode("insert returned no row".into()))
}

/// One job with its queue position (how many jobs will be claimed before it) while pending.
pub async fn get<T: HttpTransport>(db: &HranaClient<T>, job_id: &str) -> Result<Option<Job>, DbError> {
    let sql = format!(
        "SELECT {JOB_COLUMNS}, CASE WHEN status = 'pending' THEN \
           (SELECT COUNT(*) FROM jobs p WHERE p.status = 'pending' AND (p.priority > j.priority \
              OR (p.priority = j.priority AND (p.created_at < j.created_at \
                  OR (p.created_at = j.created_at AND p.rowid < j.rowid))))) END AS queue_position \
         FROM jobs j WHERE id = ?"
    );
    let rows = db.execute(Stmt::new(sql, vec![Value::from(job_id)])).await?;
    match rows.first() {
        None => Ok(None),
        Some(row) => {
            let mut job = Job::from_row(&row)?;
            job.queue_position = row.opt_int("queue_position")?;
            Ok(Some(job))
        }
    }
}

/// One entry of a job's event log.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobEvent {
    pub at: i64,
    pub kind: String,
    pub attempt: i64,
    pub detail: Option<Json>,
}

/// The job's event log, oldest first; `None` when the job does not exist.
pub async fn events<T: HttpTransport>(db: &HranaClient<T>, job_id: &str) -> Result<Option<Vec<JobEvent>>, DbError> {
    let outcomes = db
        .batch(vec![
            step(Stmt::new("SELECT 1 AS present FROM jobs WHERE id = ?", vec![Value::from(job_id)])),
            step(Stmt::new(
                "SELECT at, kind, attempt, detail FROM job_events WHERE job_id = ? ORDER BY id",
                vec![Value::from(job_id)],
            )),
        ])
        .await?;
    let mut outcomes = outcomes.into_iter();
    let present = outcomes.next().ok_or_else(|| DbError::Decode("missing step".into()))?.rows()?;
    if present.is_empty() {
        return Ok(None);
    }
    let rows = outcomes.next().ok_or_else(|| DbError::Decode("missing step".into()))?.rows()?;
    let events = rows
        .iter()
        .map(|r| {
            Ok(JobEvent {
                at: r.int("at")?,
                kind: r.text("kind")?,
                attempt: r.int("attempt")?,
                detail: r.opt_json("detail")?,
            })
        })
        .collect::<Result<_, DbError>>()?;
    Ok(Some(events))
}

/// What a cancel request found.
#[derive(Debug, Clone, PartialEq)]
pub enum CancelOutcome {
    Cancelled,
    /// The job had already finished; nothing changed.
    AlreadyTerminal(JobStatus),
    NotFound,
}

/// Pending or processing → cancelled; a terminal job is left exactly as it is. One round trip.
pub async fn cancel<T: HttpTransport>(
    db: &HranaClient<T>,
    job_id: &str,
    now_ms: i64,
) -> Result<CancelOutcome, DbError> {
    let mut stmts: Vec<Stmt> =
        transitions::transition(&Guard::unfinished(job_id), &To::Cancelled, "cancelled", None, now_ms).into();
    stmts.push(Stmt::new("SELECT status FROM jobs WHERE id = ?", vec![Value::from(job_id)]));
    let outcomes = db.transaction(stmts).await?;
    if !outcomes[UPDATE_INDEX].is_empty() {
        return Ok(CancelOutcome::Cancelled);
    }
    match outcomes[UPDATE_INDEX + 1].first() {
        None => Ok(CancelOutcome::NotFound),
        Some(row) => {
            let status = row.text("status")?;
            let status = JobStatus::parse(&status).ok_or_else(|| DbError::Decode(status.clone()))?;
            Ok(CancelOutcome::AlreadyTerminal(status))
        }
    }
}

/// Claims the oldest claimable job of the given types in one statement: it becomes `processing`
/// under a fresh claim token (chosen by the caller, who holds the randomness) with a lease.
pub async fn claim<T: HttpTransport>(
    db: &HranaClient<T>,
    types: &[JobType],
    worker_id: &str,
    claim_token: &str,
    lease_ms: i64,
    now_ms: i64,
) -> Result<Option<ClaimedJob>, DbError> {
    let placeholders = vec!["?"; types.len()].join(", ");
    let sql = format!(
        "UPDATE jobs SET status = 'processing', claim_token = ?, lease_owner = ?, lease_expires_at = ?, \
           attempt = attempt + 1, started_at = ?, updated_at = ?, stage = NULL, progress = 0 \
         WHERE id = (SELECT id FROM jobs WHERE status = 'pending' AND run_after <= ? AND type IN ({placeholders}) \
                     ORDER BY priority DESC, created_at, rowid LIMIT 1) \
           AND status = 'pending' \
         RETURNING {JOB_COLUMNS}, {}",
        claim_columns()
    );
    let mut args = vec![
        Value::from(claim_token),
        Value::from(worker_id),
        Value::from(now_ms + lease_ms),
        Value::from(now_ms),
        Value::from(now_ms),
        Value::from(now_ms),
    ];
    args.extend(types.iter().map(|t| Value::from(t.as_str())));
    let outcomes = db
        .batch(vec![
            step(Stmt::new(sql, args)),
            step(Stmt::new(
                "INSERT INTO job_events (job_id, at, kind, attempt) \
                 SELECT id, ?, 'claimed', attempt FROM jobs WHERE claim_token = ?",
                vec![Value::from(now_ms), Value::from(claim_token)],
            )),
        ])
        .await?;
    let rows = outcomes.into_iter().next().ok_or_else(|| DbError::Decode("missing step".into()))?.rows()?;
    match rows.first() {
        None => Ok(None),
        Some(row) => Ok(Some(ClaimedJob::from_row(&row)?)),
    }
}

pub(crate) fn step(stmt: Stmt) -> crate::hrana::BatchStep {
    crate::hrana::BatchStep { condition: None, stmt }
}
