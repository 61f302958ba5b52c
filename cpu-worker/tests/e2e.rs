//! End to end: the three real processes on free ports, driven through the public API. One stack for
//! the whole file (starting workerd is the slow part); each scenario is its own function.

mod support;

use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use studio_core::keys;
use studio_core::signing::{BlobGrant, BlobMethod, SigningKey};
use support::stack::{Stack, API_TOKEN, SIGNING_SECRET};

struct Api<'a> {
    stack: &'a Stack,
    http: Client,
}

impl Api<'_> {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.stack.edge)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let r = self.http.get(self.url(path)).bearer_auth(API_TOKEN).send().await.unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self.http.post(self.url(path)).bearer_auth(API_TOKEN).json(&body).send().await.unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    /// Declares an upload and PUTs the bytes; returns the upload id.
    async fn upload(&self, name: &str, content_type: &str, bytes: &[u8]) -> String {
        let (status, body) = self
            .post("/api/uploads", json!({"filename": name, "contentType": content_type, "size": bytes.len()}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["method"], "PUT");
        let put = self
            .http
            .put(body["uploadUrl"].as_str().unwrap())
            .header("content-type", content_type)
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), StatusCode::OK, "{}", put.text().await.unwrap());
        body["uploadId"].as_str().unwrap().to_owned()
    }

    async fn ingest(&self, upload_id: &str) -> String {
        let (status, body) =
            self.post("/api/audio/ingest", json!({"source": {"type": "upload", "uploadId": upload_id}})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(body["status"], "pending");
        body["jobId"].as_str().unwrap().to_owned()
    }

    async fn wait_terminal(&self, job_id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let (status, job) = self.get(&format!("/api/jobs/{job_id}")).await;
            assert_eq!(status, StatusCode::OK, "{job}");
            if matches!(job["status"].as_str(), Some("complete" | "failed" | "cancelled")) {
                return job;
            }
            assert!(Instant::now() < deadline, "job {job_id} not finished: {job}\n{}", self.stack.logs());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until the housekeeping sweeper has deleted an upload's bytes.
    async fn wait_swept(&self, upload_id: &str) {
        let source = self.signed(BlobMethod::Get, &keys::upload_source(upload_id), now_ms() + 60_000);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.http.get(&source).send().await.unwrap().status() != StatusCode::NOT_FOUND {
            assert!(Instant::now() < deadline, "upload {upload_id}'s bytes were never swept\n{}", self.stack.logs());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A URL only the server's signing key could mint (the test holds the same secret).
    fn signed(&self, method: BlobMethod, key: &str, expires_at_ms: i64) -> String {
        let grant = BlobGrant { method, key: key.to_owned(), expires_at_ms, max_bytes: 0 };
        SigningKey::new(SIGNING_SECRET).url(&self.stack.edge, &grant)
    }
}

fn wav(seconds: f64, rate: u32, channels: u16) -> Vec<u8> {
    let frames = (seconds * rate as f64) as u32;
    let data_len = frames * channels as u32 * 2;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * channels as u32 * 2).to_le_bytes());
    out.extend_from_slice(&(channels * 2).to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..frames {
        let s = ((i as f64 / rate as f64 * 440.0 * std::f64::consts::TAU).sin() * 12_000.0) as i16;
        for _ in 0..channels {
            out.extend_from_slice(&s.to_le_bytes());
        }
    }
    out
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

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
        for auth in [None, Some("Bearer wrong")] {
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
    assert_eq!(body, json!({"status": "ok", "checks": {"database": "ok", "storage": "ok"}}));
}

async fn count_uploads(api: &Api<'_>) -> i64 {
    let db = cpu_worker::transport::database(&api.stack.db_url, Some("e2e-db-token".into()));
    let rows = db.execute(studio_core::hrana::Stmt::new("SELECT COUNT(*) AS n FROM uploads", vec![])).await.unwrap();
    rows.first().unwrap().int("n").unwrap()
}

async fn oversized_declarations_get_413_and_create_nothing(api: &Api<'_>) {
    let before = count_uploads(api).await;
    let (status, body) = api
        .post("/api/uploads", json!({"filename": "big.wav", "contentType": "audio/wav", "size": 100 * 1024 * 1024 + 1}))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["error"]["code"], "payload_too_large");
    let (status, body) =
        api.post("/api/uploads", json!({"filename": "", "contentType": "audio/wav", "size": 10})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_request");
    assert_eq!(count_uploads(api).await, before, "no upload row was created");
}

async fn bodies_longer_than_declared_get_413_and_store_nothing(api: &Api<'_>) {
    let (status, body) =
        api.post("/api/uploads", json!({"filename": "a.wav", "contentType": "audio/wav", "size": 100})).await;
    assert_eq!(status, StatusCode::CREATED);
    let upload_id = body["uploadId"].as_str().unwrap();
    let r = api.http.put(body["uploadUrl"].as_str().unwrap()).body(vec![0u8; 150]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "payload_too_large");
    let stored = api
        .http
        .get(api.signed(BlobMethod::Get, &keys::upload_source(upload_id), now_ms() + 60_000))
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status(), StatusCode::NOT_FOUND, "nothing was stored");
    let (status, body) =
        api.post("/api/audio/ingest", json!({"source": {"type": "upload", "uploadId": upload_id}})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "upload_incomplete");
}

async fn bad_and_expired_signatures_get_403(api: &Api<'_>) {
    let (_, body) = api.post("/api/uploads", json!({"filename": "a.wav", "contentType": "audio/wav", "size": 4})).await;
    let url = body["uploadUrl"].as_str().unwrap();
    let tampered = url.replace("&sig=", "&sig=AAAA");
    let r = api.http.put(&tampered).body(vec![1u8; 4]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "signature_invalid");
    let expired = api.signed(BlobMethod::Get, "assets/ast_x/original.wav", now_ms() - 1_000);
    assert_eq!(api.http.get(expired).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    // A GET signature does not grant PUT.
    let get_url = api.signed(BlobMethod::Get, &keys::upload_source("upl_x"), now_ms() + 60_000);
    assert_eq!(api.http.put(get_url).body(vec![1u8; 4]).send().await.unwrap().status(), StatusCode::FORBIDDEN);
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

async fn unknown_things_are_404(api: &Api<'_>) {
    for path in ["/api/jobs/job_missing", "/api/assets/ast_missing", "/api/jobs/job_missing/events"] {
        let (status, body) = api.get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["error"]["code"], "not_found");
    }
    let (status, body) =
        api.post("/api/audio/ingest", json!({"source": {"type": "upload", "uploadId": "upl_missing"}})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let (status, body) = api.post("/api/audio/ingest", json!({"source": {"type": "ftp"}})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
}
