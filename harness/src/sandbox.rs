//! Private network namespaces. A test that sends broadcast, multicast or raw packets, sniffs, or
//! writes sysctls runs in a namespace of its own with only `lo`, so nothing it does reaches or
//! changes the host.
//!
//! As root the test's own thread unshares its network namespace (namespaces are per thread on
//! Linux, and threads it spawns inherit it). Without CAP_SYS_ADMIN the test binary re-executes
//! itself for just that test inside a new user + network namespace, where it is root of its own
//! namespaces only.

use std::ffi::CString;
use std::fs;
use std::io::{Read, Seek};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sched::{unshare, CloneFlags};
use nix::sys::stat::Mode;

use crate::wait;

/// Set in a re-executed test process that already runs in its own user + network namespace.
/// It only chooses the plan: whether the namespace is private is checked on the kernel's
/// word ([`Netns::ensure_private`]), never on the environment's.
pub(crate) const IN_NETNS_ENV: &str = "SOCKET_CLAIMS_IN_NETNS";

/// How a test gets its private namespace on this machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// This process was re-executed into a namespace of its own.
    Inherited,
    /// Root: the test thread unshares.
    UnshareThread,
    /// Unprivileged: re-execute this test in a user + network namespace.
    Reexec,
}

pub(crate) fn plan() -> Plan {
    if std::env::var_os(IN_NETNS_ENV).is_some() {
        Plan::Inherited
    } else if crate::privileges::has(crate::privileges::Cap::SysAdmin) {
        Plan::UnshareThread
    } else {
        Plan::Reexec
    }
}

/// A private network namespace the calling thread is in. Only through it can a test write a
/// sysctl, so the host's are never written.
#[derive(Debug)]
pub struct Netns {
    how: &'static str,
}

impl Netns {
    /// Moves the calling thread into a new network namespace and brings `lo` up.
    pub fn unshare_thread() -> Result<Netns, String> {
        unshare(CloneFlags::CLONE_NEWNET).map_err(|e| format!("unshare(CLONE_NEWNET): {e:?}"))?;
        Self::adopt("thread netns (root)")
    }

    /// Takes over the namespace this re-executed process was started in.
    pub(crate) fn inherited() -> Result<Netns, String> {
        Self::adopt("user+net namespace (unprivileged re-exec)")
    }

    fn adopt(how: &'static str) -> Result<Netns, String> {
        let ns = Netns { how };
        ns.ensure_private()?;
        lo_up().map_err(|e| format!("bringing lo up: {e:?}"))?;
        Ok(ns)
    }

