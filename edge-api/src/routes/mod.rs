//! One file per resource.

pub mod account;
pub mod admin;
pub mod assets;
pub mod blobs;
pub mod edits;
pub mod health;
pub mod ingest;
pub mod jobs;
pub mod library;
pub mod multipart;
pub mod render;
pub mod render_output;
pub mod stored;
pub mod upload_parts;
pub mod uploads;
pub mod webhooks;
