//! Bounded waits: every blocking step of a test has a deadline, and running out of time fails
//! the test with the name of the step. The step names also feed the per-test watchdog, so a
//! call that blocks despite every bound is reported by what it was doing.

use std::cell::RefCell;
use std::io;
use std::os::fd::BorrowedFd;
use std::process::{Child, ExitStatus};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

/// The bound for one blocking step (an accept, a reply, a datagram) on loopback.
pub const STEP: Duration = Duration::from_secs(2);

/// A point in time by which an operation must have finished.
#[derive(Clone, Debug)]
pub struct Deadline {
    end: Instant,
    what: String,
}

impl Deadline {
    pub fn after(limit: Duration, what: impl Into<String>) -> Self {
        Deadline {
            end: Instant::now() + limit,
            what: what.into(),
        }
    }

    pub fn expired(&self) -> bool {
        Instant::now() >= self.end
    }

    /// Time left; fails the test naming the operation once none is left.
    pub fn remaining(&self) -> Duration {
        let left = self.end.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "timed out: {}", self.what);
        left
    }
}

/// Waits for `child` to exit, for at most `limit`, calling `meanwhile` between looks. A child
/// still running then (or one `try_wait` cannot ask) is killed and reaped: `Ok(None)` when
/// time ran out.
pub fn child(
    child: &mut Child,
    limit: Duration,
    mut meanwhile: impl FnMut(),
) -> io::Result<Option<ExitStatus>> {
    let end = Instant::now() + limit;
    // Short looks first (a re-executed test ends in milliseconds), then every 20 ms.
    let mut pause = Duration::from_millis(1);
    loop {
        let exited = child.try_wait();
        if !matches!(exited, Ok(None)) || Instant::now() >= end {
            if !matches!(exited, Ok(Some(_))) {
                let _ = child.kill();
                let _ = child.wait();
            }
            return exited;
        }
        meanwhile();
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Polls `fd` for `events` for at most `limit`, failing the test (naming `what`) on expiry.
/// Returns the events that were reported.
pub fn ready(fd: BorrowedFd<'_>, events: PollFlags, limit: Duration, what: &str) -> PollFlags {
    step(what);
    let deadline = Deadline::after(limit, format!("{what} (poll for {events:?})"));
    loop {
        let mut fds = [PollFd::new(fd, events)];
        let left = deadline.remaining();
        let ms = PollTimeout::try_from(left.as_millis().clamp(1, 60_000) as i32)
            .expect("poll timeout in range");
        match poll(&mut fds, ms) {
            Ok(0) => continue,
            Ok(_) => return fds[0].revents().unwrap_or(PollFlags::empty()),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => panic!("{what}: poll failed: {e}"),
        }
    }
}

/// True if `fd` became readable (or hung up) within `limit`; never blocks longer.
pub fn poll_readable(fd: BorrowedFd<'_>, limit: Duration) -> bool {
    let deadline = Deadline::after(limit, "poll");
    while !deadline.expired() {
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        let left = deadline.end.saturating_duration_since(Instant::now());
        let ms = PollTimeout::try_from(left.as_millis().clamp(1, 60_000) as i32)
            .expect("poll timeout in range");
        match poll(&mut fds, ms) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => return true,
            Err(_) => return false,
        }
    }
    false
}

/// Retries `probe` until it yields a value or `limit` passes (for states the kernel reaches
/// asynchronously, such as a connection appearing in /proc/net/tcp).
pub fn until<T>(limit: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    step(what);
    let deadline = Deadline::after(limit, what);
    loop {
        if let Some(v) = probe() {
            return v;
        }
        deadline.remaining();
        std::thread::sleep(Duration::from_millis(5));
    }
}

thread_local! {
    static CURRENT_STEP: RefCell<Option<Arc<Mutex<String>>>> = const { RefCell::new(None) };
}

/// Names what the current test is doing now; the watchdog quotes it if the test hangs.
pub fn step(what: &str) {
    CURRENT_STEP.with(|cell| {
        if let Some(shared) = cell.borrow().as_ref() {
            *shared.lock().unwrap_or_else(|p| p.into_inner()) = what.to_string();
        }
    });
}

/// Makes this thread's `step` calls visible through `shared`.
pub(crate) fn track_steps(shared: Arc<Mutex<String>>) {
    CURRENT_STEP.with(|cell| *cell.borrow_mut() = Some(shared));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;
    use std::process::Command;

    #[test]
    fn a_child_past_its_bound_is_killed_and_reaped() {
        let mut sleeper = Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let started = Instant::now();
        assert!(child(&mut sleeper, Duration::from_millis(50), || {})
            .expect("wait")
            .is_none());
        assert!(started.elapsed() < Duration::from_secs(5));
        let reaped = sleeper.try_wait().expect("reaped").expect("an exit status");
        assert_eq!(reaped.signal(), Some(nix::libc::SIGKILL));
    }

    #[test]
    fn a_child_that_exits_in_time_gives_its_status() {
        let mut t = Command::new("true").spawn().expect("spawn true");
        let status = child(&mut t, Duration::from_secs(5), || {}).expect("wait");
        assert!(status.expect("exited").success());
    }
}
