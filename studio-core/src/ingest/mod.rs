//! The ingest job: what it takes as input, and its creation from a received upload in one round trip
//! (the upload is consumed by exactly one job).

pub mod youtube;

use serde::{Deserialize, Serialize};

use crate::accounts::access::{self, AccessError, Session, OWNER_ID};
use crate::accounts::quotas::{self, Need, QuotaDefaults};
use crate::hrana::{HranaClient, HttpTransport, Stmt, Value};
use crate::jobs::transitions::{self, JobInput};
use crate::jobs::{store, Job, JobType, NewJob};
use crate::uploads::states::{NOT_WITHDRAWN, READY, SET_CONSUMED};

/// The job's input as stored in `jobs.input`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestInput {
    pub source: IngestSourceInput,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum IngestSourceInput {
    #[serde(rename_all = "camelCase")]
    Upload {
        upload_id: String,
        filename: String,
        content_type: String,
        size_bytes: u64,
        /// The stored bytes, frozen when the upload was consumed (absent on jobs created before
        /// uploads had one key per PUT).
        #[serde(default)]
        source_key: Option<String>,
    },
    /// A direct link, checked at the edge and again (with DNS, every hop) by the worker.
    Url { url: String },
    /// A YouTube video, fetched with yt-dlp.
    #[serde(rename_all = "camelCase")]
    Youtube { url: String, video_id: String, rights_attested_at: i64 },
}

/// What an ingest request found.
#[derive(Debug, Clone, PartialEq)]
pub enum CreateFromUpload {
    Created(Box<Job>),
    /// No such upload of the caller's.
    UploadNotFound,
    /// The bytes never arrived.
    UploadIncomplete,
    /// Another ingest job already took this upload.
    UploadConsumed,
}

/// Turns the caller's received upload into a pending ingest job, if the account may start another job
/// (`quota_exceeded` otherwise, and the upload stays unconsumed). `callback_url` has been checked.
pub async fn create_from_upload<T: HttpTransport>(
    db: &HranaClient<T>,
    session: &Session,
    upload_id: &str,
    callback_url: Option<&str>,
    defaults: &QuotaDefaults,
) -> Result<CreateFromUpload, AccessError> {
    let now_ms = session.now_ms();
    let owner = session.owner();
    let spec = NewJob::new(JobType::Ingest, serde_json::Value::Null);
    let id = Value::from(upload_id);
    let input_sql = "json_object('source', json_object('type', 'upload', 'uploadId', id, 'filename', filename, \
                     'contentType', content_type, 'sizeBytes', received_size, 'sourceKey', source_key))";
    let [insert, created] = transitions::create(
        &spec,
        JobInput::Sql(input_sql, vec![]),
        vec![("account_id", "account_id", vec![]), ("callback_url", "?", vec![Value::from(callback_url)])],
        "FROM uploads WHERE id = ? AND changes() = 1",
        vec![id.clone()],
        now_ms,
    );
    let need = Need { jobs: 1, ..Need::default() };
    let rows = access::run(
        db,
        session,
        vec![
            quotas::usage_stmt(&owner, defaults, now_ms),
            owner.scope(Stmt::new(
                format!(
                    "UPDATE uploads SET {SET_CONSUMED}, updated_at = ? WHERE id = ? AND account_id = {OWNER_ID} \
                     AND {READY} AND {}",
                    quotas::admits(&need, defaults, now_ms)
                ),
                vec![Value::from(now_ms), id.clone()],
            )),
            owner.scope(insert),
            created,
            owner.scope(Stmt::new(
                format!("SELECT status FROM uploads WHERE id = ? AND account_id = {OWNER_ID} AND {NOT_WITHDRAWN}"),
                vec![id],
            )),
        ],
    )
    .await?;
    if let Some(job) = store::job_from_rows(&rows[2])? {
        return Ok(CreateFromUpload::Created(Box::new(job)));
    }
    Ok(match rows[4].first().map(|r| r.text("status")).transpose()?.as_deref() {
        None => CreateFromUpload::UploadNotFound,
        Some("consumed") => CreateFromUpload::UploadConsumed,
        Some("received") => return Err(quotas::refused(&rows[0], now_ms, 1, 0, 0.0)),
        Some(_) => CreateFromUpload::UploadIncomplete,
    })
}

/// A pending ingest job for a link (a direct one checked by `net_policy::check_source_url`, or a
/// YouTube one by `youtube::video_id`), if the account may start another job.
pub async fn create_from_link<T: HttpTransport>(
    db: &HranaClient<T>,
    session: &Session,
    source: IngestSourceInput,
    callback_url: Option<&str>,
    defaults: &QuotaDefaults,
) -> Result<Job, AccessError> {
    let now_ms = session.now_ms();
    let owner = session.owner();
    let input = serde_json::to_value(IngestInput { source }).expect("input serialises");
    let spec = NewJob::new(JobType::Ingest, input);
    let need = Need { jobs: 1, ..Need::default() };
    let [insert, created] = transitions::create(
        &spec,
        JobInput::Value(&spec.input),
        vec![("account_id", OWNER_ID, vec![]), ("callback_url", "?", vec![Value::from(callback_url)])],
        &format!("WHERE {}", quotas::admits(&need, defaults, now_ms)),
        vec![],
        now_ms,
    );
    let rows =
        access::run(db, session, vec![quotas::usage_stmt(&owner, defaults, now_ms), owner.scope(insert), created])
            .await?;
    if let Some(job) = store::job_from_rows(&rows[1])? {
        return Ok(job);
    }
    Err(quotas::refused(&rows[0], now_ms, 1, 0, 0.0))
}
