//! The harness every socket-claims suite uses: private network namespaces ([`sandbox`]),
//! loopback peers ([`peers`]), bounded waits ([`wait`]), privilege and kernel detection
//! ([`privileges`]), evidence recording ([`evidence`]), the claim catalogue ([`catalogue`]),
//! the report ([`report`]), the speed bench ([`bench`]) and the command-line tools some claims
//! need ([`tools`]).

pub mod bench;
pub mod catalogue;
pub mod course;
pub mod evidence;
pub mod junit;
pub mod kernel;
pub mod lock;
pub mod matrix;
pub mod peers;
pub mod privileges;
pub mod report;
pub mod run;
pub mod sandbox;
pub mod tools;
pub mod wait;

pub use evidence::{claim, skip, Ctx};
pub use peers::Family;
pub use privileges::Cap;

/// The workspace this harness belongs to (the catalogue and `target/` live there).
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("harness/ sits inside the workspace")
        .to_path_buf()
}

/// The errno of a failed socket call, for comparing with the man pages' names.
pub fn errno(e: std::io::Error) -> nix::errno::Errno {
    nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0))
}
