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
    /// Multipart uploads only: create one, or complete it.
    Post,
}

impl BlobMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            BlobMethod::Get => "GET",
            BlobMethod::Put => "PUT",
            BlobMethod::Delete => "DELETE",
            BlobMethod::Post => "POST",
        }
    }

    /// HEAD is a GET without a body, so a GET signature covers it.
    pub fn from_http(method: &str) -> Option<Self> {
        match method {
            "GET" | "HEAD" => Some(BlobMethod::Get),
            "PUT" => Some(BlobMethod::Put),
            "DELETE" => Some(BlobMethod::Delete),
            "POST" => Some(BlobMethod::Post),
            _ => None,
        }
    }
}

/// What a signature grants: one method on one key until `expires_at_ms`, for at most `max_bytes`
/// (0 means no size grant, as for GET) — and, for a large object, one step of its multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobGrant {
    pub method: BlobMethod,
    pub key: String,
    pub expires_at_ms: i64,
    pub max_bytes: u64,
    pub multipart: Option<MultipartStep>,
    /// The job claim the grant belongs to (`claim_seq`; a render's video URLs): the edge honours it only
    /// while that claim runs, so a call left over from an earlier one cannot write the job's video.
    pub claim: Option<i64>,
}

impl BlobGrant {
    /// A grant for the whole object (no multipart step).
    pub fn object(method: BlobMethod, key: &str, expires_at_ms: i64, max_bytes: u64) -> Self {
        BlobGrant { method, key: key.to_owned(), expires_at_ms, max_bytes, multipart: None, claim: None }
    }
}

/// One step of an R2 multipart upload (objects above the single-PUT limit): `POST` creates it, `PUT`
/// sends a part, `POST` with the upload id completes it, `DELETE` with it aborts it. Each part URL
/// is signed for its own number, so a part URL cannot write another part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultipartStep {
    Create,
    Part { upload_id: String, part_number: u16 },
    Complete { upload_id: String },
    Abort { upload_id: String },
}

impl MultipartStep {
    fn canonical(&self) -> String {
        match self {
            MultipartStep::Create => "mpu-create".to_owned(),
            MultipartStep::Part { upload_id, part_number } => format!("mpu-part {upload_id} {part_number}"),
            MultipartStep::Complete { upload_id } => format!("mpu-complete {upload_id}"),
            MultipartStep::Abort { upload_id } => format!("mpu-abort {upload_id}"),
        }
    }

    /// The HTTP method that performs this step.
    pub fn method(&self) -> BlobMethod {
        match self {
            MultipartStep::Create | MultipartStep::Complete { .. } => BlobMethod::Post,
            MultipartStep::Part { .. } => BlobMethod::Put,
            MultipartStep::Abort { .. } => BlobMethod::Delete,
        }
    }

