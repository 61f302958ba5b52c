//! yt-dlp as the ingest runs it: the arguments it gets (one video, the duration filter before any
//! download, the size cap, the socket timeout), progress read from its output, a too-long video refused
//! as `too_long`, a cancel that kills it; and the real, pinned yt-dlp fetching a direct media link from
//! a local server through its generic extractor.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cpu_worker::media::ytdlp::{download, Limits};
use studio_core::ErrorCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn limits() -> Limits {
    Limits { max_bytes: 100 * 1024 * 1024, max_duration_sec: 1800.0, rate: studio_core::render::rules().source_rate }
}

/// A stand-in yt-dlp: records its arguments, then runs `body` (a shell snippet; `$OUT` is the file the
/// output template names, with the extension `wav`).
fn fake(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("fake-yt-dlp");
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > {args}\nOUT=''\nwhile [ $# -gt 0 ]; do [ \"$1\" = --output ] && OUT=$(printf '%s' \"$2\" | sed 's/%(ext)s/wav/'); shift; done\n{body}\n",
        args = dir.join("args").display()
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

async fn run(bin: &Path, url: &str, out: &Path) -> (Result<PathBuf, studio_core::jobs::JobFailure>, Vec<f64>) {
    let mut seen = Vec::new();
    let result = download::<_, _, ()>(bin.to_str().unwrap(), url, out, &limits(), |p| {
        seen.push(p);
        async { Ok(()) }
    })
    .await
    .unwrap();
    (result, seen)
}

#[tokio::test]
async fn it_gets_one_video_within_the_limits_and_reports_progress() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let bin = fake(
        dir.path(),
        "for p in 3.0 10.5 42.0 77.7 100.0; do echo \"[download]  $p% of 1.00MiB at 1MiB/s ETA 00:01\"; done\n\
         printf 'RIFF' > \"$OUT\"\necho \"$OUT\"",
    );
    let (file, progress) = run(&bin, "https://youtu.be/dQw4w9WgXcQ", &out).await;
    assert_eq!(file.unwrap(), out.join("source.wav"));
    assert_eq!(progress, [3.0, 10.5, 42.0, 77.7, 100.0]);
    let args = std::fs::read_to_string(dir.path().join("args")).unwrap();
    let args: Vec<&str> = args.lines().collect();
    for (flag, value) in [
        ("--match-filter", "!is_live & duration <=? 1800"),
        ("--max-downloads", "1"),
        ("--max-filesize", "104857600"),
        ("--socket-timeout", "30"),
        ("--output", &*format!("{}/source.%(ext)s", out.display())),
    ] {
        let at = args.iter().position(|a| *a == flag).unwrap_or_else(|| panic!("{flag} missing: {args:?}"));
        assert_eq!(args[at + 1], value);
    }
    assert!(args.contains(&"--no-playlist") && args.contains(&"--ignore-config"));
    assert_eq!(&args[args.len() - 2..], ["--", "https://youtu.be/dQw4w9WgXcQ"]);
}

#[tokio::test]
async fn a_video_over_the_limit_is_refused_before_it_downloads() {
    let dir = tempfile::tempdir().unwrap();
    let bin = fake(dir.path(), "echo '[download] Long video does not pass filter (duration <=? 1800), skipping ..'");
    let (failure, progress) = run(&bin, "https://youtu.be/dQw4w9WgXcQ", dir.path()).await;
    let failure = failure.unwrap_err();
    assert_eq!((failure.code, failure.retryable), (ErrorCode::TooLong, false));
    assert!(progress.is_empty());
    let unavailable = fake(dir.path(), "echo 'ERROR: [youtube] x: Video unavailable' >&2; exit 1");
    let failure = run(&unavailable, "https://youtu.be/dQw4w9WgXcQ", dir.path()).await.0.unwrap_err();
    assert_eq!((failure.code, failure.retryable), (ErrorCode::SourceUnavailable, false));
    assert!(!failure.message.contains("ERROR"), "yt-dlp's words stay in the operator's log");
}

/// A download that trickles (a byte every second into its `.part` file) is stopped with
/// `source_too_slow` once the floor's grace has passed (a short floor here, to keep the test quick),
/// and yt-dlp is killed.
#[tokio::test]
async fn a_trickling_download_is_cut_as_too_slow() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let pid_file = dir.path().join("pid");
    let bin = fake(
        dir.path(),
        &format!("echo $$ > {}\nwhile true; do printf x >> \"$OUT.part\"; sleep 1; done", pid_file.display()),
    );
    let floor = studio_core::source_rate::SourceRate { min_bytes_per_sec: 1024.0, window_sec: 3.0, grace_sec: 2.0 };
    let limits = Limits { rate: floor, ..limits() };
    let started = std::time::Instant::now();
    let failure =
        download::<_, _, ()>(bin.to_str().unwrap(), "https://youtu.be/x", &out, &limits, |_| async { Ok(()) })
            .await
            .unwrap()
            .unwrap_err();
    assert_eq!(failure.code, ErrorCode::SourceTooSlow, "{failure:?}");
    assert!(!failure.retryable);
    assert!(started.elapsed() < Duration::from_secs(10), "cut after {:?}", started.elapsed());
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(std::fs::metadata(format!("/proc/{pid}")).is_err(), "yt-dlp was killed");
}

#[tokio::test]
async fn a_cancel_kills_it() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let bin = fake(dir.path(), &format!("echo $$ > {}\nexec sleep 60", pid_file.display()));
    let out = dir.path().to_owned();
    let task = tokio::spawn(async move { run(&bin, "https://youtu.be/dQw4w9WgXcQ", &out).await });
    let pid = loop {
        if let Ok(text) = std::fs::read_to_string(&pid_file) {
            if let Ok(pid) = text.trim().parse::<i32>() {
                break pid;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    task.abort();
    let _ = task.await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
    assert!(!alive, "yt-dlp (pid {pid}) outlived the cancel");
}

#[tokio::test]
async fn the_real_yt_dlp_fetches_a_direct_link_from_a_local_server() {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/yt-dlp");
    assert!(bin.exists(), "yt-dlp is missing: run `make setup` (make test does)");
    let wav = {
        let mut bytes = b"RIFF\x24\x7d\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data\x00\x7d\x00\x00".to_vec();
        bytes.extend((0..32_000).map(|i| (i % 251) as u8));
        bytes
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = wav.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let body = served.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: audio/wav\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(head.as_bytes()).await;
                let _ = conn.write_all(&body).await;
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let (file, progress) = run(&bin, &format!("http://127.0.0.1:{port}/track.wav"), dir.path()).await;
    let file = file.unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), wav, "the very bytes served");
    assert_eq!(progress.last(), Some(&100.0), "{progress:?}");
}
