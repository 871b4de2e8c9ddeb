//! A visible skip: a test body that lacks a privilege, a kernel feature or a tool ends with
//! [`skip`], and the check records "skipped: <reason>" instead of a pass or a failure.

use std::panic::resume_unwind;

/// The payload that carries a skip out of a test body.
pub(crate) struct Skipped(pub(crate) String);

/// Ends the test body as skipped with `reason` (a missing privilege or kernel feature).
pub fn skip(reason: impl Into<String>) -> ! {
    resume_unwind(Box::new(Skipped(reason.into())))
}
