//! The registry of machine-readable error codes. Clients (the web page, Modal, creators' automations)
//! branch on these strings, never on message text, so they are stable and live in one place.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    // Request problems (4xx).
    InvalidRequest,
    Unauthorized,
    SignatureInvalid,
    NotFound,
    AssetNotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    LengthRequired,
    RangeNotSatisfiable,
    UploadIncomplete,
    UploadConsumed,
    JobTerminal,
    QuotaExceeded,
    RateLimited,
    IdempotencyConflict,
    UrlForbidden,
    AssetReferenced,
    VariantUnavailable,
    NotReady,
    // Job failures (recorded on the job, not HTTP answers).
    NotAudio,
    TooLong,
    InvalidRecipe,
    SourceUnavailable,
    SourceTooSlow,
    LeaseExpired,
    Timeout,
    MediaToolFailed,
    Cancelled,
    // Render failures (the render service's codes, `contracts/render.json` → `failureCodes`).
    AudioUnavailable,
    AudioTooLarge,
    AudioUnreadable,
    UploadFailed,
    OutputTooLarge,
    RenderFailed,
    RenderCrashed,
    RenderLost,
    // Server trouble (5xx).
    Internal,
    Unavailable,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::SignatureInvalid => "signature_invalid",
            ErrorCode::NotFound => "not_found",
            ErrorCode::AssetNotFound => "asset_not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::LengthRequired => "length_required",
            ErrorCode::RangeNotSatisfiable => "range_not_satisfiable",
            ErrorCode::UploadIncomplete => "upload_incomplete",
            ErrorCode::UploadConsumed => "upload_consumed",
            ErrorCode::JobTerminal => "job_terminal",
            ErrorCode::QuotaExceeded => "quota_exceeded",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::IdempotencyConflict => "idempotency_conflict",
            ErrorCode::UrlForbidden => "url_forbidden",
            ErrorCode::AssetReferenced => "asset_referenced",
            ErrorCode::VariantUnavailable => "variant_unavailable",
            ErrorCode::NotReady => "not_ready",
            ErrorCode::InvalidRecipe => "invalid_recipe",
            ErrorCode::NotAudio => "not_audio",
            ErrorCode::TooLong => "too_long",
            ErrorCode::SourceUnavailable => "source_unavailable",
            ErrorCode::SourceTooSlow => "source_too_slow",
            ErrorCode::LeaseExpired => "lease_expired",
            ErrorCode::Timeout => "timeout",
            ErrorCode::MediaToolFailed => "media_tool_failed",
            ErrorCode::Cancelled => "cancelled",
            ErrorCode::AudioUnavailable => "audio_unavailable",
            ErrorCode::AudioTooLarge => "audio_too_large",
            ErrorCode::AudioUnreadable => "audio_unreadable",
            ErrorCode::UploadFailed => "upload_failed",
            ErrorCode::OutputTooLarge => "output_too_large",
            ErrorCode::RenderFailed => "render_failed",
            ErrorCode::RenderCrashed => "render_crashed",
            ErrorCode::RenderLost => "render_lost",
            ErrorCode::Internal => "internal",
            ErrorCode::Unavailable => "unavailable",
        }
    }

    /// The HTTP status an API answer with this code carries.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidRequest | ErrorCode::UrlForbidden => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::SignatureInvalid => 403,
            ErrorCode::NotFound | ErrorCode::AssetNotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::UploadIncomplete
            | ErrorCode::UploadConsumed
            | ErrorCode::JobTerminal
            | ErrorCode::IdempotencyConflict
            | ErrorCode::AssetReferenced
            | ErrorCode::VariantUnavailable
            | ErrorCode::NotReady => 409,
            ErrorCode::LengthRequired => 411,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::RangeNotSatisfiable => 416,
            // Storage over quota answers 413 instead (see `Problem::with_status`).
            ErrorCode::QuotaExceeded | ErrorCode::RateLimited => 429,
            ErrorCode::NotAudio | ErrorCode::TooLong | ErrorCode::InvalidRecipe => 422,
            ErrorCode::Unavailable => 503,
            ErrorCode::SourceUnavailable
            | ErrorCode::SourceTooSlow
            | ErrorCode::LeaseExpired
            | ErrorCode::Timeout
            | ErrorCode::MediaToolFailed
            | ErrorCode::Cancelled
            | ErrorCode::AudioUnavailable
            | ErrorCode::AudioTooLarge
            | ErrorCode::AudioUnreadable
            | ErrorCode::UploadFailed
            | ErrorCode::OutputTooLarge
            | ErrorCode::RenderFailed
            | ErrorCode::RenderCrashed
            | ErrorCode::RenderLost
            | ErrorCode::Internal => 500,
        }
    }
}

impl ErrorCode {
    /// The codes a render can fail with, as `contracts/render.json` lists them (checked by a test).
    pub const RENDER_FAILURES: [ErrorCode; 11] = [
        ErrorCode::Cancelled,
        ErrorCode::AudioUnavailable,
        ErrorCode::AudioTooLarge,
        ErrorCode::AudioUnreadable,
        ErrorCode::InvalidRequest,
        ErrorCode::UploadFailed,
        ErrorCode::OutputTooLarge,
        ErrorCode::SourceTooSlow,
        ErrorCode::RenderFailed,
        ErrorCode::RenderCrashed,
        ErrorCode::RenderLost,
    ];

    /// Whether a render that failed with this code is submitted again while attempts remain.
    pub fn render_retried(self) -> bool {
        matches!(self, ErrorCode::RenderCrashed | ErrorCode::RenderLost)
    }

    /// The render failure code a string names, if it is one.
    pub fn render_failure(code: &str) -> Option<ErrorCode> {
        Self::RENDER_FAILURES.into_iter().find(|c| c.as_str() == code)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_name_matches_as_str() {
        for code in
            [ErrorCode::PayloadTooLarge, ErrorCode::UploadIncomplete, ErrorCode::NotAudio, ErrorCode::JobTerminal]
        {
            assert_eq!(serde_json::to_value(code).unwrap(), serde_json::json!(code.as_str()));
        }
    }

    #[test]
    fn render_failures_are_the_contracts_with_its_retry_rule() {
        let contract = &crate::render::rules().failure_codes;
        let listed: Vec<(&str, bool)> = contract.iter().map(|c| (c.code.as_str(), c.retried)).collect();
        let ours: Vec<(&str, bool)> =
            ErrorCode::RENDER_FAILURES.iter().map(|c| (c.as_str(), c.render_retried())).collect();
        assert_eq!(ours, listed);
        for code in ErrorCode::RENDER_FAILURES {
            assert_eq!(serde_json::to_value(code).unwrap(), serde_json::json!(code.as_str()));
            assert_eq!(ErrorCode::render_failure(code.as_str()), Some(code));
        }
        assert_eq!(ErrorCode::render_failure("not_a_code"), None);
    }
}

/// A refusal to show the caller: a stable code and a human message (never internal detail).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Problem {
    pub code: ErrorCode,
    pub message: String,
    /// The HTTP status when it is not the code's usual one (a storage quota answers 413, not 429).
    pub status: Option<u16>,
}

impl Problem {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Problem { code, message: message.into(), status: None }
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// The HTTP status of the answer.
    pub fn http_status(&self) -> u16 {
        self.status.unwrap_or_else(|| self.code.http_status())
    }
}
