//! The storage key layout. Nobody formats keys by hand: every blob key is built (and parsed) here.
//! Keys only ever contain `[a-z0-9_./-]`, so they are safe in URL paths without escaping.

/// The name an upload's bytes are PUT to (the signed upload URL's key). It is never stored under this
/// name: each PUT lands under its own [`upload_put`] key.
pub fn upload_source(upload_id: &str) -> String {
    format!("uploads/{upload_id}/source")
}

/// Where the `seq`-th PUT of an upload's bytes is stored. A PUT only ever writes and deletes its own key,
/// so bytes an ingest job reads are never overwritten or removed by a PUT that lost a race.
pub fn upload_put(upload_id: &str, seq: i64) -> String {
    format!("uploads/{upload_id}/source.{seq}")
}

/// The upload id of an upload-source key, if the key is one.
pub fn parse_upload_source(key: &str) -> Option<&str> {
    let id = key.strip_prefix("uploads/")?.strip_suffix("/source")?;
    (is_id(id)).then_some(id)
}

/// The asset's audio as ingested (extension from the detected container).
pub fn asset_original(asset_id: &str, ext: &str) -> String {
    format!("assets/{asset_id}/original.{}", sanitize_ext(ext))
}

/// The asset's waveform (JSON array of `[min, max]` pairs).
pub fn asset_peaks(asset_id: &str) -> String {
    format!("assets/{asset_id}/peaks.json")
}

/// A render job's video.
pub fn render_video(job_id: &str) -> String {
    format!("renders/{job_id}/video.mp4")
}

/// The job id of a render output key, if the key is one.
pub fn parse_render_output(key: &str) -> Option<&str> {
    let (id, _) = key.strip_prefix("renders/")?.split_once('/')?;
    (is_id(id)).then_some(id)
}

/// Whether a string is a key this layout can produce (used to refuse anything else at the blob route).
pub fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 512
        && !key.starts_with('/')
        && key.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != "..")
        && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_./-".contains(&b))
        && (key.starts_with("uploads/") || key.starts_with("assets/") || key.starts_with("renders/"))
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
        let key = upload_source("upl_0a1b");
        assert_eq!(key, "uploads/upl_0a1b/source");
        assert_eq!(parse_upload_source(&key), Some("upl_0a1b"));
        assert_eq!(parse_upload_source("uploads/../source"), None);
        assert!(is_valid_key(&key));
        let put = upload_put("upl_0a1b", 2);
        assert_eq!(put, "uploads/upl_0a1b/source.2");
        assert!(is_valid_key(&put));
        assert_eq!(parse_upload_source(&put), None, "a stored PUT key is not an upload URL");
    }

    #[test]
    fn render_keys_round_trip() {
        let key = render_video("job_0a1b");
        assert_eq!(key, "renders/job_0a1b/video.mp4");
        assert!(is_valid_key(&key));
        assert_eq!(parse_render_output(&key), Some("job_0a1b"));
        assert_eq!(parse_render_output("renders/../video.mp4"), None);
        assert_eq!(parse_render_output("assets/job_1/video.mp4"), None);
    }

    #[test]
    fn hostile_keys_are_refused() {
        for key in ["", "/etc/passwd", "assets/../x", "assets//x", "assets/A", "other/x", "assets/x?y"] {
            assert!(!is_valid_key(key), "{key}");
        }
    }

    #[test]
    fn extensions_are_sanitised() {
        assert_eq!(asset_original("ast_1", ".MP3"), "assets/ast_1/original.mp3");
        assert_eq!(asset_original("ast_1", "x/../y"), "assets/ast_1/original.bin");
        assert_eq!(asset_original("ast_1", ""), "assets/ast_1/original.bin");
    }
}
