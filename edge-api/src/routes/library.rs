//! The caller's asset library: `GET /api/assets` (newest first, paged, with storage usage),
//! `DELETE /api/assets/{id}` (refused while other assets' saved recipes use it, unless `?force=true`;
//! removes the row and its blobs) and `GET /api/assets/{id}/stream?variant=` (a redirect to a signed URL
//! of the original or the prepared audio).

use serde_json::json;
use studio_core::library::assets;
use studio_core::library::retired;
use studio_core::library::{self, Deletion};
use studio_core::ErrorCode;
use worker::Response;

use crate::context::Ctx;
use crate::error::{json_response, redirect, ApiError};

pub async fn list(ctx: &Ctx, query: &str) -> Result<Response, ApiError> {
    let (limit, after) = library::parse_query(query)?;
    let page = library::list(&ctx.db, ctx.session()?, limit, after.as_ref(), &ctx.config.quotas).await?;
    let usage = &page.usage.storage_bytes;
    Ok(json_response(
        200,
        &json!({
            "assets": page.assets,
            "nextCursor": page.next.map(|c| c.encode()),
            "usage": { "bytes": usage.used, "quotaBytes": usage.limit },
        }),
    ))
}

pub async fn delete(ctx: &Ctx, asset_id: &str, query: &str) -> Result<Response, ApiError> {
    let force = query.split('&').any(|p| p == "force=true");
    match library::delete(&ctx.db, ctx.session()?, asset_id, force).await? {
        Deletion::Deleted { free_keys } => {
            // The row is gone and its blobs retired: those no render reads go now, and are forgotten so
            // the worker's sweeper does not delete them again; it deletes the rest (and any that failed
            // here) later.
            let mut deleted = Vec::with_capacity(free_keys.len());
            for key in free_keys {
                match ctx.config.bucket.delete(&key).await {
                    Ok(()) => deleted.push(key),
                    Err(e) => crate::log::warn("blob delete deferred", &[("key", &key), ("detail", &e.to_string())]),
                }
            }
            retired::forget(&ctx.db, &deleted).await?;
            Ok(Response::empty()?.with_status(204))
        }
        Deletion::NotFound => Err(ApiError::not_found("asset")),
        Deletion::Referenced { by } => Err(ApiError::problem(
            ErrorCode::AssetReferenced,
            format!(
                "{} use this asset (assets whose saved recipe names it, or edit jobs still running); delete with \
                 ?force=true to delete it anyway",
                by.join(", ")
            ),
        )),
    }
}

pub async fn stream(ctx: &Ctx, asset_id: &str, query: &str) -> Result<Response, ApiError> {
    let asset = assets::get(&ctx.db, ctx.session()?, asset_id).await?.ok_or_else(|| ApiError::not_found("asset"))?;
    let variant = query.split('&').find_map(|p| p.strip_prefix("variant=")).unwrap_or("original");
    let key = match variant {
        "original" => asset.original_key,
        "prepared" => asset.prepared.map(|p| p.key).ok_or_else(|| ApiError::not_found("prepared audio"))?,
        _ => return Err(ApiError::problem(ErrorCode::InvalidRequest, "query parameter variant: original or prepared")),
    };
    redirect(&ctx.download_url(&key))
}
