//! A render job's webhooks against a real turso-local: each applies once, only with the job's token,
//! only while the job runs; progress never goes backwards; late callbacks change nothing.

use serde_json::json;
use studio_core::jobs::{self, JobStatus, JobType, NewJob, Ownership};
use studio_core::keys;
use studio_core::render::events::{apply, Applied, RenderEvent};
use test_support::db::fresh;
use test_support::random_hex;

fn event(kind: &str, job_id: &str, token: &str, data: serde_json::Value) -> RenderEvent {
    RenderEvent { kind: kind.into(), job_id: job_id.into(), call_id: Some("call_1".into()), token: token.into(), data }
}

#[tokio::test]
async fn webhooks_move_a_handed_over_render_once_and_only_with_its_token() {
    let t = fresh().await;
    let created =
        jobs::create(&t.db, &NewJob::new(JobType::Render, json!({})).for_account(&t.creator.account_id), 1_000)
            .await
            .unwrap();
    // Before the hand-over there is no token: nothing applies.
    let early = event("render.progress", &created.id, "", json!({"progress": 0.5}));
    assert_eq!(apply(&t.db, "w0", "n0", &early, 1_500).await.unwrap(), Applied::Ignored);

    let job = jobs::claim(&t.db, &[JobType::Render], "w", &random_hex(16), 10_000, 2_000).await.unwrap().unwrap();
    assert_eq!(
        job.hand_over(&t.db, "call_1", "tok", &keys::render_video(Some(&t.creator.account_id), &job.id), 2_100)
            .await
            .unwrap(),
        Ownership::Held
    );
    let progress = |p: f64, stage: &str, done: i64| {
        event(
            "render.progress",
            &job.id,
            "tok",
            json!({"progress": p, "stage": stage, "framesDone": done, "framesTotal": 300}),
        )
    };

    // The service's `starting` is not a stage of ours; the ETA's clock starts with frames being drawn.
    assert_eq!(apply(&t.db, "w0s", "n0s", &progress(0.0, "starting", 0), 2_500).await.unwrap(), Applied::Applied);
    assert_eq!(jobs::get(&t.db, &t.creator.at(0), &job.id).await.unwrap().unwrap().rendering_since, None);
    assert_eq!(apply(&t.db, "w1", "n1", &progress(0.4, "rendering", 120), 3_000).await.unwrap(), Applied::Applied);
    assert_eq!(jobs::get(&t.db, &t.creator.at(0), &job.id).await.unwrap().unwrap().rendering_since, Some(3_000));
    assert_eq!(apply(&t.db, "w1", "n2", &progress(0.9, "uploading", 300), 3_100).await.unwrap(), Applied::Duplicate);
    let forged = event("render.progress", &job.id, "guess", json!({"progress": 0.99, "stage": "uploading"}));
    assert_eq!(apply(&t.db, "w2", "n3", &forged, 3_200).await.unwrap(), Applied::Ignored);
    // An older report arriving late moves nothing backwards.
    apply(&t.db, "w3", "n4", &progress(0.2, "queued", 60), 3_300).await.unwrap();
    let now = jobs::get(&t.db, &t.creator.at(0), &job.id).await.unwrap().unwrap();
    assert_eq!((now.stage.as_deref(), now.progress), (Some("rendering"), 40.0));
    apply(&t.db, "w4", "n5", &progress(0.95, "encoding", 300), 3_400).await.unwrap();

    let done = event(
        "render.completed",
        &job.id,
        "tok",
        json!({"key": format!("renders/{}/video.mp4", job.id), "sizeBytes": 1234, "width": 64, "height": 36}),
    );
    assert_eq!(apply(&t.db, "w5", "n6", &done, 4_000).await.unwrap(), Applied::Applied);
    let late = event("render.failed", &job.id, "tok", json!({"code": "render_crashed", "message": "late"}));
    assert_eq!(apply(&t.db, "w6", "n7", &late, 5_000).await.unwrap(), Applied::Ignored);
    assert_eq!(apply(&t.db, "w5", "n8", &done, 5_100).await.unwrap(), Applied::Duplicate);

    let finished = jobs::get(&t.db, &t.creator.at(0), &job.id).await.unwrap().unwrap();
    assert_eq!(finished.status, JobStatus::Complete);
    assert_eq!(finished.result.as_ref().unwrap()["video"]["sizeBytes"], 1234);
    let own = keys::render_video(Some(&t.creator.account_id), &job.id);
    assert_eq!(finished.output_key, Some(own), "the key recorded at hand-over, whatever the data says");
    let kinds: Vec<String> =
        jobs::events(&t.db, &t.creator.at(0), &job.id).await.unwrap().unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, ["created", "claimed", "submitted", "stage", "stage", "stage", "completed"]);

    // Receipts are remembered long past the sender's retries, then forgotten.
    use studio_core::render::events::{prune_receipts, RECEIPT_TTL_MS};
    assert_eq!(prune_receipts(&t.db, 1_500 + RECEIPT_TTL_MS).await.unwrap(), 0, "none is older yet");
    assert_eq!(prune_receipts(&t.db, 5_001 + RECEIPT_TTL_MS).await.unwrap(), 8, "eight distinct webhook ids");
}

#[tokio::test]
async fn a_failed_render_fails_the_job_with_its_code_and_a_cancelled_one_ignores_it() {
    let t = fresh().await;
    for (i, cancel_first) in [false, true].into_iter().enumerate() {
        let created =
            jobs::create(&t.db, &NewJob::new(JobType::Render, json!({})).for_account(&t.creator.account_id), 1_000)
                .await
                .unwrap();
        let job = jobs::claim(&t.db, &[JobType::Render], "w", &random_hex(16), 10_000, 2_000).await.unwrap().unwrap();
        assert_eq!(job.id, created.id);
        job.hand_over(&t.db, "call", "tok", "renders/video.mp4", 2_100).await.unwrap();
        if cancel_first {
            jobs::cancel(&t.db, &t.creator.at(2_200), &job.id).await.unwrap();
        }
        let failed = event("render.failed", &job.id, "tok", json!({"code": "audio_unreadable", "message": "no audio"}));
        let outcome = apply(&t.db, &format!("f{i}"), "n", &failed, 3_000).await.unwrap();
        let after = jobs::get(&t.db, &t.creator.at(0), &job.id).await.unwrap().unwrap();
        if cancel_first {
            assert_eq!((outcome, after.status), (Applied::Ignored, JobStatus::Cancelled));
        } else {
            assert_eq!((outcome, after.status), (Applied::Applied, JobStatus::Failed));
            assert_eq!(after.error_code.as_deref(), Some("audio_unreadable"));
        }
    }
}
