//! Upload records: declared at `POST /api/uploads`, marked received when the bytes land in R2,
//! consumed by exactly one ingest job.

pub mod parts;
pub mod request;
pub mod states;

use crate::accounts::access::{self, AccessError, Session, OWNER_ID};
use crate::accounts::quotas::{self, Need, QuotaDefaults};
use crate::hrana::{DbError, HranaClient, HttpTransport, Stmt, Value};
use crate::keys;
use crate::limits::{UNUSED_UPLOAD_TTL_MS, UPLOAD_URL_TTL_MS};
use request::CreateUploadRequest;
pub use states::UploadStatus;
use states::{CONSUMED, NOT_WITHDRAWN, OPEN, SET_RECEIVED, UNCONSUMED};

#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    pub id: String,
    pub account_id: Option<String>,
    pub declared_size: u64,
    pub status: UploadStatus,
    pub expires_at: i64,
}

/// Records a declared upload for the caller, if its declared size fits the storage quota (the answer
/// is 413 `quota_exceeded` otherwise, and nothing is recorded); its id comes from the database.
pub async fn create<T: HttpTransport>(
    db: &HranaClient<T>,
    session: &Session,
    req: &CreateUploadRequest,
    defaults: &QuotaDefaults,
) -> Result<Upload, AccessError> {
    let now_ms = session.now_ms();
    let owner = session.owner();
    let expires_at = now_ms + UPLOAD_URL_TTL_MS;
    let need = Need { storage_bytes: req.size.max(1) as i64, ..Need::default() };
    let insert = owner.scope(Stmt::new(
        format!(
            "INSERT INTO uploads (filename, content_type, declared_size, expires_at, created_at, updated_at, \
             account_id) SELECT ?, ?, ?, ?, ?, ?, {OWNER_ID} WHERE {} RETURNING id, account_id",
            quotas::admits(&need, defaults, now_ms)
        ),
        vec![
            Value::from(req.filename.trim()),
            Value::from(req.content_type.trim()),
            Value::from(req.size as i64),
            Value::from(expires_at),
            Value::from(now_ms),
            Value::from(now_ms),
        ],
    ));
    let rows = access::run(db, session, vec![quotas::usage_stmt(&owner, defaults, now_ms), insert]).await?;
    let Some(row) = rows[1].first() else {
        return Err(quotas::refused(&rows[0], now_ms, 0, need.storage_bytes, 0.0));
    };
    Ok(Upload {
        id: row.text("id")?,
        account_id: row.opt_text("account_id")?,
        declared_size: req.size,
        status: UploadStatus::AwaitingBytes,
        expires_at,
    })
}

pub async fn get<T: HttpTransport>(db: &HranaClient<T>, upload_id: &str) -> Result<Option<Upload>, DbError> {
    let rows = db
        .execute(Stmt::new(
            "SELECT id, account_id, declared_size, status, expires_at FROM uploads WHERE id = ?",
            vec![Value::from(upload_id)],
        ))
        .await?;
    rows.first()
        .map(|r| {
            let status = r.text("status")?;
            Ok(Upload {
                id: r.text("id")?,
                account_id: r.opt_text("account_id")?,
                declared_size: r.int("declared_size")? as u64,
                status: UploadStatus::parse(&status).ok_or_else(|| DbError::Decode(status.clone()))?,
                expires_at: r.int("expires_at")?,
            })
        })
        .transpose()
}

/// Where a PUT of an upload's bytes may write, or why it may not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutSlot {
    /// Write to `key` (this PUT's own), then call [`finish_put`] with `seq`.
    Open {
        seq: i64,
        key: String,
    },
    NotFound,
    /// An ingest job took the upload: its bytes are fixed.
    Consumed,
}

/// Reserves a fresh storage key for one PUT of the bytes of `account`'s upload (one round trip).
pub async fn begin_put<T: HttpTransport>(
    db: &HranaClient<T>,
    account: Option<&str>,
    upload_id: &str,
    now_ms: i64,
) -> Result<PutSlot, DbError> {
    let (id, owner) = (Value::from(upload_id), Value::from(account));
    let outcomes = db
        .transaction(vec![
            Stmt::new(
                format!(
                    "UPDATE uploads SET put_seq = put_seq + 1, updated_at = ? WHERE id = ? AND account_id IS ? \
                     AND {OPEN} RETURNING put_seq"
                ),
                vec![Value::from(now_ms), id.clone(), owner.clone()],
            ),
            Stmt::new(
                format!("SELECT status FROM uploads WHERE id = ? AND account_id IS ? AND {NOT_WITHDRAWN}"),
                vec![id, owner],
            ),
        ])
        .await?;
    if let Some(row) = outcomes[0].first() {
        let seq = row.int("put_seq")?;
        return Ok(PutSlot::Open { seq, key: keys::upload_put(account, upload_id, seq) });
    }
    Ok(if outcomes[1].is_empty() { PutSlot::NotFound } else { PutSlot::Consumed })
}

/// What became of a finished PUT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutFinish {
    /// These are now the upload's bytes; `replaced` held an earlier PUT's bytes and can be deleted.
    Received { replaced: Option<String> },
    /// The upload was consumed (or removed) while the bytes streamed in: this PUT's key is garbage,
    /// and the consumed bytes are untouched.
    Refused,
}

