//! Creator accounts and their API keys, as the operator manages them (`/api/admin/*`). An API key is
//! `efs_live_` + 256 random bits (base64url), shown once when it is made and stored only as its SHA-256;
//! revoking it takes effect on the next request. Each account gets its own Standard Webhooks secret for
//! the callbacks it will receive. Randomness comes from the caller (the edge's CSPRNG).

pub mod access;
pub mod idempotency;
pub mod quotas;

use base64::engine::general_purpose::STANDARD;
#[cfg(test)]
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error_code::{ErrorCode, Problem};
use crate::hrana::{DbError, HranaClient, HttpTransport, Stmt, Value};
use access::{AccessError, Owner, Session, OWNER_ID};
use quotas::{QuotaDefaults, Usage};

/// How long the previous webhook secret still signs (beside the new one) after a rotation.
pub const PREVIOUS_SECRET_GRACE_MS: i64 = 24 * 60 * 60 * 1000;

pub use crate::accounts::access::{key_hash, new_api_key, API_KEY_PREFIX};

/// A new account webhook secret (`whsec_` + base64 of 24 random bytes).
pub fn new_webhook_secret(random: &[u8; 24]) -> String {
    format!("whsec_{}", STANDARD.encode(random))
}

/// Per-account limits; `None` takes the deployment's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Quotas {
    pub storage_bytes: Option<i64>,
    pub render_seconds_per_day: Option<i64>,
    pub active_jobs: Option<i64>,
    pub requests_per_minute: Option<i64>,
}

/// `POST /api/admin/accounts`'s body.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateAccount {
    pub name: String,
    #[serde(default)]
    pub quotas: Quotas,
}

impl CreateAccount {
    pub fn validate(&self) -> Result<(), Problem> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 120 || name.chars().any(char::is_control) {
            return Err(Problem::new(ErrorCode::InvalidRequest, "name: 1–120 printable characters"));
        }
        let q = &self.quotas;
        for (field, value) in [
            ("quotas.storageBytes", q.storage_bytes),
            ("quotas.renderSecondsPerDay", q.render_seconds_per_day),
            ("quotas.activeJobs", q.active_jobs),
        ] {
            if value.is_some_and(|v| v < 0) {
                return Err(Problem::new(ErrorCode::InvalidRequest, format!("{field}: must be 0 or more")));
            }
        }
        if q.requests_per_minute.is_some_and(|v| !(1..=60_000).contains(&v)) {
            return Err(Problem::new(ErrorCode::InvalidRequest, "quotas.requestsPerMinute: from 1 to 60000"));
        }
        Ok(())
    }
}

/// An account as the operator sees it (never its keys' hashes).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    pub account_id: String,
    pub name: String,
    pub quotas: Quotas,
    /// Usage against the limits in force (the account's own, else the deployment's).
    pub usage: Option<crate::accounts::quotas::Usage>,
    pub keys: Vec<KeyView>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    pub key_id: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// Creates an account; returns its id.
pub async fn create<T: HttpTransport>(
    db: &HranaClient<T>,
    request: &CreateAccount,
    webhook_secret: &str,
    now_ms: i64,
) -> Result<String, DbError> {
    let q = &request.quotas;
    let rows = db
        .execute(Stmt::new(
            "INSERT INTO accounts (name, webhook_secret, quota_storage_bytes, quota_render_seconds_day, \
             quota_active_jobs, quota_requests_per_minute, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            vec![
                Value::from(request.name.trim()),
                Value::from(webhook_secret),
                Value::from(q.storage_bytes),
                Value::from(q.render_seconds_per_day),
                Value::from(q.active_jobs),
                Value::from(q.requests_per_minute),
                Value::from(now_ms),
            ],
        ))
        .await?;
    rows.first().ok_or_else(|| DbError::Decode("insert returned no row".into()))?.text("id")
}

/// Stores a key (by its hash) for an existing account; `None` when there is no such account.
pub async fn add_key<T: HttpTransport>(
    db: &HranaClient<T>,
    account_id: &str,
    hash: &str,
    now_ms: i64,
) -> Result<Option<String>, DbError> {
    let rows = db
        .execute(Stmt::new(
            "INSERT INTO api_keys (account_id, key_hash, created_at) SELECT id, ?, ? FROM accounts WHERE id = ? \
             RETURNING id",
            vec![Value::from(hash), Value::from(now_ms), Value::from(account_id)],
        ))
        .await?;
    rows.first().map(|r| r.text("id")).transpose()
}

/// Revokes a key; `false` when there is no such key or it was revoked already.
pub async fn revoke_key<T: HttpTransport>(db: &HranaClient<T>, key_id: &str, now_ms: i64) -> Result<bool, DbError> {
    let rows = db
        .execute(Stmt::new(
            "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL RETURNING id",
            vec![Value::from(now_ms), Value::from(key_id)],
        ))
        .await?;
    Ok(!rows.is_empty())
}

