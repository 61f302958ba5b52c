//! Job kinds, states and the job record as stored.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::error_code::ErrorCode;
use crate::hrana::{DbError, Row};

/// The kinds of work the system runs. Each kind has its own wall-clock timeout and retry budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobType {
    Ingest,
    /// Rendered by the render service: the worker submits it and hands the lease over; signed webhooks
    /// (or the reconciler) finish it.
    Render,
    /// A quick MP3 of an edit recipe (cached by the recipe's hash).
    EditPreview,
    /// An edit recipe rendered at full quality, levelled in two passes, as the asset's prepared audio.
    EditSave,
}

impl JobType {
    pub const ALL: &'static [JobType] = &[JobType::Ingest, JobType::Render, JobType::EditPreview, JobType::EditSave];

    pub fn as_str(self) -> &'static str {
        match self {
            JobType::Ingest => "ingest",
            JobType::Render => "render",
            JobType::EditPreview => "edit_preview",
            JobType::EditSave => "edit_save",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        JobType::ALL.iter().copied().find(|t| t.as_str() == s)
    }

    /// Wall-clock limit of one attempt, counted from its claim (stored on the job at creation).
    pub fn default_timeout_ms(self) -> i64 {
        match self {
            JobType::Ingest | JobType::EditPreview => 10 * 60 * 1000,
            JobType::EditSave => 20 * 60 * 1000,
            JobType::Render => 24 * 60 * 60 * 1000,
        }
    }

    /// Attempts before a transient failure fails the job: enough that the retry schedule rides out
    /// minutes of a dependency's outage (see `backoff`).
    pub fn default_max_attempts(self) -> i64 {
        match self {
            JobType::Ingest | JobType::Render | JobType::EditPreview | JobType::EditSave => 10,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Pending,
    Processing,
    Complete,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Processing => "processing",
            JobStatus::Complete => "complete",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Processing, Self::Complete, Self::Failed, Self::Cancelled]
            .into_iter()
            .find(|v| v.as_str() == s)
    }

    /// Terminal states are final: no write may leave them.
    pub fn is_terminal(self) -> bool {
        matches!(self, JobStatus::Complete | JobStatus::Failed | JobStatus::Cancelled)
    }
}

/// The columns a [`Job`] is read from.
pub(crate) const JOB_COLUMNS: &str = "id, type, status, stage, progress, input, result, output_key, error_code, \
     error_message, attempt, max_attempts, frames_done, frames_total, rendering_since, account_id, created_at, updated_at";

/// What to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub job_type: JobType,
    pub input: Json,
    pub priority: i64,
    pub timeout_ms: i64,
    pub max_attempts: i64,
    /// The account it belongs to.
    pub account_id: Option<String>,
}

impl NewJob {
    pub fn new(job_type: JobType, input: Json) -> Self {
        NewJob {
            job_type,
            input,
            priority: 0,
            timeout_ms: job_type.default_timeout_ms(),
            max_attempts: job_type.default_max_attempts(),
            account_id: None,
        }
    }

    pub fn for_account(mut self, account_id: &str) -> Self {
        self.account_id = Some(account_id.to_owned());
        self
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    pub job_type: JobType,
    pub status: JobStatus,
    pub stage: Option<String>,
    pub progress: f64,
    pub input: Json,
    pub result: Option<Json>,
    pub output_key: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub attempt: i64,
    pub max_attempts: i64,
    pub queue_position: Option<i64>,
    /// Render progress in frames, and when rendering began (for the ETA).
    pub frames_done: Option<i64>,
    pub frames_total: Option<i64>,
    pub rendering_since: Option<i64>,
    /// The account that created it (`None`: made before accounts existed).
    pub account_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Job {
    pub(crate) fn from_row(row: &Row<'_>) -> Result<Self, DbError> {
        let job_type = row.text("type")?;
        let status = row.text("status")?;
        Ok(Job {
            id: row.text("id")?,
            job_type: JobType::parse(&job_type).ok_or_else(|| DbError::Decode(format!("job type {job_type}")))?,
            status: JobStatus::parse(&status).ok_or_else(|| DbError::Decode(format!("job status {status}")))?,
            stage: row.opt_text("stage")?,
            progress: row.float("progress")?,
            input: row.opt_json("input")?.unwrap_or(Json::Null),
            result: row.opt_json("result")?,
            output_key: row.opt_text("output_key")?,
            error_code: row.opt_text("error_code")?,
            error_message: row.opt_text("error_message")?,
            attempt: row.int("attempt")?,
            max_attempts: row.int("max_attempts")?,
            queue_position: None,
            frames_done: row.opt_int("frames_done")?,
            frames_total: row.opt_int("frames_total")?,
            rendering_since: row.opt_int("rendering_since")?,
            account_id: row.opt_text("account_id")?,
            created_at: row.int("created_at")?,
            updated_at: row.int("updated_at")?,
        })
    }
}

/// Why an attempt failed, and whether another attempt may succeed.
#[derive(Debug, Clone, PartialEq)]
pub struct JobFailure {
    pub code: ErrorCode,
    /// Safe to show the creator: never paths, SQL or tool stderr.
    pub message: String,
    pub retryable: bool,
    /// Diagnostic detail for the operator's log only (e.g. an ffmpeg stderr tail), scrubbed of
    /// secrets; never shown to the creator.
    pub detail: Option<String>,
}

/// What the creator reads when an attempt runs past its deadline (the runner or the reaper ends it).
pub const TIMEOUT_MESSAGE: &str = "The job ran past its time limit.";

impl JobFailure {
    /// The attempt ran past its deadline.
    pub fn timed_out() -> Self {
        JobFailure::permanent(ErrorCode::Timeout, TIMEOUT_MESSAGE)
    }

    pub fn permanent(code: ErrorCode, message: impl Into<String>) -> Self {
        JobFailure { code, message: message.into(), retryable: false, detail: None }
    }

    pub fn transient(code: ErrorCode, message: impl Into<String>) -> Self {
        JobFailure { code, message: message.into(), retryable: true, detail: None }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(crate::redact::scrub(&detail.into()));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_finished_states_are_terminal() {
        assert!(!JobStatus::Pending.is_terminal());
        assert!(!JobStatus::Processing.is_terminal());
        for s in [JobStatus::Complete, JobStatus::Failed, JobStatus::Cancelled] {
            assert!(s.is_terminal());
            assert_eq!(JobStatus::parse(s.as_str()), Some(s));
        }
    }
}
