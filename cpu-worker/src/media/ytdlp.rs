//! Fetching a YouTube video's audio with yt-dlp (pinned, from PyPI): one video only (`--no-playlist`),
//! refused before any byte is fetched when it is longer than the limit (`--match-filter`), capped in
//! size (`--max-filesize`), with a socket timeout, and given up (`source_too_slow`) below the rate floor. Progress lines feed the job's progress. yt-dlp runs in
//! its own process group, so a cancel or timeout kills it like ffmpeg.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use studio_core::jobs::JobFailure;
use studio_core::source_rate::SourceRate;
use studio_core::ErrorCode;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::process::{GroupChild, ProcessError};
use crate::transport::now_ms;

/// What one run may fetch.
pub struct Limits {
    pub max_bytes: u64,
    pub max_duration_sec: f64,
    /// The slowest the download may be; judged from the bytes on disk every second.
    pub rate: SourceRate,
}

/// The arguments yt-dlp is run with, writing into `dir`.
pub fn args(url: &str, dir: &Path, limits: &Limits) -> Vec<String> {
    [
        "--ignore-config",
        "--no-cache-dir",
        "--no-playlist",
        "--max-downloads",
        "1",
        // Known before any byte is fetched: live streams (no end, no size cap) and long videos are
        // skipped. A duration yt-dlp cannot know is checked by ffprobe after the download.
        "--match-filter",
        &format!("!is_live & duration <=? {}", limits.max_duration_sec),
        "--max-filesize",
        &limits.max_bytes.to_string(),
        "--socket-timeout",
        "30",
        "--retries",
        "3",
        "--format",
        "bestaudio/best",
        "--newline",
        "--progress",
        "--no-simulate",
        // `--print` would make it quiet, and the skip messages would be lost.
        "--no-quiet",
        "--print",
        "after_move:filepath",
        "--output",
        &format!("{}/source.%(ext)s", dir.display()),
        "--",
        url,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The percentage of a `[download]  42.3% of …` line.
pub fn progress_of(line: &str) -> Option<f64> {
    let rest = line.strip_prefix("[download]")?.trim_start();
    let (pct, _) = rest.split_once('%')?;
    pct.trim().parse::<f64>().ok().filter(|p| (0.0..=100.0).contains(p))
}

/// Runs yt-dlp and returns the downloaded file. `on_progress` gets 0–100 as the download advances.
pub async fn download<F, Fut, E>(
    bin: &str,
    url: &str,
    dir: &Path,
    limits: &Limits,
    mut on_progress: F,
) -> Result<Result<PathBuf, JobFailure>, E>
where
    F: FnMut(f64) -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let mut child = match GroupChild::spawn(bin, &args(url, dir, limits)) {
        Ok(child) => child,
        Err(e) => return Ok(Err(tool_failure(&e))),
    };
    let mut lines = BufReader::new(child.stdout()).lines();
    let (mut file, mut said, mut last_reported) = (None, Vec::<String>::new(), -100.0);
    let mut watch = limits.rate.watch(now_ms());
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        let line = tokio::select! {
            line = lines.next_line() => line,
            _ = tick.tick() => {
                if let Err(slow) = watch.observe(now_ms(), bytes_in(dir)) {
                    // Dropping the child kills its process group.
                    drop(lines);
                    drop(child);
                    return Ok(Err(JobFailure::permanent(ErrorCode::SourceTooSlow, slow.message(watch.floor()))));
                }
                continue;
            }
        };
        let Ok(Some(line)) = line else { break };
        if let Some(pct) = progress_of(&line) {
            if pct - last_reported >= 5.0 || pct == 100.0 {
                last_reported = pct;
                on_progress(pct).await?;
            }
        } else if line.starts_with(&dir.display().to_string()) {
            file = Some(PathBuf::from(line.trim()));
        } else {
            said.push(line);
        }
    }
    let waited = child.wait().await;
    let said = said.join("\n");
    if said.contains("does not pass filter") {
        return Ok(Err(JobFailure::permanent(
            ErrorCode::TooLong,
            format!("the video is longer than {} minutes", limits.max_duration_sec / 60.0),
        )));
    }
    if said.contains("larger than max-filesize") {
        return Ok(Err(JobFailure::permanent(
            ErrorCode::PayloadTooLarge,
            format!("the audio is larger than {} MiB", limits.max_bytes >> 20),
        )));
    }
    // yt-dlp exits 101 when it stops at `--max-downloads`, which it reaches with the one video.
    let waited = match waited {
        Err(ProcessError::Failed { status, .. }) if status.code() == Some(101) => Ok(()),
        other => other,
    };
    match (waited, file) {
        (Ok(()), Some(path)) if path.starts_with(dir) && path.is_file() => {
            // `--max-filesize` does not hold every kind of download (fragmented ones): check the result.
            if std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) > limits.max_bytes {
                let _ = std::fs::remove_file(&path);
                return Ok(Err(JobFailure::permanent(
                    ErrorCode::PayloadTooLarge,
                    format!("the audio is larger than {} MiB", limits.max_bytes >> 20),
                )));
            }
            Ok(Ok(path))
        }
        (Ok(()), _) => Ok(Err(JobFailure::permanent(ErrorCode::SourceUnavailable, "the video gave no audio"))),
        (Err(e), _) => Ok(Err(tool_failure(&e))),
    }
}

/// What yt-dlp has written into `dir` so far (its `.part` files included).
fn bytes_in(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries.flatten().filter_map(|e| e.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum()
        })
        .unwrap_or(0)
}

/// yt-dlp's own failures, in the creator's terms; its output goes to the operator's log only.
fn tool_failure(e: &ProcessError) -> JobFailure {
    let tail = e.stderr_tail().unwrap_or_default();
    let unavailable = ["Video unavailable", "Private video", "Unsupported URL", "HTTP Error 404", "This video"];
    let failure = if unavailable.iter().any(|m| tail.contains(m)) {
        JobFailure::permanent(ErrorCode::SourceUnavailable, "the video is unavailable")
    } else if matches!(e, ProcessError::Spawn { .. }) {
        JobFailure::transient(ErrorCode::Internal, "an internal error occurred")
    } else {
        JobFailure::transient(ErrorCode::SourceUnavailable, "the video could not be fetched")
    };
    failure.with_detail(format!("{e}: {tail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_are_read() {
        assert_eq!(progress_of("[download]  42.3% of   15.67KiB at  Unknown B/s ETA Unknown"), Some(42.3));
        assert_eq!(progress_of("[download] 100% of   15.67KiB in 00:00:00"), Some(100.0));
        assert_eq!(progress_of("[download] Destination: /tmp/x/source.wav"), None);
        assert_eq!(progress_of("[info] 42% nonsense"), None);
    }

    #[test]
    fn one_video_within_the_limits() {
        let a = args(
            "https://youtu.be/x",
            Path::new("/w"),
            &Limits { max_bytes: 100, max_duration_sec: 1800.0, rate: studio_core::render::rules().source_rate },
        );
        let joined = a.join(" ");
        for expected in [
            "--no-playlist",
            "--max-downloads 1",
            "--match-filter !is_live & duration <=? 1800",
            "--max-filesize 100",
            "--socket-timeout 30",
            "--no-quiet",
        ] {
            assert!(joined.contains(expected), "{joined}");
        }
        assert_eq!(&a[a.len() - 2..], ["--", "https://youtu.be/x"], "the URL is never read as an option");
    }
}
