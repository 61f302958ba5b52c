//! A fresh, migrated database per test: its own turso-local in this process, reached through
//! studio-core's real Hrana client, with a creator account for the creator-facing operations.

use studio_core::accounts;
use studio_core::accounts::access::{Caller, RatePolicy, Session};

pub use crate::http::{database, Db};
use crate::turso::{self, TestTurso};

pub struct TestDb {
    pub db: Db,
    /// An account with a live key, for the creator-facing operations.
    pub creator: Creator,
    pub url: String,
    pub token: String,
    _server: TestTurso,
}

/// A new turso-local with every migration applied and one creator account.
pub async fn fresh() -> TestDb {
    let server = turso::start().await;
    let db = database(&server.url, Some(server.token.clone()));
    studio_core::db::migrate(&db, 0).await.unwrap();
    let creator = Creator::new(&db, "test creator").await;
    TestDb { db, creator, url: server.url.clone(), token: server.token.clone(), _server: server }
}

/// A creator account with a live API key, for calling the creator-facing operations directly.
pub struct Creator {
    pub account_id: String,
    api_key: String,
}

impl Creator {
    pub async fn new(db: &Db, name: &str) -> Creator {
        let request: accounts::CreateAccount = serde_json::from_value(serde_json::json!({ "name": name })).unwrap();
        let account_id = accounts::create(db, &request, "whsec_dGVzdC1zZWNyZXQ=", 0).await.unwrap();
        let api_key = accounts::new_api_key(&rand_bytes());
        accounts::add_key(db, &account_id, &accounts::key_hash(&api_key), 0).await.unwrap().unwrap();
        Creator { account_id, api_key }
    }

    /// A request by this creator at `now_ms` (a budget no test exhausts).
    pub fn at(&self, now_ms: i64) -> Session {
        let caller = Caller::from_api_key(&self.api_key, crate::random_hex(16)).unwrap();
        Session::new(caller, RatePolicy { per_minute: 60_000 }, now_ms)
    }

    pub fn owner(&self) -> Option<&str> {
        Some(&self.account_id)
    }
}

fn rand_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).unwrap();
    bytes
}

/// Rows for the creator-callback outbox, written as the edge and the worker would leave them.
pub mod callbacks {
    use serde_json::Value as Json;
    use studio_core::callbacks::{deliveries_from_rows, deliveries_stmt, DeliveryView};
    use studio_core::hrana::{Stmt, Value};

    use super::TestDb;

    /// An account with its webhook secret, and a previous one valid until a time.
    pub async fn account(t: &TestDb, id: &str, secret: &str, previous: Option<(&str, i64)>) {
        t.db.execute(Stmt::new(
            "INSERT INTO accounts (id, name, webhook_secret, previous_webhook_secret, previous_secret_until, \
             created_at) VALUES (?, 'Creator', ?, ?, ?, 1)",
            vec![
                Value::from(id),
                Value::from(secret),
                previous.map_or(Value::Null, |(s, _)| Value::from(s)),
                previous.map_or(Value::Null, |(_, until)| Value::from(until)),
            ],
        ))
        .await
        .unwrap();
    }

    /// A processing job of `account` with a callback URL.
    pub async fn job(t: &TestDb, id: &str, account: &str, callback_url: &str) {
        t.db.execute(Stmt::new(
            "INSERT INTO jobs (id, type, status, input, max_attempts, run_after, timeout_ms, created_at, \
             updated_at, account_id, callback_url) VALUES (?, 'render', 'processing', '{}', 3, 0, 60000, 1, 1, ?, ?)",
            vec![Value::from(id), Value::from(account), Value::from(callback_url)],
        ))
        .await
        .unwrap();
    }

    /// Ends a job the way any path does: one UPDATE of its status (the trigger writes the outbox row).
    pub async fn finish(t: &TestDb, id: &str, status: &str, result: Option<Json>, output_key: Option<&str>, at: i64) {
        let error = (status == "failed").then_some(("render_failed", "the render service gave up"));
        t.db.execute(Stmt::new(
            "UPDATE jobs SET status = ?, result = ?, output_key = ?, error_code = ?, error_message = ?, \
             finished_at = ?, updated_at = ? WHERE id = ?",
            vec![
                Value::from(status),
                result.map_or(Value::Null, |r| Value::from(r.to_string())),
                output_key.map_or(Value::Null, Value::from),
                error.map_or(Value::Null, |(code, _)| Value::from(code)),
                error.map_or(Value::Null, |(_, message)| Value::from(message)),
                Value::from(at),
                Value::from(at),
                Value::from(id),
            ],
        ))
        .await
        .unwrap();
    }

    /// What `owner` is shown of a job's callbacks.
    pub async fn deliveries(t: &TestDb, job_id: &str, owner: &str) -> Vec<DeliveryView> {
        let rows = t.db.execute(deliveries_stmt(job_id, "?", vec![Value::from(owner)])).await.unwrap();
        deliveries_from_rows(&rows).unwrap()
    }
}
