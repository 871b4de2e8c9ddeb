//! The honesty check: `benches/pingpong.c`, a minimal C ping-pong over the same socket kinds,
//! built with `cc` during the bench and run in the same session. Its round-trip median is set
//! against the Rust loop's: if the Rust loop made extra system calls or allocated its way to
//! a slower time, the two would part by more than the noise.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use harness::bench::measure::Transport;
use harness::tools;

/// How far the Rust loop's median may be from the C loop's before the bench calls it out.
pub const TOLERANCE: f64 = 0.10;

/// Builds the reference into `out_dir`; why not, when there is no C compiler or it fails.
pub fn build(out_dir: &Path) -> Result<PathBuf, String> {
    let source = harness::workspace_root().join("benches/pingpong.c");
    let binary = out_dir.join("pingpong");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let child = Command::new(&cc)
        .args(["-O2", "-pthread", "-o"])
        .arg(&binary)
        .arg(&source)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!("{cc} is not installed"),
            _ => format!("{cc}: {e}"),
        })?;
    let out = tools::finish(
        child,
        "cc benches/pingpong.c",
        Duration::from_secs(20),
        || {},
    );
    if out.status.success() {
        Ok(binary)
    } else {
        Err(format!(
            "{cc} benches/pingpong.c failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Runs `n` round trips of the reference over `t`: its median in microseconds, and whether it
/// could pin its two threads to one CPU (as the Rust loop does).
pub fn median_us(binary: &Path, t: Transport, n: usize) -> Result<(f64, bool), String> {
    let child = Command::new(binary)
        .args([t.name(), &n.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    let out = tools::finish(child, "the C ping-pong", Duration::from_secs(10), || {});
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "the C ping-pong over {} failed: {}",
            t.name(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let words: Vec<&str> = stdout.split_whitespace().collect();
    match (words.first().and_then(|m| m.parse().ok()), words.get(2)) {
        (Some(median), Some(&pinned)) => Ok((median, pinned == "pinned")),
        _ => Err(format!("the C ping-pong printed {stdout:?}")),
    }
}
