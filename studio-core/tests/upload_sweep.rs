//! Upload bytes against a real turso-local: each PUT's own key, the race between a late PUT and an
//! ingest, and which uploads the sweeper may clear (with every key their PUTs may have written).

use studio_core::accounts::quotas::QuotaDefaults;
use studio_core::api::CreateUploadRequest;
use studio_core::ingest::{create_from_upload, CreateFromUpload};
use studio_core::jobs;
use studio_core::keys;
use studio_core::limits::UNUSED_UPLOAD_TTL_MS;
use studio_core::uploads::{self, Purgeable, PutFinish, PutSlot};
use test_support::db::{fresh, Creator, Db};

const NOW: i64 = 10 * UNUSED_UPLOAD_TTL_MS;

async fn upload(db: &Db, c: &Creator, at: i64, received: bool) -> String {
    let req =
        CreateUploadRequest { filename: "a.wav".into(), content_type: "audio/wav".into(), size: 10, multipart: false };
    let u = uploads::create(db, &c.at(at), &req, &QuotaDefaults::default()).await.unwrap();
    if received {
        let PutSlot::Open { seq, .. } = uploads::begin_put(db, c.owner(), &u.id, at).await.unwrap() else {
            panic!("not open")
        };
        let finished = uploads::finish_put(db, c.owner(), &u.id, seq, 10, at).await.unwrap();
        assert_eq!(finished, PutFinish::Received { replaced: None });
    }
    u.id
}

