//! The processes the runner starts for the kernel matrix (qemu, runsc, test binaries, cargo)
//! never outlive it. Each runs in a process group of its own, so a child's own children
//! (tcpdump, a re-executed test) go with it; each group is killed at its limit and once it
//! ends; SIGTERM, SIGINT or SIGHUP to the runner (what `timeout` and a CI cancel send) kill every
//! group still running before the runner dies of the signal; and a child gets SIGKILL should the
//! runner die some other way (PR_SET_PDEATHSIG).

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, SigHandler, Signal};
use nix::unistd::Pid;

/// The process groups still running, for the signal handler (which may not lock or allocate).
static GROUPS: [AtomicI32; 64] = [const { AtomicI32::new(0) }; 64];

/// Installs the SIGTERM, SIGINT and SIGHUP handler that kills every registered group, then dies
/// of the signal as it would have.
pub fn kill_all_on_termination() {
    for signal in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        // SAFETY: the handler only makes async-signal-safe calls (kill, signal, raise) on
        // atomics it reads.
        let _ = unsafe { nix::sys::signal::signal(signal, SigHandler::Handler(on_signal)) };
    }
}

extern "C" fn on_signal(signal: libc::c_int) {
    for slot in &GROUPS {
        let group = slot.load(Ordering::SeqCst);
        if group > 0 {
            // SAFETY: kill(2) is async-signal-safe; a negative pid names the process group.
            unsafe { libc::kill(-group, libc::SIGKILL) };
        }
    }
    // SAFETY: signal(2) and raise(3) are async-signal-safe: back to the default action, and
    // the runner ends as the signal says.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}

/// A child in a process group of its own, registered for [`kill_all_on_termination`]; its
/// whole group is killed when this is dropped.
pub struct Contained {
    pub child: Child,
    group: i32,
}

/// Starts `cmd` contained: its own process group, SIGKILL when the runner's thread that
/// started it dies.
pub fn spawn(cmd: &mut Command) -> std::io::Result<Contained> {
    let parent = std::process::id() as i32;
    // SAFETY: between fork and exec the child only makes system calls (setpgid, prctl,
    // getppid) on values prepared before the fork.
    unsafe {
        cmd.pre_exec(move || {
            nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0))?;
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            // The runner may have died before the prctl: then nobody would kill this child.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    let group = child.id() as i32;
    // More than 64 at once cannot happen (one per kernel job); such a child still has its
    // group killed at its limit and PR_SET_PDEATHSIG.
    let _ = GROUPS.iter().any(|s| {
        s.compare_exchange(0, group, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    });
    Ok(Contained { child, group })
}

impl Contained {
    /// Waits for the child, at most until `limit` after `started` (harness::wait::child): its
    /// exit status, or None when it overran. Either way whatever is left of its group goes.
    pub fn wait_until(&mut self, started: Instant, limit: Duration) -> Option<ExitStatus> {
        let left = limit.saturating_sub(started.elapsed());
        let exit = harness::wait::child(&mut self.child, left, || {})
            .ok()
            .flatten();
        self.kill_group();
        exit
    }

    /// Kills whatever is left of the child's group (its own children too).
    pub fn kill_group(&self) {
        let _ = killpg(Pid::from_raw(self.group), Signal::SIGKILL);
    }
}

impl Drop for Contained {
    fn drop(&mut self) {
        self.kill_group();
        let _ = self.child.try_wait();
        for slot in &GROUPS {
            let _ = slot.compare_exchange(self.group, 0, Ordering::SeqCst, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::process::Stdio;

    /// Set in the re-executed copy of this test binary that plays the matrix.
    const STAND_IN: &str = "SOCKET_CLAIMS_MATRIX_STAND_IN";

    /// The matrix's stand-in (runs only re-executed): contains a tree of two sleepers, says
    /// the group, and waits to be killed.
    #[test]
    fn stand_in_matrix() {
        if std::env::var_os(STAND_IN).is_none() {
            return;
        }
        kill_all_on_termination();
        let mut tree = Command::new("sh");
        tree.args(["-c", "sleep 60 & exec sleep 60"])
            .stdin(Stdio::null());
        let guest = spawn(&mut tree).expect("spawn the stand-in guest");
        println!("group {}", guest.group);
        std::thread::sleep(Duration::from_secs(60));
    }

    #[test]
    fn sigterm_to_the_matrix_leaves_no_child_alive() {
        let exe = std::env::current_exe().expect("current_exe");
        let mut matrix = Command::new(exe)
            .args(["children::tests::stand_in_matrix", "--exact", "--nocapture"])
            .env(STAND_IN, "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the stand-in matrix");
        let stdout = matrix.stdout.take().expect("piped");
        let group: i32 = std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|l| l.strip_prefix("group ").and_then(|g| g.trim().parse().ok()))
            .expect("the stand-in names its guest's group");
        // The guest tree is up: sh (now a sleep) and its background sleeper.
        let up = Instant::now() + Duration::from_secs(5);
        while members(group) < 2 && Instant::now() < up {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(members(group), 2, "the guest tree of group {group}");
        let alive = || members(group) > 0;
        nix::sys::signal::kill(Pid::from_raw(matrix.id() as i32), Signal::SIGTERM)
            .expect("SIGTERM the matrix");
        let status = matrix.wait().expect("the matrix ends");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGTERM),
            "it dies of the signal"
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            !alive(),
            "a process of the guest group {group} survived 5 s"
        );
    }

    /// The live (not zombie) processes of process group `group`, from /proc.
    fn members(group: i32) -> usize {
        std::fs::read_dir("/proc")
            .expect("/proc")
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("stat")).ok())
            .filter(|stat| {
                // After the command name: state, ppid, pgrp.
                let fields: Vec<&str> = stat
                    .rsplit_once(')')
                    .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
                fields.len() > 2 && fields[0] != "Z" && fields[2] == group.to_string()
            })
            .count()
    }
}
