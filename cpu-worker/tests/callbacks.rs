//! Creator callbacks against a real turso-local and a local receiver: the trigger fills the outbox when a
//! job ends, the worker's delivery loop retries a failing receiver on the (scaled) schedule with the
//! same `webhook-id`, signs so the reference Standard Webhooks library verifies it (both secrets during
//! a rotation), refuses a URL the SSRF guard does not allow without sending anything, and records every
//! attempt without the URL or the secret. (The claim's lease and the fencing of stale attempts are
//! studio-core's: `studio-core/tests/callbacks.rs`.)

use std::collections::HashMap;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cpu_worker::blobs::BlobClient;
use cpu_worker::callbacks::{self, DELIVERY_TIMEOUT};
use cpu_worker::config::Config;
use cpu_worker::outbound::Outbound;
use cpu_worker::transport::now_ms;
use serde_json::{json, Value as Json};
use studio_core::hrana::{Stmt, Value};
use test_support::db::callbacks::{account, deliveries, finish, job};
use test_support::db::{fresh, TestDb};
use test_support::receiver::{receiver, verify_with_reference, Seen};
use tokio_util::sync::CancellationToken;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ROTATED_SECRET: &str = "whsec_bmV3LXNlY3JldC1mb3ItYWNjb3VudC1i";
const OLD_SECRET: &str = "whsec_c2VjcmV0LW90aGVyLWtleQ==";

/// A port that counts the connections it gets and answers none.
async fn counting_port() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            seen.fetch_add(1, Ordering::SeqCst);
        }
    });
    (port, count)
}

/// `(id, status, attempts)` of the job's callback, and its attempts' `(status_code, error)`.
async fn callback_of(t: &TestDb, job_id: &str) -> ((String, String, i64), Vec<(Option<i64>, Option<String>)>) {
    let rows =
        t.db.execute(Stmt::new(
            "SELECT c.id, c.status, c.attempts, a.status_code, a.error FROM callbacks c \
             LEFT JOIN callback_attempts a ON a.callback_id = c.id WHERE c.job_id = ? ORDER BY a.id",
            vec![Value::from(job_id)],
        ))
        .await
        .unwrap();
    let first = rows.first().expect("the trigger wrote a callback");
    let callback = (first.text("id").unwrap(), first.text("status").unwrap(), first.int("attempts").unwrap());
    let attempts = rows
        .iter()
        .filter(|r| r.opt_int("status_code").unwrap().is_some() || r.opt_text("error").unwrap().is_some())
        .map(|r| (r.opt_int("status_code").unwrap(), r.opt_text("error").unwrap()))
        .collect();
    (callback, attempts)
}

