//! `turso-local --db PATH --listen ADDR [--auth-token TOKEN]`

use std::path::PathBuf;

use turso_local::{start, Config, STREAM_IDLE};

const USAGE: &str = "usage: turso-local --db PATH --listen ADDR [--auth-token TOKEN]";

fn parse_args() -> Result<Config, String> {
    let mut args = std::env::args().skip(1);
    let (mut db, mut listen, mut token) = (None, None, std::env::var("TURSO_LOCAL_AUTH_TOKEN").ok());
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--db" => db = Some(PathBuf::from(value()?)),
            "--listen" => listen = Some(value()?),
            "--auth-token" => token = Some(value()?),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    let listen = listen.ok_or_else(|| format!("--listen is required\n{USAGE}"))?;
    Ok(Config {
        db_path: db.ok_or_else(|| format!("--db is required\n{USAGE}"))?,
        listen: listen.parse().map_err(|e| format!("--listen {listen}: {e}"))?,
        auth_token: token,
        stream_idle: STREAM_IDLE,
    })
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let config = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let server = match start(config.clone()).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("turso-local: cannot start: {e}");
            std::process::exit(1);
        }
    };
    tracing::info!(addr = %server.addr, db = %config.db_path.display(), auth = config.auth_token.is_some(), "turso-local listening");
    tokio::select! {
        r = server.task => if let Ok(Err(e)) = r { eprintln!("turso-local: {e}"); std::process::exit(1); },
        _ = tokio::signal::ctrl_c() => {},
    }
}
