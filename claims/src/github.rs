//! GitHub Actions: what the runner adds to a job's page.

use std::io::Write as _;
use std::path::Path;

/// In GitHub Actions, appends `markdown` to the job's summary page.
pub fn step_summary(markdown: &str) {
    let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) else {
        return;
    };
    let appended = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&summary)
        .and_then(|mut f| f.write_all(markdown.as_bytes()));
    if let Err(e) = appended {
        eprintln!(
            "warning: $GITHUB_STEP_SUMMARY ({}): {e}",
            Path::new(&summary).display()
        );
    }
}
