//! Many creators on one stack (turso-local, `wrangler dev`, cpu-worker, the render emulator), through
//! the public API: every route answers another account's ids exactly like unknown ones, signed URLs
//! stay bound to their account and method (`isolation.rs`); revoked keys, the per-key rate limit and
//! the quotas refuse with nothing left behind (`limits.rs`); callbacks are signed with the account's
//! secret, retried, recorded and refused for local addresses, and no key or secret reaches a log or
//! an event (`callbacks.rs`). Creates with an `Idempotency-Key` happen once (`idempotency.rs`).

mod callbacks;
mod idempotency;
mod isolation;
mod limits;
#[path = "../support/mod.rs"]
mod support;

use callbacks::*;
use idempotency::*;
use isolation::*;
use limits::*;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use support::api::{wav, Api};
use support::stack::Stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creators_see_only_their_own_work_within_their_limits() {
    let mut stack = Stack::start_with_render().await;
    let b = stack.create_account(json!({"name": "Creator B"})).await;
    {
        let api = Api { stack: &stack, http: Client::new() };
        let a = owned_by_a(&api).await;
        another_accounts_ids_are_answered_like_unknown_ones(&api, &a, &b).await;
        signed_urls_stay_bound_to_their_account_and_method(&api, &a, &b).await;
        a_revoked_key_gets_401_on_its_next_call(&api).await;
        the_rate_limit_answers_429_with_retry_after(&api).await;
        the_storage_quota_refuses_uploads_and_leaves_nothing(&api).await;
        callbacks_are_signed_retried_and_recorded(&api, &a.asset_id).await;
        callbacks_to_local_addresses_are_refused_at_create(&api, &a.asset_id).await;
        creates_with_an_idempotency_key_happen_once(&api, &b).await;
    }
    // Without a worker, created jobs stay active: the job and render-time quotas can be filled exactly.
    let quota_asset = {
        let api = Api { stack: &stack, http: Client::new() };
        let c = stack.create_account(json!({"name": "C", "quotas": {"activeJobs": 1, "renderSecondsPerDay": 5}})).await;
        let asset = ingest_as(&api, &c.api_key, 12.0).await;
        (c, asset)
    };
    stack.kill_worker();
    {
        let api = Api { stack: &stack, http: Client::new() };
        the_job_and_render_quotas_refuse_and_create_nothing(&api, &quota_asset.0, &quota_asset.1).await;
        keys_and_secrets_never_reach_logs_or_events(&api, &b).await;
    }
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

/// Uploads, ingests and renders as the stack's account (A).
async fn owned_by_a(api: &Api<'_>) -> Owned {
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

/// Uploads and ingests a track with `key`; returns the asset id.
pub async fn ingest_as(api: &Api<'_>, key: &str, seconds: f64) -> String {
    let bytes = wav(seconds, 8_000, 1);
    let (status, declared) = api
        .post_as(key, "/api/uploads", json!({"filename": "t.wav", "contentType": "audio/wav", "size": bytes.len()}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{declared}");
    let put = api.http.put(declared["uploadUrl"].as_str().unwrap()).header("content-type", "audio/wav").body(bytes);
    assert_eq!(put.send().await.unwrap().status(), StatusCode::OK);
    let source = json!({"source": {"type": "upload", "uploadId": declared["uploadId"]}});
    let (status, accepted) = api.post_as(key, "/api/audio/ingest", source).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let job_id = accepted["jobId"].as_str().unwrap();
    loop {
        let (_, job) = api.get_as(key, &format!("/api/jobs/{job_id}")).await;
        match job["status"].as_str() {
            Some("complete") => return job["result"]["assetId"].as_str().unwrap().to_owned(),
            Some("pending" | "processing") => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
            _ => panic!("{job}"),
        }
    }
}

/// The `error` of an answer, for comparing refusals.
pub fn error_of(body: &Value) -> &Value {
    &body["error"]
}
