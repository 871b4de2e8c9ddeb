//! Reading sysctls: defaults the facts name are read at run time, never written into a test.

use std::fs;
use std::io;

/// Reads a sysctl such as `net.ipv4.ip_local_port_range`. Network sysctls are resolved in the
/// calling thread's network namespace, so inside a sandbox this reads the sandbox's value.
pub fn sysctl(key: &str) -> io::Result<String> {
    let path = sysctl_path(key);
    fs::read_to_string(&path)
        .map(|v| v.trim().to_string())
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

pub(crate) fn sysctl_path(key: &str) -> std::path::PathBuf {
    format!("/proc/sys/{}", key.replace('.', "/")).into()
}

/// A sysctl holding a range of two numbers (`ip_local_port_range`, `ping_group_range`).
pub fn sysctl_range(key: &str) -> io::Result<(u32, u32)> {
    let value = sysctl(key)?;
    let mut parts = value.split_whitespace().map(str::parse::<u32>);
    match (parts.next(), parts.next()) {
        (Some(Ok(lo)), Some(Ok(hi))) => Ok((lo, hi)),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{key}: expected two numbers, got {value:?}"),
        )),
    }
}
