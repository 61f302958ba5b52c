//! Every write that creates a job or moves it between states, written once: the insert (with its
//! `created` event), the claim (pending → processing, with its `claimed` event), and every later
//! transition — a [`Guard`] (which rows it may touch) plus the state it leads to, with its event
//! inserted first under the same guard in the same transaction, so an event exists exactly when its
//! transition happened. `store` (create, claim, cancel), `ingest`, `ClaimedJob` and the reaper all build
//! their statements here.

use serde_json::Value as Json;

use super::backoff::Next;
use super::model::{JobType, NewJob, JOB_COLUMNS};
use crate::hrana::{Stmt, Value};

/// The prefix of the lease owner (and claim token) of a render handed over to the render service:
/// `<prefix><call id>`. Stored in rows, so it never changes (whatever runs the renders).
pub const HAND_OVER_PREFIX: &str = "modal:";

/// SQL: the lease owner a job handed over under its `call_id` has.
pub fn handed_over_owner_sql() -> String {
    format!("'{HAND_OVER_PREFIX}' || call_id")
}

/// The fence every worker write carries (two arguments: id, claim token).
pub const FENCE_SQL: &str = "id = ? AND claim_token = ? AND status = 'processing'";

/// When the running attempt must be over: the job type's timeout counted from its claim. The runner
/// and the reaper both read it from here.
pub const DEADLINE_SQL: &str = "(started_at + timeout_ms)";

/// A WHERE clause over `jobs` with its arguments.
#[derive(Debug, Clone)]
pub struct Guard {
    sql: String,
    args: Vec<Value>,
}

impl Guard {
    /// The job held under this claim token.
    pub fn claim(job_id: &str, claim_token: &str) -> Guard {
        Guard { sql: FENCE_SQL.to_owned(), args: vec![Value::from(job_id), Value::from(claim_token)] }
    }

    /// The job just claimed under this (fresh, unique) token.
    fn claim_token(claim_token: &str) -> Guard {
        Guard { sql: "claim_token = ? AND status = 'processing'".to_owned(), args: vec![Value::from(claim_token)] }
    }

    /// The running job a render webhook names, with its token, while this request holds the webhook's
    /// receipt (`nonce` is unique to the request that stored it).
    pub fn webhook(job_id: &str, token: &str, webhook_id: &str, nonce: &str) -> Guard {
        Guard {
            sql: "id = ? AND webhook_token = ? AND status = 'processing' AND EXISTS (SELECT 1 FROM webhook_receipts \
                  WHERE webhook_id = ? AND nonce = ?)"
                .to_owned(),
            args: vec![Value::from(job_id), Value::from(token), Value::from(webhook_id), Value::from(nonce)],
        }
    }

    /// The running job handed over to the render service under this call id (the reconciler's writes).
    pub fn handed_over(job_id: &str, call_id: &str) -> Guard {
        Guard {
            sql: format!(
                "id = ? AND call_id = ? AND status = 'processing' AND lease_owner = {}",
                handed_over_owner_sql()
            ),
            args: vec![Value::from(job_id), Value::from(call_id)],
        }
    }

    /// The job held under this claim token whose lease ran out before `now_ms`.
    pub fn expired_lease(job_id: &str, claim_token: &str, now_ms: i64) -> Guard {
        Guard {
            sql: format!("{FENCE_SQL} AND lease_expires_at < ?"),
            args: vec![Value::from(job_id), Value::from(claim_token), Value::from(now_ms)],
        }
    }

    /// Every running attempt past its deadline.
    pub fn past_deadline(now_ms: i64) -> Guard {
        Guard { sql: format!("status = 'processing' AND {DEADLINE_SQL} < ?"), args: vec![Value::from(now_ms)] }
    }

