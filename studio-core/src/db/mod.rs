//! Database schema and SQL for uploads and assets (job SQL lives in `crate::jobs`).

pub mod assets;
pub mod library;
pub mod migrate;
pub mod upload_parts;
pub mod uploads;

pub use migrate::migrate;
