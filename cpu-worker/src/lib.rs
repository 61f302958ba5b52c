//! The cpu-worker: claims jobs from Turso, runs ffmpeg/ffprobe on them, and writes results back — every
//! write fenced by its claim. Blob storage is reached only through the edge's signed URLs.

pub mod blobs;
pub mod callbacks;
pub mod config;
pub mod housekeeping;
pub mod jobs;
pub mod media;
pub mod outbound;
pub mod render_service;
pub mod render_watch;
pub mod runner;
pub mod telemetry;
pub mod transport;
pub mod url_source;
pub mod workdirs;
