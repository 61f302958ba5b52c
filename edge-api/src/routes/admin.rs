//! `/api/admin/*`: the operator (the `API_TOKEN` bearer) manages creator accounts and their API keys.
//! A key is returned once, when it is made; only its hash is stored.

use serde_json::json;
use studio_core::accounts::{self, CreateAccount};
use worker::{Request, Response};

use crate::body;
use crate::context::Ctx;
use crate::error::{json_response, ApiError};
use crate::random;

/// `POST /api/admin/accounts {name, quotas?}` → 201 with the account's webhook secret (shown here only).
pub async fn create_account(req: &mut Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let request: CreateAccount = body::json(req).await?;
    request.validate()?;
    let webhook_secret = accounts::new_webhook_secret(&random::bytes::<24>()?);
    let account_id = accounts::create(&ctx.db, &request, &webhook_secret, ctx.now_ms).await?;
    let body = json!({
        "accountId": account_id,
        "name": request.name.trim(),
        "quotas": request.quotas,
        "webhookSecret": webhook_secret,
        "createdAt": ctx.now_ms,
    });
    Ok(json_response(201, &body))
}

/// `POST /api/admin/accounts/{id}/keys` → 201 `{keyId, apiKey}`; the key is never shown again.
pub async fn create_key(ctx: &Ctx, account_id: &str) -> Result<Response, ApiError> {
    let api_key = accounts::new_api_key(&random::bytes::<32>()?);
    match accounts::add_key(&ctx.db, account_id, &accounts::key_hash(&api_key), ctx.now_ms).await? {
        Some(key_id) => Ok(json_response(201, &json!({ "keyId": key_id, "accountId": account_id, "apiKey": api_key }))),
        None => Err(ApiError::not_found("account")),
    }
}

/// `DELETE /api/admin/keys/{keyId}` → 204; unknown or already revoked → 404.
pub async fn revoke_key(ctx: &Ctx, key_id: &str) -> Result<Response, ApiError> {
    if accounts::revoke_key(&ctx.db, key_id, ctx.now_ms).await? {
        Ok(Response::empty()?.with_status(204))
    } else {
        Err(ApiError::not_found("key"))
    }
}

/// `GET /api/admin/accounts/{id}`: name, quotas, usage and keys (ids and dates only).
pub async fn get_account(ctx: &Ctx, account_id: &str) -> Result<Response, ApiError> {
    let view = accounts::get(&ctx.db, account_id, &ctx.config.quotas, ctx.now_ms)
        .await?
        .ok_or_else(|| ApiError::not_found("account"))?;
    Ok(json_response(200, &view))
}
