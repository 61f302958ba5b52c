//! Maps method and path to a route. Authentication for `/api/*` happens here, before any lookup, so
//! an unauthenticated caller learns nothing about which resources exist.

use studio_core::ErrorCode;
use worker::{Env, Method, Request, Response};

use crate::auth::require_api_token;
use crate::body;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::routes::{admin, assets, blobs, health, ingest, jobs, render, uploads, webhooks};

pub async fn handle(mut req: Request, env: Env) -> Response {
    let response = match route(&mut req, env).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    };
    body::discard_unread(&mut req).await;
    response
}

async fn route(req: &mut Request, env: Env) -> Result<Response, ApiError> {
    let url = req.url()?;
    let path = url.path().to_owned();
    let ctx = Ctx::new(&env, &url)?;
    let method = req.method();

    if let Some(key) = path.strip_prefix(studio_core::signing::BLOB_PATH_PREFIX) {
        return blobs::handle(req, &ctx, key, url.query().unwrap_or("")).await;
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if segments.first() != Some(&"api") {
        return Err(ApiError::not_found("route"));
    }
    // Health is public; the render service's webhooks carry a signature instead of the API token.
    if segments != ["api", "health"] && segments != ["api", "webhooks", "render"] {
        require_api_token(req, ctx.config.api_token.expose())?;
    }
    match (method, segments.as_slice()) {
        (Method::Get, ["api", "health"]) => health::get(&ctx).await,
        (Method::Post, ["api", "uploads"]) => uploads::create(req, &ctx).await,
        (Method::Post, ["api", "audio", "ingest"]) => ingest::create(req, &ctx).await,
        (Method::Post, ["api", "render"]) => render::create(req, &ctx).await,
        (Method::Get, ["api", "jobs"]) => jobs::list(&ctx, url.query().unwrap_or("")).await,
        (Method::Get, ["api", "jobs", id]) => jobs::get(&ctx, id).await,
        (Method::Get, ["api", "jobs", id, "events"]) => jobs::events(&ctx, id).await,
        (Method::Post, ["api", "jobs", id, "cancel"]) => jobs::cancel(&ctx, id).await,
        (Method::Get, ["api", "assets", id]) => assets::get(&ctx, id).await,
        (Method::Post, ["api", "admin", "accounts"]) => admin::create_account(req, &ctx).await,
        (Method::Get, ["api", "admin", "accounts", id]) => admin::get_account(&ctx, id).await,
        (Method::Post, ["api", "admin", "accounts", id, "keys"]) => admin::create_key(&ctx, id).await,
        (Method::Delete, ["api", "admin", "keys", id]) => admin::revoke_key(&ctx, id).await,
        (Method::Post, ["api", "webhooks", "render"]) => webhooks::render(req, &ctx).await,
        (
            _,
            ["api", "health"]
            | ["api", "uploads"]
            | ["api", "audio", "ingest"]
            | ["api", "render"]
            | ["api", "jobs"]
            | ["api", "jobs", _]
            | ["api", "jobs", _, "events" | "cancel"]
            | ["api", "assets", _]
            | ["api", "admin", "accounts"]
            | ["api", "admin", "accounts", _]
            | ["api", "admin", "accounts", _, "keys"]
            | ["api", "admin", "keys", _]
            | ["api", "webhooks", "render"],
        ) => Err(ApiError::problem(ErrorCode::MethodNotAllowed, "method not allowed on this route")),
        _ => Err(ApiError::not_found("route")),
    }
}
