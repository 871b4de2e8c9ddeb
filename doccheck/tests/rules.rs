//! The rules in `fixtures/facts/*.toml` against their own examples, both ways: every rule fires
//! on each of its `fire` examples and on none of its `pass` examples. And a correction is
//! something an author pastes, a fact's statement is what the kernel does: no rule may fire on
//! either.

use doccheck::examples;
use std::sync::OnceLock;

use doccheck::load::{load_dir, workspace_dir};
use doccheck::{check, Document, Rules};

/// The workspace's rules, compiled once for the tests of this file.
fn rules() -> &'static Rules {
    static RULES: OnceLock<Rules> = OnceLock::new();
    RULES.get_or_init(|| load_dir(&workspace_dir()).expect("the fact files load"))
}

#[test]
fn every_rule_fires_on_its_fire_examples_and_on_none_of_its_pass_examples() {
    let rules = rules();
    let outcomes = examples::check_all(rules);
    let wrong: Vec<&String> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
    assert!(
        wrong.is_empty(),
        "{}",
        wrong
            .iter()
            .map(|w| w.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let run: usize = outcomes.iter().filter_map(|o| o.as_ref().ok()).sum();
    assert!(!rules.prose.is_empty() && !rules.code.is_empty());
    assert!(run >= 2 * (rules.prose.len() + rules.code.len()));
}

/// Every correction text in a TOML file: `correction = { ko, en }` tables at any depth.
fn corrections(value: &toml::Value, out: &mut Vec<String>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                match (k.as_str(), v) {
                    ("correction", toml::Value::Table(c)) => {
                        out.extend(c.values().filter_map(|s| s.as_str().map(String::from)))
                    }
                    _ => corrections(v, out),
                }
            }
        }
        toml::Value::Array(a) => a.iter().for_each(|v| corrections(v, out)),
        _ => {}
    }
}

#[test]
fn no_rule_fires_on_a_correction_of_the_catalogue() {
    let rules = rules();
    let root = workspace_dir().join("..");
    let mut texts = Vec::new();
    for dir in ["facts", "claims"] {
        for entry in std::fs::read_dir(root.join(dir)).expect("fixtures directory") {
            let path = entry.expect("directory entry").path();
            if path.extension().is_some_and(|x| x == "toml") {
                let text = std::fs::read_to_string(&path).expect("read a fixture");
                let value: toml::Value = toml::from_str(&text).expect("a fixture parses");
                corrections(&value, &mut texts);
            }
        }
    }
    assert!(texts.len() > 50, "found only {} corrections", texts.len());
    let fired: Vec<String> = texts
        .iter()
        .flat_map(|t| {
            check(&Document::parse("correction", t), rules)
                .into_iter()
                .map(move |f| format!("{}: {t:?}", f.rule))
        })
        .collect();
    assert!(fired.is_empty(), "{}", fired.join("\n"));
}

#[test]
fn no_prose_rule_fires_on_a_fact_statement() {
    let rules = rules();
    let fired: Vec<String> = rules
        .facts
        .iter()
        .flat_map(|(id, statement)| {
            let doc = Document::parse(id, statement);
            doccheck::prose::check(&doc, &rules.prose)
                .into_iter()
                .map(move |f| format!("{} on the statement of {id}", f.rule))
        })
        .collect();
    assert!(fired.is_empty(), "{}", fired.join("\n"));
}
