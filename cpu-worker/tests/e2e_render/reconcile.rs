//! Webhooks that never arrive (the worker hands the render service a closed webhook URL): the
//! reconciler completes the render from the service's `/status`, within 60 s of the render finishing.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::renders::{download_and_probe, start_draft, wait_submitted};
use crate::support::api::Api;
use crate::support::stack::MODAL_AUTH_TOKEN;

pub async fn lost_webhooks_are_made_up_for_by_the_reconciler(api: &Api<'_>, asset_id: &str) {
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
    let key = studio_core::keys::render_video(Some(&api.stack.account_id), &job_id);
    assert!(multipart.contains(&format!("{key} 1")), "completed in parts: {multipart:?}");
    let info = download_and_probe(api, &job).await;
    assert!((info["format"]["duration"].as_str().unwrap().parse::<f64>().unwrap() - 2.0).abs() < 0.1, "{info}");
}
