//! End to end, the scenarios that change the stack under them — stopping the worker with SIGTERM or
//! running it with a hanging ffprobe, running without a worker, and the request after which wrangler
//! dev's proxy stumbles — on this binary's own stack (turso-local, `wrangler dev`, cpu-worker). They
//! take the stack one at a time and each leaves it as it found it: a normal worker, a healthy edge.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use e2e::{count_uploads, ingest_as, raw_request};
use reqwest::StatusCode;
use serde_json::json;
use test_support::media::wav;
use test_support::stack::{tail, Options, Shared, Stack};

static STACK: Shared = Shared::new(Options::plain);

async fn wait_for_pid(pid_file: &Path) -> i32 {
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

/// Runs a worker whose ffprobe hangs (writing its pid to the returned file first), so jobs can be
/// caught mid-flight; its shutdown grace is 1 s.
fn start_worker_with_a_hanging_ffprobe(stack: &Stack) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("ffprobe.pid");
    let slow = dir.path().join("slow-ffprobe");
    std::fs::write(&slow, format!("#!/bin/sh\necho $$ > {}\nexec sleep 60\n", pid_file.display())).unwrap();
    std::fs::set_permissions(&slow, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    stack.start_worker_with(&[("FFPROBE_BIN", slow.to_str().unwrap()), ("WORKER_SHUTDOWN_GRACE_MS", "1000")]);
    (dir, pid_file)
}

/// SIGTERM on an idle worker: it stops claiming and exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_worker_exits_0_on_sigterm() {
    let stack = STACK.alone().await;
    stack.start_worker();
    stack.wait_worker_ready().await;
    let status = stack.terminate_worker(Duration::from_secs(30)).await;
    assert!(status.success(), "worker exit status {status}\n{}", stack.logs());
    stack.start_worker();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_mid_flight_kills_the_child() {
    let stack = STACK.alone().await;
    let (_tools, pid_file) = start_worker_with_a_hanging_ffprobe(&stack);
    let api = &stack.new_creator("cancel_mid_flight_kills_the_child").await;
    let upload_id = api.upload("held.wav", "audio/wav", &wav(1.0, 8_000, 1)).await;
    let job_id = api.ingest(&upload_id).await;
    let ffprobe = wait_for_pid(&pid_file).await;
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
    assert!(tail(&api.stack.worker_log()).contains("no longer ours"));
    stack.start_worker();
}

/// Holds a job in ffprobe, sends SIGTERM; the worker exits 0 after its grace and the job is pending
/// again, and the next worker finishes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_flight_releases_the_job() {
    let stack = STACK.alone().await;
    let (_tools, pid_file) = start_worker_with_a_hanging_ffprobe(&stack);
    let api = &stack.new_creator("sigterm_mid_flight_releases_the_job").await;
    let upload_id = api.upload("released.wav", "audio/wav", &wav(1.0, 8_000, 1)).await;
    let held_job = api.ingest(&upload_id).await;
    wait_for_pid(&pid_file).await;
    let status = stack.terminate_worker(Duration::from_secs(10)).await;
    assert!(status.success(), "worker exit status {status}\n{}", stack.logs());
    let (_, job) = api.get(&format!("/api/jobs/{held_job}")).await;
    assert_eq!((job["status"].as_str(), job["attempt"].as_i64()), (Some("pending"), Some(0)), "released: {job}");
    stack.start_worker();
    let job = api.wait_terminal(&held_job).await;
    assert_eq!(job["status"], "complete", "a released job is finished by the next worker: {job}");
}

