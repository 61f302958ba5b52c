//! `GET /api/health`: database and storage reachability; 503 names the failing check.

use serde_json::json;
use studio_core::hrana::Stmt;
use worker::Response;

use crate::context::Ctx;
use crate::error::{json_response, ApiError};

pub async fn get(ctx: &Ctx) -> Result<Response, ApiError> {
    let database = match ctx.db.execute(Stmt::new("SELECT 1", vec![])).await {
        Ok(_) => "ok",
        Err(e) => {
            worker::console_error!("health: database check failed: {}", studio_core::redact::scrub(&e.to_string()));
            "failing"
        }
    };
    let storage = match ctx.config.bucket.head("health/probe").await {
        Ok(_) => "ok",
        Err(e) => {
            worker::console_error!("health: storage check failed: {}", studio_core::redact::scrub(&e.to_string()));
            "failing"
        }
    };
    let healthy = database == "ok" && storage == "ok";
    let body = json!({
        "status": if healthy { "ok" } else { "degraded" },
        "checks": { "database": database, "storage": storage },
    });
    Ok(json_response(if healthy { 200 } else { 503 }, &body))
}
