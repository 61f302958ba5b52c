//! The worker's SQL for edit jobs: the recipe's source audio (the job owner's assets only), the stored
//! preview of a recipe, and the effects that complete an edit — a preview stored under its recipe hash,
//! or a saved recipe becoming the asset's prepared audio — each retiring the blobs it replaces, all
//! fenced by the job's claim.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::edit::recipe::Loudness;
use crate::hrana::{DbError, HranaClient, HttpTransport, Stmt, Value};
use crate::jobs::{ClaimedJob, FENCE_SQL};
use crate::library::assets::AudioInfo;
use crate::library::retired;

/// A source asset's original audio.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceAudio {
    pub key: String,
    pub duration_sec: f64,
}

/// The sources `ids` of the job's owner, in order (`None`: no such asset of the owner's).
pub async fn sources<T: HttpTransport>(
    db: &HranaClient<T>,
    job: &ClaimedJob,
    ids: &[&str],
) -> Result<Vec<Option<SourceAudio>>, DbError> {
    let list = vec!["?"; ids.len()].join(", ");
    let mut args = vec![Value::from(job.account_id.clone())];
    args.extend(ids.iter().map(|id| Value::from(*id)));
    let rows = db
        .execute(Stmt::new(
            format!("SELECT id, original_key, duration_sec FROM assets WHERE account_id IS ? AND id IN ({list})"),
            args,
        ))
        .await?;
    let mut found = Vec::new();
    for r in rows.iter() {
        found.push((
            r.text("id")?,
            SourceAudio { key: r.text("original_key")?, duration_sec: r.float("duration_sec")? },
        ));
    }
    Ok(ids.iter().map(|id| found.iter().find(|(f, _)| f == id).map(|(_, s)| s.clone())).collect())
}

/// A stored preview.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredPreview {
    pub key: String,
    pub duration_sec: f64,
    pub size_bytes: i64,
}

/// The owner's stored preview of the recipe with this hash, if there is one.
pub async fn stored_preview<T: HttpTransport>(
    db: &HranaClient<T>,
    job: &ClaimedJob,
    recipe_hash: &str,
) -> Result<Option<StoredPreview>, DbError> {
    let rows = db
        .execute(Stmt::new(
            "SELECT key, duration_sec, size_bytes FROM previews WHERE account_id IS ? AND recipe_hash = ?",
            vec![Value::from(job.account_id.clone()), Value::from(recipe_hash)],
        ))
        .await?;
    rows.first()
        .map(|r| {
            Ok(StoredPreview {
                key: r.text("key")?,
                duration_sec: r.float("duration_sec")?,
                size_bytes: r.int("size_bytes")?,
            })
        })
        .transpose()
}

/// With the completion of a preview job that found its preview stored meanwhile: the preview is kept
/// another `PREVIEW_TTL_MS`, as when the edge finds it (`edit_job::create`).
pub fn preview_reused(job: &ClaimedJob, recipe_hash: &str, now_ms: i64) -> Stmt {
    let (fence, fence_args) = fenced(job);
    let mut args = vec![Value::from(now_ms), Value::from(job.account_id.clone()), Value::from(recipe_hash)];
    args.extend(fence_args);
    Stmt::new(format!("UPDATE previews SET created_at = ? WHERE account_id IS ? AND recipe_hash = ? AND {fence}"), args)
}

fn fenced(job: &ClaimedJob) -> (String, Vec<Value>) {
    (format!("EXISTS (SELECT 1 FROM jobs WHERE {FENCE_SQL})"), job.fence_args())
}