    /// The owner's job if it has not finished (pending or processing); statements using it must be
    /// [`crate::accounts::access::Owner::scope`]d.
    pub fn owned_unfinished(job_id: &str) -> Guard {
        Guard {
            sql: format!(
                "id = ? AND account_id = {} AND status IN ('pending', 'processing')",
                crate::accounts::access::OWNER_ID
            ),
            args: vec![Value::from(job_id)],
        }
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    pub fn args(&self) -> Vec<Value> {
        self.args.clone()
    }
}

/// Where a transition leads.
#[derive(Debug, Clone, PartialEq)]
pub enum To<'a> {
    /// Back to the queue, claimable from `run_after_ms`. `failure` is the last error (kept for the
    /// poller); `uncount_attempt` gives the attempt back (a release that did no work).
    Pending {
        run_after_ms: i64,
        failure: Option<(&'a str, &'a str)>,
        uncount_attempt: bool,
    },
    Complete {
        result: &'a Json,
        /// `None` keeps the key recorded earlier (a render's, set when it was handed over).
        output_key: Option<&'a str>,
    },
    Failed {
        code: &'a str,
        message: &'a str,
    },
    Cancelled,
}

/// The event row and the update of one transition, in the order they must run (the event first,
/// while the guard still holds). The update returns the ids it moved.
pub fn transition(guard: &Guard, to: &To<'_>, event_kind: &str, event_detail: Option<&Json>, now_ms: i64) -> [Stmt; 2] {
    [event(guard, event_kind, event_detail, now_ms), update(guard, to, now_ms)]
}

/// Index of the update in [`transition`]'s statements.
pub const UPDATE_INDEX: usize = 1;

/// An event for every job the guard matches.
pub fn event(guard: &Guard, kind: &str, detail: Option<&Json>, now_ms: i64) -> Stmt {
    let mut args = vec![Value::from(now_ms), Value::from(kind), Value::from(detail.map(Json::to_string))];
    args.extend(guard.args());
    Stmt::new(
        format!(
            "INSERT INTO job_events (job_id, at, kind, attempt, detail) SELECT id, ?, ?, attempt, ? FROM jobs \
             WHERE {}",
            guard.sql
        ),
        args,
    )
}

fn update(guard: &Guard, to: &To<'_>, now_ms: i64) -> Stmt {
    let (set, mut args) = match *to {
        To::Pending { run_after_ms, failure, uncount_attempt } => (
            format!(
                "status = 'pending', run_after = ?, error_code = coalesce(?, error_code), \
                 error_message = coalesce(?, error_message), attempt = attempt - {}, claim_token = NULL, \
                 lease_owner = NULL, lease_expires_at = NULL, stage = NULL, progress = 0, call_id = NULL, \
                 webhook_token = NULL, frames_done = NULL, frames_total = NULL, rendering_since = NULL",
                i64::from(uncount_attempt)
            ),
            vec![Value::from(run_after_ms), Value::from(failure.map(|f| f.0)), Value::from(failure.map(|f| f.1))],
        ),
        To::Complete { result, output_key } => (
            "status = 'complete', progress = 100, stage = 'complete', result = ?, output_key = coalesce(?, output_key), \
             finished_at = ?, lease_expires_at = NULL"
                .to_owned(),
            vec![Value::from(result.to_string()), Value::from(output_key), Value::from(now_ms)],
        ),
        To::Failed { code, message } => (
            "status = 'failed', error_code = ?, error_message = ?, finished_at = ?, lease_expires_at = NULL".to_owned(),
            vec![Value::from(code), Value::from(message), Value::from(now_ms)],
        ),
        To::Cancelled => (
            "status = 'cancelled', cancelled_at = ?, finished_at = ?, lease_expires_at = NULL".to_owned(),
            vec![Value::from(now_ms), Value::from(now_ms)],
        ),
    };
    args.push(Value::from(now_ms));
    args.extend(guard.args());
    Stmt::new(format!("UPDATE jobs SET {set}, updated_at = ? WHERE {} RETURNING id", guard.sql), args)
}

