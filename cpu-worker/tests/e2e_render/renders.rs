//! Rendering drafts through the API and checking what comes back: stages and progress on the way, the
//! result, the download (Range, ETag) and the MP4 itself (ffprobe, spherical metadata); listing.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::api::{events_text, Api};

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

/// A 2-second draft at 5 % scale, downloaded and probed; returns the job id.
pub async fn renders_and_probes(
    api: &Api<'_>,
    asset_id: &str,
    format: &str,
    size: (i64, i64),
    projection: &str,
) -> String {
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

    let info = download_and_probe(api, &job).await;
    let url = job["downloadUrl"].as_str().unwrap();
    let etag = api.http.head(url).send().await.unwrap().headers()["etag"].to_str().unwrap().to_owned();
    let ranged = api.http.get(url).header("range", "bytes=4-7").send().await.unwrap();
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(ranged.bytes().await.unwrap().as_ref(), b"ftyp");
    let again = api.http.get(url).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

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
    let token = api.job_column(&job_id, "webhook_token").await.unwrap();
    assert!(!events.contains(&token) && !events.contains("sig="), "no secret in events: {events}");
    job_id
}

pub async fn renders_are_listed_newest_first(api: &Api<'_>) {
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
