//! The render service as the worker calls it (`docs/RENDER_CONTRACT.md`): `POST /submit`, `GET /status`,
//! `POST /cancel`, with `MODAL_AUTH_TOKEN`. The same client talks to Modal and to the local emulator.
//! HTTP errors never carry the URL (it may hold a call id and the service's address is the operator's).

use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value as Json};
use studio_core::redact::Secret;
use studio_core::render::RenderSettings;

#[derive(Debug, thiserror::Error)]
pub enum RenderServiceError {
    #[error("the render service refused our token")]
    Unauthorized,
    /// The service refused the request; `field` is the dotted path it named.
    #[error("the render service refused {field}: {message}")]
    Invalid { field: String, message: String },
    #[error("the render service is unavailable: {0}")]
    Unavailable(String),
    #[error("unexpected answer from the render service: {0}")]
    Protocol(String),
}

impl RenderServiceError {
    pub fn is_transient(&self) -> bool {
        matches!(self, RenderServiceError::Unavailable(_))
    }
}

/// How the render uploads its video: one signed PUT, or a multipart plan for outputs that may exceed
/// the single-PUT body limit.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputUpload {
    Put { url: String },
    Multipart { part_size: u64, part_urls: Vec<String>, complete_url: String },
}

impl OutputUpload {
    fn body(&self) -> Json {
        match self {
            OutputUpload::Put { url } => json!({"type": "put", "url": url}),
            OutputUpload::Multipart { part_size, part_urls, complete_url } => json!({
                "type": "multipart",
                "partSize": part_size,
                "parts": part_urls.iter().enumerate().map(|(i, url)| json!({"partNumber": i + 1, "url": url})).collect::<Vec<_>>(),
                "completeUrl": complete_url,
            }),
        }
    }
}

/// Where the render reads its audio, writes its video and reports.
#[derive(Debug, Clone)]
pub struct Submission<'a> {
    pub job_id: &'a str,
    /// The job's attempt number, for the service's logs.
    pub attempt: i64,
    pub audio_url: &'a str,
    pub output_key: &'a str,
    pub upload: &'a OutputUpload,
    pub webhook_url: &'a str,
    pub webhook_token: &'a str,
    pub settings: &'a RenderSettings,
}

impl Submission<'_> {
    /// The contract's submit body: the API's `preview` becomes `options.scale`/`previewSeconds`.
    pub fn body(&self) -> Json {
        let s = self.settings;
        let preview = s.preview.as_ref();
        json!({
            "jobId": self.job_id,
            "attempt": self.attempt,
            "audio": {"url": self.audio_url},
            "output": {"key": self.output_key, "upload": self.upload.body()},
            "format": s.format,
            "fps": s.fps,
            "visual": {
                "mode": s.visual.mode,
                "skyboxPreset": s.visual.skybox_preset,
                "intensity": s.visual.intensity,
                "skyboxReactivity": s.visual.skybox_reactivity,
                "dynamics": s.visual.dynamics,
            },
            "seed": s.seed,
            "options": {
                "scale": preview.and_then(|p| p.scale).unwrap_or(studio_core::render::rules().defaults.scale),
                "previewSeconds": preview.and_then(|p| p.seconds),
                "quality": s.quality,
            },
            "webhook": {"url": self.webhook_url, "token": self.webhook_token},
        })
    }
}

/// `GET /status`'s answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CallStatus {
    /// pending, running, complete, failed, cancelled or unknown.
    pub status: String,
    #[serde(default)]
    pub progress: f64,
    #[serde(default)]
    pub result: Option<Json>,
    #[serde(default)]
    pub error: Option<Json>,
}

/// Status and cancel are quick on the service; a slow answer must not hold up the render watcher.
const QUICK_CALL: Duration = Duration::from_secs(15);

#[derive(Clone)]
pub struct RenderService {
    http: reqwest::Client,
    base_url: String,
    token: Secret,
}

impl RenderService {
    pub fn new(base_url: &str, token: Secret) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .expect("HTTP client");
        RenderService { http, base_url: base_url.trim_end_matches('/').to_owned(), token }
    }

    /// Starts a render; returns the service's call id.
    pub async fn submit(&self, submission: &Submission<'_>) -> Result<String, RenderServiceError> {
        self.submit_body(&submission.body()).await
    }

    /// Starts a render from a submit body already built ([`Submission::body`]).
    pub async fn submit_body(&self, body: &Json) -> Result<String, RenderServiceError> {
        let request = self.http.post(format!("{}/submit", self.base_url)).json(body);
        let body = self.send(request).await?;
        body.get("callId")
            .and_then(Json::as_str)
            .map(str::to_owned)
            .ok_or_else(|| RenderServiceError::Protocol("submit answered without a callId".into()))
    }

    pub async fn status(&self, call_id: &str) -> Result<CallStatus, RenderServiceError> {
        let request =
            self.http.get(format!("{}/status", self.base_url)).query(&[("callId", call_id)]).timeout(QUICK_CALL);
        serde_json::from_value(self.send(request).await?).map_err(|e| RenderServiceError::Protocol(e.to_string()))
    }

    /// Stops a render (a finished one is left as it is).
    pub async fn cancel(&self, call_id: &str) -> Result<(), RenderServiceError> {
        let request =
            self.http.post(format!("{}/cancel", self.base_url)).json(&json!({ "callId": call_id })).timeout(QUICK_CALL);
        self.send(request).await.map(|_| ())
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Json, RenderServiceError> {
        let response = request
            .bearer_auth(self.token.expose())
            .send()
            .await
            .map_err(|e| RenderServiceError::Unavailable(e.without_url().to_string()))?;
        let status = response.status().as_u16();
        let body: Json = response.json().await.unwrap_or(Json::Null);
        let text = |key: &str| body["error"][key].as_str().unwrap_or_default().to_owned();
        match status {
            200..=299 => Ok(body),
            401 | 403 => Err(RenderServiceError::Unauthorized),
            400 | 422 => Err(RenderServiceError::Invalid { field: text("field"), message: text("message") }),
            408 | 429 | 500..=599 => Err(RenderServiceError::Unavailable(format!("HTTP {status}"))),
            other => Err(RenderServiceError::Protocol(format!("HTTP {other}"))),
        }
    }
}
