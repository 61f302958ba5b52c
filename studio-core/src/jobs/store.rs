//! Job SQL for the API side and the claim: create, get, list events, cancel, claim. Worker writes
//! after the claim go through [`super::ClaimedJob`] only.

use serde_json::Value as Json;

use super::claimed::ClaimedJob;
use super::model::{Job, JobStatus, JobType, NewJob, JOB_COLUMNS};
use super::transitions::{self, Guard, JobInput, To, UPDATE_INDEX};
use crate::hrana::{DbError, HranaClient, HttpTransport, Rows, Stmt, Value};

/// Reads the single job a statement returned, if any.
pub fn job_from_rows(rows: &Rows) -> Result<Option<Job>, DbError> {
    rows.first().map(|r| Job::from_row(&r)).transpose()
}

/// Enqueues a job unconditionally.
pub async fn create<T: HttpTransport>(db: &HranaClient<T>, job: &NewJob, now_ms: i64) -> Result<Job, DbError> {
    let stmts = transitions::create(job, JobInput::Value(&job.input), "WHERE 1", vec![], now_ms);
    let rows = db.transaction(stmts.into()).await?;
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
    let outcomes = db.transaction(transitions::claim(types, worker_id, claim_token, lease_ms, now_ms).into()).await?;
    match outcomes[0].first() {
        None => Ok(None),
        Some(row) => Ok(Some(ClaimedJob::from_row(&row)?)),
    }
}

pub(crate) fn step(stmt: Stmt) -> crate::hrana::BatchStep {
    crate::hrana::BatchStep { condition: None, stmt }
}
