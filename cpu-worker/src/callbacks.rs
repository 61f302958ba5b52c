//! Delivers creators' callbacks from the outbox (`studio_core::callbacks`): claims each due callback,
//! signs it the Standard Webhooks way with the account's secret (and the previous one while a rotation
//! is fresh), sends it through the SSRF guard and records the attempt, which settles or reschedules it.
//! The `webhook-id` is the callback's id on every attempt, so receivers can drop repeats. Logs name the
//! callback, job, attempt and status code — never the URL, a secret, a signature or the payload.

use std::error::Error as _;
use std::time::{Duration, Instant};

use reqwest::Method;
use studio_core::callbacks::{self, AttemptOutcome, AttemptResult, CallbackEvent, DueCallback, Recorded};
use studio_core::signing::BlobMethod;
use studio_core::webhooks::WebhookSecret;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn, Instrument};

use crate::blobs::BlobClient;
use crate::config::CallbackConfig;
use crate::outbound::{Outbound, OutboundError, OutboundRequest};
use crate::transport::{now_ms, Db};

/// Per-hop timeout of a delivery (give [`Outbound::new`] this).
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest a whole delivery (redirects included) may take before it counts as unreachable.
const DELIVERY_LIMIT: Duration = Duration::from_secs(60);
/// How long a claimed callback stays with this worker; well past [`DELIVERY_LIMIT`].
const LEASE_MS: i64 = 3 * 60_000;
/// Deliveries in flight at once, so one slow receiver does not hold up the rest.
const MAX_IN_FLIGHT: usize = 8;
/// How long shutdown waits for deliveries in flight (an abandoned one is retried after its lease).
const SHUTDOWN_DRAIN: Duration = Duration::from_secs(20);
const USER_AGENT: &str = "EtherealFlameStudio-Webhooks/1";

/// Claims and delivers due callbacks until `shutdown`: drains everything due (up to
/// [`MAX_IN_FLIGHT`] at once), then waits for the poll interval.
pub async fn run(db: Db, outbound: Outbound, blobs: BlobClient, config: CallbackConfig, shutdown: CancellationToken) {
    let mut in_flight = JoinSet::new();
    loop {
        while in_flight.len() < MAX_IN_FLIGHT {
            match callbacks::claim_due(&db, now_ms(), LEASE_MS).await {
                Ok(Some(due)) => {
                    let span = tracing::info_span!(
                        "callback",
                        callback_id = %due.id,
                        job_id = %due.job_id,
                        attempt = due.attempt
                    );
                    let (db, outbound, blobs) = (db.clone(), outbound.clone(), blobs.clone());
                    in_flight.spawn(deliver(db, outbound, blobs, config.retry_scale, due).instrument(span));
                }
                Ok(None) => break,
                Err(e) => {
                    warn!(error = %e, "could not claim a due callback");
                    break;
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
            _ = tokio::time::sleep(config.poll_interval), if in_flight.len() < MAX_IN_FLIGHT => {}
        }
    }
    let drained = tokio::time::timeout(SHUTDOWN_DRAIN, async { while in_flight.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        warn!(in_flight = in_flight.len(), "callback deliveries still in flight at shutdown; they will be retried");
    }
}

/// Makes one attempt at a claimed callback and records it.
async fn deliver(db: Db, outbound: Outbound, blobs: BlobClient, scale: f64, due: DueCallback) {
    let started = Instant::now();
    let result = attempt(&outbound, &blobs, &due).await;
    let status_code = match &result {
        AttemptResult::Answered(code) => Some(*code),
        _ => None,
    };
    let outcome = AttemptOutcome { duration_ms: started.elapsed().as_millis() as i64, result };
    match callbacks::record_attempt(&db, &due.id, due.attempt, &outcome, now_ms(), scale).await {
        Ok(Recorded::Delivered) => info!(status_code, "callback {} delivered", due.id),
        Ok(Recorded::RetryAt(at)) => {
            warn!(
                status_code,
                error = error_of(&outcome.result),
                next_attempt_at = at,
                "callback {} not delivered; will retry",
                due.id
            )
        }
        Ok(Recorded::Failed) => {
            warn!(status_code, error = error_of(&outcome.result), "callback {} failed for good", due.id)
        }
        Ok(Recorded::Stale) => info!(status_code, "callback {} moved on during this attempt", due.id),
        Err(e) => warn!(status_code, error = %e, "could not record callback {}'s attempt; it will be retried", due.id),
    }
}

fn error_of(result: &AttemptResult) -> Option<&str> {
    match result {
        AttemptResult::Answered(_) => None,
        AttemptResult::Unreachable(e) | AttemptResult::Refused(e) => Some(e),
    }
}

/// Builds, signs and sends the message.
async fn attempt(outbound: &Outbound, blobs: &BlobClient, due: &DueCallback) -> AttemptResult {
    let Some(secret) = due.secret.as_ref().and_then(|s| WebhookSecret::parse(s.expose())) else {
        return AttemptResult::Refused("the account has no valid webhook secret".into());
    };
    let now = now_ms();
    let download_url = match (due.event, &due.output_key) {
        (CallbackEvent::Completed, Some(key)) => Some(blobs.signed_url(BlobMethod::Get, key, 0)),
        _ => None,
    };
    let body = match serde_json::to_vec(&callbacks::payload(due, download_url.as_deref(), now)) {
        Ok(body) => body,
        Err(_) => return AttemptResult::Refused("the payload could not be encoded".into()),
    };
    let timestamp = now.div_euclid(1000);
    let mut signature = secret.sign(&due.id, timestamp, &body);
    if let Some(previous) = due.previous_secret.as_ref().and_then(|s| WebhookSecret::parse(s.expose())) {
        signature.push(' ');
        signature.push_str(&previous.sign(&due.id, timestamp, &body));
    }
    let request = OutboundRequest {
        method: Method::POST,
        url: due.url.clone(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("user-agent".into(), USER_AGENT.into()),
            ("webhook-id".into(), due.id.clone()),
            ("webhook-timestamp".into(), timestamp.to_string()),
            ("webhook-signature".into(), signature),
        ],
        body: Some(body),
    };
    match tokio::time::timeout(DELIVERY_LIMIT, outbound.send(request)).await {
        Err(_) => AttemptResult::Unreachable("timed out".into()),
        Ok(Ok(response)) => AttemptResult::Answered(response.status().as_u16()),
        Ok(Err(e)) => classify(&e, &due.url),
    }
}

/// A guard refusal is final; anything else may clear up. The text never carries the URL (nor the host).
fn classify(error: &OutboundError, url: &str) -> AttemptResult {
    match error {
        OutboundError::InvalidUrl | OutboundError::NotHttps | OutboundError::Credentials => {
            AttemptResult::Refused(format!("refused: {error}"))
        }
        OutboundError::Forbidden(_) => {
            AttemptResult::Refused("refused: the host resolves to an address that is not public".into())
        }
        OutboundError::Unresolvable(_) => AttemptResult::Unreachable("the host could not be resolved".into()),
        OutboundError::TooManyRedirects | OutboundError::TimedOut => AttemptResult::Unreachable(error.to_string()),
        OutboundError::Network(e) => {
            let mut text = e.to_string();
            let mut source = e.source();
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            AttemptResult::Unreachable(text.replace(url, "[url]"))
        }
    }
}
