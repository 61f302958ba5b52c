//! Child processes (ffmpeg, ffprobe) in their own process group. Dropping the handle kills the whole
//! group, so when a job is cancelled or times out and its future is dropped, nothing it started
//! survives. stderr is kept (tail only) for the job's event log.

use std::ffi::OsStr;
use std::process::{ExitStatus, Stdio};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, ChildStdout, Command};

const STDERR_TAIL_BYTES: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("could not start {program}: {source}")]
    Spawn { program: String, source: std::io::Error },
    #[error("{program} failed ({status})")]
    Failed { program: String, status: ExitStatus, stderr_tail: String },
    #[error("I/O with {program}: {source}")]
    Io { program: String, source: std::io::Error },
}

impl ProcessError {
    pub fn stderr_tail(&self) -> Option<&str> {
        match self {
            ProcessError::Failed { stderr_tail, .. } => Some(stderr_tail),
            _ => None,
        }
    }
}

/// A running child whose process group dies with this value.
pub struct GroupChild {
    program: String,
    child: Child,
    pgid: Option<i32>,
    stderr: tokio::task::JoinHandle<String>,
}

impl GroupChild {
    /// Starts `program args…` in a new process group with stdout piped.
    pub fn spawn<S: AsRef<OsStr>>(program: &str, args: &[S]) -> Result<Self, ProcessError> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| ProcessError::Spawn { program: program.to_owned(), source })?;
        let pgid = child.id().map(|p| p as i32);
        let mut stderr = child.stderr.take().expect("stderr piped");
        let stderr = tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            while let Ok(n) = stderr.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() > 4 * STDERR_TAIL_BYTES {
                    buf.drain(..buf.len() - STDERR_TAIL_BYTES);
                }
            }
            let start = buf.len().saturating_sub(STDERR_TAIL_BYTES);
            String::from_utf8_lossy(&buf[start..]).into_owned()
        });
        Ok(GroupChild { program: program.to_owned(), child, pgid, stderr })
    }

    pub fn stdout(&mut self) -> ChildStdout {
        self.child.stdout.take().expect("stdout taken once")
    }

    /// Waits for exit; a non-zero status is an error carrying the stderr tail.
    pub async fn wait(self) -> Result<(), ProcessError> {
        self.wait_for_stderr().await.map(drop)
    }

    /// Waits for exit and returns the stderr tail (where ffmpeg's filters print what they measured).
    pub async fn wait_for_stderr(mut self) -> Result<String, ProcessError> {
        let status =
            self.child.wait().await.map_err(|source| ProcessError::Io { program: self.program.clone(), source })?;
        self.pgid = None;
        let stderr_tail = (&mut self.stderr).await.unwrap_or_default();
        if status.success() {
            Ok(stderr_tail)
        } else {
            Err(ProcessError::Failed { program: self.program.clone(), status, stderr_tail })
        }
    }
}

impl Drop for GroupChild {
    fn drop(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            // The group may already be gone; that is fine.
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        }
        self.stderr.abort();
    }
}

/// Runs a program to completion and returns its stdout.
pub async fn output<S: AsRef<OsStr>>(program: &str, args: &[S]) -> Result<Vec<u8>, ProcessError> {
    let mut child = GroupChild::spawn(program, args)?;
    let mut stdout = child.stdout();
    let mut buf = Vec::new();
    stdout.read_to_end(&mut buf).await.map_err(|source| ProcessError::Io { program: program.to_owned(), source })?;
    child.wait().await?;
    Ok(buf)
}

/// Runs a program to completion for what it prints on stderr (its tail); stdout is discarded.
pub async fn stderr_of<S: AsRef<OsStr>>(program: &str, args: &[S]) -> Result<String, ProcessError> {
    let mut child = GroupChild::spawn(program, args)?;
    let mut stdout = child.stdout();
    tokio::io::copy(&mut stdout, &mut tokio::io::sink())
        .await
        .map_err(|source| ProcessError::Io { program: program.to_owned(), source })?;
    child.wait_for_stderr().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn dropping_the_handle_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("grandchild.pid");
        // A shell that starts a grandchild and waits: both must die when the handle is dropped.
        let script = format!("sleep 30 & echo $! > {}; wait", marker.display());
        let child = GroupChild::spawn("sh", &["-c", &script]).unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !marker.exists() || std::fs::read_to_string(&marker).unwrap().trim().is_empty() {
            assert!(tokio::time::Instant::now() < deadline, "grandchild never started");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let grandchild: i32 = std::fs::read_to_string(&marker).unwrap().trim().parse().unwrap();
        drop(child);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            // Signal 0 probes existence; a reaped or zombie-free pid reports ESRCH.
            let alive = nix::sys::signal::kill(Pid::from_raw(grandchild), None).is_ok()
                && !std::fs::read_to_string(format!("/proc/{grandchild}/stat")).unwrap_or_default().contains(") Z");
            if !alive {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "grandchild {grandchild} survived");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn failures_keep_the_stderr_tail() {
        let err = output("sh", &["-c", "echo boom >&2; exit 3"]).await.unwrap_err();
        assert!(err.stderr_tail().unwrap().contains("boom"));
    }
}
