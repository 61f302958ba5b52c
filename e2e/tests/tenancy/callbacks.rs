//! Creator callbacks through the whole stack: a render and an ingest created with `callbackUrl` are
//! announced, signed with the account's own secret, retried through two 503s and delivered once;
//! every attempt is listed; local addresses are refused when the job is created. And no key or secret
//! reaches a log or an event.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use e2e::ingest_a_track;
use test_support::api::Api;
use test_support::media::wav;
use test_support::receiver::{receiver_on, verify_with_reference, Log};

use crate::creator;

async fn wait_requests(log: &Log, path: &str, n: usize, api: &Api<'_>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while log.lock().unwrap().iter().filter(|s| s.path == path).count() < n {
        assert!(Instant::now() < deadline, "{path}: fewer than {n} deliveries\n{}", api.stack.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_are_signed_retried_and_recorded() {
    let api = &creator("callbacks_are_signed_retried_and_recorded").await;
    let asset_id = &ingest_a_track(api, 3.0).await;
    let (port, log) = receiver_on(api.stack.callback_port, &[("/render", &[503, 503]), ("/ingest", &[])]).await;
    let base = format!("http://127.0.0.1:{port}");
    let body = json!({"audio": {"assetId": asset_id}, "format": "flat-1080p-landscape",
                      "preview": {"seconds": 1, "scale": 0.05}, "callbackUrl": format!("{base}/render")});
    let (status, accepted) = api.post("/api/render", body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let job_id = accepted["jobId"].as_str().unwrap().to_owned();
    let job = api.wait_terminal(&job_id).await;
    assert_eq!(job["status"], "complete", "{job}");
    wait_requests(&log, "/render", 3, api).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let seen: Vec<_> = log.lock().unwrap().iter().filter(|s| s.path == "/render").cloned().collect();
    assert_eq!(seen.len(), 3, "two 503s, then one delivery, and nothing after it");
    let ids: Vec<&str> = seen.iter().map(|s| s.headers["webhook-id"].as_str()).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "one message id across retries: {ids:?}");
    let last = seen.last().unwrap();
    let payload: Value = serde_json::from_slice(&last.body).unwrap();
    assert_eq!(payload["type"], "job.completed");
    assert_eq!(payload["data"]["jobId"], job_id.as_str());
    assert_eq!(
        (payload["data"]["type"].as_str(), payload["data"]["status"].as_str()),
        (Some("render"), Some("complete"))
    );
    assert_eq!(payload["data"]["result"]["video"], job["result"]["video"]);
    if let Some(verified) = verify_with_reference(&api.account.webhook_secret, last) {
        assert_eq!(verified, payload, "the reference library verifies it with the account's secret");
    }
    let download = payload["data"]["result"]["downloadUrl"].as_str().unwrap();
    assert_eq!(api.http.get(download).send().await.unwrap().status(), StatusCode::OK, "the video comes with it");

    let (status, deliveries) = api.get(&format!("/api/jobs/{job_id}/deliveries")).await;
    assert_eq!(status, StatusCode::OK, "{deliveries}");
    let delivery = &deliveries["deliveries"][0];
    assert_eq!((delivery["event"].as_str(), delivery["status"].as_str()), (Some("job.completed"), Some("delivered")));
    let codes: Vec<i64> =
        delivery["attempts"].as_array().unwrap().iter().map(|a| a["statusCode"].as_i64().unwrap()).collect();
    assert_eq!(codes, [503, 503, 204]);
    assert!(!deliveries.to_string().contains(&base), "the list never shows the URL");

    // An ingest announces its end too.
    let upload = api.upload("cb.wav", "audio/wav", &wav(0.5, 8_000, 1)).await;
    let source = json!({"source": {"type": "upload", "uploadId": upload}, "callbackUrl": format!("{base}/ingest")});
    let (status, accepted) = api.post("/api/audio/ingest", source).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let ingest_id = accepted["jobId"].as_str().unwrap();
    api.wait_terminal(ingest_id).await;
    wait_requests(&log, "/ingest", 1, api).await;
    let seen = log.lock().unwrap().iter().find(|s| s.path == "/ingest").cloned().unwrap();
    let payload: Value = serde_json::from_slice(&seen.body).unwrap();
    assert_eq!((payload["type"].as_str(), payload["data"]["jobId"].as_str()), (Some("job.completed"), Some(ingest_id)));
    assert!(payload["data"]["result"]["assetId"].is_string(), "{payload}");

    // A rotated secret signs from now on; the old one signs beside it for a day.
    let (status, rotated) = api.post("/api/webhook-secret/rotate", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new_secret = rotated["webhookSecret"].as_str().unwrap();
    assert!(new_secret.starts_with("whsec_") && new_secret != api.account.webhook_secret);
    let upload = api.upload("cb2.wav", "audio/wav", &wav(0.5, 8_000, 1)).await;
    let source = json!({"source": {"type": "upload", "uploadId": upload}, "callbackUrl": format!("{base}/ingest")});
    let (_, accepted) = api.post("/api/audio/ingest", source).await;
    api.wait_terminal(accepted["jobId"].as_str().unwrap()).await;
    wait_requests(&log, "/ingest", 2, api).await;
    let seen = log.lock().unwrap().iter().filter(|s| s.path == "/ingest").nth(1).cloned().unwrap();
    for secret in [new_secret, api.account.webhook_secret.as_str()] {
        if let Some(verified) = verify_with_reference(secret, &seen) {
            assert_eq!(verified["data"]["jobId"], accepted["jobId"]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_to_local_addresses_are_refused_at_create() {
    let api = &creator("callbacks_to_local_addresses_are_refused_at_create").await;
    let asset_id = &ingest_a_track(api, 3.0).await;
    let jobs = api.count_mine("jobs").await;
    let other_port = api.stack.callback_port.wrapping_add(1);
    for url in [
        format!("http://127.0.0.1:{other_port}/hook"),
        "https://127.0.0.1/hook".to_owned(),
        "https://localhost/hook".to_owned(),
        "https://169.254.169.254/latest/meta-data".to_owned(),
        "https://[::1]/hook".to_owned(),
        "https://10.0.0.8/hook".to_owned(),
        "https://user:pw@hooks.example.com/x".to_owned(),
    ] {
        let body = json!({"audio": {"assetId": asset_id}, "format": "flat-1080p-square", "callbackUrl": url});
        let (status, refused) = api.post("/api/render", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {refused}");
        assert!(refused["error"]["message"].as_str().unwrap().starts_with("callbackUrl"), "{refused}");
    }
    assert_eq!(api.count_mine("jobs").await, jobs, "nothing created");
}

/// Every key and secret this stack has handed out so far — to this scenario's own two accounts, after
/// they have worked and failed, and to every scenario that ran before it — searched for in every log,
/// every job's events and every callback attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_secrets_never_reach_logs_or_events() {
    let api = &creator("keys_and_secrets_never_reach_logs_or_events").await;
    let b = api.stack.create_account(json!({"name": "Creator B"})).await;
    let track = api.ingest(&api.upload("keys.wav", "audio/wav", &wav(0.5, 8_000, 1)).await).await;
    let not_audio = api.ingest(&api.upload("keys.mp3", "audio/mpeg", &b"not a song\n".repeat(50)).await).await;
    for job_id in [&track, &not_audio] {
        api.wait_terminal(job_id).await;
    }
    assert_eq!(api.get_as(&b.api_key, "/api/usage").await.0, StatusCode::OK);
    let accounts = api.stack.accounts();
    let secrets: Vec<&String> = accounts.iter().flat_map(|a| [&a.api_key, &a.webhook_secret]).collect();
    assert!(secrets.contains(&&b.api_key) && secrets.contains(&&api.account.webhook_secret));
    let logs = api.stack.full_logs();
    let rows = api.stack.db().execute(studio_core::hrana::Stmt::new("SELECT id FROM jobs", vec![])).await.unwrap();
    let mut events = String::new();
    for row in rows.iter() {
        let id = row.text("id").unwrap();
        let sql = format!("SELECT group_concat(coalesce(detail, ''), ' ') AS d FROM job_events WHERE job_id = '{id}'");
        let rows = api.stack.db().execute(studio_core::hrana::Stmt::new(sql, vec![])).await.unwrap();
        events.push_str(&rows.first().unwrap().opt_text("d").unwrap().unwrap_or_default());
    }
    let attempts = api
        .stack
        .db()
        .execute(studio_core::hrana::Stmt::new(
            "SELECT group_concat(coalesce(error, ''), ' ') AS e FROM callback_attempts",
            vec![],
        ))
        .await
        .unwrap();
    let attempts = attempts.first().unwrap().opt_text("e").unwrap().unwrap_or_default();
    for secret in secrets {
        let tail = &secret[secret.len() - 16..];
        assert!(!logs.contains(tail), "a key or secret reached a log");
        assert!(!events.contains(tail) && !attempts.contains(tail), "a key or secret reached an event");
    }
    assert!(!logs.is_empty() && !events.is_empty(), "there was something to search");
}
