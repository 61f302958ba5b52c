//! `POST /api/webhooks/render` on the real edge: a render job (created and handed over in the database,
//! as the worker will) is moved only by correctly signed, fresh, first-seen webhooks carrying its token.

use reqwest::StatusCode;
use serde_json::{json, Value};
use studio_core::jobs::{self, JobType, NewJob};

use crate::{creator, RENDER_QUEUE};
use test_support::api::{events_text, Api};
use test_support::now_ms;
use test_support::stack::WEBHOOK_SECRET;

struct Hook<'a> {
    id: &'a str,
    timestamp: i64,
    body: Value,
    secret: &'a str,
    tamper: bool,
}

async fn send(api: &Api<'_>, hook: Hook<'_>) -> (StatusCode, Value) {
    let body = hook.body.to_string();
    let sent = if hook.tamper { body.replace("0.4", "0.9") } else { body.clone() };
    api.webhook(hook.id, hook.secret, hook.timestamp, body.as_bytes(), sent).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn render_webhooks_are_verified_deduplicated_and_fenced() {
    let api = &creator("render_webhooks_are_verified_deduplicated_and_fenced").await;
    let db = api.stack.db();
    let now = now_ms();
    let spec = NewJob::new(JobType::Render, json!({})).for_account(&api.account.id);
    let job = {
        let _no_other_render_pending = RENDER_QUEUE.lock().await;
        let created = jobs::create(&db, &spec, now).await.unwrap();
        let job = jobs::claim(&db, &[JobType::Render], "e2e", "claim-e2e", 60_000, now).await.unwrap().unwrap();
        assert_eq!(job.id, created.id);
        job
    };
    let video = studio_core::keys::render_video(Some(&api.account.id), &job.id);
    job.hand_over(&db, "call_e2e", "job-token", &video, now).await.unwrap();
    let secs = now / 1000;
    let progress = json!({"type": "render.progress", "jobId": job.id, "callId": "call_e2e", "token": "job-token",
        "data": {"progress": 0.4, "stage": "rendering", "framesDone": 24, "framesTotal": 60}});
    let hook = |id, timestamp, body: &Value, secret| Hook { id, timestamp, body: body.clone(), secret, tamper: false };
    let other_secret = "whsec_b3RoZXItc2VjcmV0LWtleQ==";

    // Refused before anything is read: forged, stale, future, tampered, unsigned.
    let refused = [
        hook("msg_forged", secs, &progress, other_secret),
        hook("msg_stale", secs - 400, &progress, WEBHOOK_SECRET),
        hook("msg_future", secs + 400, &progress, WEBHOOK_SECRET),
        Hook { tamper: true, ..hook("msg_tampered", secs, &progress, WEBHOOK_SECRET) },
    ];
    for h in refused {
        let id = h.id.to_owned();
        let (status, body) = send(api, h).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")), "{id}");
    }
    let unsigned = api.http.post(api.url("/api/webhooks/render")).json(&progress).send().await.unwrap();
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    let (_, view) = api.get(&format!("/api/jobs/{}", job.id)).await;
    assert_eq!((view["progress"].as_f64(), view["framesDone"].as_i64()), (Some(0.0), None), "nothing moved: {view}");

    // Verified: applied once; a replay and a wrong token change nothing.
    assert_eq!(send(api, hook("msg_1", secs, &progress, WEBHOOK_SECRET)).await.1["outcome"], "applied");
    assert_eq!(send(api, hook("msg_1", secs, &progress, WEBHOOK_SECRET)).await.1["outcome"], "duplicate");
    let mut wrong_token = progress.clone();
    wrong_token["token"] = json!("stolen");
    wrong_token["data"]["progress"] = json!(0.99);
    assert_eq!(send(api, hook("msg_2", secs, &wrong_token, WEBHOOK_SECRET)).await.1["outcome"], "ignored");
    let (_, view) = api.get(&format!("/api/jobs/{}", job.id)).await;
    assert_eq!((view["stage"].as_str(), view["progress"].as_f64()), (Some("rendering"), Some(40.0)), "{view}");
    assert_eq!((view["framesDone"].as_i64(), view["framesTotal"].as_i64()), (Some(24), Some(60)));
    assert!(view["etaSec"].is_i64(), "an ETA once rendering has started: {view}");

    let key = video.clone();
    let completed = json!({"type": "render.completed", "jobId": job.id, "callId": "call_e2e", "token": "job-token",
        "data": {"key": key, "sizeBytes": 1000, "width": 64, "height": 36, "fps": 30, "durationSec": 2.0,
                 "videoCodec": "h264", "audioCodec": "aac", "renderSeconds": 1.5, "device": "cpu", "encoder": "libx264"}});
    assert_eq!(send(api, hook("msg_3", secs, &completed, WEBHOOK_SECRET)).await.1["outcome"], "applied");
    let failed = json!({"type": "render.failed", "jobId": job.id, "token": "job-token",
        "data": {"code": "render_crashed", "message": "late"}});
    assert_eq!(send(api, hook("msg_4", secs, &failed, WEBHOOK_SECRET)).await.1["outcome"], "ignored");
    let (_, view) = api.get(&format!("/api/jobs/{}", job.id)).await;
    assert_eq!(view["status"], "complete", "{view}");
    assert_eq!(view["result"]["video"]["encoder"], "libx264");
    assert!(view["downloadUrl"].as_str().unwrap().contains(&format!("/blobs/{key}?")));
    let events = events_text(api, &job.id).await;
    assert!(events.contains("submitted") && events.contains("completed") && !events.contains("job-token"), "{events}");
}
