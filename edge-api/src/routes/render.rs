//! `POST /api/render`: checks the whole request with the rule set the render service applies, then
//! creates a pending render job for the caller's asset in one round trip, within the caller's quotas
//! (nothing is created on error); and the options a render form offers.

use studio_core::api::JobAccepted;
use studio_core::render::job::{create_from_asset, CreateFromAsset};
use studio_core::render::parse_request;
use studio_core::ErrorCode;
use worker::Response;

use crate::context::Ctx;
use crate::error::{json_response, ApiError};

pub async fn create(raw: serde_json::Value, ctx: &Ctx) -> Result<Response, ApiError> {
    let request = parse_request(&raw)?;
    let callback_url = ctx.callback_url(raw.get("callbackUrl"))?;
    let session = ctx.session()?;
    match create_from_asset(&ctx.db, session, &request, callback_url.as_deref(), &ctx.config.quotas).await? {
        CreateFromAsset::Created(job) => Ok(json_response(202, &JobAccepted::new(job.id, job.status.as_str()))),
        CreateFromAsset::AssetNotFound => Err(ApiError::problem(
            ErrorCode::AssetNotFound,
            format!("no asset {}: ingest the audio first", request.asset_id),
        )),
        CreateFromAsset::NoPreparedAudio => Err(ApiError::problem(
            ErrorCode::VariantUnavailable,
            format!(
                "asset {} has no prepared audio: save an edit first, or render the original (audio.variant: original)",
                request.asset_id
            ),
        )),
    }
}

/// `GET /api/render/options`: what a render accepts (formats, looks, backgrounds, ranges, defaults, with
/// labels), from the contract the edge and the render service check with — so a form offers exactly what
/// will be accepted.
pub async fn options(ctx: &Ctx) -> Result<Response, ApiError> {
    studio_core::accounts::access::run(&ctx.db, ctx.session()?, vec![]).await?;
    options_response(&studio_core::render::rules().options_json())
}

/// A form's options: JSON that changes only with a deploy, so a browser may keep it a few minutes.
pub fn options_response(json: &str) -> Result<Response, ApiError> {
    let headers = worker::Headers::new();
    headers.set("content-type", "application/json")?;
    headers.set("cache-control", "private, max-age=300")?;
    Ok(Response::ok(json)?.with_headers(headers))
}
