//! The Ethereal Flame Studio domain, written once for both Rust runtimes (the edge Worker and the
//! cpu-worker): job states and transitions, all SQL and migrations, the Hrana client over a transport
//! trait, limits, the storage key layout, signed URLs and the API's request/response types.
//!
//! It does no I/O of its own: time, randomness and HTTP come in from the runtime.

pub mod access;
pub mod accounts;
pub mod api;
pub mod bearer;
pub mod callbacks;
pub mod db;
pub mod edit_job;
pub mod error_code;
pub mod hrana;
pub mod idempotency;
pub mod ingest;
pub mod jobs;
pub mod keys;
pub mod limits;
pub mod net_policy;
pub mod quotas;
pub mod range;
pub mod recipe;
pub mod redact;
pub mod render;
pub mod render_job;
pub mod signing;
pub mod webhooks;
pub mod youtube;

pub use error_code::{ErrorCode, Problem};
