//! Renders: what one is (`contract`, from `contracts/render.json`), how a request is checked
//! (`request`), the render job's creation and input (`job`), the render service's webhooks (`events`)
//! and the reconciler's view of its calls (`calls`).

pub mod calls;
mod contract;
pub mod events;
pub mod job;
mod request;

pub use contract::*;
pub use request::*;
