//! The test index: which test of `tests/*.rs` names which claim, read from the suites' sources.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use harness::catalogue::Catalogue;
use harness::record::TestId;

/// The test functions of `tests/*.rs`, by `<file stem>::<fn name>`, with the claim ids each
/// one's body names in `claim("…")` or `.and("…")`: the one link from a claim to its tests.
#[derive(Debug, Default)]
pub struct TestIndex {
    pub tests: BTreeMap<String, Vec<String>>,
}

impl TestIndex {
    /// Scans `dir` for functions carrying `#[test]` or `#[rstest]`.
    pub fn scan(dir: &Path) -> Result<TestIndex, String> {
        let mut index = TestIndex::default();
        let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            if path.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let stem = path.file_stem().unwrap_or_default().to_string_lossy();
            let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let lines: Vec<&str> = text.lines().collect();
            let mut starts = Vec::new();
            let mut attributed = false;
            for (n, line) in lines.iter().enumerate() {
                let t = line.trim_start();
                if t.starts_with("#[test]") || t.starts_with("#[rstest") {
                    attributed = true;
                } else if attributed {
                    if let Some(name) = fn_name(t) {
                        starts.push((n, name));
                        attributed = false;
                    }
                }
            }
            for (i, (start, name)) in starts.iter().enumerate() {
                let end = starts.get(i + 1).map_or(lines.len(), |(s, _)| *s);
                index.tests.insert(
                    format!("{stem}::{name}"),
                    named_claims(&lines[*start..end].join("\n")),
                );
            }
        }
        Ok(index)
    }

    /// Whether a recorded test (`suite::fn`, or `suite::fn::case…` for an rstest case) is one
    /// of the index's.
    pub fn knows(&self, test: &str) -> bool {
        self.tests.keys().any(|name| {
            test == name
                || test
                    .strip_prefix(name.as_str())
                    .is_some_and(|rest| rest.starts_with("::"))
        })
    }

    /// The tests whose bodies name claim `id`.
    pub fn tests_of(&self, id: &str) -> Vec<&str> {
        self.tests
            .iter()
            .filter(|(_, ids)| ids.iter().any(|i| i == id))
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Problems between the catalogue and the test sources: a section the tests name whose
    /// facts file is missing, emptied or renamed (its claims would drop out of the report
    /// without a word), tests that name an unknown fact id, conformance tests that name no
    /// fact, and untestable facts that a test names.
    pub fn cross_check(&self, catalogue: &Catalogue) -> Vec<String> {
        let mut problems = Vec::new();
        let named: BTreeSet<&str> = self
            .tests
            .values()
            .flat_map(|ids| ids.iter().filter_map(|id| id.split('.').next()))
            .collect();
        for section in named {
            if !catalogue.facts.iter().any(|f| f.section_key() == section) {
                problems.push(format!(
                    "fixtures/facts/{section}.toml: no facts of section {section}, which tests \
                     in {} name (the file is missing, emptied or renamed)",
                    self.suites_of(section).join(", ")
                ));
            }
        }
        for (name, ids) in &self.tests {
            if ids.is_empty() {
                problems.push(format!(
                    "test {name} names no fact (its body needs claim(\"<id>\"))"
                ));
            }
            for id in ids {
                match catalogue.fact(id) {
                    None => problems.push(format!("test {name} names unknown fact id {id:?}")),
                    Some(fact) if fact.untestable.is_some() => problems.push(format!(
                        "test {name} names fact {id}, whose field `untestable` says no test \
                         can check it"
                    )),
                    Some(_) => {}
                }
            }
        }
        problems
    }

    /// The suite files (`tests/<suite>.rs`) holding a test of a claim in `section`.
    pub fn suites_of(&self, section: &str) -> Vec<&str> {
        let mut suites: Vec<&str> = self
            .tests
            .iter()
            .filter(|(_, ids)| ids.iter().any(|id| id.split('.').next() == Some(section)))
            .map(|(name, _)| TestId::parse(name).suite)
            .collect();
        suites.dedup();
        suites
    }
}

/// The string literals passed to `claim(` and `.and(` in `body`, in order.
fn named_claims(body: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for (at, _) in body.match_indices('(') {
        let before = &body[..at];
        let call = before.ends_with(".and")
            || before.strip_suffix("claim").is_some_and(|b| {
                !b.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            });
        if !call {
            continue;
        }
        let rest = body[at + 1..].trim_start();
        if let Some(literal) = rest.strip_prefix('"') {
            if let Some(end) = literal.find('"') {
                ids.push(literal[..end].to_string());
            }
        }
    }
    ids
}

fn fn_name(line: &str) -> Option<String> {
    let rest = line
        .strip_prefix("pub ")
        .unwrap_or(line)
        .strip_prefix("fn ")?;
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests;
