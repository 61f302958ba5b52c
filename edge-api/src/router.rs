//! Maps method and path to a route, and decides who may call it before any lookup: `/api/health` and
//! the render service's signed webhooks are public, `/api/admin/*` takes the operator token, every
//! other `/api/*` route a creator's API key. A creator request's key and rate limit are checked inside
//! the route's one transaction (`studio_core::accounts::access`); its answer carries the key's rate headers.

use studio_core::accounts::access::{self, Gate, RatePolicy, RateState};
use studio_core::ErrorCode;
use worker::{Env, Method, Request, Response};

use crate::auth::{creator_session, require_operator};
use crate::body;
use crate::context::Ctx;
use crate::creates::{self, Create};
use crate::error::ApiError;
use crate::routes::{account, admin, assets, blobs, edits, health, jobs, library, render, uploads, webhooks};

pub async fn handle(mut req: Request, env: Env) -> Response {
    let response = match route(&mut req, env).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    };
    body::discard_unread(&mut req).await;
    response
}

/// Who a route is for.
enum Audience {
    Public,
    Operator,
    Creator,
}

fn audience(segments: &[&str]) -> Audience {
    match segments {
        ["api", "health"] | ["api", "webhooks", "render"] => Audience::Public,
        ["api", "admin", ..] => Audience::Operator,
        _ => Audience::Creator,
    }
}

async fn route(req: &mut Request, env: Env) -> Result<Response, ApiError> {
    let url = req.url()?;
    let path = url.path().to_owned();
    let mut ctx = Ctx::new(&env, &url)?;

    if let Some(key) = path.strip_prefix(studio_core::signing::BLOB_PATH_PREFIX) {
        return blobs::handle(req, &ctx, key, url.query().unwrap_or("")).await;
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if segments.first() != Some(&"api") {
        return Err(ApiError::not_found("route"));
    }
    match audience(&segments) {
        Audience::Public => dispatch(req, &ctx, &segments, url.query().unwrap_or("")).await,
        Audience::Operator => {
            require_operator(req, ctx.config.api_token.expose())?;
            dispatch(req, &ctx, &segments, url.query().unwrap_or("")).await
        }
        Audience::Creator => {
            let policy = RatePolicy { per_minute: ctx.config.quotas.requests_per_minute };
            ctx.session = Some(creator_session(req, crate::random::nonce()?, policy, ctx.now_ms)?);
            let answer = dispatch(req, &ctx, &segments, url.query().unwrap_or("")).await;
            finish_creator(answer, &ctx).await
        }
    }
}

/// A creator's answer: a request the route refused before its transaction still has its key checked
/// and its budget spent (one round trip, the request's only one); every answer carries the rate headers.
async fn finish_creator(answer: Result<Response, ApiError>, ctx: &Ctx) -> Result<Response, ApiError> {
    let session = ctx.session()?;
    let answer = match answer {
        Err(refusal) if session.gate().is_none() => match access::run(&ctx.db, session, vec![]).await {
            Ok(_) => Err(refusal),
            Err(denied) => Err(denied.into()),
        },
        // Every creator route answers success only from behind the key check; one that did not would be
        // a bug, and must not pass unchecked.
        Ok(_) if session.gate().is_none() => {
            Err(ApiError::Runtime("a creator route answered without the key check".into()))
        }
        answer => answer,
    };
    let mut response = answer.unwrap_or_else(ApiError::into_response);
    let rate = match session.gate() {
        Some(Gate::Allowed { rate, .. }) => rate,
        Some(Gate::Limited(rate)) => {
            response.headers_mut().set("retry-after", &rate.retry_after_sec.to_string())?;
            rate
        }
        Some(Gate::Unauthorized) | None => return Ok(response),
    };
    set_rate_headers(&mut response, &rate)?;
    Ok(response)
}

/// `RateLimit-Policy` and `RateLimit` (IETF httpapi-ratelimit-headers): the per-key budget per minute,
/// what is left of it, and the seconds until it is whole again.
fn set_rate_headers(response: &mut Response, rate: &RateState) -> Result<(), ApiError> {
    let headers = response.headers_mut();
    headers.set("ratelimit-policy", &format!("\"per-key\";q={};w=60", rate.limit))?;
    headers.set("ratelimit", &format!("\"per-key\";r={};t={}", rate.remaining, rate.reset_sec))?;
    Ok(())
}

/// The original system's routes, answered by the canonical handlers with the canonical shapes.
fn canonical<'a>(method: &Method, segments: &[&'a str]) -> Option<(Method, Vec<&'a str>)> {
    let job_kinds = |kind: &[&str]| matches!(kind, ["ingest"] | ["edit", "preview"] | ["edit", "save"]);
    Some(match (method, segments) {
        (Method::Get, ["api", "audio", "jobs", id]) => (Method::Get, vec!["api", "jobs", id]),
        (Method::Post, ["api", "audio", "jobs", id, "cancel"]) => (Method::Post, vec!["api", "jobs", id, "cancel"]),
        (Method::Get, ["api", "audio", "assets"]) => (Method::Get, vec!["api", "assets"]),
        (Method::Get | Method::Delete, ["api", "audio", "assets", id]) => (method.clone(), vec!["api", "assets", id]),
        (Method::Get, ["api", "audio", "assets", id, "stream"]) => (Method::Get, vec!["api", "assets", id, "stream"]),
        (Method::Get, ["api", "render"]) => (Method::Get, vec!["api", "jobs"]),
        (Method::Get, ["api", "audio", "edit", "preview", id, "audio"]) => {
            (Method::Get, vec!["api", "jobs", id, "download"])
        }
        (Method::Get, ["api", "audio", rest @ .., id]) if job_kinds(rest) => (Method::Get, vec!["api", "jobs", id]),
        (Method::Delete, ["api", "audio", rest @ .., id]) if job_kinds(rest) => {
            (Method::Post, vec!["api", "jobs", id, "cancel"])
        }
        _ => return None,
    })
}

