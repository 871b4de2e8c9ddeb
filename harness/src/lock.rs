//! File locks under the target directory, each user's and checkout's own (never in /tmp, where
//! another user's file could block or fail the run): the lock that makes timing-sensitive tests
//! run alone, across test processes (cargo-nextest) too. A lock is waited for, bounded: running
//! out of time, or a lock file this user cannot open, is an error naming the file.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{Seek, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// The longest a test waits for the timing lock: every other timing-sensitive test of the run
/// (a few seconds each, watchdog-bounded) may be ahead of it.
pub const TIMING_WAIT: Duration = Duration::from_secs(300);

/// Where this process's locks live: `locks/` beside the evidence it records
/// (`<target dir>/claims/locks`, or `$SOCKET_CLAIMS_RESULTS/locks` where another user runs
/// prebuilt test binaries and records evidence elsewhere).
pub fn dir() -> PathBuf {
    match std::env::var_os(crate::record::RESULTS_ENV) {
        Some(results) => PathBuf::from(results).join("locks"),
        None => crate::record::claims_dir().join("locks"),
    }
}

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct Held {
    _lock: Flock<File>,
}

/// Takes the timing lock: one timing-sensitive test at a time, in every test process of this
/// user's runs in this target directory.
pub fn timing() -> Result<Held, String> {
    acquire(&dir().join("timing.lock"), TIMING_WAIT)
}

/// Takes the exclusive lock on `path` (created 0600, never through a symlink), waiting at most
/// `wait`; the error names the file and, when known, the process that holds it.
pub fn acquire(path: &Path, wait: Duration) -> Result<Held, String> {
    if let Some(parent) = path.parent() {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(|e| format!("cannot make the lock directory {}: {e}", parent.display()))?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| {
            format!(
                "cannot open the lock file {}: {e} (another user's? each user needs a target \
                 directory, or a SOCKET_CLAIMS_RESULTS, of their own)",
                path.display()
            )
        })?;
    let started = Instant::now();
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(mut lock) => {
                // Who holds it, for the error of whoever waits in vain.
                let _ = lock.set_len(0);
                let _ = lock.rewind();
                let _ = writeln!(lock, "{}", std::process::id());
                return Ok(Held { _lock: lock });
            }
            Err((back, Errno::EWOULDBLOCK | Errno::EINTR)) => file = back,
            Err((_, e)) => return Err(format!("cannot lock {}: {e}", path.display())),
        }
        if started.elapsed() >= wait {
            let holder = fs::read_to_string(path).unwrap_or_default();
            return Err(format!(
                "waited {wait:?} for the lock {} (held by pid {})",
                path.display(),
                holder.trim()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_waited_for_bounded_and_the_error_names_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("locks/timing.lock");
        let held = acquire(&path, Duration::ZERO).expect("a free lock");
        let err = acquire(&path, Duration::from_millis(100)).expect_err("the lock is held");
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(held);
        acquire(&path, Duration::ZERO).expect("free again once dropped");
    }

    #[test]
    fn a_lock_file_planted_as_a_symlink_is_not_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let victim = dir.path().join("victim");
        fs::write(&victim, "keep me").expect("write");
        std::os::unix::fs::symlink(&victim, dir.path().join("timing.lock")).expect("symlink");
        let err = acquire(&dir.path().join("timing.lock"), Duration::ZERO)
            .expect_err("a symlink is refused");
        assert!(err.contains("timing.lock"), "{err}");
        assert_eq!(fs::read_to_string(&victim).expect("read"), "keep me");
    }
}
