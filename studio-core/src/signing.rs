//! Signed blob URLs: `HMAC-SHA256(secret, method ‖ key ‖ expiry ‖ size limit)`, base64url, checked in
//! constant time. The cpu-worker mints them (for itself, and short-lived for Modal); the edge mints
//! them for creators and verifies every one before touching R2.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The path prefix under which the edge serves signed blob URLs.
pub const BLOB_PATH_PREFIX: &str = "/blobs/";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobMethod {
    Get,
    Put,
    Delete,
}

impl BlobMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            BlobMethod::Get => "GET",
            BlobMethod::Put => "PUT",
            BlobMethod::Delete => "DELETE",
        }
    }

    /// HEAD is a GET without a body, so a GET signature covers it.
    pub fn from_http(method: &str) -> Option<Self> {
        match method {
            "GET" | "HEAD" => Some(BlobMethod::Get),
            "PUT" => Some(BlobMethod::Put),
            "DELETE" => Some(BlobMethod::Delete),
            _ => None,
        }
    }
}

/// What a signature grants: one method on one key until `expires_at_ms`, for at most `max_bytes`
/// (0 means no size grant, as for GET).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobGrant {
    pub method: BlobMethod,
    pub key: String,
    pub expires_at_ms: i64,
    pub max_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signed URL is malformed")]
    Malformed,
    #[error("the signed URL has expired")]
    Expired,
    #[error("the signature does not match")]
    Mismatch,
}

/// The secret used to sign and verify. Its `Debug` never prints the bytes.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(**redacted**)")
    }
}

impl SigningKey {
    pub fn new(secret: &str) -> Self {
        SigningKey(secret.as_bytes().to_vec())
    }

    fn mac(&self, grant: &BlobGrant) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC accepts any key length");
        let canonical =
            format!("{}\n{}\n{}\n{}", grant.method.as_str(), grant.key, grant.expires_at_ms, grant.max_bytes);
        mac.update(canonical.as_bytes());
        mac
    }

    pub fn sign(&self, grant: &BlobGrant) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(grant).finalize().into_bytes())
    }

    /// The full URL for a grant, under the edge's public base URL.
    pub fn url(&self, base_url: &str, grant: &BlobGrant) -> String {
        let base = base_url.trim_end_matches('/');
        let mut url = format!("{base}{BLOB_PATH_PREFIX}{}?exp={}", grant.key, grant.expires_at_ms);
        if grant.max_bytes > 0 {
            url.push_str(&format!("&max={}", grant.max_bytes));
        }
        url.push_str("&sig=");
        url.push_str(&self.sign(grant));
        url
    }

    /// Checks a request against its signature; the comparison is constant-time.
    pub fn verify(&self, grant: &BlobGrant, signature: &str, now_ms: i64) -> Result<(), SignatureError> {
        let given = URL_SAFE_NO_PAD.decode(signature).map_err(|_| SignatureError::Malformed)?;
        self.mac(grant).verify_slice(&given).map_err(|_| SignatureError::Mismatch)?;
        if now_ms > grant.expires_at_ms {
            return Err(SignatureError::Expired);
        }
        Ok(())
    }
}

/// The signed parts of a blob URL's query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedQuery {
    pub expires_at_ms: i64,
    pub max_bytes: u64,
    pub signature: String,
}

impl SignedQuery {
    /// Parses `exp`, `max` and `sig` out of a raw query string (values are URL-safe, never escaped).
    pub fn parse(query: &str) -> Result<Self, SignatureError> {
        let (mut exp, mut max, mut sig) = (None, None, None);
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("exp", v)) => exp = v.parse::<i64>().ok(),
                Some(("max", v)) => max = v.parse::<u64>().ok(),
                Some(("sig", v)) => sig = Some(v.to_owned()),
                _ => {}
            }
        }
        Ok(SignedQuery {
            expires_at_ms: exp.ok_or(SignatureError::Malformed)?,
            max_bytes: max.unwrap_or(0),
            signature: sig.ok_or(SignatureError::Malformed)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> BlobGrant {
        BlobGrant { method: BlobMethod::Put, key: "uploads/upl_1/source".into(), expires_at_ms: 2_000, max_bytes: 10 }
    }

    #[test]
    fn a_signed_url_verifies_and_round_trips_through_its_query() {
        let key = SigningKey::new("s3cret");
        let url = key.url("http://edge.test/", &grant());
        assert!(url.starts_with("http://edge.test/blobs/uploads/upl_1/source?exp=2000&max=10&sig="));
        let q = SignedQuery::parse(url.split_once('?').unwrap().1).unwrap();
        let g = BlobGrant { expires_at_ms: q.expires_at_ms, max_bytes: q.max_bytes, ..grant() };
        assert_eq!(key.verify(&g, &q.signature, 1_000), Ok(()));
    }

    #[test]
    fn any_changed_field_breaks_the_signature() {
        let key = SigningKey::new("s3cret");
        let sig = key.sign(&grant());
        let changed = [
            BlobGrant { method: BlobMethod::Get, ..grant() },
            BlobGrant { key: "uploads/upl_2/source".into(), ..grant() },
            BlobGrant { expires_at_ms: 2_001, ..grant() },
            BlobGrant { max_bytes: 11, ..grant() },
        ];
        for g in changed {
            assert_eq!(key.verify(&g, &sig, 0), Err(SignatureError::Mismatch), "{g:?}");
        }
        assert_eq!(SigningKey::new("other").verify(&grant(), &sig, 0), Err(SignatureError::Mismatch));
    }

    #[test]
    fn expired_and_malformed_signatures_are_refused() {
        let key = SigningKey::new("s3cret");
        let sig = key.sign(&grant());
        assert_eq!(key.verify(&grant(), &sig, 2_001), Err(SignatureError::Expired));
        assert_eq!(key.verify(&grant(), "not base64!", 0), Err(SignatureError::Malformed));
        assert_eq!(SignedQuery::parse("exp=1"), Err(SignatureError::Malformed));
    }

    #[test]
    fn debug_hides_the_secret() {
        assert!(!format!("{:?}", SigningKey::new("hunter2")).contains("hunter2"));
    }
}
