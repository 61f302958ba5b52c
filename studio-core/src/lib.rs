//! The Ethereal Flame Studio domain, written once for both Rust runtimes (the edge Worker and the
//! cpu-worker): job states and transitions, all SQL and migrations, the Hrana client over a transport
//! trait, limits, the storage key layout, signed URLs and the API's request/response types.
//!
//! It does no I/O of its own: time, randomness and HTTP come in from the runtime.

// The pure base: no database, no I/O.
pub mod bearer;
pub mod error_code;
pub mod keys;
pub mod limits;
pub mod net_policy;
pub mod range;
pub mod redact;
pub mod signing;
pub mod source_rate;
pub mod webhooks;

// The database: the Hrana client, the schema, and the generic job engine.
pub mod db;
pub mod hrana;
pub mod jobs;

// Features, each its rules, SQL and use cases.
pub mod accounts;
pub mod callbacks;
pub mod edit;
pub mod ingest;
pub mod library;
pub mod render;
pub mod uploads;

// The HTTP API's request and answer shapes (wire types; the SQL never imports them).
pub mod api;

pub use error_code::{ErrorCode, Problem};
