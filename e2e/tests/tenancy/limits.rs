//! Revoked keys, the per-key rate limit and the per-account quotas: each refusal is a clear 4xx with
//! its code, and leaves no row and no blob behind.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use test_support::api::Api;

use crate::creator;
use test_support::stack::TestAccount;

async fn account_rows(api: &Api<'_>, table: &str, account: &str) -> i64 {
    api.count(&format!("SELECT count(*) AS n FROM {table} WHERE account_id = '{account}'")).await
}

fn blobs_of(api: &Api<'_>, account: &TestAccount) -> usize {
    api.stack.stored_keys().iter().filter(|k| k.starts_with(&format!("accounts/{}/", account.id))).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_gets_401_on_its_next_call() {
    let api = &creator("a_revoked_key_gets_401_on_its_next_call").await;
    let d = api.stack.create_account(json!({"name": "D"})).await;
    assert_eq!(api.get_as(&d.api_key, "/api/usage").await.0, StatusCode::OK);
    let (status, _) = api.admin(Method::DELETE, &format!("/api/admin/keys/{}", d.key_id), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = api.get_as(&d.api_key, "/api/jobs").await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")));
    let (status, _) = api
        .post_as(&d.api_key, "/api/uploads", json!({"filename": "a.wav", "contentType": "audio/wav", "size": 4}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(account_rows(api, "uploads", &d.id).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_answers_429_with_retry_after() {
    let api = &creator("the_rate_limit_answers_429_with_retry_after").await;
    let e = api.stack.create_account(json!({"name": "E", "quotas": {"requestsPerMinute": 5}})).await;
    for left in (0..5).rev() {
        let r = api.http.get(api.url("/api/usage")).bearer_auth(&e.api_key).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let header = |name: &str| r.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(header("ratelimit-policy").as_deref(), Some("\"per-key\";q=5;w=60"));
        let rate = header("ratelimit").unwrap();
        assert!(rate.starts_with(&format!("\"per-key\";r={left};t=")), "{rate}");
    }
    // The budget is spent: refused before anything is created, with when to come back.
    let r = api
        .http
        .post(api.url("/api/uploads"))
        .bearer_auth(&e.api_key)
        .json(&json!({"filename": "a.wav", "contentType": "audio/wav", "size": 4}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: i64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=12).contains(&retry_after), "one request comes back every 12 s: {retry_after}");
    assert!(r.headers()["ratelimit"].to_str().unwrap().contains("r=0"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    assert_eq!(account_rows(api, "uploads", &e.id).await, 0, "nothing created");
    // A refusal before the route's own work (a malformed body) is counted and refused alike.
    let (status, _) = api.post_as(&e.api_key, "/api/uploads", json!({"nonsense": true})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Other keys are not affected.
    assert_eq!(api.get("/api/usage").await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_storage_quota_refuses_uploads_and_leaves_nothing() {
    let api = &creator("the_storage_quota_refuses_uploads_and_leaves_nothing").await;
    let f = api.stack.create_account(json!({"name": "F", "quotas": {"storageBytes": 1000}})).await;
    let declare = |size: usize| json!({"filename": "a.wav", "contentType": "audio/wav", "size": size});
    let (status, first) = api.post_as(&f.api_key, "/api/uploads", declare(600)).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let put =
        api.http.put(first["uploadUrl"].as_str().unwrap()).header("content-type", "audio/wav").body(vec![0u8; 600]);
    assert_eq!(put.send().await.unwrap().status(), StatusCode::OK);
    let (rows, blobs) = (account_rows(api, "uploads", &f.id).await, blobs_of(api, &f));
    assert_eq!((rows, blobs), (1, 1));

    let (status, refused) = api.post_as(&f.api_key, "/api/uploads", declare(500)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{refused}");
    assert_eq!(refused["error"]["code"], "quota_exceeded");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("storageBytes") && message.contains("600") && message.contains("1000"), "{message}");
    assert_eq!((account_rows(api, "uploads", &f.id).await, blobs_of(api, &f)), (rows, blobs), "nothing left behind");
    let (_, usage) = api.get_as(&f.api_key, "/api/usage").await;
    assert_eq!(usage["storageBytes"], json!({"used": 600, "limit": 1000}), "{usage}");
    // What fits is still taken.
    assert_eq!(api.post_as(&f.api_key, "/api/uploads", declare(400)).await.0, StatusCode::CREATED);
}
