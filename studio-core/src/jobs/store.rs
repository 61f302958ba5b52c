//! Job SQL for the API side and the claim: create, get, list events, cancel, claim. The creator's
//! reads and cancel run behind [`crate::accounts::access`] and see only the caller's jobs. Worker writes after
//! the claim go through [`super::ClaimedJob`] only.

use serde_json::Value as Json;

use super::claimed::ClaimedJob;
use super::model::{Job, JobStatus, JobType, NewJob, JOB_COLUMNS};
use super::transitions::{self, Guard, JobInput, To, UPDATE_INDEX};
use crate::accounts::access::{self, AccessError, Session, OWNER_ID};
use crate::callbacks::{self, DeliveryView};
use crate::hrana::{DbError, HranaClient, HttpTransport, Rows, Stmt, Value};

/// Reads the single job a statement returned, if any.
pub fn job_from_rows(rows: &Rows) -> Result<Option<Job>, DbError> {
    rows.first().map(|r| Job::from_row(&r)).transpose()
}

/// Enqueues a job unconditionally.
pub async fn create<T: HttpTransport>(db: &HranaClient<T>, job: &NewJob, now_ms: i64) -> Result<Job, DbError> {
    let owner = vec![("account_id", "?", vec![Value::from(job.account_id.clone())])];
    let stmts = transitions::create(job, JobInput::Value(&job.input), owner, "WHERE 1", vec![], now_ms);
    let rows = db.transaction(stmts.into()).await?;
    job_from_rows(&rows[0])?.ok_or_else(|| DbError::Decode("insert returned no row".into()))
}

/// The caller's job `job_id` (to be [`crate::accounts::access::Owner::scope`]d), as the last statement of a create.
pub fn select_owned(job_id: &str) -> Stmt {
    Stmt::new(
        format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ? AND account_id = {OWNER_ID}"),
        vec![Value::from(job_id)],
    )
}

