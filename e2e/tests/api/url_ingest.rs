//! Ingest from a direct link: a good link (on the stack's allow-listed media port) becomes an asset;
//! links the edge can judge without DNS are refused at once with 400 `url_forbidden` and create
//! nothing; a link that redirects somewhere forbidden fails its job with `url_forbidden`, and neither
//! the answer nor the events repeat the link.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::creator;
use test_support::api::events_text;
use test_support::media::wav;

/// Serves `/track.wav` and `/away` (a redirect to a loopback port nobody allowed) on `port`.
async fn media_server(port: u16, track: Vec<u8>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let track = track.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = conn.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                let mut answer = if head.starts_with("GET /track.wav ") {
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: audio/wav\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        track.len()
                    )
                    .into_bytes()
                } else {
                    b"HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:9/secret-token-abc\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec()
                };
                if head.starts_with("GET /track.wav ") {
                    answer.extend_from_slice(&track);
                }
                let _ = conn.write_all(&answer).await;
            });
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_are_ingested_behind_the_ssrf_guard() {
    let api = &creator("links_are_ingested_behind_the_ssrf_guard").await;
    let port = api.stack.media_port;
    media_server(port, wav(1.5, 22_050, 1)).await;
    let ingest = |url: String| json!({"source": {"type": "url", "url": url}});

    let (status, accepted) = api.post("/api/audio/ingest", ingest(format!("http://127.0.0.1:{port}/track.wav"))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let job = api.wait_terminal(accepted["jobId"].as_str().unwrap()).await;
    assert_eq!(job["status"], "complete", "{job}");
    assert!((job["result"]["audio"]["durationSec"].as_f64().unwrap() - 1.5).abs() < 0.05, "{job}");
    let (_, asset) = api.get(&format!("/api/assets/{}", job["result"]["assetId"].as_str().unwrap())).await;
    assert_eq!(asset["filename"], "track.wav", "{asset}");

    // A YouTube-type ingest runs the pinned yt-dlp (here on the allow-listed local server: its generic
    // extractor takes a direct media link); the rights must be attested.
    let youtube = |attested: bool| json!({"source": {"type": "youtube", "url": format!("http://127.0.0.1:{port}/track.wav"), "rightsAttested": attested}});
    let (status, refused) = api.post("/api/audio/ingest", youtube(false)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().starts_with("source.rightsAttested"));
    let (status, refused) = api
        .post("/api/audio/ingest", json!({"source": {"type": "youtube", "url": "https://www.youtube.com/playlist?list=PL1", "rightsAttested": true}}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    let (status, accepted) = api.post("/api/audio/ingest", youtube(true)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let job = api.wait_terminal(accepted["jobId"].as_str().unwrap()).await;
    assert_eq!(job["status"], "complete", "{job}\n{}", api.stack.logs());
    assert!((job["result"]["audio"]["durationSec"].as_f64().unwrap() - 1.5).abs() < 0.05, "{job}");

    // Refused at the edge, before anything is created.
    let jobs = api.count_mine("jobs").await;
    for url in [
        "https://127.0.0.1/a.wav",
        "https://0x7f.1/a.wav",
        "https://2130706433/a.wav",
        "https://[::ffff:10.0.0.1]/a.wav",
        "https://169.254.169.254/latest/meta-data",
        "http://example.com/a.wav",
        "https://user:pw@example.com/a.wav",
        "https://localhost/a.wav",
    ] {
        let (status, refused) = api.post("/api/audio/ingest", ingest(url.to_owned())).await;
        assert_eq!(
            (status, refused["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("url_forbidden")),
            "{url}"
        );
        assert!(refused["error"]["message"].as_str().unwrap().starts_with("source.url"), "{refused}");
    }
    assert_eq!(api.count_mine("jobs").await, jobs, "nothing created");

    // Allowed at the edge, refused by the worker at the redirect: failed at once, the rule named.
    let (status, accepted) = api.post("/api/audio/ingest", ingest(format!("http://127.0.0.1:{port}/away"))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let job_id = accepted["jobId"].as_str().unwrap();
    let job = api.wait_terminal_within(job_id, Duration::from_secs(60)).await;
    assert_eq!(
        (job["status"].as_str(), job["error"]["code"].as_str()),
        (Some("failed"), Some("url_forbidden")),
        "{job}"
    );
    assert_eq!(job["attempt"], 1, "permanent: not retried");
    let events = events_text(api, job_id).await;
    for text in [job.to_string(), events] {
        assert!(!text.contains("secret-token-abc") && !text.contains("127.0.0.1"), "{text}");
    }
}
