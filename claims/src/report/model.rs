//! The report's model: what this run established about each claim, from which tests and
//! observations, where its words are, and the totals.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::texts::Texts;
use crate::course::{Drift, Span};
use crate::runs::RunInfo;
use harness::catalogue::{Correction, Kind, Verdict};
use harness::privileges::Privileges;
use harness::record::TestId;

/// What this run established about a claim. The one status type of the report, the kernel
/// matrix and the JUnit output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Every test of the claim passed: the kernel does what the catalogue's fact says.
    Holds,
    /// A test found the kernel doing otherwise than the catalogue's fact.
    Fails,
    /// A measurement that could not decide between holding and failing.
    Inconclusive,
    /// Its tests were skipped here (a privilege, kernel feature or tool is missing).
    Skipped,
    /// No evidence from its tests in this run.
    NotRun,
    /// No kernel test can check it (the catalogue says why).
    Untestable,
    /// No test yet.
    Pending,
}

impl Status {
    pub fn passed(self) -> bool {
        self == Status::Holds
    }

    pub fn failed(self) -> bool {
        self == Status::Fails
    }

    /// Whether the kernel was asked on this run (the evidence is this run's observation).
    pub fn observed(self) -> bool {
        matches!(self, Status::Holds | Status::Fails | Status::Inconclusive)
    }
}

/// What one test (one rstest case) did, as far as this claim is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum TestOutcome {
    Pass,
    Fail,
    Skipped,
    /// The catalogue names the test but no evidence came from it.
    NotRun,
}

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct TestResult {
    /// `<suite>::<fn>` and, for an rstest case, its generated suffix.
    pub name: String,
    /// The rstest case in words (`v4`, `v6, stream`), where there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
    pub outcome: TestOutcome,
    /// Why it failed or was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What the kernel did, by name (errno names, sizes, addresses).
    pub observed: Map<String, Value>,
    /// The kernel release it ran on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    /// The private network namespace it ran in, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
    /// How long the test took.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elapsed_ms: Option<u64>,
}

impl TestResult {
    /// `suite::fn [case]`.
    pub fn display(&self) -> String {
        let base = TestId::parse(&self.name).base;
        match &self.case {
            Some(case) => format!("{base} [{case}]"),
            None => base.to_string(),
        }
    }
}

/// Where the claim's words are in the course text.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Location {
    /// The course file's name.
    pub file: String,
    /// The first line of the claim's words (1-based).
    pub line: usize,
    /// Every span of lines the words occupy.
    pub spans: Vec<Span>,
}

/// The one observation that shows the claim's fact, for the author's to-do list.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Evidence {
    /// The kernel release that observed it.
    pub kernel: String,
    /// The test (and case) that observed it.
    pub test: String,
    /// The observation's name (`ctx.observe`'s key).
    pub key: String,
    /// The value, whole; absent when too long for one line (see `pointer`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// A JSON pointer into report.json to the whole value.
    pub pointer: String,
}

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ClaimResult {
    /// The claim id: `<section>.<topic>.<slug>`.
    pub id: String,
    /// The course document the words belong to.
    pub section: String,
    /// Only a claim of kind `course` is a sentence of the course text (the to-do list's).
    pub kind: Kind,
    /// The course's words the claim is about.
    pub course: String,
    /// What Linux does, as the catalogue states it.
    pub fact: String,
    /// The man pages (and RFCs) that promise the fact.
    pub refs: Vec<String>,
    /// The verdict on the course's words.
    pub verdict: Verdict,
    /// What to publish instead of the course's words, in the course's language and in English.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correction: Option<Correction>,
    /// Why no kernel test can check it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub untestable: Option<String>,
    pub status: Status,
    /// The verdict and the status in words.
    pub says: Texts,
    /// Why the claim fails or was not checked, from the first test that says so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Where the claim's words are in the course text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// The one observation that shows the claim's fact, for the author's to-do list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
    /// Every test (and rstest case) of the claim's facts, with what it observed.
    pub tests: Vec<TestResult>,
    /// A speed claim's measured ratios, from `cargo claims bench`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ratios: Vec<crate::bench::RatioRow>,
}

#[derive(Debug, Default, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Totals {
    /// Claims in the report.
    pub claims: usize,
    /// Claims by status.
    pub holds: usize,
    pub fails: usize,
    pub inconclusive: usize,
    pub skipped: usize,
    pub not_run: usize,
    pub untestable: usize,
    pub pending: usize,
    /// Verdicts on the course text's own sentences.
    pub inaccurate: usize,
    pub needs_caveat: usize,
    pub accurate: usize,
}

impl Totals {
    /// Why nothing was checked, when no claim holds, fails or is inconclusive.
    pub fn nothing_checked(&self) -> Option<String> {
        (self.holds + self.fails + self.inconclusive == 0).then(|| {
            format!(
                "of {} claims none holds, fails or is inconclusive in this run ({} skipped, {} \
                 not run, {} untestable, {} pending)",
                self.claims, self.skipped, self.not_run, self.untestable, self.pending
            )
        })
    }
}

/// The course file the report located the claims in.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct CourseText {
    /// The course file the claims were located in.
    pub file: String,
    /// Claims whose words are no longer in it (`cargo claims course` lists them).
    pub stale: Vec<String>,
}

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Report {
    /// `uname -r` of the kernel the suite ran on.
    pub kernel: String,
    /// The run whose evidence this is (`cargo claims` picks the newest; the matrix, per guest,
    /// has none).
    pub run: Option<RunInfo>,
    /// Who ran the suite: uid, effective uid and effective capabilities.
    pub privileges: Privileges,
    /// How tests got a private network namespace on this machine, or why they could not.
    pub netns: String,
    /// Absent when no course file was found: the report has no line numbers then.
    pub course_text: Option<CourseText>,
    /// How many claims have each status and each verdict.
    pub totals: Totals,
    /// Every claim of the catalogue, in section order.
    pub claims: Vec<ClaimResult>,
}

impl Report {
    /// Adds where each claim's words are in the course text (from `cargo claims course`'s check).
    pub fn locate(&mut self, drift: &Drift) {
        let file = std::path::Path::new(&drift.file)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| drift.file.clone());
        for c in &mut self.claims {
            c.location = drift.located.get(&c.id).map(|spans| Location {
                file: file.clone(),
                line: spans[0].first,
                spans: spans.clone(),
            });
        }
        self.course_text = Some(CourseText {
            file: drift.file.clone(),
            stale: drift.stale.iter().map(|s| s.id.clone()).collect(),
        });
    }
}