    /// How this namespace was made, for the evidence.
    pub fn how(&self) -> &'static str {
        self.how
    }

    /// Writes a per-namespace sysctl (e.g. `net.ipv4.ip_local_port_range`) in this namespace.
    pub fn write_sysctl(&self, key: &str, value: &str) {
        self.ensure_private()
            .unwrap_or_else(|e| panic!("refusing to write {key}: {e}"));
        let path = crate::sysctl::sysctl_path(key);
        fs::write(&path, value)
            .unwrap_or_else(|e| panic!("writing {value:?} to {}: {e}", path.display()));
    }

    /// A file of this namespace's /proc/net (`tcp`, `udp`, `snmp`…). /proc/net itself follows
    /// the process's main thread, which stays in the host namespace, hence thread-self.
    pub fn proc_net(&self, file: &str) -> PathBuf {
        PathBuf::from("/proc/thread-self/net").join(file)
    }

    /// A counter of this namespace's /proc/net MIB `file` (`snmp`, `netstat`): `name` in the
    /// pair of lines that start with `group:` (`Tcp`, `Udp`, `TcpExt`, …).
    pub fn counter(&self, file: &str, group: &str, name: &str) -> u64 {
        let path = self.proc_net(file);
        let text =
            fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let prefix = format!("{group}: ");
        let mut rows = text.lines().filter(|l| l.starts_with(&prefix));
        let (names, values) = match (rows.next(), rows.next()) {
            (Some(n), Some(v)) => (n, v),
            _ => panic!("no {group} rows in {}", path.display()),
        };
        names
            .split_whitespace()
            .position(|n| n == name)
            .and_then(|at| values.split_whitespace().nth(at))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {group} {name} in {}", path.display()))
    }

    /// Starts a tool that changes the namespace (`tc qdisc …`) in it, after the same check
    /// as [`Netns::write_sysctl`]; skipped when the tool is not installed.
    pub fn spawn(&self, program: &str, args: &[&str]) -> std::process::Child {
        self.ensure_private()
            .unwrap_or_else(|e| panic!("refusing to run {program}: {e}"));
        crate::tools::spawn(program, args)
    }

    /// Whether the calling thread is in a network namespace other than the host's, from what
    /// the kernel says alone: not pid 1's namespace (where this user may look), and either a
    /// namespace this thread entered apart from its process (root's unshare) or one its
    /// process holds in a user namespace of its own (the unprivileged re-exec, whose uid_map
    /// is not the initial namespace's identity map).
    fn ensure_private(&self) -> Result<(), String> {
        let here = netns_inode("/proc/thread-self/ns/net")?;
        if netns_inode("/proc/1/ns/net").is_ok_and(|init| init == here) {
            return Err(format!("thread is in pid 1's network namespace ({here})"));
        }
        if here != netns_inode("/proc/self/ns/net")? {
            return Ok(());
        }
        let uid_map = fs::read_to_string("/proc/self/uid_map")
            .map_err(|e| format!("/proc/self/uid_map: {e}"))?;
        if uid_map.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"] {
            return Err(format!(
                "the process is still in the network namespace it started in ({here}), \
                 in the initial user namespace"
            ));
        }
        Ok(())
    }
}

fn netns_inode(path: &str) -> Result<u64, String> {
    fs::metadata(path)
        .map(|m| m.ino())
        .map_err(|e| format!("{path}: {e}"))
}

nix::ioctl_read_bad!(get_if_flags, libc::SIOCGIFFLAGS, libc::ifreq);
nix::ioctl_write_ptr_bad!(set_if_flags, libc::SIOCSIFFLAGS, libc::ifreq);

/// `ip link set lo up`, done with SIOCSIFFLAGS (neither nix nor socket2 wraps interface flags).
fn lo_up() -> Result<(), Errno> {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))?;
    let fd = std::os::fd::AsRawFd::as_raw_fd(&sock);
    // SAFETY: ifreq is plain old data; all zeros is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: `req` is a valid ifreq naming "lo" and `fd` is an open socket for the call.
    unsafe { get_if_flags(fd, &mut req) }?;
    // SAFETY: SIOCGIFFLAGS filled the flags member of the union, which is what we read.
    unsafe {
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    }
    // SAFETY: as above; the kernel only reads `req`.
    unsafe { set_if_flags(fd, &req) }?;
    Ok(())
}

/// What became of a test re-executed in a user + network namespace.
pub(crate) enum Reexec {
    /// The child ran the test and it passed or recorded a skip; its SKIPPED lines.
    Finished { skipped_lines: Vec<String> },
    /// The test failed in the child (the child recorded the evidence); its output.
    Failed(String),
    /// The kernel refused the namespaces.
    Unavailable(String),
    /// The child overran its limit and was killed; its output so far.
    TimedOut(String),
}

