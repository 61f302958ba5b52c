//! Asset records: one row per ingested audio file, so listing is one query.

use serde::{Deserialize, Serialize};

use crate::accounts::access::{self, AccessError, Session, OWNER_ID};
use crate::edit::store::Prepared;
use crate::hrana::{DbError, HranaClient, HttpTransport, Stmt, Value};
use crate::jobs::{ClaimedJob, FENCE_SQL};

#[derive(Debug, Clone, PartialEq)]
pub struct Asset {
    pub id: String,
    pub job_id: String,
    pub account_id: Option<String>,
    pub source_type: String,
    pub upload_id: Option<String>,
    pub original_filename: String,
    pub original_key: String,
    pub peaks_key: String,
    /// The prepared (edited, levelled) audio's key and facts (as the save recorded them) and its
    /// waveform's key, once a recipe was saved.
    pub prepared: Option<Prepared>,
    /// The recipe of the last save.
    pub last_recipe: Option<serde_json::Value>,
    pub content_type: String,
    pub size_bytes: i64,
    pub audio: AudioInfo,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioInfo {
    pub duration_sec: f64,
    pub sample_rate: i64,
    pub channels: i64,
    pub codec: String,
    pub format: String,
}

/// The audio variants an asset offers: `original`, and `prepared` once a recipe was saved.
pub fn variants(has_prepared: bool) -> Vec<String> {
    let mut variants = vec!["original".to_owned()];
    if has_prepared {
        variants.push("prepared".to_owned());
    }
    variants
}

/// The insert, guarded so it only happens while `job` is still held by its claim token.
pub fn insert_if_owned(asset: &Asset, job: &ClaimedJob) -> Stmt {
    let mut args = vec![
        Value::from(asset.id.as_str()),
        Value::from(asset.job_id.as_str()),
        Value::from(asset.source_type.as_str()),
        Value::from(asset.upload_id.clone()),
        Value::from(asset.original_filename.as_str()),
        Value::from(asset.original_key.as_str()),
        Value::from(asset.peaks_key.as_str()),
        Value::from(asset.content_type.as_str()),
        Value::from(asset.size_bytes),
        Value::from(asset.audio.duration_sec),
        Value::from(asset.audio.sample_rate),
        Value::from(asset.audio.channels),
        Value::from(asset.audio.codec.as_str()),
        Value::from(asset.audio.format.as_str()),
        Value::from(asset.created_at),
        Value::from(asset.account_id.clone()),
        Value::from(asset.created_at),
    ];
    args.extend(job.fence_args());
    Stmt::new(
        format!(
            "INSERT INTO assets (id, job_id, source_type, upload_id, original_filename, original_key, peaks_key, \
             content_type, size_bytes, duration_sec, sample_rate, channels, codec, format, created_at, account_id, \
             last_used_at) \
             SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM jobs WHERE {FENCE_SQL})"
        ),
        args,
    )
}

/// One of the caller's assets; another account's is `None`, exactly like an unknown one.
pub async fn get<T: HttpTransport>(
    db: &HranaClient<T>,
    session: &Session,
    asset_id: &str,
) -> Result<Option<Asset>, AccessError> {
    let stmt = session.owner().scope(Stmt::new(
        format!("SELECT * FROM assets WHERE id = ? AND account_id = {OWNER_ID}"),
        vec![Value::from(asset_id)],
    ));
    let rows = access::run(db, session, vec![stmt]).await?;
    let asset = rows[0]
        .first()
        .map(|r| {
            Ok::<_, DbError>(Asset {
                id: r.text("id")?,
                job_id: r.text("job_id")?,
                account_id: r.opt_text("account_id")?,
                source_type: r.text("source_type")?,
                upload_id: r.opt_text("upload_id")?,
                original_filename: r.text("original_filename")?,
                original_key: r.text("original_key")?,
                peaks_key: r.text("peaks_key")?,
                prepared: r
                    .opt_json("prepared_info")?
                    .map(|info| {
                        serde_json::from_value(info).map_err(|e| DbError::Decode(format!("prepared_info: {e}")))
                    })
                    .transpose()?,
                last_recipe: r.opt_json("last_recipe")?,
                content_type: r.text("content_type")?,
                size_bytes: r.int("size_bytes")?,
                audio: AudioInfo {
                    duration_sec: r.float("duration_sec")?,
                    sample_rate: r.int("sample_rate")?,
                    channels: r.int("channels")?,
                    codec: r.text("codec")?,
                    format: r.text("format")?,
                },
                created_at: r.int("created_at")?,
            })
        })
        .transpose()?;
    Ok(asset)
}