/// Makes PUT `seq`'s bytes the upload's, unless an ingest consumed it meanwhile (one round trip).
pub async fn finish_put<T: HttpTransport>(
    db: &HranaClient<T>,
    account: Option<&str>,
    upload_id: &str,
    seq: i64,
    size: u64,
    now_ms: i64,
) -> Result<PutFinish, DbError> {
    let id = Value::from(upload_id);
    let key = keys::upload_put(account, upload_id, seq);
    let outcomes = db
        .transaction(vec![
            Stmt::new(format!("SELECT source_key FROM uploads WHERE id = ? AND {OPEN}"), vec![id.clone()]),
            Stmt::new(
                format!(
                    "UPDATE uploads SET {SET_RECEIVED}, source_key = ?, received_size = ?, updated_at = ? \
                     WHERE id = ? AND {OPEN} RETURNING id"
                ),
                vec![Value::from(key.as_str()), Value::from(size as i64), Value::from(now_ms), id],
            ),
        ])
        .await?;
    if outcomes[1].is_empty() {
        return Ok(PutFinish::Refused);
    }
    let previous = outcomes[0].first().map(|r| r.opt_text("source_key")).transpose()?.flatten();
    Ok(PutFinish::Received { replaced: previous.filter(|p| *p != key) })
}

/// An upload whose bytes can go, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purgeable {
    pub upload_id: String,
    /// Consumed by an ingest job that has finished; otherwise never ingested and past its time.
    pub consumed: bool,
    /// Every key a PUT of this upload may have written.
    pub keys: Vec<String>,
    /// A resumable upload's R2 multipart upload (`key`, `upload id`), aborted before its keys go.
    pub multipart: Option<(String, String)>,
}

/// Uploads whose bytes can go: never ingested and older than [`UNUSED_UPLOAD_TTL_MS`] (or already
/// withdrawn, whose deletion did not finish), or consumed by an ingest job that has finished (whatever
/// its outcome). Random order, so an upload whose deletion keeps failing cannot hold up the rest.
pub async fn purgeable<T: HttpTransport>(
    db: &HranaClient<T>,
    now_ms: i64,
    limit: i64,
) -> Result<Vec<Purgeable>, DbError> {
    let rows = db
        .execute(Stmt::new(
            format!(
                "SELECT id, account_id, status, put_seq, source_key, multipart_id FROM uploads u WHERE purged_at IS NULL AND ( \
                   ({UNCONSUMED} AND (created_at < ? OR NOT ({NOT_WITHDRAWN}))) \
                   OR ({CONSUMED} AND EXISTS (SELECT 1 FROM jobs j WHERE j.type = 'ingest' \
                       AND json_extract(j.input, '$.source.uploadId') = u.id \
                       AND j.status IN ('complete', 'failed', 'cancelled')))) \
                 ORDER BY random() LIMIT ?"
            ),
            vec![Value::from(now_ms - UNUSED_UPLOAD_TTL_MS), Value::from(limit)],
        ))
        .await?;
    rows.iter()
        .map(|r| {
            let upload_id = r.text("id")?;
            let account = r.opt_text("account_id")?;
            let account = account.as_deref();
            // Every PUT's own key, and the URL name itself: an edge of an older release stored bytes there.
            let mut keys: Vec<String> =
                (1..=r.int("put_seq")?).map(|seq| keys::upload_put(account, &upload_id, seq)).collect();
            keys.push(keys::upload_source(account, &upload_id));
            let multipart = r.opt_text("multipart_id")?.map(|id| (keys::upload_multipart(account, &upload_id), id));
            if let Some((key, _)) = &multipart {
                keys.push(key.clone());
            }
            Ok(Purgeable {
                consumed: UploadStatus::parse(&r.text("status")?) == Some(UploadStatus::Consumed),
                upload_id,
                keys,
                multipart,
            })
        })
        .collect()
}

/// Withdraws a never-ingested upload before its bytes are deleted: from now on no PUT or ingest may use
/// it (they answer 404). False when an ingest consumed it first (keep the bytes).
pub async fn withdraw<T: HttpTransport>(db: &HranaClient<T>, upload_id: &str, now_ms: i64) -> Result<bool, DbError> {
    let rows = db
        .execute(Stmt::new(
            format!(
                "UPDATE uploads SET withdrawn_at = coalesce(withdrawn_at, ?), updated_at = ? \
                 WHERE id = ? AND {UNCONSUMED} RETURNING id"
            ),
            vec![Value::from(now_ms), Value::from(now_ms), Value::from(upload_id)],
        ))
        .await?;
    Ok(!rows.is_empty())
}

/// Removes a withdrawn upload's row once its bytes are deleted.
pub async fn remove_withdrawn<T: HttpTransport>(db: &HranaClient<T>, upload_id: &str) -> Result<(), DbError> {
    db.execute(Stmt::new(
        format!("DELETE FROM uploads WHERE id = ? AND NOT ({NOT_WITHDRAWN})"),
        vec![Value::from(upload_id)],
    ))
    .await?;
    Ok(())
}

/// Records that a consumed upload's bytes were deleted (the row stays: assets point at it).
pub async fn mark_purged<T: HttpTransport>(db: &HranaClient<T>, upload_id: &str, now_ms: i64) -> Result<(), DbError> {
    db.execute(Stmt::new(
        format!("UPDATE uploads SET purged_at = ?, updated_at = ? WHERE id = ? AND {CONSUMED}"),
        vec![Value::from(now_ms), Value::from(now_ms), Value::from(upload_id)],
    ))
    .await?;
    Ok(())
}
