//! Reads a document (Markdown or plain text) the catalogue has never seen and finds the
//! sentences and C listings that contradict a kernel fact the suite tests. It runs no kernel
//! test: the runner (`claims course`) gives each finding its fact's status from the latest run
//! and drops findings whose fact does not hold here.
//!
//! The rules are data, written next to the fact they rest on (`[[fact.rule]]` in
//! `fixtures/facts/<section>.toml`), each with sentences or listings that must fire and close,
//! correct ones that must not ([`rules`]).

pub mod code;
pub mod compile;
pub mod document;
pub mod examples;
pub mod finding;
pub mod load;
pub mod prose;
pub mod render;
pub mod rules;

pub use document::Document;
pub use finding::{Finding, Origin, Severity, Text};
pub use load::Rules;
pub use render::{FactStatus, Status};
pub use rules::{FactRule, Rule, RuleKind};

/// Every finding of the prose and code rules on one document, in document order (the
/// compiler's findings are [`compile::compile`]'s: they run the system C compiler).
pub fn check(doc: &Document, rules: &Rules) -> Vec<Finding> {
    let mut findings = prose::check(doc, &rules.prose);
    findings.extend(code::check(&doc.path, &doc.code_listings(), &rules.code));
    findings.sort_by(|a, b| (a.line, a.column, &a.rule).cmp(&(b.line, b.column, &b.rule)));
    findings
}
