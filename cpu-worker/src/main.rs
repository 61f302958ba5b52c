//! `cpu-worker [run]` claims and runs jobs and delivers creators' callbacks; `cpu-worker migrate` applies
//! database migrations and exits.

use std::time::Duration;

use cpu_worker::callbacks::{self, DELIVERY_TIMEOUT};
use cpu_worker::config::Config;
use cpu_worker::outbound::Outbound;
use cpu_worker::runner::Runner;
use cpu_worker::telemetry;
use cpu_worker::transport::{database, now_ms, Db};
use cpu_worker::workdirs::WorkRoot;
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() {
    let command = std::env::args().nth(1).unwrap_or_else(|| "run".into());
    if !matches!(command.as_str(), "run" | "migrate") {
        eprintln!("usage: cpu-worker [run|migrate]");
        std::process::exit(2);
    }
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cpu-worker: {e}");
            std::process::exit(2);
        }
    };
    telemetry::init(config.json_logs);
    let db = database(&config.database_url, config.database_token.as_ref().map(|t| t.expose().to_owned()));
    if let Err(e) = migrate(&db).await {
        tracing::error!(error = %e, "migrations failed");
        std::process::exit(1);
    }
    if command == "migrate" {
        return;
    }
    let workroot = match WorkRoot::open(&config.temp_root) {
        Ok((root, removed)) => {
            tracing::info!(dir = %root.path().display(), stale_removed = removed, "scratch space ready");
            root
        }
        Err(e) => {
            tracing::error!(dir = %config.temp_root.display(), error = %e, "cannot prepare scratch space");
            std::process::exit(1);
        }
    };
    let shutdown = CancellationToken::new();
    tokio::spawn(forward_signals(shutdown.clone()));
    let outbound = Outbound::new(config.callbacks.allow_hosts.clone(), DELIVERY_TIMEOUT).without_redirects();
    let callback_config = config.callbacks.clone();
    let runner = Runner::new(config, db.clone(), workroot);
    let deliveries =
        tokio::spawn(callbacks::run(db, outbound, runner.blobs.clone(), callback_config, shutdown.clone()));
    runner.run(shutdown).await;
    let _ = deliveries.await;
}

/// Applies migrations, waiting up to 30 s for the database to come up (it may start alongside us).
async fn migrate(db: &Db) -> Result<(), studio_core::hrana::DbError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match studio_core::db::migrate(db, now_ms()).await {
            Ok(applied) => {
                tracing::info!(?applied, "migrations up to date");
                return Ok(());
            }
            Err(e) if e.is_transient() && tokio::time::Instant::now() < deadline => {
                tracing::warn!(error = %e, "database not reachable yet; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

async fn forward_signals(shutdown: CancellationToken) {
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
    shutdown.cancel();
}
