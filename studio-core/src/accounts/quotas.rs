//! Per-account quotas: stored bytes, rendered video seconds per UTC day and active (pending or
//! processing) jobs, each the account's own limit or the deployment's default. Usage is computed from
//! the rows themselves inside the request's transaction, so a create is admitted (or refused, creating
//! nothing) against the same numbers it reports.

use serde::Serialize;

use crate::accounts::access::AccessError;
use crate::accounts::access::{Owner, OWNER_ID};
use crate::error_code::{ErrorCode, Problem};
use crate::hrana::{DbError, Row, Rows, Stmt};

pub const DAY_MS: i64 = 86_400_000;

/// The deployment's defaults (from the environment); an account's own quota overrides each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaDefaults {
    pub storage_bytes: i64,
    pub render_seconds_per_day: i64,
    pub active_jobs: i64,
    pub requests_per_minute: i64,
}

impl Default for QuotaDefaults {
    fn default() -> Self {
        QuotaDefaults {
            storage_bytes: 5 * 1024 * 1024 * 1024,
            render_seconds_per_day: 3_600,
            active_jobs: 10,
            requests_per_minute: 120,
        }
    }
}

/// What a create adds: jobs, bytes to store, and (a SQL expression over the create's source row) the
/// seconds of video it will render.
#[derive(Debug, Clone, Default)]
pub struct Need {
    pub jobs: i64,
    pub storage_bytes: i64,
    pub render_seconds_sql: Option<String>,
}

fn limit_sql(column: &str, default: i64) -> String {
    format!("coalesce((SELECT {column} FROM accounts WHERE accounts.id = {OWNER_ID}), {default})")
}

fn storage_used_sql() -> String {
    format!(
        "((SELECT coalesce(sum(coalesce(received_size, declared_size)), 0) FROM uploads WHERE account_id = {o} \
           AND NOT ({consumed}) AND purged_at IS NULL AND {not_withdrawn}) \
         + (SELECT coalesce(sum(size_bytes + coalesce(prepared_size_bytes, 0)), 0) FROM assets WHERE account_id = {o}) \
         + (SELECT coalesce(sum(size_bytes), 0) FROM previews WHERE account_id = {o}) \
         + (SELECT CAST(coalesce(sum(json_extract(result, '$.video.sizeBytes')), 0) AS INTEGER) FROM jobs \
           WHERE account_id = {o} AND type = 'render' AND status = 'complete'))",
        o = OWNER_ID,
        consumed = crate::uploads::states::CONSUMED,
        not_withdrawn = crate::uploads::states::NOT_WITHDRAWN,
    )
}

fn active_jobs_sql() -> String {
    format!("(SELECT count(*) FROM jobs WHERE account_id = {OWNER_ID} AND status IN ('pending', 'processing'))")
}

/// Seconds of video rendered (or on their way) since the start of the UTC day; failed renders do not count.
fn render_seconds_sql(now_ms: i64) -> String {
    format!(
        "(SELECT coalesce(sum(video_seconds), 0) FROM jobs WHERE account_id = {OWNER_ID} AND type = 'render' \
         AND status != 'failed' AND created_at >= {})",
        day_start(now_ms)
    )
}

fn day_start(now_ms: i64) -> i64 {
    now_ms - now_ms.rem_euclid(DAY_MS)
}

/// A SQL condition (for the create's WHERE) that holds when `need` fits every quota.
pub fn admits(need: &Need, defaults: &QuotaDefaults, now_ms: i64) -> String {
    let checks = [
        (need.jobs > 0)
            .then(|| (active_jobs_sql(), need.jobs.to_string(), limit_sql("quota_active_jobs", defaults.active_jobs))),
        (need.storage_bytes > 0).then(|| {
            (
                storage_used_sql(),
                need.storage_bytes.to_string(),
                limit_sql("quota_storage_bytes", defaults.storage_bytes),
            )
        }),
        need.render_seconds_sql.as_ref().map(|seconds| {
            let limit = limit_sql("quota_render_seconds_day", defaults.render_seconds_per_day);
            (render_seconds_sql(now_ms), format!("({seconds})"), limit)
        }),
    ];
    let mut conditions = vec![format!("{OWNER_ID} IS NOT NULL")];
    conditions
        .extend(checks.into_iter().flatten().map(|(used, wanted, limit)| format!("{used} + {wanted} <= {limit}")));
    conditions.join(" AND ")
}

/// Reads the owner's usage and limits (one row); scoped to the owner.
pub fn usage_stmt(owner: &Owner, defaults: &QuotaDefaults, now_ms: i64) -> Stmt {
    owner.scope(Stmt::new(
        format!(
            "SELECT {} AS storage_used, {} AS storage_limit, {} AS render_used, {} AS render_limit, \
             {} AS active_used, {} AS active_limit, {} AS rate_limit",
            storage_used_sql(),
            limit_sql("quota_storage_bytes", defaults.storage_bytes),
            render_seconds_sql(now_ms),
            limit_sql("quota_render_seconds_day", defaults.render_seconds_per_day),
            active_jobs_sql(),
            limit_sql("quota_active_jobs", defaults.active_jobs),
            limit_sql("quota_requests_per_minute", defaults.requests_per_minute),
        ),
        vec![],
    ))
}

