//! studio-core's Hrana transport over reqwest, for tests (the cpu-worker has its own; tests of
//! studio-core must not need the worker).

use std::time::Duration;

use studio_core::hrana::{HranaClient, HttpReply, HttpTransport};

/// A database client as the tests use it.
pub type Db = HranaClient<Transport>;

/// A client of the database at `url` (turso-local's `http://…`).
pub fn database(url: &str, token: Option<String>) -> Db {
    HranaClient::new(Transport::new(), url, token)
}

/// Posts Hrana pipelines with reqwest. A new one per client: a reqwest client's connections belong
/// to the runtime that opened them, and tests that share a stack each run on their own runtime.
#[derive(Clone)]
pub struct Transport {
    client: reqwest::Client,
}

impl Transport {
    pub fn new() -> Self {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("HTTP client");
        Transport { client }
    }
}

impl Default for Transport {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpTransport for Transport {
    type Error = reqwest::Error;

    async fn post_json(&self, url: &str, bearer: Option<&str>, body: String) -> Result<HttpReply, reqwest::Error> {
        let mut request = self.client.post(url).header("content-type", "application/json").body(body);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        Ok(HttpReply { status, body: response.text().await? })
    }
}
