//! Hostile and broken requests against the real stack: each is refused with a clear code and leaves
//! nothing behind (no row, no blob), and no race or reference trick reaches bytes it must not.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use studio_core::keys;
use studio_core::signing::BlobMethod;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::api::{now_ms, wav, Api};

pub async fn count_uploads(api: &Api<'_>) -> i64 {
    let rows = api
        .stack
        .db()
        .execute(studio_core::hrana::Stmt::new("SELECT COUNT(*) AS n FROM uploads", vec![]))
        .await
        .unwrap();
    rows.first().unwrap().int("n").unwrap()
}

pub async fn oversized_declarations_get_413_and_create_nothing(api: &Api<'_>) {
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

pub async fn bodies_longer_than_declared_get_413_and_store_nothing(api: &Api<'_>) {
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

pub async fn bad_and_expired_signatures_get_403(api: &Api<'_>) {
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

pub async fn unknown_things_are_404(api: &Api<'_>) {
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

pub async fn puts_without_a_length_get_411_and_receive_nothing(api: &Api<'_>) {
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

pub async fn json_bodies_are_refused_before_they_are_read(api: &Api<'_>) {
    let before = count_uploads(api).await;
    // Declares 300 MB and sends 1 KiB: the answer comes without waiting for (or buffering) the rest.
    let head = format!(
        "POST /api/uploads HTTP/1.1\r\nhost: {{host}}\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\ncontent-length: 314572800\r\n\r\n",
        api.stack.api_key
    );
    let (status, took) = raw_request(api, &head, &[b' '; 1024]).await;
    assert!(status.contains(" 413 "), "{status}");
    assert!(took < Duration::from_secs(3), "refused after {took:?}");
    assert_eq!(count_uploads(api).await, before, "nothing was created");
}

/// A JSON body without a declared length is read only up to the cap (64 KiB), then refused while it
/// still flows. Run last: after a refused chunked body, wrangler dev's local proxy (not part of a
/// deployed Worker) answers the next request with 503 "worker restarted mid-request".
pub async fn chunked_json_bodies_stop_at_the_cap(api: &Api<'_>) {
    let before = count_uploads(api).await;
    let head = format!(
        "POST /api/uploads HTTP/1.1\r\nhost: {{host}}\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        api.stack.api_key
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
}

pub async fn invisible_and_direction_changing_filenames_are_refused(api: &Api<'_>) {
    let before = count_uploads(api).await;
    for name in ["\u{200B}\u{200C}\u{FEFF}", "\u{202E}\u{2066}", "track\u{202E}3pm.exe"] {
        let (status, body) =
            api.post("/api/uploads", json!({"filename": name, "contentType": "audio/wav", "size": 10})).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
        assert!(body["error"]["message"].as_str().unwrap().contains("filename"));
    }
    assert_eq!(count_uploads(api).await, before);
}

pub async fn a_playlist_cannot_make_the_worker_read_its_own_files(api: &Api<'_>) {
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

pub async fn a_late_put_cannot_touch_ingested_bytes(api: &Api<'_>) {
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
