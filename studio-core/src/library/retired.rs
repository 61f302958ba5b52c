//! Blobs whose rows are gone or replaced (a deleted or expired asset, a replaced prepared audio or
//! preview), retired in the same transaction that let go of them. A retired blob is deleted once no
//! pending or running render reads it (a render's audio key is frozen at creation) and no recent preview
//! job hands it out, then forgotten — so letting go of a blob never breaks a render or a download that
//! was promised it, and a crash between the row change and the deletion leaves a record, not an orphan.

use crate::hrana::{DbError, HranaClient, HttpTransport, Stmt, Value};
use crate::limits::PREVIEW_TTL_MS;

/// Whether the blob `key_sql` names is still needed at `now_ms`: read by a render that has not finished,
/// or handed out as the download of a preview job that finished within [`PREVIEW_TTL_MS`].
fn in_use_sql(key_sql: &str, now_ms: i64) -> String {
    format!(
        "(EXISTS (SELECT 1 FROM jobs j WHERE j.status IN ('pending', 'processing') AND j.type = 'render' \
           AND json_extract(j.input, '$.audio.key') = {key_sql}) \
         OR EXISTS (SELECT 1 FROM jobs p WHERE p.output_key = {key_sql} AND p.type = 'edit_preview' \
           AND p.status = 'complete' AND p.finished_at > {}))",
        now_ms - PREVIEW_TTL_MS
    )
}

/// Retires the (non-null) keys a `SELECT … AS key …` yields, with its arguments.
pub fn retire_stmt(select_keys: &str, args: Vec<Value>, now_ms: i64) -> Stmt {
    let mut all = vec![Value::from(now_ms)];
    all.extend(args);
    Stmt::new(
        format!(
            "INSERT OR IGNORE INTO retired_blobs (key, retired_at) SELECT key, ? FROM ({select_keys}) \
             WHERE key IS NOT NULL"
        ),
        all,
    )
}

/// Retired blobs no longer needed: free to delete.
pub async fn free<T: HttpTransport>(db: &HranaClient<T>, now_ms: i64, limit: i64) -> Result<Vec<String>, DbError> {
    let rows = db
        .execute(Stmt::new(
            format!(
                "SELECT key FROM retired_blobs r WHERE NOT {} ORDER BY retired_at LIMIT ?",
                in_use_sql("r.key", now_ms)
            ),
            vec![Value::from(limit)],
        ))
        .await?;
    rows.iter().map(|r| r.text("key")).collect()
}

/// Of `keys`, those retired and free to delete.
pub fn free_among_stmt(keys_select: &str, args: Vec<Value>, now_ms: i64) -> Stmt {
    Stmt::new(
        format!("SELECT key FROM retired_blobs r WHERE key IN ({keys_select}) AND NOT {}", in_use_sql("r.key", now_ms)),
        args,
    )
}

/// Forgets blobs that were deleted.
pub async fn forget<T: HttpTransport>(db: &HranaClient<T>, keys: &[String]) -> Result<(), DbError> {
    if keys.is_empty() {
        return Ok(());
    }
    let list = vec!["?"; keys.len()].join(", ");
    db.execute(Stmt::new(
        format!("DELETE FROM retired_blobs WHERE key IN ({list})"),
        keys.iter().map(|k| Value::from(k.as_str())).collect(),
    ))
    .await?;
    Ok(())
}
