//! `GET /api/health`: database, storage and render-service reachability; 503 names the failing check.
//! The render check is `not_configured` (and does not degrade health) where no `RENDER_SERVICE_URL` is
//! bound.

use futures_util::future::Either;
use serde_json::json;
use studio_core::hrana::Stmt;
use worker::{Fetch, Response};

use crate::context::Ctx;
use crate::error::{json_response, ApiError};

pub async fn get(ctx: &Ctx) -> Result<Response, ApiError> {
    let database = match ctx.db.execute(Stmt::new("SELECT 1", vec![])).await {
        Ok(_) => "ok",
        Err(e) => failing("database", &e.to_string()),
    };
    let storage = match ctx.config.bucket.head("health/probe").await {
        Ok(_) => "ok",
        Err(e) => failing("storage", &e.to_string()),
    };
    let render = match &ctx.config.render_service_url {
        None => "not_configured",
        Some(base) => render_check(base).await,
    };
    let healthy = database == "ok" && storage == "ok" && render != "failing";
    let body = json!({
        "status": if healthy { "ok" } else { "degraded" },
        "checks": { "database": database, "storage": storage, "render": render },
    });
    Ok(json_response(if healthy { 200 } else { 503 }, &body))
}

const RENDER_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The render service's public `GET /health`.
async fn render_check(base: &str) -> &'static str {
    let url = match worker::Url::parse(&format!("{base}/health")) {
        Ok(url) => url,
        Err(e) => return failing("render", &e.to_string()),
    };
    let request = Fetch::Url(url);
    let fetch = request.send();
    let timeout = worker::Delay::from(RENDER_CHECK_TIMEOUT);
    futures_util::pin_mut!(fetch, timeout);
    match futures_util::future::select(fetch, timeout).await {
        Either::Left((Ok(r), _)) if r.status_code() == 200 => "ok",
        Either::Left((Ok(r), _)) => failing("render", &format!("HTTP {}", r.status_code())),
        Either::Left((Err(e), _)) => failing("render", &e.to_string()),
        Either::Right(_) => failing("render", "no answer in time"),
    }
}

fn failing(check: &str, detail: &str) -> &'static str {
    crate::log::error("health check failed", &[("check", check), ("detail", detail)]);
    "failing"
}
