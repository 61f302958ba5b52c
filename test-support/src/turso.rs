//! A turso-local in this process, on a free port, over a fresh database file — the one way tests
//! start one (turso-local's own conformance tests and every database test).

use std::time::Duration;

/// A running turso-local; the server lives as long as the test's runtime, the file as long as this.
pub struct TestTurso {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    pub token: String,
    _dir: tempfile::TempDir,
}

/// Starts one (token `test-token`) whose streams close after turso-local's usual idle time.
pub async fn start() -> TestTurso {
    start_with_idle(turso_local::STREAM_IDLE).await
}

/// Starts one whose streams close when idle for `stream_idle`.
pub async fn start_with_idle(stream_idle: Duration) -> TestTurso {
    let dir = tempfile::tempdir().unwrap();
    let token = "test-token".to_owned();
    let server = turso_local::start(turso_local::Config {
        db_path: dir.path().join("test.db"),
        listen: "127.0.0.1:0".parse().unwrap(),
        auth_token: Some(token.clone()),
        stream_idle,
    })
    .await
    .unwrap();
    TestTurso { url: format!("http://{}", server.addr), token, _dir: dir }
}
