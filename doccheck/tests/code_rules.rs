//! Every code rule fires on each of its `fire` listings and on none of its `pass` listings,
//! and every check in `doccheck::code` is some rule's.

mod common;

use doccheck::code;

#[test]
fn every_code_rule_fires_on_its_fire_listings_and_on_none_of_its_pass_listings() {
    let rules = common::code_rules();
    let mut wrong = Vec::new();
    for r in &rules {
        let check = r.rule.check.as_deref().unwrap_or_default();
        for listing in &r.rule.fire {
            let points = code::fire_points(check, listing)
                .unwrap_or_else(|| panic!("{}: no check {check:?}", r.id()));
            if points.is_empty() {
                wrong.push(format!("{} does not fire on:\n{listing}\n", r.id()));
            }
        }
        for listing in &r.rule.pass {
            let points = code::fire_points(check, listing).unwrap_or_default();
            if !points.is_empty() {
                wrong.push(format!("{} fires at {points:?} on:\n{listing}\n", r.id()));
            }
        }
        if r.rule.fire.is_empty() || r.rule.pass.is_empty() {
            wrong.push(format!(
                "{} needs listings that fire and listings that pass",
                r.id()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_check_belongs_to_a_rule_on_a_fact() {
    let rules = common::code_rules();
    let unused: Vec<&str> = code::CHECKS
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| !rules.iter().any(|r| r.rule.check.as_deref() == Some(*name)))
        .collect();
    assert!(unused.is_empty(), "checks no rule uses: {unused:?}");
}
