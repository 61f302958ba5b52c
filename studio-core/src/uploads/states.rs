//! The upload state machine, written once (as `jobs::transitions` is for jobs): the states, and every
//! SQL predicate and state change on `uploads`. Other files compose these fragments; none spells a
//! status or the withdrawal rule itself.
//!
//! `awaiting_bytes` → `received` (a PUT, or a resumable upload's completion) → `consumed` (by exactly
//! one ingest job). A PUT may replace the bytes while the upload is `received`. An upload never
//! consumed may be *withdrawn* (`withdrawn_at` set) before its bytes are deleted: from then on nothing
//! may use it.

/// An upload's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadStatus {
    AwaitingBytes,
    Received,
    Consumed,
}

impl UploadStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UploadStatus::AwaitingBytes => "awaiting_bytes",
            UploadStatus::Received => "received",
            UploadStatus::Consumed => "consumed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [UploadStatus::AwaitingBytes, UploadStatus::Received, UploadStatus::Consumed]
            .into_iter()
            .find(|u| u.as_str() == s)
    }
}

/// SQL: not withdrawn.
pub const NOT_WITHDRAWN: &str = "withdrawn_at IS NULL";
/// SQL: never consumed (withdrawn or not).
pub const UNCONSUMED: &str = "status IN ('awaiting_bytes', 'received')";
/// SQL: open — never consumed and not withdrawn, so bytes may still land.
pub const OPEN: &str = "status IN ('awaiting_bytes', 'received') AND withdrawn_at IS NULL";
/// SQL: waiting for its bytes and not withdrawn (a resumable upload's parts may land).
pub const AWAITING_BYTES: &str = "status = 'awaiting_bytes' AND withdrawn_at IS NULL";
/// SQL: its bytes are in and it is not withdrawn: an ingest may consume it.
pub const READY: &str = "status = 'received' AND withdrawn_at IS NULL";
/// SQL: taken by an ingest job.
pub const CONSUMED: &str = "status = 'consumed'";
/// SQL (a `SET` clause): the bytes are in.
pub const SET_RECEIVED: &str = "status = 'received'";
/// SQL (a `SET` clause): an ingest job took it.
pub const SET_CONSUMED: &str = "status = 'consumed'";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fragments_spell_the_states_as_the_enum_does() {
        for s in [UploadStatus::AwaitingBytes, UploadStatus::Received, UploadStatus::Consumed] {
            assert_eq!(UploadStatus::parse(s.as_str()), Some(s));
        }
        assert!(OPEN.starts_with(UNCONSUMED) && OPEN.ends_with(NOT_WITHDRAWN));
        assert!(AWAITING_BYTES.contains(UploadStatus::AwaitingBytes.as_str()));
        assert!(READY.contains(UploadStatus::Received.as_str()) && SET_RECEIVED.contains("received"));
        assert!(CONSUMED == SET_CONSUMED && CONSUMED.contains(UploadStatus::Consumed.as_str()));
        assert_eq!(UploadStatus::parse("withdrawn"), None);
    }
}
