//! The command line, on clap's derive API: help, version, errors with suggestions, completions.

use std::path::PathBuf;
use std::process::ExitCode;

use doccheck::render::Format;
use doccheck::Severity;

use clap::builder::PossibleValuesParser;
use clap::{Args, CommandFactory, Parser, Subcommand};
use harness::catalogue::SECTIONS;

use crate::exit::Exit;
use crate::matrix::MatrixOptions;
use crate::report::Lang;

const ABOUT: &str = "Check the course's socket claims against the running kernel";

const LONG_ABOUT: &str = "\
Check the course's socket claims against the running kernel.

Builds and runs the whole suite (cargo test), then prints the author's to-do list (the sentences
to change, then those that need a caveat, with their lines in the course file) and every claim's
status, and writes target/claims/report.md (the to-do list first, the full table as an appendix),
target/claims/report.json (both languages) and target/claims/junit.xml (one testcase per claim).
In GitHub Actions the to-do list also goes to $GITHUB_STEP_SUMMARY. Exits 1 when a test fails, 2
on bad input.

Tests that need root or a user namespace are skipped with the reason where they cannot run; the
report lists them as skipped, never as holding.";

/// `cargo claims`.
#[derive(Debug, Parser)]
#[command(name = "claims", bin_name = "cargo claims", version, about = ABOUT, long_about = LONG_ABOUT)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub report: ReportOptions,
}

/// The options of the report run (no subcommand).
#[derive(Debug, Args)]
pub struct ReportOptions {
    /// The course text to locate the claims in [default: ../shared/course/000_586990a613066f87.txt
    /// from the workspace, if present]
    #[arg(long, value_name = "FILE")]
    pub course: Option<PathBuf>,
    /// The language of report.md and the to-do list
    #[arg(long, value_name = "LANG", default_value = "ko", value_parser = parse_lang)]
    pub lang: Lang,
    /// Only this section's suites and claims
    #[arg(long, value_name = "NAME", value_parser = PossibleValuesParser::new(SECTIONS.map(|(s, _)| s)))]
    pub section: Option<String>,
    /// Do not run tests; report from the evidence already recorded (by an earlier `cargo
    /// claims` or `cargo test`)
    #[arg(long)]
    pub report_only: bool,
    /// Terse test progress (one character per test)
    #[arg(long, short)]
    pub quiet: bool,
}

fn parse_lang(s: &str) -> Result<Lang, String> {
    Lang::parse(s).ok_or_else(|| format!("{s:?} is not ko or en"))
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Documents against the facts' rules (and, for the overview, the claims)
    #[command(long_about = COURSE_LONG_ABOUT)]
    Course(CourseOptions),
    /// The suite under several kernels (see docs/matrix.md)
    #[command(long_about = MATRIX_LONG_ABOUT)]
    Matrix(MatrixOptions),
    /// The speed claims, measured (about a minute)
    #[command(long_about = BENCH_LONG_ABOUT)]
    Bench,
    /// Prints a completion script for the `claims` binary
    Completions { shell: clap_complete::Shell },
}

/// The options of `cargo claims course`.
#[derive(Debug, Args)]
pub struct CourseOptions {
    /// The documents (Markdown or text)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,
    /// The output on stdout: text (rustc-style), json, sarif (SARIF 2.1.0) or github
    /// (workflow annotations)
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = parse_format)]
    pub format: Format,
    /// Exit 1 on a finding at or above this severity: error, warning or note
    #[arg(long, value_name = "SEVERITY", default_value = "error", value_parser = parse_severity)]
    pub severity: Severity,
    /// Run the findings' facts' tests afresh, even where evidence exists
    #[arg(long)]
    pub run: bool,
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse()
}

const COURSE_LONG_ABOUT: &str = "\
Documents against the facts' rules and, for the course overview, the claim catalogue.

Reads each Markdown or text FILE as a reader sees it (paragraphs, list items, table rows, code
blocks; front matter skipped but counted) and reports the sentences and C listings that
contradict a fact the suite tests: prose rules (Korean and English), code rules on each C
listing's syntax tree, and the C compiler on the listings (GCC 14's errors). A finding names its
rule, its fact and the fact's status on this kernel, and the correction to paste. Findings rest
only on facts that hold here: where no run has left evidence for a fact, its tests run first.

A document the catalogue has claims for (the course overview) also gets the claims' report:
each claim's line numbers, the claims whose words are gone (STALE) and the lines that make a
checkable statement (a table row, a list item, socket code, a number, an errno or a socket
constant) that no claim covers and fixtures/course-acknowledged.toml does not acknowledge
(UNCHECKED); there the rules speak only of lines no claim covers.

Exits 1 on a finding at or above --severity (or a stale claim or unchecked line), 2 on bad
input (an unreadable, binary or huge file, a malformed catalogue or rule).";

const MATRIX_LONG_ABOUT: &str = "\
The whole suite under each kernel of fixtures/kernels.toml.

