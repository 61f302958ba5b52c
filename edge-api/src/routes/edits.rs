//! `POST /api/audio/edit/preview` and `POST /api/audio/edit/save` (body `{recipe, callbackUrl?}`, or the
//! original system's bare recipe): the recipe's shape is checked here, then one round trip creates the
//! job only if the recipe's asset and every source are the caller's (a preview of a recipe already
//! previewed completes at once, `cached: true`). The preview's MP3 is the job's download
//! (`GET /api/jobs/{id}/download`).

use serde_json::Value;
use studio_core::api::JobAccepted;
use studio_core::edit::recipe;
use studio_core::edit::{self as edit_job, CreateEdit};
use studio_core::jobs::{JobStatus, JobType};
use studio_core::ErrorCode;
use worker::Response;

use crate::context::Ctx;
use crate::error::{json_response, ApiError};

/// `GET /api/audio/edit/options`: the loudness presets, formats, rates and limits an edit form offers,
/// from the recipe rules the edge and the worker check with.
pub async fn options(ctx: &Ctx) -> Result<Response, ApiError> {
    studio_core::accounts::access::run(&ctx.db, ctx.session()?, vec![]).await?;
    super::render::options_response(&recipe::options_json().to_string())
}

pub async fn create(body: Value, ctx: &Ctx, job_type: JobType) -> Result<Response, ApiError> {
    let (recipe_json, callback_url) = match body.get("recipe") {
        Some(recipe) => {
            if let Some(extra) = body.as_object().and_then(|m| m.keys().find(|k| *k != "recipe" && *k != "callbackUrl"))
            {
                return Err(ApiError::problem(ErrorCode::InvalidRequest, format!("{extra}: unknown field")));
            }
            (recipe, ctx.callback_url(body.get("callbackUrl"))?)
        }
        // The original system's clients send the recipe itself.
        None => (&body, None),
    };
    let recipe = recipe::parse(recipe_json)?;
    let job_id = format!("job_{}", &crate::random::nonce()?[..24]);
    let session = ctx.session()?;
    let created =
        edit_job::create(&ctx.db, session, job_type, &recipe, &job_id, callback_url.as_deref(), &ctx.config.quotas)
            .await?;
    match created {
        CreateEdit::Created(job) => {
            let cached = job.status == JobStatus::Complete;
            Ok(json_response(202, &JobAccepted { cached, ..JobAccepted::new(job.id, job.status.as_str()) }))
        }
        CreateEdit::MissingAssets(ids) => Err(ApiError::problem(
            ErrorCode::AssetNotFound,
            format!("no asset {}: every asset a recipe names must be one of yours", ids.join(", ")),
        )),
    }
}
