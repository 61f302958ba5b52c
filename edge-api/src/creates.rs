//! The create routes (`POST /api/uploads`, `/api/audio/ingest`, `/api/render`, `/api/audio/edit/preview`,
//! `/api/audio/edit/save`) and their
//! `Idempotency-Key`: the first request with a key is answered and its answer kept for 24 h; a repeat
//! with the same body gets that answer again (`Idempotent-Replayed: true`) and creates nothing; another
//! body under the same key is 409 `idempotency_conflict`. An answer that may pass (a server error, a
//! conflict, a quota refusal) frees the key for a retry.

use serde_json::Value;
use studio_core::accounts::idempotency::{self, Reservation};
use studio_core::jobs::JobType;
use worker::{Headers, Request, Response};

use crate::body;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::routes::{edits, ingest, render, uploads};

/// Which create.
#[derive(Clone, Copy)]
pub enum Create {
    Upload,
    Ingest,
    Render,
    EditPreview,
    EditSave,
}

impl Create {
    fn route(self) -> &'static str {
        match self {
            Create::Upload => "POST /api/uploads",
            Create::Ingest => "POST /api/audio/ingest",
            Create::Render => "POST /api/render",
            Create::EditPreview => "POST /api/audio/edit/preview",
            Create::EditSave => "POST /api/audio/edit/save",
        }
    }

    async fn answer(self, body: Value, ctx: &Ctx) -> Result<Response, ApiError> {
        match self {
            Create::Upload => uploads::create(body, ctx).await,
            Create::Ingest => ingest::create(body, ctx).await,
            Create::Render => render::create(body, ctx).await,
            Create::EditPreview => edits::create(body, ctx, JobType::EditPreview).await,
            Create::EditSave => edits::create(body, ctx, JobType::EditSave).await,
        }
    }
}

pub async fn handle(req: &mut Request, ctx: &Ctx, create: Create) -> Result<Response, ApiError> {
    let key = req.headers().get("idempotency-key")?.map(|k| idempotency::parse_key(&k)).transpose()?;
    let body: Value = body::json(req).await?;
    let Some(key) = key else { return create.answer(body, ctx).await };
    let session = ctx.session()?;
    let hash = idempotency::request_hash(create.route(), &body);
    match idempotency::reserve(&ctx.db, session, &key, &hash).await? {
        Reservation::Replay { status, body } => {
            let headers = Headers::new();
            headers.set("content-type", "application/json")?;
            headers.set("idempotent-replayed", "true")?;
            Ok(Response::ok(body)?.with_status(status).with_headers(headers))
        }
        Reservation::Conflict(problem) => Err(ApiError::Problem(problem)),
        Reservation::Fresh => {
            let account =
                session.account_id().ok_or_else(|| ApiError::Runtime("reserved without an account".into()))?;
            let mut response = create.answer(body, ctx).await.unwrap_or_else(ApiError::into_response);
            let status = response.status_code();
            let text = response.text().await?;
            // A server error, a conflict (`upload_incomplete`, …) or a quota refusal may pass: the key is
            // freed so the same request can try again; any other answer is final and kept.
            let kept = if status >= 500 || status == 409 || status == 429 {
                idempotency::release(&ctx.db, &account, &key).await
            } else {
                idempotency::finish(&ctx.db, &account, &key, status, &text).await
            };
            if let Err(e) = kept {
                // The answer stands; the key must not stay reserved with no answer to replay.
                let _ = idempotency::release(&ctx.db, &account, &key).await;
                crate::log::warn("idempotency: answer not kept", &[("detail", &e.to_string())]);
            }
            let headers = Headers::new();
            headers.set("content-type", "application/json")?;
            Ok(Response::ok(text)?.with_status(status).with_headers(headers))
        }
    }
}