async fn dispatch(req: &mut Request, ctx: &Ctx, segments: &[&str], query: &str) -> Result<Response, ApiError> {
    if let Some((method, canonical)) = canonical(&req.method(), segments) {
        // `GET /api/render` lists render jobs, as the original's did.
        let query = if segments == ["api", "render"] { "type=render" } else { query };
        return route_to(req, ctx, method, &canonical, query).await;
    }
    route_to(req, ctx, req.method(), segments, query).await
}

async fn route_to(
    req: &mut Request,
    ctx: &Ctx,
    method: Method,
    segments: &[&str],
    query: &str,
) -> Result<Response, ApiError> {
    match (method, segments) {
        (Method::Get, ["api", "health"]) => health::get(ctx).await,
        (Method::Post, ["api", "webhooks", "render"]) => webhooks::render(req, ctx).await,
        (Method::Post, ["api", "admin", "accounts"]) => admin::create_account(req, ctx).await,
        (Method::Get, ["api", "admin", "accounts", id]) => admin::get_account(ctx, id).await,
        (Method::Post, ["api", "admin", "accounts", id, "keys"]) => admin::create_key(ctx, id).await,
        (Method::Delete, ["api", "admin", "keys", id]) => admin::revoke_key(ctx, id).await,
        (Method::Post, ["api", "uploads"]) => creates::handle(req, ctx, Create::Upload).await,
        (Method::Post, ["api", "audio", "ingest"]) => creates::handle(req, ctx, Create::Ingest).await,
        (Method::Post, ["api", "render"]) => creates::handle(req, ctx, Create::Render).await,
        (Method::Post, ["api", "audio", "edit", "preview"]) => creates::handle(req, ctx, Create::EditPreview).await,
        (Method::Post, ["api", "audio", "edit", "save"]) => creates::handle(req, ctx, Create::EditSave).await,
        (Method::Get, ["api", "render", "options"]) => render::options(ctx).await,
        (Method::Get, ["api", "audio", "edit", "options"]) => edits::options(ctx).await,
        (Method::Get, ["api", "jobs"]) => jobs::list(ctx, query).await,
        (Method::Get, ["api", "jobs", id]) => jobs::get(ctx, id).await,
        (Method::Get, ["api", "jobs", id, "events"]) => jobs::events(ctx, id).await,
        (Method::Get, ["api", "jobs", id, "deliveries"]) => jobs::deliveries(ctx, id).await,
        (Method::Get, ["api", "jobs", id, "download"]) => jobs::download(ctx, id).await,
        (Method::Post, ["api", "jobs", id, "cancel"]) => jobs::cancel(ctx, id).await,
        (Method::Get, ["api", "assets"]) => library::list(ctx, query).await,
        (Method::Get, ["api", "assets", id]) => assets::get(ctx, id).await,
        (Method::Delete, ["api", "assets", id]) => library::delete(ctx, id, query).await,
        (Method::Get, ["api", "assets", id, "stream"]) => library::stream(ctx, id, query).await,
        (Method::Get, ["api", "uploads", id]) => uploads::get(ctx, id).await,
        (Method::Get, ["api", "usage"]) => account::usage(ctx).await,
        (Method::Post, ["api", "webhook-secret", "rotate"]) => account::rotate_webhook_secret(ctx).await,
        (
            _,
            ["api", "health"]
            | ["api", "uploads"]
            | ["api", "uploads", _]
            | ["api", "audio", "ingest"]
            | ["api", "audio", "edit", "preview" | "save" | "options"]
            | ["api", "render"]
            | ["api", "render", "options"]
            | ["api", "jobs"]
            | ["api", "jobs", _]
            | ["api", "jobs", _, "events" | "cancel" | "deliveries" | "download"]
            | ["api", "assets"]
            | ["api", "assets", _]
            | ["api", "assets", _, "stream"]
            | ["api", "usage"]
            | ["api", "webhook-secret", "rotate"]
            | ["api", "admin", "accounts"]
            | ["api", "admin", "accounts", _]
            | ["api", "admin", "accounts", _, "keys"]
            | ["api", "admin", "keys", _]
            | ["api", "webhooks", "render"],
        ) => Err(ApiError::problem(ErrorCode::MethodNotAllowed, "method not allowed on this route")),
        _ => Err(ApiError::not_found("route")),
    }
}
