//! `cargo claims`: runs the suite on this machine and reports, claim by claim, whether the
//! course's words hold on this kernel.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

mod bench;
mod corrections;
mod course;
mod index;
mod junit;
mod matrix;
mod report;

use harness::catalogue::{self, Catalogue, SECTIONS};
use harness::{privileges, record, sandbox};
use index::TestIndex;
use report::Lang;

const USAGE: &str = "\
cargo claims — check the course's socket claims against the running kernel

USAGE:
    cargo claims [OPTIONS]
    cargo claims course FILE       the course text against the catalogue, no kernel tests
    cargo claims matrix --help     the suite under several kernels (see README)
    cargo claims bench --help      the speed claims, measured (about a minute)

Builds and runs the whole suite (cargo test), then prints the author's to-do list (the
sentences to change, then those that need a caveat, with their lines in the course file) and
every claim's status, and writes target/claims/report.md (the to-do list first, the full table
as an appendix), target/claims/report.json (both languages) and target/claims/junit.xml (one
testcase per claim). In GitHub Actions the to-do list also goes to $GITHUB_STEP_SUMMARY.
Exits 1 when a test fails, 2 on bad input.

OPTIONS:
    --course FILE    the course text to locate the claims in (default
                     ../shared/course/000_586990a613066f87.txt from the workspace, if present)
    --lang ko|en     the language of report.md and the to-do list (default ko)
    --section NAME   only this section's suites and claims
                     (fundamentals, tcp, udp, options, unix, advanced)
    --report-only    do not run tests; report from the evidence already recorded
                     (by an earlier `cargo claims` or `cargo test`)
    --quiet          terse test progress (one character per test)
    -h, --help       this text

Tests that need root or a user namespace are skipped with the reason where they cannot run;
the report lists them as skipped, never as holding.";

struct Options {
    section: Option<String>,
    report_only: bool,
    quiet: bool,
    course: Option<PathBuf>,
    lang: Lang,
}

