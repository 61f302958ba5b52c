//! `Idempotency-Key` on the create routes: a repeat gets the first answer and creates nothing, another
//! body under the key is a conflict, answers that were refusals are replayed too, and keys are per account.

use reqwest::StatusCode;
use serde_json::{json, Value};

use test_support::api::Api;
use test_support::media::wav;

use crate::creator;

async fn post(api: &Api<'_>, key: &str, idem: &str, path: &str, body: &Value) -> (StatusCode, Value, bool) {
    let r = api.http.post(api.url(path)).bearer_auth(key).header("idempotency-key", idem).json(body).send().await;
    let r = r.unwrap();
    let replayed = r.headers().get("idempotent-replayed").is_some();
    (r.status(), r.json().await.unwrap(), replayed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_with_an_idempotency_key_happen_once() {
    let api = &creator("creates_with_an_idempotency_key_happen_once").await;
    let b = &api.stack.create_account(json!({"name": "Creator B"})).await;
    let me = api.account.api_key.clone();
    let uploads = || api.count_mine("uploads");
    let declare = json!({"filename": "once.wav", "contentType": "audio/wav", "size": 1234});
    let before = uploads().await;
    let (status, first, replayed) = post(api, &me, "upload-1", "/api/uploads", &declare).await;
    assert_eq!((status, replayed), (StatusCode::CREATED, false), "{first}");
    let (status, again, replayed) = post(api, &me, "upload-1", "/api/uploads", &declare).await;
    assert_eq!((status, replayed), (StatusCode::CREATED, true));
    assert_eq!(again, first, "the same answer, signed URL included");
    assert_eq!(uploads().await, before + 1, "one upload");

    // The same key with another body is refused, and creates nothing.
    let other = json!({"filename": "other.wav", "contentType": "audio/wav", "size": 99});
    let (status, refused, _) = post(api, &me, "upload-1", "/api/uploads", &other).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("idempotency_conflict")));
    assert_eq!(uploads().await, before + 1);

    // Keys are per account: B's "upload-1" is B's own.
    let (status, theirs, replayed) = post(api, &b.api_key, "upload-1", "/api/uploads", &declare).await;
    assert_eq!((status, replayed), (StatusCode::CREATED, false));
    assert_ne!(theirs["uploadId"], first["uploadId"]);

    // An ingest sent twice makes one job; a refusal is replayed as it was.
    let upload = api.upload("idem.wav", "audio/wav", &wav(0.5, 8_000, 1)).await;
    let ingest = json!({"source": {"type": "upload", "uploadId": upload}});
    let (status, job, _) = post(api, &me, "ingest-1", "/api/audio/ingest", &ingest).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let (status, again, replayed) = post(api, &me, "ingest-1", "/api/audio/ingest", &ingest).await;
    assert_eq!((status, replayed, &again), (StatusCode::ACCEPTED, true, &job));
    let jobs = format!("SELECT count(*) AS n FROM jobs WHERE json_extract(input, '$.source.uploadId') = '{upload}'");
    assert_eq!(api.count(&jobs).await, 1, "one job");
    let missing = json!({"source": {"type": "upload", "uploadId": "upl_nope"}});
    let (status, first_refusal, _) = post(api, &me, "ingest-2", "/api/audio/ingest", &missing).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, second, replayed) = post(api, &me, "ingest-2", "/api/audio/ingest", &missing).await;
    assert_eq!((status, replayed, &second), (StatusCode::NOT_FOUND, true, &first_refusal));

    // An answer that may pass is not kept: the same request with its key is tried again.
    let (_, declared) =
        api.post("/api/uploads", json!({"filename": "late.wav", "contentType": "audio/wav", "size": 4044})).await;
    let late = json!({"source": {"type": "upload", "uploadId": declared["uploadId"]}});
    let (status, _, _) = post(api, &me, "ingest-3", "/api/audio/ingest", &late).await;
    assert_eq!(status, StatusCode::CONFLICT, "the bytes have not arrived");
    let bytes = wav(0.25, 8_000, 1);
    assert_eq!(bytes.len(), 4044);
    let put = api.http.put(declared["uploadUrl"].as_str().unwrap()).header("content-type", "audio/wav").body(bytes);
    assert_eq!(put.send().await.unwrap().status(), StatusCode::OK);
    let (status, accepted, replayed) = post(api, &me, "ingest-3", "/api/audio/ingest", &late).await;
    assert_eq!((status, replayed), (StatusCode::ACCEPTED, false), "{accepted}");
    api.wait_terminal(accepted["jobId"].as_str().unwrap()).await;

    // A malformed key is refused before anything happens.
    let (status, body, _) = post(api, &me, "bad key", "/api/uploads", &declare).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
    api.wait_terminal(job["jobId"].as_str().unwrap()).await;
}
