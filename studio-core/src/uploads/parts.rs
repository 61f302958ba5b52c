//! Resumable uploads: an upload whose bytes go up as an R2 multipart upload in equal parts. The edge
//! starts the multipart upload, records each part it stores (only while the upload is still open), lists
//! what has arrived so a client resumes with the missing parts only, and completes with exactly the
//! recorded parts — a missing one is refused.

use serde::Serialize;

use super::states::{AWAITING_BYTES, SET_RECEIVED};
use crate::accounts::access::{self, AccessError, Session, OWNER_ID};
use crate::hrana::{DbError, HranaClient, HttpTransport, Stmt, Value};
use crate::keys;
use crate::limits::UPLOAD_PART_BYTES;

/// The parts of a `size`-byte upload: `(part_size, part_count)`.
pub fn plan(size: u64) -> (u64, u16) {
    (UPLOAD_PART_BYTES, size.div_ceil(UPLOAD_PART_BYTES).max(1) as u16)
}

/// The bytes part `n` (1-based) of a `size`-byte upload must have.
pub fn part_length(size: u64, part_size: u64, n: u16) -> u64 {
    let start = (u64::from(n) - 1) * part_size;
    size.saturating_sub(start).min(part_size)
}

/// Records the R2 multipart upload of an upload just created.
pub async fn start<T: HttpTransport>(
    db: &HranaClient<T>,
    upload_id: &str,
    multipart_id: &str,
    part_size: u64,
    part_count: u16,
) -> Result<(), DbError> {
    db.execute(Stmt::new(
        "UPDATE uploads SET multipart_id = ?, part_size = ?, part_count = ? WHERE id = ? AND multipart_id IS NULL",
        vec![
            Value::from(multipart_id),
            Value::from(part_size as i64),
            Value::from(i64::from(part_count)),
            Value::from(upload_id),
        ],
    ))
    .await?;
    Ok(())
}

/// An upload as its parts see it (a single-PUT upload has no multipart id and no parts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resumable {
    pub upload_id: String,
    pub account_id: Option<String>,
    /// The R2 multipart upload; `None` for an upload that takes a single PUT.
    pub multipart_id: Option<String>,
    pub size: u64,
    pub part_size: u64,
    pub part_count: u16,
    /// Still taking parts (declared, not received, consumed or withdrawn).
    pub open: bool,
    pub status: String,
    pub received: Vec<ReceivedPart>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceivedPart {
    pub part_number: u16,
    pub size: u64,
    #[serde(skip)]
    pub etag: String,
}

impl Resumable {
    /// Part numbers not yet stored.
    pub fn missing(&self) -> Vec<u16> {
        (1..=self.part_count).filter(|n| !self.received.iter().any(|p| p.part_number == *n)).collect()
    }

    /// The key the parts are assembled under.
    pub fn key(&self) -> String {
        keys::upload_multipart(self.account_id.as_deref(), &self.upload_id)
    }
}

fn resumable_sql() -> String {
    format!(
        "SELECT u.id, u.account_id, u.multipart_id, u.declared_size, u.part_size, u.part_count, \
         u.status, ({AWAITING_BYTES}) AS open, p.part_number, p.size, p.etag \
         FROM uploads u LEFT JOIN upload_parts p ON p.upload_id = u.id"
    )
}

fn from_rows(rows: &crate::hrana::Rows) -> Result<Option<Resumable>, DbError> {
    let Some(first) = rows.first() else { return Ok(None) };
    let mut received = Vec::new();
    for row in rows.iter() {
        if let Some(n) = row.opt_int("part_number")? {
            received.push(ReceivedPart {
                part_number: n as u16,
                size: row.int("size")? as u64,
                etag: row.text("etag")?,
            });
        }
    }
    received.sort_by_key(|p| p.part_number);
    Ok(Some(Resumable {
        upload_id: first.text("id")?,
        account_id: first.opt_text("account_id")?,
        multipart_id: first.opt_text("multipart_id")?,
        size: first.int("declared_size")? as u64,
        part_size: first.opt_int("part_size")?.unwrap_or(0) as u64,
        part_count: first.opt_int("part_count")?.unwrap_or(0) as u16,
        open: first.int("open")? == 1,
        status: first.text("status")?,
        received,
    }))
}

/// The caller's resumable upload (`GET /api/uploads/{id}`); `None` for another account's or an unknown one.
pub async fn get_owned<T: HttpTransport>(
    db: &HranaClient<T>,
    session: &Session,
    upload_id: &str,
) -> Result<Option<Resumable>, AccessError> {
    let stmt = session.owner().scope(Stmt::new(
        format!("{} WHERE u.id = ? AND u.account_id = {OWNER_ID}", resumable_sql()),
        vec![Value::from(upload_id)],
    ));
    let rows = access::run(db, session, vec![stmt]).await?;
    Ok(from_rows(&rows[0])?)
}

/// The upload behind a part URL's key (the signature already bound the key to its account).
pub async fn get<T: HttpTransport>(
    db: &HranaClient<T>,
    account: Option<&str>,
    upload_id: &str,
) -> Result<Option<Resumable>, DbError> {
    let rows = db
        .execute(Stmt::new(
            format!("{} WHERE u.id = ? AND u.account_id IS ?", resumable_sql()),
            vec![Value::from(upload_id), Value::from(account)],
        ))
        .await?;
    from_rows(&rows)
}

/// Records a stored part, if the upload is still open; `false` otherwise (the part is garbage).
pub async fn record<T: HttpTransport>(
    db: &HranaClient<T>,
    upload_id: &str,
    part_number: u16,
    etag: &str,
    size: u64,
    now_ms: i64,
) -> Result<bool, DbError> {
    let rows = db
        .execute(Stmt::new(
            format!(
                "INSERT OR REPLACE INTO upload_parts (upload_id, part_number, etag, size, received_at) \
                 SELECT id, ?, ?, ?, ? FROM uploads WHERE id = ? AND {AWAITING_BYTES} RETURNING part_number"
            ),
            vec![
                Value::from(i64::from(part_number)),
                Value::from(etag),
                Value::from(size as i64),
                Value::from(now_ms),
                Value::from(upload_id),
            ],
        ))
        .await?;
    Ok(!rows.is_empty())
}

/// Makes the assembled object the upload's bytes (`received`), if it is still open.
pub async fn finish<T: HttpTransport>(
    db: &HranaClient<T>,
    upload: &Resumable,
    size: u64,
    now_ms: i64,
) -> Result<bool, DbError> {
    let rows = db
        .execute(Stmt::new(
            format!(
                "UPDATE uploads SET {SET_RECEIVED}, source_key = ?, received_size = ?, updated_at = ? \
                 WHERE id = ? AND {AWAITING_BYTES} RETURNING id"
            ),
            vec![
                Value::from(upload.key()),
                Value::from(size as i64),
                Value::from(now_ms),
                Value::from(upload.upload_id.as_str()),
            ],
        ))
        .await?;
    Ok(!rows.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_equal_but_the_last() {
        let mib = 1024 * 1024;
        assert_eq!(plan(30 * mib), (8 * mib, 4));
        assert_eq!(plan(1), (8 * mib, 1));
        assert_eq!(plan(100 * mib).1, 13);
        assert_eq!(part_length(30 * mib, 8 * mib, 1), 8 * mib);
        assert_eq!(part_length(30 * mib, 8 * mib, 4), 6 * mib);
        assert!(UPLOAD_PART_BYTES >= 5 * mib, "R2's minimum part size");
    }
}
