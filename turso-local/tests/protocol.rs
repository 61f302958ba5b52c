//! Raw Hrana over HTTP: batons carry a transaction across requests, idle streams expire and roll back,
//! v2 refuses v3-only requests, and auth is enforced everywhere but /health.

use std::time::Duration;

use serde_json::{json, Value};
use test_support::turso::{self, TestTurso};

/// Short, so a test can see an idle stream expire.
const STREAM_IDLE: Duration = Duration::from_millis(1500);

async fn post(server: &TestTurso, path: &str, body: Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", server.url))
        .bearer_auth(&server.token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

fn exec(sql: &str) -> Value {
    json!({"type": "execute", "stmt": {"sql": sql}})
}

#[tokio::test]
async fn a_baton_continues_a_transaction_and_close_ends_the_stream() {
    let s = turso::start_with_idle(STREAM_IDLE).await;
    let (status, r) = post(&s, "/v3/pipeline", json!({"baton": null, "requests": [exec("CREATE TABLE t (x)"), exec("BEGIN"), exec("INSERT INTO t VALUES (1)")]})).await;
    assert_eq!(status, 200);
    let baton = r["baton"].as_str().expect("stream stays open").to_owned();
    assert_eq!(r["results"][2]["response"]["result"]["affected_row_count"], 1);

    let (_, r) = post(
        &s,
        "/v3/pipeline",
        json!({"baton": baton, "requests": [{"type": "get_autocommit"}, exec("COMMIT"), {"type": "close"}]}),
    )
    .await;
    assert_eq!(r["results"][0]["response"]["is_autocommit"], false);
    assert!(r["baton"].is_null());

    let (status, _) = post(&s, "/v3/pipeline", json!({"baton": baton, "requests": [exec("SELECT 1")]})).await;
    assert_eq!(status, 400, "an old baton is refused");
    let (_, r) = post(
        &s,
        "/v2/pipeline",
        json!({"baton": null, "requests": [exec("SELECT count(*) FROM t"), {"type": "close"}]}),
    )
    .await;
    assert_eq!(r["results"][0]["response"]["result"]["rows"][0][0], json!({"type": "integer", "value": "1"}));
}

#[tokio::test]
async fn an_idle_stream_expires_and_its_transaction_rolls_back() {
    let s = turso::start_with_idle(STREAM_IDLE).await;
    let (_, r) = post(&s, "/v3/pipeline", json!({"baton": null, "requests": [exec("CREATE TABLE t (x)"), exec("BEGIN"), exec("INSERT INTO t VALUES (1)")]})).await;
    let baton = r["baton"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(3000)).await;
    let (status, body) = post(&s, "/v3/pipeline", json!({"baton": baton, "requests": [exec("COMMIT")]})).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "STREAM_EXPIRED");
    let (_, r) =
        post(&s, "/v3/pipeline", json!({"requests": [exec("SELECT count(*) FROM t"), {"type": "close"}]})).await;
    assert_eq!(r["results"][0]["response"]["result"]["rows"][0][0]["value"], "0");
}

#[tokio::test]
async fn v2_refuses_v3_only_requests_and_sql_errors_do_not_stop_the_pipeline() {
    let s = turso::start_with_idle(STREAM_IDLE).await;
    let (_, r) = post(
        &s,
        "/v2/pipeline",
        json!({"requests": [{"type": "get_autocommit"}, exec("SELECT nope"), exec("SELECT 2"), {"type": "close"}]}),
    )
    .await;
    assert_eq!(r["results"][0]["type"], "error");
    assert_eq!(r["results"][1]["type"], "error");
    assert_eq!(r["results"][2]["response"]["result"]["rows"][0][0]["value"], "2");
}

#[tokio::test]
async fn auth_is_required_except_for_health() {
    let s = turso::start_with_idle(STREAM_IDLE).await;
    let client = reqwest::Client::new();
    let resp = client.post(format!("{}/v3/pipeline", s.url)).json(&json!({"requests": []})).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let resp = client
        .post(format!("{}/v3/pipeline", s.url))
        .bearer_auth("nope")
        .json(&json!({"requests": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let resp = client.get(format!("{}/health", s.url)).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}
