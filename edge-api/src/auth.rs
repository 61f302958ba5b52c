//! Bearer-token authentication for `/api/*`.

use studio_core::ErrorCode;
use worker::Request;

use crate::error::ApiError;

pub fn require_api_token(req: &Request, expected: &str) -> Result<(), ApiError> {
    let given = req.headers().get("authorization").ok().flatten();
    let token = given.as_deref().and_then(|h| h.strip_prefix("Bearer ")).map(str::trim);
    match token {
        Some(t) if constant_time_eq(t.as_bytes(), expected.as_bytes()) => Ok(()),
        _ => Err(ApiError::problem(ErrorCode::Unauthorized, "send Authorization: Bearer <API token>")),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