/// The account with its keys and usage, in one round trip.
pub async fn get<T: HttpTransport>(
    db: &HranaClient<T>,
    account_id: &str,
    defaults: &QuotaDefaults,
    now_ms: i64,
) -> Result<Option<AccountView>, DbError> {
    let outcomes = db
        .transaction(vec![
            Stmt::new(
                "SELECT a.id, a.name, a.quota_storage_bytes, a.quota_render_seconds_day, a.quota_active_jobs, \
                 a.quota_requests_per_minute, a.created_at, k.id AS key_id, k.created_at AS key_created_at, \
                 k.revoked_at FROM accounts a LEFT JOIN api_keys k ON k.account_id = a.id WHERE a.id = ? \
                 ORDER BY k.created_at, k.id",
                vec![Value::from(account_id)],
            ),
            quotas::usage_stmt(&Owner::account(account_id), defaults, now_ms),
        ])
        .await?;
    let rows = &outcomes[0];
    let Some(first) = rows.first() else { return Ok(None) };
    let usage = outcomes[1].first().map(|r| Usage::from_row(&r, now_ms)).transpose()?;
    let mut view = AccountView {
        account_id: first.text("id")?,
        name: first.text("name")?,
        quotas: Quotas {
            storage_bytes: first.opt_int("quota_storage_bytes")?,
            render_seconds_per_day: first.opt_int("quota_render_seconds_day")?,
            active_jobs: first.opt_int("quota_active_jobs")?,
            requests_per_minute: first.opt_int("quota_requests_per_minute")?,
        },
        usage,
        keys: Vec::new(),
        created_at: first.int("created_at")?,
    };
    for row in rows.iter() {
        if let Some(key_id) = row.opt_text("key_id")? {
            view.keys.push(KeyView {
                key_id,
                created_at: row.int("key_created_at")?,
                revoked_at: row.opt_int("revoked_at")?,
            });
        }
    }
    Ok(Some(view))
}

/// `GET /api/usage`: the caller's usage and limits.
pub async fn usage<T: HttpTransport>(
    db: &HranaClient<T>,
    session: &Session,
    defaults: &QuotaDefaults,
) -> Result<Usage, AccessError> {
    let rows = access::run(db, session, vec![quotas::usage_stmt(&session.owner(), defaults, session.now_ms())]).await?;
    let row = rows[0].first().ok_or_else(|| DbError::Decode("usage returned no row".into()))?;
    Ok(Usage::from_row(&row, session.now_ms())?)
}

/// Replaces the caller's webhook secret with `new_secret`; the old one keeps signing beside it for
/// [`PREVIOUS_SECRET_GRACE_MS`], so receivers can switch without dropping a callback.
pub async fn rotate_webhook_secret<T: HttpTransport>(
    db: &HranaClient<T>,
    session: &Session,
    new_secret: &str,
) -> Result<i64, AccessError> {
    let until = session.now_ms() + PREVIOUS_SECRET_GRACE_MS;
    let stmt = session.owner().scope(Stmt::new(
        format!(
            "UPDATE accounts SET previous_webhook_secret = webhook_secret, previous_secret_until = ?, \
             webhook_secret = ? WHERE id = {OWNER_ID} RETURNING id"
        ),
        vec![Value::from(until), Value::from(new_secret)],
    ));
    let rows = access::run(db, session, vec![stmt]).await?;
    if rows[0].is_empty() {
        return Err(DbError::Decode("rotation changed no account".into()).into());
    }
    Ok(until)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_256_random_bits_and_only_their_hash_is_kept() {
        let key = new_api_key(&[7u8; 32]);
        assert!(key.starts_with(API_KEY_PREFIX));
        assert_eq!(URL_SAFE_NO_PAD.decode(&key[API_KEY_PREFIX.len()..]).unwrap(), [7u8; 32]);
        let hash = key_hash(&key);
        assert_eq!(hash.len(), 64);
        assert!(!hash.contains(&key[API_KEY_PREFIX.len()..]));
        assert_ne!(key_hash(&new_api_key(&[8u8; 32])), hash);
        assert!(crate::webhooks::WebhookSecret::parse(&new_webhook_secret(&[1u8; 24])).is_some());
    }

    #[test]
    fn account_requests_are_checked() {
        let ok: CreateAccount = serde_json::from_str(r#"{"name": "Ada", "quotas": {"activeJobs": 3}}"#).unwrap();
        assert_eq!(ok.validate(), Ok(()));
        let empty: CreateAccount = serde_json::from_str(r#"{"name": "  "}"#).unwrap();
        assert!(empty.validate().unwrap_err().message.starts_with("name"));
        let negative: CreateAccount = serde_json::from_str(r#"{"name": "a", "quotas": {"storageBytes": -1}}"#).unwrap();
        assert!(negative.validate().unwrap_err().message.starts_with("quotas.storageBytes"));
        assert!(serde_json::from_str::<CreateAccount>(r#"{"name": "a", "admin": true}"#).is_err());
    }
}
