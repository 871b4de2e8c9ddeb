//! `cargo claims`: runs the suite on this machine and reports, claim by claim, whether the
//! course's words hold on this kernel.

use std::path::Path;
use std::process::{Command, ExitCode};

use clap::Parser;

mod bench;
mod children;
mod cli;
mod corrections;
mod course;
mod document;
mod exit;
#[cfg(test)]
mod formats;
mod github;
mod index;
mod junit;
mod matrix;
mod report;
mod runs;
mod speed;

use cli::{Cli, ReportOptions};
use exit::{bad_input, Exit};
use harness::catalogue::{self, Catalogue};
use harness::{privileges, record, sandbox};
use index::TestIndex;
use report::Lang;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => report_main(&cli.report),
        Some(cli::Command::Course(opts)) => document::main(&opts),
        Some(cli::Command::Matrix(opts)) => matrix::main(&opts),
        Some(cli::Command::Bench) => bench::main(),
        Some(cli::Command::Completions { shell }) => cli::completions(shell),
    }
}

/// `cargo claims [OPTIONS]`: the suite, then the report.
fn report_main(opts: &ReportOptions) -> ExitCode {
    match run_and_report(opts) {
        Ok(finding) => Exit::finding_if(finding),
        Err(e) => bad_input(e),
    }
}

/// Runs the suite (unless `--report-only`) and writes the report; Ok(true) when a test or a
/// claim failed.
fn run_and_report(opts: &ReportOptions) -> Result<bool, String> {
    let catalogue = Catalogue::load(&catalogue::default_dir())
        .map_err(|e| format!("the claim catalogue is malformed:\n{e}"))?;
    let root = harness::workspace_root();
    let index = TestIndex::scan(&root.join("tests"))
        .map_err(|e| format!("reading the test sources: {e}"))?;
    let problems = index.cross_check(&catalogue);
    if !problems.is_empty() {
        return Err(format!(
            "the catalogue and the tests disagree:\n{}",
            problems.join("\n")
        ));
    }
    // The course file is read, and the catalogue's corrections of it checked, before the suite
    // runs: a bad one costs seconds, not a run.
    let drift = match opts.course.clone().or_else(course::default_file) {
        Some(file) => {
            let drift = course::Drift::load(&file)?;
            pasteable(&file, &catalogue)?;
            Some(drift)
        }
        None => None,
    };
    // One `cargo claims` at a time per evidence directory: another's clearing or writing would
    // mix or wipe this one's evidence.
    let _alone = harness::lock::acquire(
        &harness::lock::dir().join("claims.lock"),
        std::time::Duration::ZERO,
    )
    .map_err(|e| format!("another cargo claims is running on this evidence: {e}"))?;
    let tests_failed = !opts.report_only && !run_suite(&root, &index, opts)?;
    let results = record::results_dir();
    let records = record::read_all(&results).map_err(|e| format!("unreadable evidence: {e}"))?;
    let (run, records, warnings) = runs::newest(records, &index, &harness::kernel::release());
    for w in &warnings {
        eprintln!("warning: {}: {w}", results.display());
    }
    let Some(run) = run.filter(|r| r.records > 0) else {
        eprintln!(
            "error: nothing was checked: no evidence of this kernel's tests in {} (run `cargo \
             claims`, or `cargo test` first)",
            results.display()
        );
        return Ok(true);
    };
    eprintln!("reporting {}", run.describe());
    let mut report = report::build(
        &catalogue,
        &index,
        &records,
        opts.section.as_deref(),
        privileges::Privileges::current(),
        sandbox::availability(),
    );
    report.run = Some(run.clone());
    match &drift {
        Some(drift) => report.locate(drift),
        None => eprintln!(
            "note: no course file at {} (from the workspace): the report has no line numbers; \
             give one with --course FILE",
            course::DEFAULT_COURSE
        ),
    }
    let out = record::claims_dir();
    let bench = speed::load(&out).map_err(|e| format!("unreadable bench results: {e}"))?;
    // A bench measured beside another run says nothing about this one.
    let bench = bench.filter(|b| match runs::bench_of_another_run(b, &run) {
        Some(why) => {
            eprintln!("note: {}: {why}", out.join("bench.json").display());
            false
        }
        None => true,
    });
    let speed = speed::apply(&mut report, bench.as_ref(), opts.lang);
    print!("{}", report.terminal(opts.lang));
    write_report(&report, &speed, opts.lang, &out)
        .map_err(|e| format!("writing the report to {}: {e}", out.display()))?;
    github::step_summary(&report.must_change(opts.lang));
    println!(
        "report: {} (also report.json, junit.xml)",
        shown(&out.join("report.md"), &root)
    );
    if let Some(why) = report.totals.nothing_checked() {
        eprintln!("error: nothing was checked: {why}");
        return Ok(true);
    }
    Ok(tests_failed || report.totals.fails > 0)
}

