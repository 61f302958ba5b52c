//! The creator's page in a real headless Chromium (Debian's `chromium`, driven by `puppeteer-core` from
//! npm) at 390×844, against the whole local stack with the render service's emulator: the script
//! `edge-api/tests/browser/studio.mjs` signs in, uploads, trims, previews, saves, renders a flat and a
//! 360 draft, downloads them, cancels a render, resumes an upload whose connection dropped, and finds
//! no console errors. Screenshots of every step go
//! to `.artifacts/browser/` (git-ignored).

use std::process::Command;

use test_support::media::wav_of;
use test_support::repo_root;
use test_support::stack::Stack;

/// A stereo track of `seconds` with a beat (a 220 Hz tone pulsing twice a second), as a 16-bit WAV.
fn track(seconds: f64) -> Vec<u8> {
    wav_of(seconds, 44_100, 2, |t| {
        let beat = (1.0 - (t * 2.0).fract()).powi(3);
        (t * 220.0 * std::f64::consts::TAU).sin() * (0.15 + 0.6 * beat) * 32_767.0
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_studio_page_works_on_a_phone_in_a_real_browser() {
    let stack = Stack::start_with_render().await;
    let dir = tempfile::tempdir().unwrap();
    let track_path = dir.path().join("beat.wav");
    std::fs::write(&track_path, track(4.0)).unwrap();
    // Over 8 MiB: the page sends it as a resumable upload in parts.
    let big_path = dir.path().join("long.wav");
    std::fs::write(&big_path, track(55.0)).unwrap();
    let root = repo_root();
    let screenshots = root.join(".artifacts/browser");
    let _ = std::fs::remove_dir_all(&screenshots);
    let output = Command::new("node")
        .arg(root.join("edge-api/tests/browser/studio.mjs"))
        .current_dir(&root)
        .env("EDGE_URL", &stack.edge)
        .env("API_KEY", &stack.account.api_key)
        .env("TRACK_PATH", &track_path)
        .env("BIG_TRACK_PATH", &big_path)
        .env("SCREENSHOT_DIR", &screenshots)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "browser test failed:\n{stdout}\n{stderr}\n{}", stack.logs());
    println!("{stdout}");
    let shots = std::fs::read_dir(&screenshots).unwrap().count();
    assert!(shots >= 16, "a screenshot per step ({shots})");
}
