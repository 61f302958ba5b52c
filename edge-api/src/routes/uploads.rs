//! `POST /api/uploads`: declares an upload (within the caller's storage quota) and hands back a signed
//! PUT URL for its bytes, under the caller's prefix.

use studio_core::api::{CreateUploadRequest, CreateUploadResponse};
use studio_core::db::uploads;
use studio_core::keys;
use studio_core::signing::{BlobGrant, BlobMethod};
use worker::Response;

use crate::body;
use crate::context::Ctx;
use crate::error::{json_response, ApiError};

pub async fn create(body: serde_json::Value, ctx: &Ctx) -> Result<Response, ApiError> {
    let request: CreateUploadRequest = body::from_value(body)?;
    request.validate()?;
    let upload = uploads::create(&ctx.db, ctx.session()?, &request, &ctx.config.quotas).await?;
    let key = keys::upload_source(upload.account_id.as_deref(), &upload.id);
    let grant = BlobGrant::object(BlobMethod::Put, &key, upload.expires_at, upload.declared_size);
    let body = CreateUploadResponse {
        upload_url: ctx.config.signing_key.url(&ctx.origin, &grant),
        upload_id: upload.id,
        method: "PUT".into(),
        expires_at: upload.expires_at,
    };
    Ok(json_response(201, &body))
}
