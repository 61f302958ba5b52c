//! The render job: what it takes as input, its creation from an asset in one round trip (the audio
//! it renders is chosen and frozen then), and the edge's check that a render's output may still land.

use serde::{Deserialize, Serialize};

use crate::hrana::{DbError, HranaClient, HttpTransport, Stmt, Value};
use crate::jobs::transitions::{self, JobInput};
use crate::jobs::{store, Job, JobType, NewJob};
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
}

/// What a render request found.
#[derive(Debug, Clone, PartialEq)]
pub enum CreateFromAsset {
    Created(Box<Job>),
    AssetNotFound,
}

/// Creates a pending render job for an existing asset: the prepared variant's blob when it was asked
/// for and exists, else the original. Nothing is created for an unknown asset.
pub async fn create_from_asset<T: HttpTransport>(
    db: &HranaClient<T>,
    request: &RenderRequest,
    now_ms: i64,
) -> Result<CreateFromAsset, DbError> {
    let spec = NewJob::new(JobType::Render, serde_json::Value::Null);
    let variant = request.variant.map(|v| match v {
        AudioVariant::Original => "original",
        AudioVariant::Prepared => "prepared",
    });
    let settings = serde_json::to_string(&request.settings).expect("settings serialise");
    let input_sql = "json_object('audio', json_object('assetId', id, 'variant', ?, 'key', \
                     CASE WHEN ? = 'prepared' THEN coalesce(prepared_key, original_key) ELSE original_key END), \
                     'settings', json(?))";
    let stmts = transitions::create(
        &spec,
        JobInput::Sql(input_sql, vec![Value::from(variant), Value::from(variant), Value::from(settings)]),
        "FROM assets WHERE id = ?",
        vec![Value::from(request.asset_id.as_str())],
        now_ms,
    );
    let rows = db.transaction(stmts.into()).await?;
    Ok(match store::job_from_rows(&rows[0])? {
        Some(job) => CreateFromAsset::Created(Box::new(job)),
        None => CreateFromAsset::AssetNotFound,
    })
}

/// Whether render job `job_id` is still running, so its output may be stored. The edge asks before and
/// after it stores a render's video: a cancelled or finished job's video URL stores nothing, however
/// long the URL itself is valid.
pub async fn accepts_output<T: HttpTransport>(db: &HranaClient<T>, job_id: &str) -> Result<bool, DbError> {
    let rows = db
        .execute(Stmt::new(
            "SELECT 1 AS running FROM jobs WHERE id = ? AND type = 'render' AND status = 'processing'",
            vec![Value::from(job_id)],
        ))
        .await?;
    Ok(!rows.is_empty())
}
