//! The ingest job: what it takes as input, and its creation from a received upload in one round trip
//! (the upload is consumed by exactly one job).

use serde::{Deserialize, Serialize};

use crate::hrana::{DbError, HranaClient, HttpTransport, Stmt, Value};
use crate::jobs::transitions::{self, JobInput};
use crate::jobs::{store, Job, JobType, NewJob};

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
}

/// What an ingest request found.
#[derive(Debug, Clone, PartialEq)]
pub enum CreateFromUpload {
    Created(Box<Job>),
    UploadNotFound,
    /// The bytes never arrived.
    UploadIncomplete,
    /// Another ingest job already took this upload.
    UploadConsumed,
}

pub async fn create_from_upload<T: HttpTransport>(
    db: &HranaClient<T>,
    upload_id: &str,
    now_ms: i64,
) -> Result<CreateFromUpload, DbError> {
    let spec = NewJob::new(JobType::Ingest, serde_json::Value::Null);
    let id = Value::from(upload_id);
    let input_sql = "json_object('source', json_object('type', 'upload', 'uploadId', id, 'filename', filename, \
                     'contentType', content_type, 'sizeBytes', received_size, 'sourceKey', source_key))";
    let [insert, created] = transitions::create(
        &spec,
        JobInput::Sql(input_sql, vec![]),
        "FROM uploads WHERE id = ? AND changes() = 1",
        vec![id.clone()],
        now_ms,
    );
    let rows = db
        .transaction(vec![
            Stmt::new(
                "UPDATE uploads SET status = 'consumed', updated_at = ? \
                 WHERE id = ? AND status = 'received' AND withdrawn_at IS NULL",
                vec![Value::from(now_ms), id.clone()],
            ),
            insert,
            created,
            Stmt::new("SELECT status FROM uploads WHERE id = ? AND withdrawn_at IS NULL", vec![id]),
        ])
        .await?;
    if let Some(job) = store::job_from_rows(&rows[1])? {
        return Ok(CreateFromUpload::Created(Box::new(job)));
    }
    Ok(match rows[3].first().map(|r| r.text("status")).transpose()?.as_deref() {
        None => CreateFromUpload::UploadNotFound,
        Some("consumed") => CreateFromUpload::UploadConsumed,
        Some(_) => CreateFromUpload::UploadIncomplete,
    })
}