async fn ingest(db: &Db, c: &Creator, upload_id: &str, at: i64) -> String {
    match create_from_upload(db, &c.at(at), upload_id, None, &QuotaDefaults::default()).await.unwrap() {
        CreateFromUpload::Created(job) => job.id,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn only_stale_unused_uploads_and_finished_jobs_sources_are_purgeable() {
    let t = fresh().await;
    let c = Creator::new(&t.db, "a").await;
    let old = NOW - UNUSED_UPLOAD_TTL_MS - 1;
    let stale_unsent = upload(&t.db, &c, old, false).await;
    let stale_unused = upload(&t.db, &c, old, true).await;
    let _fresh_unused = upload(&t.db, &c, NOW - 1_000, true).await;
    let running = upload(&t.db, &c, NOW - 1_000, true).await;
    ingest(&t.db, &c, &running, NOW - 900).await;
    let cancelled = upload(&t.db, &c, NOW - 1_000, true).await;
    let cancelled_job = ingest(&t.db, &c, &cancelled, NOW - 900).await;
    jobs::cancel(&t.db, &c.at(NOW - 800), &cancelled_job).await.unwrap();

    let mut found = uploads::purgeable(&t.db, NOW, 100).await.unwrap();
    found.sort_by(|a, b| a.upload_id.cmp(&b.upload_id));
    let mut expected = vec![
        Purgeable {
            upload_id: stale_unsent.clone(),
            consumed: false,
            keys: vec![keys::upload_source(c.owner(), &stale_unsent)],
            multipart: None,
        },
        Purgeable {
            upload_id: stale_unused.clone(),
            consumed: false,
            keys: vec![keys::upload_put(c.owner(), &stale_unused, 1), keys::upload_source(c.owner(), &stale_unused)],
            multipart: None,
        },
        Purgeable {
            upload_id: cancelled.clone(),
            consumed: true,
            keys: vec![keys::upload_put(c.owner(), &cancelled, 1), keys::upload_source(c.owner(), &cancelled)],
            multipart: None,
        },
    ];
    expected.sort_by(|a, b| a.upload_id.cmp(&b.upload_id));
    assert_eq!(found, expected);

    // An unused upload is withdrawn before its bytes go: PUTs and ingests see it as gone, and it stays
    // listed until its row is removed (so a failed deletion is retried). A consumed row stays, marked.
    assert!(uploads::withdraw(&t.db, &stale_unused, NOW).await.unwrap());
    assert!(!uploads::withdraw(&t.db, &cancelled, NOW).await.unwrap(), "a consumed upload is never withdrawn");
    assert!(matches!(
        create_from_upload(&t.db, &c.at(NOW), &stale_unused, None, &QuotaDefaults::default()).await.unwrap(),
        CreateFromUpload::UploadNotFound
    ));
    assert_eq!(uploads::begin_put(&t.db, c.owner(), &stale_unused, NOW).await.unwrap(), PutSlot::NotFound);
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
    let c = Creator::new(&t.db, "a").await;
    let id = upload(&t.db, &c, NOW, false).await;
    let open = |slot| match slot {
        PutSlot::Open { seq, key } => (seq, key),
        other => panic!("{other:?}"),
    };
    // Two PUTs start; the second finishes last and replaces the first's bytes.
    let (first, first_key) = open(uploads::begin_put(&t.db, c.owner(), &id, NOW).await.unwrap());
    let (second, second_key) = open(uploads::begin_put(&t.db, c.owner(), &id, NOW).await.unwrap());
    assert_ne!(first_key, second_key);
    assert_eq!(
        uploads::finish_put(&t.db, c.owner(), &id, first, 10, NOW).await.unwrap(),
        PutFinish::Received { replaced: None }
    );
    assert_eq!(
        uploads::finish_put(&t.db, c.owner(), &id, second, 10, NOW).await.unwrap(),
        PutFinish::Received { replaced: Some(first_key) }
    );
    // A third PUT starts, the upload is ingested, then the third finishes: refused, and the job reads
    // the second PUT's key.
    let (third, _) = open(uploads::begin_put(&t.db, c.owner(), &id, NOW).await.unwrap());
    let job_id = ingest(&t.db, &c, &id, NOW).await;
    assert_eq!(uploads::finish_put(&t.db, c.owner(), &id, third, 10, NOW).await.unwrap(), PutFinish::Refused);
    let job = jobs::get(&t.db, &c.at(NOW), &job_id).await.unwrap().unwrap();
    assert_eq!(job.input["source"]["sourceKey"], second_key.as_str());
    assert_eq!(uploads::begin_put(&t.db, c.owner(), &id, NOW).await.unwrap(), PutSlot::Consumed);
    assert_eq!(uploads::begin_put(&t.db, c.owner(), "upl_missing", NOW).await.unwrap(), PutSlot::NotFound);

    // Once the job is over, the sweeper deletes every key a PUT of this upload may have written.
    jobs::cancel(&t.db, &c.at(NOW), &job_id).await.unwrap();
    let found = uploads::purgeable(&t.db, NOW, 100).await.unwrap();
    let mine = found.iter().find(|p| p.upload_id == id).unwrap();
    let mut expected: Vec<String> = (1..=3).map(|n| keys::upload_put(c.owner(), &id, n)).collect();
    expected.push(keys::upload_source(c.owner(), &id));
    assert_eq!(mine.keys, expected);
}

#[tokio::test]
async fn a_resumable_upload_records_parts_only_while_open_and_is_aborted_when_abandoned() {
    use studio_core::uploads::parts as upload_parts;
    let t = fresh().await;
    let c = Creator::new(&t.db, "a").await;
    let old = NOW - UNUSED_UPLOAD_TTL_MS - 1;
    let req = CreateUploadRequest {
        filename: "big.wav".into(),
        content_type: "audio/wav".into(),
        size: 20 << 20,
        multipart: true,
    };
    let upload = uploads::create(&t.db, &c.at(old), &req, &QuotaDefaults::default()).await.unwrap();
    let (part_size, parts) = upload_parts::plan(req.size);
    upload_parts::start(&t.db, &upload.id, "mpu-1", part_size, parts).await.unwrap();
    assert!(upload_parts::record(&t.db, &upload.id, 2, "etag-2", part_size, old).await.unwrap());
    let state = upload_parts::get(&t.db, c.owner(), &upload.id).await.unwrap().unwrap();
    assert_eq!((state.part_count, state.missing()), (3, vec![1, 3]));
    assert!(upload_parts::get(&t.db, Some("acc_other"), &upload.id).await.unwrap().is_none(), "bound to its account");

    // Abandoned: the sweeper gets the multipart upload to abort, and the key it would have become.
    let found = uploads::purgeable(&t.db, NOW, 100).await.unwrap();
    let mine = found.iter().find(|p| p.upload_id == upload.id).unwrap();
    let key = keys::upload_multipart(c.owner(), &upload.id);
    assert_eq!(mine.multipart, Some((key.clone(), "mpu-1".to_owned())));
    assert!(mine.keys.contains(&key));
    // Once withdrawn it takes no more parts.
    assert!(uploads::withdraw(&t.db, &upload.id, NOW).await.unwrap());
    assert!(!upload_parts::record(&t.db, &upload.id, 1, "etag-1", part_size, NOW).await.unwrap());
    let state = upload_parts::get(&t.db, c.owner(), &upload.id).await.unwrap().unwrap();
    assert!(!state.open);
    assert!(!upload_parts::finish(&t.db, &state, 20 << 20, NOW).await.unwrap(), "a withdrawn upload is not completed");
}
