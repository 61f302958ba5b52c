//! Hrana (Turso's SQL-over-HTTP protocol): message types, a stateless client over a transport trait,
//! and typed row access.

pub mod client;
pub mod error;
pub mod proto;
pub mod rows;
pub mod transport;

pub use client::{HranaClient, StepOutcome};
pub use error::DbError;
pub use proto::{BatchCond, BatchStep, Stmt, Value};
pub use rows::{Row, Rows};
pub use transport::{HttpReply, HttpTransport};
