//! Audio in → video out, end to end through the real processes: turso-local, `wrangler dev` (edge +
//! local R2), cpu-worker and the render service's local emulator. A generated track is uploaded,
//! ingested and rendered as tiny drafts (flat and 360); the MP4s are downloaded and probed. Also:
//! refused render requests create nothing, cancel stops the render and leaves no video, webhooks that
//! are not the render's own change nothing, and lost webhooks are made up for by the reconciler.

#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use studio_core::hrana::{Stmt, Value as SqlValue};
use studio_core::webhooks::WebhookSecret;
use support::api::{events_text, now_ms, wav, Api};
use support::stack::{Stack, MODAL_AUTH_TOKEN, WEBHOOK_SECRET};

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

async fn row_count(api: &Api<'_>, sql: &str) -> i64 {
    let rows = api.stack.db().execute(Stmt::new(sql, vec![])).await.unwrap();
    rows.first().unwrap().int("n").unwrap()
}

async fn refused_render_requests_create_nothing(api: &Api<'_>, asset_id: &str) {
    let before = row_count(api, "SELECT count(*) AS n FROM jobs").await;
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
    assert_eq!(row_count(api, "SELECT count(*) AS n FROM jobs").await, before, "no job was created");
}

async fn start_render(api: &Api<'_>, body: Value) -> String {
    let (status, accepted) = api.post("/api/render", body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    assert_eq!(accepted["status"], "pending");
    accepted["jobId"].as_str().unwrap().to_owned()
}

const STAGES: &[&str] = &["queued", "submitting", "rendering", "encoding", "uploading", "complete"];

/// Polls a job to its end, checking on the way that progress never decreases and stages only advance.
async fn follow(api: &Api<'_>, job_id: &str, within: Duration) -> (Value, Vec<String>) {
    let deadline = Instant::now() + within;
    let (mut last_progress, mut last_rank, mut seen) = (0.0, 0, Vec::<String>::new());
    loop {
        let (status, job) = api.get(&format!("/api/jobs/{job_id}")).await;
        assert_eq!(status, StatusCode::OK, "{job}");
        assert_eq!(job["type"], "render");
        let progress = job["progress"].as_f64().unwrap();
        assert!(progress >= last_progress && progress <= 100.0, "progress went {last_progress} → {progress}");
        last_progress = progress;
        if let Some(stage) = job["stage"].as_str() {
            let rank = STAGES.iter().position(|s| *s == stage).unwrap_or_else(|| panic!("unknown stage {stage}"));
            assert!(rank >= last_rank, "stage went back to {stage} after {seen:?}");
            last_rank = rank;
            if seen.last().map(String::as_str) != Some(stage) {
                seen.push(stage.to_owned());
            }
            if stage == "rendering" && progress > 0.0 {
                assert!(job["etaSec"].is_i64(), "an ETA while rendering: {job}");
                assert!(job["framesTotal"].as_i64().unwrap() > 0, "{job}");
            }
        }
        if matches!(job["status"].as_str(), Some("complete" | "failed" | "cancelled")) {
            return (job, seen);
        }
        assert!(Instant::now() < deadline, "render {job_id} not finished: {job}\n{}", api.stack.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn ffprobe(path: &std::path::Path) -> Value {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_streams", "-show_format", "-of", "json"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A 2-second draft at 5 % scale, downloaded and probed; returns the job id.
async fn renders_and_probes(api: &Api<'_>, asset_id: &str, format: &str, size: (i64, i64), projection: &str) -> String {
    let job_id = start_render(
        api,
        json!({"audio": {"assetId": asset_id}, "format": format, "fps": 30, "visual": {"mode": "solar"},
               "quality": "fast", "preview": {"seconds": 2, "scale": 0.05}}),
    )
    .await;
    let (job, stages) = follow(api, &job_id, Duration::from_secs(240)).await;
    assert_eq!(job["status"], "complete", "{job}\n{}", api.stack.logs());
    assert_eq!(job["progress"], 100.0);
    eprintln!("{format}: stages {stages:?}, result {}", job["result"]["video"]);
    assert!(stages.contains(&"rendering".to_owned()) && stages.last().unwrap() == "complete", "{stages:?}");
    let video = &job["result"]["video"];
    assert_eq!((video["width"].as_i64(), video["height"].as_i64()), (Some(size.0), Some(size.1)), "{video}");
    assert_eq!((video["fps"].as_i64(), video["projection"].as_str()), (Some(30), Some(projection)), "{video}");
    assert!((video["durationSec"].as_f64().unwrap() - 2.0).abs() < 0.1, "{video}");
    for key in ["sizeBytes", "videoCodec", "audioCodec", "encoder", "device", "renderSeconds"] {
        assert!(!video[key].is_null(), "result.video.{key} missing: {video}");
    }
    assert!(video.get("key").is_none(), "no storage key in the result: {video}");

    let url = job["downloadUrl"].as_str().unwrap();
    let response = api.http.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "video/mp4");
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let bytes = response.bytes().await.unwrap();
    assert_eq!(bytes.len() as i64, video["sizeBytes"].as_i64().unwrap());
    let ranged = api.http.get(url).header("range", "bytes=4-7").send().await.unwrap();
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(ranged.bytes().await.unwrap().as_ref(), b"ftyp");
    let again = api.http.get(url).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    let file = api.stack.dir.path().join(format!("{job_id}.mp4"));
    std::fs::write(&file, &bytes).unwrap();
    let info = ffprobe(&file);
    let streams = info["streams"].as_array().unwrap();
    let v = streams.iter().find(|s| s["codec_type"] == "video").unwrap();
    let a = streams.iter().find(|s| s["codec_type"] == "audio").unwrap();
    assert_eq!((v["width"].as_i64(), v["height"].as_i64()), (Some(size.0), Some(size.1)));
    assert_eq!(v["r_frame_rate"], "30/1");
    assert_eq!((v["codec_name"].as_str(), a["codec_name"].as_str()), (video["videoCodec"].as_str(), Some("aac")));
    let duration: f64 = info["format"]["duration"].as_str().unwrap().parse().unwrap();
    assert!((duration - 2.0).abs() < 0.1, "{duration}");
    let spherical = v["side_data_list"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["side_data_type"] == "Spherical Mapping")
        .map(|d| d["projection"].clone());
    if projection == "perspective" {
        assert_eq!(spherical, None, "a flat video carries no spherical metadata");
    } else {
        assert_eq!(spherical, Some(json!("equirectangular")), "{v}");
    }

    let events = events_text(api, &job_id).await;
    for kind in ["created", "claimed", "submitted", "\"stage\":\"rendering\"", "completed"] {
        assert!(events.contains(kind), "{kind} missing from {events}");
    }
    let token = webhook_token(api, &job_id).await;
    assert!(!events.contains(&token) && !events.contains("sig="), "no secret in events: {events}");
    job_id
}

async fn webhook_token(api: &Api<'_>, job_id: &str) -> String {
    let rows = api
        .stack
        .db()
        .execute(Stmt::new("SELECT webhook_token, call_id FROM jobs WHERE id = ?", vec![SqlValue::from(job_id)]))
        .await
        .unwrap();
    rows.first().unwrap().text("webhook_token").unwrap()
}

async fn call_id(api: &Api<'_>, job_id: &str) -> Option<String> {
    let rows = api
        .stack
        .db()
        .execute(Stmt::new("SELECT call_id FROM jobs WHERE id = ?", vec![SqlValue::from(job_id)]))
        .await
        .unwrap();
    rows.first().unwrap().opt_text("call_id").unwrap()
}

async fn renders_are_listed_newest_first(api: &Api<'_>) {
    let (status, page) = api.get("/api/jobs?type=render&status=complete&limit=1").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let first = page["jobs"].as_array().unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["result"]["video"]["projection"], "equirect", "the newest render first: {page}");
    let cursor = page["nextCursor"].as_str().unwrap();
    let (_, next) = api.get(&format!("/api/jobs?type=render&status=complete&limit=5&cursor={cursor}")).await;
    let rest = next["jobs"].as_array().unwrap();
    assert_eq!(rest.len(), 1, "{next}");
    assert_eq!(rest[0]["result"]["video"]["projection"], "perspective");
    assert!(next["nextCursor"].is_null());
}

async fn hook(api: &Api<'_>, id: &str, secret: &str, timestamp: i64, body: &Value) -> (StatusCode, Value) {
    let raw = body.to_string();
    let signature = WebhookSecret::parse(secret).unwrap().sign(id, timestamp, raw.as_bytes());
    let r = api
        .http
        .post(api.url("/api/webhooks/render"))
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

/// On top of the signature cases of `e2e/webhooks.rs`: webhooks naming a real, finished render.
async fn foreign_webhooks_change_nothing(api: &Api<'_>, job_id: &str) {
    let token = webhook_token(api, job_id).await;
    let secs = now_ms() / 1000;
    let failed = |token: &str| {
        json!({"type": "render.failed", "jobId": job_id, "token": token,
               "data": {"code": "render_failed", "message": "forged"}})
    };
    let other = "whsec_b3RoZXItc2VjcmV0LWtleQ==";
    let (status, _) = hook(api, "x_forged", other, secs, &failed(&token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = hook(api, "x_stale", WEBHOOK_SECRET, secs - 301, &failed(&token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for (id, body) in [("x_wrong_token", failed("not-the-token")), ("x_late", failed(&token))] {
        let (status, answer) = hook(api, id, WEBHOOK_SECRET, secs, &body).await;
        assert_eq!((status, answer["outcome"].as_str()), (StatusCode::OK, Some("ignored")), "{id}");
    }
    let (_, job) = api.get(&format!("/api/jobs/{job_id}")).await;
    assert_eq!(job["status"], "complete", "{job}");
}

/// Process ids whose command line names the render (the emulator's runner and its ffmpeg).
fn render_processes(call_id: &str, job_id: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let cmdline = String::from_utf8_lossy(&cmdline);
        if cmdline.contains(call_id) || (cmdline.contains("ffmpeg") && cmdline.contains(job_id)) {
            pids.push(pid);
        }
    }
    pids
}

async fn cancel_mid_render_stops_it_and_leaves_no_video(api: &Api<'_>, asset_id: &str) {
    let job_id = start_render(
        api,
        json!({"audio": {"assetId": asset_id}, "format": "flat-1080p-square", "preview": {"seconds": 12, "scale": 0.1}}),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, job) = api.get(&format!("/api/jobs/{job_id}")).await;
        if job["framesDone"].as_i64().unwrap_or(0) > 0 {
            break;
        }
        assert_eq!(job["status"].as_str().map(|s| s != "complete"), Some(true), "finished too soon to cancel: {job}");
        assert!(Instant::now() < deadline, "the render never started: {job}\n{}", api.stack.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let call = call_id(api, &job_id).await.expect("handed over");
    assert!(!render_processes(&call, &job_id).is_empty(), "the render is running");

    let (status, answer) = api.post(&format!("/api/jobs/{job_id}/cancel"), json!({})).await;
    assert_eq!((status, answer["status"].as_str()), (StatusCode::OK, Some("cancelled")), "{answer}");
    let started = Instant::now();
    while !render_processes(&call, &job_id).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "render processes alive after cancel\n{}",
            api.stack.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let the service's own `render.failed (cancelled)` webhook arrive: it must change nothing.
    let stopped_deadline = Instant::now() + Duration::from_secs(20);
    while row_count(
        api,
        &format!("SELECT count(*) AS n FROM jobs WHERE id = '{job_id}' AND call_stopped_at IS NOT NULL"),
    )
    .await
        == 0
    {
        assert!(Instant::now() < stopped_deadline, "the call was never recorded stopped");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, job) = api.get(&format!("/api/jobs/{job_id}")).await;
    assert_eq!(job["status"], "cancelled", "{job}");
    assert!(job["downloadUrl"].is_null());
    let key = format!("renders/{job_id}/video.mp4");
    // Even a valid upload URL for the video stores nothing once the job is over.
    let late = api.signed(studio_core::signing::BlobMethod::Put, &key, now_ms() + 60_000);
    let put = api.http.put(late).body(vec![0u8; 1024]).send().await.unwrap();
    assert_eq!(put.status(), StatusCode::CONFLICT);
    assert_eq!(put.json::<Value>().await.unwrap()["error"]["code"], "job_terminal");
    assert!(!api.blob_exists(&key).await, "no video blob");
    assert!(!api.stack.stored_keys().contains(&key));
    let events = events_text(api, &job_id).await;
    assert!(events.contains("cancelled") && !events.contains("completed"), "{events}");
}

async fn lost_webhooks_are_made_up_for_by_the_reconciler(api: &Api<'_>, asset_id: &str) {
    let job_id = start_render(
        api,
        json!({"audio": {"assetId": asset_id}, "format": "flat-1080p-portrait", "preview": {"seconds": 2, "scale": 0.05}}),
    )
    .await;
    // When does the render service consider the render done?
    let deadline = Instant::now() + Duration::from_secs(240);
    let call = loop {
        if let Some(call) = call_id(api, &job_id).await {
            break call;
        }
        assert!(Instant::now() < deadline, "never submitted\n{}", api.stack.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let render = api.stack.render.clone().unwrap();
    let finished_at = loop {
        let status: Value = api
            .http
            .get(format!("{render}/status"))
            .query(&[("callId", &call)])
            .bearer_auth(MODAL_AUTH_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if status["status"] == "complete" {
            break Instant::now();
        }
        assert_ne!(status["status"], "failed", "{status}");
        assert!(Instant::now() < deadline, "the render never finished: {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let job = api.wait_terminal_within(&job_id, Duration::from_secs(60)).await;
    assert_eq!(job["status"], "complete", "{job}\n{}", api.stack.logs());
    let took = finished_at.elapsed();
    eprintln!("reconciler completed the render {took:?} after the service finished it");
    assert!(took < Duration::from_secs(60), "completed {took:?} after the render finished");
    let video = &job["result"]["video"];
    assert_eq!((video["width"].as_i64(), video["height"].as_i64()), (Some(54), Some(96)), "{job}");
    let receipts = format!("SELECT count(*) AS n FROM webhook_receipts WHERE job_id = '{job_id}'");
    assert_eq!(row_count(api, &receipts).await, 0, "no webhook reached the edge: the reconciler did it");
    // The video went up in parts through the edge's multipart URLs, and downloads whole.
    let multipart = api.stack.multipart_uploads();
    assert!(multipart.contains(&format!("renders/{job_id}/video.mp4 1")), "completed in parts: {multipart:?}");
    let url = job["downloadUrl"].as_str().unwrap();
    let response = api.http.get(url).send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "video/mp4");
    let bytes = response.bytes().await.unwrap();
    assert_eq!(bytes.len() as i64, video["sizeBytes"].as_i64().unwrap());
    let file = api.stack.dir.path().join(format!("{job_id}.mp4"));
    std::fs::write(&file, &bytes).unwrap();
    let info = ffprobe(&file);
    assert!((info["format"]["duration"].as_str().unwrap().parse::<f64>().unwrap() - 2.0).abs() < 0.1, "{info}");
}

async fn a_cancelled_multipart_upload_is_aborted(api: &Api<'_>, asset_id: &str) {
    let job_id = start_render(
        api,
        json!({"audio": {"assetId": asset_id}, "format": "flat-1080p-square", "preview": {"seconds": 12, "scale": 0.1}}),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(120);
    while call_id(api, &job_id).await.is_none() {
        assert!(Instant::now() < deadline, "never submitted\n{}", api.stack.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let key = format!("renders/{job_id}/video.mp4");
    assert!(api.stack.multipart_uploads().contains(&format!("{key} 0")), "an upload is open");
    let (status, _) = api.post(&format!("/api/jobs/{job_id}/cancel"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    while !api.stack.multipart_uploads().contains(&format!("{key} 2")) {
        assert!(
            Instant::now() < deadline,
            "the upload was never aborted: {:?}\n{}",
            api.stack.multipart_uploads(),
            api.stack.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!api.blob_exists(&key).await);
}
