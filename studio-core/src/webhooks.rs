//! Standard Webhooks (<https://www.standardwebhooks.com/>) signing and verification, written once for
//! the edge (verifies the render service's callbacks) and the worker (will sign creators' callbacks):
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` keyed with the secret
//! (`whsec_<base64>`), `webhook-timestamp` in seconds within ±300 s of now. Pure: the clock comes in.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a timestamp may be from now, either way.
pub const TOLERANCE_SECS: i64 = 300;
/// Longest `webhook-id` accepted (they are stored for dedupe).
pub const MAX_ID_LEN: usize = 256;

type HmacSha256 = Hmac<Sha256>;

/// Why a webhook was refused. The text names no secret and no signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("a webhook-id, webhook-timestamp or webhook-signature header is missing or malformed")]
    MissingHeaders,
    #[error("the webhook timestamp is too old or too far in the future")]
    Stale,
    #[error("no webhook signature matches")]
    BadSignature,
}

/// A webhook secret (`whsec_` + base64 key bytes). Its `Debug` never prints the key.
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret([redacted])")
    }
}

impl WebhookSecret {
    /// `None` when the value is not `whsec_` followed by base64.
    pub fn parse(value: &str) -> Option<WebhookSecret> {
        let key = value.trim().strip_prefix("whsec_")?;
        STANDARD.decode(key).ok().filter(|b| !b.is_empty()).map(WebhookSecret)
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC accepts any key length");
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        mac
    }

    /// The `webhook-signature` header value for a message.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", STANDARD.encode(self.mac(id, timestamp, body).finalize().into_bytes()))
    }

    /// Checks the three headers against the raw body. `signatures` may list several space-separated
    /// `v1,<sig>` entries (key rotation); one match is enough. Comparison is constant-time.
    pub fn verify(
        &self,
        id: Option<&str>,
        timestamp: Option<&str>,
        signatures: Option<&str>,
        body: &[u8],
        now_secs: i64,
    ) -> Result<(), WebhookError> {
        let id = id.filter(|i| !i.is_empty() && i.len() <= MAX_ID_LEN).ok_or(WebhookError::MissingHeaders)?;
        let timestamp: i64 = timestamp.and_then(|t| t.trim().parse().ok()).ok_or(WebhookError::MissingHeaders)?;
        let signatures = signatures.ok_or(WebhookError::MissingHeaders)?;
        if (now_secs - timestamp).abs() > TOLERANCE_SECS {
            return Err(WebhookError::Stale);
        }
        let matches = signatures.split_whitespace().filter_map(|s| s.strip_prefix("v1,")).any(|sig| {
            STANDARD.decode(sig).is_ok_and(|given| self.mac(id, timestamp, body).verify_slice(&given).is_ok())
        });
        if matches {
            Ok(())
        } else {
            Err(WebhookError::BadSignature)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_2Lh9KRb0pzN4LePd3XiA4Q";
    const TS: i64 = 1_795_337_789;
    const BODY: &[u8] = br#"{"type":"render.progress","jobId":"job_1","token":"t"}"#;
    /// Made by the reference implementation (Python `standardwebhooks` 1.x) for the values above.
    const REFERENCE: &str = "v1,NCocZG0nyxab1EMllZwjJwA3lPpGbot/e3PGqaH0zs0=";

    fn secret() -> WebhookSecret {
        WebhookSecret::parse(SECRET).unwrap()
    }

    #[test]
    fn signs_like_the_reference_implementation() {
        assert_eq!(secret().sign(ID, TS, BODY), REFERENCE);
        assert_eq!(secret().verify(Some(ID), Some("1795337789"), Some(REFERENCE), BODY, TS + 10), Ok(()));
    }

    #[test]
    fn forged_stale_and_malformed_webhooks_are_refused() {
        let s = secret();
        let ts = TS.to_string();
        let other = WebhookSecret::parse("whsec_c2VjcmV0LW90aGVyLWtleQ==").unwrap();
        type Case<'a> = (Option<&'a str>, Option<&'a str>, String, &'a [u8], i64, WebhookError);
        let cases: Vec<Case> = vec![
            (Some(ID), Some(&ts), other.sign(ID, TS, BODY), BODY, TS, WebhookError::BadSignature),
            (Some(ID), Some(&ts), REFERENCE.into(), b"{\"type\":\"render.completed\"}", TS, WebhookError::BadSignature),
            (Some("msg_other"), Some(&ts), REFERENCE.into(), BODY, TS, WebhookError::BadSignature),
            (Some(ID), Some(&ts), REFERENCE.into(), BODY, TS + TOLERANCE_SECS + 1, WebhookError::Stale),
            (Some(ID), Some(&ts), REFERENCE.into(), BODY, TS - TOLERANCE_SECS - 1, WebhookError::Stale),
            (None, Some(&ts), REFERENCE.into(), BODY, TS, WebhookError::MissingHeaders),
            (Some(ID), Some("soon"), REFERENCE.into(), BODY, TS, WebhookError::MissingHeaders),
            (Some(ID), Some(&ts), "v2,abc".into(), BODY, TS, WebhookError::BadSignature),
            (Some(ID), Some(&ts), "v1,not-base64!".into(), BODY, TS, WebhookError::BadSignature),
        ];
        for (id, ts, sig, body, now, expected) in cases {
            assert_eq!(s.verify(id, ts, Some(&sig), body, now), Err(expected), "{id:?} {sig}");
        }
        // One of several (rotated) signatures is enough.
        let both = format!("{} {REFERENCE}", other.sign(ID, TS, BODY));
        assert_eq!(s.verify(Some(ID), Some(&ts), Some(&both), BODY, TS), Ok(()));
    }

    #[test]
    fn only_whsec_base64_secrets_parse() {
        assert!(WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_none());
        assert!(WebhookSecret::parse("whsec_").is_none());
        assert!(WebhookSecret::parse("whsec_***").is_none());
        assert!(!format!("{:?}", secret()).contains("MfKQ9r8G"));
    }
}
