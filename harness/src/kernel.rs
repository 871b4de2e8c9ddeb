//! Which kernel the suite runs on, and which kernels a fact is about. Kernel behaviour changes
//! between versions (and stable series take fixes back), and gVisor reimplements the Linux API:
//! a claim's `since`, `until` and `on` fields say where its fact holds, and a test asks
//! [`Scope::includes`] what to expect here instead of failing a kernel that is right.

use std::cmp::Ordering;
use std::fmt;

/// Set by the kernel matrix when it runs the test binaries under gVisor (`runsc do`), whose
/// `uname -r` imitates an old Linux release.
pub const RUNTIME_ENV: &str = "SOCKET_CLAIMS_RUNTIME";

/// A kernel version: `6.12.9`, or a mainline release `6.13` (no patch level).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version(Vec<u32>);

impl Version {
    /// The leading `major.minor[.patch]` of a release or version string (`6.1.0-56-amd64`,
    /// `6.12.117+deb12-amd64`, `7.2.13-1`); None without a major and a minor.
    pub fn parse(text: &str) -> Option<Version> {
        let numbers: Vec<u32> = text
            .split(|c: char| !c.is_ascii_digit() && c != '.')
            .next()?
            .split('.')
            .take(3)
            .map_while(|n| n.parse().ok())
            .collect();
        (numbers.len() >= 2).then_some(Version(numbers))
    }

    /// Whether this names a whole mainline release (`6.13`) rather than a stable update.
    fn is_release(&self) -> bool {
        self.0.len() == 2
    }

    fn series(&self) -> &[u32] {
        &self.0[..2]
    }

    /// Compares as if a missing patch level were 0.
    fn cmp_padded(&self, other: &Version) -> Ordering {
        let pad = |v: &Version| [v.0[0], v.0[1], v.0.get(2).copied().unwrap_or(0)];
        pad(self).cmp(&pad(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(u32::to_string).collect();
        f.write_str(&parts.join("."))
    }
}

/// What implements the socket API the suite talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    Linux,
    /// gVisor's user-space kernel.
    Gvisor,
}

/// The kernel a test runs on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Running {
    pub version: Option<Version>,
    pub runtime: Runtime,
}

/// This process's kernel: the upstream version from /proc/version where a distribution shows
/// it there (Debian's `6.1.0-56-amd64` is `Debian 6.1.192-2`), else from `uname -r`.
pub fn running() -> Running {
    let runtime = match std::env::var(RUNTIME_ENV).as_deref() {
        Ok("gvisor") => Runtime::Gvisor,
        _ => Runtime::Linux,
    };
    let proc_version = std::fs::read_to_string("/proc/version").unwrap_or_default();
    let version = upstream_version(&proc_version).or_else(|| Version::parse(&release()));
    Running { version, runtime }
}

/// The running kernel's release, as `uname -r` prints it.
pub fn release() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_else(|e| format!("unknown ({e})"))
}

/// `Debian 6.1.192-2` in a /proc/version line.
fn upstream_version(proc_version: &str) -> Option<Version> {
    let words: Vec<&str> = proc_version.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[0] == "Debian")
        .and_then(|w| Version::parse(w[1]))
}

/// The kernels a fact is about (the catalogue's `since`, `until` and `on`). Each version list
/// names mainline releases (`6.13`: that release and every later kernel) and stable updates
/// that took the change back (`6.12.9`: that update and the later ones of the 6.12 series).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    pub since: Vec<Version>,
    pub until: Vec<Version>,
    /// `on = "linux"`: the fact is about Linux; gVisor is out of scope.
    pub linux_only: bool,
}

impl Scope {
    /// Whether the fact is stated for this kernel. A kernel whose version is unknown is taken
    /// to be in scope.
    pub fn includes(&self, kernel: &Running) -> bool {
        if self.linux_only && kernel.runtime == Runtime::Gvisor {
            return false;
        }
        let Some(v) = &kernel.version else {
            return true;
        };
        (self.since.is_empty() || reached(&self.since, v))
            && (self.until.is_empty() || !reached(&self.until, v))
    }

    /// Whether the fact holds on every kernel (no field narrows it).
    pub fn is_everywhere(&self) -> bool {
        *self == Scope::default()
    }

    /// How the report states the scope: `since 6.12.9 (6.12.y), 6.13; Linux only`.
    pub fn describe(&self) -> String {
        let list = |vs: &[Version]| {
            vs.iter()
                .map(|v| {
                    if v.is_release() {
                        v.to_string()
                    } else {
                        format!("{v} ({}.{}.y)", v.0[0], v.0[1])
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut parts = Vec::new();
        if !self.since.is_empty() {
            parts.push(format!("since {}", list(&self.since)));
        }
        if !self.until.is_empty() {
            parts.push(format!("until {}", list(&self.until)));
        }
        if self.linux_only {
            parts.push("Linux only".into());
        }
        parts.join("; ")
    }
}

/// Whether `v` is at or after one of the boundaries.
fn reached(boundaries: &[Version], v: &Version) -> bool {
    boundaries.iter().any(|b| {
        if b.is_release() {
            v.cmp_padded(b) != Ordering::Less
        } else {
            v.series() == b.series() && v.cmp_padded(b) != Ordering::Less
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap_or_else(|| panic!("{s} parses"))
    }

    fn linux(s: &str) -> Running {
        Running {
            version: Some(v(s)),
            runtime: Runtime::Linux,
        }
    }

    #[test]
    fn versions_come_from_releases_and_debian_versions() {
        assert_eq!(v("6.1.0-56-amd64"), Version(vec![6, 1, 0]));
        assert_eq!(v("6.12.117+deb12-amd64"), Version(vec![6, 12, 117]));
        assert_eq!(v("6.18.44-fc-v669"), Version(vec![6, 18, 44]));
        assert_eq!(v("6.13"), Version(vec![6, 13]));
        assert_eq!(Version::parse("six"), None);
        assert_eq!(Version::parse("6"), None);
        let line = "Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org) (gcc-12) \
                    #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-10-01)";
        assert_eq!(upstream_version(line), Some(v("6.1.192")));
        assert_eq!(
            upstream_version("Linux version 6.18.44 (root@x) #1 SMP"),
            None
        );
    }

    #[test]
    fn a_backport_is_in_scope_only_within_its_series() {
        let scope = Scope {
            since: vec![v("6.12.9"), v("6.13")],
            ..Scope::default()
        };
        for (kernel, expected) in [
            ("5.10.262", false),
            ("6.12.5", false),
            ("6.12.9", true),
            ("6.12.117", true),
            ("6.13.0", true),
            ("7.2.13", true),
        ] {
            assert_eq!(scope.includes(&linux(kernel)), expected, "{kernel}");
        }
        let before = Scope {
            until: scope.since.clone(),
            ..Scope::default()
        };
        assert!(before.includes(&linux("6.12.5")));
        assert!(!before.includes(&linux("6.13.1")));
        assert_eq!(scope.describe(), "since 6.12.9 (6.12.y), 6.13");
    }

    #[test]
    fn a_linux_only_fact_is_out_of_scope_under_gvisor() {
        let scope = Scope {
            linux_only: true,
            ..Scope::default()
        };
        let gvisor = Running {
            version: Some(v("4.4.0")),
            runtime: Runtime::Gvisor,
        };
        assert!(!scope.includes(&gvisor));
        assert!(scope.includes(&linux("4.4.0")));
        assert!(Scope::default().includes(&gvisor));
        assert!(Scope::default().is_everywhere());
    }
}
