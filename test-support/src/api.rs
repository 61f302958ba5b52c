//! A client of the public API of a [`Stack`], bound to one account, for end-to-end tests.

use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use studio_core::hrana::{Stmt, Value as SqlValue};
use studio_core::keys;
use studio_core::signing::{BlobGrant, BlobMethod, SigningKey};
use studio_core::webhooks::WebhookSecret;

use crate::now_ms;
use crate::stack::{Stack, TestAccount, API_TOKEN, SIGNING_SECRET};

pub struct Api<'a> {
    pub stack: &'a Stack,
    /// The account whose key `get` and `post` send.
    pub account: TestAccount,
    /// A client of the calling test's own (a client's connections belong to the runtime that made them).
    pub http: Client,
}

impl<'a> Api<'a> {
    pub fn new(stack: &'a Stack, account: TestAccount) -> Api<'a> {
        // A request that never gets an answer fails its test instead of holding up the binary.
        let http = Client::builder().timeout(Duration::from_secs(120)).build().unwrap();
        Api { stack, account, http }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.stack.edge)
    }

    /// GET as this client's account.
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.get_as(&self.account.api_key, path).await
    }

    /// POST as this client's account.
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.post_as(&self.account.api_key, path, body).await
    }

    pub async fn get_as(&self, key: &str, path: &str) -> (StatusCode, Value) {
        let r = self.http.get(self.url(path)).bearer_auth(key).send().await.unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post_as(&self, key: &str, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self.http.post(self.url(path)).bearer_auth(key).json(&body).send().await.unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    /// A request with the operator token (`/api/admin/*`).
    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut r = self.http.request(method, self.url(path)).bearer_auth(API_TOKEN);
        if let Some(body) = body {
            r = r.json(&body);
        }
        let r = r.send().await.unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    /// Posts a render-service webhook signed with `secret` (Standard Webhooks) as it was sent: `raw`.
    pub async fn webhook(
        &self,
        id: &str,
        secret: &str,
        timestamp: i64,
        signed: &[u8],
        raw: String,
    ) -> (StatusCode, Value) {
        let signature = WebhookSecret::parse(secret).unwrap().sign(id, timestamp, signed);
        let r = self
            .http
            .post(self.url("/api/webhooks/render"))
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    /// One column of a job's row, for checks the API does not expose (e.g. `call_id`).
    pub async fn job_column(&self, job_id: &str, column: &str) -> Option<String> {
        let sql = format!("SELECT CAST({column} AS TEXT) AS v FROM jobs WHERE id = ?");
        let rows = self.stack.db().execute(Stmt::new(sql, vec![SqlValue::from(job_id)])).await.unwrap();
        rows.first().unwrap().opt_text("v").unwrap()
    }

    /// The `n` of a `SELECT count(*) AS n …`.
    pub async fn count(&self, sql: &str) -> i64 {
        let rows = self.stack.db().execute(Stmt::new(sql, vec![])).await.unwrap();
        rows.first().unwrap().int("n").unwrap()
    }

    /// How many rows of `table` belong to this client's account.
    pub async fn count_mine(&self, table: &str) -> i64 {
        self.count(&format!("SELECT count(*) AS n FROM {table} WHERE account_id = '{}'", self.account.id)).await
    }

    /// Declares an upload and PUTs the bytes; returns the upload id.
    pub async fn upload(&self, name: &str, content_type: &str, bytes: &[u8]) -> String {
        let (status, body) = self
            .post("/api/uploads", json!({"filename": name, "contentType": content_type, "size": bytes.len()}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["method"], "PUT");
        let put = self
            .http
            .put(body["uploadUrl"].as_str().unwrap())
            .header("content-type", content_type)
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), StatusCode::OK, "{}", put.text().await.unwrap());
        body["uploadId"].as_str().unwrap().to_owned()
    }

    pub async fn ingest(&self, upload_id: &str) -> String {
        let (status, body) =
            self.post("/api/audio/ingest", json!({"source": {"type": "upload", "uploadId": upload_id}})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(body["status"], "pending");
        body["jobId"].as_str().unwrap().to_owned()
    }

    pub async fn wait_terminal(&self, job_id: &str) -> Value {
        self.wait_terminal_within(job_id, Duration::from_secs(90)).await
    }

    pub async fn wait_terminal_within(&self, job_id: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let (status, job) = self.get(&format!("/api/jobs/{job_id}")).await;
            assert_eq!(status, StatusCode::OK, "{job}");
            if matches!(job["status"].as_str(), Some("complete" | "failed" | "cancelled")) {
                return job;
            }
            assert!(Instant::now() < deadline, "job {job_id} not finished: {job}\n{}", self.stack.logs());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Every key a PUT of this upload wrote (one per PUT), from the database.
    pub async fn upload_keys(&self, upload_id: &str) -> Vec<String> {
        let rows = self
            .stack
            .db()
            .execute(Stmt::new("SELECT put_seq, account_id FROM uploads WHERE id = ?", vec![SqlValue::from(upload_id)]))
            .await
            .unwrap();
        let (puts, account) =
            rows.first().map(|r| (r.int("put_seq").unwrap(), r.opt_text("account_id").unwrap())).unwrap_or((0, None));
        (1..=puts).map(|seq| keys::upload_put(account.as_deref(), upload_id, seq)).collect()
    }

    /// Whether a blob exists (a signed GET minted with the server's key).
    pub async fn blob_exists(&self, key: &str) -> bool {
        let url = self.signed(BlobMethod::Get, key, now_ms() + 60_000);
        match self.http.get(url).send().await.unwrap().status() {
            StatusCode::OK => true,
            StatusCode::NOT_FOUND => false,
            other => panic!("GET {key}: {other}"),
        }
    }

    /// Waits until none of `keys` exists any more.
    pub async fn wait_gone(&self, keys: &[String], within: Duration) {
        let deadline = Instant::now() + within;
        for key in keys {
            while self.blob_exists(key).await {
                assert!(Instant::now() < deadline, "{key} was never deleted\n{}", self.stack.logs());
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    /// Waits until the housekeeping sweeper has deleted an upload's bytes (every PUT's key).
    pub async fn wait_swept(&self, upload_id: &str) {
        let keys = self.upload_keys(upload_id).await;
        assert!(!keys.is_empty(), "upload {upload_id} never received bytes");
        self.wait_gone(&keys, Duration::from_secs(10)).await;
    }

    /// A URL only the server's signing key could mint (the test holds the same secret).
    pub fn signed(&self, method: BlobMethod, key: &str, expires_at_ms: i64) -> String {
        let grant = BlobGrant::object(method, key, expires_at_ms, 0);
        SigningKey::new(SIGNING_SECRET).url(&self.stack.edge, &grant)
    }
}

/// Event details of a job, as one string (for "nothing internal leaked" checks).
pub async fn events_text(api: &Api<'_>, job_id: &str) -> String {
    let (status, events) = api.get(&format!("/api/jobs/{job_id}/events")).await;
    assert_eq!(status, StatusCode::OK, "{events}");
    events.to_string()
}
