//! Product limits, enforced on the server. One place, so the edge and the worker agree.

/// Largest upload or source file accepted for ingest: 100 MiB.
pub const MAX_SOURCE_BYTES: u64 = 100 * 1024 * 1024;
/// Longest audio accepted: 30 minutes.
pub const MAX_DURATION_SEC: f64 = 30.0 * 60.0;
/// Longest file name kept for an upload.
pub const MAX_FILENAME_CHARS: usize = 255;
/// How long an upload URL stays valid.
pub const UPLOAD_URL_TTL_MS: i64 = 60 * 60 * 1000;
/// How long a download URL handed to a creator stays valid (default; the edge may override).
pub const DOWNLOAD_URL_TTL_MS: i64 = 24 * 60 * 60 * 1000;
/// Upper bound for URLs minted for machines (the worker, Modal).
pub const MACHINE_URL_TTL_MS: i64 = 60 * 60 * 1000;
/// Waveform resolution: min/max pairs per second of audio.
pub const PEAKS_PER_SECOND: u32 = 50;
/// An upload that was never ingested is swept this long after it was declared.
pub const UNUSED_UPLOAD_TTL_MS: i64 = 24 * 60 * 60 * 1000;
/// Largest body one PUT through the edge may carry: the Workers request body limit of Free/Pro zones.
pub const SINGLE_PUT_MAX_BYTES: u64 = 100_000_000;
/// Part size of a multipart upload the worker plans for a render's video (R2: equal parts ≥ 5 MiB).
pub const MULTIPART_PART_BYTES: u64 = 64 * 1024 * 1024;
/// Uploads larger than this go up in parts (resumable); smaller ones may ask for parts.
pub const RESUMABLE_UPLOAD_ABOVE_BYTES: u64 = 32 * 1024 * 1024;
/// The part size of a resumable upload (R2 needs ≥ 5 MiB for every part but the last).
pub const UPLOAD_PART_BYTES: u64 = 8 * 1024 * 1024;
/// Largest render output accepted: 20 GiB (320 parts of [`MULTIPART_PART_BYTES`]).
pub const MAX_RENDER_OUTPUT_BYTES: u64 = 20 * 1024 * 1024 * 1024;
/// How long a preview is kept after it was last asked for (and how long a finished preview job's
/// download stays valid).
pub const PREVIEW_TTL_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// An asset no job used for this long (and no saved recipe names) is removed with its blobs; the
/// worker's `ASSET_UNUSED_DAYS` overrides it.
pub const ASSET_UNUSED_MS: i64 = 30 * 24 * 60 * 60 * 1000;
