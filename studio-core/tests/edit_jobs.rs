//! Edit jobs and what lets go of blobs, against a real turso-local: a create only for the caller's assets
//! (nothing on refusal), a cached preview born complete or found by the job (its events, its row kept
//! longer), deletion
//! refused while an unfinished edit names the asset, retired blobs kept while a render reads them or a
//! recent preview hands them out, and unused assets expiring unless something names them.

use serde_json::json;
use studio_core::accounts::quotas::QuotaDefaults;
use studio_core::edit::recipe::{self, Recipe};
use studio_core::edit::store as edits;
use studio_core::edit::{self as edit_job, CreateEdit};
use studio_core::hrana::{Stmt, Value};
use studio_core::jobs::{self, JobStatus, JobType, NewJob};
use studio_core::library::{self, retention, retired};
use studio_core::limits::PREVIEW_TTL_MS;
use test_support::db::{fresh, TestDb};

async fn asset(t: &TestDb, id: &str, last_used_at: i64) {
    let ingest = jobs::create(&t.db, &NewJob::new(JobType::Ingest, json!({})).for_account(&t.creator.account_id), 1)
        .await
        .unwrap();
    t.db.execute(Stmt::new(
        "INSERT INTO assets (id, job_id, source_type, original_filename, original_key, peaks_key, content_type, \
         size_bytes, duration_sec, sample_rate, channels, codec, format, created_at, last_used_at, account_id) \
         VALUES (?, ?, 'upload', 'a.wav', ?, ?, 'audio/wav', 10, 4.0, 48000, 2, 'pcm_s16le', 'wav', 1, ?, ?)",
        vec![
            Value::from(id),
            Value::from(ingest.id),
            Value::from(format!("accounts/{}/assets/{id}/original.wav", t.creator.account_id)),
            Value::from(format!("accounts/{}/assets/{id}/peaks.json", t.creator.account_id)),
            Value::from(last_used_at),
            Value::from(t.creator.account_id.as_str()),
        ],
    ))
    .await
    .unwrap();
}

fn recipe(target: &str, source: &str) -> Recipe {
    recipe::parse(&json!({"version": 1, "assetId": target, "clips": [
        {"id": "c", "sourceAssetId": source, "startTime": 0, "endTime": 2}]}))
    .unwrap()
}

async fn count(t: &TestDb, sql: &str) -> i64 {
    t.db.execute(Stmt::new(sql, vec![])).await.unwrap().first().unwrap().int("n").unwrap()
}

async fn create(t: &TestDb, job_type: JobType, r: &Recipe, id: &str, now: i64) -> CreateEdit {
    edit_job::create(&t.db, &t.creator.at(now), job_type, r, id, None, &QuotaDefaults::default()).await.unwrap()
}

#[tokio::test]
async fn edits_are_created_only_for_the_callers_assets_and_previews_are_cached() {
    let t = fresh().await;
    asset(&t, "ast_a", 1).await;
    let before = count(&t, "SELECT count(*) AS n FROM jobs").await;
    assert_eq!(
        create(&t, JobType::EditSave, &recipe("ast_a", "ast_x"), "job_e1", 10).await,
        CreateEdit::MissingAssets(vec!["ast_x".into()])
    );
    assert_eq!(count(&t, "SELECT count(*) AS n FROM jobs").await, before, "nothing created");

    let CreateEdit::Created(job) = create(&t, JobType::EditPreview, &recipe("ast_a", "ast_a"), "job_p1", 10).await
    else {
        panic!()
    };
    assert_eq!((job.id.as_str(), job.status), ("job_p1", JobStatus::Pending));
    let used = "SELECT last_used_at AS n FROM assets WHERE id = 'ast_a'";
    assert_eq!(count(&t, used).await, 10, "an edit uses its assets");

    // A stored preview of the same recipe: the next request is born complete, pointing at it.
    let hash = recipe("ast_a", "ast_a").hash();
    t.db.execute(Stmt::new(
        "INSERT INTO previews (account_id, recipe_hash, key, duration_sec, size_bytes, created_at) \
         VALUES (?, ?, 'accounts/x/previews/k.mp3', 2.0, 32000, 10)",
        vec![Value::from(t.creator.account_id.as_str()), Value::from(hash.as_str())],
    ))
    .await
    .unwrap();
    let CreateEdit::Created(cached) = create(&t, JobType::EditPreview, &recipe("ast_a", "ast_a"), "job_p2", 50).await
    else {
        panic!()
    };
    assert_eq!((cached.status, cached.output_key.as_deref()), (JobStatus::Complete, Some("accounts/x/previews/k.mp3")));
    assert_eq!(cached.result.as_ref().unwrap()["cached"], true);
    let events = jobs::events(&t.db, &t.creator.at(60), "job_p2").await.unwrap().unwrap();
    assert_eq!(events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["created", "completed"]);
    assert_eq!(count(&t, "SELECT created_at AS n FROM previews").await, 50, "asked for again: kept longer");

    // The first request's job, claimed now, finds the preview stored meanwhile: completing with it keeps
    // the preview longer too.
    let claimed = jobs::claim(&t.db, &[JobType::EditPreview], "w", "token", 60_000, 70).await.unwrap().unwrap();
    assert_eq!(claimed.id, "job_p1");
    let refresh = edits::preview_reused(&claimed, &hash, 80);
    claimed
        .complete(&t.db, &json!({"cached": true}), Some("accounts/x/previews/k.mp3"), vec![refresh], 80)
        .await
        .unwrap();
    assert_eq!(count(&t, "SELECT created_at AS n FROM previews").await, 80, "reused by a job: kept longer");
}

