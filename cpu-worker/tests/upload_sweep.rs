//! Which uploads the sweeper may clear, against a real turso-local.

mod support;

use studio_core::api::CreateUploadRequest;
use studio_core::db::uploads::{self, Purgeable};
use studio_core::ingest::{create_from_upload, CreateFromUpload};
use studio_core::jobs;
use studio_core::limits::UNUSED_UPLOAD_TTL_MS;
use support::db::fresh;

const NOW: i64 = 10 * UNUSED_UPLOAD_TTL_MS;

async fn upload(db: &cpu_worker::transport::Db, at: i64, received: bool) -> String {
    let req = CreateUploadRequest { filename: "a.wav".into(), content_type: "audio/wav".into(), size: 10 };
    let u = uploads::create(db, &req, at).await.unwrap();
    if received {
        assert!(uploads::mark_received(db, &u.id, 10, at).await.unwrap());
    }
    u.id
}

async fn ingest(db: &cpu_worker::transport::Db, upload_id: &str, at: i64) -> String {
    match create_from_upload(db, upload_id, at).await.unwrap() {
        CreateFromUpload::Created(job) => job.id,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn only_stale_unused_uploads_and_finished_jobs_sources_are_purgeable() {
    let t = fresh().await;
    let old = NOW - UNUSED_UPLOAD_TTL_MS - 1;
    let stale_unsent = upload(&t.db, old, false).await;
    let stale_unused = upload(&t.db, old, true).await;
    let _fresh_unused = upload(&t.db, NOW - 1_000, true).await;
    let running = upload(&t.db, NOW - 1_000, true).await;
    ingest(&t.db, &running, NOW - 900).await;
    let cancelled = upload(&t.db, NOW - 1_000, true).await;
    let cancelled_job = ingest(&t.db, &cancelled, NOW - 900).await;
    jobs::cancel(&t.db, &cancelled_job, NOW - 800).await.unwrap();

    let mut found = uploads::purgeable(&t.db, NOW, 100).await.unwrap();
    found.sort_by(|a, b| a.upload_id.cmp(&b.upload_id));
    let mut expected = vec![
        Purgeable { upload_id: stale_unsent.clone(), consumed: false },
        Purgeable { upload_id: stale_unused.clone(), consumed: false },
        Purgeable { upload_id: cancelled.clone(), consumed: true },
    ];
    expected.sort_by(|a, b| a.upload_id.cmp(&b.upload_id));
    assert_eq!(found, expected);

    // Unused rows go before their bytes; a consumed row stays, marked.
    assert!(uploads::remove_unused(&t.db, &stale_unused).await.unwrap());
    assert!(!uploads::remove_unused(&t.db, &cancelled).await.unwrap(), "a consumed upload is never removed");
    uploads::mark_purged(&t.db, &cancelled, NOW).await.unwrap();
    let left: Vec<String> =
        uploads::purgeable(&t.db, NOW, 100).await.unwrap().into_iter().map(|p| p.upload_id).collect();
    assert_eq!(left, vec![stale_unsent]);
    assert!(matches!(create_from_upload(&t.db, &stale_unused, NOW).await.unwrap(), CreateFromUpload::UploadNotFound));
}
