//! `POST /api/render`: checks the whole request with the rule set the render service applies, then
//! creates a pending render job for the caller's asset in one round trip, within the caller's quotas
//! (nothing is created on error).

use studio_core::api::JobAccepted;
use studio_core::net_policy::check_callback_url;
use studio_core::render::parse_request;
use studio_core::render_job::{create_from_asset, CreateFromAsset};
use studio_core::ErrorCode;
use worker::Response;

use crate::context::Ctx;
use crate::error::{json_response, ApiError};

pub async fn create(raw: serde_json::Value, ctx: &Ctx) -> Result<Response, ApiError> {
    let request = parse_request(&raw)?;
    let callback_url = match raw.get("callbackUrl") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(url)) => Some(check_callback_url(url, &ctx.config.callback_allow)?),
        Some(_) => return Err(ApiError::problem(ErrorCode::InvalidRequest, "callbackUrl: must be a string")),
    };
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
