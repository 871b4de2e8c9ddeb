//! The code checks and the compiler on C listings: every code rule fires on each of its
//! `fire` listings and on none of its `pass` listings, every check is some rule's, and the
//! sample documents give exactly the findings their `.expected` files list.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use doccheck::code::{self, Listing};
use doccheck::compile;
use doccheck::{FactRule, Finding, Rule, RuleKind};

/// Every code rule of `fixtures/facts/*.toml`, with its fact.
fn code_rules() -> Vec<FactRule> {
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
fn samples() -> Vec<(PathBuf, String, String)> {
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
fn listings(markdown: &str) -> Vec<Listing<'_>> {
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
fn expected_line(f: &Finding) -> String {
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

#[test]
fn every_code_rule_fires_on_its_fire_listings_and_on_none_of_its_pass_listings() {
    let rules = code_rules();
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
    let rules = code_rules();
    let unused: Vec<&str> = code::CHECKS
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| !rules.iter().any(|r| r.rule.check.as_deref() == Some(*name)))
        .collect();
    assert!(unused.is_empty(), "checks no rule uses: {unused:?}");
}

/// The expected lines of one origin, and what the tool found, both sorted.
fn compare(expected: &str, found: Vec<String>, compiler: bool) -> Result<(), String> {
    let mut want: Vec<String> = expected
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter(|l| l.contains(" c-compile") == compiler)
        .map(str::to_owned)
        .collect();
    let mut found = found;
    want.sort();
    found.sort();
    if want == found {
        return Ok(());
    }
    let missing: Vec<_> = want.iter().filter(|w| !found.contains(w)).collect();
    let extra: Vec<_> = found.iter().filter(|f| !want.contains(f)).collect();
    Err(format!("missing: {missing:#?}\nunexpected: {extra:#?}"))
}

#[test]
fn code_rules_find_exactly_the_expected_findings_in_the_samples() {
    let rules = code_rules();
    for (path, text, expected) in samples() {
        let findings = code::check(&path.display().to_string(), &listings(&text), &rules);
        let found = findings.iter().map(expected_line).collect();
        if let Err(e) = compare(&expected, found, false) {
            panic!("{}:\n{e}", path.display());
        }
    }
}

#[test]
fn the_compiler_finds_exactly_the_expected_findings_in_the_samples() {
    let samples = samples();
    // One document's runs are parallel already; the documents go side by side too.
    let results: Vec<Result<Vec<Finding>, compile::CompileError>> = std::thread::scope(|scope| {
        let runs: Vec<_> = samples
            .iter()
            .map(|(path, text, _)| {
                scope.spawn(move || compile::compile(&path.display().to_string(), &listings(text)))
            })
            .collect();
        runs.into_iter()
            .map(|r| r.join().expect("a compile thread"))
            .collect()
    });
    for ((path, _, expected), result) in samples.iter().zip(results) {
        let findings = match result {
            Ok(f) => f,
            Err(compile::CompileError::NoCompiler(cc)) => {
                eprintln!("skipped: no C compiler ({cc}) on this machine");
                return;
            }
            Err(e) => panic!("{}: {e}", path.display()),
        };
        let found = findings.iter().map(expected_line).collect();
        if let Err(e) = compare(expected, found, true) {
            panic!("{}:\n{e}", path.display());
        }
    }
}

/// Every correction in the catalogue (claims and rules) that reads as C, in both languages.
fn code_corrections() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let mut out = Vec::new();
    for sub in ["claims", "facts"] {
        for entry in std::fs::read_dir(root.join(sub)).expect("a fixtures directory") {
            let path = entry.expect("a directory entry").path();
            if path.extension().is_none_or(|e| e != "toml") {
                continue;
            }
            let doc: toml::Table =
                toml::from_str(&std::fs::read_to_string(&path).expect("a fixture")).expect("TOML");
            let entries = doc
                .get("claim")
                .or_else(|| doc.get("fact"))
                .and_then(|v| v.as_array())
                .cloned()
                .unwrap_or_default();
            for entry in entries {
                let id = entry
                    .get("id")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned();
                let rules = entry
                    .get("rule")
                    .and_then(|v| v.as_array())
                    .cloned()
                    .unwrap_or_default();
                for holder in std::iter::once(&entry).chain(&rules) {
                    let Some(correction) = holder.get("correction") else {
                        continue;
                    };
                    for lang in ["ko", "en"] {
                        let text = correction
                            .get(lang)
                            .and_then(|v| v.as_str())
                            .unwrap_or_default();
                        if code::reads_as_c(text) {
                            out.push((format!("{id} ({lang})"), text.to_owned()));
                        }
                    }
                }
            }
        }
    }
    out
}

/// What a correction is pasted into: the socket headers and the names corrections use.
const CORRECTION_CONTEXT: &str = "#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
int fd, sock, conn_fd, listen_fd, on = 1, n;
struct sockaddr_in addr;
struct sockaddr_in6 addr6;
char buf[1024];
";

#[test]
fn the_catalogues_code_corrections_compile() {
    let corrections = code_corrections();
    assert!(
        corrections.len() >= 10,
        "corrections that read as C: {corrections:#?}"
    );
    let mut listings = vec![Listing {
        code: CORRECTION_CONTEXT,
        first_line: 1,
        lang: Some("c"),
    }];
    let mut line = 100;
    for (_, text) in &corrections {
        listings.push(Listing {
            code: text,
            first_line: line,
            lang: Some("c"),
        });
        line += 100;
    }
    let findings = match compile::compile("corrections", &listings) {
        Ok(f) => f,
        Err(compile::CompileError::NoCompiler(cc)) => {
            eprintln!("skipped: no C compiler ({cc}) on this machine");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let wrong: Vec<String> = findings
        .iter()
        .map(|f| format!("{}: {}", corrections[f.line / 100 - 1].0, f.message.en))
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn code_rules_check_the_listings_of_a_20_kb_document_in_under_2_s() {
    let rules = code_rules();
    let mut doc = String::new();
    for (_, text, _) in samples().iter().cycle() {
        if doc.len() >= 20 * 1024 {
            break;
        }
        doc.push_str(text);
    }
    let started = Instant::now();
    let findings = code::check("big.md", &listings(&doc), &rules);
    let took = started.elapsed();
    assert!(!findings.is_empty());
    assert!(
        took < Duration::from_secs(2),
        "{} bytes of Markdown took {took:?}",
        doc.len()
    );
}
