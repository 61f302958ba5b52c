//! A fresh turso-local per test, in-process on a free port, reached through the worker's real transport.

use std::time::Duration;

use cpu_worker::transport::{database, Db};

pub struct TestDb {
    pub db: Db,
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
    TestDb { db, url, _dir: dir }
}
