//! The test kit every socket-claims suite links: the [`claim`] check ([`check`]) and the
//! evidence it records ([`record`]), the claim catalogue ([`catalogue`]), the running kernel
//! ([`kernel`]), private network namespaces ([`sandbox`]), loopback peers ([`peers`]), bounded
//! waits ([`wait`]), privilege detection ([`privileges`]), the command-line tools some claims
//! need ([`tools`]) and the speed primitives of the short speed tests ([`bench`]).

pub mod bench;
pub mod catalogue;
pub mod check;
pub mod kernel;
pub mod lock;
pub mod peers;
pub mod privileges;
pub mod record;
pub mod run;
pub mod sandbox;
pub mod tools;
pub mod wait;

pub use check::{claim, skip, Ctx};
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
