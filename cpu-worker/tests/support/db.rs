//! A fresh turso-local per test, in-process on a free port, reached through the worker's real transport.

use std::time::Duration;

use cpu_worker::transport::{database, Db};

pub struct TestDb {
    pub db: Db,
    /// An account with a live key, for the creator-facing operations.
    pub creator: Creator,
    pub url: String,
    _dir: tempfile::TempDir,
}

pub async fn fresh() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let server = turso_local::start(turso_local::Config {
        db_path: dir.path().join("jobs.db"),
        listen: "127.0.0.1:0".parse().unwrap(),
        auth_token: Some("t".into()),
        stream_idle: Duration::from_secs(10),
    })
    .await
    .unwrap();
    let url = format!("http://{}", server.addr);
    let db = database(&url, Some("t".into()));
    studio_core::db::migrate(&db, 0).await.unwrap();
    let creator = Creator::new(&db, "test creator").await;
    TestDb { db, creator, url, _dir: dir }
}

/// A creator account with a live API key, for calling the creator-facing operations directly.
pub struct Creator {
    pub account_id: String,
    api_key: String,
}

impl Creator {
    pub async fn new(db: &Db, name: &str) -> Creator {
        use studio_core::accounts;
        let request: accounts::CreateAccount = serde_json::from_value(serde_json::json!({ "name": name })).unwrap();
        let account_id = accounts::create(db, &request, "whsec_dGVzdC1zZWNyZXQ=", 0).await.unwrap();
        let api_key = accounts::new_api_key(&rand_bytes());
        accounts::add_key(db, &account_id, &accounts::key_hash(&api_key), 0).await.unwrap().unwrap();
        Creator { account_id, api_key }
    }

    /// A request by this creator at `now_ms` (a budget no test exhausts).
    pub fn at(&self, now_ms: i64) -> studio_core::accounts::access::Session {
        use studio_core::accounts::access::{Caller, RatePolicy, Session};
        let caller = Caller::from_api_key(&self.api_key, cpu_worker::transport::random_hex(16)).unwrap();
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
