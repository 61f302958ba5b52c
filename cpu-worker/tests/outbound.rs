//! The SSRF guard on real sockets: what a creator's URL may reach (HTTPS to public addresses only, every
//! redirect hop checked), what the test-only allow list lets through, and that errors never carry the URL.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cpu_worker::outbound::{Outbound, OutboundError, OutboundRequest};
use reqwest::Method;
use studio_core::net_policy::AllowList;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What a local receiver saw: method, path and body of each request.
type Seen = Arc<Mutex<Vec<(String, String, Vec<u8>)>>>;
/// The request heads a receiver saw, lower-cased.
type Heads = Arc<Mutex<Vec<String>>>;

/// A local HTTP server answering `/to?url` with `status` and `Location: url`, anything else with 200.
async fn receiver(status: u16) -> (u16, Seen) {
    let (port, seen, _) = receiver_with_heads(status).await;
    (port, seen)
}

async fn receiver_with_heads(status: u16) -> (u16, Seen, Heads) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Seen = Arc::default();
    let heads: Heads = Arc::default();
    let (log, head_log) = (seen.clone(), heads.clone());
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let (log, head_log) = (log.clone(), head_log.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head, body) = loop {
                    let n = conn.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
                            })
                            .and_then(|v| v.parse::<usize>().ok())
                            .unwrap_or(0);
                        while buf.len() < end + 4 + length {
                            let n = conn.read(&mut chunk).await.unwrap_or(0);
                            if n == 0 {
                                break;
                            }
                            buf.extend_from_slice(&chunk[..n]);
                        }
                        break (head, buf[end + 4..].to_vec());
                    }
                };
                let mut words = head.split_whitespace();
                let (method, path) = (words.next().unwrap_or("").to_owned(), words.next().unwrap_or("").to_owned());
                log.lock().unwrap().push((method, path.clone(), body));
                head_log.lock().unwrap().push(head.to_ascii_lowercase());
                let answer = match path.strip_prefix("/to?") {
                    Some(target) => {
                        format!("HTTP/1.1 {status} Redirect\r\nlocation: {target}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    }
                    None => "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok".to_owned(),
                };
                let _ = conn.write_all(answer.as_bytes()).await;
            });
        }
    });
    (port, seen, heads)
}

fn guard(allow: &str) -> Outbound {
    Outbound::new(AllowList::parse(allow).unwrap(), Duration::from_secs(5))
}

fn post(url: &str) -> OutboundRequest {
    OutboundRequest {
        method: Method::POST,
        url: url.to_owned(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("webhook-signature".into(), "v1,c2ln".into()),
        ],
        body: Some(br#"{"type":"job.completed"}"#.to_vec()),
    }
}

#[tokio::test]
async fn only_https_to_public_addresses_is_reached() {
    let (port, seen) = receiver(307).await;
    let strict = guard("");
    for (url, expected) in [
        (format!("http://127.0.0.1:{port}/hook"), "only https"),
        (format!("https://127.0.0.1:{port}/hook"), "not public"),
        (format!("https://localhost:{port}/hook"), "not public"),
        (format!("https://[::ffff:127.0.0.1]:{port}/hook"), "not public"),
        ("https://169.254.169.254/latest/meta-data".to_owned(), "not public"),
        ("https://10.0.0.1/".to_owned(), "not public"),
        ("https://user:pw@example.com/".to_owned(), "credentials"),
        ("ftp://example.com/".to_owned(), "not a valid"),
        ("not a url".to_owned(), "not a valid"),
    ] {
        let err = strict.send(post(&url)).await.unwrap_err();
        assert!(err.to_string().contains(expected), "{url}: {err}");
        assert!(strict.check(&url).await.is_err(), "{url}");
    }
    assert!(seen.lock().unwrap().is_empty(), "nothing reached the receiver");
}

#[tokio::test]
async fn the_allow_list_lets_a_named_receiver_through_and_every_redirect_hop_is_checked() {
    let (port, seen, heads) = receiver_with_heads(307).await;
    let (other, other_seen, other_heads) = receiver_with_heads(302).await;
    let allowed = guard(&format!("127.0.0.1:{port},127.0.0.1:{other}"));

    let response = allowed.send(post(&format!("http://127.0.0.1:{port}/hook"))).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(seen.lock().unwrap()[0], ("POST".into(), "/hook".into(), br#"{"type":"job.completed"}"#.to_vec()));

    // 307 keeps the method and body; 302 continues as a GET without one.
    let url = format!("http://127.0.0.1:{port}/to?http://127.0.0.1:{other}/to?http://127.0.0.1:{other}/end");
    assert_eq!(allowed.send(post(&url)).await.unwrap().status(), 200);
    let hops: Vec<(String, String)> =
        other_seen.lock().unwrap().iter().map(|(m, p, _)| (m.clone(), p.clone())).collect();
    assert_eq!(hops, [("POST".into(), format!("/to?http://127.0.0.1:{other}/end")), ("GET".into(), "/end".into())]);
    // The signature went to the first origin only, never on to another one.
    assert!(heads.lock().unwrap().iter().all(|h| h.contains("webhook-signature: v1,c2ln")));
    assert!(other_heads.lock().unwrap().iter().all(|h| !h.contains("webhook-signature")));

    // A hop to anything off the list is refused before it is contacted.
    let (outsider, outsider_seen) = receiver(307).await;
    let escape = format!("http://127.0.0.1:{port}/to?http://127.0.0.1:{outsider}/steal");
    assert!(matches!(allowed.send(post(&escape)).await.unwrap_err(), OutboundError::NotHttps));
    let escape = format!("http://127.0.0.1:{port}/to?https://127.0.0.1:{outsider}/steal");
    assert!(matches!(allowed.send(post(&escape)).await.unwrap_err(), OutboundError::Forbidden(_)));
    assert!(outsider_seen.lock().unwrap().is_empty());

    let looping = format!("http://127.0.0.1:{port}/to?/to?/to?/to?/to?/to?/to?/x");
    assert!(matches!(allowed.send(post(&looping)).await.unwrap_err(), OutboundError::TooManyRedirects));
}

#[tokio::test]
async fn without_redirects_a_redirect_is_the_answer() {
    let (port, seen) = receiver(301).await;
    let callbacks = guard(&format!("127.0.0.1:{port}")).without_redirects();
    let url = format!("http://127.0.0.1:{port}/to?http://127.0.0.1:{port}/elsewhere");
    assert_eq!(callbacks.send(post(&url)).await.unwrap().status(), 301, "not a delivery: the message went nowhere");
    let hops: Vec<String> = seen.lock().unwrap().iter().map(|(m, _, _)| m.clone()).collect();
    assert_eq!(hops, ["POST"], "the redirect was not followed");
}

#[tokio::test]
async fn errors_never_carry_the_url() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let allowed = guard(&format!("127.0.0.1:{closed}"));
    let err = allowed.send(post(&format!("http://127.0.0.1:{closed}/hook?token=s3cret-token"))).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("s3cret-token") && !shown.contains("/hook"), "{shown}");
}
