//! Audio in → video out, end to end through the real processes: turso-local, `wrangler dev` (edge +
//! local R2), cpu-worker and the render service's local emulator, one stack for this binary. Each
//! scenario, run at the same time as others with an account and a generated track of its own,
//! uploads, ingests and renders tiny drafts (flat and 360; `renders.rs`); the MP4s are downloaded and
//! probed. Also: refused render requests create nothing, webhooks that are not the render's own
//! change nothing, cancel stops the render and leaves no video (`cancel.rs`). Lost webhooks and
//! multipart videos need a worker of their own: `render_reconcile.rs`.

mod cancel;
mod renders;

use e2e::ingest_a_track;
use e2e::render::start_draft;
use reqwest::StatusCode;
use serde_json::{json, Value};
use test_support::api::Api;
use test_support::now_ms;
use test_support::stack::{Options, Shared, WEBHOOK_SECRET};

static STACK: Shared = Shared::new(Options::with_render);

/// A client of this binary's stack as a new account named after the scenario.
pub async fn creator(name: &str) -> Api<'static> {
    STACK.get().new_creator(name).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_checks_the_render_service() {
    let api = &creator("health_checks_the_render_service").await;
    let body: Value = api.http.get(api.url("/api/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["checks"]["render"], "ok", "{body}");
    assert_eq!(body["status"], "ok", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_render_requests_create_nothing() {
    let api = &creator("refused_render_requests_create_nothing").await;
    let asset_id = &ingest_a_track(api, 12.0).await;
    let before = api.count_mine("jobs").await;
    let audio = json!({"assetId": asset_id});
    for (body, status, code, field) in [
        (json!({"audio": audio, "format": "flat-720p"}), 400, "invalid_request", "format"),
        (json!({"audio": audio, "format": "360-mono-4k", "fps": 24}), 400, "invalid_request", "fps"),
        (
            json!({"audio": audio, "format": "360-mono-4k", "visual": {"mode": "smoke"}}),
            400,
            "invalid_request",
            "visual.mode",
        ),
        (
            json!({"audio": audio, "format": "360-mono-4k", "preview": {"scale": 0}}),
            400,
            "invalid_request",
            "preview.scale",
        ),
        (json!({"audio": {"assetId": "ast_missing"}, "format": "360-mono-4k"}), 404, "asset_not_found", ""),
    ] {
        let (got, answer) = api.post("/api/render", body.clone()).await;
        assert_eq!(got.as_u16(), status, "{body} → {answer}");
        assert_eq!(answer["error"]["code"], code, "{answer}");
        assert!(answer["error"]["message"].as_str().unwrap().starts_with(field), "{answer}");
    }
    let unauthenticated = api.http.post(api.url("/api/render")).json(&json!({})).send().await.unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(api.count_mine("jobs").await, before, "no job was created");
}

/// On top of the signature cases of `api/webhooks.rs`: webhooks naming a real, finished render.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_webhooks_change_nothing() {
    let api = &creator("foreign_webhooks_change_nothing").await;
    let asset_id = ingest_a_track(api, 12.0).await;
    let job_id = &start_draft(api, &asset_id, "flat-1080p-landscape", 1.0, 0.05).await;
    let flat = api.wait_terminal_within(job_id, std::time::Duration::from_secs(240)).await;
    assert_eq!(flat["status"], "complete", "{flat}\n{}", api.stack.logs());
    let token = api.job_column(job_id, "webhook_token").await.unwrap();
    let secs = now_ms() / 1000;
    let failed = |token: &str| {
        json!({"type": "render.failed", "jobId": job_id, "token": token,
               "data": {"code": "render_failed", "message": "forged"}})
    };
    let other = "whsec_b3RoZXItc2VjcmV0LWtleQ==";
    let hook = |id: &'static str, secret: &'static str, timestamp: i64, body: serde_json::Value| {
        let raw = body.to_string();
        async move { api.webhook(id, secret, timestamp, raw.as_bytes(), raw.clone()).await }
    };
    let (status, _) = hook("x_forged", other, secs, failed(&token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = hook("x_stale", WEBHOOK_SECRET, secs - 301, failed(&token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for (id, body) in [("x_wrong_token", failed("not-the-token")), ("x_late", failed(&token))] {
        let (status, answer) = hook(id, WEBHOOK_SECRET, secs, body).await;
        assert_eq!((status, answer["outcome"].as_str()), (StatusCode::OK, Some("ignored")), "{id}");
    }
    let (_, job) = api.get(&format!("/api/jobs/{job_id}")).await;
    assert_eq!(job["status"], "complete", "{job}");
}
