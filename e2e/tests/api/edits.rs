//! Edit recipes end to end: a two-source recipe (trims, gains, fades, loudness targets) previews as a
//! 128 kbit/s MP3 (the same recipe again is answered from the stored preview) and saves as the asset's
//! prepared audio — measured here with ffprobe and ffmpeg's EBU R128 meter, independently of the
//! worker — which renders then use by default; invalid recipes are refused at the edge (400 naming the
//! field, 404 for assets that are not the caller's) or fail in the worker with `invalid_recipe` naming
//! the clip; unused assets expire.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use studio_core::hrana::{Stmt, Value as SqlValue};

use crate::{creator, RENDER_QUEUE};
use test_support::api::Api;
use test_support::media::wav_of;
use test_support::now_ms;

/// A WAV of a sine at `freq` Hz, peak `amplitude` (of 32767).
fn tone(seconds: f64, rate: u32, channels: u16, freq: f64, amplitude: f64) -> Vec<u8> {
    wav_of(seconds, rate, channels, |t| (t * freq * std::f64::consts::TAU).sin() * amplitude)
}

async fn ingest(api: &Api<'_>, name: &str, bytes: &[u8]) -> String {
    let upload = api.upload(name, "audio/wav", bytes).await;
    let job = api.wait_terminal(&api.ingest(&upload).await).await;
    assert_eq!(job["status"], "complete", "{job}");
    job["result"]["assetId"].as_str().unwrap().to_owned()
}

async fn download(api: &Api<'_>, url: &str, dir: &Path, name: &str) -> std::path::PathBuf {
    let r = api.http.get(url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let path = dir.join(name);
    std::fs::write(&path, r.bytes().await.unwrap()).unwrap();
    path
}

/// ffprobe's first stream and format.
fn probe(path: &Path) -> Value {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-print_format", "json", "-show_streams", "-show_format"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    json!({"stream": v["streams"][0], "format": v["format"]})
}

/// Integrated loudness (LUFS) and true peak (dBTP) by ffmpeg's EBU R128 meter.
fn loudness(path: &Path) -> (f64, f64) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-i"])
        .arg(path)
        .args(["-af", "ebur128=peak=true", "-f", "null", "-"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    let summary = &text[text.rfind("Summary:").expect("ebur128 summary")..];
    let value = |label: &str| -> f64 {
        let at = summary.find(label).unwrap() + label.len();
        summary[at..].split_whitespace().next().unwrap().parse().unwrap()
    };
    (value("I:"), value("Peak:"))
}

/// The RMS (of full scale) of `[from, to)` seconds, mixed to mono.
fn rms(path: &Path, from: f64, to: f64) -> f64 {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-ac", "1", "-f", "s16le", "-acodec", "pcm_s16le", "-ar", "48000", "-"])
        .output()
        .unwrap();
    let samples: Vec<f64> =
        out.stdout.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]]) as f64 / 32768.0).collect();
    let window = &samples[(from * 48_000.0) as usize..((to * 48_000.0) as usize).min(samples.len())];
    (window.iter().map(|s| s * s).sum::<f64>() / window.len() as f64).sqrt()
}

