//! The caller's own account: `GET /api/usage` (usage against every limit) and
//! `POST /api/webhook-secret/rotate` (a new callback signing secret, shown once).

use serde_json::json;
use studio_core::accounts;
use worker::Response;

use crate::context::Ctx;
use crate::error::{json_response, ApiError};
use crate::random;

pub async fn usage(ctx: &Ctx) -> Result<Response, ApiError> {
    let usage = accounts::usage(&ctx.db, ctx.session()?, &ctx.config.quotas).await?;
    Ok(json_response(200, &usage))
}

/// The old secret keeps signing beside the new one until `previousSecretValidUntil`.
pub async fn rotate_webhook_secret(ctx: &Ctx) -> Result<Response, ApiError> {
    let secret = accounts::new_webhook_secret(&random::bytes::<24>()?);
    let until = accounts::rotate_webhook_secret(&ctx.db, ctx.session()?, &secret).await?;
    Ok(json_response(200, &json!({ "webhookSecret": secret, "previousSecretValidUntil": until })))
}
