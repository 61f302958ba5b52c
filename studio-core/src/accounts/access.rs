//! Who is calling, and may they: the API key check and the per-key rate limit of every creator request,
//! run as the first two statements of the request's one transaction (no extra round trip).
//!
//! The first statement spends one unit of the key's rate budget (GCRA: the key's row keeps the
//! theoretical arrival time `rate_tat`; a request is admitted while `max(tat, now) + interval` stays
//! within one period of now, so a full minute's budget may arrive as a burst) and stamps the row with
//! this request's random nonce. The request's own statements find their owner through [`Owner`] — the
//! account of the key row carrying that nonce — so when the key is unknown, revoked or over its
//! budget they match nothing and write nothing, and the second statement tells which it was.

use std::cell::RefCell;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::hrana::{DbError, HranaClient, HttpTransport, Rows, Stmt, Value};

pub const API_KEY_PREFIX: &str = "efs_live_";

/// A new API key from 32 random bytes.
pub fn new_api_key(random: &[u8; 32]) -> String {
    format!("{API_KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(random))
}

/// What is stored of a key: its SHA-256, hex. A key has 256 bits of randomness, so a fast hash is enough.
pub fn key_hash(api_key: &str) -> String {
    Sha256::digest(api_key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The window the per-minute budget refills over.
pub const RATE_PERIOD_MS: i64 = 60_000;

/// The caller's account inside an [`Owner::scope`]d statement.
pub const OWNER_ID: &str = "(SELECT id FROM owner)";

/// A creator request's credentials: the hash of the key it sent and a nonce of its own.
#[derive(Clone)]
pub struct Caller {
    key_hash: String,
    nonce: String,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Caller(**redacted**)")
    }
}

impl Caller {
    /// `None` when the bearer value is not shaped like an API key (no database is asked).
    pub fn from_api_key(api_key: &str, nonce: String) -> Option<Caller> {
        let secret = api_key.strip_prefix(API_KEY_PREFIX)?;
        let shaped = (32..=64).contains(&secret.len())
            && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        shaped.then(|| Caller { key_hash: key_hash(api_key), nonce })
    }

    /// The owner of this request's rows: the account of the key row this request stamped.
    pub fn owner(&self) -> Owner {
        Owner {
            cte: "WITH owner(id) AS (SELECT account_id FROM api_keys WHERE key_hash = ? AND request_nonce = ?) ",
            args: vec![Value::from(self.key_hash.as_str()), Value::from(self.nonce.as_str())],
        }
    }
}

/// Whose rows a statement may see: a `WITH owner(id)` prefix its SQL reads as [`OWNER_ID`].
#[derive(Debug, Clone)]
pub struct Owner {
    cte: &'static str,
    args: Vec<Value>,
}

impl Owner {
    /// A named account (the operator's views).
    pub fn account(account_id: &str) -> Owner {
        Owner { cte: "WITH owner(id) AS (SELECT ?) ", args: vec![Value::from(account_id)] }
    }

    /// Prefixes `stmt` with the owner, so its SQL may read [`OWNER_ID`] anywhere.
    pub fn scope(&self, mut stmt: Stmt) -> Stmt {
        stmt.sql = stmt.sql.map(|sql| format!("{}{sql}", self.cte));
        let mut args = self.args.clone();
        args.append(&mut stmt.args);
        stmt.args = args;
        stmt
    }
}

/// The deployment's default budget (an account may carry its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatePolicy {
    pub per_minute: i64,
}

/// A key's budget after this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateState {
    pub limit: i64,
    pub remaining: i64,
    /// Seconds until the whole budget is back.
    pub reset_sec: i64,
    /// Seconds until one more request is admitted (0 when admitted now).
    pub retry_after_sec: i64,
}

/// The outcome of the check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    Allowed {
        account_id: String,
        rate: RateState,
    },
    /// No such key, or it was revoked.
    Unauthorized,
    Limited(RateState),
}

