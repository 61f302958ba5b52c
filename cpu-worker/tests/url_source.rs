//! Fetching media URLs for ingest against real local servers: what passes the SSRF guard is streamed
//! to disk, capped by the declared and the streamed size; hostile URLs and redirects, loops, oversize
//! bodies and servers that stall are refused with the right code, the rule named, and nothing kept.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use cpu_worker::outbound::Outbound;
use cpu_worker::url_source::fetch;
use studio_core::net_policy::AllowList;
use studio_core::source_rate::SourceRate;
use studio_core::ErrorCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MAX: u64 = 1000;
/// 14 s at 128 KiB/s: past the rate floor's grace (10 s), so the floor is judged while it streams.
const STEADY_BYTES: u64 = 14 * 128 * 1024;

/// A server whose paths behave as their names say.
async fn media_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = conn.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let reply = |status: &str, extra: &str, body: &[u8]| {
                    let mut out = format!("HTTP/1.1 {status}\r\n{extra}connection: close\r\n\r\n").into_bytes();
                    out.extend_from_slice(body);
                    out
                };
                let answer = match path.as_str() {
                    "/ok/track.wav" => {
                        reply("200 OK", "content-type: audio/wav\r\ncontent-length: 600\r\n", &[7u8; 600])
                    }
                    "/big" => reply("200 OK", "content-length: 1001\r\n", &[0u8; 1001]),
                    "/loop" => reply("302 Found", "location: /loop\r\ncontent-length: 0\r\n", b""),
                    "/404" => reply("404 Not Found", "content-length: 0\r\n", b""),
                    "/503" => reply("503 Unavailable", "content-length: 0\r\n", b""),
                    "/chunked-big" => {
                        let _ = conn
                            .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n")
                            .await;
                        for _ in 0..4 {
                            let _ = conn.write_all(b"200\r\n").await;
                            let _ = conn.write_all(&[1u8; 512]).await;
                            let _ = conn.write_all(b"\r\n").await;
                        }
                        let _ = conn.write_all(b"0\r\n\r\n").await;
                        return;
                    }
                    // One byte every two seconds, forever.
                    "/loris" => {
                        let head = "HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\nconnection: close\r\n\r\n";
                        let _ = conn.write_all(head.as_bytes()).await;
                        while conn.write_all(b"x").await.is_ok() {
                            tokio::time::sleep(Duration::from_secs(2)).await;
                        }
                        return;
                    }
                    // 128 KiB/s, in 16-KiB steps, for STEADY_BYTES.
                    "/steady" => {
                        let head =
                            format!("HTTP/1.1 200 OK\r\ncontent-length: {STEADY_BYTES}\r\nconnection: close\r\n\r\n");
                        let _ = conn.write_all(head.as_bytes()).await;
                        let mut tick = tokio::time::interval(Duration::from_millis(125));
                        for _ in 0..STEADY_BYTES / (16 * 1024) {
                            tick.tick().await;
                            if conn.write_all(&[3u8; 16 * 1024]).await.is_err() {
                                return;
                            }
                        }
                        return;
                    }
                    "/slow" => {
                        let _ = conn
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 600\r\nconnection: close\r\n\r\nab")
                            .await;
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        return;
                    }
                    other => match other.strip_prefix("/to?") {
                        Some(target) => {
                            reply("302 Found", &format!("location: {target}\r\ncontent-length: 0\r\n"), b"")
                        }
                        None => reply("404 Not Found", "content-length: 0\r\n", b""),
                    },
                };
                let _ = conn.write_all(&answer).await;
            });
        }
    });
    port
}

/// The contract's rate floor, as production runs it.
fn floor() -> SourceRate {
    studio_core::render::rules().source_rate
}

fn guard(allow: &str) -> Outbound {
    Outbound::new(AllowList::parse(allow).unwrap(), Duration::from_secs(10))
        .with_read_timeout(Duration::from_millis(700))
}

fn dest() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("source");
    (dir, path)
}

#[tokio::test]
async fn a_good_link_is_streamed_to_disk() {
    let port = media_server().await;
    let (_dir, path) = dest();
    let fetched = fetch(
        &guard(&format!("127.0.0.1:{port}")),
        &format!("http://127.0.0.1:{port}/ok/track.wav"),
        &path,
        MAX,
        floor(),
    )
    .await
    .unwrap();
    assert_eq!(
        (fetched.filename.as_str(), fetched.content_type.as_str(), fetched.size),
        ("track.wav", "audio/wav", 600)
    );
    assert_eq!(std::fs::read(&path).unwrap(), vec![7u8; 600]);
}

