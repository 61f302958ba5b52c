//! `POST /api/webhooks/render`: the render service's signed callbacks. No bearer token: the Standard
//! Webhooks signature (`WEBHOOK_SECRET`) is the credential, checked before the body is parsed. A bad or
//! stale signature is 401 and changes nothing; a verified event is applied at most once (by
//! `webhook-id`) and only with its job's token while the job runs — one Hrana round trip.

use serde_json::json;
use studio_core::render::events::{self as render_events, Applied, RenderEvent};
use studio_core::ErrorCode;
use worker::{Request, Response};

use crate::body;
use crate::context::Ctx;
use crate::error::{json_response, ApiError};

pub async fn render(req: &mut Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let secret = ctx.config.webhook_secret.as_ref().ok_or(ApiError::Config("WEBHOOK_SECRET"))?;
    let header = |name: &str| req.headers().get(name).ok().flatten();
    let (id, timestamp, signature) = (header("webhook-id"), header("webhook-timestamp"), header("webhook-signature"));
    let raw = body::bytes(req).await?;
    secret
        .verify(id.as_deref(), timestamp.as_deref(), signature.as_deref(), &raw, ctx.now_ms / 1000)
        .map_err(|e| ApiError::problem(ErrorCode::Unauthorized, e.to_string()))?;
    let event: RenderEvent = serde_json::from_slice(&raw)
        .map_err(|e| ApiError::problem(ErrorCode::InvalidRequest, format!("invalid webhook body: {e}")))?;
    let webhook_id = id.unwrap_or_default();
    let applied = render_events::apply(&ctx.db, &webhook_id, &nonce(ctx.now_ms), &event, ctx.now_ms).await?;
    let outcome = match applied {
        Applied::Applied => "applied",
        Applied::Duplicate => "duplicate",
        Applied::Ignored => "ignored",
    };
    Ok(json_response(200, &json!({ "outcome": outcome })))
}

/// Unique to this request (it marks the webhook receipt this request stored), not a secret.
fn nonce(now_ms: i64) -> String {
    let random = (js_sys::Math::random() * (1u64 << 52) as f64) as u64;
    format!("{now_ms:x}-{random:013x}")
}