fn parse(args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut opts = Options {
        section: None,
        report_only: false,
        quiet: false,
        course: None,
        lang: Lang::default(),
    };
    let mut args = args.flat_map(|a| match a.split_once('=') {
        Some((flag, value)) if ["--section", "--course", "--lang"].contains(&flag) => {
            vec![flag.to_string(), value.to_string()]
        }
        _ => vec![a],
    });
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--report-only" => opts.report_only = true,
            "--quiet" | "-q" => opts.quiet = true,
            "--section" => {
                let name = args.next().ok_or("--section needs a section name")?;
                if !SECTIONS.iter().any(|(s, _)| *s == name) {
                    return Err(format!(
                        "--section: unknown section {name:?} (known: {})",
                        SECTIONS.map(|(s, _)| s).join(", ")
                    ));
                }
                opts.section = Some(name);
            }
            "--course" => {
                let file = args.next().ok_or("--course needs a file")?;
                opts.course = Some(PathBuf::from(file));
            }
            "--lang" => {
                let lang = args.next().ok_or("--lang needs ko or en")?;
                opts.lang =
                    Lang::parse(&lang).ok_or(format!("--lang: {lang:?} is not ko or en"))?;
            }
            other => {
                return Err(format!(
                    "unknown option {other:?} (see cargo claims --help)"
                ))
            }
        }
    }
    Ok(Some(opts))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("matrix") => return matrix::main(args[1..].to_vec()),
        Some("course") => return course_main(&args[1..]),
        Some("bench") => return bench::main(args[1..].to_vec()),
        _ => {}
    }
    let opts = match parse(args.into_iter()) {
        Ok(Some(opts)) => opts,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let catalogue = match Catalogue::load(&catalogue::default_dir()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: the claim catalogue is malformed:\n{e}");
            return ExitCode::from(2);
        }
    };
    let root = harness::workspace_root();
    let index = match TestIndex::scan(&root.join("tests")) {
        Ok(index) => index,
        Err(e) => {
            eprintln!("error: reading the test sources: {e}");
            return ExitCode::from(2);
        }
    };
    let mut tests_failed = false;
    if !opts.report_only {
        match run_suite(&root, &index, &opts) {
            Ok(passed) => tests_failed = !passed,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let records = match record::read_all(&record::results_dir()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: unreadable evidence: {e}");
            return ExitCode::from(2);
        }
    };
    let mut report = report::build(
        &catalogue,
        &index,
        &records,
        opts.section.as_deref(),
        privileges::Privileges::current(),
        sandbox::availability(),
    );
    match opts.course.clone().or_else(course::default_file) {
        Some(file) => match course::Drift::load(&file) {
            Ok(drift) => {
                if let Err(e) = pasteable(&file, &catalogue) {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
                report.locate(&drift)
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
        None => eprintln!(
            "note: no course file at {} (from the workspace): the report has no line numbers; \
             give one with --course FILE",
            course::DEFAULT_COURSE
        ),
    }
    let out = record::claims_dir();
    let speed = match bench::report::load(&out) {
        Ok(bench) => bench::report::apply(&mut report, bench.as_ref(), opts.lang),
        Err(e) => {
            eprintln!("error: unreadable bench results: {e}");
            return ExitCode::from(2);
        }
    };
    print!("{}", report.terminal(opts.lang));
    let suite = format!("Linux {}", report.kernel);
    let written = std::fs::create_dir_all(&out)
        .and_then(|()| std::fs::write(out.join("report.md"), report.markdown(opts.lang) + &speed))
        .and_then(|()| {
            let json = serde_json::to_string_pretty(&report).expect("report serialises");
            std::fs::write(out.join("report.json"), json)
        })
        .and_then(|()| {
            let xml = junit::render(&[report.junit_suite(&suite, "socket-claims")]);
            std::fs::write(out.join("junit.xml"), xml)
        });
    if let Err(e) = written {
        eprintln!("error: writing the report to {}: {e}", out.display());
        return ExitCode::from(2);
    }
    if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) {
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&summary)
            .and_then(|mut f| f.write_all(report.must_change(opts.lang).as_bytes()));
        if let Err(e) = appended {
            eprintln!(
                "warning: $GITHUB_STEP_SUMMARY ({}): {e}",
                Path::new(&summary).display()
            );
        }
    }
    println!(
        "report: {} (also report.json, junit.xml)",
        shown(&out.join("report.md"), &root)
    );
    if tests_failed || report.totals.fails > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The report refuses to offer two different replacements for one place of the course text,
/// or a table cell's correction that is not a cell (those of claims being rewritten are noted).
fn pasteable(file: &Path, catalogue: &Catalogue) -> Result<(), String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("course file {}: {e}", file.display()))?;
    let text = course::Text::parse(&text);
    let conflicts = corrections::conflicts(&text, &catalogue.claims);
    let misfits = corrections::misfits(&text, &catalogue.claims);
    let mut refused: Vec<String> = conflicts
        .iter()
        .filter(|c| !c.being_rewritten())
        .map(|c| format!("  {c}"))
        .collect();
    refused.extend(
        misfits
            .iter()
            .filter(|m| !m.being_rewritten())
            .map(|m| format!("  {m}")),
    );
    let pending = conflicts.iter().filter(|c| c.being_rewritten()).count()
        + misfits.iter().filter(|m| m.being_rewritten()).count();
    if pending > 0 {
        eprintln!(
            "note: {pending} corrections of claims being rewritten (issue 15) conflict or do not \
             fit their table cell; `cargo test -p claims corrections -- --nocapture` lists them"
        );
    }
    if refused.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{}: corrections an author cannot paste as they are (fixtures/claims/):\n{}",
        file.display(),
        refused.join("\n")
    ))
}

const COURSE_USAGE: &str = "\
cargo claims course — the course text against the claim catalogue (no kernel tests)

USAGE:
    cargo claims course FILE

Finds each claim's course words in FILE (ignoring spacing and markdown) and prints their line
numbers; lists as STALE the claims whose words are no longer in the text, and as UNCHECKED the
lines that make a checkable statement (a table row, a list item, socket code, a number, an
errno or a socket constant) that no claim covers and fixtures/course-acknowledged.toml does not
acknowledge. Exits 1 when anything is stale or unchecked, 2 on bad input.";

fn course_main(args: &[String]) -> ExitCode {
    let file = match args {
        [flag] if flag == "-h" || flag == "--help" => {
            println!("{COURSE_USAGE}");
            return ExitCode::SUCCESS;
        }
        [file] if !file.starts_with('-') => Path::new(file),
        _ => {
            eprintln!("error: cargo claims course takes one course file (see --help)");
            return ExitCode::from(2);
        }
    };
    let drift = match course::Drift::load(file) {
        Ok(drift) => drift,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    print!("{}", drift.terminal());
    if !drift.clean() {
        step_summary(&format!(
            "## socket-claims: course text drift ({})\n\n```text{}```\n",
            drift.file,
            drift.problems()
        ));
    }
    if drift.clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
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
fn run_suite(root: &Path, index: &TestIndex, opts: &Options) -> Result<bool, String> {
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
