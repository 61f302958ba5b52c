//! Database schema and SQL for uploads, assets, edits and retired blobs (job SQL lives in `crate::jobs`).

pub mod assets;
pub mod edits;
pub mod library;
pub mod migrate;
pub mod retention;
pub mod retired;
pub mod upload_parts;
pub mod uploads;

pub use migrate::migrate;
