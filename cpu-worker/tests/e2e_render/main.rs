//! Audio in → video out, end to end through the real processes: turso-local, `wrangler dev` (edge +
//! local R2), cpu-worker and the render service's local emulator. A generated track is uploaded,
//! ingested and rendered as tiny drafts (flat and 360; `renders.rs`); the MP4s are downloaded and
//! probed. Also: refused render requests create nothing, webhooks that are not the render's own change
//! nothing, cancel stops the render and leaves no video (`cancel.rs`), and lost webhooks are made up
//! for by the reconciler while the video goes up as a multipart upload (`reconcile.rs`).

mod cancel;
mod reconcile;
mod renders;
#[path = "../support/mod.rs"]
mod support;

use cancel::*;
use reconcile::*;
use renders::*;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use support::api::{now_ms, wav, Api};
use support::stack::{Stack, WEBHOOK_SECRET};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_in_video_out_through_the_api() {
    let mut stack = Stack::start_with_render().await;
    let asset_id;
    {
        let api = Api { stack: &stack, http: Client::new() };
        health_checks_the_render_service(&api).await;
        asset_id = ingest_a_track(&api, 12.0).await;
        refused_render_requests_create_nothing(&api, &asset_id).await;
        let flat = renders_and_probes(&api, &asset_id, "flat-1080p-landscape", (96, 54), "perspective").await;
        renders_and_probes(&api, &asset_id, "360-mono-4k", (204, 102), "equirect").await;
        renders_are_listed_newest_first(&api).await;
        foreign_webhooks_change_nothing(&api, &flat).await;
        cancel_mid_render_stops_it_and_leaves_no_video(&api, &asset_id).await;
    }
    // Webhooks cannot reach the edge at all: the reconciler completes the render from the service's
    // status. This worker also plans every video as a multipart upload, as it does for long renders.
    stack.kill_worker();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let hooks = format!("http://127.0.0.1:{closed}/api/webhooks/render");
    stack.start_worker_with(&[("RENDER_WEBHOOK_URL", &hooks), ("RENDER_MULTIPART_ABOVE_BYTES", "0")]);
    let api = Api { stack: &stack, http: Client::new() };
    lost_webhooks_are_made_up_for_by_the_reconciler(&api, &asset_id).await;
    a_cancelled_multipart_upload_is_aborted(&api, &asset_id).await;
}

async fn health_checks_the_render_service(api: &Api<'_>) {
    let body: Value = api.http.get(api.url("/api/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["checks"]["render"], "ok", "{body}");
    assert_eq!(body["status"], "ok", "{body}");
}

async fn ingest_a_track(api: &Api<'_>, seconds: f64) -> String {
    let upload = api.upload("track.wav", "audio/wav", &wav(seconds, 22_050, 2)).await;
    let job = api.wait_terminal(&api.ingest(&upload).await).await;
    assert_eq!(job["status"], "complete", "{job}");
    job["result"]["assetId"].as_str().unwrap().to_owned()
}

async fn refused_render_requests_create_nothing(api: &Api<'_>, asset_id: &str) {
    let before = api.count("SELECT count(*) AS n FROM jobs").await;
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
    assert_eq!(api.count("SELECT count(*) AS n FROM jobs").await, before, "no job was created");
}

/// On top of the signature cases of `e2e/webhooks.rs`: webhooks naming a real, finished render.
async fn foreign_webhooks_change_nothing(api: &Api<'_>, job_id: &str) {
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
