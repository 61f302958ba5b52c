//! A local HTTP receiver for creator callbacks (each path answers scripted statuses, then 204, and
//! every request is kept), and verification of what it got with the reference Standard Webhooks
//! library (Python `standardwebhooks`, from the repo's `.venv`).

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value as Json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request a receiver saw: path, lower-cased header names, body.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

pub type Log = Arc<Mutex<Vec<Seen>>>;

/// A local HTTP receiver: each path answers its scripted statuses in turn, then 204. It is served by
/// a task of the calling test's runtime, so it lives as long as that test.
pub async fn receiver(scripts: &[(&str, &[u16])]) -> (u16, Log) {
    receiver_on(0, scripts).await
}

/// The same on a given port (a stack's allow-listed callback port).
pub async fn receiver_on(port: u16, scripts: &[(&str, &[u16])]) -> (u16, Log) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let log: Log = Arc::default();
    let scripts: Arc<Mutex<HashMap<String, Vec<u16>>>> = Arc::new(Mutex::new(
        scripts.iter().map(|(path, statuses)| (path.to_string(), statuses.iter().rev().copied().collect())).collect(),
    ));
    let seen = log.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let (seen, scripts) = (seen.clone(), scripts.clone());
            tokio::spawn(async move {
                let Some(request) = read_request(&mut conn).await else { return };
                let status = scripts.lock().unwrap().get_mut(&request.path).and_then(Vec::pop).unwrap_or(204);
                seen.lock().unwrap().push(request);
                let answer = format!("HTTP/1.1 {status} Scripted\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                let _ = conn.write_all(answer.as_bytes()).await;
            });
        }
    });
    (port, log)
}

async fn read_request(conn: &mut tokio::net::TcpStream) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = conn.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let mut lines = head.lines();
        let path = lines.next()?.split_whitespace().nth(1)?.to_owned();
        let headers: HashMap<String, String> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let length = headers.get("content-length").and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
        while buf.len() < end + 4 + length {
            let n = conn.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
            buf.extend_from_slice(&chunk[..n]);
        }
        return Some(Seen { path, headers, body: buf[end + 4..end + 4 + length].to_vec() });
    }
}

/// The payload, if the reference library verifies the request with `secret` (`None`: no Python here).
pub fn verify_with_reference(secret: &str, seen: &Seen) -> Option<Json> {
    let python = crate::repo_root().join(".venv/bin/python");
    if !python.exists() {
        eprintln!("NOTICE: {} is missing; skipping the reference-library check", python.display());
        return None;
    }
    let script = "import json, sys\n\
                  from standardwebhooks import Webhook\n\
                  d = json.load(sys.stdin)\n\
                  print(json.dumps(Webhook(d['secret']).verify(d['body'], d['headers'])))\n";
    let input = json!({
        "secret": secret,
        "body": String::from_utf8(seen.body.clone()).unwrap(),
        "headers": seen.headers,
    });
    let mut child = Command::new(python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "reference verification failed: {}", String::from_utf8_lossy(&out.stderr));
    Some(serde_json::from_slice(&out.stdout).unwrap())
}