/// Verifies a request with the Python reference library (`standardwebhooks`); returns the payload it
/// parsed, or `None` (with a notice) where the repository has no `.venv`.
#[tokio::test]
async fn callbacks_are_retried_signed_refused_and_recorded() {
    let t = fresh().await;
    let (port, log) = receiver(&[("/a", &[503, 503, 204])]).await;
    let (closed_port, knocks) = counting_port().await;
    account(&t, "acc_a", SECRET, None).await;
    account(&t, "acc_b", ROTATED_SECRET, Some((OLD_SECRET, now_ms() + 3_600_000))).await;
    job(&t, "job_a", "acc_a", &format!("http://127.0.0.1:{port}/a")).await;
    job(&t, "job_b", "acc_a", &format!("http://127.0.0.1:{closed_port}/")).await;
    job(&t, "job_c", "acc_b", &format!("http://127.0.0.1:{port}/c")).await;
    let result = json!({"durationSec": 3.5, "width": 1080});
    let now = now_ms();
    finish(&t, "job_a", "complete", Some(result.clone()), Some("renders/job_a/video.mp4"), now).await;
    finish(&t, "job_b", "complete", Some(result.clone()), None, now).await;
    finish(&t, "job_c", "failed", None, None, now).await;

    let env: HashMap<&str, String> = HashMap::from([
        ("TURSO_DATABASE_URL", t.url.clone()),
        ("SIGNING_SECRET", "signing-secret".into()),
        ("EDGE_BASE_URL", "http://edge.test".into()),
        ("CALLBACK_ALLOW_HOSTS", format!("127.0.0.1:{port}")),
        ("CALLBACK_RETRY_SCALE", "0.0001".into()),
        ("WORKER_POLL_INTERVAL_MS", "20".into()),
    ]);
    let config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
    let shutdown = CancellationToken::new();
    let delivery = tokio::spawn(callbacks::run(
        cpu_worker::transport::database(&t.url, Some(t.token.clone())),
        Outbound::new(config.callbacks.allow_hosts.clone(), DELIVERY_TIMEOUT),
        BlobClient::new(config.signing_key.clone(), config.edge_base_url.clone()),
        config.callbacks.clone(),
        shutdown.clone(),
    ));
    let settled = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let rows =
                t.db.execute(Stmt::new("SELECT count(*) AS n FROM callbacks WHERE status = 'pending'", vec![])).await;
            if rows.unwrap().first().unwrap().int("n").unwrap() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    shutdown.cancel();
    delivery.await.unwrap();
    assert!(settled.is_ok(), "callbacks still pending");

    // A: 503, 503, then 204 — three requests, one webhook-id.
    let seen = log.lock().unwrap().clone();
    let to_a: Vec<&Seen> = seen.iter().filter(|s| s.path == "/a").collect();
    let ((id_a, status_a, attempts_a), recorded_a) = callback_of(&t, "job_a").await;
    assert_eq!(to_a.len(), 3, "{to_a:?}");
    assert!(to_a.iter().all(|s| s.headers["webhook-id"] == id_a), "{to_a:?}");
    assert!(id_a.starts_with("msg_"));
    assert_eq!((status_a.as_str(), attempts_a), ("delivered", 3));
    assert_eq!(recorded_a, vec![(Some(503), None), (Some(503), None), (Some(204), None)]);
    let last = to_a[2];
    assert_eq!(last.headers["content-type"], "application/json");
    assert_eq!(last.headers["user-agent"], "EtherealFlameStudio-Webhooks/1");
    assert_eq!(last.headers["webhook-signature"].split(' ').count(), 1, "no rotation on account A");
    let body: Json = serde_json::from_slice(&last.body).unwrap();
    assert_eq!(body["type"], "job.completed");
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    let data = body["data"].as_object().unwrap();
    let mut keys: Vec<&str> = data.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["jobId", "result", "status", "type"]);
    assert_eq!(
        (&data["jobId"], &data["type"], &data["status"]),
        (&json!("job_a"), &json!("render"), &json!("complete"))
    );
    let download = data["result"]["downloadUrl"].as_str().unwrap();
    assert!(download.starts_with("http://edge.test/") && download.contains("renders/job_a/video.mp4"), "{download}");
    assert!(download.contains("sig="), "{download}");
    let mut without_url = data["result"].clone();
    without_url.as_object_mut().unwrap().remove("downloadUrl");
    assert_eq!(without_url, result);
    if let Some(verified) = verify_with_reference(SECRET, last) {
        assert_eq!(verified, body);
    }

    // B: the guard refuses the URL once and for all; nothing reaches the port.
    let ((_, status_b, attempts_b), recorded_b) = callback_of(&t, "job_b").await;
    assert_eq!((status_b.as_str(), attempts_b), ("failed", 1));
    assert_eq!(recorded_b.len(), 1);
    let error_b = recorded_b[0].1.clone().unwrap();
    assert!(recorded_b[0].0.is_none() && error_b.contains("refused"), "{error_b}");
    assert_eq!(knocks.load(Ordering::SeqCst), 0);

    // C: a failed job, signed with both secrets during the account's rotation.
    let to_c: Vec<&Seen> = seen.iter().filter(|s| s.path == "/c").collect();
    assert_eq!(to_c.len(), 1);
    let body: Json = serde_json::from_slice(&to_c[0].body).unwrap();
    assert_eq!(body["type"], "job.failed");
    assert_eq!(
        body["data"],
        json!({"jobId": "job_c", "type": "render", "status": "failed",
               "error": {"code": "render_failed", "message": "the render service gave up"}})
    );
    assert_eq!(to_c[0].headers["webhook-signature"].split(' ').count(), 2);
    for secret in [ROTATED_SECRET, OLD_SECRET] {
        if let Some(verified) = verify_with_reference(secret, to_c[0]) {
            assert_eq!(verified, body);
        }
    }
    assert_eq!(callback_of(&t, "job_c").await.0 .1, "delivered");

    // What the owner sees: the attempts, never the URL; another account sees nothing.
    let views = deliveries(&t, "job_a", "acc_a").await;
    assert_eq!(views.len(), 1);
    let view = &views[0];
    assert_eq!(
        (view.callback_id.as_str(), view.event.as_str(), view.status.as_str()),
        (id_a.as_str(), "job.completed", "delivered")
    );
    assert_eq!((view.attempt_count, view.next_attempt_at), (3, None));
    assert!(view.finished_at.is_some());
    let codes: Vec<Option<i64>> = view.attempts.iter().map(|a| a.status_code).collect();
    assert_eq!(codes, [Some(503), Some(503), Some(204)]);
    assert_eq!(view.attempts.iter().map(|a| a.attempt).collect::<Vec<_>>(), [1, 2, 3]);
    let shown = serde_json::to_string(&views).unwrap();
    assert!(!shown.contains("127.0.0.1") && !shown.contains("url") && !shown.contains("Url"), "{shown}");
    assert!(deliveries(&t, "job_a", "acc_b").await.is_empty());

    // No attempt record holds a secret or a URL.
    let rows = t.db.execute(Stmt::new("SELECT error FROM callback_attempts", vec![])).await.unwrap();
    for row in rows.iter() {
        let error = row.opt_text("error").unwrap().unwrap_or_default();
        for secret in [SECRET, ROTATED_SECRET, OLD_SECRET, "whsec_", "127.0.0.1", "http://", "/a"] {
            assert!(!error.contains(secret), "{error}");
        }
    }
}
