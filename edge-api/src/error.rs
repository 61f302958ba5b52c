//! Every failure a route can meet, and the one place that turns it into an HTTP answer. Clients get
//! `{"error":{"code","message"}}`; internal detail goes to the log, never into the body.

use studio_core::accounts::access::AccessError;
use studio_core::api::ErrorBody;
use studio_core::hrana::DbError;
use studio_core::{ErrorCode, Problem};
use worker::Response;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Problem(#[from] Problem),
    #[error("configuration: binding {0} is missing or invalid")]
    Config(&'static str),
    #[error("database: {0}")]
    Db(#[from] DbError),
    #[error("storage: {0}")]
    Storage(String),
    #[error("runtime: {0}")]
    Runtime(String),
}

impl From<worker::Error> for ApiError {
    fn from(e: worker::Error) -> Self {
        ApiError::Runtime(e.to_string())
    }
}

impl From<AccessError> for ApiError {
    fn from(e: AccessError) -> Self {
        match e {
            AccessError::Unauthorized => ApiError::unauthorized(),
            // The router adds `Retry-After` and the rate headers from the session.
            AccessError::Limited(rate) => ApiError::problem(
                ErrorCode::RateLimited,
                format!(
                    "rate limit of {} requests per minute reached; retry in {} s",
                    rate.limit, rate.retry_after_sec
                ),
            ),
            AccessError::Refused(problem) => ApiError::Problem(problem),
            AccessError::Db(e) => ApiError::Db(e),
        }
    }
}

impl ApiError {
    pub fn problem(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::Problem(Problem::new(code, message))
    }

    /// A creator request without a live API key.
    pub fn unauthorized() -> Self {
        Self::problem(ErrorCode::Unauthorized, "send Authorization: Bearer <API key> with a live efs_live_ key")
    }

    pub fn not_found(what: &str) -> Self {
        Self::problem(ErrorCode::NotFound, format!("{what} not found"))
    }

    /// What the client sees.
    pub fn to_problem(&self) -> Problem {
        match self {
            ApiError::Problem(p) => p.clone(),
            ApiError::Db(e) if e.is_transient() => {
                Problem::new(ErrorCode::Unavailable, "the database is unavailable; try again shortly")
            }
            _ => Problem::new(ErrorCode::Internal, "internal error; it has been logged"),
        }
    }

    pub fn into_response(self) -> Response {
        let problem = self.to_problem();
        if problem.http_status() >= 500 {
            crate::log::error("request failed", &[("code", problem.code.as_str()), ("detail", &self.to_string())]);
        }
        json_response(problem.http_status(), &ErrorBody::from(&problem))
    }
}

/// 302 to `location` (a signed download link).
pub fn redirect(location: &str) -> Result<Response, ApiError> {
    let headers = worker::Headers::new();
    headers.set("location", location)?;
    Ok(Response::empty()?.with_status(302).with_headers(headers))
}

/// A JSON response with the given status.
pub fn json_response<T: serde::Serialize>(status: u16, body: &T) -> Response {
    match Response::from_json(body) {
        Ok(r) => r.with_status(status),
        Err(_) => Response::error("internal error", 500).expect("plain response"),
    }
}
