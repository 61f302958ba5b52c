//! Many creators on one stack (turso-local, `wrangler dev`, cpu-worker, the render emulator) for this
//! binary, through the public API, each scenario with accounts of its own and run at the same time as
//! others: every route answers another account's ids exactly like unknown ones, signed URLs stay bound
//! to their account and method (`isolation.rs`); revoked keys, the per-key rate limit and the storage
//! quota refuse with nothing left behind (`limits.rs`; the job quotas need a stack without a worker:
//! `lifecycle.rs`); callbacks are signed with the account's secret, retried, recorded and refused for
//! local addresses, and no key or secret reaches a log or an event (`callbacks.rs`). Creates with an
//! `Idempotency-Key` happen once (`idempotency.rs`).

mod callbacks;
mod idempotency;
mod isolation;
mod limits;

use reqwest::StatusCode;
use serde_json::json;
use test_support::api::Api;
use test_support::media::wav;
use test_support::stack::{Options, Shared};

static STACK: Shared = Shared::new(Options::with_render);

/// A client of this binary's stack as a new account named after the scenario.
pub async fn creator(name: &str) -> Api<'static> {
    STACK.get().new_creator(name).await
}

/// What account A owns for the isolation checks.
pub struct Owned {
    pub upload_received: String,
    pub upload_consumed: String,
    pub ingest_job: String,
    pub asset_id: String,
    pub render_job: String,
    pub asset_url: String,
    pub video_url: String,
    pub upload_url: String,
}

/// Uploads, ingests and renders as the client's account (A).
pub async fn owned_by_a(api: &Api<'_>) -> Owned {
    let (status, declared) =
        api.post("/api/uploads", json!({"filename": "b.wav", "contentType": "audio/wav", "size": 1000})).await;
    assert_eq!(status, StatusCode::CREATED, "{declared}");
    let upload_received = api.upload("spare.wav", "audio/wav", &wav(0.5, 8_000, 1)).await;
    let upload_consumed = api.upload("track.wav", "audio/wav", &wav(3.0, 22_050, 2)).await;
    let ingest_job = api.ingest(&upload_consumed).await;
    let ingested = api.wait_terminal(&ingest_job).await;
    assert_eq!(ingested["status"], "complete", "{ingested}");
    let asset_id = ingested["result"]["assetId"].as_str().unwrap().to_owned();
    let (status, asset) = api.get(&format!("/api/assets/{asset_id}")).await;
    assert_eq!(status, StatusCode::OK, "{asset}");
    let body = json!({"audio": {"assetId": asset_id}, "format": "flat-1080p-landscape",
                      "preview": {"seconds": 1, "scale": 0.05}});
    let (status, accepted) = api.post("/api/render", body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let render_job = accepted["jobId"].as_str().unwrap().to_owned();
    let rendered = api.wait_terminal(&render_job).await;
    assert_eq!(rendered["status"], "complete", "{rendered}");
    Owned {
        upload_received,
        upload_consumed,
        ingest_job,
        asset_id,
        render_job,
        asset_url: asset["downloadUrl"].as_str().unwrap().to_owned(),
        video_url: rendered["downloadUrl"].as_str().unwrap().to_owned(),
        upload_url: declared["uploadUrl"].as_str().unwrap().to_owned(),
    }
}
