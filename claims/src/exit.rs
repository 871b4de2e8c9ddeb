//! How every command ends: named exit codes.

use std::fmt::Display;
use std::process::ExitCode;

/// How a command ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Everything checked holds.
    Ok = 0,
    /// A finding: a test or claim failed, the course text drifted, a kernel did not run.
    Finding = 1,
    /// Bad input: an unknown option, a malformed catalogue, a missing file (clap's own code
    /// for a usage error).
    BadInput = 2,
}

impl Exit {
    /// [`Exit::Finding`] if `found`, else [`Exit::Ok`].
    pub fn finding_if(found: bool) -> ExitCode {
        if found { Exit::Finding } else { Exit::Ok }.into()
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

/// Prints `error: <e>` and ends with [`Exit::BadInput`].
pub fn bad_input(e: impl Display) -> ExitCode {
    eprintln!("error: {e}");
    Exit::BadInput.into()
}
