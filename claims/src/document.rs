//! `cargo claims course FILE…`: any Markdown or text document checked against the facts'
//! rules (`doccheck`): prose rules on its sentences, code rules and the C compiler on its
//! listings. Each finding gets its fact's status on this kernel from the latest evidence; where
//! no run has left evidence for a fact, its tests run first (`--run` runs them afresh). Only
//! findings whose fact holds here are reported: a fact that fails, or whose tests were skipped
//! or never ran, backs no finding.
//!
//! A document the catalogue has claims for (most of its course claims are found in it: the
//! overview) also gets the stale/unchecked report of [`course`]; there a finding on a line a
//! claim covers is the claim's to report (its verdict and correction are the catalogue's), so
//! the rules speak only of the lines no claim covers.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::IsTerminal as _;
use std::os::fd::AsFd as _;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

use doccheck::render::{self, Checked, Format};
use doccheck::{Document, FactStatus, Finding, Rules, Severity};
use harness::catalogue::{self, Catalogue, Kind};
use harness::record::{self, Record};

use crate::cli::CourseOptions;
use crate::course::{self, Drift};
use crate::exit::{bad_input, Exit};
use crate::index::TestIndex;
use crate::report::{self, Status, TestOutcome};

/// One document, read and checked.
struct Checked1 {
    doc: Document,
    /// The claims' report, for a document the catalogue has claims for.
    drift: Option<Drift>,
    findings: Vec<Finding>,
    /// Findings on lines a claim covers (the claims' report has those sentences).
    on_claims: usize,
}

/// `cargo claims course`.
pub fn main(opts: &CourseOptions) -> ExitCode {
    run(opts).unwrap_or_else(bad_input)
}

fn run(opts: &CourseOptions) -> Result<ExitCode, String> {
    let texts = opts
        .files
        .iter()
        .map(|f| course::read_course(Path::new(f)).map(|t| (f.as_str(), t)))
        .collect::<Result<Vec<_>, _>>()?;
    let dir = catalogue::default_dir();
    let catalogue =
        Catalogue::load(&dir).map_err(|e| format!("the claim catalogue is malformed:\n{e}"))?;
    let rules = doccheck::load::load_dir(&dir.join("facts"))
        .map_err(|e| format!("the facts' rules are malformed:\n{e}"))?;
    let acknowledged = course::acknowledged(&course::acknowledged_file())?;
    let checked: Vec<Checked1> = texts
        .iter()
        .map(|(file, text)| check(file, text, &catalogue, &rules, &acknowledged))
        .collect();

    let facts: BTreeSet<&str> = checked
        .iter()
        .flat_map(|c| c.findings.iter().filter_map(|f| f.fact.as_deref()))
        .collect();
    let statuses = statuses(&facts, &catalogue, opts.run)?;

    let mut shown: Vec<Checked> = Vec::new();
    let mut unbacked: BTreeMap<&str, (usize, &FactStatus)> = BTreeMap::new();
    for c in &checked {
        for f in &c.findings {
            let status = match f.fact.as_deref() {
                None => FactStatus {
                    status: doccheck::Status::Holds,
                    evidence: format!("the C compiler ({}) says so", doccheck::compile::compiler()),
                },
                Some(fact) => statuses[fact].clone(),
            };
            if status.status == doccheck::Status::Holds {
                shown.push((f.clone(), status));
            } else if let Some(fact) = f.fact.as_deref() {
                unbacked.entry(fact).or_insert((0, &statuses[fact])).0 += 1;
            }
        }
    }

    let docs: Vec<Document> = checked.iter().map(|c| c.doc.clone()).collect();
    match opts.format {
        Format::Text => {
            for c in &checked {
                if let Some(drift) = &c.drift {
                    print!("{}", drift.terminal());
                }
            }
            print!(
                "{}",
                render::text(&shown, &docs, std::io::stdout().is_terminal())
            );
        }
        Format::Json => println!("{}", render::json(&shown)),
        Format::Sarif => println!("{}", render::sarif(&shown, &rules)),
        Format::Github => print!("{}", render::github(&shown)),
    }
    for c in &checked {
        if let Some(drift) = c.drift.as_ref().filter(|d| !d.clean()) {
            if opts.format != Format::Text {
                eprint!("{}", drift.problems());
            }
            crate::github::step_summary(&drift.step_summary());
        }
        if c.on_claims > 0 {
            eprintln!(
                "note: {}: {} rule findings on lines a claim covers (the claims' verdicts and \
                 corrections are the catalogue's: see cargo claims)",
                c.doc.path, c.on_claims
            );
        }
    }
    for (fact, (n, status)) in &unbacked {
        eprintln!(
            "note: {n} finding(s) of fact {fact} not reported: the fact is not shown to hold \
             on this kernel ({}: {})",
            status.status.as_str(),
            status.evidence
        );
    }
    let count = |s: Severity| shown.iter().filter(|(f, _)| f.severity == s).count();
    eprintln!(
        "{} document(s): {} error(s), {} warning(s), {} note(s)",
        checked.len(),
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Note)
    );
    let failed = shown.iter().any(|(f, _)| f.severity >= opts.severity)
        || checked
            .iter()
            .any(|c| c.drift.as_ref().is_some_and(|d| !d.clean()));
    Ok(Exit::finding_if(failed))
}

