//! What the workspace's tests share, as a dev-dependency:
//!
//! - [`turso`]: a turso-local in this process on a free port over a fresh database file;
//! - [`db`]: that, migrated, with a creator account and studio-core's Hrana client on it;
//! - [`stack`]: the whole local stack as real processes (turso-local, `wrangler dev`, cpu-worker and,
//!   if asked, the render service's emulator), one per test or one per test binary ([`stack::Shared`]);
//! - [`api`]: a client of the public API on a stack, bound to one account;
//! - [`receiver`]: a local HTTP receiver for creator callbacks, and their reference verification;
//! - [`media`]: generated test media.

pub mod api;
pub mod db;
pub mod http;
pub mod media;
mod reaper;
pub mod receiver;
pub mod stack;
pub mod turso;

use std::path::{Path, PathBuf};

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// A random lowercase hex string of `bytes` bytes.
pub fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    getrandom::getrandom(&mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}
