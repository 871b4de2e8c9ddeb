//! What the doccheck tests share: the code rules of the catalogue and the sample documents.

use std::path::{Path, PathBuf};

use doccheck::code::Listing;
use doccheck::{FactRule, Finding, Rule, RuleKind};

/// Every code rule of `fixtures/facts/*.toml`, with its fact.
pub fn code_rules() -> Vec<FactRule> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/facts");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("fixtures/facts") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a fact file");
        let doc: toml::Table =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for fact in doc
            .get("fact")
            .and_then(|f| f.as_array())
            .into_iter()
            .flatten()
        {
            let id = fact["id"].as_str().expect("a fact id").to_owned();
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

/// The sample documents (`tests/samples/*.md`), each with its expected findings file.
pub fn samples() -> Vec<(PathBuf, String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/samples");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/samples")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("a sample");
            let expected = std::fs::read_to_string(p.with_extension("expected"))
                .unwrap_or_else(|e| panic!("{}: its .expected file: {e}", p.display()));
            (p, text, expected)
        })
        .collect();
    out.sort();
    out
}

/// The fenced listings of a Markdown text, with the line of their first code line.
pub fn listings(markdown: &str) -> Vec<Listing<'_>> {
    let mut out = Vec::new();
    let mut open: Option<(usize, &str, usize)> = None;
    let mut offset = 0;
    for (i, line) in markdown.split_inclusive('\n').enumerate() {
        let trimmed = line.trim();
        match open {
            None if trimmed.starts_with("```") => {
                open = Some((
                    i + 2,
                    trimmed.trim_start_matches('`').trim(),
                    offset + line.len(),
                ));
            }
            Some((first_line, lang, start)) if trimmed == "```" => {
                out.push(Listing {
                    code: &markdown[start..offset],
                    first_line,
                    lang: Some(lang),
                });
                open = None;
            }
            _ => {}
        }
        offset += line.len();
    }
    out
}

/// One finding as an expected-findings line: `line:column rule` (and a compiler finding's fix).
pub fn expected_line(f: &Finding) -> String {
    match &f.correction {
        Some(c) if f.rule == "c-compile" => format!(
            "{}:{} {} {}",
            f.line,
            f.column,
            f.rule,
            c.en.lines().next().unwrap_or_default()
        ),
        _ => format!("{}:{} {}", f.line, f.column, f.rule),
    }
}