#[tokio::test]
async fn hostile_links_are_refused_naming_the_rule_and_nothing_is_kept() {
    let port = media_server().await;
    let other = media_server().await;
    let allowed = format!("127.0.0.1:{port}");
    let base = format!("http://127.0.0.1:{port}");
    let cases: Vec<(String, ErrorCode, bool)> = vec![
        // No allow list: loopback in several notations, names that resolve to it, plain http.
        (format!("https://127.0.0.1:{port}/ok/track.wav"), ErrorCode::UrlForbidden, false),
        (format!("https://localhost:{port}/ok/track.wav"), ErrorCode::UrlForbidden, false),
        (format!("https://127.1:{port}/ok/track.wav"), ErrorCode::UrlForbidden, false),
        (format!("https://0x7f000001:{port}/ok/track.wav"), ErrorCode::UrlForbidden, false),
        (format!("https://2130706433:{port}/ok/track.wav"), ErrorCode::UrlForbidden, false),
        (format!("https://[::ffff:127.0.0.1]:{port}/ok/track.wav"), ErrorCode::UrlForbidden, false),
        (format!("https://[::1]:{port}/ok/track.wav"), ErrorCode::UrlForbidden, false),
        ("https://169.254.169.254/latest/meta-data".to_owned(), ErrorCode::UrlForbidden, false),
        ("https://user:pw@example.com/a.wav".to_owned(), ErrorCode::UrlForbidden, false),
        (format!("http://example.com:{port}/a.wav"), ErrorCode::UrlForbidden, false),
        // Allow-listed server: redirects to a forbidden place, loops, too many hops.
        (format!("{base}/to?http://127.0.0.1:{other}/ok/track.wav"), ErrorCode::UrlForbidden, true),
        (format!("{base}/to?https://10.0.0.1/a.wav"), ErrorCode::UrlForbidden, true),
        (format!("{base}/loop"), ErrorCode::UrlForbidden, true),
        (format!("{base}/to?/to?/to?/to?/to?/to?/ok/track.wav"), ErrorCode::UrlForbidden, true),
        // Too large, declared or streamed.
        (format!("{base}/big"), ErrorCode::PayloadTooLarge, true),
        (format!("{base}/chunked-big"), ErrorCode::PayloadTooLarge, true),
        // Missing, or failing.
        (format!("{base}/404"), ErrorCode::SourceUnavailable, true),
        (format!("{base}/503"), ErrorCode::SourceUnavailable, true),
    ];
    for (url, code, allow) in cases {
        let (_dir, path) = dest();
        let outbound = guard(if allow { &allowed } else { "" });
        let failure = fetch(&outbound, &url, &path, MAX, floor()).await.unwrap_err();
        assert_eq!(failure.code, code, "{url}: {failure:?}");
        assert!(!failure.message.contains("127.0.0.1") && !failure.message.contains("10.0.0.1"), "{failure:?}");
        assert!(!path.exists(), "{url}: nothing kept");
        let transient = url.ends_with("/503");
        assert_eq!(failure.retryable, transient, "{url}");
    }
}

#[tokio::test]
async fn a_server_that_stalls_is_given_up_on() {
    let port = media_server().await;
    let (_dir, path) = dest();
    let started = Instant::now();
    let failure =
        fetch(&guard(&format!("127.0.0.1:{port}")), &format!("http://127.0.0.1:{port}/slow"), &path, MAX, floor())
            .await
            .unwrap_err();
    assert_eq!((failure.code, failure.message.as_str()), (ErrorCode::SourceUnavailable, "the link stopped answering"));
    assert!(started.elapsed() < Duration::from_secs(5), "gave up after {:?}", started.elapsed());
}

/// A slow-loris origin (a byte every 2 s) is given up with `source_too_slow` soon after the floor's
/// grace, far inside a minute, and nothing is kept; an origin that keeps 128 KiB/s past the grace
/// completes. Both run at once, with a read timeout long enough not to cut the loris first.
#[tokio::test]
async fn a_slow_loris_is_cut_and_a_steady_origin_completes() {
    let port = media_server().await;
    let patient = || {
        Outbound::new(AllowList::parse(&format!("127.0.0.1:{port}")).unwrap(), Duration::from_secs(120))
            .with_read_timeout(Duration::from_secs(5))
    };
    let ((_a, loris_path), (_b, steady_path)) = (dest(), dest());
    let started = Instant::now();
    let (loris_outbound, steady_outbound) = (patient(), patient());
    let loris_url = format!("http://127.0.0.1:{port}/loris");
    let steady_url = format!("http://127.0.0.1:{port}/steady");
    let loris = async {
        let outcome = fetch(&loris_outbound, &loris_url, &loris_path, 4 << 20, floor()).await;
        (outcome, started.elapsed())
    };
    let steady = fetch(&steady_outbound, &steady_url, &steady_path, 4 << 20, floor());
    let ((loris, loris_after), steady) = tokio::join!(loris, steady);
    let failure = loris.unwrap_err();
    assert_eq!(failure.code, ErrorCode::SourceTooSlow, "{failure:?}");
    assert!(!failure.retryable, "a too-slow source is not retried");
    assert!(failure.message.contains("KiB/s"), "{}", failure.message);
    assert!(loris_after < Duration::from_secs(60), "cut after {loris_after:?}");
    assert!(loris_after >= Duration::from_secs(10), "not before the grace: {loris_after:?}");
    assert!(!loris_path.exists(), "nothing kept");
    let fetched = steady.expect("a steady 128 KiB/s origin completes");
    assert_eq!(fetched.size, STEADY_BYTES);
}
