//! Who may call: the operator token opens `/api/admin/*` only; every other `/api/*` route takes a
//! creator's API key, checked (with its rate limit) inside the route's own database transaction.

use studio_core::accounts::access::{Caller, RatePolicy, Session};
use studio_core::{bearer, ErrorCode};
use worker::Request;

use crate::error::ApiError;

fn authorization(req: &Request) -> Option<String> {
    req.headers().get("authorization").ok().flatten()
}

/// The operator's routes: the `API_TOKEN` bearer, compared in constant time.
pub fn require_operator(req: &Request, expected: &str) -> Result<(), ApiError> {
    if bearer::matches(authorization(req).as_deref(), expected) {
        Ok(())
    } else {
        Err(ApiError::problem(ErrorCode::Unauthorized, "send Authorization: Bearer <operator token>"))
    }
}

/// A creator's request: a bearer shaped like an API key (whether it is a live one is learnt in the
/// route's transaction). `nonce` is fresh randomness for this request.
pub fn creator_session(req: &Request, nonce: String, policy: RatePolicy, now_ms: i64) -> Result<Session, ApiError> {
    let header = authorization(req);
    let key = header.as_deref().and_then(|h| h.strip_prefix("Bearer ")).map(str::trim);
    key.and_then(|k| Caller::from_api_key(k, nonce))
        .map(|caller| Session::new(caller, policy, now_ms))
        .ok_or_else(ApiError::unauthorized)
}
