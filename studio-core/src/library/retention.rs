//! What housekeeping lets go of on its own: assets nobody used for a while (the unused-asset window,
//! 30 days unless configured) that no other asset's saved recipe and no unfinished job names, and
//! previews past their time. Rows go and their blobs are retired in one transaction (see `retired`).

use super::retired;
use crate::hrana::{DbError, HranaClient, HttpTransport, Stmt, Value};
use crate::limits::PREVIEW_TTL_MS;

/// Every blob key of every asset, with the asset it belongs to.
pub(crate) const ASSET_KEYS: &str =
    "SELECT id AS asset_id, account_id AS asset_account, original_key AS key FROM assets \
     UNION ALL SELECT id, account_id, peaks_key FROM assets \
     UNION ALL SELECT id, account_id, prepared_key FROM assets \
     UNION ALL SELECT id, account_id, prepared_peaks_key FROM assets";

/// Assets `a` unused since before `?` that nothing names: no other asset's saved recipe, no unfinished
/// render or edit job.
const UNUSED: &str = "coalesce(a.last_used_at, a.created_at) < ? \
     AND NOT EXISTS (SELECT 1 FROM assets u, json_each(u.last_recipe, '$.clips') c WHERE u.account_id IS a.account_id \
       AND u.id != a.id AND json_extract(c.value, '$.sourceAssetId') = a.id) \
     AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.status IN ('pending', 'processing') AND j.account_id IS a.account_id \
       AND (json_extract(j.input, '$.audio.assetId') = a.id OR json_extract(j.input, '$.recipe.assetId') = a.id \
         OR EXISTS (SELECT 1 FROM json_each(j.input, '$.recipe.clips') c \
                    WHERE json_extract(c.value, '$.sourceAssetId') = a.id)))";

/// Removes up to `limit` assets unused for `unused_ms`, retiring their blobs; returns their ids.
pub async fn expire_unused_assets<T: HttpTransport>(
    db: &HranaClient<T>,
    now_ms: i64,
    unused_ms: i64,
    limit: i64,
) -> Result<Vec<String>, DbError> {
    let chosen = format!("SELECT a.id FROM assets a WHERE {UNUSED} ORDER BY a.id LIMIT ?");
    let args = || vec![Value::from(now_ms - unused_ms), Value::from(limit)];
    let rows = db
        .transaction(vec![
            retired::retire_stmt(
                &format!("SELECT key FROM ({ASSET_KEYS}) WHERE asset_id IN ({chosen})"),
                args(),
                now_ms,
            ),
            Stmt::new(format!("DELETE FROM assets WHERE id IN ({chosen}) RETURNING id"), args()),
        ])
        .await?;
    rows[1].iter().map(|r| r.text("id")).collect()
}

/// Removes previews not asked for within [`PREVIEW_TTL_MS`], retiring their blobs; returns how many.
pub async fn expire_previews<T: HttpTransport>(db: &HranaClient<T>, now_ms: i64) -> Result<usize, DbError> {
    let before = || vec![Value::from(now_ms - PREVIEW_TTL_MS)];
    let rows = db
        .transaction(vec![
            retired::retire_stmt("SELECT key FROM previews WHERE created_at < ?", before(), now_ms),
            Stmt::new("DELETE FROM previews WHERE created_at < ? RETURNING key", before()),
        ])
        .await?;
    Ok(rows[1].len())
}
