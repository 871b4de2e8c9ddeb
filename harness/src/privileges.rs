//! Who is running the suite: uid, effective capabilities, and a way to run a closure as an
//! unprivileged process (for EACCES-type claims).

use std::fs;
use std::mem::size_of;
use std::os::fd::AsFd;
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::unistd::{Gid, Uid};
use serde::Serialize;

use crate::fork::fork_child;
use crate::wait;

/// The capabilities the suite's claims depend on (numbers from linux/capability.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cap {
    NetBindService = 10,
    NetAdmin = 12,
    NetRaw = 13,
    SysAdmin = 21,
}

impl Cap {
    pub fn name(self) -> &'static str {
        match self {
            Cap::NetBindService => "CAP_NET_BIND_SERVICE",
            Cap::NetAdmin => "CAP_NET_ADMIN",
            Cap::NetRaw => "CAP_NET_RAW",
            Cap::SysAdmin => "CAP_SYS_ADMIN",
        }
    }

    const ALL: [Cap; 4] = [
        Cap::NetBindService,
        Cap::NetAdmin,
        Cap::NetRaw,
        Cap::SysAdmin,
    ];
}

/// The calling thread's effective capability set (capabilities are per thread).
pub fn effective_caps() -> u64 {
    fs::read_to_string("/proc/thread-self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        })
        .unwrap_or(0)
}

/// Whether the calling thread holds `cap` in its user namespace.
pub fn has(cap: Cap) -> bool {
    effective_caps() & (1 << cap as u64) != 0
}

/// The uid that ran the suite, seen from outside any user namespace the harness entered.
pub fn host_uid() -> u32 {
    let uid = Uid::current().as_raw();
    fs::read_to_string("/proc/self/uid_map")
        .ok()
        .and_then(|map| {
            map.lines().find_map(|line| {
                let n: Vec<u32> = line
                    .split_whitespace()
                    .filter_map(|f| f.parse().ok())
                    .collect();
                match n[..] {
                    [inside, outside, count]
                        if (inside..inside.saturating_add(count)).contains(&uid) =>
                    {
                        Some(outside + (uid - inside))
                    }
                    _ => None,
                }
            })
        })
        .unwrap_or(uid)
}

/// What the report says about the privileges a run had.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Privileges {
    pub uid: u32,
    pub euid: u32,
    pub capabilities: Vec<&'static str>,
}

impl Privileges {
    pub fn current() -> Self {
        Privileges {
            uid: Uid::current().as_raw(),
            euid: Uid::effective().as_raw(),
            capabilities: Cap::ALL
                .iter()
                .filter(|c| has(**c))
                .map(|c| c.name())
                .collect(),
        }
    }
}

/// The uid/gid an unprivileged child switches to when the suite runs as real root.
pub const NOBODY: u32 = 65534;

/// Runs `f` in a forked child that holds no capabilities: as real root it becomes uid/gid
/// 65534 (nobody); inside a user namespace, where 65534 is unmapped, it drops every capability.
/// Returns what `f` returned, or an error naming why the child did not report, including a
/// drop that failed or left a capability (then `f` did not run).
pub fn as_unprivileged<F>(what: &str, limit: Duration, f: F) -> Result<Result<i64, Errno>, String>
where
    F: FnOnce() -> Result<i64, Errno>,
{
    let (read_end, write_end) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    let drop_to_nobody = can_become_nobody();
    let child = fork_child(what, &[write_end.as_fd()], || {
        let (tag, value): (i64, i64) = match drop_privileges(drop_to_nobody) {
            Err(DropFailed::Call(e)) => (2, e as i64),
            Err(DropFailed::Kept(caps)) => (3, caps as i64),
            Ok(()) => match f() {
                Ok(v) => (0, v),
                Err(e) => (1, e as i64),
            },
        };
        let mut msg = [0u8; 16];
        msg[..8].copy_from_slice(&tag.to_ne_bytes());
        msg[8..].copy_from_slice(&value.to_ne_bytes());
        i32::from(nix::unistd::write(&write_end, &msg) != Ok(msg.len()))
    });
    drop(write_end);
    let mut msg = [0u8; 16];
    let got = if wait::poll_readable(read_end.as_fd(), limit) {
        nix::unistd::read(&read_end, &mut msg).unwrap_or(0)
    } else {
        0
    };
    if got != msg.len() {
        return Err(format!(
            "unprivileged child for {what} did not report within {limit:?}"
        ));
    }
    child.wait(limit);
    let tag = i64::from_ne_bytes(msg[..8].try_into().expect("8 bytes"));
    let value = i64::from_ne_bytes(msg[8..].try_into().expect("8 bytes"));
    match tag {
        0 => Ok(Ok(value)),
        1 => Ok(Err(Errno::from_raw(value as i32))),
        2 => Err(format!(
            "the child for {what} could not drop its privileges: {}",
            Errno::from_raw(value as i32)
        )),
        _ => Err(format!(
            "the child for {what} still held capabilities {value:#x} after dropping them"
        )),
    }
}

