//! Fair to every creator, end to end: account A queues ten ingests from a slow origin (slow, but above
//! the rate floor), then account B queues one quick ingest. With two worker slots and one slot per
//! account, B's job is claimed at once and completes while A's are still running or waiting, and A
//! never holds more than its one slot. One stack of its own (its worker's fair-share settings).

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use test_support::media::wav;
use test_support::stack::{Options, Stack};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `/slow.wav`: a 20-s WAV sent at ~96 KiB/s (≈9 s); `/quick.wav`: a short one at once.
async fn origin(port: u16) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let (slow, quick) = (wav(20.0, 22_050, 1), wav(1.0, 22_050, 1));
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let (slow, quick) = (slow.clone(), quick.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = conn.read(&mut buf).await.unwrap_or(0);
                let is_slow = String::from_utf8_lossy(&buf[..n]).starts_with("GET /slow.wav ");
                let body = if is_slow { slow } else { quick };
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: audio/wav\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                if conn.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let step = if is_slow { 12 * 1024 } else { body.len() };
                for piece in body.chunks(step) {
                    if conn.write_all(piece).await.is_err() {
                        return;
                    }
                    if is_slow {
                        tokio::time::sleep(Duration::from_millis(125)).await;
                    }
                }
            });
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quick_job_is_not_starved_by_another_accounts_backlog() {
    let options = Options {
        worker_env: vec![("WORKER_CONCURRENCY".into(), "2".into()), ("ACCOUNT_MAX_SLOTS".into(), "1".into())],
        ..Options::plain()
    };
    let stack = Stack::start_with(options).await;
    origin(stack.media_port).await;
    let (a, b) = (stack.new_creator("backlog").await, stack.new_creator("quick").await);
    let url =
        |path: &str| json!({"source": {"type": "url", "url": format!("http://127.0.0.1:{}{path}", stack.media_port)}});

    let mut a_jobs = Vec::new();
    for _ in 0..10 {
        let (status, accepted) = a.post("/api/audio/ingest", url("/slow.wav")).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
        a_jobs.push(accepted["jobId"].as_str().unwrap().to_owned());
    }
    let (status, accepted) = b.post("/api/audio/ingest", url("/quick.wav")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let b_job = accepted["jobId"].as_str().unwrap().to_owned();

    let held_by_a =
        format!("SELECT count(*) AS n FROM jobs WHERE account_id = '{}' AND status = 'processing'", a.account.id);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut most_held = 0;
    let b_done = loop {
        most_held = most_held.max(a.count(&held_by_a).await);
        let (_, job) = b.get(&format!("/api/jobs/{b_job}")).await;
        if job["status"] != "pending" && job["status"] != "processing" {
            break job;
        }
        assert!(Instant::now() < deadline, "B's job never finished: {job}\n{}", stack.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(b_done["status"], "complete", "{b_done}");
    let a_finished = a
        .count(&format!(
            "SELECT count(*) AS n FROM jobs WHERE account_id = '{}' AND status NOT IN ('pending', 'processing')",
            a.account.id
        ))
        .await;
    assert!(a_finished <= 1, "B waited for A's backlog: {a_finished} of A's jobs had finished first");
    assert!(most_held <= 1, "A held {most_held} slots at once; its cap is 1");

    // A's backlog keeps to its one slot while it runs on; its waiting jobs see an honest queue.
    let (_, last) = a.get(&format!("/api/jobs/{}", a_jobs[9])).await;
    assert_eq!(last["status"], "pending", "{last}");
    assert!(last["queuePosition"].as_i64().unwrap() >= 1, "{last}");
    for _ in 0..10 {
        assert!(a.count(&held_by_a).await <= 1, "A exceeded its cap");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for job in &a_jobs {
        a.post(&format!("/api/jobs/{job}/cancel"), json!({})).await;
    }
}
