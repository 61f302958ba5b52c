//! Hostile and broken requests against the real stack: each is refused with a clear code and leaves
//! nothing behind (no row, no blob), and no race or reference trick reaches bytes it must not.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use studio_core::keys;
use studio_core::signing::BlobMethod;

use crate::creator;
use e2e::{count_uploads, raw_request};
use test_support::api::Api;
use test_support::media::wav;
use test_support::now_ms;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_declarations_get_413_and_create_nothing() {
    let api = &creator("oversized_declarations_get_413_and_create_nothing").await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_longer_than_declared_get_413_and_store_nothing() {
    let api = &creator("bodies_longer_than_declared_get_413_and_store_nothing").await;
    let (status, body) =
        api.post("/api/uploads", json!({"filename": "a.wav", "contentType": "audio/wav", "size": 100})).await;
    assert_eq!(status, StatusCode::CREATED);
    let upload_id = body["uploadId"].as_str().unwrap();
    let r = api.http.put(body["uploadUrl"].as_str().unwrap()).body(vec![0u8; 150]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "payload_too_large");
    assert!(api.upload_keys(upload_id).await.is_empty(), "refused before any byte was stored");
    let (status, body) =
        api.post("/api/audio/ingest", json!({"source": {"type": "upload", "uploadId": upload_id}})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "upload_incomplete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_and_expired_signatures_get_403() {
    let api = &creator("bad_and_expired_signatures_get_403").await;
    let (_, body) = api.post("/api/uploads", json!({"filename": "a.wav", "contentType": "audio/wav", "size": 4})).await;
    let url = body["uploadUrl"].as_str().unwrap();
    let tampered = url.replace("&sig=", "&sig=AAAA");
    // A signature that does not match names nothing: answered like an unknown blob.
    let r = api.http.put(&tampered).body(vec![1u8; 4]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "not_found");
    let expired = api.signed(BlobMethod::Get, "assets/ast_x/original.wav", now_ms() - 1_000);
    assert_eq!(api.http.get(expired).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    // A GET signature does not grant PUT.
    let get_url = api.signed(BlobMethod::Get, &keys::upload_source(None, "upl_x"), now_ms() + 60_000);
    assert_eq!(api.http.put(get_url).body(vec![1u8; 4]).send().await.unwrap().status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_things_are_404() {
    let api = &creator("unknown_things_are_404").await;
    for path in [
        "/api/jobs/job_missing",
        "/api/assets/ast_missing",
        "/api/jobs/job_missing/events",
        "/api/jobs/x/y/z",
        "/api/jobs/job_x/events/extra",
        "/api/assets/ast_x/more",
        "/api/nothing",
    ] {
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

pub async fn declare(api: &Api<'_>, size: usize) -> (String, String) {
    let (status, body) =
        api.post("/api/uploads", json!({"filename": "x.wav", "contentType": "audio/wav", "size": size})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (body["uploadId"].as_str().unwrap().to_owned(), body["uploadUrl"].as_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn puts_without_a_length_get_411_and_receive_nothing() {
    let api = &creator("puts_without_a_length_get_411_and_receive_nothing").await;
    let (upload_id, url) = declare(api, 64).await;
    // No body at all, and a chunked body of unknown length.
    let empty = api.http.put(&url).send().await.unwrap();
    let chunks = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(vec![7u8; 64])]);
    let chunked = api.http.put(&url).body(reqwest::Body::wrap_stream(chunks)).send().await.unwrap();
    for r in [empty, chunked] {
        assert_eq!(r.status(), StatusCode::LENGTH_REQUIRED);
        assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "length_required");
    }
    let (status, body) =
        api.post("/api/audio/ingest", json!({"source": {"type": "upload", "uploadId": upload_id}})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("upload_incomplete")));
    assert!(api.upload_keys(&upload_id).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_bodies_are_refused_before_they_are_read() {
    let api = &creator("json_bodies_are_refused_before_they_are_read").await;
    let before = count_uploads(api).await;
    // Declares 300 MB and sends 1 KiB: the answer comes without waiting for (or buffering) the rest.
    let head = format!(
        "POST /api/uploads HTTP/1.1\r\nhost: {{host}}\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\ncontent-length: 314572800\r\n\r\n",
        api.account.api_key
    );
    let (status, took) = raw_request(api, &head, &[b' '; 1024]).await;
    assert!(status.contains(" 413 "), "{status}");
    assert!(took < Duration::from_secs(3), "refused after {took:?}");
    assert_eq!(count_uploads(api).await, before, "nothing was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invisible_and_direction_changing_filenames_are_refused() {
    let api = &creator("invisible_and_direction_changing_filenames_are_refused").await;
    let before = count_uploads(api).await;
    for name in ["\u{200B}\u{200C}\u{FEFF}", "\u{202E}\u{2066}", "track\u{202E}3pm.exe"] {
        let (status, body) =
            api.post("/api/uploads", json!({"filename": name, "contentType": "audio/wav", "size": 10})).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
        assert!(body["error"]["message"].as_str().unwrap().contains("filename"));
    }
    assert_eq!(count_uploads(api).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_playlist_cannot_make_the_worker_read_its_own_files() {
    let api = &creator("a_playlist_cannot_make_the_worker_read_its_own_files").await;
    // A real audio file on the worker's machine, and a playlist pointing at it (path, file URL, and a
    // path that does not exist: all three must fail the same way).
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("worker-local.wav");
    std::fs::write(&local, wav(3.0, 8_000, 1)).unwrap();
    let missing = dir.path().join("missing.wav");
    let mut answers = Vec::new();
    for target in [local.display().to_string(), format!("file://{}", local.display()), missing.display().to_string()] {
        let playlist = format!("#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXTINF:3.0,\n{target}\n#EXT-X-ENDLIST\n");
        let upload_id = api.upload("list.m3u8", "audio/x-mpegurl", playlist.as_bytes()).await;
        let job = api.wait_terminal(&api.ingest(&upload_id).await).await;
        assert_eq!(job["status"], "failed", "the playlist was followed: {job}");
        assert_eq!(job["error"]["code"], "not_audio");
        assert!(job["result"].is_null());
        answers.push(job["error"].clone());
    }
    assert!(answers.iter().all(|a| *a == answers[0]), "no existence oracle: {answers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_put_cannot_touch_ingested_bytes() {
    let api = &creator("a_late_put_cannot_touch_ingested_bytes").await;
    let audio = wav(1.5, 8_000, 1);
    let (upload_id, url) = declare(api, audio.len()).await;
    let first = api.http.put(&url).body(audio.clone()).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);

    // A second PUT of other bytes starts streaming…
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let body = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let late = api.http.put(&url).header("content-length", audio.len()).body(reqwest::Body::wrap_stream(body)).send();
    let late = tokio::spawn(late);
    let half = audio.len() / 2;
    tx.send(Ok(vec![0u8; half])).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while api.upload_keys(&upload_id).await.len() < 2 {
        assert!(Instant::now() < deadline, "the second PUT never reached the edge\n{}", api.stack.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // …the upload is ingested meanwhile…
    let job_id = api.ingest(&upload_id).await;
    // …and the late PUT finishes: refused, and only its own bytes are gone.
    tx.send(Ok(vec![0u8; audio.len() - half])).await.unwrap();
    drop(tx);
    let late = late.await.unwrap().unwrap();
    assert_eq!(late.status(), StatusCode::CONFLICT);
    assert_eq!(late.json::<Value>().await.unwrap()["error"]["code"], "upload_consumed");
    let puts = api.upload_keys(&upload_id).await;
    assert!(!api.blob_exists(&puts[1]).await, "the late PUT's bytes were removed");

    let job = api.wait_terminal(&job_id).await;
    assert_eq!(job["status"], "complete", "the ingested bytes survived: {job}\n{}", api.stack.logs());
    let stored = api.http.get(job["downloadUrl"].as_str().unwrap()).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(stored.as_ref(), audio.as_slice(), "the first PUT's bytes were ingested");
    api.wait_swept(&upload_id).await;
}