/// Real root (uid 0 mapped to 0 in the initial user namespace) can switch to nobody; root inside
/// a user namespace that maps only itself cannot.
fn can_become_nobody() -> bool {
    Uid::effective().is_root()
        && fs::read_to_string("/proc/self/uid_map")
            .map(|m| m.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"])
            .unwrap_or(false)
}

/// Why a child is not the unprivileged process it was meant to become.
#[derive(Debug, PartialEq)]
enum DropFailed {
    /// A system call of the drop failed.
    Call(Errno),
    /// The drop went through, yet these capability bits (permitted | effective) remain.
    Kept(u64),
}

/// Becomes nobody or clears the capability sets, then checks that none is left: a kept
/// capability (PR_SET_KEEPCAPS, a file capability, a kernel that behaves otherwise) would make
/// the "unprivileged" outcome a privileged one.
fn drop_privileges(to_nobody: bool) -> Result<(), DropFailed> {
    if to_nobody {
        nix::unistd::setgroups(&[]).map_err(DropFailed::Call)?;
        let gid = Gid::from_raw(NOBODY);
        let uid = Uid::from_raw(NOBODY);
        nix::unistd::setresgid(gid, gid, gid).map_err(DropFailed::Call)?;
        nix::unistd::setresuid(uid, uid, uid).map_err(DropFailed::Call)?;
    } else {
        set_capabilities(CapData::default()).map_err(DropFailed::Call)?;
    }
    match capabilities() {
        Ok(0) => Ok(()),
        Ok(held) => Err(DropFailed::Kept(held)),
        Err(e) => Err(DropFailed::Call(e)),
    }
}

/// The capability header of capget(2)/capset(2) (v3: two data words).
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// capset(2) with `data` for the low and high words alike: neither nix nor std wraps it.
fn set_capabilities(data: CapData) -> Result<(), Errno> {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [data; 2];
    debug_assert_eq!(size_of::<CapData>(), 12);
    // SAFETY: header and data are the v3 layout capset(2) expects (one header, two data words),
    // both live for the duration of the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    };
    Errno::result(rc).map(drop)
}

/// The calling thread's permitted | effective capability bits, from capget(2) (no allocation:
/// it runs in a forked child).
fn capabilities() -> Result<u64, Errno> {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: as in set_capabilities; the kernel writes the two data words.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut CapHeader,
            data.as_mut_ptr(),
        )
    };
    Errno::result(rc)?;
    let word = |d: CapData| u64::from(d.effective | d.permitted);
    Ok(word(data[0]) | word(data[1]) << 32)
}

#[cfg(test)]
mod tests {
    use nix::sys::wait::WaitStatus;

    use super::*;

    #[test]
    fn a_drop_to_nobody_that_keeps_capabilities_is_refused() {
        if !can_become_nobody() {
            eprintln!("SKIPPED: only real root can switch to nobody");
            return;
        }
        // PR_SET_KEEPCAPS keeps the permitted set across the switch to uid 65534.
        let status = fork_child("a drop that keeps its capabilities", &[], || {
            // SAFETY: prctl(PR_SET_KEEPCAPS, 1) only sets a flag of this (child) process.
            if unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) } != 0 {
                return 2;
            }
            match drop_privileges(true) {
                Err(DropFailed::Kept(held)) if held != 0 => 0,
                _ => 1,
            }
        })
        .wait(wait::STEP);
        assert!(
            matches!(status, WaitStatus::Exited(_, 0)),
            "exit 1: the drop kept capabilities and said nothing: {status:?}"
        );
        // Without the flag the drop leaves nothing.
        let status = fork_child("a clean drop", &[], || {
            i32::from(drop_privileges(true).is_err())
        })
        .wait(wait::STEP);
        assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
    }
}
