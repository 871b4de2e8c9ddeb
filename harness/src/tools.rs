//! The command-line tools some claims are about or need (ss, lsof, tcpdump, tc): started with
//! a bound like every other blocking step, and a test is skipped, visibly, when its tool is not
//! installed.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use crate::wait;

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
            crate::privileges::cloexec_all_but_stdio();
            Ok(())
        });
    }
    match cmd.spawn() {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            crate::check::skip(format!("{program} is not installed"))
        }
        // execvp reports EACCES when no copy runs and a PATH directory is closed to this user
        // (root's PATH under setpriv): for this user the tool is not installed either.
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => crate::check::skip(format!(
            "{program} is not installed where uid {} can run it",
            crate::privileges::host_uid()
        )),
        Err(e) => panic!("{program}: {e}"),
    }
}

/// Waits, bounded, for a tool to exit, calling `meanwhile` as it runs; its output. A tool
/// still running after `limit` is killed and fails the test, naming it.
pub fn finish(
    mut child: Child,
    what: &str,
    limit: Duration,
    mut meanwhile: impl FnMut(),
) -> Output {
    match wait::child(&mut child, limit, &mut meanwhile) {
        Ok(Some(_)) => child.wait_with_output().expect("the tool's output"),
        Ok(None) => panic!("{what} did not finish within {limit:?}"),
        Err(e) => panic!("waiting for {what}: {e}"),
    }
}

/// Runs a tool to completion, bounded; its standard output.
pub fn run(program: &str, args: &[&str], limit: Duration) -> String {
    let what = format!("{program} {}", args.join(" "));
    let out = finish(spawn(program, args), &what, limit, || {});
    String::from_utf8_lossy(&out.stdout).into_owned()
}
