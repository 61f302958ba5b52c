//! Idempotent creates (`Idempotency-Key`, per account, kept 24 h): the first request with a key reserves
//! it with the hash of its route and body; a repeat with the same hash gets the first answer back, one
//! with another body is a conflict. The reservation rides in the request's key check (one round trip);
//! storing the answer afterwards is one more.

use sha2::{Digest, Sha256};

use crate::accounts::access::{self, AccessError, Session, OWNER_ID};
use crate::error_code::{ErrorCode, Problem};
use crate::hrana::{DbError, HranaClient, HttpTransport, Stmt, Value};

/// How long a key and its answer are kept.
pub const KEY_TTL_MS: i64 = 24 * 60 * 60 * 1000;

/// A reservation never answered (the request died) is taken over by a repeat after this long.
pub const STALE_RESERVATION_MS: i64 = 60 * 1000;

/// Checks the header's value: 1–255 visible ASCII characters.
pub fn parse_key(value: &str) -> Result<String, Problem> {
    let key = value.trim();
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Problem::new(ErrorCode::InvalidRequest, "Idempotency-Key: 1 to 255 visible ASCII characters"));
    }
    Ok(key.to_owned())
}

/// What a request is, for telling a repeat from a different request under the same key: the route and
/// the body as canonical JSON (object keys sorted).
pub fn request_hash(route: &str, body: &serde_json::Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update(route.as_bytes());
    hasher.update(b"\n");
    hasher.update(body.to_string().as_bytes());
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// What a reservation found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// First use of the key: answer the request, then [`finish`] (or [`release`] on a server error).
    Fresh,
    /// The same request was answered before: this is its answer.
    Replay { status: u16, body: String },
    /// The key was used with another request (or that request is still being answered).
    Conflict(Problem),
}

/// Reserves `key` for this request, behind the key check (this is the request's first round trip).
/// A key older than [`KEY_TTL_MS`] is free again.
pub async fn reserve<T: HttpTransport>(
    db: &HranaClient<T>,
    session: &Session,
    key: &str,
    hash: &str,
) -> Result<Reservation, AccessError> {
    let now = session.now_ms();
    let owner = session.owner();
    let reserve = owner.scope(Stmt::new(
        format!(
            "INSERT INTO idempotency_keys (account_id, idem_key, request_hash, created_at) \
             SELECT {OWNER_ID}, ?, ?, ? WHERE {OWNER_ID} IS NOT NULL \
             ON CONFLICT (account_id, idem_key) DO UPDATE SET request_hash = excluded.request_hash, status = NULL, \
               body = NULL, created_at = excluded.created_at WHERE idempotency_keys.created_at < ? \
               OR (idempotency_keys.status IS NULL AND idempotency_keys.request_hash = excluded.request_hash \
                   AND idempotency_keys.created_at < ?) \
             RETURNING 1 AS fresh"
        ),
        vec![
            Value::from(key),
            Value::from(hash),
            Value::from(now),
            Value::from(now - KEY_TTL_MS),
            Value::from(now - STALE_RESERVATION_MS),
        ],
    ));
    let existing = owner.scope(Stmt::new(
        format!(
            "SELECT request_hash, status, body FROM idempotency_keys WHERE account_id = {OWNER_ID} AND idem_key = ?"
        ),
        vec![Value::from(key)],
    ));
    let rows = access::run(db, session, vec![reserve, existing]).await?;
    if !rows[0].is_empty() {
        return Ok(Reservation::Fresh);
    }
    let row = rows[1].first().ok_or_else(|| DbError::Decode("idempotency key vanished".into()))?;
    let conflict = |why: &str| Reservation::Conflict(Problem::new(ErrorCode::IdempotencyConflict, why));
    if row.text("request_hash")? != hash {
        return Ok(conflict("this Idempotency-Key was used with a different request; use a new key"));
    }
    Ok(match (row.opt_int("status")?, row.opt_text("body")?) {
        (Some(status), Some(body)) => Reservation::Replay { status: status as u16, body },
        _ => conflict("a request with this Idempotency-Key is still being answered; retry shortly"),
    })
}

/// Stores the answer of the request that reserved `key`.
pub async fn finish<T: HttpTransport>(
    db: &HranaClient<T>,
    account_id: &str,
    key: &str,
    status: u16,
    body: &str,
) -> Result<(), DbError> {
    db.execute(Stmt::new(
        "UPDATE idempotency_keys SET status = ?, body = ? WHERE account_id = ? AND idem_key = ? AND status IS NULL",
        vec![Value::from(i64::from(status)), Value::from(body), Value::from(account_id), Value::from(key)],
    ))
    .await?;
    Ok(())
}

/// Frees `key` after a server error, so the request can be retried with it.
pub async fn release<T: HttpTransport>(db: &HranaClient<T>, account_id: &str, key: &str) -> Result<(), DbError> {
    db.execute(Stmt::new(
        "DELETE FROM idempotency_keys WHERE account_id = ? AND idem_key = ? AND status IS NULL",
        vec![Value::from(account_id), Value::from(key)],
    ))
    .await?;
    Ok(())
}

/// Forgets keys past their time (housekeeping).
pub async fn prune<T: HttpTransport>(db: &HranaClient<T>, now_ms: i64) -> Result<usize, DbError> {
    let rows = db
        .execute(Stmt::new(
            "DELETE FROM idempotency_keys WHERE created_at < ? RETURNING 1 AS gone",
            vec![Value::from(now_ms - KEY_TTL_MS)],
        ))
        .await?;
    Ok(rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_and_requests_hashed_canonically() {
        assert_eq!(parse_key(" abc-123 ").unwrap(), "abc-123");
        for bad in ["", "a b", "é", &"x".repeat(256)] {
            assert_eq!(parse_key(bad).unwrap_err().code, ErrorCode::InvalidRequest, "{bad:?}");
        }
        let a: serde_json::Value = serde_json::from_str(r#"{"b": 1, "a": [1, 2]}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{ "a": [1,2], "b": 1 }"#).unwrap();
        assert_eq!(request_hash("/api/render", &a), request_hash("/api/render", &b), "key order and spacing");
        assert_ne!(request_hash("/api/render", &a), request_hash("/api/uploads", &a), "another route");
        let c: serde_json::Value = serde_json::from_str(r#"{"b": 2, "a": [1, 2]}"#).unwrap();
        assert_ne!(request_hash("/api/render", &a), request_hash("/api/render", &c));
    }
}
