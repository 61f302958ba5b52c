//! Starts a turso-local on a free port over a fresh database file.

use std::time::Duration;

pub struct TestServer {
    pub url: String,
    pub token: String,
    _dir: tempfile::TempDir,
}

pub async fn start() -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let token = "conformance-token".to_owned();
    let server = turso_local::start(turso_local::Config {
        db_path: dir.path().join("test.db"),
        listen: "127.0.0.1:0".parse().unwrap(),
        auth_token: Some(token.clone()),
        stream_idle: Duration::from_millis(1500),
    })
    .await
    .unwrap();
    TestServer { url: format!("http://{}", server.addr), token, _dir: dir }
}
