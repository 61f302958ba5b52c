//! End to end under faults, on this binary's own stack (turso-local, `wrangler dev`, cpu-worker): the
//! edge going away for longer than a restart, and the worker killed with SIGKILL mid-write. Nothing may
//! be lost, nothing left behind, and no signed URL may surface in events or logs. The scenarios take
//! the stack one at a time, and each leaves it running.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use studio_core::hrana::{Stmt, Value as SqlValue};
use test_support::api::{events_text, Api};
use test_support::media::wav;
use test_support::stack::{Options, Shared, Stack};

static STACK: Shared = Shared::new(Options::plain);

async fn db_rows(stack: &Stack, sql: &str, job_id: &str) -> Vec<(String, String)> {
    let rows = stack.db().execute(Stmt::new(sql, vec![SqlValue::from(job_id)])).await.unwrap();
    rows.iter().map(|r| (r.text("a").unwrap(), r.text("b").unwrap_or_default())).collect()
}

/// The edge is down for longer than the old retry schedule (3 attempts, 1–4 s) survived; the job
/// keeps retrying and completes once the edge is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_rides_out_an_edge_outage() {
    let alone = STACK.alone().await;
    let stack: &Stack = &alone;
    stack.kill_worker();
    let api = stack.new_creator("a_job_rides_out_an_edge_outage").await;
    let job_id = {
        let upload_id = api.upload("outage.wav", "audio/wav", &wav(1.0, 8_000, 1)).await;
        api.ingest(&upload_id).await
    };
    stack.stop_edge().await;
    let outage = Instant::now();
    stack.start_worker();
    // Wait out 15 s of downtime while the worker fails to reach the edge again and again.
    let status_sql = "SELECT status AS a, attempt AS b FROM jobs WHERE id = ?";
    let retries_sql = "SELECT kind AS a, coalesce(detail, '') AS b FROM job_events WHERE job_id = ? \
                       AND kind = 'retry_scheduled'";
    while outage.elapsed() < Duration::from_secs(15) {
        let (status, _) = db_rows(stack, status_sql, &job_id).await.remove(0);
        assert!(matches!(status.as_str(), "pending" | "processing"), "job gave up during the outage: {status}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let retries = db_rows(stack, retries_sql, &job_id).await;
    assert!(retries.len() >= 3, "the worker should have retried during the outage: {retries:?}\n{}", stack.logs());
    assert!(retries.iter().all(|(_, detail)| detail.contains("unavailable")), "{retries:?}");

    stack.start_edge().await;
    // A new client: the old one's pooled connections went with the old edge.
    let api = Api::new(stack, api.account.clone());
    let job = api.wait_terminal_within(&job_id, Duration::from_secs(150)).await;
    assert_eq!(job["status"], "complete", "{job}\n{}", stack.logs());
    assert!(job["attempt"].as_i64().unwrap() > 3, "{job}");

    let events = events_text(&api, &job_id).await;
    for leak in ["sig=", "exp=", "/blobs/", "http", "127.0.0.1"] {
        assert!(!events.contains(leak), "{leak} in events: {events}");
    }
    let log = std::fs::read_to_string(stack.worker_log()).unwrap();
    assert!(log.contains("attempt failed"), "the outage was logged");
    for leak in ["sig=", "&max=", "e2e-signing-secret", "e2e-db-token"] {
        assert!(!log.contains(leak), "{leak} in the worker log");
    }
}

/// A fake ffmpeg that hangs while computing the waveform (after the asset's audio was stored), so the
/// worker can be killed mid-write; every other ffmpeg call runs the real one.
fn hanging_ffmpeg(dir: &Path) -> (PathBuf, PathBuf) {
    let pid_file = dir.join("ffmpeg.pid");
    let script = dir.join("ffmpeg");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncase \"$*\" in *s16le*) echo $$ > {}; exec sleep 600;; esac\nexec ffmpeg \"$@\"\n",
            pid_file.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    (script, pid_file)
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// Job scratch directories (`job_…`) under every worker directory of the temp root.
fn job_dirs(root: &Path) -> Vec<String> {
    entries(root)
        .into_iter()
        .filter(|n| !n.ends_with(".lock"))
        .flat_map(|w| entries(&root.join(&w)).into_iter().map(move |j| format!("{w}/{j}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_leaves_no_blobs_or_temp_dirs() {
    let alone = STACK.alone().await;
    let stack: &Stack = &alone;
    let api = stack.new_creator("a_killed_worker_leaves_no_blobs_or_temp_dirs").await;
    let tools = tempfile::tempdir().unwrap();
    let (ffmpeg, pid_file) = hanging_ffmpeg(tools.path());
    let root = stack.worker_temp_dir();
    let mut dead_keys = Vec::new();
    let mut job_ids = Vec::new();
    for round in 0..2 {
        stack.kill_worker();
        // One slot, so the hanging worker takes only the new job.
        stack.start_worker_with(&[("FFMPEG_BIN", ffmpeg.to_str().unwrap()), ("WORKER_CONCURRENCY", "1")]);
        let upload_id = api.upload(&format!("killed-{round}.wav"), "audio/wav", &wav(2.0, 8_000, 1)).await;
        let job_id = api.ingest(&upload_id).await;
        let deadline = Instant::now() + Duration::from_secs(60);
        let sleeper: i32 = loop {
            if let Some(pid) = std::fs::read_to_string(&pid_file).ok().and_then(|s| s.trim().parse().ok()) {
                std::fs::remove_file(&pid_file).unwrap();
                break pid;
            }
            assert!(Instant::now() < deadline, "the waveform never started\n{}", stack.logs());
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        // Mid-write: the attempt stored the audio and recorded it; its scratch directory exists.
        let written: Vec<String> =
            db_rows(stack, "SELECT key AS a, '' AS b FROM attempt_blobs WHERE job_id = ?", &job_id)
                .await
                .into_iter()
                .map(|(k, _)| k)
                .collect();
        assert!(!written.is_empty(), "the attempt recorded what it wrote");
        for key in &written {
            assert!(api.blob_exists(key).await, "{key} was written before the kill");
        }
        // Only this attempt's scratch: the previous round's dead worker was cleared at start.
        assert_eq!(job_dirs(&root).len(), 1, "{:?}", job_dirs(&root));
        dead_keys.extend(written);
        job_ids.push(job_id);
        stack.kill_worker();
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(sleeper), nix::sys::signal::Signal::SIGKILL);
    }
    assert_eq!(job_dirs(&root).len(), 1, "the killed worker left its scratch: {:?}", entries(&root));

    // A new worker clears dead workers' scratch at start, the reaper re-queues the jobs, and the
    // sweeper deletes what the killed attempts wrote.
    stack.start_worker();
    for job_id in &job_ids {
        let job = api.wait_terminal_within(job_id, Duration::from_secs(90)).await;
        assert_eq!(job["status"], "complete", "{job}\n{}", stack.logs());
        assert!(events_text(&api, job_id).await.contains("lease_expired_retry"));
        let asset: Vec<(String, String)> =
            db_rows(stack, "SELECT original_key AS a, peaks_key AS b FROM assets WHERE job_id = ?", job_id).await;
        for key in [&asset[0].0, &asset[0].1] {
            assert!(api.blob_exists(key).await, "the completed asset's {key} is kept");
        }
    }
    api.wait_gone(&dead_keys, Duration::from_secs(20)).await;
    // Each dead blob was deleted; its record waits only for the final pass after the grace period.
    let sql = "SELECT COUNT(*) AS n FROM attempt_blobs WHERE swept_at IS NULL";
    let unswept = stack.db().execute(Stmt::new(sql, vec![])).await.unwrap();
    assert_eq!(unswept.first().unwrap().int("n").unwrap(), 0, "every dead attempt's blob was swept");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !job_dirs(&root).is_empty() {
        assert!(Instant::now() < deadline, "scratch left behind: {:?}", job_dirs(&root));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let workers: Vec<String> = entries(&root).into_iter().filter(|n| n.ends_with(".lock")).collect();
    assert_eq!(workers.len(), 1, "only the live worker's marker remains: {:?}", entries(&root));
}

/// Counts every object in R2: exactly the completed assets' audio and waveform remain — no upload bytes
/// (swept), nothing written by a killed or failed attempt — after an ingest of this scenario's own and
/// whatever the other scenarios did before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_holds_exactly_the_completed_assets() {
    let alone = STACK.alone().await;
    let stack: &Stack = &alone;
    stack.start_worker();
    let api = stack.new_creator("storage_holds_exactly_the_completed_assets").await;
    let job =
        api.wait_terminal(&api.ingest(&api.upload("kept.wav", "audio/wav", &wav(1.0, 8_000, 1)).await).await).await;
    assert_eq!(job["status"], "complete", "{job}");
    let rows = stack
        .db()
        .execute(Stmt::new("SELECT a.original_key, a.peaks_key FROM assets a JOIN jobs j ON j.id = a.job_id", vec![]))
        .await
        .unwrap();
    let mut expected: Vec<String> =
        rows.iter().flat_map(|r| [r.text("original_key").unwrap(), r.text("peaks_key").unwrap()]).collect();
    expected.sort();
    let completed = "SELECT count(*) AS n FROM jobs WHERE type = 'ingest' AND status = 'complete'";
    let ingests = api.count(completed).await as usize;
    assert!(ingests >= 1);
    assert_eq!(expected.len(), 2 * ingests, "an asset for each completed ingest");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let stored = stack.stored_keys();
        if stored == expected {
            return;
        }
        assert!(Instant::now() < deadline, "R2 holds {stored:?}, expected exactly {expected:?}\n{}", stack.logs());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