/// Parses and checks one document: rules, code checks and the compiler; for a document the
/// catalogue has claims for, the claims' report and only the findings on unclaimed lines.
fn check(
    file: &str,
    text: &str,
    catalogue: &Catalogue,
    rules: &Rules,
    acknowledged: &[String],
) -> Checked1 {
    let doc = Document::parse(file, text);
    let mut findings = doccheck::check(&doc, rules);
    match doccheck::compile_listings(&doc) {
        Ok(found) => findings.extend(found),
        Err(e) => eprintln!("note: {file}: {e}"),
    }
    let claims: Vec<(&str, &str)> = catalogue
        .claims
        .iter()
        .map(|c| (c.id.as_str(), c.course.as_str()))
        .collect();
    let drift = course::check(file, text, &claims, acknowledged);
    let course_claims: Vec<&str> = catalogue
        .claims
        .iter()
        .filter(|c| c.kind == Kind::Course)
        .map(|c| c.id.as_str())
        .collect();
    let located = course_claims
        .iter()
        .filter(|id| drift.located.contains_key(**id))
        .count();
    if located * 2 <= course_claims.len() {
        return Checked1 {
            doc,
            drift: None,
            findings,
            on_claims: 0,
        };
    }
    let covered = |line: usize| drift.located.values().flatten().any(|s| s.covers(line));
    let before = findings.len();
    findings.retain(|f| !covered(f.line));
    Checked1 {
        doc,
        on_claims: before - findings.len(),
        drift: Some(drift),
        findings,
    }
}

/// Each fact's status from the latest evidence; the facts without evidence (or all of them,
/// with `fresh`) have their tests run first.
fn statuses(
    facts: &BTreeSet<&str>,
    catalogue: &Catalogue,
    fresh: bool,
) -> Result<BTreeMap<String, FactStatus>, String> {
    if facts.is_empty() {
        return Ok(BTreeMap::new());
    }
    let root = harness::workspace_root();
    let index = TestIndex::scan(&root.join("tests"))
        .map_err(|e| format!("reading the test sources: {e}"))?;
    let kernel = harness::kernel::release();
    // As the report takes its evidence: this kernel's records of tests the index knows; of a
    // fact, the records of the newest run that checked it.
    let judge = |records: &[Record]| {
        facts
            .iter()
            .map(|&id| {
                let mine: Vec<&Record> = records
                    .iter()
                    .filter(|r| r.claim == id && r.kernel == kernel && index.knows(&r.test))
                    .collect();
                let run = mine.iter().max_by_key(|r| r.at_ms).map(|r| r.run.clone());
                let latest: Vec<Record> = mine
                    .into_iter()
                    .filter(|r| Some(&r.run) == run.as_ref())
                    .cloned()
                    .collect();
                let untestable = catalogue.fact(id).and_then(|f| f.untestable.clone());
                let named_by = index.tests_of(id);
                let ids = [id.to_string()];
                let (tests, status, reason) = report::judge_facts(
                    &ids,
                    untestable.as_deref(),
                    &named_by,
                    &report::newest(&latest),
                );
                (id.to_string(), fact_status(status, reason, &tests))
            })
            .collect::<BTreeMap<_, _>>()
    };
    let evidence = || {
        record::read_all(&record::results_dir()).map_err(|e| format!("unreadable evidence: {e}"))
    };
    let first = judge(&evidence()?);
    let to_run: Vec<&str> = facts
        .iter()
        .copied()
        .filter(|id| fresh || first[*id].status == doccheck::Status::NotRun)
        .filter(|id| !index.tests_of(id).is_empty())
        .collect();
    if to_run.is_empty() {
        return Ok(first);
    }
    let why = if fresh { "--run" } else { "no evidence yet" };
    run_tests(&root, &index, &to_run, why)?;
    Ok(judge(&evidence()?))
}

