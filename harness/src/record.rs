//! The evidence record format, shared by the check that writes it and the runner that reads
//! it: one JSON line per claim a test proves, in one file per test process, and the environment
//! variables the runner sets for the suite.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Where test processes append evidence (the runner sets it to a fresh directory).
pub const RESULTS_ENV: &str = "SOCKET_CLAIMS_RESULTS";

/// Set (to the accelerator's name, `tcg`) where the suite runs under CPU emulation, as in a
/// kernel-matrix guest without KVM.
pub const EMULATED_ENV: &str = "SOCKET_CLAIMS_EMULATED";

/// Set where short reads and writes and delays are injected into the socket calls (by
/// `.ci/inject`): semantic verdicts must survive that, speed comparisons mean nothing there.
pub const INJECTED_ENV: &str = "SOCKET_CLAIMS_INJECTED";

/// `<target dir>/claims`: where the report is written.
pub fn claims_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace::root().join("target"))
        .join("claims")
}

/// Where test processes append evidence: `$SOCKET_CLAIMS_RESULTS` ([`RESULTS_ENV`]), else
/// `<target dir>/claims/evidence`.
pub fn results_dir() -> PathBuf {
    std::env::var_os(RESULTS_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| claims_dir().join("evidence"))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Skipped,
}

/// One line of evidence: what one test (one rstest case) observed for one claim.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Record {
    /// The fact id the test names.
    pub claim: String,
    /// `<suite file>::<libtest name>`, e.g. `fundamentals::bind_refuses_a_port_in_use::case_1`.
    pub test: String,
    /// The case of a parametrised test in words (`IPv6, SO_RCVTIMEO`), as the test named it
    /// (`Check::family`, `Check::kind`, `Check::case`, and an rstest `#[case::name]`'s name);
    /// absent for a plain test and in records written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
    /// pass, fail, or skipped with the reason.
    pub outcome: Outcome,
    /// Why it failed or was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What the kernel did, by name (`ctx.observe`).
    #[serde(default)]
    pub observed: Map<String, Value>,
    /// `uname -r` where the test ran.
    pub kernel: String,
    /// The run it belongs to ([`crate::run::id`]); empty in records older than run ids.
    #[serde(default)]
    pub run: String,
    /// The uid that ran the suite (outside the user namespace of a re-executed test).
    pub uid: u32,
    /// The capabilities the suite's claims depend on that the recording process held (in its
    /// own user namespace, for a re-executed test).
    #[serde(default)]
    pub caps: Vec<String>,
    /// The private network namespace it ran in, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
    /// How long the test body took.
    pub elapsed_ms: u64,
    /// When it was recorded (ms since the Unix epoch): the newest record of a test wins.
    #[serde(default)]
    pub at_ms: u64,
}

/// A test's name in the evidence, `<suite>::<fn>` and, for an rstest case, the case rstest
/// generated (`family_1_V4`, or `kind_2_…::family_1_V4` for two parameters), taken apart once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestId<'a> {
    /// `<suite>::<fn>`: how the test index names the test.
    pub base: &'a str,
    /// The suite file's stem (`tests/<suite>.rs`).
    pub suite: &'a str,
    pub function: &'a str,
    /// rstest's generated case path, if any.
    pub case: Option<&'a str>,
}

impl<'a> TestId<'a> {
    pub fn parse(name: &'a str) -> TestId<'a> {
        let (suite, rest) = name.split_once("::").unwrap_or((name, ""));
        let (function, case) = match rest.split_once("::") {
            Some((function, case)) => (function, Some(case)),
            None => (rest, None),
        };
        let base = &name[..name.len() - case.map_or(0, |c| c.len() + 2)];
        TestId {
            base,
            suite,
            function,
            case,
        }
    }

    /// The case's segments, one per rstest parameter.
    pub fn case_segments(&self) -> impl Iterator<Item = &'a str> {
        self.case.into_iter().flat_map(|c| c.split("::"))
    }
}

/// Reads every `*.jsonl` file of `dir`; a malformed line is an error naming file and line,
/// except a file's last line cut short (no newline: a test process killed while writing it),
/// which is left out with a warning naming the file.
pub fn read_all(dir: &Path) -> Result<Vec<Record>, String> {
    let mut records = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(records),
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    for file in files {
        let text = fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        for (n, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str(line) {
                Ok(record) => records.push(record),
                Err(_) if n + 1 == lines.len() && !line.ends_with('\n') => {
                    let _ = writeln!(
                        io::stderr(),
                        "warning: {}:{}: last line cut short (a test killed while writing \
                         it?), left out",
                        file.display(),
                        n + 1
                    );
                }
                Err(e) => return Err(format!("{}:{}: {e}", file.display(), n + 1)),
            }
        }
    }
    Ok(records)
}

pub(crate) fn append(records: &[Record]) {
    let dir = results_dir();
    let mut text = String::new();
    for r in records {
        text.push_str(&serde_json::to_string(r).expect("evidence serialises"));
        text.push('\n');
    }
    let file = dir.join(format!("{}.jsonl", std::process::id()));
    let written = fs::create_dir_all(&dir).and_then(|()| {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&file)?
            .write_all(text.as_bytes())
    });
    if let Err(e) = written {
        panic!("cannot record evidence in {}: {e}", file.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_id_parses_into_suite_function_and_case() {
        let id = TestId::parse("tcp::accept_works::kind_2_Stream::family_1_V4");
        assert_eq!(id.base, "tcp::accept_works");
        assert_eq!((id.suite, id.function), ("tcp", "accept_works"));
        assert_eq!(id.case, Some("kind_2_Stream::family_1_V4"));
        assert_eq!(
            id.case_segments().collect::<Vec<_>>(),
            ["kind_2_Stream", "family_1_V4"]
        );
        let plain = TestId::parse("udp::plain");
        assert_eq!((plain.base, plain.case), ("udp::plain", None));
        assert_eq!(plain.case_segments().count(), 0);
    }

    #[test]
    fn a_truncated_last_line_is_left_out_and_a_broken_line_before_it_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut record = Record {
            claim: "fundamentals.fd.socket-is-a-file-descriptor".into(),
            test: "fundamentals::t".into(),
            case: None,
            outcome: Outcome::Pass,
            reason: None,
            observed: Map::new(),
            kernel: "6.12.0".into(),
            run: "r".into(),
            uid: 0,
            caps: Vec::new(),
            netns: None,
            elapsed_ms: 1,
            at_ms: 1,
        };
        let whole = serde_json::to_string(&record).expect("serialises");
        record.test = "fundamentals::killed".into();
        let cut = serde_json::to_string(&record).expect("serialises");
        let cut = &cut[..cut.len() / 2];
        fs::write(dir.path().join("1.jsonl"), format!("{whole}\n{cut}")).expect("write");
        let read = read_all(dir.path()).expect("a cut last line is not an error");
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].test, "fundamentals::t");
        fs::write(dir.path().join("2.jsonl"), format!("{cut}\n{whole}\n")).expect("write");
        let err = read_all(dir.path()).expect_err("a broken line before others is an error");
        assert!(err.contains("2.jsonl:1"), "{err}");
    }
}