fn recipe(target: &str, a: &str, b: &str) -> Value {
    json!({"version": 1, "assetId": target, "clips": [
        {"id": "intro", "sourceAssetId": a, "startTime": 0.5, "endTime": 3.5, "volume": 0.8, "fadeIn": 0.5},
        {"id": "outro", "sourceAssetId": b, "startTime": 1.0, "endTime": 4.0, "volume": 1.5, "fadeOut": 0.5}
    ], "normalize": {"integratedLufs": -16, "truePeakDb": -1.5, "lra": 11}, "outputFormat": "wav", "outputSampleRate": 48000})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_source_recipe_previews_and_saves() {
    let api = &creator("a_two_source_recipe_previews_and_saves").await;
    let dir = tempfile::tempdir().unwrap();
    let a = ingest(api, "a.wav", &tone(5.0, 44_100, 2, 440.0, 9_000.0)).await;
    let b = ingest(api, "b.wav", &tone(5.0, 48_000, 1, 660.0, 2_500.0)).await;
    let body = json!({ "recipe": recipe(&a, &a, &b) });

    // Preview: a 128 kbit/s MP3 of the joined clips.
    let (status, accepted) = api.post("/api/audio/edit/preview", body.clone()).await;
    assert_eq!(
        (status, accepted["status"].as_str(), accepted.get("cached")),
        (StatusCode::ACCEPTED, Some("pending"), None)
    );
    let preview_id = accepted["jobId"].as_str().unwrap().to_owned();
    let preview = api.wait_terminal(&preview_id).await;
    assert_eq!(
        (preview["status"].as_str(), preview["type"].as_str()),
        (Some("complete"), Some("edit_preview")),
        "{preview}"
    );
    assert_eq!(preview["result"]["cached"], false);
    let mp3 = download(api, preview["downloadUrl"].as_str().unwrap(), dir.path(), "preview.mp3").await;
    let probed = probe(&mp3);
    assert_eq!(probed["stream"]["codec_name"], "mp3", "{probed}");
    let bitrate: f64 = probed["stream"]["bit_rate"].as_str().unwrap().parse().unwrap();
    assert!((bitrate - 128_000.0).abs() < 2_000.0, "{bitrate}");
    let secs: f64 = probed["format"]["duration"].as_str().unwrap().parse().unwrap();
    assert!((secs - 6.0).abs() < 0.1, "{secs}");

    // The original's route to the preview's audio and the canonical download redirect alike.
    let no_redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for path in [format!("/api/audio/edit/preview/{preview_id}/audio"), format!("/api/jobs/{preview_id}/download")] {
        let r = no_redirect.get(api.url(&path)).bearer_auth(&api.account.api_key).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FOUND, "{path}");
        let again = download(api, r.headers()["location"].to_str().unwrap(), dir.path(), "again.mp3").await;
        assert_eq!(std::fs::read(&again).unwrap(), std::fs::read(&mp3).unwrap(), "{path}");
    }

    // The same recipe again (defaults spelled out) is answered from the stored preview at once.
    let mut same = body.clone();
    same["recipe"]["clips"][0]["fadeOut"] = json!(0);
    let (status, cached) = api.post("/api/audio/edit/preview", same).await;
    assert_eq!(
        (status, cached["status"].as_str(), cached["cached"].as_bool()),
        (StatusCode::ACCEPTED, Some("complete"), Some(true))
    );
    let (_, cached_job) = api.get(&format!("/api/jobs/{}", cached["jobId"].as_str().unwrap())).await;
    assert_eq!(cached_job["result"]["cached"], true);
    let cached_mp3 = download(api, cached_job["downloadUrl"].as_str().unwrap(), dir.path(), "cached.mp3").await;
    assert_eq!(std::fs::read(cached_mp3).unwrap(), std::fs::read(&mp3).unwrap());
    let previews = format!("SELECT count(*) AS n FROM previews WHERE account_id = '{}'", api.account.id);
    assert_eq!(api.count(&previews).await, 1);

    // Save: WAV at 48 kHz, two-pass levelled to −16 LUFS under −1.5 dBTP, fades audible.
    let (status, accepted) = api.post("/api/audio/edit/save", body.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let saved = api.wait_terminal(accepted["jobId"].as_str().unwrap()).await;
    assert_eq!(saved["status"], "complete", "{saved}");
    let (_, asset) = api.get(&format!("/api/assets/{a}")).await;
    assert_eq!(asset["variants"], json!(["original", "prepared"]), "{asset}");
    assert_eq!(asset["lastRecipe"]["clips"][1]["sourceAssetId"], b.as_str());
    let prepared = &asset["prepared"];
    let wav = download(api, prepared["downloadUrl"].as_str().unwrap(), dir.path(), "prepared.wav").await;
    let probed = probe(&wav);
    assert_eq!(
        (probed["stream"]["codec_name"].as_str(), probed["stream"]["sample_rate"].as_str()),
        (Some("pcm_s16le"), Some("48000")),
        "{probed}"
    );
    let secs: f64 = probed["format"]["duration"].as_str().unwrap().parse().unwrap();
    assert!((secs - 6.0).abs() <= 0.02, "duration {secs} is the clips' 6 s");
    let (integrated, true_peak) = loudness(&wav);
    eprintln!("saved edit: {secs:.3} s, {integrated} LUFS, {true_peak} dBTP (target −16 LUFS, ceiling −1.5 dBTP)");
    assert!((integrated + 16.0).abs() <= 1.0, "integrated {integrated} LUFS, target −16");
    assert!(true_peak <= -1.5, "true peak {true_peak} dBTP, ceiling −1.5");
    let reported = prepared["loudness"]["integratedLufs"].as_f64().unwrap();
    assert!(
        (reported - integrated).abs() < 0.5,
        "the worker reports what the file measures: {reported} vs {integrated}"
    );
    let (start, middle, end) = (rms(&wav, 0.0, 0.05), rms(&wav, 1.5, 2.5), rms(&wav, 5.95, 6.0));
    assert!(start < middle * 0.2 && end < middle * 0.2, "fades: start {start}, middle {middle}, end {end}");
    let peaks = prepared["peaks"].as_array().unwrap();
    assert!(peaks.len() > 100 && peaks.len() != asset["peaks"].as_array().unwrap().len(), "new peaks: {}", peaks.len());

    // A render uses the prepared audio unless told otherwise; asking for one that does not exist is 409.
    let pending_renders = RENDER_QUEUE.lock().await;
    for (audio, variant) in
        [(json!({"assetId": a}), "prepared"), (json!({"assetId": a, "variant": "original"}), "original")]
    {
        let (status, job) = api.post("/api/render", json!({"audio": audio, "format": "flat-1080p-landscape"})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{job}");
        let id = job["jobId"].as_str().unwrap();
        let input: Value = serde_json::from_str(&api.job_column(id, "input").await.unwrap()).unwrap();
        assert_eq!(input["audio"]["variant"], variant, "{input}");
        assert!(
            (input["audio"]["durationSec"].as_f64().unwrap() - if variant == "prepared" { 6.0 } else { 5.0 }).abs()
                < 0.05
        );
        assert_eq!(api.post(&format!("/api/jobs/{id}/cancel"), json!({})).await.0, StatusCode::OK);
    }
    drop(pending_renders);
    let (status, refused) = api
        .post("/api/render", json!({"audio": {"assetId": b, "variant": "prepared"}, "format": "flat-1080p-landscape"}))
        .await;
    assert_eq!((status, refused["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("variant_unavailable")));

    // Saving again (AAC at 22.05 kHz) replaces the prepared audio; the old blobs go.
    let old_keys: Vec<String> =
        api.stack.stored_keys().into_iter().filter(|k| k.contains(&format!("/assets/{a}/prepared-"))).collect();
    assert_eq!(old_keys.len(), 2, "{old_keys:?}");
    let mut aac = body.clone();
    aac["recipe"]["outputFormat"] = json!("aac");
    aac["recipe"]["outputSampleRate"] = json!(22050);
    let (_, accepted) = api.post("/api/audio/edit/save", aac).await;
    let saved = api.wait_terminal(accepted["jobId"].as_str().unwrap()).await;
    assert_eq!(saved["status"], "complete", "{saved}");
    let m4a = download(api, saved["downloadUrl"].as_str().unwrap(), dir.path(), "prepared.m4a").await;
    let probed = probe(&m4a);
    assert_eq!(
        (probed["stream"]["codec_name"].as_str(), probed["stream"]["sample_rate"].as_str()),
        (Some("aac"), Some("22050"))
    );
    api.wait_gone(&old_keys, Duration::from_secs(15)).await;
    // Forgotten once deleted (the sweeper forgets right after its deletions).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let retired = format!("SELECT count(*) AS n FROM retired_blobs WHERE key LIKE 'accounts/{}/%'", api.account.id);
    while api.count(&retired).await > 0 {
        assert!(std::time::Instant::now() < deadline, "retired blobs were never forgotten");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_recipes_are_refused_or_fail_naming_the_clip() {
    let api = &creator("invalid_recipes_are_refused_or_fail_naming_the_clip").await;
    let a = ingest(api, "short.wav", &tone(2.0, 44_100, 1, 440.0, 8_000.0)).await;
    let good = || json!({"version": 1, "assetId": a, "clips": [{"id": "c1", "sourceAssetId": a, "startTime": 0, "endTime": 1}]});
    let jobs = format!("SELECT count(*) AS n FROM jobs WHERE account_id = '{}'", api.account.id);
    let before = api.count(&jobs).await;
    type Breaks = Box<dyn Fn(&mut Value)>;
    let refused: Vec<(&str, StatusCode, &str, Breaks)> = vec![
        ("version", StatusCode::BAD_REQUEST, "invalid_request", Box::new(|r| r["version"] = json!(2))),
        ("clips", StatusCode::BAD_REQUEST, "invalid_request", Box::new(|r| r["clips"] = json!([]))),
        (
            "clips[0].endTime",
            StatusCode::BAD_REQUEST,
            "invalid_request",
            Box::new(|r| r["clips"][0]["endTime"] = json!(0)),
        ),
        (
            "clips[0].endTime",
            StatusCode::BAD_REQUEST,
            "invalid_request",
            Box::new(|r| r["clips"][0]["endTime"] = json!(0.05)),
        ),
        (
            "clips[0].volume",
            StatusCode::BAD_REQUEST,
            "invalid_request",
            Box::new(|r| r["clips"][0]["volume"] = json!(3)),
        ),
        (
            "clips[0].fadeIn",
            StatusCode::BAD_REQUEST,
            "invalid_request",
            Box::new(|r| {
                r["clips"][0]["fadeIn"] = json!(0.6);
                r["clips"][0]["fadeOut"] = json!(0.6);
            }),
        ),
        (
            "clips[1].id",
            StatusCode::BAD_REQUEST,
            "invalid_request",
            Box::new(|r| {
                let c = r["clips"][0].clone();
                r["clips"].as_array_mut().unwrap().push(c);
            }),
        ),
        ("clips[0].speed", StatusCode::BAD_REQUEST, "invalid_request", Box::new(|r| r["clips"][0]["speed"] = json!(2))),
        (
            "outputSampleRate",
            StatusCode::BAD_REQUEST,
            "invalid_request",
            Box::new(|r| r["outputSampleRate"] = json!(192000)),
        ),
        ("outputFormat", StatusCode::BAD_REQUEST, "invalid_request", Box::new(|r| r["outputFormat"] = json!("flac"))),
        (
            "normalize.truePeakDb",
            StatusCode::BAD_REQUEST,
            "invalid_request",
            Box::new(|r| r["normalize"] = json!({"truePeakDb": 3})),
        ),
        ("clips", StatusCode::BAD_REQUEST, "invalid_request", Box::new(|r| r["clips"][0]["endTime"] = json!(1801))),
        ("assetId", StatusCode::BAD_REQUEST, "invalid_request", Box::new(|r| r["assetId"] = json!("../etc"))),
        (
            "clips[0].startTime",
            StatusCode::BAD_REQUEST,
            "invalid_request",
            Box::new(|r| r["clips"][0]["startTime"] = json!("0")),
        ),
        (
            "no asset",
            StatusCode::NOT_FOUND,
            "asset_not_found",
            Box::new(|r| r["clips"][0]["sourceAssetId"] = json!("ast_000000000000000000000000")),
        ),
        (
            "no asset",
            StatusCode::NOT_FOUND,
            "asset_not_found",
            Box::new(|r| r["assetId"] = json!("ast_111111111111111111111111")),
        ),
    ];
    assert!(refused.len() >= 15);
    for (field, status, code, break_it) in &refused {
        for route in ["/api/audio/edit/preview", "/api/audio/edit/save"] {
            let mut recipe = good();
            break_it(&mut recipe);
            let (got, body) = api.post(route, json!({ "recipe": recipe })).await;
            assert_eq!((got, body["error"]["code"].as_str()), (*status, Some(*code)), "{route} {field}: {body}");
            assert!(body["error"]["message"].as_str().unwrap().starts_with(field), "{field}: {body}");
        }
    }
    assert_eq!(api.count(&jobs).await, before, "no refused recipe created a job");

    // What only the worker can know (the source's real length) fails the job with the clip named.
    for route in ["/api/audio/edit/preview", "/api/audio/edit/save"] {
        let mut recipe = good();
        recipe["clips"][0]["id"] = json!("too-long");
        recipe["clips"][0]["endTime"] = json!(2.5);
        let (status, accepted) = api.post(route, json!({ "recipe": recipe })).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
        let job = api.wait_terminal(accepted["jobId"].as_str().unwrap()).await;
        assert_eq!(
            (job["status"].as_str(), job["error"]["code"].as_str()),
            (Some("failed"), Some("invalid_recipe")),
            "{job}"
        );
        assert!(job["error"]["message"].as_str().unwrap().contains("clip too-long"), "{job}");
    }
    // The original system's clients post the bare recipe.
    let (status, accepted) = api.post("/api/audio/edit/preview", good()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    assert_eq!(api.wait_terminal(accepted["jobId"].as_str().unwrap()).await["status"], "complete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unused_assets_expire_unless_a_recipe_uses_them() {
    let api = &creator("unused_assets_expire_unless_a_recipe_uses_them").await;
    let old = now_ms() - 31 * 86_400_000;
    let unused = ingest(api, "unused.wav", &tone(0.5, 8_000, 1, 440.0, 8_000.0)).await;
    let source = ingest(api, "source.wav", &tone(0.5, 8_000, 1, 440.0, 8_000.0)).await;
    let user = ingest(api, "user.wav", &tone(0.5, 8_000, 1, 440.0, 8_000.0)).await;
    let recipe = json!({"version": 1, "assetId": user, "clips": [{"id": "a", "sourceAssetId": source, "startTime": 0, "endTime": 0.5}]});
    let db = api.stack.db();
    db.execute(Stmt::new(
        "UPDATE assets SET last_recipe = ? WHERE id = ?",
        vec![SqlValue::from(recipe.to_string()), SqlValue::from(user.as_str())],
    ))
    .await
    .unwrap();
    // Its blobs, read before it is made old: the housekeeping loop may expire it at once.
    let keys: Vec<String> =
        api.stack.stored_keys().into_iter().filter(|k| k.contains(&format!("/assets/{unused}/"))).collect();
    assert_eq!(keys.len(), 2);
    for id in [&unused, &source] {
        db.execute(Stmt::new(
            "UPDATE assets SET created_at = ?, last_used_at = ? WHERE id = ?",
            vec![SqlValue::from(old), SqlValue::from(old), SqlValue::from(id.as_str())],
        ))
        .await
        .unwrap();
    }
    api.wait_gone(&keys, Duration::from_secs(15)).await;
    assert_eq!(api.count(&format!("SELECT count(*) AS n FROM assets WHERE id = '{unused}'")).await, 0);
    assert_eq!(
        api.count(&format!("SELECT count(*) AS n FROM assets WHERE id = '{source}'")).await,
        1,
        "a saved recipe uses it"
    );
}
