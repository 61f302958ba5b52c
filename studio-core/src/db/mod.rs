//! The database schema: its migrations, applied in order and recorded. Each feature's SQL lives in
//! its folder (`uploads`, `library`, `edit`, `render`), the job engine's in `crate::jobs`.

pub mod migrate;

pub use migrate::migrate;
