//! Scratch space for jobs. Every worker process owns one directory under a shared root
//! (`WORKER_TEMP_DIR`), marked by a lock file it holds with `flock` for as long as it lives. A worker
//! killed with `kill -9` cannot clean up, but the kernel drops its lock; the next worker to start
//! finds the unlocked marker and deletes what it left. Live workers' directories are never touched.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::transport::random_hex;

const LOCK_SUFFIX: &str = ".lock";

/// This process's directory and the lock that marks it alive.
pub struct WorkRoot {
    dir: PathBuf,
    _lock: Flock<File>,
}

impl WorkRoot {
    /// Removes what dead workers left under `root`, then claims a fresh directory for this process.
    /// Returns the root and how many dead workers' directories were removed.
    pub fn open(root: &Path) -> io::Result<(WorkRoot, usize)> {
        fs::create_dir_all(root)?;
        let removed = remove_dead(root)?;
        let name = format!("w{}-{}", std::process::id(), random_hex(6));
        // The lock is taken on a temporary name and only then renamed into view, so another
        // worker's sweep can never see an unlocked marker of a live worker.
        let pending = root.join(format!(".{name}.tmp"));
        let file = OpenOptions::new().create(true).truncate(true).write(true).open(&pending)?;
        let lock = Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, e)| io::Error::from(e))?;
        let dir = root.join(&name);
        fs::create_dir_all(&dir)?;
        fs::rename(&pending, root.join(format!("{name}{LOCK_SUFFIX}")))?;
        Ok((WorkRoot { dir, _lock: lock }, removed))
    }

    /// A scratch directory for one job attempt, removed when the value is dropped.
    pub fn job_dir(&self, job_id: &str) -> io::Result<tempfile::TempDir> {
        tempfile::Builder::new().prefix(&format!("{job_id}-")).tempdir_in(&self.dir)
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }
}

/// Deletes the directory of every worker whose lock is free (it died), and its marker — also the
/// marker of a worker that died before renaming it into view. Another worker sweeping at the same
/// moment may get there first: what is already gone is fine.
fn remove_dead(root: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(root)? {
        let path = entry?.path();
        let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else { continue };
        let name = match (
            file_name.strip_suffix(LOCK_SUFFIX),
            file_name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")),
        ) {
            (Some(name), _) | (None, Some(name)) => name.to_owned(),
            (None, None) => continue,
        };
        let Ok(file) = File::open(&path) else { continue };
        let Ok(_held) = Flock::lock(file, FlockArg::LockExclusiveNonblock) else { continue };
        match fs::remove_dir_all(root.join(&name)) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_workers_directory_is_removed_and_a_live_ones_kept() {
        let root = tempfile::tempdir().unwrap();
        // A worker that died: its marker exists, nobody holds the lock.
        fs::create_dir_all(root.path().join("w1-dead/job_x-abc")).unwrap();
        fs::write(root.path().join("w1-dead/job_x-abc/source"), b"leftover").unwrap();
        File::create(root.path().join("w1-dead.lock")).unwrap();
        // One that died while starting, before its marker was renamed into view.
        fs::create_dir_all(root.path().join("w2-early")).unwrap();
        File::create(root.path().join(".w2-early.tmp")).unwrap();

        let (live, removed) = WorkRoot::open(root.path()).unwrap();
        assert_eq!(removed, 2);
        assert!(!root.path().join("w1-dead").exists() && !root.path().join("w1-dead.lock").exists());
        assert!(!root.path().join("w2-early").exists() && !root.path().join(".w2-early.tmp").exists());
        let scratch = live.job_dir("job_y").unwrap();
        assert!(scratch.path().starts_with(live.path()));

        // A second worker starting beside the live one leaves it alone.
        let (second, removed) = WorkRoot::open(root.path()).unwrap();
        assert_eq!(removed, 0);
        assert!(scratch.path().exists());
        drop(second);
    }
}
