//! Forked children for the claims about processes (a multi-process server's worker, a process
//! whose SIGPIPE is at its default), and the descriptor hygiene every child needs.

use std::fs;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

use crate::wait;

/// A forked copy of the calling thread running a closure (a multi-process server's worker, a
/// process whose SIGPIPE is at its default). Killed and reaped if dropped unfinished.
pub struct Forked {
    pid: Pid,
    what: String,
    reaped: bool,
}

/// Forks; the child runs `f` and exits with the code it returns (101 if it panics).
///
/// `f` runs in a copy of the calling thread, in its network namespace; it must only make
/// system calls and return (no locks held by other threads). Right after the fork the child
/// closes every descriptor but stdin, stdout, stderr and `keep`: fork copies all of the
/// process's descriptors, and a copy of another test's socket or pipe end held by this child
/// would change what that test sees (an EOF that does not come, a name that is not freed).
pub fn fork_child(what: &str, keep: &[BorrowedFd<'_>], f: impl FnOnce() -> i32) -> Forked {
    let mut keep: Vec<RawFd> = keep.iter().map(AsRawFd::as_raw_fd).collect();
    keep.sort_unstable();
    // SAFETY: the child runs only `close_others` and `f` (system calls on the descriptors it
    // keeps or makes), then `_exit`s without unwinding into the parent's state; glibc makes
    // malloc usable after fork.
    match unsafe { fork() }.unwrap_or_else(|e| panic!("fork for {what}: {e}")) {
        ForkResult::Child => {
            let code = match close_others(&keep) {
                Ok(()) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(101),
                Err(_) => 102,
            };
            // SAFETY: `_exit` ends the child without running the parent's atexit handlers.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => Forked {
            pid: child,
            what: what.to_string(),
            reaped: false,
        },
    }
}

/// Closes every descriptor from 3 up except `keep` (sorted), with close_range(2).
/// Where close_range(2) is missing (Linux before 5.9, some sandboxes: ENOSYS or EINVAL), the
/// descriptors listed in /proc/self/fd are closed one by one.
fn close_others(keep: &[RawFd]) -> Result<(), Errno> {
    let mut from: libc::c_uint = 3;
    for &fd in keep.iter().filter(|fd| **fd >= 3) {
        let fd = fd as libc::c_uint;
        if fd > from {
            match close_range(from, fd - 1) {
                Err(Errno::ENOSYS | Errno::EINVAL) => return close_listed(keep),
                other => other?,
            }
        }
        from = from.max(fd + 1);
    }
    match close_range(from, libc::c_uint::MAX) {
        Err(Errno::ENOSYS | Errno::EINVAL) => close_listed(keep),
        other => other,
    }
}

fn close_listed(keep: &[RawFd]) -> Result<(), Errno> {
    let open: Vec<RawFd> = fs::read_dir("/proc/self/fd")
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for fd in open.into_iter().filter(|fd| *fd >= 3 && !keep.contains(fd)) {
        // The directory's own descriptor is gone by now: EBADF for it is expected.
        let _ = nix::unistd::close(fd);
    }
    Ok(())
}

/// For a `Command`'s child between fork and exec: marks every descriptor from 3 up
/// close-on-exec, so the program it runs (a re-executed test, a tool) inherits only stdin,
/// stdout and stderr, never another test's socket or pipe end that lacks O_CLOEXEC.
pub(crate) fn cloexec_all_but_stdio() {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags; nothing is closed. Kernels
    // before 5.11 refuse the flag (EINVAL): the child then inherits descriptors as before.
    let _ = unsafe { libc::close_range(3, libc::c_uint::MAX, libc::CLOSE_RANGE_CLOEXEC as i32) };
}

/// close_range(2): neither nix nor std wraps it.
fn close_range(first: libc::c_uint, last: libc::c_uint) -> Result<(), Errno> {
    // SAFETY: close_range only closes descriptors; the caller no longer uses those in range.
    Errno::result(unsafe { libc::close_range(first, last, 0) }).map(drop)
}

impl Forked {
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// How the child ended; fails the test, naming the child, if it runs past `limit`.
    pub fn wait(mut self, limit: Duration) -> WaitStatus {
        let deadline = wait::Deadline::after(limit, format!("child process: {}", self.what));
        loop {
            match waitpid(self.pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => {
                    deadline.remaining();
                    std::thread::sleep(Duration::from_millis(2));
                }
                Ok(status) => {
                    self.reaped = true;
                    return status;
                }
                Err(Errno::EINTR) => {}
                Err(e) => panic!("waitpid for {}: {e}", self.what),
            }
        }
    }
}

impl Drop for Forked {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = kill(self.pid, Signal::SIGKILL);
            let _ = waitpid(self.pid, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use super::*;

    #[test]
    fn a_forked_child_holds_only_the_descriptors_it_keeps() {
        let (kept, _kept_w) = nix::unistd::pipe().expect("pipe");
        let (other, _other_w) = nix::unistd::pipe().expect("pipe");
        // SAFETY: fcntl(F_GETFD) on a number reads the descriptor table only: -1 (EBADF) when
        // nothing is open there. nix wants a BorrowedFd, which must be open: not a probe.
        let open = |fd: RawFd| unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1;
        let (k, o) = (kept.as_raw_fd(), other.as_raw_fd());
        let status = fork_child("descriptor check", &[kept.as_fd()], || {
            i32::from(!open(k)) | i32::from(open(o)) << 1 | i32::from(!open(2)) << 2
        })
        .wait(wait::STEP);
        assert!(
            matches!(status, WaitStatus::Exited(_, 0)),
            "exit code bits: 1 = kept fd closed, 2 = other fd open, 4 = stderr closed: {status:?}"
        );
        // The fallback for kernels without close_range(2) does the same.
        let status = fork_child("fallback", &[kept.as_fd(), other.as_fd()], || {
            let _ = close_listed(&[k]);
            i32::from(!open(k)) | i32::from(open(o)) << 1 | i32::from(!open(2)) << 2
        })
        .wait(wait::STEP);
        assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
    }
}
