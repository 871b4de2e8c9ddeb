//! Every rule against its own examples: it must fire on each `fire` example and on none of its
//! `pass` examples. A prose example is read as a document (so it is split as a real one would
//! be); a code example is one listing, run through the rule's check on its own.

use crate::code;
use crate::document::Document;
use crate::load::Rules;
use crate::prose::{self, ProseRule};
use crate::rules::FactRule;

/// What checking one rule's examples found.
#[derive(Debug, PartialEq, Eq)]
pub enum Examples {
    /// All examples behave; this many were run.
    Hold(usize),
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

/// Runs one code rule's check on each of its example listings.
pub fn check_code(rule: &FactRule) -> Result<Examples, String> {
    let r = &rule.rule;
    let check = r.check.as_deref().unwrap_or_default();
    let fires = |listing: &str| {
        code::fire_points(check, listing)
            .ok_or_else(|| format!("{}: no code check named {check:?}", rule.id()))
    };
    let mut wrong = Vec::new();
    for (i, ex) in r.fire.iter().enumerate() {
        if fires(ex)?.is_empty() {
            wrong.push(format!("fire[{i}] does not fire: {ex:?}"));
        }
    }
    for (i, ex) in r.pass.iter().enumerate() {
        let points = fires(ex)?;
        if !points.is_empty() {
            wrong.push(format!(
                "pass[{i}] fires at {points:?} (line, column): {ex:?}"
            ));
        }
    }
    if wrong.is_empty() {
        Ok(Examples::Hold(r.fire.len() + r.pass.len()))
    } else {
        Err(format!("{}: {}", rule.id(), wrong.join("; ")))
    }
}

/// Every rule's examples, prose rules first.
pub fn check_all(rules: &Rules) -> Vec<Result<Examples, String>> {
    rules
        .prose
        .iter()
        .map(check_prose)
        .chain(rules.code.iter().map(check_code))
        .collect()
}