/// Runs libtest test `name` of this binary again, alone, in a new user + network namespace.
pub(crate) fn reexec(name: &str, limit: Duration) -> Reexec {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return Reexec::Unavailable(format!("current_exe: {e}")),
    };
    let uid_map = format!("0 {} 1", nix::unistd::geteuid());
    let gid_map = format!("0 {} 1", nix::unistd::getegid());
    let paths = [
        c"/proc/self/setgroups",
        c"/proc/self/uid_map",
        c"/proc/self/gid_map",
    ];
    let contents = [
        CString::new("deny").expect("no nul"),
        CString::new(uid_map).expect("no nul"),
        CString::new(gid_map).expect("no nul"),
    ];
    let mut log = match tempfile::tempfile() {
        Ok(f) => f,
        Err(e) => return Reexec::Unavailable(format!("tempfile: {e}")),
    };
    let (out, err) = match (log.try_clone(), log.try_clone()) {
        (Ok(a), Ok(b)) => (a, b),
        _ => return Reexec::Unavailable("cannot share the child's log file".into()),
    };
    let mut cmd = Command::new(exe);
    cmd.args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(IN_NETNS_ENV, "1")
        .env(crate::run::RUN_ID_ENV, crate::run::id())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    // SAFETY: the closure runs in the forked child before exec and only makes system calls on
    // data prepared above (no allocation, no locks).
    unsafe {
        cmd.pre_exec(move || {
            crate::fork::cloexec_all_but_stdio();
            unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNET)?;
            for (path, text) in paths.iter().zip(&contents) {
                let fd = open(*path, OFlag::O_WRONLY, Mode::empty())?;
                nix::unistd::write(&fd, text.as_bytes())?;
            }
            Ok(())
        });
    }
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            let errno = e
                .raw_os_error()
                .map(|n| format!("{:?}", Errno::from_raw(n)))
                .unwrap_or_else(|| e.to_string());
            return Reexec::Unavailable(errno);
        }
    };
    let status = wait::child(&mut child, limit, || {}).ok().flatten();
    let mut output = String::new();
    let _ = log.rewind();
    let _ = log.read_to_string(&mut output);
    match status {
        Some(s) if s.success() => Reexec::Finished {
            // libtest's "test … " may precede a SKIPPED line on the same line of the log.
            skipped_lines: output
                .lines()
                .filter_map(|l| l.find("SKIPPED ").map(|at| l[at..].to_string()))
                .collect(),
        },
        Some(_) => Reexec::Failed(output),
        None => Reexec::TimedOut(output),
    }
}

/// Whether this kernel gives the suite a private network namespace, and how (for the report).
pub fn availability() -> String {
    match plan() {
        Plan::Inherited => "inside a private user+net namespace".into(),
        Plan::UnshareThread => "per-thread network namespace (root)".into(),
        Plan::Reexec => match probe_userns() {
            Ok(()) => "user+net namespace by re-executing the test (unprivileged)".into(),
            Err(e) => format!("unavailable: no private network namespace ({e})"),
        },
    }
}

/// Tries to create a user + network namespace in a throwaway child running `true`.
fn probe_userns() -> Result<(), String> {
    let mut cmd = Command::new("true");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: only the unshare system call runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            Ok(unshare(
                CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNET,
            )?)
        });
    }
    match cmd.spawn() {
        Ok(mut child) => {
            let _ = child.wait();
            Ok(())
        }
        Err(e) => Err(e
            .raw_os_error()
            .map(|n| format!("{:?}", Errno::from_raw(n)))
            .unwrap_or_else(|| e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_the_environment_names_private_is_checked_with_the_kernel() {
        // What a stale or forged environment says in the host namespace: "already in a
        // namespace, and the host's is some other one". Set in a forked child only.
        let status = crate::fork::fork_child("a forged namespace", &[], || {
            std::env::set_var(IN_NETNS_ENV, "1");
            std::env::set_var("SOCKET_CLAIMS_HOST_NETNS", "1");
            if plan() != Plan::Inherited {
                return 2;
            }
            match Netns::inherited() {
                Err(_) => 0,
                Ok(_) => 1,
            }
        })
        .wait(crate::wait::STEP);
        assert!(
            matches!(status, nix::sys::wait::WaitStatus::Exited(_, 0)),
            "exit 1: the host namespace was taken for a private one: {status:?}"
        );
    }
}
