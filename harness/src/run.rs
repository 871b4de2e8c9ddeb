//! Which run a record belongs to. A run is one `cargo claims`, one `cargo test` or one
//! `cargo nextest run`: every test process of it stamps its records with the same id, so the
//! report can take the newest run's records only.
//!
//! The id is `$SOCKET_CLAIMS_RUN_ID` where the runner (or a script) set it. Otherwise a test
//! process started by cargo or cargo-nextest takes its parent's identity: each test binary
//! (each test, under nextest) is its own process, and their one common ancestor is that
//! invocation's cargo process. Any other process (a test binary started by hand) is a run of
//! its own. An identity is the boot, the pid and the process's start time (in clock ticks
//! since boot, from /proc/PID/stat): unique on this machine, and never reused by a later
//! process of the same pid.

use std::fs;
use std::sync::OnceLock;

/// The run id the runner gives the test processes it starts (and a re-executed test gets from
/// its parent).
pub const RUN_ID_ENV: &str = "SOCKET_CLAIMS_RUN_ID";

/// This process's run id (see the module's doc).
pub fn id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        if let Some(id) = std::env::var(RUN_ID_ENV).ok().filter(|v| !v.is_empty()) {
            return id;
        }
        let parent = nix::unistd::getppid().as_raw() as u32;
        let parent_is_cargo = fs::read_to_string(format!("/proc/{parent}/comm"))
            .is_ok_and(|comm| matches!(comm.trim(), "cargo" | "cargo-nextest"));
        let pid = if parent_is_cargo {
            parent
        } else {
            std::process::id()
        };
        identity(pid).unwrap_or_else(|| format!("pid-{}", std::process::id()))
    })
}

/// `<boot id's first 8 hex digits>-<pid>-<start time in ticks>`.
fn identity(pid: u32) -> Option<String> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 22 counts from 1; the command name (field 2) may hold spaces, so count after ')'.
    let started = stat.rsplit_once(')')?.1.split_whitespace().nth(19)?;
    let boot = fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let boot: String = boot
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(8)
        .collect();
    Some(format!("{boot}-{pid}-{started}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_identity_names_the_boot_the_pid_and_its_start() {
        let me = identity(std::process::id()).expect("this process has a /proc entry");
        let parts: Vec<&str> = me.split('-').collect();
        assert_eq!(parts.len(), 3, "{me}");
        assert_eq!(parts[1], std::process::id().to_string());
        assert!(parts[2].parse::<u64>().is_ok(), "{me}");
        // The same process gives the same id; the id of this run is stable too.
        assert_eq!(identity(std::process::id()).as_deref(), Some(me.as_str()));
        assert_eq!(id(), id());
    }
}
