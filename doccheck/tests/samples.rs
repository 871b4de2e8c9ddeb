//! The sample documents' listings give exactly the findings their `.expected` files list.

mod common;

use std::time::{Duration, Instant};

use doccheck::{code, compile};

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
    let rules = common::code_rules();
    for (path, text, expected) in common::samples() {
        let started = Instant::now();
        let findings = code::check(
            &path.display().to_string(),
            &common::listings(&text),
            &rules,
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{}: code rules took {:?}",
            path.display(),
            started.elapsed()
        );
        let found = findings.iter().map(common::expected_line).collect();
        if let Err(e) = compare(&expected, found, false) {
            panic!("{}:\n{e}", path.display());
        }
    }
}

#[test]
fn the_compiler_finds_exactly_the_expected_findings_in_the_samples() {
    for (path, text, expected) in common::samples() {
        let findings = match compile::compile(&path.display().to_string(), &common::listings(&text))
        {
            Ok(f) => f,
            Err(compile::CompileError::NoCompiler(cc)) => {
                eprintln!("skipped: no C compiler ({cc}) on this machine");
                return;
            }
            Err(e) => panic!("{}: {e}", path.display()),
        };
        let found = findings.iter().map(common::expected_line).collect();
        if let Err(e) = compare(&expected, found, true) {
            panic!("{}:\n{e}", path.display());
        }
    }
}
