//! End to end: the three real processes on free ports, driven through the public API. One stack for
//! the whole test (starting workerd is the slow part); each scenario is its own function — the happy
//! path, cancel and shutdown here, hostile requests in `hostile.rs`, listing in `listing.rs`, render webhooks in `webhooks.rs`, accounts and keys in `accounts.rs`, the library in `library.rs`, edit recipes in `edits.rs`.

mod accounts;
mod edits;
mod hostile;
mod library;
mod listing;
mod resumable;
#[path = "../support/mod.rs"]
mod support;
mod url_ingest;
mod webhooks;

use std::time::{Duration, Instant};

use accounts::*;
use edits::*;
use hostile::*;
use library::*;
use listing::*;
use reqwest::{Client, StatusCode};
use resumable::*;
use serde_json::{json, Value};
use support::api::{events_text, wav, Api};
use support::stack::Stack;
use url_ingest::*;
use webhooks::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_stack_ingests_uploads_end_to_end() {
    let mut stack = Stack::start().await;
    let api = Api { stack: &stack, http: Client::new() };

    unauthenticated_calls_get_401(&api).await;
    health_reports_both_checks(&api).await;
    oversized_declarations_get_413_and_create_nothing(&api).await;
    bodies_longer_than_declared_get_413_and_store_nothing(&api).await;
    bad_and_expired_signatures_get_403(&api).await;
    a_wav_uploads_ingests_and_downloads_identically(&api).await;
    a_video_file_has_its_audio_extracted(&api).await;
    a_non_audio_file_fails_with_not_audio(&api).await;
    a_cancelled_job_stays_cancelled(&api).await;
    unknown_things_are_404(&api).await;
    puts_without_a_length_get_411_and_receive_nothing(&api).await;
    json_bodies_are_refused_before_they_are_read(&api).await;
    invisible_and_direction_changing_filenames_are_refused(&api).await;
    a_playlist_cannot_make_the_worker_read_its_own_files(&api).await;
    a_late_put_cannot_touch_ingested_bytes(&api).await;
    jobs_are_listed_newest_first_in_pages(&api).await;
    render_webhooks_are_verified_deduplicated_and_fenced(&api).await;
    the_operator_manages_accounts_and_keys(&api).await;
    links_are_ingested_behind_the_ssrf_guard(&api).await;
    a_large_upload_resumes_after_a_dropped_part(&api).await;
    the_library_lists_pages_and_guards_deletion(&api).await;
    a_two_source_recipe_previews_and_saves(&api).await;
    invalid_recipes_are_refused_or_fail_naming_the_clip(&api).await;
    unused_assets_expire_unless_a_recipe_uses_them(&api).await;

    // SIGTERM on an idle worker: it stops claiming and exits 0.
    terminate_worker(&mut stack, Duration::from_secs(30)).await;

    // A worker whose ffprobe hangs, so jobs can be caught mid-flight.
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("ffprobe.pid");
    let slow = dir.path().join("slow-ffprobe");
    std::fs::write(&slow, format!("#!/bin/sh\necho $$ > {}\nexec sleep 60\n", pid_file.display())).unwrap();
    std::fs::set_permissions(&slow, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    stack.start_worker_with(&[("FFPROBE_BIN", slow.to_str().unwrap()), ("WORKER_SHUTDOWN_GRACE_MS", "1000")]);
    let api = Api { stack: &stack, http: Client::new() };
    cancel_mid_flight_kills_the_child(&api, &pid_file).await;
    let held_job = sigterm_mid_flight_releases_the_job(&api, &pid_file).await;
    drop(api);
    terminate_worker(&mut stack, Duration::from_secs(10)).await;
    {
        let api = Api { stack: &stack, http: Client::new() };
        let (_, job) = api.get(&format!("/api/jobs/{held_job}")).await;
        assert_eq!((job["status"].as_str(), job["attempt"].as_i64()), (Some("pending"), Some(0)), "released: {job}");
    }
    stack.start_worker();
    let api = Api { stack: &stack, http: Client::new() };
    let job = api.wait_terminal(&held_job).await;
    assert_eq!(job["status"], "complete", "a released job is finished by the next worker: {job}");
    chunked_json_bodies_stop_at_the_cap(&api).await;
}

async fn terminate_worker(stack: &mut Stack, within: Duration) {
    let mut worker = stack.worker.take().unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(worker.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = worker.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < within, "worker did not stop within {within:?} of SIGTERM\n{}", stack.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "worker exit status {status}\n{}", stack.logs());
}

async fn wait_for_pid(pid_file: &std::path::Path) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(pid) = std::fs::read_to_string(pid_file).ok().and_then(|s| s.trim().parse().ok()) {
            let _ = std::fs::remove_file(pid_file);
            return pid;
        }
        assert!(Instant::now() < deadline, "ffprobe never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn alive(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    !stat.is_empty() && !stat.contains(") Z ")
}

async fn cancel_mid_flight_kills_the_child(api: &Api<'_>, pid_file: &std::path::Path) {
    let upload_id = api.upload("held.wav", "audio/wav", &wav(1.0, 8_000, 1)).await;
    let job_id = api.ingest(&upload_id).await;
    let ffprobe = wait_for_pid(pid_file).await;
    assert!(alive(ffprobe));
    let (_, job) = api.get(&format!("/api/jobs/{job_id}")).await;
    assert_eq!((job["status"].as_str(), job["stage"].as_str()), (Some("processing"), Some("analyzing")));
    let (status, _) = api.post(&format!("/api/jobs/{job_id}/cancel"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    // One heartbeat (2 s) later the worker has noticed and killed ffprobe.
    let deadline = Instant::now() + Duration::from_secs(6);
    while alive(ffprobe) {
        assert!(Instant::now() < deadline, "ffprobe {ffprobe} survived the cancel\n{}", api.stack.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, job) = api.get(&format!("/api/jobs/{job_id}")).await;
    assert_eq!(job["status"], "cancelled", "{job}");
    assert!(support::stack::tail(&api.stack.worker_log()).contains("no longer ours"));
}

/// Holds a job in ffprobe, sends SIGTERM; the worker exits 0 after its grace and the job is pending
/// again. Returns the job id.
async fn sigterm_mid_flight_releases_the_job(api: &Api<'_>, pid_file: &std::path::Path) -> String {
    let upload_id = api.upload("released.wav", "audio/wav", &wav(1.0, 8_000, 1)).await;
    let job_id = api.ingest(&upload_id).await;
    let ffprobe = wait_for_pid(pid_file).await;
    let _ = ffprobe;
    job_id
}

async fn unauthenticated_calls_get_401(api: &Api<'_>) {
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

async fn health_reports_both_checks(api: &Api<'_>) {
    let r = api.http.get(api.url("/api/health")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({"status": "ok", "checks": {"database": "ok", "storage": "ok", "render": "not_configured"}})
    );
}

async fn a_wav_uploads_ingests_and_downloads_identically(api: &Api<'_>) {
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

async fn a_video_file_has_its_audio_extracted(api: &Api<'_>) {
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

async fn a_non_audio_file_fails_with_not_audio(api: &Api<'_>) {
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

async fn a_cancelled_job_stays_cancelled(api: &Api<'_>) {
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