/// A fact's status for a finding: only `holds` backs one.
fn fact_status(status: Status, reason: Option<String>, tests: &[report::TestResult]) -> FactStatus {
    let because = reason.unwrap_or_default();
    let (status, evidence) = match status {
        Status::Holds => (doccheck::Status::Holds, observation(tests)),
        Status::Fails => (doccheck::Status::Fails, because),
        Status::Inconclusive => (
            doccheck::Status::Skipped,
            format!("inconclusive: {because}"),
        ),
        Status::Skipped => (doccheck::Status::Skipped, because),
        Status::NotRun => (doccheck::Status::NotRun, because),
        Status::Untestable => (doccheck::Status::NotRun, format!("untestable: {because}")),
        Status::Pending => (doccheck::Status::NotRun, "no test yet".into()),
    };
    FactStatus { status, evidence }
}

/// What a passing test observed, in one line: its first recorded value.
fn observation(tests: &[report::TestResult]) -> String {
    let Some(t) = tests.iter().find(|t| t.outcome == TestOutcome::Pass) else {
        return String::new();
    };
    let Some((key, value)) = t.observed.iter().next() else {
        return format!("{} passed", t.display());
    };
    let mut value = value.to_string();
    if value.chars().count() > 80 {
        value = value.chars().take(77).collect::<String>() + "...";
    }
    format!("{}: {key} = {value}", t.display())
}

/// Runs the tests that name `facts` (`cargo test`, filtered to their suites and functions),
/// its output on stderr so that stdout stays the report.
fn run_tests(root: &Path, index: &TestIndex, facts: &[&str], why: &str) -> Result<(), String> {
    let results = record::results_dir();
    fs::create_dir_all(&results).map_err(|e| format!("creating {}: {e}", results.display()))?;
    let mut suites = BTreeSet::new();
    let mut names = BTreeSet::new();
    for fact in facts {
        for test in index.tests_of(fact) {
            if let Some((suite, name)) = test.split_once("::") {
                suites.insert(suite.to_string());
                names.insert(name.to_string());
            }
        }
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .env(record::RESULTS_ENV, &results)
        .args(["test", "--quiet", "--package", "socket-claims"]);
    for suite in &suites {
        cmd.args(["--test", suite]);
    }
    cmd.arg("--").args(&names);
    let stderr = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| format!("cannot pass stderr to cargo test: {e}"))?;
    cmd.stdout(Stdio::from(stderr));
    eprintln!(
        "running the tests of {} fact(s) ({why}): cargo test --package socket-claims {} -- {}",
        facts.len(),
        suites
            .iter()
            .map(|s| format!("--test {s}"))
            .collect::<Vec<_>>()
            .join(" "),
        names.iter().cloned().collect::<Vec<_>>().join(" ")
    );
    // A failing test is evidence (the fact fails here), not an error of the check.
    cmd.status()
        .map(drop)
        .map_err(|e| format!("cannot run cargo test: {e}"))
}
