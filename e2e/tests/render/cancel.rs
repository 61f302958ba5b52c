//! Cancelling renders: the render service stops (its processes end) and nothing is stored — not even
//! through a still-valid upload URL. (An open multipart upload is aborted: `render_reconcile.rs`.)

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use e2e::ingest_a_track;
use e2e::render::{start_draft, wait_submitted};
use studio_core::signing::{BlobGrant, BlobMethod, SigningKey};
use test_support::api::{events_text, Api};
use test_support::now_ms;
use test_support::stack::SIGNING_SECRET;

use crate::creator;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_mid_render_stops_it_and_leaves_no_video() {
    let api = &creator("cancel_mid_render_stops_it_and_leaves_no_video").await;
    let asset_id = &ingest_a_track(api, 12.0).await;
    let job_id = start_draft(api, asset_id, "flat-1080p-square", 12.0, 0.1).await;
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
    let call = wait_submitted(api, &job_id).await;
    assert!(!render_processes(&call, &job_id).is_empty(), "the render is running");

    // While it runs, a video URL of any other claim (a call left over from an earlier one) is refused.
    let key = studio_core::keys::render_video(Some(&api.account.id), &job_id);
    let claim: i64 = api.job_column(&job_id, "claim_seq").await.unwrap().parse().unwrap();
    let stale = video_url(api, &key, claim - 1);
    let put = api.http.put(stale).body(vec![0u8; 1024]).send().await.unwrap();
    assert_eq!(put.status(), StatusCode::CONFLICT);
    assert!(!api.blob_exists(&key).await);

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
    while api.job_column(&job_id, "call_stopped_at").await.is_none() {
        assert!(Instant::now() < stopped_deadline, "the call was never recorded stopped");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, job) = api.get(&format!("/api/jobs/{job_id}")).await;
    assert_eq!(job["status"], "cancelled", "{job}");
    assert!(job["downloadUrl"].is_null());
    // Even the render's own upload URL (bound to the claim that ran) stores nothing once the job is over.
    let late = video_url(api, &key, claim);
    let put = api.http.put(late).body(vec![0u8; 1024]).send().await.unwrap();
    assert_eq!(put.status(), StatusCode::CONFLICT);
    assert_eq!(put.json::<Value>().await.unwrap()["error"]["code"], "job_terminal");
    assert!(!api.blob_exists(&key).await, "no video blob");
    assert!(!api.stack.stored_keys().contains(&key));
    let events = events_text(api, &job_id).await;
    assert!(events.contains("cancelled") && !events.contains("completed"), "{events}");
}

/// A PUT URL of the job's video bound to `claim`, as the worker mints them.
fn video_url(api: &Api<'_>, key: &str, claim: i64) -> String {
    let grant = BlobGrant { claim: Some(claim), ..BlobGrant::object(BlobMethod::Put, key, now_ms() + 60_000, 0) };
    SigningKey::new(SIGNING_SECRET).url(&api.stack.edge, &grant)
}
