//! Every rule against its own examples: it must fire on each `fire` example and on none of its
//! `pass` examples. A prose example is read as a document (so it is split as a real one would
//! be); a code example is one listing, run through its check ([`crate::code::fire_points`]).

use crate::code;
use crate::document::Document;
use crate::load::Rules;
use crate::prose::{self, ProseRule};
use crate::rules::FactRule;

/// Runs one prose rule on its examples: how many ran, or every example that misbehaves.
pub fn check_prose(rule: &ProseRule) -> Result<usize, String> {
    let fires = |text: &str| {
        let doc = Document::parse("example", text);
        !prose::check(&doc, std::slice::from_ref(rule)).is_empty()
    };
    both_ways(&rule.rule, fires)
}

/// Runs one code rule's check on its example listings, each on its own.
pub fn check_code(rule: &FactRule) -> Result<usize, String> {
    let check = rule.rule.check.as_deref().unwrap_or_default();
    both_ways(rule, |listing| {
        code::fire_points(check, listing).is_some_and(|points| !points.is_empty())
    })
}

/// `fires` must hold for every `fire` example and for no `pass` example.
fn both_ways(rule: &FactRule, fires: impl Fn(&str) -> bool) -> Result<usize, String> {
    let r = &rule.rule;
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
        Ok(r.fire.len() + r.pass.len())
    } else {
        Err(format!("{}: {}", rule.id(), wrong.join("; ")))
    }
}

/// Every rule's examples, prose and code: how many ran per rule, or what misbehaved.
pub fn check_all(rules: &Rules) -> Vec<Result<usize, String>> {
    rules
        .prose
        .iter()
        .map(check_prose)
        .chain(rules.code.iter().map(check_code))
        .collect()
}
