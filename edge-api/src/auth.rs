//! Bearer-token authentication for `/api/*`.

use studio_core::{bearer, ErrorCode};
use worker::Request;

use crate::error::ApiError;

pub fn require_api_token(req: &Request, expected: &str) -> Result<(), ApiError> {
    let header = req.headers().get("authorization").ok().flatten();
    if bearer::matches(header.as_deref(), expected) {
        Ok(())
    } else {
        Err(ApiError::problem(ErrorCode::Unauthorized, "send Authorization: Bearer <API token>"))
    }
}
