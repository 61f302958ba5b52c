//! `POST /api/uploads`'s body: what a creator declares before sending bytes, and its shape and limit
//! checks (the size limit is enforced again when the bytes arrive).

use serde::Deserialize;

use crate::error_code::{ErrorCode, Problem};
use crate::limits::{MAX_FILENAME_CHARS, MAX_SOURCE_BYTES};

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateUploadRequest {
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    /// Ask for a resumable (multipart) upload even below the size that gets one anyway.
    #[serde(default)]
    pub multipart: bool,
}

impl CreateUploadRequest {
    /// Whether this upload goes up in parts.
    pub fn resumable(&self) -> bool {
        self.multipart || self.size > crate::limits::RESUMABLE_UPLOAD_ABOVE_BYTES
    }
}

impl CreateUploadRequest {
    /// Shape and limit checks; the size limit is enforced again when the bytes arrive.
    pub fn validate(&self) -> Result<(), Problem> {
        let name = self.filename.trim();
        if name.is_empty()
            || name.chars().count() > MAX_FILENAME_CHARS
            || name.chars().any(|c| c.is_control() || is_bidi_control(c))
            || !name.chars().any(is_visible)
        {
            return Err(Problem::new(
                ErrorCode::InvalidRequest,
                format!(
                    "filename must be 1–{MAX_FILENAME_CHARS} printable characters, with at least one visible \
                     character and no control or text-direction characters"
                ),
            ));
        }
        let ct = self.content_type.trim();
        if ct.is_empty() || ct.len() > 255 || !ct.contains('/') || ct.chars().any(|c| c.is_control()) {
            return Err(Problem::new(ErrorCode::InvalidRequest, "contentType must be a MIME type such as audio/mpeg"));
        }
        if self.size == 0 {
            return Err(Problem::new(ErrorCode::InvalidRequest, "size must be at least 1 byte"));
        }
        if self.size > MAX_SOURCE_BYTES {
            return Err(Problem::new(
                ErrorCode::PayloadTooLarge,
                format!("size {} exceeds the {} MiB upload limit", self.size, MAX_SOURCE_BYTES / (1024 * 1024)),
            ));
        }
        Ok(())
    }
}

/// Characters that reorder how text is displayed (they make `song\u{202E}3pm.exe` look like
/// `songexe.mp3`): never allowed in a name we show back.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether a character draws something: not whitespace and not one of Unicode's default-ignorable
/// (invisible) code points.
fn is_visible(c: char) -> bool {
    !(c.is_whitespace()
        || c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
            | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}' | '\u{2800}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
            | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}' | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(size: u64) -> CreateUploadRequest {
        CreateUploadRequest { filename: "song.mp3".into(), content_type: "audio/mpeg".into(), size, multipart: false }
    }

    #[test]
    fn upload_size_limit_is_a_413() {
        assert_eq!(upload(MAX_SOURCE_BYTES).validate(), Ok(()));
        assert_eq!(upload(MAX_SOURCE_BYTES + 1).validate().unwrap_err().code, ErrorCode::PayloadTooLarge);
        assert_eq!(upload(0).validate().unwrap_err().code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn bad_names_and_types_are_refused() {
        let mut r = upload(10);
        r.filename = "a\nb".into();
        assert_eq!(r.validate().unwrap_err().code, ErrorCode::InvalidRequest);
        let mut r = upload(10);
        r.content_type = "nonsense".into();
        assert_eq!(r.validate().unwrap_err().code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn invisible_and_direction_changing_names_are_refused() {
        for name in [
            "\u{200B}\u{200B}",
            "\u{202E}\u{202D}",
            "\u{2066}",
            "\u{FEFF}",
            "\u{3164}",
            " \u{2800} ",
            "song\u{202E}3pm.exe",
        ] {
            let mut r = upload(10);
            r.filename = name.into();
            assert_eq!(r.validate().unwrap_err().code, ErrorCode::InvalidRequest, "{name:?}");
        }
        for name in ["Ünïcödé – ♫.mp3", "曲.wav", "مرحبا.mp3", "a\u{200D}b.wav"] {
            let mut r = upload(10);
            r.filename = name.into();
            assert_eq!(r.validate(), Ok(()), "{name:?}");
        }
    }
}
