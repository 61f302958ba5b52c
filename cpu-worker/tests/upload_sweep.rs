//! Upload bytes against a real turso-local: each PUT's own key, the race between a late PUT and an
//! ingest, and which uploads the sweeper may clear (with every key their PUTs may have written).

mod support;

use studio_core::api::CreateUploadRequest;
use studio_core::db::uploads::{self, Purgeable, PutFinish, PutSlot};
use studio_core::ingest::{create_from_upload, CreateFromUpload};
use studio_core::jobs;
use studio_core::keys;
use studio_core::limits::UNUSED_UPLOAD_TTL_MS;
use support::db::fresh;

const NOW: i64 = 10 * UNUSED_UPLOAD_TTL_MS;

async fn upload(db: &cpu_worker::transport::Db, at: i64, received: bool) -> String {
    let req = CreateUploadRequest { filename: "a.wav".into(), content_type: "audio/wav".into(), size: 10 };
    let u = uploads::create(db, &req, at).await.unwrap();
    if received {
        let PutSlot::Open { seq, .. } = uploads::begin_put(db, &u.id, at).await.unwrap() else { panic!("not open") };
        assert_eq!(uploads::finish_put(db, &u.id, seq, 10, at).await.unwrap(), PutFinish::Received { replaced: None });
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
        Purgeable { upload_id: stale_unsent.clone(), consumed: false, keys: vec![keys::upload_source(&stale_unsent)] },
        Purgeable {
            upload_id: stale_unused.clone(),
            consumed: false,
            keys: vec![keys::upload_put(&stale_unused, 1), keys::upload_source(&stale_unused)],
        },
        Purgeable {
            upload_id: cancelled.clone(),
            consumed: true,
            keys: vec![keys::upload_put(&cancelled, 1), keys::upload_source(&cancelled)],
        },
    ];
    expected.sort_by(|a, b| a.upload_id.cmp(&b.upload_id));
    assert_eq!(found, expected);

    // An unused upload is withdrawn before its bytes go: PUTs and ingests see it as gone, and it stays
    // listed until its row is removed (so a failed deletion is retried). A consumed row stays, marked.
    assert!(uploads::withdraw(&t.db, &stale_unused, NOW).await.unwrap());
    assert!(!uploads::withdraw(&t.db, &cancelled, NOW).await.unwrap(), "a consumed upload is never withdrawn");
    assert!(matches!(create_from_upload(&t.db, &stale_unused, NOW).await.unwrap(), CreateFromUpload::UploadNotFound));
    assert_eq!(uploads::begin_put(&t.db, &stale_unused, NOW).await.unwrap(), PutSlot::NotFound);
    uploads::mark_purged(&t.db, &cancelled, NOW).await.unwrap();
    let mut left: Vec<String> =
        uploads::purgeable(&t.db, NOW, 100).await.unwrap().into_iter().map(|p| p.upload_id).collect();
    left.sort();
    let mut expected = vec![stale_unsent.clone(), stale_unused.clone()];
    expected.sort();
    assert_eq!(left, expected, "a withdrawn upload is listed until its bytes are gone");
    uploads::remove_withdrawn(&t.db, &stale_unused).await.unwrap();
    let left: Vec<String> =
        uploads::purgeable(&t.db, NOW, 100).await.unwrap().into_iter().map(|p| p.upload_id).collect();
    assert_eq!(left, vec![stale_unsent]);
}

#[tokio::test]
async fn a_put_that_loses_the_race_to_an_ingest_touches_only_its_own_key() {
    let t = fresh().await;
    let id = upload(&t.db, NOW, false).await;
    let open = |slot| match slot {
        PutSlot::Open { seq, key } => (seq, key),
        other => panic!("{other:?}"),
    };
    // Two PUTs start; the second finishes last and replaces the first's bytes.
    let (first, first_key) = open(uploads::begin_put(&t.db, &id, NOW).await.unwrap());
    let (second, second_key) = open(uploads::begin_put(&t.db, &id, NOW).await.unwrap());
    assert_ne!(first_key, second_key);
    assert_eq!(uploads::finish_put(&t.db, &id, first, 10, NOW).await.unwrap(), PutFinish::Received { replaced: None });
    assert_eq!(
        uploads::finish_put(&t.db, &id, second, 10, NOW).await.unwrap(),
        PutFinish::Received { replaced: Some(first_key) }
    );
    // A third PUT starts, the upload is ingested, then the third finishes: refused, and the job reads
    // the second PUT's key.
    let (third, _) = open(uploads::begin_put(&t.db, &id, NOW).await.unwrap());
    let job_id = ingest(&t.db, &id, NOW).await;
    assert_eq!(uploads::finish_put(&t.db, &id, third, 10, NOW).await.unwrap(), PutFinish::Refused);
    let job = jobs::get(&t.db, &job_id).await.unwrap().unwrap();
    assert_eq!(job.input["source"]["sourceKey"], second_key.as_str());
    assert_eq!(uploads::begin_put(&t.db, &id, NOW).await.unwrap(), PutSlot::Consumed);
    assert_eq!(uploads::begin_put(&t.db, "upl_missing", NOW).await.unwrap(), PutSlot::NotFound);

    // Once the job is over, the sweeper deletes every key a PUT of this upload may have written.
    jobs::cancel(&t.db, &job_id, NOW).await.unwrap();
    let found = uploads::purgeable(&t.db, NOW, 100).await.unwrap();
    let mine = found.iter().find(|p| p.upload_id == id).unwrap();
    let mut expected: Vec<String> = (1..=3).map(|n| keys::upload_put(&id, n)).collect();
    expected.push(keys::upload_source(&id));
    assert_eq!(mine.keys, expected);
}