/// One of the caller's jobs with its queue position (how many jobs the fair claim takes before it, over
/// all creators) while pending. Another account's job is `None`, exactly like an unknown one.
pub async fn get<T: HttpTransport>(
    db: &HranaClient<T>,
    session: &Session,
    job_id: &str,
) -> Result<Option<Job>, AccessError> {
    // The fair claim's order (`transitions::claim`): every account's k-th waiting job before anyone's
    // (k+1)-th, ties by age. `ahead` is the job's own k: its account's waiting jobs of the type before it.
    let before = "(p.priority > j.priority OR (p.priority = j.priority AND (p.created_at < j.created_at \
                  OR (p.created_at = j.created_at AND p.rowid < j.rowid))))";
    let sql = format!(
        "SELECT {JOB_COLUMNS}, CASE WHEN status = 'pending' THEN ( \
           WITH mine AS (SELECT COUNT(*) AS k FROM jobs p WHERE p.status = 'pending' AND p.type = j.type \
                           AND p.account_id IS j.account_id AND {before}), \
                waiting AS (SELECT created_at, rowid AS rid, ROW_NUMBER() OVER (PARTITION BY account_id \
                              ORDER BY priority DESC, created_at, rowid) - 1 AS k \
                            FROM jobs WHERE status = 'pending' AND type = j.type) \
           SELECT COUNT(*) FROM waiting w, mine WHERE w.k < mine.k OR (w.k = mine.k \
             AND (w.created_at < j.created_at OR (w.created_at = j.created_at AND w.rid < j.rowid)))) \
         END AS queue_position \
         FROM jobs j WHERE id = ? AND account_id = {OWNER_ID}"
    );
    let stmt = session.owner().scope(Stmt::new(sql, vec![Value::from(job_id)]));
    let rows = access::run(db, session, vec![stmt]).await?;
    match rows[0].first() {
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

/// Reads something of one of the caller's jobs: `stmt` (scoped to the owner) runs after a check that the
/// job is the caller's; `None` when it is not (or does not exist).
async fn of_owned_job<T: HttpTransport>(
    db: &HranaClient<T>,
    session: &Session,
    job_id: &str,
    stmt: Stmt,
) -> Result<Option<Rows>, AccessError> {
    let owner = session.owner();
    let present = Stmt::new(
        format!("SELECT 1 AS present FROM jobs WHERE id = ? AND account_id = {OWNER_ID}"),
        vec![Value::from(job_id)],
    );
    let mut rows = access::run(db, session, vec![owner.scope(present), owner.scope(stmt)]).await?;
    Ok(if rows[0].is_empty() { None } else { rows.pop() })
}

/// The event log of one of the caller's jobs, oldest first; `None` when there is no such job.
pub async fn events<T: HttpTransport>(
    db: &HranaClient<T>,
    session: &Session,
    job_id: &str,
) -> Result<Option<Vec<JobEvent>>, AccessError> {
    let stmt = Stmt::new(
        format!(
            "SELECT at, kind, attempt, detail FROM job_events WHERE job_id = \
             (SELECT id FROM jobs WHERE id = ? AND account_id = {OWNER_ID}) ORDER BY id"
        ),
        vec![Value::from(job_id)],
    );
    let Some(rows) = of_owned_job(db, session, job_id, stmt).await? else { return Ok(None) };
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

/// The callback deliveries of one of the caller's jobs (its callback, if it has one, with every
/// attempt); `None` when there is no such job.
pub async fn deliveries<T: HttpTransport>(
    db: &HranaClient<T>,
    session: &Session,
    job_id: &str,
) -> Result<Option<Vec<DeliveryView>>, AccessError> {
    let stmt = callbacks::deliveries_stmt(job_id, OWNER_ID, vec![]);
    let Some(rows) = of_owned_job(db, session, job_id, stmt).await? else { return Ok(None) };
    Ok(Some(callbacks::deliveries_from_rows(&rows)?))
}

/// What a cancel request found.
#[derive(Debug, Clone, PartialEq)]
pub enum CancelOutcome {
    Cancelled,
    /// The job had already finished; nothing changed.
    AlreadyTerminal(JobStatus),
    NotFound,
}

/// One of the caller's jobs, pending or processing → cancelled; a terminal job is left exactly as it
/// is. One round trip.
pub async fn cancel<T: HttpTransport>(
    db: &HranaClient<T>,
    session: &Session,
    job_id: &str,
) -> Result<CancelOutcome, AccessError> {
    let owner = session.owner();
    let guard = Guard::owned_unfinished(job_id);
    let mut stmts: Vec<Stmt> = transitions::transition(&guard, &To::Cancelled, "cancelled", None, session.now_ms())
        .into_iter()
        .map(|stmt| owner.scope(stmt))
        .collect();
    stmts.push(owner.scope(Stmt::new(
        format!("SELECT status FROM jobs WHERE id = ? AND account_id = {OWNER_ID}"),
        vec![Value::from(job_id)],
    )));
    let outcomes = access::run(db, session, stmts).await?;
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

/// Claims a job of the given types in one statement, fairly across accounts (see
/// [`transitions::claim`]): it becomes `processing` under a fresh claim token (chosen by the caller,
/// who holds the randomness) with a lease.
pub async fn claim<T: HttpTransport>(
    db: &HranaClient<T>,
    types: &[JobType],
    worker_id: &str,
    claim_token: &str,
    lease_ms: i64,
    now_ms: i64,
) -> Result<Option<ClaimedJob>, DbError> {
    claim_capped(db, types, worker_id, claim_token, lease_ms, now_ms, i64::MAX).await
}

/// [`claim`], never giving an account more than `account_max_slots` slots of the fleet at once.
pub async fn claim_capped<T: HttpTransport>(
    db: &HranaClient<T>,
    types: &[JobType],
    worker_id: &str,
    claim_token: &str,
    lease_ms: i64,
    now_ms: i64,
    account_max_slots: i64,
) -> Result<Option<ClaimedJob>, DbError> {
    let stmts = transitions::claim(types, worker_id, claim_token, lease_ms, now_ms, account_max_slots);
    let outcomes = db.transaction(stmts.into()).await?;
    match outcomes[0].first() {
        None => Ok(None),
        Some(row) => Ok(Some(ClaimedJob::from_row(&row)?)),
    }
}
