//! Every rule against its own examples: it must fire on each `fire` example and on none of its
//! `pass` examples. A prose example is read as a document (so it is split as a real one would
//! be); a code rule's examples belong to the code checks, which run them themselves.

use crate::document::Document;
use crate::load::Rules;
use crate::prose::{self, ProseRule};

/// What checking one rule's examples found.
#[derive(Debug, PartialEq, Eq)]
pub enum Examples {
    /// All examples behave; this many were run.
    Hold(usize),
    /// A code rule: its examples are the code checks' to run.
    CodeRule,
}

/// Runs one prose rule on its examples; the error lists every example that misbehaves.
pub fn check_prose(rule: &ProseRule) -> Result<Examples, String> {
    let fires = |text: &str| {
        let doc = Document::parse("example", text);
        !prose::check(&doc, std::slice::from_ref(rule)).is_empty()
    };
    let r = &rule.rule.rule;
    let mut wrong = Vec::new();
    for (i, ex) in r.fire.iter().enumerate() {
        if !fires(ex) {
            wrong.push(format!("fire[{i}] does not fire: {ex:?}"));
        }
    }
    for (i, ex) in r.pass.iter().enumerate() {
        if fires(ex) {
            wrong.push(format!("pass[{i}] fires: {ex:?}"));
        }
    }
    if wrong.is_empty() {
        Ok(Examples::Hold(r.fire.len() + r.pass.len()))
    } else {
        Err(format!("{}: {}", rule.rule.id(), wrong.join("; ")))
    }
}

/// Every rule's examples: prose rules run here, code rules are counted for the code checks.
pub fn check_all(rules: &Rules) -> Vec<Result<Examples, String>> {
    rules
        .prose
        .iter()
        .map(check_prose)
        .chain(rules.code.iter().map(|_| Ok(Examples::CodeRule)))
        .collect()
}
