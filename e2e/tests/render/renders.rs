//! Rendering drafts through the API and checking what comes back: stages and progress on the way, the
//! result, the download (Range, ETag) and the MP4 itself (ffprobe, spherical metadata); listing.

use std::time::{Duration, Instant};

use e2e::ingest_a_track;

use reqwest::StatusCode;
use serde_json::{json, Value};

use e2e::render::{download_and_probe, start_render};
use test_support::api::{events_text, Api};

use crate::creator;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renders_and_probes_flat_1080p_landscape() {
    let api = &creator("renders_and_probes_flat_1080p_landscape").await;
    let asset_id = ingest_a_track(api, 12.0).await;
    renders_and_probes(api, &asset_id, "flat-1080p-landscape", (96, 54), "perspective").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renders_and_probes_360_mono_4k() {
    let api = &creator("renders_and_probes_360_mono_4k").await;
    let asset_id = ingest_a_track(api, 12.0).await;
    renders_and_probes(api, &asset_id, "360-mono-4k", (204, 102), "equirect").await;
}

/// Drafts like those of `renders_and_probes` (1 s each), a flat one and then a 360 one, both finished.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renders_are_listed_newest_first() {
    let api = &creator("renders_are_listed_newest_first").await;
    let asset_id = ingest_a_track(api, 12.0).await;
    let mut jobs = Vec::new();
    for format in ["flat-1080p-landscape", "360-mono-4k"] {
        let body = json!({"audio": {"assetId": asset_id}, "format": format, "fps": 30, "visual": {"mode": "solar"},
                          "quality": "fast", "preview": {"seconds": 1, "scale": 0.05}});
        jobs.push(start_render(api, body).await);
    }
    for job_id in &jobs {
        let job = api.wait_terminal_within(job_id, Duration::from_secs(240)).await;
        assert_eq!(job["status"], "complete", "{job}\n{}", api.stack.logs());
    }
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
