//! `POST /api/uploads`: declares an upload and hands back a signed PUT URL for its bytes.

use studio_core::api::{CreateUploadRequest, CreateUploadResponse};
use studio_core::db::uploads;
use studio_core::keys;
use studio_core::signing::{BlobGrant, BlobMethod};
use worker::{Request, Response};

use crate::body;
use crate::context::Ctx;
use crate::error::{json_response, ApiError};

pub async fn create(req: &mut Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let request: CreateUploadRequest = body::json(req).await?;
    request.validate()?;
    let upload = uploads::create(&ctx.db, &request, ctx.now_ms).await?;
    let grant =
        BlobGrant::object(BlobMethod::Put, &keys::upload_source(&upload.id), upload.expires_at, upload.declared_size);
    let body = CreateUploadResponse {
        upload_url: ctx.config.signing_key.url(&ctx.origin, &grant),
        upload_id: upload.id,
        method: "PUT".into(),
        expires_at: upload.expires_at,
    };
    Ok(json_response(201, &body))
}
