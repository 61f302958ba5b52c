//! Renders through a worker that hands the render service a closed webhook URL and plans every video
//! as a multipart upload (as it does for long renders), on this binary's own stack (turso-local,
//! `wrangler dev`, that worker, the render emulator): webhooks never arrive, and the reconciler
//! completes the render from the service's `/status`, within 60 s of the render finishing, while the
//! video goes up in parts; a cancelled render's open multipart upload is aborted.

use std::time::{Duration, Instant};

use e2e::ingest_a_track;
use e2e::render::{download_and_probe, start_draft, wait_submitted};
use reqwest::StatusCode;
use serde_json::{json, Value};
use test_support::api::Api;
use test_support::stack::{Options, Shared, MODAL_AUTH_TOKEN};

fn options() -> Options {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let hooks = format!("http://127.0.0.1:{closed}/api/webhooks/render");
    let worker_env = [("RENDER_WEBHOOK_URL", hooks.as_str()), ("RENDER_MULTIPART_ABOVE_BYTES", "0")];
    Options { worker_env: worker_env.map(|(k, v)| (k.to_owned(), v.to_owned())).to_vec(), ..Options::with_render() }
}

static STACK: Shared = Shared::new(options);

async fn creator(name: &str) -> Api<'static> {
    STACK.get().new_creator(name).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_webhooks_are_made_up_for_by_the_reconciler() {
    let api = &creator("lost_webhooks_are_made_up_for_by_the_reconciler").await;
    let asset_id = &ingest_a_track(api, 12.0).await;
    let job_id = start_draft(api, asset_id, "flat-1080p-portrait", 2.0, 0.05).await;
    let call = wait_submitted(api, &job_id).await;
    // When does the render service consider the render done?
    let deadline = Instant::now() + Duration::from_secs(240);
    let render = api.stack.render.clone().unwrap();
    let finished_at = loop {
        let status: Value = api
            .http
            .get(format!("{render}/status"))
            .query(&[("callId", &call)])
            .bearer_auth(MODAL_AUTH_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if status["status"] == "complete" {
            break Instant::now();
        }
        assert_ne!(status["status"], "failed", "{status}");
        assert!(Instant::now() < deadline, "the render never finished: {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let job = api.wait_terminal_within(&job_id, Duration::from_secs(60)).await;
    assert_eq!(job["status"], "complete", "{job}\n{}", api.stack.logs());
    let took = finished_at.elapsed();
    eprintln!("reconciler completed the render {took:?} after the service finished it");
    assert!(took < Duration::from_secs(60), "completed {took:?} after the render finished");
    let video = &job["result"]["video"];
    assert_eq!((video["width"].as_i64(), video["height"].as_i64()), (Some(54), Some(96)), "{job}");
    let receipts = format!("SELECT count(*) AS n FROM webhook_receipts WHERE job_id = '{job_id}'");
    assert_eq!(api.count(&receipts).await, 0, "no webhook reached the edge: the reconciler did it");
    // The video went up in parts through the edge's multipart URLs, and downloads whole.
    let multipart = api.stack.multipart_uploads();
    let key = studio_core::keys::render_video(Some(&api.account.id), &job_id);
    assert!(multipart.contains(&format!("{key} 1")), "completed in parts: {multipart:?}");
    let info = download_and_probe(api, &job).await;
    assert!((info["format"]["duration"].as_str().unwrap().parse::<f64>().unwrap() - 2.0).abs() < 0.1, "{info}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_multipart_upload_is_aborted() {
    let api = &creator("a_cancelled_multipart_upload_is_aborted").await;
    let asset_id = &ingest_a_track(api, 12.0).await;
    let job_id = start_draft(api, asset_id, "flat-1080p-square", 12.0, 0.1).await;
    wait_submitted(api, &job_id).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let key = studio_core::keys::render_video(Some(&api.account.id), &job_id);
    assert!(api.stack.multipart_uploads().contains(&format!("{key} 0")), "an upload is open");
    let (status, _) = api.post(&format!("/api/jobs/{job_id}/cancel"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    while !api.stack.multipart_uploads().contains(&format!("{key} 2")) {
        assert!(
            Instant::now() < deadline,
            "the upload was never aborted: {:?}\n{}",
            api.stack.multipart_uploads(),
            api.stack.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!api.blob_exists(&key).await);
}
