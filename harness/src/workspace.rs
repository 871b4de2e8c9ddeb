//! Where the workspace is: the catalogue, the course file beside it and `target/` are found
//! from here.

use std::path::{Path, PathBuf};

/// The workspace this harness belongs to.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("harness/ sits inside the workspace")
        .to_path_buf()
}
