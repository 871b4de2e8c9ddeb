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
/// compiler's findings are [`compile_listings`]'s: they run the system C compiler).
pub fn check(doc: &Document, rules: &Rules) -> Vec<Finding> {
    let mut findings = prose::check(doc, &rules.prose);
    let code = code::check(&doc.path, &doc.code_listings(), &rules.code);
    findings.extend(at_file_positions(doc, code));
    findings.sort_by(|a, b| (a.line, a.column, &a.rule).cmp(&(b.line, b.column, &b.rule)));
    findings
}

/// The C compiler's findings on the document's C listings ([`compile`]: bounded, separate
/// from [`check`] because it runs `cc`).
pub fn compile_listings(doc: &Document) -> Result<Vec<Finding>, compile::CompileError> {
    compile::compile(&doc.path, &doc.code_listings()).map(|f| at_file_positions(doc, f))
}

/// Moves findings placed by a listing's own lines and columns to the file's: a listing inside
/// a list item or a quote is indented in the file.
fn at_file_positions(doc: &Document, findings: Vec<Finding>) -> Vec<Finding> {
    let byte_in = |l: &document::Listing, line: usize, column: usize| {
        let row = line.checked_sub(l.line)?;
        let start: usize = l
            .code
            .text
            .split_inclusive('\n')
            .take(row)
            .map(str::len)
            .sum();
        let text = l.code.text[start..].lines().next().unwrap_or_default();
        let col: usize = text
            .chars()
            .take(column.saturating_sub(1))
            .map(char::len_utf8)
            .sum();
        Some(start + col)
    };
    findings
        .into_iter()
        .map(|mut f| {
            let holds = |l: &&document::Listing| {
                l.line <= f.line && f.line < l.line + l.code.text.lines().count()
            };
            let Some((l, at)) = doc
                .listings
                .iter()
                .find(holds)
                .and_then(|l| Some((l, byte_in(l, f.line, f.column)?)))
            else {
                return f;
            };
            let end = byte_in(l, f.end_line, f.end_column).unwrap_or(at).max(at);
            let (start, stop) = doc.span(&l.code, at..end.max(at + 1).min(l.code.text.len()));
            f.line = start.line;
            f.column = start.column;
            f.end_line = stop.line;
            f.end_column = stop.column;
            f.excerpt = doc.line(start.line).trim().to_string();
            f
        })
        .collect()
}
