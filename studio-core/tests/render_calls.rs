//! Render jobs against a real turso-local: creation from an asset (one statement, nothing on error,
//! the audio chosen then), the hand-over surviving a racing heartbeat, and the reconciler's settlements —
//! each guarded by the hand-over, so a webhook and the reconciler racing never apply twice.

use serde_json::json;
use studio_core::accounts::quotas::QuotaDefaults;
use studio_core::hrana::{Stmt, Value};
use studio_core::jobs::{self, JobStatus, JobType, NewJob, Ownership};
use studio_core::keys;
use studio_core::render::calls::{self as render_calls, settlement_for, HandedOver, Settlement};
use studio_core::render::events::{apply, Applied, RenderEvent};
use studio_core::render::job::{create_from_asset, output_owner, CreateFromAsset, RenderInput};
use studio_core::render::parse_request;
use test_support::db::{fresh, TestDb};
use test_support::random_hex;

async fn asset(t: &TestDb, id: &str, prepared: Option<&str>) {
    let ingest = jobs::create(&t.db, &NewJob::new(JobType::Ingest, json!({})).for_account(&t.creator.account_id), 1)
        .await
        .unwrap();
    t.db.execute(Stmt::new(
        "INSERT INTO assets (id, job_id, source_type, original_filename, original_key, peaks_key, content_type, \
         size_bytes, duration_sec, sample_rate, channels, codec, format, created_at, prepared_key, \
         prepared_duration_sec, account_id) \
         VALUES (?, ?, 'upload', 'a.wav', ?, 'p', 'audio/wav', 10, 2.0, 48000, 2, 'pcm_s16le', 'wav', 1, ?, ?, ?)",
        vec![
            Value::from(id),
            Value::from(ingest.id),
            Value::from(format!("assets/{id}/original.wav")),
            Value::from(prepared),
            Value::from(prepared.map(|_| 3.0)),
            Value::from(t.creator.account_id.as_str()),
        ],
    ))
    .await
    .unwrap();
}

async fn count(t: &TestDb, table: &str) -> i64 {
    let rows = t.db.execute(Stmt::new(format!("SELECT count(*) AS n FROM {table}"), vec![])).await.unwrap();
    rows.first().unwrap().int("n").unwrap()
}

