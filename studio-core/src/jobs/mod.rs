//! The job engine: states, the claim, fenced worker writes, retries with backoff and the reaper.

pub mod backoff;
pub mod claimed;
pub mod model;
pub mod reaper;
pub mod store;

pub use claimed::{ClaimedJob, FailOutcome, Ownership, FENCE_SQL};
pub use model::{Job, JobFailure, JobStatus, JobType};
pub use store::{cancel, claim, create, events, get, CancelOutcome, JobEvent, NewJob};
