//! `cargo claims`: runs the suite on this machine and reports, claim by claim, whether the
//! course's words hold on this kernel.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, ExitCode};

use clap::Parser;

mod bench;
mod cli;
mod course;
mod exit;
#[cfg(test)]
mod formats;
mod index;
mod junit;
mod matrix;
mod report;
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
        Some(cli::Command::Course { file }) => course_main(&file),
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
    let tests_failed = !opts.report_only && !run_suite(&root, &index, opts)?;
    let records = record::read_all(&record::results_dir())
        .map_err(|e| format!("unreadable evidence: {e}"))?;
    let mut report = report::build(
        &catalogue,
        &index,
        &records,
        opts.section.as_deref(),
        privileges::Privileges::current(),
        sandbox::availability(),
    );
    locate_in_course(&mut report, opts.course.as_deref())?;
    let out = record::claims_dir();
    let bench = speed::load(&out).map_err(|e| format!("unreadable bench results: {e}"))?;
    let speed = speed::apply(&mut report, bench.as_ref(), opts.lang);
    print!("{}", report.terminal(opts.lang));
    write_report(&report, &speed, opts.lang, &out)
        .map_err(|e| format!("writing the report to {}: {e}", out.display()))?;
    step_summary(&report.must_change(opts.lang));
    println!(
        "report: {} (also report.json, junit.xml)",
        shown(&out.join("report.md"), &root)
    );
    Ok(tests_failed || report.totals.fails > 0)
}

/// Gives the report the course's line numbers, from `file` or the default course file.
fn locate_in_course(report: &mut report::Report, file: Option<&Path>) -> Result<(), String> {
    match file.map(Path::to_path_buf).or_else(course::default_file) {
        Some(file) => report.locate(&course::Drift::load(&file)?),
        None => eprintln!(
            "note: no course file at {} (from the workspace): the report has no line numbers; \
             give one with --course FILE",
            course::DEFAULT_COURSE
        ),
    }
    Ok(())
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

fn course_main(file: &Path) -> ExitCode {
    let drift = match course::Drift::load(file) {
        Ok(drift) => drift,
        Err(e) => return bad_input(e),
    };
    print!("{}", drift.terminal());
    if !drift.clean() {
        step_summary(&format!(
            "## socket-claims: course text drift ({})\n\n```text{}```\n",
            drift.file,
            drift.problems()
        ));
    }
    Exit::finding_if(!drift.clean())
}

/// In GitHub Actions, appends `markdown` to the job's summary page.
fn step_summary(markdown: &str) {
    let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) else {
        return;
    };
    let appended = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&summary)
        .and_then(|mut f| f.write_all(markdown.as_bytes()));
    if let Err(e) = appended {
        eprintln!(
            "warning: $GITHUB_STEP_SUMMARY ({}): {e}",
            Path::new(&summary).display()
        );
    }
}

/// Runs `cargo test` with fresh evidence; true if every test passed.
fn run_suite(root: &Path, index: &TestIndex, opts: &ReportOptions) -> Result<bool, String> {
    let results = record::results_dir();
    if results.exists() {
        std::fs::remove_dir_all(&results)
            .map_err(|e| format!("clearing old evidence in {}: {e}", results.display()))?;
    }
    std::fs::create_dir_all(&results)
        .map_err(|e| format!("creating {}: {e}", results.display()))?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .env(record::RESULTS_ENV, &results)
        .args(["test", "--no-fail-fast"]);
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