Builds the test binaries (cargo test --no-run, release profile), runs them natively for a
`host` kernel and in a qemu VM (as root, from an initramfs) for every other kernel, and writes
target/claims/matrix.md and target/claims/matrix.json: each kernel's release and how its run
went, and each claim's status per kernel, the claims that differ between kernels first.
Also target/claims/matrix-junit.xml: one JUnit testsuite per kernel, one testcase per claim.
Debian kernels are downloaded once into target/claims/kernels/. gVisor runs rootless for a
user who is not root, and is skipped, with the reason, where runsc is not installed or needs
root. Exits 1 when a kernel could not run its suite (missing, unbootable, hung, panicked), 2 on
bad input; failing claims are findings shown in the report, not errors.";

const BENCH_LONG_ABOUT: &str = "\
The course's speed claims, measured.

Measures on loopback, in interleaved rounds: 1-byte round-trip time (median, p99, spread) by
three methods (one-thread: send, receive on the peer, send back, receive, the kernel's path
alone; same-cpu: an echo thread, both pinned to one CPU, each message a wake-up and a context
switch; two-cpus: an echo thread, neither pinned, as an application's), receiver-side
throughput at 64 B, 1 KiB and 65 000 B messages, and Nagle's write-write-read stall, over Unix
stream and datagram sockets, TCP and UDP over IPv4 and IPv6, and (as root, in a private
network namespace) raw IP, UDP and TCP. Each ratio a speed claim names gets a 95% bootstrap
interval and a status: holds (interval above the threshold), fails (below) or inconclusive; a
claim holds when each ratio is on the side its fact states. A C ping-pong (benches/pingpong.c, built with cc) checks the Rust loop. Bounded
by 60 s. Writes target/claims/bench.json and target/claims/bench.md (with SVG plots); `cargo
claims` then takes the speed claims' statuses from them.";

/// `cargo claims completions SHELL`.
pub fn completions(shell: clap_complete::Shell) -> ExitCode {
    clap_complete::generate(shell, &mut Cli::command(), "claims", &mut std::io::stdout());
    Exit::Ok.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Accel;
    use clap::error::ErrorKind;
    use std::time::Duration;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("claims").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn report_options_parse_in_both_spellings() {
        let cli = parse(&["--section=tcp", "--lang", "en", "--report-only", "-q"]).expect("parses");
        assert!(cli.command.is_none());
        assert_eq!(cli.report.section.as_deref(), Some("tcp"));
        assert_eq!(cli.report.lang, Lang::En);
        assert!(cli.report.report_only && cli.report.quiet);
        assert_eq!(parse(&[]).expect("parses").report.lang, Lang::Ko);
    }

    #[test]
    fn a_misspelt_option_is_bad_input_with_a_suggestion() {
        let err = parse(&["--report-onyl"]).expect_err("unknown option");
        assert_eq!(err.kind(), ErrorKind::UnknownArgument);
        assert_eq!(err.exit_code(), Exit::BadInput as i32);
        assert!(err.to_string().contains("--report-only"), "{err}");
        let err = parse(&["--section", "tpc"]).expect_err("unknown section");
        assert!(err.to_string().contains("tcp"), "{err}");
        assert!(parse(&["--lang", "de"]).is_err());
    }

    #[test]
    fn matrix_options_parse_and_bad_ones_are_named() {
        let cli =
            parse(&["matrix", "--kernel", "a", "--kernel=b", "--accel", "tcg"]).expect("parses");
        let Some(Command::Matrix(opts)) = cli.command else {
            panic!("not the matrix")
        };
        assert_eq!(opts.kernels, ["a", "b"]);
        assert_eq!(opts.accel(), Some(Accel::Tcg));
        assert_eq!(opts.profile, "release");
        assert_eq!(opts.timeout(), Duration::from_secs(300));
        let err = parse(&["matrix", "--accel", "fast"]).expect_err("bad accel");
        assert!(err.to_string().contains("fast"), "{err}");
        let err = parse(&["matrix", "--timeout", "soon"]).expect_err("bad timeout");
        assert!(err.to_string().contains("--timeout"), "{err}");
        assert!(parse(&["matrix", "--jobs", "0"]).is_err());
        assert!(parse(&["matrix", "--kernel"]).is_err());
    }

    #[test]
    fn course_takes_files_a_format_and_a_severity_and_bench_nothing() {
        assert!(parse(&["course"]).is_err());
        assert!(parse(&["bench", "--fast"]).is_err());
        let cli = parse(&[
            "course",
            "a.md",
            "b.md",
            "--format=sarif",
            "--severity",
            "warning",
        ])
        .expect("parses");
        let Some(Command::Course(opts)) = cli.command else {
            panic!("not course")
        };
        assert_eq!(opts.files, ["a.md", "b.md"]);
        assert_eq!(opts.format, Format::Sarif);
        assert_eq!(opts.severity, Severity::Warning);
        assert!(!opts.run);
        let err = parse(&["course", "a.md", "--format", "xml"]).expect_err("bad format");
        assert!(err.to_string().contains("xml"), "{err}");
        assert!(parse(&["course", "a.md", "--severity", "fatal"]).is_err());
    }
}
