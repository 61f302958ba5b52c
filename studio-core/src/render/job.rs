//! The render job: what it takes as input, its creation from an asset in one round trip (the audio
//! it renders is chosen and frozen then), and the edge's check that a render's output may still land.

use serde::{Deserialize, Serialize};

use crate::accounts::access::{self, AccessError, Session, OWNER_ID};
use crate::accounts::quotas::{self, Need, QuotaDefaults};
use crate::hrana::{DbError, HranaClient, HttpTransport, Stmt, Value};
use crate::jobs::transitions::{self, JobInput};
use crate::jobs::{store, Job, JobStatus, JobType, NewJob};
use crate::render::{AudioVariant, RenderRequest, RenderSettings};

/// The job's input as stored in `jobs.input`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenderInput {
    pub audio: RenderAudio,
    pub settings: RenderSettings,
}

/// The audio a render reads: the asset, the variant asked for, and the blob chosen at creation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenderAudio {
    pub asset_id: String,
    pub variant: Option<AudioVariant>,
    pub key: String,
    /// The asset's duration, for sizing the output upload.
    #[serde(default)]
    pub duration_sec: Option<f64>,
}

/// Bits per pixel a video is budgeted: generous for CRF/CQ-encoded particles on a dark sky, so the
/// estimate errs towards the multipart plan.
const BITS_PER_PIXEL: f64 = 0.25;
const AUDIO_BITS_PER_SECOND: f64 = 320_000.0;

impl RenderInput {
    /// The seconds of video the render makes: the draft's length, or the whole audio.
    pub fn video_seconds(&self) -> f64 {
        let full = self.audio.duration_sec.unwrap_or(crate::limits::MAX_DURATION_SEC);
        match self.settings.preview.as_ref().and_then(|p| p.seconds) {
            Some(draft) => draft.min(full),
            None => full,
        }
    }

    /// A generous estimate of the video's size, to choose between one PUT and a multipart upload.
    pub fn estimated_output_bytes(&self) -> u64 {
        let s = &self.settings;
        let scale = s.preview.as_ref().and_then(|p| p.scale).unwrap_or(1.0);
        let (width, height) = crate::render::rules()
            .formats
            .iter()
            .find(|f| f.id == s.format)
            .map(|f| (f64::from(f.width) * scale, f64::from(f.height) * scale))
            .unwrap_or((7680.0, 4320.0));
        let bits = width * height * s.fps as f64 * BITS_PER_PIXEL + AUDIO_BITS_PER_SECOND;
        (bits * self.video_seconds() / 8.0).ceil() as u64
    }
}

/// What a render request found.
#[derive(Debug, Clone, PartialEq)]
pub enum CreateFromAsset {
    Created(Box<Job>),
    AssetNotFound,
    /// The prepared audio was asked for and the asset has none.
    NoPreparedAudio,
}