/// An attempt that failed with `code`: back to the queue on the retry schedule (`next`, event
/// `retry_event`), or failed for good when attempts are used up. The message is scrubbed of secrets, and
/// the event carries only the code and message.
pub fn retry_or_fail(
    guard: &Guard,
    next: Next,
    code: &str,
    message: &str,
    retry_event: &str,
    now_ms: i64,
) -> [Stmt; 2] {
    let message = crate::redact::scrub(message);
    let detail = failure_detail(code, &message);
    match next {
        Next::Retry { run_after_ms } => transition(
            guard,
            &To::Pending { run_after_ms, failure: Some((code, &message)), uncount_attempt: false },
            retry_event,
            Some(&detail),
            now_ms,
        ),
        Next::Fail => transition(guard, &To::Failed { code, message: &message }, "failed", Some(&detail), now_ms),
    }
}

/// The event detail of a failure, in the creator's terms: its code and message, nothing internal.
pub fn failure_detail(code: &str, message: &str) -> Json {
    serde_json::json!({ "code": code, "message": message })
}

/// Where a new job's input comes from.
#[derive(Debug, Clone)]
pub enum JobInput<'a> {
    /// A JSON value, bound as an argument.
    Value(&'a Json),
    /// A SQL expression over the `source` rows (e.g. built from an upload row in the same statement),
    /// with the arguments of its placeholders.
    Sql(&'a str, Vec<Value>),
}

/// A further column of a new job: its name, a SQL expression (over the create's source rows) and the
/// expression's arguments.
pub type Column<'a> = (&'static str, &'a str, Vec<Value>);

/// Inserts a `pending` job and its `created` event. `source` completes `INSERT … SELECT …` — `WHERE …`
/// or `FROM … WHERE …`, with `source_args` — so a create can be conditioned on other rows in the same
/// statement and a request needs one round trip. `columns` sets more of the job (its owner, callback).
/// The insert returns the job's columns.
pub fn create(
    job: &NewJob,
    input: JobInput<'_>,
    columns: Vec<Column<'_>>,
    source: &str,
    source_args: Vec<Value>,
    now_ms: i64,
) -> [Stmt; 2] {
    let (input_sql, mut args) = match input {
        JobInput::Value(value) => ("?", vec![Value::from(job.job_type.as_str()), Value::from(value.to_string())]),
        JobInput::Sql(expr, expr_args) => {
            let mut args = vec![Value::from(job.job_type.as_str())];
            args.extend(expr_args);
            (expr, args)
        }
    };
    args.extend([
        Value::from(job.priority),
        Value::from(job.max_attempts),
        Value::from(job.timeout_ms),
        Value::from(now_ms),
        Value::from(now_ms),
        Value::from(now_ms),
    ]);
    let (mut names, mut exprs) = (String::new(), String::new());
    for (name, expr, expr_args) in columns {
        names.push_str(&format!(", {name}"));
        exprs.push_str(&format!(", {expr}"));
        args.extend(expr_args);
    }
    args.extend(source_args);
    let insert = Stmt::new(
        format!(
            "INSERT INTO jobs (type, input, priority, max_attempts, timeout_ms, run_after, created_at, updated_at{names}) \
             SELECT ?, {input_sql}, ?, ?, ?, ?, ?, ?{exprs} {source} RETURNING {JOB_COLUMNS}"
        ),
        args,
    );
    let event = Stmt::new(
        "INSERT INTO job_events (job_id, at, kind, attempt) \
         SELECT id, ?, 'created', 0 FROM jobs WHERE rowid = last_insert_rowid() AND changes() = 1",
        vec![Value::from(now_ms)],
    );
    [insert, event]
}

/// The columns of a job created already complete (a cached result), with its output and result as SQL
/// expressions over the create's source rows; follow the insert with [`completed_at_creation`].
pub fn born_complete<'a>(output_key_sql: &'a str, result_sql: &'a str, now_ms: i64) -> Vec<Column<'a>> {
    vec![
        ("status", "'complete'", vec![]),
        ("stage", "'complete'", vec![]),
        ("progress", "100", vec![]),
        ("output_key", output_key_sql, vec![]),
        ("result", result_sql, vec![]),
        ("finished_at", "?", vec![Value::from(now_ms)]),
    ]
}

/// The `completed` event of job `job_id` when it was created already complete (a cached result): the
/// one job born final, so its log still ends the way every completed job's does.
pub fn completed_at_creation(job_id: &str, now_ms: i64) -> Stmt {
    Stmt::new(
        "INSERT INTO job_events (job_id, at, kind, attempt) SELECT id, ?, 'completed', 0 FROM jobs \
         WHERE id = ? AND status = 'complete' AND changes() = 1",
        vec![Value::from(now_ms), Value::from(job_id)],
    )
}

/// SQL: the jobs that hold a slot of the worker fleet — running and not handed over to the render
/// service (a handed-over render holds a render-service call, not a worker slot).
pub fn holds_slot_sql(alias: &str) -> String {
    format!(
        "{alias}.status = 'processing' AND ({alias}.lease_owner IS NULL OR {alias}.lease_owner NOT LIKE '{HAND_OVER_PREFIX}%')"
    )
}

/// Claims a job of the given types (pending → processing) under a fresh claim token with a lease, and
/// logs `claimed`, fairly across accounts: the next job goes to the account holding the fewest slots
/// (ties: the account whose oldest claimable job is oldest), never to one already holding
/// `account_max_slots`; within the account, by priority then age. So every account with work gets a
/// slot before any account gets a second. One statement: atomic, and fenced by `status = 'pending'`.
/// The update returns the job's columns and the claim's.
pub fn claim(
    types: &[JobType],
    worker_id: &str,
    claim_token: &str,
    lease_ms: i64,
    now_ms: i64,
    account_max_slots: i64,
) -> [Stmt; 2] {
    let placeholders = vec!["?"; types.len()].join(", ");
    let type_args = || types.iter().map(|t| Value::from(t.as_str()));
    let mut args = vec![
        Value::from(claim_token),
        Value::from(worker_id),
        Value::from(now_ms + lease_ms),
        Value::from(now_ms),
        Value::from(now_ms),
        Value::from(now_ms),
    ];
    args.extend(type_args());
    args.push(Value::from(account_max_slots));
    args.push(Value::from(now_ms));
    args.extend(type_args());
    let update = Stmt::new(
        format!(
            "UPDATE jobs SET status = 'processing', claim_token = ?, lease_owner = ?, lease_expires_at = ?, \
               attempt = attempt + 1, claim_seq = claim_seq + 1, started_at = ?, updated_at = ?, stage = NULL, progress = 0 \
             WHERE id = ( \
               WITH held AS (SELECT account_id, COUNT(*) AS n FROM jobs s WHERE {held} GROUP BY account_id), \
                    heads AS (SELECT account_id, MIN(created_at) AS oldest FROM jobs \
                              WHERE status = 'pending' AND run_after <= ? AND type IN ({placeholders}) GROUP BY account_id), \
                    chosen AS (SELECT h.account_id FROM heads h LEFT JOIN held ON held.account_id IS h.account_id \
                               WHERE coalesce(held.n, 0) < ? ORDER BY coalesce(held.n, 0), h.oldest LIMIT 1) \
               SELECT j.id FROM jobs j, chosen c WHERE j.account_id IS c.account_id AND j.status = 'pending' \
                 AND j.run_after <= ? AND j.type IN ({placeholders}) \
               ORDER BY j.priority DESC, j.created_at, j.rowid LIMIT 1) \
               AND status = 'pending' \
             RETURNING {JOB_COLUMNS}, claim_token, claim_seq, {DEADLINE_SQL} AS deadline_ms",
            held = holds_slot_sql("s"),
        ),
        args,
    );
    let event = event(&Guard::claim_token(claim_token), "claimed", None, now_ms);
    [update, event]
}
