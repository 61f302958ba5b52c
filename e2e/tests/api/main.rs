//! End to end: turso-local, `wrangler dev` (edge-api with local R2) and cpu-worker as real processes
//! on free ports, driven through the public API. One stack for this binary (starting workerd is the
//! slow part), started by the first test that needs it; each scenario is its own test, run at the same
//! time as others, with an account of its own — the happy path and cancel here, hostile requests in
//! `hostile.rs`, listing in `listing.rs`, render webhooks in `webhooks.rs`, accounts and keys in
//! `accounts.rs`, the library in `library.rs`, edit recipes in `edits.rs`, links in `url_ingest.rs`,
//! resumable uploads in `resumable.rs`. Scenarios that stop or restart the worker are in
//! `lifecycle.rs`, with a stack of their own.

mod accounts;
mod edits;
mod hostile;
mod library;
mod listing;
mod resumable;
mod url_ingest;
mod webhooks;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use test_support::api::{events_text, Api};
use test_support::media::wav;
use test_support::stack::{Options, Shared};

static STACK: Shared = Shared::new(Options::plain);

/// Held by a scenario while render jobs it made are pending (this stack's worker claims none: it has
/// no render service) or while it claims one itself, so it claims its own.
pub static RENDER_QUEUE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A client of this binary's stack as a new account named after the scenario.
pub async fn creator(name: &str) -> Api<'static> {
    STACK.get().new_creator(name).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_calls_get_401() {
    let api = &creator("unauthenticated_calls_get_401").await;
    let routes = [
        ("GET", "/api/jobs/job_x"),
        ("POST", "/api/uploads"),
        ("POST", "/api/audio/ingest"),
        ("GET", "/api/assets/ast_x"),
    ];
    for (method, path) in routes {
        // No key, a bearer that is not a key, and a well-formed key nobody issued (checked in the database).
        let unknown = format!("Bearer {}", studio_core::accounts::new_api_key(&[9u8; 32]));
        for auth in [None, Some("Bearer wrong"), Some(unknown.as_str())] {
            let mut req = api.http.request(method.parse().unwrap(), api.url(path));
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"]["code"], "unauthorized");
            assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_both_checks() {
    let api = &creator("health_reports_both_checks").await;
    let r = api.http.get(api.url("/api/health")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({"status": "ok", "checks": {"database": "ok", "storage": "ok", "render": "not_configured"}})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wav_uploads_ingests_and_downloads_identically() {
    let api = &creator("a_wav_uploads_ingests_and_downloads_identically").await;
    let audio = wav(2.5, 22_050, 2);
    let upload_id = api.upload("tone.wav", "audio/wav", &audio).await;
    let job_id = api.ingest(&upload_id).await;
    let job = api.wait_terminal(&job_id).await;
    assert_eq!(job["status"], "complete", "{job}\n{}", api.stack.logs());
    assert_eq!(job["type"], "ingest");
    assert_eq!(job["progress"], 100.0);
    assert!(job["error"].is_null());
    let audio_info = &job["result"]["audio"];
    assert!((audio_info["durationSec"].as_f64().unwrap() - 2.5).abs() < 0.01, "{audio_info}");
    assert_eq!(audio_info["channels"], 2);
    assert_eq!(audio_info["sampleRate"], 22_050);
    assert_eq!(audio_info["codec"], "pcm_s16le");

    let download_url = job["downloadUrl"].as_str().unwrap();
    let downloaded = api.http.get(download_url).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(downloaded.as_ref(), audio.as_slice(), "byte-identical download");

    let ranged = api.http.get(download_url).header("range", "bytes=100-199").send().await.unwrap();
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(ranged.headers()["content-range"], format!("bytes 100-199/{}", audio.len()).as_str());
    assert_eq!(ranged.bytes().await.unwrap().as_ref(), &audio[100..200]);
    let beyond = api.http.get(download_url).header("range", format!("bytes={}-", audio.len())).send().await.unwrap();
    assert_eq!(beyond.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(beyond.headers()["content-range"], format!("bytes */{}", audio.len()).as_str());

    let asset_id = job["result"]["assetId"].as_str().unwrap();
    let (status, asset) = api.get(&format!("/api/assets/{asset_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(asset["audio"], *audio_info);
    let peaks = asset["peaks"].as_array().unwrap();
    assert!((120..=130).contains(&peaks.len()), "about 50 pairs a second, got {}", peaks.len());
    assert!(peaks.iter().all(|p| p[0].as_f64().unwrap() <= p[1].as_f64().unwrap()));
    assert!(peaks[10][1].as_f64().unwrap() > 0.3, "a loud tone has tall peaks");

    // The upload's bytes are swept once the job finished; the upload cannot be ingested twice.
    api.wait_swept(&upload_id).await;
    let (status, body) =
        api.post("/api/audio/ingest", json!({"source": {"type": "upload", "uploadId": upload_id}})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("upload_consumed")));

    let (_, events) = api.get(&format!("/api/jobs/{job_id}/events")).await;
    let kinds: Vec<&str> = events["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"created"));
    assert_eq!(kinds.last(), Some(&"completed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_file_has_its_audio_extracted() {
    let api = &creator("a_video_file_has_its_audio_extracted").await;
    let dir = tempfile::tempdir().unwrap();
    let mp4 = dir.path().join("clip.mp4");
    let ok = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=10:duration=2"])
        .args(["-f", "lavfi", "-i", "sine=frequency=330:duration=2", "-c:v", "libx264", "-c:a", "aac", "-shortest"])
        .arg(&mp4)
        .status()
        .unwrap();
    assert!(ok.success());
    let upload_id = api.upload("clip.mp4", "video/mp4", &std::fs::read(&mp4).unwrap()).await;
    let job = api.wait_terminal(&api.ingest(&upload_id).await).await;
    assert_eq!(job["status"], "complete", "{job}\n{}", api.stack.logs());
    assert_eq!(job["result"]["audio"]["codec"], "aac");
    assert_eq!(job["result"]["audio"]["channels"], 1);
    let url = job["downloadUrl"].as_str().unwrap();
    assert!(url.contains("/original.m4a?"), "{url}");
    let stored = api.http.get(url).send().await.unwrap();
    assert_eq!(stored.headers()["content-type"], "audio/mp4");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_audio_file_fails_with_not_audio() {
    let api = &creator("a_non_audio_file_fails_with_not_audio").await;
    let text = b"this is a shopping list, not a song\n".repeat(50);
    let upload_id = api.upload("list.mp3", "audio/mpeg", &text).await;
    let job = api.wait_terminal(&api.ingest(&upload_id).await).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(job["error"]["code"], "not_audio");
    assert_eq!(job["attempt"], 1, "a permanent failure is not retried");
    assert!(job["downloadUrl"].is_null());
    assert!(!job["error"]["message"].as_str().unwrap().contains('/'), "no paths leak: {job}");
    let events = events_text(api, job["jobId"].as_str().unwrap()).await;
    for internal in ["/tmp", "0x", "@", "Invalid data", "ffprobe", "worker"] {
        assert!(!events.contains(internal), "{internal} in the creator's events: {events}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_job_stays_cancelled() {
    let api = &creator("a_cancelled_job_stays_cancelled").await;
    let upload_id = api.upload("long.wav", "audio/wav", &wav(20.0, 44_100, 2)).await;
    let job_id = api.ingest(&upload_id).await;
    let (status, body) = api.post(&format!("/api/jobs/{job_id}/cancel"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"jobId": job_id, "status": "cancelled"}));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, job) = api.get(&format!("/api/jobs/{job_id}")).await;
    assert_eq!(job["status"], "cancelled", "{job}");
    assert!(job["result"].is_null() && job["downloadUrl"].is_null());
    let (status, body) = api.post(&format!("/api/jobs/{job_id}/cancel"), json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("job_terminal")));
    // Whether the worker had started or not, the upload's bytes are swept once the job is over.
    api.wait_swept(&upload_id).await;
}
