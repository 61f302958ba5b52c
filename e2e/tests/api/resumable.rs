//! A resumable upload: a 30-MiB file goes up in parts; one part's connection drops mid-way; the upload
//! lists what arrived, refuses to complete with a part missing, takes the missing part from a fresh URL,
//! completes, and ingests to the very same bytes.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::creator;
use test_support::media::wav;

/// Sends a PUT whose connection drops after `sent` of the declared bytes.
async fn dropped_put(url: &str, declared: usize, sent: &[u8]) {
    let url = reqwest::Url::parse(url).unwrap();
    let mut conn = tokio::net::TcpStream::connect((url.host_str().unwrap(), url.port().unwrap())).await.unwrap();
    let path = format!("{}?{}", url.path(), url.query().unwrap());
    let head = format!(
        "PUT {path} HTTP/1.1\r\nhost: {}:{}\r\ncontent-type: audio/wav\r\ncontent-length: {declared}\r\n\r\n",
        url.host_str().unwrap(),
        url.port().unwrap()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(sent).await.unwrap();
    drop(conn);
    tokio::time::sleep(Duration::from_millis(500)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_upload_resumes_after_a_dropped_part() {
    let api = &creator("a_large_upload_resumes_after_a_dropped_part").await;
    let bytes = wav(356.0, 22_050, 2);
    assert!(bytes.len() > 29 * 1024 * 1024);
    let (status, plan) = api
        .post(
            "/api/uploads",
            json!({"filename": "long.wav", "contentType": "audio/wav", "size": bytes.len(), "multipart": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{plan}");
    let upload_id = plan["uploadId"].as_str().unwrap().to_owned();
    let part_size = plan["multipart"]["partSize"].as_u64().unwrap() as usize;
    assert!(part_size >= 5 * 1024 * 1024);
    let parts = plan["multipart"]["parts"].as_array().unwrap().clone();
    assert_eq!(parts.len(), bytes.len().div_ceil(part_size));
    let chunk = |n: usize| &bytes[(n - 1) * part_size..(n * part_size).min(bytes.len())];
    let put = |url: String, body: Vec<u8>| async move {
        api.http.put(url).header("content-type", "audio/wav").body(body).send().await.unwrap()
    };

    // Every part but the third arrives; the third's connection drops after 1 MiB.
    for part in &parts {
        let n = part["partNumber"].as_u64().unwrap() as usize;
        let url = part["url"].as_str().unwrap().to_owned();
        if n == 3 {
            dropped_put(&url, chunk(3).len(), &chunk(3)[..1024 * 1024]).await;
        } else {
            let r = put(url, chunk(n).to_vec()).await;
            assert_eq!(r.status(), StatusCode::OK, "part {n}: {}", r.text().await.unwrap());
        }
    }
    // A part of the wrong length is refused.
    let wrong = put(parts[0]["url"].as_str().unwrap().to_owned(), vec![0u8; 10]).await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);

    let (status, state) = api.get(&format!("/api/uploads/{upload_id}")).await;
    assert_eq!(status, StatusCode::OK, "{state}");
    assert_eq!(state["multipart"]["missing"], json!([3]), "{state}");
    let received: Vec<u64> =
        state["multipart"]["received"].as_array().unwrap().iter().map(|p| p["partNumber"].as_u64().unwrap()).collect();
    assert_eq!(received, [1, 2, 4]);
    let complete_url = state["multipart"]["completeUrl"].as_str().unwrap().to_owned();
    let early = api.http.post(&complete_url).json(&json!({})).send().await.unwrap();
    assert_eq!(early.status(), StatusCode::CONFLICT);
    let early: Value = early.json().await.unwrap();
    assert_eq!(early["error"]["code"], "upload_incomplete");
    assert!(early["error"]["message"].as_str().unwrap().contains("parts 3 "), "{early}");

    // Resume: only the missing part, from the fresh URL the upload lists.
    let resend = state["multipart"]["parts"].as_array().unwrap();
    assert_eq!(resend.len(), 1);
    let r = put(resend[0]["url"].as_str().unwrap().to_owned(), chunk(3).to_vec()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let done = api.http.post(&complete_url).json(&json!({})).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::OK, "{}", done.text().await.unwrap());
    let (_, state) = api.get(&format!("/api/uploads/{upload_id}")).await;
    assert_eq!(state["status"], "received", "{state}");
    // Another account sees nothing of it.
    let other = api.stack.create_account(json!({"name": "resume-other"})).await;
    assert_eq!(api.get_as(&other.api_key, &format!("/api/uploads/{upload_id}")).await.0, StatusCode::NOT_FOUND);

    let job = api.wait_terminal(&api.ingest(&upload_id).await).await;
    assert_eq!(job["status"], "complete", "{job}");
    let (_, asset) = api.get(&format!("/api/assets/{}", job["result"]["assetId"].as_str().unwrap())).await;
    let stored = api.http.get(asset["downloadUrl"].as_str().unwrap()).send().await.unwrap().bytes().await.unwrap();
    assert!(stored[..] == bytes[..], "the asset is the very bytes sent, in order");
}
