//! `GET /api/assets/{id}`: the asset record, its audio facts, its waveform and a download link — and,
//! once a recipe was saved, the prepared audio's (what renders use by default) and the recipe.

use futures_util::future::try_join;
use studio_core::api::{variants, AssetView, PreparedView};
use studio_core::library::assets;
use worker::Response;

use crate::context::Ctx;
use crate::error::{json_response, ApiError};

pub async fn get(ctx: &Ctx, asset_id: &str) -> Result<Response, ApiError> {
    let asset = assets::get(&ctx.db, ctx.session()?, asset_id).await?.ok_or_else(|| ApiError::not_found("asset"))?;
    // The two waveforms are read at once.
    let prepared_peaks = async {
        match &asset.prepared {
            Some(p) => read_json(ctx, &p.peaks_key).await.map(Some),
            None => Ok(None),
        }
    };
    let (peaks, prepared_peaks) = try_join(read_json(ctx, &asset.peaks_key), prepared_peaks).await?;
    let prepared = match (&asset.prepared, prepared_peaks) {
        (Some(p), Some(peaks)) => Some(PreparedView {
            audio: p.audio.clone(),
            size_bytes: p.size_bytes,
            loudness: p.loudness,
            target: p.target,
            peaks,
            download_url: ctx.download_url(&p.key),
        }),
        _ => None,
    };
    let variants = variants(prepared.is_some());
    Ok(json_response(
        200,
        &AssetView {
            asset_id: asset.id,
            filename: asset.original_filename,
            content_type: asset.content_type,
            size_bytes: asset.size_bytes,
            audio: asset.audio,
            peaks,
            download_url: ctx.download_url(&asset.original_key),
            variants,
            prepared,
            last_recipe: asset.last_recipe,
            created_at: asset.created_at,
        },
    ))
}

/// A JSON blob (a waveform).
async fn read_json(ctx: &Ctx, key: &str) -> Result<serde_json::Value, ApiError> {
    match ctx.config.bucket.get(key.to_owned()).execute().await? {
        Some(object) => {
            let body = object.body().ok_or_else(|| ApiError::Storage(format!("{key} has no body")))?;
            serde_json::from_slice(&body.bytes().await?).map_err(|e| ApiError::Storage(format!("{key}: {e}")))
        }
        None => Err(ApiError::Storage(format!("missing blob {key}"))),
    }
}
