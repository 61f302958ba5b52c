//! `turso-local`: a Turso-compatible Hrana-over-HTTP server on embedded SQLite, so the edge and the
//! worker speak the production protocol on a developer machine and in CI.

pub mod http;
pub mod sql;
pub mod streams;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::AppState;
use streams::Streams;

/// How long an unused stream (and any transaction it holds) lives, as in sqld.
pub const STREAM_IDLE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct Config {
    pub db_path: PathBuf,
    pub listen: SocketAddr,
    pub auth_token: Option<String>,
    pub stream_idle: Duration,
}

/// A running server: its bound address and the task serving it.
pub struct Server {
    pub addr: SocketAddr,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Binds and starts serving in the background.
pub async fn start(config: Config) -> std::io::Result<Server> {
    let streams = Streams::new(config.db_path.clone(), config.stream_idle);
    streams.connect().map_err(std::io::Error::other)?;
    let state = Arc::new(AppState { streams, auth_token: config.auth_token.filter(|t| !t.is_empty()) });
    let sweeper = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let expired = sweeper.streams.expire_idle();
            if expired > 0 {
                tracing::debug!(expired, "expired idle streams");
            }
        }
    });
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let app = http::router(state);
    let task = tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(Server { addr, task })
}