/// Usage against one limit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Meter<T> {
    pub used: T,
    pub limit: T,
}

/// An account's usage and limits, as `GET /api/usage` shows them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub storage_bytes: Meter<i64>,
    pub render_seconds_today: Meter<f64>,
    /// When the daily render allowance starts again (ms since the epoch, UTC midnight).
    pub render_seconds_reset_at: i64,
    pub active_jobs: Meter<i64>,
    pub requests_per_minute: i64,
}

impl Usage {
    pub fn from_row(row: &Row<'_>, now_ms: i64) -> Result<Usage, DbError> {
        Ok(Usage {
            storage_bytes: Meter { used: row.int("storage_used")?, limit: row.int("storage_limit")? },
            render_seconds_today: Meter { used: row.float("render_used")?, limit: row.float("render_limit")? },
            render_seconds_reset_at: day_start(now_ms) + DAY_MS,
            active_jobs: Meter { used: row.int("active_used")?, limit: row.int("active_limit")? },
            requests_per_minute: row.int("rate_limit")?,
        })
    }

    /// The first quota `need` would break (with the numbers it was measured on), if any. Storage
    /// answers 413 (the thing is too big for what is left); the others 429 (try again later).
    pub fn refusal(&self, jobs: i64, storage_bytes: i64, render_seconds: f64) -> Option<Problem> {
        let refuse = |quota: &str, usage: String, limit: String, wanted: String| {
            Problem::new(
                ErrorCode::QuotaExceeded,
                format!("quota {quota} exceeded: usage {usage} + {wanted} requested is over the limit of {limit}"),
            )
        };
        let a = &self.active_jobs;
        if jobs > 0 && a.used + jobs > a.limit {
            return Some(refuse("activeJobs", a.used.to_string(), a.limit.to_string(), jobs.to_string()));
        }
        let s = &self.storage_bytes;
        if storage_bytes > 0 && s.used + storage_bytes > s.limit {
            let wanted = format!("{storage_bytes} bytes");
            return Some(
                refuse("storageBytes", format!("{} bytes", s.used), format!("{} bytes", s.limit), wanted)
                    .with_status(413),
            );
        }
        let r = &self.render_seconds_today;
        if render_seconds > 0.0 && r.used + render_seconds > r.limit {
            let (used, limit, wanted) =
                (format!("{:.1} s", r.used), format!("{:.1} s", r.limit), format!("{render_seconds:.1} s"));
            return Some(refuse("renderSecondsPerDay", used, limit, wanted));
        }
        None
    }
}

/// Why a create that [`admits`] kept out was refused: the quota its need breaks, measured on the
/// usage row [`usage_stmt`] read in the same transaction before it.
pub fn refused(usage_rows: &Rows, now_ms: i64, jobs: i64, storage_bytes: i64, render_seconds: f64) -> AccessError {
    let usage = match usage_rows.first().map(|r| Usage::from_row(&r, now_ms)).transpose() {
        Ok(usage) => usage,
        Err(e) => return e.into(),
    };
    match usage.and_then(|u| u.refusal(jobs, storage_bytes, render_seconds)) {
        Some(problem) => problem.into(),
        None => DbError::Decode("a create was refused with every quota met".into()).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(storage: (i64, i64), render: (f64, f64), active: (i64, i64)) -> Usage {
        Usage {
            storage_bytes: Meter { used: storage.0, limit: storage.1 },
            render_seconds_today: Meter { used: render.0, limit: render.1 },
            render_seconds_reset_at: 0,
            active_jobs: Meter { used: active.0, limit: active.1 },
            requests_per_minute: 120,
        }
    }

    #[test]
    fn refusals_name_the_quota_usage_and_limit() {
        let u = usage((900, 1000), (50.0, 60.0), (2, 3));
        assert_eq!(u.refusal(1, 100, 10.0), None, "everything fits exactly");
        let storage = u.refusal(0, 101, 0.0).unwrap();
        assert_eq!((storage.code, storage.http_status()), (ErrorCode::QuotaExceeded, 413));
        assert!(
            storage.message.contains("storageBytes")
                && storage.message.contains("900")
                && storage.message.contains("1000")
        );
        let active = usage((0, 1), (0.0, 1.0), (3, 3)).refusal(1, 0, 0.0).unwrap();
        assert_eq!(active.http_status(), 429);
        assert!(active.message.contains("activeJobs") && active.message.contains('3'));
        let render = u.refusal(1, 0, 10.5).unwrap();
        assert!(
            render.message.contains("renderSecondsPerDay") && render.message.contains("60.0"),
            "{}",
            render.message
        );
    }

    #[test]
    fn the_render_day_is_utc() {
        assert_eq!(day_start(DAY_MS * 3 + 5), DAY_MS * 3);
        let sql = admits(
            &Need { jobs: 1, storage_bytes: 0, render_seconds_sql: Some("7".into()) },
            &QuotaDefaults::default(),
            DAY_MS + 1,
        );
        assert!(sql.contains(&format!("created_at >= {DAY_MS}")) && sql.contains("quota_active_jobs"));
        assert!(!sql.contains("quota_storage_bytes"));
    }
}