#[tokio::test]
async fn deletion_waits_for_running_edits_and_retired_blobs_for_their_readers() {
    let t = fresh().await;
    asset(&t, "ast_a", 1).await;
    asset(&t, "ast_b", 1).await;
    create(&t, JobType::EditSave, &recipe("ast_a", "ast_b"), "job_s1", 10).await;
    let session = t.creator.at(20);
    assert_eq!(
        library::delete(&t.db, &session, "ast_b", false).await.unwrap(),
        library::Deletion::Referenced { by: vec!["job_s1".into()] }
    );
    let library::Deletion::Deleted { free_keys } =
        library::delete(&t.db, &t.creator.at(21), "ast_b", true).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(free_keys.len(), 2, "original and peaks, nothing reads them: {free_keys:?}");
    assert_eq!(count(&t, "SELECT count(*) AS n FROM retired_blobs").await, 2);

    // A blob a recent preview job hands out stays until that job is older than the preview lifetime.
    let now = 10 * PREVIEW_TTL_MS;
    t.db.execute(Stmt::new(
        "UPDATE jobs SET type = 'edit_preview', status = 'complete', output_key = ?, finished_at = ? WHERE id = 'job_s1'",
        vec![Value::from(free_keys[0].as_str()), Value::from(now - 1000)],
    ))
    .await
    .unwrap();
    let free = retired::free(&t.db, now, 10).await.unwrap();
    assert_eq!(free, vec![free_keys[1].clone()], "the preview's download is kept");
    assert_eq!(retired::free(&t.db, now + PREVIEW_TTL_MS, 10).await.unwrap().len(), 2);
    retired::forget(&t.db, &free_keys).await.unwrap();
    assert_eq!(count(&t, "SELECT count(*) AS n FROM retired_blobs").await, 0);
}

#[tokio::test]
async fn unused_assets_expire_unless_something_names_them() {
    let t = fresh().await;
    let day = 86_400_000;
    let now = 100 * day;
    for id in ["ast_old", "ast_named", "ast_fresh"] {
        asset(&t, id, if id == "ast_fresh" { now - day } else { now - 40 * day }).await;
    }
    // An unfinished edit names `ast_named` (a source) and `ast_fresh` (its target, used yesterday).
    create(&t, JobType::EditPreview, &recipe("ast_fresh", "ast_named"), "job_p", now - 41 * day).await;
    for (id, at) in [("ast_named", now - 40 * day), ("ast_fresh", now - day)] {
        t.db.execute(Stmt::new(
            "UPDATE assets SET last_used_at = ? WHERE id = ?",
            vec![Value::from(at), Value::from(id)],
        ))
        .await
        .unwrap();
    }
    let gone = retention::expire_unused_assets(&t.db, now, 30 * day, 50).await.unwrap();
    assert_eq!(gone, vec!["ast_old".to_owned()]);
    assert_eq!(count(&t, "SELECT count(*) AS n FROM retired_blobs WHERE key LIKE '%/ast_old/%'").await, 2);
    assert_eq!(count(&t, "SELECT count(*) AS n FROM assets").await, 2);
    // Once the edit is over, nothing names `ast_named` any more.
    t.db.execute(Stmt::new("UPDATE jobs SET status = 'complete' WHERE id = 'job_p'", vec![])).await.unwrap();
    assert_eq!(retention::expire_unused_assets(&t.db, now, 30 * day, 50).await.unwrap(), vec!["ast_named".to_owned()]);
}
