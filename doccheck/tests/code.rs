//! The code checks and the compiler on C listings: every code rule fires on each of its
//! `fire` listings and on none of its `pass` listings, every check is some rule's, and the
//! sample documents give exactly the findings their `.expected` files list.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use doccheck::code::{self, Listing};
use doccheck::{compile, examples, load, Document, Finding, Origin, Rules};

/// The catalogue's rules (prose and code).
fn rules() -> Rules {
    load::load_dir(&load::workspace_dir()).unwrap_or_else(|e| panic!("{e}"))
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
    let rules = rules();
    assert!(!rules.code.is_empty());
    let wrong: Vec<String> = rules
        .code
        .iter()
        .filter_map(|r| examples::check_code(r).err())
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_check_belongs_to_a_rule_on_a_fact() {
    let rules = rules().code;
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
fn the_compiler_finds_exactly_the_expected_findings_in_the_samples() {
    let samples = samples();
    // One document's runs are parallel already; the documents go side by side too.
    let results: Vec<Result<Vec<Finding>, compile::CompileError>> = std::thread::scope(|scope| {
        let runs: Vec<_> = samples
            .iter()
            .map(|(path, text, _)| {
                scope.spawn(move || {
                    doccheck::compile_listings(&Document::parse(&path.display().to_string(), text))
                })
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
#include <netdb.h>
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
fn a_20_kb_document_is_checked_in_under_2_s_without_the_compiler() {
    let rules = rules();
    let mut text = String::new();
    for (_, sample, _) in samples().iter().cycle() {
        if text.len() >= 20 * 1024 {
            break;
        }
        text.push_str(sample);
    }
    let started = Instant::now();
    let doc = Document::parse("big.md", &text);
    let findings = doccheck::check(&doc, &rules);
    let took = started.elapsed();
    assert!(findings.iter().any(|f| f.origin == Origin::Code));
    assert!(
        took < Duration::from_secs(2),
        "{} bytes took {took:?}",
        text.len()
    );
}

#[test]
fn a_finding_in_an_indented_listing_points_at_the_files_own_column() {
    let text = "1. Fill in the address:\n\n   ```c\n   struct sockaddr_in a;\n   a.sin_port = 8080;\n   ```\n";
    let doc = Document::parse("list.md", text);
    let found: Vec<(usize, usize, String)> = doccheck::check(&doc, &rules())
        .into_iter()
        .filter(|f| f.origin == Origin::Code)
        .map(|f| (f.line, f.column, f.excerpt))
        .collect();
    assert_eq!(found, vec![(5, 4, "a.sin_port = 8080;".to_string())]);
}

#[test]
fn without_a_compiler_the_compile_step_says_so() {
    let listing = [Listing {
        code: "int main(void) { return 0; }\n",
        first_line: 1,
        lang: Some("c"),
    }];
    let got = compile::compile_with("/nonexistent/cc", "doc.md", &listing);
    match got {
        Err(e @ compile::CompileError::NoCompiler(_)) => {
            assert_eq!(
                e.to_string(),
                "skipped: no C compiler (/nonexistent/cc) found to compile the listings"
            )
        }
        other => panic!("{other:?}"),
    }
}
