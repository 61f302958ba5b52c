//! `GET /api/assets/{id}`: the asset record, its audio facts, its waveform and a download link.

use studio_core::api::AssetView;
use studio_core::db::assets;
use studio_core::signing::{BlobGrant, BlobMethod};
use worker::Response;

use crate::context::Ctx;
use crate::error::{json_response, ApiError};

pub async fn get(ctx: &Ctx, asset_id: &str) -> Result<Response, ApiError> {
    let asset = assets::get(&ctx.db, ctx.session()?, asset_id).await?.ok_or_else(|| ApiError::not_found("asset"))?;
    let peaks = match ctx.config.bucket.get(asset.peaks_key.clone()).execute().await? {
        Some(object) => {
            let body = object.body().ok_or_else(|| ApiError::Storage("peaks object has no body".into()))?;
            serde_json::from_slice(&body.bytes().await?).map_err(|e| ApiError::Storage(format!("peaks: {e}")))?
        }
        None => return Err(ApiError::Storage(format!("peaks missing at {}", asset.peaks_key))),
    };
    let download_url = ctx.config.signing_key.url(
        &ctx.origin,
        &BlobGrant::object(BlobMethod::Get, &asset.original_key, ctx.now_ms + ctx.config.download_ttl_ms, 0),
    );
    Ok(json_response(
        200,
        &AssetView {
            asset_id: asset.id,
            filename: asset.original_filename,
            content_type: asset.content_type,
            size_bytes: asset.size_bytes,
            audio: asset.audio,
            peaks,
            download_url,
            created_at: asset.created_at,
        },
    ))
}
