//! Blob storage as the worker sees it: R2 only through the edge's signed URLs, which the worker mints
//! with the shared signing secret. Transfers stream to and from files; nothing is held in memory.

use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use studio_core::limits::MACHINE_URL_TTL_MS;
use studio_core::signing::{BlobGrant, BlobMethod, MultipartStep, SigningKey};
use tokio::io::AsyncWriteExt;

use crate::transport::now_ms;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob {0} does not exist")]
    NotFound(String),
    #[error("blob is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("edge answered HTTP {status} for {key}")]
    Http { status: u16, key: String },
    /// The HTTP client's error with its URL removed: the URL is a signed credential.
    #[error("network: {0}")]
    Network(reqwest::Error),
    #[error("local file: {0}")]
    Io(#[from] std::io::Error),
}

impl From<reqwest::Error> for BlobError {
    fn from(e: reqwest::Error) -> Self {
        BlobError::Network(e.without_url())
    }
}

impl BlobError {
    pub fn is_transient(&self) -> bool {
        match self {
            BlobError::Http { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            BlobError::Network(_) => true,
            BlobError::NotFound(_) | BlobError::TooLarge { .. } | BlobError::Io(_) => false,
        }
    }
}

#[derive(Clone)]
pub struct BlobClient {
    http: reqwest::Client,
    signing_key: SigningKey,
    edge_base_url: String,
}

impl BlobClient {
    pub fn new(signing_key: SigningKey, edge_base_url: String) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(60))
            .build()
            .expect("HTTP client");
        BlobClient { http, signing_key, edge_base_url }
    }

    /// A short-lived signed URL for a machine (this worker, the render service).
    pub fn signed_url(&self, method: BlobMethod, key: &str, max_bytes: u64) -> String {
        let grant = BlobGrant::object(method, key, now_ms() + MACHINE_URL_TTL_MS, max_bytes);
        self.signing_key.url(&self.edge_base_url, &grant)
    }

    /// A signed PUT of a render's video for job claim `claim`, valid until `expires_at_ms` (the edge
    /// honours it only while that claim runs).
    pub fn render_put_url(&self, key: &str, claim: i64, expires_at_ms: i64, max_bytes: u64) -> String {
        let grant =
            BlobGrant { claim: Some(claim), ..BlobGrant::object(BlobMethod::Put, key, expires_at_ms, max_bytes) };
        self.signing_key.url(&self.edge_base_url, &grant)
    }

    /// Starts a multipart upload of `key` (through the edge, which holds the bucket) for job claim
    /// `claim` (a render's); returns its id.
    pub async fn create_multipart(
        &self,
        key: &str,
        content_type: &str,
        claim: Option<i64>,
    ) -> Result<String, BlobError> {
        let grant = BlobGrant {
            multipart: Some(MultipartStep::Create),
            claim,
            ..BlobGrant::object(BlobMethod::Post, key, now_ms() + MACHINE_URL_TTL_MS, 0)
        };
        let response = self
            .http
            .post(self.signing_key.url(&self.edge_base_url, &grant))
            .header("content-type", content_type)
            .send()
            .await?;
        match response.status().as_u16() {
            200 => {}
            status => return Err(BlobError::Http { status, key: key.to_owned() }),
        }
        let body: serde_json::Value = response.json().await?;
        body["uploadId"].as_str().map(str::to_owned).ok_or(BlobError::Http { status: 200, key: key.to_owned() })
    }

    /// Aborts a multipart upload (one already gone is fine).
    pub async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), BlobError> {
        let step = MultipartStep::Abort { upload_id: upload_id.to_owned() };
        let url = self.multipart_url(key, step, now_ms() + MACHINE_URL_TTL_MS, 0, None);
        match self.http.delete(url).send().await?.status().as_u16() {
            200..=299 | 404 => Ok(()),
            status => Err(BlobError::Http { status, key: key.to_owned() }),
        }
    }

    /// A signed URL for one step of a multipart upload, valid until `expires_at_ms` (and, for a render's,
    /// while job claim `claim` runs).
    pub fn multipart_url(
        &self,
        key: &str,
        step: MultipartStep,
        expires_at_ms: i64,
        max_bytes: u64,
        claim: Option<i64>,
    ) -> String {
        let grant = BlobGrant {
            multipart: Some(step.clone()),
            claim,
            ..BlobGrant::object(step.method(), key, expires_at_ms, max_bytes)
        };
        self.signing_key.url(&self.edge_base_url, &grant)
    }

    /// Streams a blob into `dest`, refusing more than `max_bytes`. Returns the byte count.
    pub async fn download_to(&self, key: &str, dest: &Path, max_bytes: u64) -> Result<u64, BlobError> {
        let response = self.http.get(self.signed_url(BlobMethod::Get, key, 0)).send().await?;
        match response.status().as_u16() {
            200 => {}
            404 => return Err(BlobError::NotFound(key.to_owned())),
            status => return Err(BlobError::Http { status, key: key.to_owned() }),
        }
        if response.content_length().is_some_and(|len| len > max_bytes) {
            return Err(BlobError::TooLarge { limit: max_bytes });
        }
        let mut file = tokio::fs::File::create(dest).await?;
        let mut written = 0u64;
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            written += chunk.len() as u64;
            if written > max_bytes {
                return Err(BlobError::TooLarge { limit: max_bytes });
            }
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        Ok(written)
    }

    /// Streams a file to a blob with its exact length.
    pub async fn upload_file(&self, key: &str, path: &Path, content_type: &str) -> Result<u64, BlobError> {
        let file = tokio::fs::File::open(path).await?;
        let len = file.metadata().await?.len();
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(file));
        self.put(key, body, len, content_type).await?;
        Ok(len)
    }

    pub async fn upload_bytes(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), BlobError> {
        let len = bytes.len() as u64;
        self.put(key, reqwest::Body::from(bytes), len, content_type).await
    }

    async fn put(&self, key: &str, body: reqwest::Body, len: u64, content_type: &str) -> Result<(), BlobError> {
        let response = self
            .http
            .put(self.signed_url(BlobMethod::Put, key, len.max(1)))
            .header("content-length", len)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await?;
        match response.status().as_u16() {
            200..=299 => Ok(()),
            status => Err(BlobError::Http { status, key: key.to_owned() }),
        }
    }

    /// Deletes a blob (missing is fine).
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let response = self.http.delete(self.signed_url(BlobMethod::Delete, key, 0)).send().await?;
        match response.status().as_u16() {
            200..=299 | 404 => Ok(()),
            status => Err(BlobError::Http { status, key: key.to_owned() }),
        }
    }
}