/// A JSON body without a declared length is read only up to the cap (64 KiB), then refused while it
/// still flows. Alone on the stack: after a refused chunked body, wrangler dev's local proxy (not
/// part of a deployed Worker) stumbles over the next request (503 "worker restarted mid-request", or
/// no answer at all).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_json_bodies_stop_at_the_cap() {
    let stack = STACK.alone().await;
    let api = &stack.new_creator("chunked_json_bodies_stop_at_the_cap").await;
    let before = count_uploads(api).await;
    let head = format!(
        "POST /api/uploads HTTP/1.1\r\nhost: {{host}}\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        api.account.api_key
    );
    let mut chunks = Vec::new();
    for _ in 0..10 {
        chunks.extend_from_slice(format!("{:x}\r\n", 8192).as_bytes());
        chunks.extend_from_slice(&[b' '; 8192]);
        chunks.extend_from_slice(b"\r\n");
    }
    let (status, _) = raw_request(api, &head, &chunks).await;
    assert!(status.contains(" 413 "), "{status}");
    assert_eq!(count_uploads(api).await, before, "nothing was created");
    // The proxy's stumble is this test's: the request after the refused body gets no answer (here a
    // health check, given up after 3 s); the edge answers again before the stack is handed on.
    let client = reqwest::Client::builder().timeout(Duration::from_secs(3)).build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !matches!(client.get(api.url("/api/health")).send().await, Ok(r) if r.status() == StatusCode::OK) {
        assert!(Instant::now() < deadline, "the edge never answered again\n{}", stack.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Without a worker, created jobs stay active: the job and render-time quotas are met exactly; each
/// refusal is a clear 4xx with its code and leaves no row behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_and_render_quotas_refuse_and_create_nothing() {
    let stack = STACK.alone().await;
    stack.start_worker();
    let api = &stack.api();
    let c = stack.create_account(json!({"name": "C", "quotas": {"activeJobs": 1, "renderSecondsPerDay": 5}})).await;
    let asset_id = &ingest_as(api, &c.api_key, 12.0).await;
    stack.kill_worker();
    let c_jobs = format!("SELECT count(*) AS n FROM jobs WHERE account_id = '{}'", c.id);
    let render = |seconds: f64| json!({"audio": {"assetId": asset_id}, "format": "flat-1080p-square", "preview": {"seconds": seconds, "scale": 0.05}});
    let (status, first) = api.post_as(&c.api_key, "/api/render", render(4.0)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    let jobs = api.count(&c_jobs).await;

    // One active job is the limit: another render, or an ingest, is refused and changes nothing.
    let (status, refused) = api.post_as(&c.api_key, "/api/render", render(1.0)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{refused}");
    assert_eq!(refused["error"]["code"], "quota_exceeded");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("activeJobs") && message.contains("usage 1") && message.contains("limit of 1"),
        "{message}"
    );
    let bytes = wav(0.5, 8_000, 1);
    let (_, declared) = api
        .post_as(
            &c.api_key,
            "/api/uploads",
            json!({"filename": "t.wav", "contentType": "audio/wav", "size": bytes.len()}),
        )
        .await;
    let put = api.http.put(declared["uploadUrl"].as_str().unwrap()).header("content-type", "audio/wav").body(bytes);
    assert_eq!(put.send().await.unwrap().status(), StatusCode::OK);
    let upload_id = declared["uploadId"].as_str().unwrap();
    let (status, refused) = api
        .post_as(&c.api_key, "/api/audio/ingest", json!({"source": {"type": "upload", "uploadId": upload_id}}))
        .await;
    assert_eq!((status, refused["error"]["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("quota_exceeded")));
    let received = format!("SELECT count(*) AS n FROM uploads WHERE id = '{upload_id}' AND status = 'received'");
    assert_eq!(api.count(&received).await, 1, "the upload was not consumed");
    assert_eq!(api.count(&c_jobs).await, jobs, "no job created");

    // Cancelled, the job frees its slot but its 4 s stay counted today: 2 s more would pass 5.
    let job_id = first["jobId"].as_str().unwrap();
    assert_eq!(api.post_as(&c.api_key, &format!("/api/jobs/{job_id}/cancel"), json!({})).await.0, StatusCode::OK);
    let (status, refused) = api.post_as(&c.api_key, "/api/render", render(2.0)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("renderSecondsPerDay") && message.contains("4.0 s") && message.contains("5.0 s"),
        "{message}"
    );
    assert_eq!(api.count(&c_jobs).await, jobs);
    let (status, last) = api.post_as(&c.api_key, "/api/render", render(1.0)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "1 s still fits");
    let (_, usage) = api.get_as(&c.api_key, "/api/usage").await;
    assert_eq!(usage["renderSecondsToday"], json!({"used": 5.0, "limit": 5.0}), "{usage}");
    assert_eq!(usage["activeJobs"], json!({"used": 1, "limit": 1}), "{usage}");
    // No render job left pending on a stack whose worker claims none.
    let job_id = last["jobId"].as_str().unwrap();
    assert_eq!(api.post_as(&c.api_key, &format!("/api/jobs/{job_id}/cancel"), json!({})).await.0, StatusCode::OK);
    stack.start_worker();
}