/// The report refuses to offer two different replacements for one place of the course text,
/// or a table cell's correction that is not a cell.
fn pasteable(file: &Path, catalogue: &Catalogue) -> Result<(), String> {
    let text = course::Text::parse(&course::read_course(file)?);
    let refused: Vec<String> = corrections::conflicts(&text, &catalogue.claims)
        .iter()
        .map(|c| format!("  {c}"))
        .chain(
            corrections::misfits(&text, &catalogue.claims)
                .iter()
                .map(|m| format!("  {m}")),
        )
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{}: corrections an author cannot paste as they are (fixtures/claims/):\n{}",
        file.display(),
        refused.join("\n")
    ))
}

/// report.md (with the speed section), report.json and junit.xml in `out`.
fn write_report(
    report: &report::Report,
    speed: &str,
    lang: Lang,
    out: &Path,
) -> std::io::Result<()> {
    let suite = format!("Linux {}", report.kernel);
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("report.md"), report.markdown(lang) + speed)?;
    let json = serde_json::to_string_pretty(report).expect("report serialises");
    std::fs::write(out.join("report.json"), json)?;
    let xml = junit::render(&[report.junit_suite(&suite, "socket-claims")]);
    std::fs::write(out.join("junit.xml"), xml)
}

/// Runs `cargo test` with fresh evidence; true if every test passed.
fn run_suite(root: &Path, index: &TestIndex, opts: &ReportOptions) -> Result<bool, String> {
    let results = record::results_dir();
    clear_evidence(&results)?;
    // The bench of an earlier run is not this run's.
    let bench = record::claims_dir().join("bench.json");
    match std::fs::remove_file(&bench) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(format!("clearing the old bench {}: {e}", bench.display()))
        }
        _ => {}
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    // The tests find the same evidence directory (and their locks beside it) from the same
    // environment.
    cmd.current_dir(root).args(["test", "--no-fail-fast"]);
    if opts.quiet {
        cmd.arg("--quiet");
    }
    match &opts.section {
        None => {
            cmd.arg("--workspace");
        }
        Some(section) => {
            let suites = index.suites_of(section);
            if suites.is_empty() {
                eprintln!("note: section {section} has no tests yet; reporting only");
                return Ok(true);
            }
            cmd.args(["--package", "socket-claims"]);
            for suite in suites {
                cmd.args(["--test", suite]);
            }
        }
    }
    eprintln!("running: cargo {}", display_args(&cmd));
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run cargo test: {e}"))?;
    Ok(status.success())
}

fn display_args(cmd: &Command) -> String {
    cmd.get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn shown(path: &Path, root: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Clears the evidence of earlier runs from `results`: the files the suite writes there
/// (`<pid>.jsonl`), nothing else, whatever `$SOCKET_CLAIMS_RESULTS` names; a symlink in its
/// place is refused.
fn clear_evidence(results: &Path) -> Result<(), String> {
    match std::fs::symlink_metadata(results) {
        Ok(meta) if !meta.is_dir() => {
            return Err(format!(
                "{}: the evidence directory is not a directory (a symlink?)",
                results.display()
            ))
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("{}: {e}", results.display())),
    }
    std::fs::create_dir_all(results).map_err(|e| format!("creating {}: {e}", results.display()))?;
    let entries = std::fs::read_dir(results).map_err(|e| format!("{}: {e}", results.display()))?;
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        let ours = path.extension().is_some_and(|x| x == "jsonl")
            && path
                .file_stem()
                .and_then(|s| s.to_str())
                .is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
        let file = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file());
        if ours && file {
            std::fs::remove_file(&path)
                .map_err(|e| format!("clearing old evidence {}: {e}", path.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clearing_evidence_deletes_only_the_suites_own_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let results = dir.path().join("evidence");
        std::fs::create_dir(&results).expect("mkdir");
        let victim = dir.path().join("victim.jsonl");
        std::fs::write(&victim, "keep").expect("write");
        for name in ["123.jsonl", "notes.txt", "report.jsonl"] {
            std::fs::write(results.join(name), "x").expect("write");
        }
        std::fs::create_dir(results.join("locks")).expect("mkdir");
        std::os::unix::fs::symlink(&victim, results.join("456.jsonl")).expect("symlink");
        clear_evidence(&results).expect("cleared");
        let mut left: Vec<String> = std::fs::read_dir(&results)
            .expect("read")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["456.jsonl", "locks", "notes.txt", "report.jsonl"]);
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "keep");
        // A results "directory" that is a symlink is refused, not followed.
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(dir.path(), &link).expect("symlink");
        assert!(clear_evidence(&link).is_err());
        assert!(victim.exists());
    }
}