/// Stores the job's preview as the one for its recipe hash, retiring the one it replaces.
pub fn preview_stored(job: &ClaimedJob, recipe_hash: &str, preview: &StoredPreview, now_ms: i64) -> Vec<Stmt> {
    let (fence, fence_args) = fenced(job);
    let mut retire_args =
        vec![Value::from(job.account_id.clone()), Value::from(recipe_hash), Value::from(preview.key.as_str())];
    retire_args.extend(fence_args.clone());
    let mut args = vec![
        Value::from(job.account_id.clone()),
        Value::from(recipe_hash),
        Value::from(preview.key.as_str()),
        Value::from(preview.duration_sec),
        Value::from(preview.size_bytes),
        Value::from(now_ms),
    ];
    args.extend(fence_args);
    vec![
        retired::retire_stmt(
            &format!("SELECT key FROM previews WHERE account_id IS ? AND recipe_hash = ? AND key != ? AND {fence}"),
            retire_args,
            now_ms,
        ),
        Stmt::new(
            format!(
                "INSERT INTO previews (account_id, recipe_hash, key, duration_sec, size_bytes, created_at) \
                 SELECT ?, ?, ?, ?, ?, ? WHERE {fence} \
                 ON CONFLICT (account_id, recipe_hash) DO UPDATE SET key = excluded.key, \
                   duration_sec = excluded.duration_sec, size_bytes = excluded.size_bytes, created_at = excluded.created_at"
            ),
            args,
        ),
    ]
}

/// The facts of a saved prepared audio.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Prepared {
    pub key: String,
    pub peaks_key: String,
    /// As probed (stored flat beside the other facts).
    #[serde(flatten)]
    pub audio: AudioInfo,
    pub size_bytes: i64,
    /// What the finished file measures (`None`: silent, nothing to measure).
    pub loudness: Option<Loudness>,
    /// The targets it was levelled to (`None`: not levelled).
    pub target: Option<Loudness>,
}

/// Makes the saved audio the asset's prepared audio and `recipe` its last edit, retiring the prepared
/// audio it replaces; if the asset is gone (deleted while the job ran), the new blobs are retired.
pub fn prepared_saved(job: &ClaimedJob, asset_id: &str, prepared: &Prepared, recipe: &Json, now_ms: i64) -> Vec<Stmt> {
    let (fence, fence_args) = fenced(job);
    let with_fence = |mut args: Vec<Value>| {
        args.extend(fence_args.clone());
        args
    };
    let owner = Value::from(job.account_id.clone());
    let info = serde_json::to_string(prepared).expect("prepared serialises");
    vec![
        retired::retire_stmt(
            &format!(
                "SELECT prepared_key AS key FROM assets WHERE id = ? AND account_id IS ? AND {fence} \
                 UNION ALL SELECT prepared_peaks_key FROM assets WHERE id = ? AND account_id IS ? AND {fence}"
            ),
            {
                let mut a = with_fence(vec![Value::from(asset_id), owner.clone()]);
                a.extend(with_fence(vec![Value::from(asset_id), owner.clone()]));
                a
            },
            now_ms,
        ),
        Stmt::new(
            format!(
                "UPDATE assets SET prepared_key = ?, prepared_peaks_key = ?, prepared_duration_sec = ?, \
                 prepared_size_bytes = ?, prepared_info = ?, last_recipe = ?, last_used_at = ? \
                 WHERE id = ? AND account_id IS ? AND {fence}"
            ),
            with_fence(vec![
                Value::from(prepared.key.as_str()),
                Value::from(prepared.peaks_key.as_str()),
                Value::from(prepared.audio.duration_sec),
                Value::from(prepared.size_bytes),
                Value::from(info),
                Value::from(recipe.to_string()),
                Value::from(now_ms),
                Value::from(asset_id),
                owner.clone(),
            ]),
        ),
        retired::retire_stmt(
            &format!(
                "SELECT ? AS key WHERE NOT EXISTS (SELECT 1 FROM assets WHERE id = ? AND account_id IS ?) AND {fence} \
                 UNION ALL SELECT ? WHERE NOT EXISTS (SELECT 1 FROM assets WHERE id = ? AND account_id IS ?) AND {fence}"
            ),
            {
                let mut a = with_fence(vec![Value::from(prepared.key.as_str()), Value::from(asset_id), owner.clone()]);
                a.extend(with_fence(vec![Value::from(prepared.peaks_key.as_str()), Value::from(asset_id), owner]));
                a
            },
            now_ms,
        ),
    ]
}
