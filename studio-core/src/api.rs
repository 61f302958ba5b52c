//! Request and response bodies of the public API (camelCase JSON), with the shape checks that need
//! no I/O. Timestamps are integer milliseconds since the epoch.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::error_code::Problem;
use crate::jobs::Job;

#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

impl From<&Problem> for ErrorBody {
    fn from(p: &Problem) -> Self {
        ErrorBody { error: ErrorDetail { code: p.code.as_str().to_owned(), message: p.message.clone() } }
    }
}

pub use crate::uploads::request::CreateUploadRequest;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateUploadResponse {
    pub upload_id: String,
    pub upload_url: String,
    pub method: String,
    pub expires_at: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngestRequest {
    pub source: IngestSource,
    /// Where to POST `job.completed` / `job.failed` / `job.cancelled` (checked by the route).
    #[serde(default)]
    pub callback_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum IngestSource {
    Upload {
        #[serde(rename = "uploadId")]
        upload_id: String,
    },
    /// A direct link the worker downloads (behind the SSRF guard).
    Url { url: String },
    /// A YouTube video, fetched with yt-dlp; the creator attests the rights to it.
    Youtube {
        url: String,
        #[serde(rename = "rightsAttested", default)]
        rights_attested: bool,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobAccepted {
    pub job_id: String,
    pub status: String,
    /// A preview answered from the stored preview of the same recipe (complete at once).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cached: bool,
}

impl JobAccepted {
    pub fn new(job_id: String, status: &str) -> Self {
        JobAccepted { job_id, status: status.to_owned(), cached: false }
    }
}

/// A job as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    pub job_id: String,
    #[serde(rename = "type")]
    pub job_type: String,
    pub status: String,
    pub stage: Option<String>,
    pub progress: f64,
    pub result: Option<Json>,
    pub error: Option<ErrorDetail>,
    pub download_url: Option<String>,
    /// What was asked, in the creator's terms: a render's asset, audio variant, format, fps and draft;
    /// an edit's asset and recipe hash; an ingest's source type (never storage keys or URLs).
    pub request: Option<Json>,
    pub attempt: i64,
    pub max_attempts: i64,
    pub queue_position: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames_done: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames_total: Option<i64>,
    /// Seconds left, estimated from the pace since rendering began.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eta_sec: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl JobView {
    pub fn new(job: Job, download_url: Option<String>, now_ms: i64) -> Self {
        let eta_sec = match (job.status, job.rendering_since) {
            (crate::jobs::JobStatus::Processing, Some(since)) if job.progress > 0.0 && job.progress < 100.0 => {
                let elapsed_ms = (now_ms - since).max(0) as f64;
                Some((elapsed_ms * (100.0 - job.progress) / job.progress / 1000.0).round() as i64)
            }
            _ => None,
        };
        let error = job
            .error_code
            .clone()
            .filter(|_| job.status == crate::jobs::JobStatus::Failed)
            .map(|code| ErrorDetail { code, message: job.error_message.clone().unwrap_or_default() });
        JobView {
            job_id: job.id,
            job_type: job.job_type.as_str().to_owned(),
            status: job.status.as_str().to_owned(),
            // A job waiting for a worker is queued (its stage is only set once it runs).
            stage: job.stage.or_else(|| (job.status == crate::jobs::JobStatus::Pending).then(|| "queued".to_owned())),
            progress: job.progress,
            result: job.result,
            error,
            download_url,
            request: request_summary(job.job_type, &job.input),
            attempt: job.attempt,
            max_attempts: job.max_attempts,
            queue_position: job.queue_position,
            frames_done: job.frames_done,
            frames_total: job.frames_total,
            eta_sec,
            created_at: job.created_at,
            updated_at: job.updated_at,
        }
    }
}

/// The part of a job's input a creator may see.
fn request_summary(job_type: crate::jobs::JobType, input: &Json) -> Option<Json> {
    use crate::jobs::JobType;
    let pick = |pointer: &str| input.pointer(pointer).cloned().unwrap_or(Json::Null);
    Some(match job_type {
        JobType::Render => serde_json::json!({
            "assetId": pick("/audio/assetId"),
            "variant": pick("/audio/variant"),
            "format": pick("/settings/format"),
            "fps": pick("/settings/fps"),
            "mode": pick("/settings/visual/mode"),
            "draft": input.pointer("/settings/preview").is_some_and(|p| !p.is_null()),
        }),
        JobType::EditPreview | JobType::EditSave => {
            serde_json::json!({ "assetId": pick("/recipe/assetId"), "recipeHash": pick("/recipeHash") })
        }
        JobType::Ingest => serde_json::json!({ "source": pick("/source/type") }),
    })
}

/// Technical facts about an asset's audio, as probed.
pub use crate::library::assets::{variants, AudioInfo};

/// The result of a complete ingest job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestResult {
    pub asset_id: String,
    pub audio: AudioInfo,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetView {
    pub asset_id: String,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub audio: AudioInfo,
    /// Waveform: `[min, max]` pairs in `[-1, 1]`, about 50 per second.
    pub peaks: Json,
    pub download_url: String,
    /// [`variants`].
    pub variants: Vec<String>,
    /// The prepared audio (what renders use by default), once a recipe was saved.
    pub prepared: Option<PreparedView>,
    /// The recipe of the last save.
    pub last_recipe: Option<Json>,
    pub created_at: i64,
}

/// An asset's prepared audio as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreparedView {
    pub audio: AudioInfo,
    pub size_bytes: i64,
    /// What the file measures: integrated loudness, true peak and loudness range (`null`: silent).
    pub loudness: Option<crate::edit::recipe::Loudness>,
    /// The targets it was levelled to (`null`: not levelled).
    pub target: Option<crate::edit::recipe::Loudness>,
    pub peaks: Json,
    pub download_url: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingest_source_is_tagged() {
        let r: IngestRequest = serde_json::from_str(r#"{"source":{"type":"upload","uploadId":"upl_1"}}"#).unwrap();
        assert!(matches!(r.source, IngestSource::Upload { upload_id } if upload_id == "upl_1"));
        assert!(serde_json::from_str::<IngestRequest>(r#"{"source":{"type":"ftp"}}"#).is_err());
    }
}