/// Why a creator request's statements did not run.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("the API key is unknown or revoked")]
    Unauthorized,
    #[error("the API key's rate limit is spent")]
    Limited(RateState),
    /// The request was understood and refused (e.g. over a quota); nothing was created.
    #[error(transparent)]
    Refused(#[from] crate::error_code::Problem),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// One creator request: its caller, the clock, the default budget, and the check's outcome once run.
#[derive(Debug)]
pub struct Session {
    caller: Caller,
    policy: RatePolicy,
    now_ms: i64,
    gate: RefCell<Option<Gate>>,
}

impl Session {
    pub fn new(caller: Caller, policy: RatePolicy, now_ms: i64) -> Self {
        Session { caller, policy, now_ms, gate: RefCell::new(None) }
    }

    /// Whose rows this request may touch: before the key check, the account of the key row this
    /// request stamps; once admitted (a request's later round trips), that account by id.
    pub fn owner(&self) -> Owner {
        match self.account_id() {
            Some(account_id) => Owner::account(&account_id),
            None => self.caller.owner(),
        }
    }

    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// The check's outcome, once a transaction ran it.
    pub fn gate(&self) -> Option<Gate> {
        self.gate.borrow().clone()
    }

    /// The caller's account, once admitted.
    pub fn account_id(&self) -> Option<String> {
        match &*self.gate.borrow() {
            Some(Gate::Allowed { account_id, .. }) => Some(account_id.clone()),
            _ => None,
        }
    }
}

/// Runs `stmts` in one transaction behind the key check and rate limit; returns their rows when the
/// caller was admitted. (With no statements it is the check alone.) A request's later round trips
/// (after an idempotency reservation) run as the admitted account without a second charge.
pub async fn run<T: HttpTransport>(
    db: &HranaClient<T>,
    session: &Session,
    stmts: Vec<Stmt>,
) -> Result<Vec<Rows>, AccessError> {
    if session.account_id().is_some() {
        // Checked and charged once per request, by its first round trip.
        return Ok(db.transaction(stmts).await?);
    }
    let mut all: Vec<Stmt> = gate_stmts(session).into();
    all.extend(stmts);
    let mut rows = db.transaction(all).await?;
    let own = rows.split_off(2);
    let gate = read_gate(&rows[0], &rows[1], session.now_ms)?;
    *session.gate.borrow_mut() = Some(gate.clone());
    match gate {
        Gate::Allowed { .. } => Ok(own),
        Gate::Unauthorized => Err(AccessError::Unauthorized),
        Gate::Limited(rate) => Err(AccessError::Limited(rate)),
    }
}

/// The budget expression: the account's own per-minute limit, else the default (one argument).
const LIMIT_SQL: &str =
    "coalesce((SELECT quota_requests_per_minute FROM accounts WHERE accounts.id = api_keys.account_id), ?)";

fn gate_stmts(session: &Session) -> [Stmt; 2] {
    let now = Value::from(session.now_ms);
    let default = Value::from(session.policy.per_minute.max(1));
    let interval = format!("max(1, {RATE_PERIOD_MS} / max(1, {LIMIT_SQL}))");
    let spend = Stmt::new(
        format!(
            "UPDATE api_keys SET rate_tat = max(rate_tat, ?) + {interval}, request_nonce = ? \
             WHERE key_hash = ? AND revoked_at IS NULL AND max(rate_tat, ?) + {interval} - ? <= {RATE_PERIOD_MS} \
             RETURNING account_id, rate_tat, {LIMIT_SQL} AS rate_limit"
        ),
        vec![
            now.clone(),
            default.clone(),
            Value::from(session.caller.nonce.as_str()),
            Value::from(session.caller.key_hash.as_str()),
            now.clone(),
            default.clone(),
            now,
            default.clone(),
        ],
    );
    let state = Stmt::new(
        format!("SELECT rate_tat, {LIMIT_SQL} AS rate_limit FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL"),
        vec![default, Value::from(session.caller.key_hash.as_str())],
    );
    [spend, state]
}

fn read_gate(spent: &Rows, state: &Rows, now_ms: i64) -> Result<Gate, DbError> {
    if let Some(row) = spent.first() {
        let rate = rate_state(row.int("rate_tat")?, row.int("rate_limit")?, now_ms);
        return Ok(Gate::Allowed { account_id: row.text("account_id")?, rate });
    }
    match state.first() {
        None => Ok(Gate::Unauthorized),
        Some(row) => Ok(Gate::Limited(rate_state(row.int("rate_tat")?, row.int("rate_limit")?, now_ms))),
    }
}

/// The budget left given the key's arrival time after this request (`tat`).
pub fn rate_state(tat: i64, limit: i64, now_ms: i64) -> RateState {
    let limit = limit.max(1);
    let interval = (RATE_PERIOD_MS / limit).max(1);
    let backlog = (tat - now_ms).max(0);
    let remaining = ((RATE_PERIOD_MS - backlog) / interval).clamp(0, limit);
    let ceil_sec = |ms: i64| (ms.max(0) + 999) / 1000;
    RateState {
        limit,
        remaining,
        reset_sec: ceil_sec(backlog),
        retry_after_sec: if remaining > 0 { 0 } else { ceil_sec(backlog + interval - RATE_PERIOD_MS).max(1) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_key_shaped_bearers_become_callers() {
        let key = crate::accounts::new_api_key(&[3u8; 32]);
        assert!(Caller::from_api_key(&key, "n".into()).is_some());
        for bad in ["", "efs_live_", "efs_live_short", "Bearer x", "operator-token-of-any-length-1234567890"] {
            assert!(Caller::from_api_key(bad, "n".into()).is_none(), "{bad}");
        }
        assert!(!format!("{:?}", Caller::from_api_key(&key, "n".into()).unwrap()).contains(&key[9..]));
    }

    #[test]
    fn the_budget_refills_over_a_minute_and_allows_a_burst() {
        let now = 1_000_000;
        // A fresh key after one request: a full minute's budget less one.
        let first = rate_state(now + 500, 120, now);
        assert_eq!((first.limit, first.remaining, first.reset_sec, first.retry_after_sec), (120, 119, 1, 0));
        // After a burst of 120 the backlog is the whole period: nothing left, next one in half a second.
        let spent = rate_state(now + 60_000, 120, now);
        assert_eq!((spent.remaining, spent.reset_sec, spent.retry_after_sec), (0, 60, 1));
        // Thirty seconds later half the budget is back.
        assert_eq!(rate_state(now + 60_000, 120, now + 30_000).remaining, 60);
        let slow = rate_state(now + 60_000, 2, now);
        assert_eq!((slow.remaining, slow.retry_after_sec), (0, 30));
    }
}
