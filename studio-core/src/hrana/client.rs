//! A stateless Hrana-over-HTTP client: every call is one `/v3/pipeline` round trip that runs its
//! statements and closes the stream, so nothing is held open across calls (the design keeps public
//! requests at one round trip; batch conditions replace interactive transactions).

use super::error::DbError;
use super::proto::{
    Batch, BatchCond, BatchResult, BatchStep, ErrorMsg, PipelineRequest, PipelineResponse, Stmt, StreamRequest,
    StreamResponse, StreamResult,
};
use super::rows::Rows;
use super::transport::HttpTransport;
use crate::redact::Secret;

/// A Hrana client bound to one database URL and token.
#[derive(Debug, Clone)]
pub struct HranaClient<T> {
    transport: T,
    pipeline_url: String,
    auth_token: Option<Secret>,
}

impl<T: HttpTransport> HranaClient<T> {
    /// `database_url` is the Turso URL (`libsql://…` or `https://…`, or `http://…` for turso-local).
    pub fn new(transport: T, database_url: &str, auth_token: Option<String>) -> Self {
        let base = database_url.trim_end_matches('/');
        let base = match base.strip_prefix("libsql://") {
            Some(host) => format!("https://{host}"),
            None => base.to_owned(),
        };
        HranaClient {
            transport,
            pipeline_url: format!("{base}/v3/pipeline"),
            auth_token: auth_token.filter(|t| !t.is_empty()).map(Secret::new),
        }
    }

    /// Runs one statement and returns its rows.
    pub async fn execute(&self, stmt: Stmt) -> Result<Rows, DbError> {
        let mut responses = self.pipeline(vec![StreamRequest::Execute { stmt }]).await?;
        match responses.pop() {
            Some(StreamResponse::Execute { result }) => Ok(Rows::from(result)),
            other => Err(DbError::Protocol(format!("expected execute result, got {other:?}"))),
        }
    }

    /// Runs statements as one batch; each step's own result or error is returned, in order.
    pub async fn batch(&self, steps: Vec<BatchStep>) -> Result<Vec<StepOutcome>, DbError> {
        let mut responses = self.pipeline(vec![StreamRequest::Batch { batch: Batch { steps } }]).await?;
        match responses.pop() {
            Some(StreamResponse::Batch { result }) => Ok(outcomes(result)),
            other => Err(DbError::Protocol(format!("expected batch result, got {other:?}"))),
        }
    }

    /// Runs statements inside `BEGIN IMMEDIATE … COMMIT` in one round trip; any failing statement
    /// rolls the whole batch back and is returned as the error.
    pub async fn transaction(&self, stmts: Vec<Stmt>) -> Result<Vec<Rows>, DbError> {
        let count = stmts.len() as u32;
        let mut steps = vec![BatchStep { condition: None, stmt: Stmt::new("BEGIN IMMEDIATE", vec![]) }];
        for (i, stmt) in stmts.into_iter().enumerate() {
            steps.push(BatchStep { condition: Some(BatchCond::Ok { step: i as u32 }), stmt });
        }
        steps.push(BatchStep { condition: Some(BatchCond::Ok { step: count }), stmt: Stmt::new("COMMIT", vec![]) });
        steps.push(BatchStep {
            condition: Some(BatchCond::Not { cond: Box::new(BatchCond::Ok { step: count + 1 }) }),
            stmt: Stmt::new("ROLLBACK", vec![]),
        });
        let outcomes = self.batch(steps).await?;
        let mut rows = Vec::with_capacity(count as usize);
        for outcome in outcomes.into_iter().skip(1).take(count as usize + 1) {
            match outcome {
                StepOutcome::Ok(r) => rows.push(r),
                StepOutcome::Failed(e) => return Err(e.into()),
                StepOutcome::Skipped => {}
            }
        }
        rows.truncate(count as usize);
        if rows.len() != count as usize {
            return Err(DbError::Protocol("transaction steps were skipped".into()));
        }
        Ok(rows)
    }

    async fn pipeline(&self, mut requests: Vec<StreamRequest>) -> Result<Vec<StreamResponse>, DbError> {
        let wanted = requests.len();
        requests.push(StreamRequest::Close {});
        let body = serde_json::to_string(&PipelineRequest { baton: None, requests })
            .map_err(|e| DbError::Protocol(e.to_string()))?;
        let reply = self
            .transport
            .post_json(&self.pipeline_url, self.auth_token.as_ref().map(Secret::expose), body)
            .await
            .map_err(|e| DbError::Transport(crate::redact::scrub(&e.to_string())))?;
        if reply.status != 200 {
            return Err(DbError::Http {
                status: reply.status,
                body: crate::redact::scrub(&truncate(&reply.body, 500)),
            });
        }
        let parsed: PipelineResponse =
            serde_json::from_str(&reply.body).map_err(|e| DbError::Protocol(e.to_string()))?;
        let mut responses = Vec::with_capacity(wanted);
        for result in parsed.results.into_iter().take(wanted) {
            match result {
                StreamResult::Ok { response } => responses.push(response),
                StreamResult::Error { error } => return Err(error.into()),
            }
        }
        Ok(responses)
    }
}

/// What happened to one step of a batch.
#[derive(Debug, Clone)]
pub enum StepOutcome {
    Ok(Rows),
    Failed(ErrorMsg),
    /// Its condition was false, so it did not run.
    Skipped,
}

impl StepOutcome {
    pub fn rows(self) -> Result<Rows, DbError> {
        match self {
            StepOutcome::Ok(rows) => Ok(rows),
            StepOutcome::Failed(e) => Err(e.into()),
            StepOutcome::Skipped => Err(DbError::Decode("step was skipped".into())),
        }
    }
}

fn outcomes(result: BatchResult) -> Vec<StepOutcome> {
    let errors = result.step_errors;
    result
        .step_results
        .into_iter()
        .enumerate()
        .map(|(i, r)| match (r, errors.get(i).cloned().flatten()) {
            (Some(r), _) => StepOutcome::Ok(Rows::from(r)),
            (None, Some(e)) => StepOutcome::Failed(e),
            (None, None) => StepOutcome::Skipped,
        })
        .collect()
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}
