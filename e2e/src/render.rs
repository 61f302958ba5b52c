//! Starting renders through the API, waiting for their hand-over, and probing what comes back.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use test_support::api::Api;

pub async fn start_render(api: &Api<'_>, body: Value) -> String {
    let (status, accepted) = api.post("/api/render", body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    assert_eq!(accepted["status"], "pending");
    accepted["jobId"].as_str().unwrap().to_owned()
}

/// A draft of `seconds` at `scale` of the asset's track in `format`.
pub async fn start_draft(api: &Api<'_>, asset_id: &str, format: &str, seconds: f64, scale: f64) -> String {
    let body =
        json!({"audio": {"assetId": asset_id}, "format": format, "preview": {"seconds": seconds, "scale": scale}});
    start_render(api, body).await
}

/// Waits until the worker has handed the render to the render service; returns the call id.
pub async fn wait_submitted(api: &Api<'_>, job_id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(call) = api.job_column(job_id, "call_id").await {
            return call;
        }
        assert!(Instant::now() < deadline, "never submitted\n{}", api.stack.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn ffprobe(path: &std::path::Path) -> Value {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_streams", "-show_format", "-of", "json"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Downloads a complete render's MP4 (checking its type and size) into the stack's directory and probes it.
pub async fn download_and_probe(api: &Api<'_>, job: &Value) -> Value {
    let url = job["downloadUrl"].as_str().unwrap();
    let response = api.http.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "video/mp4");
    let bytes = response.bytes().await.unwrap();
    assert_eq!(bytes.len() as i64, job["result"]["video"]["sizeBytes"].as_i64().unwrap());
    let file = api.stack.dir.path().join(format!("{}.mp4", job["jobId"].as_str().unwrap()));
    std::fs::write(&file, &bytes).unwrap();
    let info = ffprobe(&file);
    let duration: f64 = info["format"]["duration"].as_str().unwrap().parse().unwrap();
    assert!((duration - job["result"]["video"]["durationSec"].as_f64().unwrap()).abs() < 0.05, "{info}");
    info
}
