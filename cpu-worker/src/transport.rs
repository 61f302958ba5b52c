//! studio-core's Hrana transport over reqwest, plus the process's clock and randomness.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use studio_core::hrana::{HranaClient, HttpReply, HttpTransport};

#[derive(Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

impl ReqwestTransport {
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .expect("HTTP client");
        ReqwestTransport { client }
    }
}

impl Default for ReqwestTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpTransport for ReqwestTransport {
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

pub type Db = HranaClient<ReqwestTransport>;

pub fn database(url: &str, token: Option<String>) -> Db {
    HranaClient::new(ReqwestTransport::new(), url, token)
}

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_millis() as i64
}

/// Uniform in `[0, 1)`, for backoff jitter.
pub fn jitter() -> f64 {
    let mut b = [0u8; 8];
    getrandom::getrandom(&mut b).expect("OS randomness");
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

/// A random lowercase hex string of `bytes` bytes, for claim tokens and ids.
pub fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    getrandom::getrandom(&mut b).expect("OS randomness");
    b.iter().map(|x| format!("{x:02x}")).collect()
}
