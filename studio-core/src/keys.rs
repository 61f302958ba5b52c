//! The storage key layout. Nobody formats keys by hand: every blob key is built (and parsed) here.
//! Keys only ever contain `[a-z0-9_./-]`, so they are safe in URL paths without escaping.
//!
//! Every blob of an account lives under `accounts/{account_id}/`; rows made before accounts existed
//! (no owner) keep the bare layout, so their blobs can still be found and swept.

/// The prefix of an owner's blobs.
pub fn owner_prefix(account_id: Option<&str>) -> String {
    match account_id {
        Some(account) => format!("accounts/{account}/"),
        None => String::new(),
    }
}

/// Splits a key into its owner (if it has one) and the rest.
fn split_owner(key: &str) -> Option<(Option<&str>, &str)> {
    match key.strip_prefix("accounts/") {
        Some(rest) => {
            let (account, rest) = rest.split_once('/')?;
            is_id(account).then_some((Some(account), rest))
        }
        None => Some((None, key)),
    }
}

/// The name an upload's bytes are PUT to (the signed upload URL's key). It is never stored under this
/// name: each PUT lands under its own [`upload_put`] key.
pub fn upload_source(account_id: Option<&str>, upload_id: &str) -> String {
    format!("{}uploads/{upload_id}/source", owner_prefix(account_id))
}

/// Where the `seq`-th PUT of an upload's bytes is stored. A PUT only ever writes and deletes its own key,
/// so bytes an ingest job reads are never overwritten or removed by a PUT that lost a race.
pub fn upload_put(account_id: Option<&str>, upload_id: &str, seq: i64) -> String {
    format!("{}uploads/{upload_id}/source.{seq}", owner_prefix(account_id))
}

/// Where a resumable upload's parts are assembled (an R2 multipart upload); once complete, these are
/// the upload's bytes.
pub fn upload_multipart(account_id: Option<&str>, upload_id: &str) -> String {
    format!("{}uploads/{upload_id}/source.parts", owner_prefix(account_id))
}

/// The owner and upload id of a resumable upload's key, if the key is one.
pub fn parse_upload_multipart(key: &str) -> Option<(Option<&str>, &str)> {
    let (owner, rest) = split_owner(key)?;
    let id = rest.strip_prefix("uploads/")?.strip_suffix("/source.parts")?;
    (is_id(id)).then_some((owner, id))
}

/// The owner and upload id of an upload-source key, if the key is one.
pub fn parse_upload_source(key: &str) -> Option<(Option<&str>, &str)> {
    let (owner, rest) = split_owner(key)?;
    let id = rest.strip_prefix("uploads/")?.strip_suffix("/source")?;
    (is_id(id)).then_some((owner, id))
}

/// The asset's audio as ingested (extension from the detected container).
pub fn asset_original(account_id: Option<&str>, asset_id: &str, ext: &str) -> String {
    format!("{}assets/{asset_id}/original.{}", owner_prefix(account_id), sanitize_ext(ext))
}

/// The asset's waveform (JSON array of `[min, max]` pairs).
pub fn asset_peaks(account_id: Option<&str>, asset_id: &str) -> String {
    format!("{}assets/{asset_id}/peaks.json", owner_prefix(account_id))
}

/// The asset's prepared audio as saved by edit job `job_id` (each save writes its own key, so a render
/// reading the previous one is never overwritten under it).
pub fn asset_prepared(account_id: Option<&str>, asset_id: &str, job_id: &str, ext: &str) -> String {
    format!("{}assets/{asset_id}/prepared-{job_id}.{}", owner_prefix(account_id), sanitize_ext(ext))
}

/// The waveform of the prepared audio saved by edit job `job_id`.
pub fn asset_prepared_peaks(account_id: Option<&str>, asset_id: &str, job_id: &str) -> String {
    format!("{}assets/{asset_id}/prepared-{job_id}-peaks.json", owner_prefix(account_id))
}

