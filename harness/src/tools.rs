//! The command-line tools some claims are about or need (ss, lsof, tcpdump, tc): started with
//! a bound like every other blocking step, and a test is skipped, visibly, when its tool is not
//! installed.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::wait::Deadline;

/// Starts `program`; the test is skipped when it is not installed.
pub fn spawn(program: &str, args: &[&str]) -> Child {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: between fork and exec the child only makes the close_range system call.
    unsafe {
        cmd.pre_exec(|| {
            crate::fork::cloexec_all_but_stdio();
            Ok(())
        });
    }
    match cmd.spawn() {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            crate::skip::skip(format!("{program} is not installed"))
        }
        // execvp reports EACCES when no copy runs and a PATH directory is closed to this user
        // (root's PATH under setpriv): for this user the tool is not installed either.
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => crate::skip::skip(format!(
            "{program} is not installed where uid {} can run it",
            crate::privileges::host_uid()
        )),
        Err(e) => panic!("{program}: {e}"),
    }
}

/// Waits, bounded, for a tool to exit, calling `meanwhile` as it runs; its output. Both pipes
/// are read while it runs (a tool that writes more than a pipe holds would block forever
/// otherwise). A tool still running, or still holding its pipes open, after `limit` is killed
/// and fails the test, naming it.
pub fn finish(
    mut child: Child,
    what: &str,
    limit: Duration,
    mut meanwhile: impl FnMut(),
) -> Output {
    let deadline = Deadline::after(limit, what);
    let mut pipes = [
        Pipe::new(child.stdout.take().map(OwnedFd::from)),
        Pipe::new(child.stderr.take().map(OwnedFd::from)),
    ];
    let mut status = None;
    loop {
        if status.is_none() {
            status = child.try_wait().expect("wait for the tool");
        }
        if status.is_some() && pipes.iter().all(Pipe::closed) {
            break;
        }
        if deadline.expired() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {limit:?}");
        }
        if status.is_none() {
            meanwhile();
        }
        let mut fds: Vec<PollFd> = pipes
            .iter()
            .filter_map(|p| {
                p.fd.as_ref()
                    .map(|fd| PollFd::new(fd.as_fd(), PollFlags::POLLIN))
            })
            .collect();
        if fds.is_empty() {
            std::thread::sleep(Duration::from_millis(10));
        } else {
            let _ = poll(&mut fds, PollTimeout::from(10u8));
        }
        for pipe in &mut pipes {
            pipe.drain(what);
        }
    }
    let [stdout, stderr] = pipes.map(|p| p.data);
    Output {
        status: status.expect("the tool exited"),
        stdout,
        stderr,
    }
}

/// One of a tool's output pipes, read without blocking.
struct Pipe {
    fd: Option<OwnedFd>,
    data: Vec<u8>,
}

impl Pipe {
    fn new(fd: Option<OwnedFd>) -> Self {
        if let Some(fd) = &fd {
            let flags = fcntl(fd, FcntlArg::F_GETFL).expect("F_GETFL on a pipe");
            let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
            fcntl(fd, FcntlArg::F_SETFL(flags)).expect("F_SETFL O_NONBLOCK on a pipe");
        }
        Pipe {
            fd,
            data: Vec::new(),
        }
    }

    fn closed(&self) -> bool {
        self.fd.is_none()
    }

    /// Reads what is there now; at end of file the pipe is closed.
    fn drain(&mut self, what: &str) {
        let Some(fd) = &self.fd else { return };
        let mut buf = [0u8; 16 * 1024];
        loop {
            match nix::unistd::read(fd, &mut buf) {
                Ok(0) => {
                    self.fd = None;
                    return;
                }
                Ok(n) => self.data.extend_from_slice(&buf[..n]),
                Err(Errno::EAGAIN) => return,
                Err(Errno::EINTR) => {}
                Err(e) => panic!("reading the output of {what}: {e}"),
            }
        }
    }
}

/// The lines of a tool's output that mention any of `ours` (this test's address, port or pid):
/// what goes into the evidence, never other processes' sockets.
pub fn lines_about<'a>(text: &'a str, ours: &[&str]) -> Vec<&'a str> {
    text.lines()
        .filter(|line| ours.iter().any(|o| line.contains(o)))
        .collect()
}

/// Runs a tool to completion, bounded; its standard output.
pub fn run(program: &str, args: &[&str], limit: Duration) -> String {
    let what = format!("{program} {}", args.join(" "));
    let out = finish(spawn(program, args), &what, limit, || {});
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_that_writes_more_than_a_pipe_holds_finishes() {
        // 1 MiB on stdout and 100 KiB on stderr: far beyond the 64 KiB a pipe buffers.
        let child = spawn(
            "sh",
            &[
                "-c",
                "head -c 1048576 /dev/zero; head -c 102400 /dev/zero >&2",
            ],
        );
        let out = finish(child, "a chatty tool", Duration::from_secs(5), || {});
        assert!(out.status.success());
        assert_eq!((out.stdout.len(), out.stderr.len()), (1_048_576, 102_400));
    }

    #[test]
    fn only_the_lines_about_the_test_go_into_the_evidence() {
        let ss = "State Recv-Q Send-Q Local Address:Port\n\
                  LISTEN 0 4 127.0.0.1:41234 0.0.0.0:* users:((\"t\",pid=7,fd=3))\n\
                  LISTEN 0 128 0.0.0.0:5432 0.0.0.0:* users:((\"postgres\",pid=99,fd=5))\n";
        assert_eq!(
            lines_about(ss, &["127.0.0.1:41234"]),
            ["LISTEN 0 4 127.0.0.1:41234 0.0.0.0:* users:((\"t\",pid=7,fd=3))"]
        );
    }
}
