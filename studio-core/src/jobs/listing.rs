//! `GET /api/jobs`: the query (type, status, page size, cursor) with its checks, and the one-statement
//! page read, newest first. The cursor is opaque to clients: the last row's `created_at` and id.

use super::model::JOB_COLUMNS;
use super::model::{Job, JobStatus, JobType};
use crate::accounts::access::{self, AccessError, Session, OWNER_ID};
use crate::error_code::{ErrorCode, Problem};
use crate::hrana::{HranaClient, HttpTransport, Stmt, Value};

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

/// A page request, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobQuery {
    pub job_type: Option<JobType>,
    pub status: Option<JobStatus>,
    pub limit: i64,
    pub after: Option<Cursor>,
}

/// Where the previous page ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: i64,
    pub id: String,
}

impl Cursor {
    /// `{created_at}.{id}`: both parts are URL-safe as they are.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.created_at, self.id)
    }

    pub fn decode(text: &str) -> Option<Cursor> {
        let (at, id) = text.split_once('.')?;
        let valid_id = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        Some(Cursor { created_at: at.parse().ok().filter(|n: &i64| *n >= 0)?, id: id.to_owned() }).filter(|_| valid_id)
    }
}

impl JobQuery {
    /// Parses a raw query string (`type`, `status`, `limit`, `cursor`); a bad parameter is a 400 naming it.
    pub fn parse(query: &str) -> Result<JobQuery, Problem> {
        let bad = |name: &str, expected: String| {
            Problem::new(ErrorCode::InvalidRequest, format!("query parameter {name}: {expected}"))
        };
        let mut parsed = JobQuery { job_type: None, status: None, limit: DEFAULT_LIMIT, after: None };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match name {
                "type" => {
                    let names: Vec<&str> = JobType::ALL.iter().map(|t| t.as_str()).collect();
                    parsed.job_type =
                        Some(JobType::parse(value).ok_or_else(|| bad("type", format!("one of {}", names.join(", "))))?);
                }
                "status" => {
                    parsed.status = Some(JobStatus::parse(value).ok_or_else(|| {
                        bad("status", "one of pending, processing, complete, failed, cancelled".into())
                    })?);
                }
                "limit" => parsed.limit = parse_limit(value)?,
                "cursor" => parsed.after = Some(parse_cursor(value)?),
                other => return Err(bad(other, "unknown; use type, status, limit or cursor".into())),
            }
        }
        Ok(parsed)
    }
}

/// A page size from a query string (`limit`, 1–[`MAX_LIMIT`]); a bad one is a 400 naming it.
pub fn parse_limit(value: &str) -> Result<i64, Problem> {
    value.parse().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
        Problem::new(ErrorCode::InvalidRequest, format!("query parameter limit: a whole number from 1 to {MAX_LIMIT}"))
    })
}

/// A page cursor from a query string (`cursor`); a bad one is a 400 naming it.
pub fn parse_cursor(value: &str) -> Result<Cursor, Problem> {
    Cursor::decode(value).ok_or_else(|| {
        Problem::new(ErrorCode::InvalidRequest, "query parameter cursor: the nextCursor of a previous page")
    })
}

/// One page of jobs, newest first, and the cursor of the next page if there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct JobPage {
    pub jobs: Vec<Job>,
    pub next: Option<Cursor>,
}

/// Reads one page of the caller's jobs in one statement (one row more than asked tells whether another
/// page follows).
pub async fn list<T: HttpTransport>(
    db: &HranaClient<T>,
    session: &Session,
    query: &JobQuery,
) -> Result<JobPage, AccessError> {
    let job_type = query.job_type.map(JobType::as_str);
    let status = query.status.map(JobStatus::as_str);
    let (after_at, after_id) = match &query.after {
        Some(c) => (Some(c.created_at), Some(c.id.as_str())),
        None => (None, None),
    };
    let stmt = session.owner().scope(Stmt::new(
        format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE account_id = {OWNER_ID} AND (? IS NULL OR type = ?) \
                 AND (? IS NULL OR status = ?) AND (? IS NULL OR (created_at, id) < (?, ?)) \
                 ORDER BY created_at DESC, id DESC LIMIT ?"
        ),
        vec![
            Value::from(job_type),
            Value::from(job_type),
            Value::from(status),
            Value::from(status),
            Value::from(after_at),
            Value::from(after_at),
            Value::from(after_id),
            Value::from(query.limit + 1),
        ],
    ));
    let rows = access::run(db, session, vec![stmt]).await?;
    let mut jobs = rows[0].iter().map(|r| Job::from_row(&r)).collect::<Result<Vec<_>, _>>()?;
    let next = if jobs.len() as i64 > query.limit {
        jobs.truncate(query.limit as usize);
        jobs.last().map(|j| Cursor { created_at: j.created_at, id: j.id.clone() })
    } else {
        None
    };
    Ok(JobPage { jobs, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse_and_bad_parameters_are_named() {
        let q = JobQuery::parse("type=ingest&status=failed&limit=5&cursor=17.job_ab").unwrap();
        assert_eq!(q.job_type, Some(JobType::Ingest));
        assert_eq!(q.status, Some(JobStatus::Failed));
        assert_eq!(q.limit, 5);
        assert_eq!(q.after, Some(Cursor { created_at: 17, id: "job_ab".into() }));
        assert_eq!(JobQuery::parse("").unwrap().limit, DEFAULT_LIMIT);
        for (query, name) in [
            ("limit=0", "limit"),
            ("limit=101", "limit"),
            ("limit=x", "limit"),
            ("type=video", "type"),
            ("status=done", "status"),
            ("cursor=abc", "cursor"),
            ("cursor=-1.job_a", "cursor"),
            ("cursor=1.job';--", "cursor"),
            ("sort=asc", "sort"),
        ] {
            let err = JobQuery::parse(query).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidRequest);
            assert!(err.message.contains(name), "{query}: {}", err.message);
        }
    }

    #[test]
    fn cursors_round_trip() {
        let c = Cursor { created_at: 1_795_000_000_000, id: "job_0a1b".into() };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
    }
}