async fn render_job(t: &TestDb, variant: Option<&str>) -> String {
    let mut body = json!({"audio": {"assetId": "ast_a"}, "format": "flat-1080p-square", "preview": {"seconds": 2}});
    if let Some(v) = variant {
        body["audio"]["variant"] = json!(v);
    }
    match create_from_asset(
        &t.db,
        &t.creator.at(1_000),
        &parse_request(&body).unwrap(),
        None,
        &QuotaDefaults::default(),
    )
    .await
    .unwrap()
    {
        CreateFromAsset::Created(job) => job.id,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_render_is_created_only_for_an_existing_asset_with_its_audio_frozen() {
    let t = fresh().await;
    let missing = parse_request(&json!({"audio": {"assetId": "ast_nope"}, "format": "360-mono-4k"})).unwrap();
    assert_eq!(
        create_from_asset(&t.db, &t.creator.at(1_000), &missing, None, &QuotaDefaults::default()).await.unwrap(),
        CreateFromAsset::AssetNotFound
    );
    assert_eq!((count(&t, "jobs").await, count(&t, "job_events").await), (0, 0), "nothing created");

    asset(&t, "ast_a", Some("assets/ast_a/prepared.wav")).await;
    // The prepared audio unless the original is asked for; the variant used and its duration are frozen.
    for (variant, key, used, duration) in [
        (None, "assets/ast_a/prepared.wav", "prepared", 3.0),
        (Some("original"), "assets/ast_a/original.wav", "original", 2.0),
        (Some("prepared"), "assets/ast_a/prepared.wav", "prepared", 3.0),
    ] {
        let id = render_job(&t, variant).await;
        let job = jobs::get(&t.db, &t.creator.at(0), &id).await.unwrap().unwrap();
        let input: RenderInput = serde_json::from_value(job.input).unwrap();
        assert_eq!((job.job_type, input.audio.key.as_str()), (JobType::Render, key), "{variant:?}");
        assert_eq!(serde_json::to_value(input.audio.variant).unwrap(), json!(used));
        assert_eq!(input.audio.duration_sec, Some(duration));
        assert_eq!(input.settings.format, "flat-1080p-square");
        assert_eq!(input.settings.preview.unwrap().seconds, Some(2.0));
    }
    // Without a prepared audio, the default renders the original and asking for it creates nothing.
    asset(&t, "ast_b", None).await;
    let body = json!({"audio": {"assetId": "ast_b"}, "format": "360-mono-4k"});
    let CreateFromAsset::Created(job) =
        create_from_asset(&t.db, &t.creator.at(1), &parse_request(&body).unwrap(), None, &QuotaDefaults::default())
            .await
            .unwrap()
    else {
        panic!()
    };
    assert_eq!(job.input["audio"]["key"], "assets/ast_b/original.wav");
    let jobs_before = count(&t, "jobs").await;
    let body = json!({"audio": {"assetId": "ast_b", "variant": "prepared"}, "format": "360-mono-4k"});
    assert_eq!(
        create_from_asset(&t.db, &t.creator.at(1), &parse_request(&body).unwrap(), None, &QuotaDefaults::default())
            .await
            .unwrap(),
        CreateFromAsset::NoPreparedAudio
    );
    assert_eq!(count(&t, "jobs").await, jobs_before);
}

async fn handed_over(t: &TestDb, call: &str) -> HandedOver {
    let id = render_job(t, None).await;
    let job = jobs::claim(&t.db, &[JobType::Render], "w", &random_hex(16), 8_000, 2_000).await.unwrap().unwrap();
    assert_eq!(job.id, id);
    assert_eq!(job.progress(&t.db, "submitting", 0.0, 2_050).await.unwrap(), Ownership::Held);
    assert_eq!(
        job.hand_over(&t.db, call, "tok", &keys::render_video(Some(&t.creator.account_id), &job.id), 2_100)
            .await
            .unwrap(),
        Ownership::Held
    );
    // The worker's own claim is over: a late heartbeat or release finds the job lost and changes nothing.
    assert_eq!(job.heartbeat(&t.db, 8_000, 2_200).await.unwrap(), Ownership::Lost);
    assert_eq!(job.release(&t.db, 2_300).await.unwrap(), Ownership::Lost);
    HandedOver { job_id: id, call_id: call.into(), attempt: job.attempt, max_attempts: job.max_attempts }
}

#[tokio::test]
async fn a_handed_over_render_keeps_its_lease_to_the_deadline_and_its_call_is_stopped_once_it_ends() {
    let t = fresh().await;
    asset(&t, "ast_a", None).await;
    let render = handed_over(&t, "call_1").await;
    let reap = jobs::reaper::reap(&t.db, 2_100 + 60 * 60 * 1000, 0.5).await.unwrap();
    assert_eq!(reap.requeued + reap.lease_failed + reap.timed_out, 0, "the render's lease runs to its deadline");
    assert_eq!(output_owner(&t.db, &render.job_id).await.unwrap(), Some((JobStatus::Processing, 1)), "the first claim");
    assert_eq!(output_owner(&t.db, "job_nope").await.unwrap(), None);
    jobs::cancel(&t.db, &t.creator.at(3_000), &render.job_id).await.unwrap();
    assert_eq!(output_owner(&t.db, &render.job_id).await.unwrap(), Some((JobStatus::Cancelled, 1)));
    assert!(
        render_calls::open_calls(&t.db, 3_000 + render_calls::STOP_WINDOW_MS, 10).await.unwrap().is_empty(),
        "given up after a day"
    );
    let open = render_calls::open_calls(&t.db, 3_100, 10).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!((open[0].job_id.as_str(), open[0].call_id.as_str()), (render.job_id.as_str(), "call_1"));
    render_calls::call_stopped(&t.db, &open[0], 3_100).await.unwrap();
    assert!(render_calls::open_calls(&t.db, 3_200, 10).await.unwrap().is_empty(), "each call is stopped once");
}

#[tokio::test]
async fn the_reconciler_settles_quiet_renders_from_the_service_status() {
    let t = fresh().await;
    asset(&t, "ast_a", None).await;
    let render = handed_over(&t, "call_1").await;
    assert!(render_calls::quiet(&t.db, 2_150, 1_000, 10).await.unwrap().is_empty(), "heard from recently");
    let quiet = render_calls::quiet(&t.db, 8_000, 1_000, 10).await.unwrap();
    assert_eq!(quiet, vec![render.clone()]);

    let waiting = settlement_for("pending", None, None, 0.0).unwrap();
    assert!(render_calls::settle(&t.db, &render, &waiting, 0.5, 9_000).await.unwrap());
    let job = jobs::get(&t.db, &t.creator.at(0), &render.job_id).await.unwrap().unwrap();
    assert_eq!((job.stage.as_deref(), job.rendering_since), (Some("submitting"), None), "queued on the service");
    let running = settlement_for("running", None, None, 0.5).unwrap();
    assert!(render_calls::settle(&t.db, &render, &running, 0.5, 10_000).await.unwrap());
    let job = jobs::get(&t.db, &t.creator.at(0), &render.job_id).await.unwrap().unwrap();
    assert_eq!((job.stage.as_deref(), job.progress), (Some("rendering"), 50.0));
    assert!(render_calls::quiet(&t.db, 10_500, 1_000, 10).await.unwrap().is_empty(), "progress counts as heard");

    // Another call's status, or one for a job that moved on, changes nothing.
    let stranger = HandedOver { call_id: "call_other".into(), ..render.clone() };
    let video =
        json!({"key": "renders/x/video.mp4", "sizeBytes": 99, "width": 64, "height": 64, "projection": "perspective"});
    let complete = settlement_for("complete", Some(&video), None, 1.0).unwrap();
    assert!(!render_calls::settle(&t.db, &stranger, &complete, 0.5, 11_000).await.unwrap());
    assert!(render_calls::settle(&t.db, &render, &complete, 0.5, 11_000).await.unwrap());
    let job = jobs::get(&t.db, &t.creator.at(0), &render.job_id).await.unwrap().unwrap();
    assert_eq!((job.status, job.progress, job.stage.as_deref()), (JobStatus::Complete, 100.0, Some("complete")));
    let own = keys::render_video(Some(&t.creator.account_id), &render.job_id);
    assert_eq!(job.output_key, Some(own), "the job's own key, recorded at hand-over");
    assert_eq!(
        job.result.as_ref().unwrap()["video"],
        json!({"sizeBytes": 99, "width": 64, "height": 64, "projection": "perspective"})
    );
    assert_eq!(count(&t, "attempt_blobs").await, 0);
    // The completion webhook that arrives afterwards is ignored.
    let late = RenderEvent {
        kind: "render.completed".into(),
        job_id: render.job_id.clone(),
        call_id: Some("call_1".into()),
        token: "tok".into(),
        data: video,
    };
    assert_eq!(apply(&t.db, "w1", "n1", &late, 12_000).await.unwrap(), Applied::Ignored);
    assert!(!render_calls::settle(&t.db, &render, &running, 0.5, 12_500).await.unwrap(), "terminal is final");
}

#[tokio::test]
async fn a_lost_or_crashed_call_is_resubmitted_while_attempts_remain_and_a_failed_one_fails() {
    let t = fresh().await;
    asset(&t, "ast_a", None).await;
    let lost = handed_over(&t, "call_lost").await;
    let resubmit = settlement_for(
        "failed",
        None,
        Some(&json!({"code": "render_crashed", "message": "PUT https://edge/blobs/renders/x?exp=1&sig=abc failed"})),
        0.0,
    )
    .unwrap();
    assert!(matches!(resubmit, Settlement::Resubmit { .. }));
    assert!(render_calls::settle(&t.db, &lost, &resubmit, 0.5, 10_000).await.unwrap());
    let job = jobs::get(&t.db, &t.creator.at(0), &lost.job_id).await.unwrap().unwrap();
    assert_eq!((job.status, job.error_code.as_deref()), (JobStatus::Pending, Some("render_crashed")));
    let events = serde_json::to_string(&jobs::events(&t.db, &t.creator.at(0), &lost.job_id).await.unwrap()).unwrap();
    for secret in ["sig=", "exp=", "abc"] {
        assert!(!job.error_message.as_deref().unwrap().contains(secret) && !events.contains(secret), "{events}");
    }
    let token =
        t.db.execute(Stmt::new(
            "SELECT webhook_token, call_id FROM jobs WHERE id = ?",
            vec![Value::from(lost.job_id.as_str())],
        ))
        .await
        .unwrap();
    let row = token.first().unwrap();
    assert_eq!(
        (row.opt_text("webhook_token").unwrap(), row.opt_text("call_id").unwrap()),
        (None, None),
        "the old call's token is dead"
    );

    let last = HandedOver { attempt: 10, max_attempts: 10, ..handed_over(&t, "call_last").await };
    let crashed =
        settlement_for("failed", None, Some(&json!({"code": "render_crashed", "message": "died"})), 0.3).unwrap();
    assert!(render_calls::settle(&t.db, &last, &crashed, 0.5, 10_000).await.unwrap());
    assert_eq!(
        jobs::get(&t.db, &t.creator.at(0), &last.job_id).await.unwrap().unwrap().status,
        JobStatus::Failed,
        "no attempts left"
    );

    let bad = handed_over(&t, "call_bad").await;
    let failed =
        settlement_for("failed", None, Some(&json!({"code": "audio_unreadable", "message": "no audio"})), 0.0).unwrap();
    assert!(render_calls::settle(&t.db, &bad, &failed, 0.5, 10_000).await.unwrap());
    let job = jobs::get(&t.db, &t.creator.at(0), &bad.job_id).await.unwrap().unwrap();
    assert_eq!((job.status, job.error_code.as_deref()), (JobStatus::Failed, Some("audio_unreadable")));
}

#[tokio::test]
async fn a_released_claim_gives_its_attempt_back_but_never_its_claim_number() {
    let t = fresh().await;
    asset(&t, "ast_a", None).await;
    let id = render_job(&t, None).await;
    let first = jobs::claim(&t.db, &[JobType::Render], "w", &random_hex(16), 8_000, 2_000).await.unwrap().unwrap();
    assert_eq!(first.release(&t.db, 2_100).await.unwrap(), Ownership::Held);
    let second = jobs::claim(&t.db, &[JobType::Render], "w", &random_hex(16), 8_000, 2_200).await.unwrap().unwrap();
    assert_eq!((second.id.as_str(), second.attempt), (id.as_str(), first.attempt), "the attempt was given back");
    assert_eq!((first.claim_seq, second.claim_seq), (1, 2), "video URLs of the first claim stay dead");

    // A call started for a job that ended before the hand-over is noted for the watcher to stop, once.
    jobs::cancel(&t.db, &t.creator.at(2_300), &id).await.unwrap();
    assert_eq!(second.hand_over(&t.db, "call_late", "tok", "renders/video.mp4", 2_400).await.unwrap(), Ownership::Lost);
    assert!(render_calls::record_stray_call(&t.db, &id, "call_late").await.unwrap());
    assert!(!render_calls::record_stray_call(&t.db, &id, "call_other").await.unwrap(), "one call per job");
    let open = render_calls::open_calls(&t.db, 2_500, 10).await.unwrap();
    assert_eq!((open.len(), open[0].call_id.as_str()), (1, "call_late"));
}

#[tokio::test]
async fn a_render_handed_over_before_keys_were_recorded_completes_with_its_bare_key() {
    let t = fresh().await;
    asset(&t, "ast_a", None).await;
    let render = handed_over(&t, "call_old").await;
    // As a hand-over of an earlier release left it: no key on the job.
    let sql = Stmt::new("UPDATE jobs SET output_key = NULL WHERE id = ?", vec![Value::from(render.job_id.as_str())]);
    t.db.execute(sql).await.unwrap();
    let video = json!({"sizeBytes": 9, "width": 8, "height": 8, "projection": "perspective"});
    let complete = settlement_for("complete", Some(&video), None, 1.0).unwrap();
    assert!(render_calls::settle(&t.db, &render, &complete, 0.5, 11_000).await.unwrap());
    let job = jobs::get(&t.db, &t.creator.at(0), &render.job_id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Complete);
    assert_eq!(job.output_key, Some(keys::render_video(None, &render.job_id)));
}