/// An edit preview of the recipe with this hash, made by job `job_id` (its own key, so a preview job
/// that dies can never take a stored preview with it).
pub fn preview(account_id: Option<&str>, recipe_hash: &str, job_id: &str) -> String {
    format!("{}previews/{recipe_hash}-{job_id}.mp3", owner_prefix(account_id))
}

/// A render job's video.
pub fn render_video(account_id: Option<&str>, job_id: &str) -> String {
    format!("{}renders/{job_id}/video.mp4", owner_prefix(account_id))
}

/// The owner and job id of a render output key, if the key is one.
pub fn parse_render_output(key: &str) -> Option<(Option<&str>, &str)> {
    let (owner, rest) = split_owner(key)?;
    let (id, _) = rest.strip_prefix("renders/")?.split_once('/')?;
    (is_id(id)).then_some((owner, id))
}

/// Whether a string is a key this layout can produce (used to refuse anything else at the blob route).
pub fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 512
        && !key.starts_with('/')
        && key.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != "..")
        && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_./-".contains(&b))
        && split_owner(key).is_some_and(|(_, rest)| {
            ["uploads/", "assets/", "renders/", "previews/"].iter().any(|p| rest.starts_with(p))
        })
}

/// Lower-case alphanumeric, at most 8 characters; anything else becomes `bin`.
pub fn sanitize_ext(ext: &str) -> String {
    let ext = ext.trim_start_matches('.').to_ascii_lowercase();
    if !ext.is_empty() && ext.len() <= 8 && ext.bytes().all(|b| b.is_ascii_alphanumeric()) {
        ext
    } else {
        "bin".to_owned()
    }
}

fn is_id(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_keys_round_trip() {
        let key = upload_source(Some("acc_9"), "upl_0a1b");
        assert_eq!(key, "accounts/acc_9/uploads/upl_0a1b/source");
        assert_eq!(parse_upload_source(&key), Some((Some("acc_9"), "upl_0a1b")));
        assert_eq!(parse_upload_source("uploads/upl_1/source"), Some((None, "upl_1")), "unowned legacy layout");
        assert_eq!(parse_upload_source("uploads/../source"), None);
        assert_eq!(parse_upload_source("accounts/../uploads/upl_1/source"), None);
        assert!(is_valid_key(&key));
        let put = upload_put(Some("acc_9"), "upl_0a1b", 2);
        assert_eq!(put, "accounts/acc_9/uploads/upl_0a1b/source.2");
        assert!(is_valid_key(&put));
        assert_eq!(parse_upload_source(&put), None, "a stored PUT key is not an upload URL");
    }

    #[test]
    fn render_keys_round_trip() {
        let key = render_video(Some("acc_9"), "job_0a1b");
        assert_eq!(key, "accounts/acc_9/renders/job_0a1b/video.mp4");
        assert!(is_valid_key(&key));
        assert_eq!(parse_render_output(&key), Some((Some("acc_9"), "job_0a1b")));
        assert_eq!(parse_render_output("renders/../video.mp4"), None);
        assert_eq!(parse_render_output("assets/job_1/video.mp4"), None);
    }

    #[test]
    fn hostile_keys_are_refused() {
        for key in [
            "",
            "/etc/passwd",
            "assets/../x",
            "assets//x",
            "assets/A",
            "other/x",
            "assets/x?y",
            "accounts/acc_1/other/x",
            "accounts/acc_1",
        ] {
            assert!(!is_valid_key(key), "{key}");
        }
    }

    #[test]
    fn extensions_are_sanitised() {
        assert_eq!(asset_original(None, "ast_1", ".MP3"), "assets/ast_1/original.mp3");
        assert_eq!(asset_original(Some("acc_2"), "ast_1", "x/../y"), "accounts/acc_2/assets/ast_1/original.bin");
        assert_eq!(asset_original(None, "ast_1", ""), "assets/ast_1/original.bin");
    }
}
