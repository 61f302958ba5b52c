//! The job engine: states, the claim, fenced worker writes, retries with backoff, the reaper, and the
//! record of blobs each attempt writes. Every state change is written once, in `transitions`.

pub mod attempt_blobs;
pub mod backoff;
pub mod claimed;
pub mod listing;
pub mod model;
pub mod reaper;
pub mod store;
pub mod transitions;

pub use claimed::{ClaimedJob, FailOutcome, Ownership};
pub use model::{Job, JobFailure, JobStatus, JobType, NewJob};
pub use store::{cancel, claim, claim_capped, create, deliveries, events, get, CancelOutcome, JobEvent};
pub use transitions::{DEADLINE_SQL, FENCE_SQL};
