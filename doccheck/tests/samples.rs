//! Sample tutorials of our own writing (`tests/samples/*.md`, Korean and English), with wrong
//! and close, correct sentences about the same options. Each has an exact list of expected
//! findings (`<sample>.expected`: `line:column rule-id`, the file's own lines, front matter
//! included), checked both ways: nothing missing, nothing more.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use doccheck::load::{load_dir, workspace_dir};
use doccheck::{check, Document, Rules};

fn rules() -> &'static Rules {
    static RULES: OnceLock<Rules> = OnceLock::new();
    RULES.get_or_init(|| load_dir(&workspace_dir()).expect("the fact files load"))
}

fn samples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/samples");
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("tests/samples")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    out.sort();
    out
}

/// `line:column rule-id` for every finding of the rules on `path`.
fn found(path: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(path).expect("read a sample");
    let doc = Document::parse(&path.display().to_string(), &text);
    check(&doc, rules())
        .iter()
        .map(|f| format!("{}:{} {}", f.line, f.column, f.rule))
        .collect()
}

#[test]
fn each_sample_has_exactly_its_expected_findings() {
    let mut problems = Vec::new();
    for sample in samples() {
        let expected_file = sample.with_extension("expected");
        let expected: BTreeSet<String> = std::fs::read_to_string(&expected_file)
            .unwrap_or_else(|e| panic!("{}: {e}", expected_file.display()))
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            // The compiler's findings are checked in tests/code.rs (they run cc).
            .filter(|l| !l.ends_with(" c-compile") && !l.contains(" c-compile "))
            .map(String::from)
            .collect();
        let found = found(&sample);
        let missing: Vec<_> = expected.difference(&found).collect();
        let extra: Vec<_> = found.difference(&expected).collect();
        if !missing.is_empty() || !extra.is_empty() {
            problems.push(format!(
                "{}:\n  expected but not found: {missing:?}\n  found but not expected: {extra:?}",
                sample.display()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_prose_rule_fires_somewhere_in_the_samples() {
    let fired: BTreeSet<String> = samples()
        .iter()
        .flat_map(|s| found(s))
        .filter_map(|f| f.split_once(' ').map(|(_, rule)| rule.to_string()))
        .collect();
    let silent: Vec<String> = rules()
        .prose
        .iter()
        .map(|r| r.rule.id())
        .filter(|id| !fired.contains(id))
        .collect();
    assert!(silent.is_empty(), "no sample sentence fires: {silent:#?}");
}
