//! Kills the process groups a test binary started, and removes their directories, when the binary
//! exits — however it exits. A stack shared by a binary's tests lives in a `static`, whose `Drop`
//! never runs, and a binary killed by a signal runs no `Drop` at all.
//!
//! The reaper is one `sh` per test binary, in its own process group (a Ctrl-C at the terminal does
//! not reach it), reading lines from a pipe whose write end only this process holds (close-on-exec,
//! so no child inherits it): `+ group PGID` / `+ dir PATH` to watch, `- …` to forget. When this
//! process ends, for any reason, the kernel closes the pipe; the reaper reads end-of-file, SIGKILLs
//! every group still watched, then removes every directory still watched.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

const SCRIPT: &str = r#"
live=$(mktemp) || exit 1
while IFS= read -r line; do
  case "$line" in
    "+ "*) printf '%s\n' "${line#+ }" >> "$live" ;;
    "- "*) grep -vxF -- "${line#- }" "$live" > "$live.next"; mv "$live.next" "$live" ;;
  esac
done
while IFS= read -r item; do
  case "$item" in "group "*) kill -s KILL -- "-${item#group }" 2>/dev/null ;; esac
done < "$live"
sleep 1
while IFS= read -r item; do
  case "$item" in "dir "*) rm -rf -- "${item#dir }" ;; esac
done < "$live"
rm -f "$live"
"#;

struct Reaper {
    /// Never waited for: it outlives this process by design.
    _process: Child,
    pipe: ChildStdin,
}

static REAPER: OnceLock<Mutex<Reaper>> = OnceLock::new();

fn send(line: &str) {
    let reaper = REAPER.get_or_init(|| {
        let mut child = Command::new("sh")
            .args(["-c", SCRIPT])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("cannot start the reaper (sh)");
        let pipe = child.stdin.take().unwrap();
        Mutex::new(Reaper { _process: child, pipe })
    });
    let mut reaper = reaper.lock().unwrap_or_else(|e| e.into_inner());
    writeln!(reaper.pipe, "{line}").expect("the reaper is gone");
}

/// Kill this process group when the binary exits.
pub(crate) fn watch_group(pgid: u32) {
    send(&format!("+ group {pgid}"));
}

/// The group was killed and reaped here; its id may be reused.
pub(crate) fn forget_group(pgid: u32) {
    send(&format!("- group {pgid}"));
}

/// Remove this directory when the binary exits.
pub(crate) fn watch_dir(dir: &Path) {
    send(&format!("+ dir {}", dir.display()));
}

pub(crate) fn forget_dir(dir: &Path) {
    send(&format!("- dir {}", dir.display()));
}
