//! Every code rule fires on each of its `fire` listings and on none of its `pass` listings.

use std::path::Path;

use doccheck::{code, FactRule, Rule, RuleKind};

fn code_rules() -> Vec<FactRule> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/facts");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let doc: toml::Table =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for fact in doc
            .get("fact")
            .and_then(|f| f.as_array())
            .into_iter()
            .flatten()
        {
            let id = fact["id"].as_str().unwrap().to_owned();
            for rule in fact
                .get("rule")
                .and_then(|r| r.as_array())
                .into_iter()
                .flatten()
            {
                let rule: Rule = rule
                    .clone()
                    .try_into()
                    .unwrap_or_else(|e| panic!("{id}: {e}"));
                if rule.kind == RuleKind::Code {
                    out.push(FactRule {
                        fact: id.clone(),
                        rule,
                    });
                }
            }
        }
    }
    out
}

#[test]
fn every_code_rule_fires_on_its_fire_listings_and_on_none_of_its_pass_listings() {
    let rules = code_rules();
    assert!(!rules.is_empty());
    let mut wrong = Vec::new();
    for r in &rules {
        let check = r.rule.check.as_deref().unwrap_or_default();
        for listing in &r.rule.fire {
            let points = code::fire_points(check, listing)
                .unwrap_or_else(|| panic!("{}: no check {check}", r.id()));
            if points.is_empty() {
                wrong.push(format!("{} did not fire on:\n{listing}\n", r.id()));
            }
        }
        for listing in &r.rule.pass {
            let points = code::fire_points(check, listing).unwrap();
            if !points.is_empty() {
                wrong.push(format!("{} fired at {points:?} on:\n{listing}\n", r.id()));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
