//! The worker's render-service client against the real local emulator (`python -m modal_app.service.local`):
//! auth, a refusal naming its field, and submit → status → cancel with bodies built from checked render
//! settings: a render whose audio is unreachable fails with the contract's code, and a running render
//! (its audio served by the test) is cancelled.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cpu_worker::render_service::{OutputUpload, RenderService, RenderServiceError, Submission};
use studio_core::redact::Secret;
use studio_core::render::{parse_request, RenderSettings};
use test_support::media::wav;
use test_support::repo_root;

const TOKEN: &str = "render-e2e-token";

struct Emulator {
    child: Child,
    url: String,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = self.child.wait();
    }
}

async fn emulator() -> Emulator {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let python = repo_root().join(".venv/bin/python");
    assert!(python.exists(), "the Python venv is missing: run `make setup` first (make test does)");
    let child = std::os::unix::process::CommandExt::process_group(
        Command::new(python)
            .current_dir(repo_root())
            .args(["-m", "modal_app.service.local", "--port", &port.to_string()])
            .env("MODAL_AUTH_TOKEN", TOKEN)
            .env("WEBHOOK_SECRET", "whsec_cmVuZGVyLWUyZS13ZWJob29rLWtleQ==")
            .env("WEBHOOK_RETRY_DELAYS", "0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        0,
    )
    .spawn()
    .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while reqwest::get(format!("{url}/health")).await.map(|r| !r.status().is_success()).unwrap_or(true) {
        assert!(Instant::now() < deadline, "the emulator did not start");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Emulator { child, url }
}

fn settings(body: serde_json::Value) -> RenderSettings {
    let mut body = body;
    body["audio"] = serde_json::json!({"assetId": "ast_1"});
    parse_request(&body).unwrap().settings
}

fn submission<'a>(
    job_id: &'a str,
    settings: &'a RenderSettings,
    closed: &'a str,
    upload: &'a OutputUpload,
) -> Submission<'a> {
    Submission {
        job_id,
        attempt: 1,
        audio_url: closed,
        output_key: "renders/job_rs/video.mp4",
        upload,
        webhook_url: closed,
        webhook_token: "tok",
        settings,
    }
}

/// Serves `bytes` to every GET on a free port (the render's audio source); returns its URL.
async fn serve_once(bytes: Vec<u8>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/audio.wav", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let bytes = bytes.clone();
            tokio::spawn(async move {
                let mut head = [0u8; 4096];
                let _ = conn.read(&mut head).await;
                let header = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: audio/wav\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    bytes.len()
                );
                let _ = conn.write_all(header.as_bytes()).await;
                let _ = conn.write_all(&bytes).await;
            });
        }
    });
    url
}

async fn wait_for(service: &RenderService, call_id: &str, wanted: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = service.status(call_id).await.unwrap();
        if status.status == wanted {
            return serde_json::to_value(status.error).unwrap();
        }
        assert!(Instant::now() < deadline, "{call_id} never became {wanted}: {status:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn the_client_speaks_the_render_services_contract() {
    let emulator = emulator().await;
    let closed = format!(
        "http://127.0.0.1:{}/nothing",
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    );
    let service = RenderService::new(&emulator.url, Secret::new(TOKEN));
    let put = OutputUpload::Put { url: closed.clone() };
    let draft = settings(serde_json::json!({
        "format": "360-mono-4k", "fps": 60, "seed": 7, "quality": "fast",
        "visual": {"mode": "mist", "skyboxPreset": "purple", "dynamics": {"audioBeatPulseAmount": 0.3}},
        "preview": {"seconds": 1, "scale": 0.05}
    }));

    let intruder = RenderService::new(&emulator.url, Secret::new("wrong"));
    let refused = intruder.submit(&submission("job_rs", &draft, &closed, &put)).await.unwrap_err();
    assert!(matches!(refused, RenderServiceError::Unauthorized), "{refused:?}");

    // What the edge would never let through, the service names by field.
    let mut bogus = draft.clone();
    bogus.visual.mode = "smoke".into();
    match service.submit(&submission("job_rs", &bogus, &closed, &put)).await.unwrap_err() {
        RenderServiceError::Invalid { field, .. } => assert_eq!(field, "visual.mode"),
        other => panic!("{other:?}"),
    }

    // Accepted as built from checked settings; the audio is unreachable, so the render fails with the
    // contract's code — seen through /status.
    let call = service.submit(&submission("job_rs", &draft, &closed, &put)).await.unwrap();
    let error = wait_for(&service, &call, "failed").await;
    assert_eq!(error["code"], "audio_unavailable", "{error}");

    // Cancel: a running render becomes cancelled; cancelling again changes nothing.
    let audio = serve_once(wav(5.0, 8_000, 1)).await;
    let minimal = settings(serde_json::json!({"format": "flat-1080p-square", "preview": {"scale": 0.05}}));
    let mut running = submission("job_rs2", &minimal, &closed, &put);
    running.audio_url = &audio;
    let call = service.submit(&running).await.unwrap();
    wait_for(&service, &call, "running").await;
    service.cancel(&call).await.unwrap();
    wait_for(&service, &call, "cancelled").await;
    service.cancel(&call).await.unwrap();
    assert_eq!(service.status(&call).await.unwrap().status, "cancelled");
    assert_eq!(service.status("lc-unknown").await.unwrap().status, "unknown");
}
