//! What scenarios in more than one of this crate's test binaries share (`tests/*`: one binary per
//! stack, one `#[tokio::test]` per scenario). The harness itself is the `test-support` crate.

pub mod render;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use test_support::api::Api;
use test_support::media::wav;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How many uploads the client's account has.
pub async fn count_uploads(api: &Api<'_>) -> i64 {
    api.count_mine("uploads").await
}

/// Sends a raw HTTP/1.1 request head plus `body`, leaves the connection open, and returns the status
/// line of whatever answer arrives (within 5 s) and how long it took.
pub async fn raw_request(api: &Api<'_>, head: &str, body: &[u8]) -> (String, Duration) {
    let addr = api.stack.edge.trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let started = Instant::now();
    conn.write_all(head.replace("{host}", &addr).as_bytes()).await.unwrap();
    conn.write_all(body).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut answer))
        .await
        .expect("no answer within 5 s: the body was being buffered")
        .unwrap();
    let text = String::from_utf8_lossy(&answer[..n]).into_owned();
    (text.lines().next().unwrap_or_default().to_owned(), started.elapsed())
}

/// Uploads and ingests a stereo track of `seconds` as the client's account; returns the asset id.
pub async fn ingest_a_track(api: &Api<'_>, seconds: f64) -> String {
    let upload = api.upload("track.wav", "audio/wav", &wav(seconds, 22_050, 2)).await;
    let job = api.wait_terminal(&api.ingest(&upload).await).await;
    assert_eq!(job["status"], "complete", "{job}");
    job["result"]["assetId"].as_str().unwrap().to_owned()
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