/// Creates a pending render job for one of the caller's assets: its prepared audio when it has one
/// (unless the original was asked for), else the original; the variant used is recorded. Nothing is created for an unknown (or another
/// account's) asset, or over a quota (active jobs, stored bytes, rendered seconds today).
pub async fn create_from_asset<T: HttpTransport>(
    db: &HranaClient<T>,
    session: &Session,
    request: &RenderRequest,
    callback_url: Option<&str>,
    defaults: &QuotaDefaults,
) -> Result<CreateFromAsset, AccessError> {
    let now_ms = session.now_ms();
    let owner = session.owner();
    let spec = NewJob::new(JobType::Render, serde_json::Value::Null);
    let variant = request.variant.map(|v| match v {
        AudioVariant::Original => "original",
        AudioVariant::Prepared => "prepared",
    });
    let settings = serde_json::to_string(&request.settings).expect("settings serialise");
    // The prepared audio when the asset has one, unless the original was asked for.
    let prepared = "(prepared_key IS NOT NULL AND coalesce(?, 'prepared') = 'prepared')";
    let duration = format!("CASE WHEN {prepared} THEN prepared_duration_sec ELSE duration_sec END");
    let input_sql = format!(
        "json_object('audio', json_object('assetId', id, \
           'variant', CASE WHEN {prepared} THEN 'prepared' ELSE 'original' END, \
           'key', CASE WHEN {prepared} THEN prepared_key ELSE original_key END, \
           'durationSec', {duration}), \
         'settings', json(?))"
    );
    // The seconds of video: a draft's length (a checked, finite number) or the whole audio.
    let seconds_sql = match request.settings.preview.as_ref().and_then(|p| p.seconds) {
        Some(draft) if draft.is_finite() => format!("min({duration}, {draft})"),
        _ => duration,
    };
    let seconds_args = vec![Value::from(variant)];
    let need = Need { jobs: 1, storage_bytes: 1, render_seconds_sql: Some(seconds_sql.clone()) };
    let admits = quotas::admits(&need, defaults, now_ms);
    let mut source_args = vec![Value::from(request.asset_id.as_str()), Value::from(variant)];
    source_args.extend(seconds_args.clone());
    let [insert, created] = transitions::create(
        &spec,
        JobInput::Sql(&input_sql, vec![Value::from(variant); 3].into_iter().chain([Value::from(settings)]).collect()),
        vec![
            ("account_id", "account_id", vec![]),
            ("callback_url", "?", vec![Value::from(callback_url)]),
            ("video_seconds", &seconds_sql, seconds_args.clone()),
        ],
        &format!(
            "FROM assets WHERE id = ? AND account_id = {OWNER_ID} AND (prepared_key IS NOT NULL OR ? IS NOT 'prepared') \
             AND {admits}"
        ),
        source_args,
        now_ms,
    );
    let rows = access::run(
        db,
        session,
        vec![
            quotas::usage_stmt(&owner, defaults, now_ms),
            owner.scope(insert),
            created,
            // A render request uses the asset (unused assets expire), whether or not it was admitted.
            owner.scope(Stmt::new(
                format!("UPDATE assets SET last_used_at = ? WHERE id = ? AND account_id = {OWNER_ID}"),
                vec![Value::from(now_ms), Value::from(request.asset_id.as_str())],
            )),
            owner.scope(Stmt::new(
                format!(
                    "SELECT {seconds_sql} AS seconds, prepared_key IS NOT NULL AS has_prepared FROM assets \
                     WHERE id = ? AND account_id = {OWNER_ID}"
                ),
                seconds_args.into_iter().chain([Value::from(request.asset_id.as_str())]).collect(),
            )),
        ],
    )
    .await?;
    if let Some(job) = store::job_from_rows(&rows[1])? {
        return Ok(CreateFromAsset::Created(Box::new(job)));
    }
    let Some(asset) = rows[4].first() else { return Ok(CreateFromAsset::AssetNotFound) };
    if variant == Some("prepared") && asset.int("has_prepared")? == 0 {
        return Ok(CreateFromAsset::NoPreparedAudio);
    }
    Err(quotas::refused(&rows[0], now_ms, 1, 1, asset.float("seconds").unwrap_or(0.0)))
}

/// The status and current claim (`claim_seq`) of render job `job_id` (`None`: no such render). The edge
/// asks before and after it stores a render's video: only the running claim's video is stored, so a
/// cancelled or failed job's upload URL — or one of an earlier claim — stores nothing, however long it
/// is valid.
pub async fn output_owner<T: HttpTransport>(
    db: &HranaClient<T>,
    job_id: &str,
) -> Result<Option<(JobStatus, i64)>, DbError> {
    let rows = db
        .execute(Stmt::new(
            "SELECT status, claim_seq FROM jobs WHERE id = ? AND type = 'render'",
            vec![Value::from(job_id)],
        ))
        .await?;
    let Some(row) = rows.first() else { return Ok(None) };
    let status = row.text("status")?;
    let status = JobStatus::parse(&status).ok_or_else(|| DbError::Decode(format!("job status {status}")))?;
    Ok(Some((status, row.int("claim_seq")?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(format: &str, preview: serde_json::Value, duration: f64) -> RenderInput {
        let body = serde_json::json!({"audio": {"assetId": "a"}, "format": format, "preview": preview});
        let request = crate::render::parse_request(&body).unwrap();
        RenderInput {
            audio: RenderAudio { asset_id: "a".into(), variant: None, key: "k".into(), duration_sec: Some(duration) },
            settings: request.settings,
        }
    }

    #[test]
    fn drafts_fit_one_put_and_full_renders_plan_multipart() {
        let limit = crate::limits::SINGLE_PUT_MAX_BYTES;
        let draft = input("flat-1080p-landscape", serde_json::json!({"seconds": 10, "scale": 0.25}), 180.0);
        assert_eq!(draft.video_seconds(), 10.0);
        assert!(draft.estimated_output_bytes() < limit / 10, "{}", draft.estimated_output_bytes());
        let full = input("flat-1080p-landscape", serde_json::Value::Null, 180.0);
        assert_eq!(full.video_seconds(), 180.0);
        assert!(full.estimated_output_bytes() > limit);
        let vr = input("360-stereo-8k", serde_json::Value::Null, 1800.0);
        assert!(vr.estimated_output_bytes() > 8 * full.estimated_output_bytes());
        let short = input("flat-1080p-square", serde_json::json!({"seconds": 60}), 5.0);
        assert_eq!(short.video_seconds(), 5.0, "a draft longer than the audio is the audio");
    }
}
