//! Fetching a creator's media URL for ingest, through the SSRF guard (`outbound`: HTTPS to public
//! addresses only, every resolved address and redirect hop checked, the connection pinned): the
//! declared `Content-Length` and the bytes actually streamed are both capped, and a server that stops
//! sending, or sends slower than the rate floor (`studio_core::source_rate`), is given up on. Every
//! refusal is a job failure in the creator's terms, naming the rule and never the URL or the address
//! it resolved to.

use std::path::Path;
use std::time::Duration;

use studio_core::jobs::JobFailure;
use studio_core::source_rate::SourceRate;
use studio_core::ErrorCode;
use tokio::io::AsyncWriteExt;

use crate::outbound::{Outbound, OutboundError, OutboundRequest};
use crate::transport::now_ms;

/// What was fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The last path segment of the URL (or `download`), for the asset's name.
    pub filename: String,
    pub content_type: String,
    pub size: u64,
}

/// How often a download that sends nothing is judged against the rate floor.
const RATE_CHECK: Duration = Duration::from_secs(1);

/// Downloads `url` into `dest`, at most `max_bytes`, given up (`source_too_slow`, permanent) when it
/// falls below the `floor`.
pub async fn fetch(
    outbound: &Outbound,
    url: &str,
    dest: &Path,
    max_bytes: u64,
    floor: SourceRate,
) -> Result<Fetched, JobFailure> {
    let request = OutboundRequest { method: reqwest::Method::GET, url: url.to_owned(), headers: vec![], body: None };
    let mut response = outbound.send(request).await.map_err(refusal)?;
    let status = response.status();
    if !status.is_success() {
        let message = format!("the link answered HTTP {}", status.as_u16());
        return Err(if status.is_server_error() || status.as_u16() == 429 {
            JobFailure::transient(ErrorCode::SourceUnavailable, message)
        } else {
            JobFailure::permanent(ErrorCode::SourceUnavailable, message)
        });
    }
    let too_large = || {
        JobFailure::permanent(ErrorCode::PayloadTooLarge, format!("the file is larger than {} MiB", max_bytes >> 20))
    };
    if response.content_length().is_some_and(|len| len > max_bytes) {
        return Err(too_large());
    }
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "application/octet-stream".into());
    let filename = filename_of(response.url());
    let mut file = tokio::fs::File::create(dest).await.map_err(io_failure)?;
    let mut size = 0u64;
    let mut watch = floor.watch(now_ms());
    loop {
        // A timer as well as each chunk, so an origin that sends nothing is judged too.
        let chunk = match tokio::time::timeout(RATE_CHECK, response.chunk()).await {
            Err(_) => None,
            Ok(Ok(Some(chunk))) => Some(chunk),
            Ok(Ok(None)) => break,
            Ok(Err(e)) => return Err(network(OutboundError::from(e))),
        };
        let arrived = chunk.as_ref().map_or(0, |c| c.len() as u64);
        if let Err(slow) = watch.observe(now_ms(), size + arrived) {
            drop(file);
            let _ = tokio::fs::remove_file(dest).await;
            return Err(JobFailure::permanent(ErrorCode::SourceTooSlow, slow.message(watch.floor())));
        }
        let Some(chunk) = chunk else { continue };
        size += chunk.len() as u64;
        if size > max_bytes {
            drop(file);
            let _ = tokio::fs::remove_file(dest).await;
            return Err(too_large());
        }
        file.write_all(&chunk).await.map_err(io_failure)?;
    }
    file.flush().await.map_err(io_failure)?;
    Ok(Fetched { filename, content_type, size })
}

/// The guard's refusals are permanent `url_forbidden`; trouble reaching an acceptable URL is transient.
fn refusal(e: OutboundError) -> JobFailure {
    let rule = match e {
        OutboundError::Network(_) | OutboundError::Unresolvable(_) | OutboundError::TimedOut => return network(e),
        OutboundError::InvalidUrl => "the link is not a valid https URL",
        OutboundError::NotHttps => "only https links are allowed (a redirect included)",
        OutboundError::Credentials => "links carrying credentials are not allowed",
        OutboundError::Forbidden(_) => {
            "the link leads to an address that is not public (loopback, private, link-local, CGNAT, multicast, \
             reserved and mapped addresses are refused, a redirect's included)"
        }
        OutboundError::TooManyRedirects => "the link redirects more than 5 times",
    };
    JobFailure::permanent(ErrorCode::UrlForbidden, rule)
}

fn network(e: OutboundError) -> JobFailure {
    let timed_out =
        matches!(&e, OutboundError::TimedOut) || matches!(&e, OutboundError::Network(inner) if inner.is_timeout());
    let message = if timed_out { "the link stopped answering" } else { "the link could not be reached" };
    JobFailure::transient(ErrorCode::SourceUnavailable, message).with_detail(e.to_string())
}

fn io_failure(e: std::io::Error) -> JobFailure {
    JobFailure::transient(ErrorCode::Internal, "an internal error occurred").with_detail(e.to_string())
}

fn filename_of(url: &reqwest::Url) -> String {
    url.path_segments()
        .and_then(|mut segments| segments.next_back())
        .map(|last| last.chars().filter(|c| !c.is_control()).take(120).collect::<String>())
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| "download".to_owned())
}