    fn query(&self) -> String {
        let id = |upload_id: &str| URL_SAFE_NO_PAD.encode(upload_id);
        match self {
            MultipartStep::Create => "&mpu=create".to_owned(),
            MultipartStep::Part { upload_id, part_number } => format!("&upload={}&part={part_number}", id(upload_id)),
            MultipartStep::Complete { upload_id } | MultipartStep::Abort { upload_id } => {
                format!("&upload={}", id(upload_id))
            }
        }
    }
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
        let mut canonical =
            format!("{}\n{}\n{}\n{}", grant.method.as_str(), grant.key, grant.expires_at_ms, grant.max_bytes);
        if let Some(step) = &grant.multipart {
            canonical.push('\n');
            canonical.push_str(&step.canonical());
        }
        if let Some(claim) = grant.claim {
            canonical.push_str(&format!("\nclaim {claim}"));
        }
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
        if let Some(step) = &grant.multipart {
            url.push_str(&step.query());
        }
        if let Some(claim) = grant.claim {
            url.push_str(&format!("&claim={claim}"));
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
    /// The job claim the URL is bound to, if any.
    pub claim: Option<i64>,
    create: bool,
    upload_id: Option<String>,
    part_number: Option<u16>,
}

impl SignedQuery {
    /// Parses `exp`, `max`, `sig` and the multipart parameters out of a raw query string (values are
    /// URL-safe, never escaped: the upload id travels base64url-encoded).
    pub fn parse(query: &str) -> Result<Self, SignatureError> {
        let (mut exp, mut max, mut sig, mut claim) = (None, None, None, None);
        let (mut create, mut upload_id, mut part_number) = (false, None, None);
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("exp", v)) => exp = v.parse::<i64>().ok(),
                Some(("max", v)) => max = v.parse::<u64>().ok(),
                Some(("sig", v)) => sig = Some(v.to_owned()),
                Some(("claim", v)) => claim = Some(v.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
                Some(("mpu", "create")) => create = true,
                Some(("upload", v)) => {
                    let raw = URL_SAFE_NO_PAD.decode(v).map_err(|_| SignatureError::Malformed)?;
                    upload_id = Some(String::from_utf8(raw).map_err(|_| SignatureError::Malformed)?);
                }
                Some(("part", v)) => part_number = Some(v.parse::<u16>().map_err(|_| SignatureError::Malformed)?),
                _ => {}
            }
        }
        Ok(SignedQuery {
            expires_at_ms: exp.ok_or(SignatureError::Malformed)?,
            max_bytes: max.unwrap_or(0),
            signature: sig.ok_or(SignatureError::Malformed)?,
            claim,
            create,
            upload_id,
            part_number,
        })
    }

    /// The multipart step this URL names for a request with `method`, if any; a combination no URL
    /// we mint has is malformed.
    pub fn multipart_step(&self, method: BlobMethod) -> Result<Option<MultipartStep>, SignatureError> {
        let step = match (method, self.create, self.upload_id.clone(), self.part_number) {
            (_, false, None, None) => return Ok(None),
            (BlobMethod::Post, true, None, None) => MultipartStep::Create,
            (BlobMethod::Put, false, Some(upload_id), Some(part_number)) if part_number >= 1 => {
                MultipartStep::Part { upload_id, part_number }
            }
            (BlobMethod::Post, false, Some(upload_id), None) => MultipartStep::Complete { upload_id },
            (BlobMethod::Delete, false, Some(upload_id), None) => MultipartStep::Abort { upload_id },
            _ => return Err(SignatureError::Malformed),
        };
        Ok(Some(step))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> BlobGrant {
        BlobGrant::object(BlobMethod::Put, "uploads/upl_1/source", 2_000, 10)
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
    fn multipart_urls_sign_their_step_and_part() {
        let key = SigningKey::new("s3cret");
        let upload_id = "2~abc+/=Zz";
        let part = |n| BlobGrant {
            multipart: Some(MultipartStep::Part { upload_id: upload_id.into(), part_number: n }),
            ..BlobGrant::object(BlobMethod::Put, "renders/job_1/video.mp4", 2_000, 5 << 20)
        };
        let url = key.url("http://edge", &part(3));
        let q = SignedQuery::parse(url.split_once('?').unwrap().1).unwrap();
        let step = q.multipart_step(BlobMethod::Put).unwrap();
        assert_eq!(step, part(3).multipart, "the upload id survives the URL");
        assert_eq!(key.verify(&BlobGrant { multipart: step, ..part(3) }, &q.signature, 0), Ok(()));
        // Part 3's signature is not part 4's, nor a whole-object PUT's, nor a complete's.
        assert_eq!(key.verify(&part(4), &q.signature, 0), Err(SignatureError::Mismatch));
        assert_eq!(
            key.verify(&BlobGrant { multipart: None, ..part(3) }, &q.signature, 0),
            Err(SignatureError::Mismatch)
        );
        let complete = Some(MultipartStep::Complete { upload_id: upload_id.into() });
        let grant = BlobGrant { method: BlobMethod::Post, multipart: complete, ..part(3) };
        assert_eq!(key.verify(&grant, &q.signature, 0), Err(SignatureError::Mismatch));
        assert_eq!(q.multipart_step(BlobMethod::Post), Err(SignatureError::Malformed), "a part URL is not a POST");
        // Bound to claim 2: the same grant for claim 1 (or none) does not verify.
        let bound = BlobGrant { claim: Some(2), ..part(3) };
        let q = SignedQuery::parse(key.url("http://edge", &bound).split_once('?').unwrap().1).unwrap();
        assert_eq!(q.claim, Some(2));
        assert_eq!(key.verify(&bound, &q.signature, 0), Ok(()));
        for claim in [Some(1), None] {
            assert_eq!(key.verify(&BlobGrant { claim, ..part(3) }, &q.signature, 0), Err(SignatureError::Mismatch));
        }
        let create = SignedQuery::parse("exp=1&mpu=create&sig=x").unwrap();
        assert_eq!(create.multipart_step(BlobMethod::Post), Ok(Some(MultipartStep::Create)));
        assert_eq!(SignedQuery::parse("exp=1&sig=x").unwrap().multipart_step(BlobMethod::Put), Ok(None));
    }

    #[test]
    fn debug_hides_the_secret() {
        assert!(!format!("{:?}", SigningKey::new("hunter2")).contains("hunter2"));
    }
}
