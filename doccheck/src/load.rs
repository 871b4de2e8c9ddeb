//! Loads the rules from the fact files (`fixtures/facts/<section>.toml`): each `[[fact]]` with
//! its `id`, `statement` and `[[fact.rule]]` entries. Only those fields are read here; the
//! catalogue owns the rest of a fact. Every problem is reported at once, each naming the file,
//! the fact, the rule and the field (a bad regular expression is quoted with the regex error).

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::prose::ProseRule;
use crate::rules::{FactRule, Rule, RuleKind};

/// The rules of every fact, compiled, with the facts' statements.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    /// Fact id → statement, for every fact read (with or without rules).
    pub facts: BTreeMap<String, String>,
    pub prose: Vec<ProseRule>,
    /// Code rules, run by the code checks (`doccheck::code`).
    pub code: Vec<FactRule>,
}

impl Rules {
    /// Every rule, prose first, in file order.
    pub fn all(&self) -> impl Iterator<Item = &FactRule> {
        self.prose.iter().map(|p| &p.rule).chain(&self.code)
    }
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    fact: Vec<Fact>,
}

#[derive(Deserialize)]
struct Fact {
    id: String,
    #[serde(default)]
    statement: String,
    #[serde(default)]
    rule: Vec<toml::Value>,
}

/// `fixtures/facts` of this workspace (tests; the runner passes its own directory).
pub fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/facts")
}

/// Loads every `*.toml` of `dir`, sorted by name.
pub fn load_dir(dir: &Path) -> Result<Rules, String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("fact files {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut rules = Rules::default();
    let mut problems = Vec::new();
    for path in files {
        let name = path.display().to_string();
        match fs::read_to_string(&path) {
            Ok(text) => load_str(&name, &text, &mut rules, &mut problems),
            Err(e) => problems.push(format!("{name}: {e}")),
        }
    }
    if problems.is_empty() {
        Ok(rules)
    } else {
        Err(problems.join("\n"))
    }
}

/// Adds one file's facts and rules to `rules`; its problems go to `problems`.
pub fn load_str(file: &str, text: &str, rules: &mut Rules, problems: &mut Vec<String>) {
    let parsed: File = match toml::from_str(text) {
        Ok(f) => f,
        Err(e) => {
            problems.push(format!("{file}: {e}"));
            return;
        }
    };
    for fact in parsed.fact {
        rules
            .facts
            .insert(fact.id.clone(), fact.statement.trim().to_string());
        let mut names = HashSet::new();
        for (i, value) in fact.rule.into_iter().enumerate() {
            let name = value
                .get("name")
                .and_then(|n| n.as_str())
                .map_or_else(|| format!("#{}", i + 1), |n| format!("{n:?}"));
            let place = format!("{file}: fact {}: rule {name}", fact.id);
            let rule: Rule = match value.try_into() {
                Ok(r) => r,
                Err(e) => {
                    problems.push(format!("{place}: {}", e.to_string().trim()));
                    continue;
                }
            };
            if !names.insert(rule.name.clone()) {
                problems.push(format!("{place}: name: used twice in this fact"));
            }
            let rule = FactRule {
                fact: fact.id.clone(),
                rule,
            };
            match validate(&rule) {
                Ok(Some(prose)) => rules.prose.push(prose),
                Ok(None) => rules.code.push(rule),
                Err(e) => problems.extend(e.into_iter().map(|e| format!("{place}: {e}"))),
            }
        }
    }
}

/// Checks one rule's fields; a prose rule comes back compiled.
fn validate(rule: &FactRule) -> Result<Option<ProseRule>, Vec<String>> {
    let r = &rule.rule;
    let mut problems = Vec::new();
    if r.name.is_empty()
        || !r
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        problems.push("name: lowercase letters, digits and `-` only".to_string());
    }
    for (field, text) in [
        ("message", Some(&r.message)),
        ("correction", r.correction.as_ref()),
    ] {
        if let Some(t) = text {
            if t.ko.trim().is_empty() || t.en.trim().is_empty() {
                problems.push(format!("{field}: needs both `ko` and `en`"));
            }
        }
    }
    if r.fire.is_empty() {
        problems.push("fire: at least one example the rule must fire on".to_string());
    }
    if r.pass.is_empty() {
        problems.push("pass: at least one close, correct example it must not fire on".to_string());
    }
    let prose = match r.kind {
        RuleKind::Prose => {
            if r.check.is_some() {
                problems.push("check: only a code rule names a check".to_string());
            }
            match ProseRule::new(rule) {
                Ok(p) => Some(p),
                Err(e) => {
                    problems.push(e);
                    None
                }
            }
        }
        RuleKind::Code => {
            match r.check.as_deref() {
                None => problems.push("check: a code rule names its check".to_string()),
                Some(c) if !crate::code::check_exists(c) => {
                    problems.push(format!("check: no check {c:?} in doccheck::code"))
                }
                Some(_) => {}
            }
            if !(r.all.is_empty() && r.any.is_empty() && r.none.is_empty()) {
                problems.push("all/any/none: only a prose rule has patterns".to_string());
            }
            None
        }
    };
    if problems.is_empty() {
        Ok(prose)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        let mut rules = Rules::default();
        let mut problems = Vec::new();
        load_str("facts/x.toml", text, &mut rules, &mut problems);
        problems
    }

    const GOOD: &str = r#"
[[fact]]
id = "tcp.backlog"
statement = "The backlog bounds the accept queue."

[[fact.rule]]
name = "max-clients"
kind = "prose"
severity = "error"
message = { ko = "아닙니다.", en = "No." }
all = ["backlog"]
fire = ["The backlog is the max number of clients."]
pass = ["The backlog bounds the accept queue."]
"#;

    #[test]
    fn a_good_file_loads_its_facts_and_compiled_rules() {
        let mut rules = Rules::default();
        let mut problems = Vec::new();
        load_str("x.toml", GOOD, &mut rules, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(rules.prose.len(), 1);
        assert_eq!(rules.prose[0].rule.id(), "tcp.backlog/max-clients");
        assert_eq!(
            rules.facts["tcp.backlog"],
            "The backlog bounds the accept queue."
        );
    }

    #[test]
    fn a_bad_regex_is_named_with_file_fact_rule_and_field() {
        let p = problems(&GOOD.replace(r#"all = ["backlog"]"#, r#"all = ["back(log"]"#));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with(
                "facts/x.toml: fact tcp.backlog: rule \"max-clients\": all[0]: bad regular \
                 expression \"back(log\""
            ),
            "{p:?}"
        );
    }

    #[test]
    fn a_missing_field_and_a_missing_pass_example_are_named() {
        let p = problems(&GOOD.replace("severity = \"error\"\n", "").replace(
            "pass = [\"The backlog bounds the accept queue.\"]",
            "pass = []",
        ));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].contains("rule \"max-clients\": missing field `severity`"),
            "{p:?}"
        );
        let p = problems(&GOOD.replace(
            "pass = [\"The backlog bounds the accept queue.\"]",
            "pass = []",
        ));
        assert!(p[0].ends_with("pass: at least one close, correct example it must not fire on"));
    }
}
