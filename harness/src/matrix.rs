//! `cargo claims matrix`: the whole suite under each kernel of `fixtures/kernels.toml`.

use std::process::ExitCode;

/// Entry point of `cargo claims matrix ARGS…`.
pub fn main(_args: Vec<String>) -> ExitCode {
    eprintln!("error: cargo claims matrix is not available yet");
    ExitCode::from(2)
}
