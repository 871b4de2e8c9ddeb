//! The report: the catalogue joined with the evidence and the course text. One [`Status`] per
//! claim says what this run established; together with the verdict it says once, plainly,
//! whether the course's words hold ("course inaccurate, kernel confirms the correction"). It is
//! rendered for the terminal, as Markdown for the course's authors (their to-do list first,
//! Korean by default), as JSON (both languages) and as JUnit XML.

mod judge;
mod model;
mod render;
#[cfg(test)]
mod tests;
mod texts;

pub use judge::{build, judge_facts, newest};
pub use model::{Report, Status, TestOutcome, TestResult};
pub use texts::Lang;
