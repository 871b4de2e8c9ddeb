//! `cargo claims`: runs the suite on this machine and reports, claim by claim, whether the
//! course's words hold on this kernel.

use std::path::Path;
use std::process::{Command, ExitCode};

use harness::catalogue::{self, Catalogue, TestIndex, SECTIONS};
use harness::{evidence, privileges, report, sandbox};

const USAGE: &str = "\
cargo claims — check the course's socket claims against the running kernel

USAGE:
    cargo claims [OPTIONS]
    cargo claims matrix --help     the suite under several kernels (see README)

Builds and runs the whole suite (cargo test), then prints every claim of the catalogue as
holds / FAILS / skipped (reason) / pending, and writes target/claims/report.md and
target/claims/report.json. Exits 1 when a test fails, 2 on bad input.

OPTIONS:
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
}

fn parse(args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut opts = Options {
        section: None,
        report_only: false,
        quiet: false,
    };
    let mut args = args.flat_map(|a| match a.split_once('=') {
        Some((flag, value)) if flag == "--section" => vec![flag.to_string(), value.to_string()],
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
    if args.first().is_some_and(|a| a == "matrix") {
        return harness::matrix::main(args[1..].to_vec());
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
    let records = match evidence::read_all(&evidence::results_dir()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: unreadable evidence: {e}");
            return ExitCode::from(2);
        }
    };
    let report = report::build(
        &catalogue,
        &index,
        &records,
        opts.section.as_deref(),
        privileges::Privileges::current(),
        sandbox::availability(),
    );
    print!("{}", report.terminal());
    let out = evidence::claims_dir();
    let written = std::fs::create_dir_all(&out)
        .and_then(|()| std::fs::write(out.join("report.md"), report.markdown()))
        .and_then(|()| {
            let json = serde_json::to_string_pretty(&report).expect("report serialises");
            std::fs::write(out.join("report.json"), json)
        });
    if let Err(e) = written {
        eprintln!("error: writing the report to {}: {e}", out.display());
        return ExitCode::from(2);
    }
    println!("report: {}", shown(&out.join("report.md"), &root));
    if tests_failed || report.totals.fails > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs `cargo test` with fresh evidence; true if every test passed.
fn run_suite(root: &Path, index: &TestIndex, opts: &Options) -> Result<bool, String> {
    let results = evidence::results_dir();
    if results.exists() {
        std::fs::remove_dir_all(&results)
            .map_err(|e| format!("clearing old evidence in {}: {e}", results.display()))?;
    }
    std::fs::create_dir_all(&results)
        .map_err(|e| format!("creating {}: {e}", results.display()))?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .env("SOCKET_CLAIMS_RESULTS", &results)
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
