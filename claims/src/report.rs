//! The report: the catalogue joined with the evidence and the course text. One [`Status`] per
//! claim says what this run established; together with the verdict it says once, plainly,
//! whether the course's words hold ("course inaccurate, kernel confirms the correction"). It is
//! rendered for the terminal, as Markdown for the course's authors (their to-do list first,
//! Korean by default), as JSON (both languages) and as JUnit XML.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::course::{Drift, Span};
use crate::index::TestIndex;
use crate::junit;
use crate::runs::RunInfo;
use harness::catalogue::{Catalogue, Claim, Correction, Kind, Verdict, DOCUMENTS, SECTIONS};
use harness::privileges::Privileges;
use harness::record::{Outcome, Record, TestId};

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
    /// The short label of terminal lines and matrix cells.
    pub fn label(self) -> &'static str {
        match self {
            Status::Holds => "holds",
            Status::Fails => "FAILS",
            Status::Inconclusive => "inconclusive",
            Status::Skipped => "skipped",
            Status::NotRun => "not run",
            Status::Untestable => "untestable",
            Status::Pending => "pending",
        }
    }

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

    /// The verdict and this status, said once. Only a claim of kind `course` has a verdict on
    /// the course text; a topic's is on its section document, a supplement adds a fact.
    pub fn says(self, kind: Kind, verdict: Verdict, lang: Lang) -> &'static str {
        match (self, kind, verdict) {
            (Status::Holds, Kind::Course, Verdict::Accurate) => lang.pick(
                "본문 정확, 커널도 그렇게 동작함",
                "course accurate, kernel agrees",
            ),
            (Status::Holds, Kind::Course, Verdict::NeedsCaveat) => lang.pick(
                "본문에 보충 필요, 커널이 보충 내용을 확인함",
                "course needs a caveat, kernel confirms the caveat",
            ),
            (Status::Holds, Kind::Course, Verdict::Inaccurate) => lang.pick(
                "본문 부정확, 커널이 수정안을 확인함",
                "course inaccurate, kernel confirms the correction",
            ),
            (Status::Holds, Kind::Topic, Verdict::Accurate) => lang.pick(
                "섹션 주제: 커널이 사실을 확인함",
                "section topic: kernel confirms the fact",
            ),
            (Status::Holds, Kind::Topic, _) => lang.pick(
                "섹션 문서에 보충 필요, 커널이 사실을 확인함",
                "section document needs a caveat, kernel confirms the fact",
            ),
            (Status::Holds, Kind::Supplement, _) => lang.pick(
                "보충 사실: 커널이 확인함",
                "supplement: kernel confirms the added fact",
            ),
            (Status::Fails, _, _) => lang.pick(
                "커널이 카탈로그의 사실과 다르게 동작함: 주장을 다시 검토할 것",
                "kernel disagrees with the catalogue's fact: recheck the claim",
            ),
            (Status::Inconclusive, _, _) => lang.pick(
                "판정 불가: 측정으로 결론이 나지 않음",
                "inconclusive: the measurement could not decide",
            ),
            (Status::Skipped | Status::NotRun, _, _) => {
                lang.pick("여기서는 확인 못 함", "not checked here")
            }
            (Status::Untestable, _, _) => lang.pick(
                "확인 불가: 커널 테스트로 확인할 수 없음",
                "not checkable: no kernel test can check it",
            ),
            (Status::Pending, _, _) => {
                lang.pick("아직 확인 안 함: 테스트 없음", "not checked yet: no test")
            }
        }
    }
}

/// The language of the Markdown report; the JSON has both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    #[default]
    Ko,
    En,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "ko" => Some(Lang::Ko),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub(crate) fn pick(self, ko: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Ko => ko,
            Lang::En => en,
        }
    }
}

/// A text in the report's two languages.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Texts {
    /// Korean, in the course's register.
    pub ko: String,
    /// English.
    pub en: String,
}

impl Texts {
    fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Ko => &self.ko,
            Lang::En => &self.en,
        }
    }
}

fn correction_in(c: &Correction, lang: Lang) -> &str {
    match lang {
        Lang::Ko => &c.ko,
        Lang::En => &c.en,
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

impl ClaimResult {
    fn says_with_reason(&self, lang: Lang) -> String {
        match &self.reason {
            Some(r) if !self.status.passed() => {
                format!("{} ({})", self.says.get(lang), first_line(r))
            }
            _ => self.says.get(lang).to_string(),
        }
    }

    fn located(&self) -> String {
        self.location
            .as_ref()
            .map(|l| format!("{}:{}", l.file, l.line))
            .unwrap_or_default()
    }
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

/// Joins the catalogue (optionally one section of it) with the evidence, grouped by the claim
/// each record names; `index` says which tests name a claim, so one that left no evidence
/// shows as not run. Where several runs left evidence for the same test and claim, the newest
/// wins.
pub fn build(
    catalogue: &Catalogue,
    index: &TestIndex,
    records: &[Record],
    only: Option<&str>,
    privileges: Privileges,
    netns: String,
) -> Report {
    let newest = newest(records);
    let claims: Vec<ClaimResult> = catalogue
        .claims
        .iter()
        .filter(|c| only.is_none_or(|s| c.section_key() == s))
        .map(|c| {
            let mut named_by: Vec<&str> = c.facts.iter().flat_map(|f| index.tests_of(f)).collect();
            named_by.sort_unstable();
            named_by.dedup();
            judge(c, &named_by, &newest)
        })
        .collect();
    let mut report = Report {
        kernel: harness::kernel::release(),
        run: None,
        privileges,
        netns,
        course_text: None,
        totals: Totals::default(),
        claims,
    };
    report.recount();
    report
}

impl Report {
    /// Derives what follows from each claim's status (its words, its evidence line) and the
    /// totals; again after something, such as the bench, changed a status.
    pub fn recount(&mut self) {
        let mut totals = Totals {
            claims: self.claims.len(),
            ..Totals::default()
        };
        for (i, c) in self.claims.iter_mut().enumerate() {
            c.says = Texts {
                ko: c.status.says(c.kind, c.verdict, Lang::Ko).into(),
                en: c.status.says(c.kind, c.verdict, Lang::En).into(),
            };
            c.evidence = evidence(c, i);
            *match c.status {
                Status::Holds => &mut totals.holds,
                Status::Fails => &mut totals.fails,
                Status::Inconclusive => &mut totals.inconclusive,
                Status::Skipped => &mut totals.skipped,
                Status::NotRun => &mut totals.not_run,
                Status::Untestable => &mut totals.untestable,
                Status::Pending => &mut totals.pending,
            } += 1;
            if c.kind == Kind::Course {
                *match c.verdict {
                    Verdict::Inaccurate => &mut totals.inaccurate,
                    Verdict::NeedsCaveat => &mut totals.needs_caveat,
                    Verdict::Accurate => &mut totals.accurate,
                } += 1;
            }
        }
        self.totals = totals;
    }
}

/// The newest record of each (fact, test): where several runs left evidence, the latest wins.
pub fn newest(records: &[Record]) -> BTreeMap<(&str, &str), &Record> {
    let mut newest: BTreeMap<(&str, &str), &Record> = BTreeMap::new();
    for r in records {
        let slot = newest
            .entry((r.claim.as_str(), r.test.as_str()))
            .or_insert(r);
        if r.at_ms >= slot.at_ms {
            *slot = r;
        }
    }
    newest
}

/// What the evidence says about facts `facts` (one claim's, or one fact alone): their tests'
/// results, the status and, where it does not hold, why. `named_by`: the tests that name them.
pub fn judge_facts(
    facts: &[String],
    untestable: Option<&str>,
    named_by: &[&str],
    newest: &BTreeMap<(&str, &str), &Record>,
) -> (Vec<TestResult>, Status, Option<String>) {
    let rests_on = |id: &str| facts.iter().any(|f| f == id);
    let mut tests = Vec::new();
    for name in named_by {
        let ran = newest
            .keys()
            .any(|(id, test)| rests_on(id) && TestId::parse(test).base == *name);
        if !ran {
            tests.push(TestResult {
                name: name.to_string(),
                case: None,
                outcome: TestOutcome::NotRun,
                reason: Some("no evidence from this test in this run".into()),
                observed: Map::new(),
                kernel: None,
                netns: None,
                elapsed_ms: None,
            });
        }
    }
    tests.extend(
        newest
            .iter()
            .filter(|((id, _), _)| rests_on(id))
            .map(|(_, r)| TestResult {
                name: r.test.clone(),
                case: case_label(&r.test),
                outcome: match r.outcome {
                    Outcome::Pass => TestOutcome::Pass,
                    Outcome::Fail => TestOutcome::Fail,
                    Outcome::Skipped => TestOutcome::Skipped,
                },
                reason: r.reason.clone(),
                observed: r.observed.clone(),
                kernel: Some(r.kernel.clone()),
                netns: r.netns.clone(),
                elapsed_ms: Some(r.elapsed_ms),
            }),
    );
    let first_reason = |outcome: TestOutcome| {
        tests
            .iter()
            .find(|t| t.outcome == outcome)
            .and_then(|t| t.reason.as_ref().map(|r| format!("{}: {r}", t.display())))
    };
    let any = |outcome: TestOutcome| tests.iter().any(|t| t.outcome == outcome);
    let count = |outcome: TestOutcome| tests.iter().filter(|t| t.outcome == outcome).count();
    // Holds means every test passed: a test that left no evidence or was skipped leaves the
    // claim unchecked in part, and the reason says how much did pass.
    let passed = match count(TestOutcome::Pass) {
        0 => String::new(),
        n => format!("{n} of {} tests passed; ", tests.len()),
    };
    let (status, reason) = if let Some(why) = untestable {
        (Status::Untestable, Some(why.to_string()))
    } else if tests.is_empty() {
        (Status::Pending, None)
    } else if any(TestOutcome::Fail) {
        (Status::Fails, first_reason(TestOutcome::Fail))
    } else if tests.iter().all(|t| t.outcome == TestOutcome::Pass) {
        (Status::Holds, None)
    } else if any(TestOutcome::NotRun) {
        let missing: Vec<String> = tests
            .iter()
            .filter(|t| t.outcome == TestOutcome::NotRun)
            .map(TestResult::display)
            .collect();
        (
            Status::NotRun,
            Some(format!(
                "{passed}no evidence in this run from {}",
                missing.join(", ")
            )),
        )
    } else {
        (
            Status::Skipped,
            first_reason(TestOutcome::Skipped).map(|r| format!("{passed}{r}")),
        )
    };
    (tests, status, reason)
}

fn judge(
    claim: &Claim,
    named_by: &[&str],
    newest: &BTreeMap<(&str, &str), &Record>,
) -> ClaimResult {
    let (tests, status, reason) =
        judge_facts(&claim.facts, claim.untestable.as_deref(), named_by, newest);
    ClaimResult {
        id: claim.id.clone(),
        section: claim.section.clone(),
        kind: claim.kind,
        course: claim.course.clone(),
        fact: claim.fact.clone(),
        refs: claim.refs.clone(),
        verdict: claim.verdict,
        correction: claim.correction.clone(),
        untestable: claim.untestable.clone(),
        status,
        says: Texts {
            ko: String::new(),
            en: String::new(),
        },
        reason,
        location: None,
        evidence: None,
        tests,
        ratios: Vec::new(),
    }
}

/// Values longer than this, or on several lines, stay in report.json; the Markdown points there.
const SHORT: usize = 100;

fn short(v: &Value) -> Option<String> {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    (s.chars().count() <= SHORT && !s.contains('\n')).then_some(s)
}

fn pointer(claim: usize, test: usize, key: &str) -> String {
    format!(
        "/claims/{claim}/tests/{test}/observed/{}",
        key.replace('~', "~0").replace('/', "~1")
    )
}

/// The observation that best shows the fact: from a test whose outcome made the status, a short
/// value naming an errno or a number first.
fn evidence(c: &ClaimResult, index: usize) -> Option<Evidence> {
    let wanted = match c.status {
        Status::Fails => TestOutcome::Fail,
        _ => TestOutcome::Pass,
    };
    let mut candidates: Vec<(u8, usize, &str, &Value)> = Vec::new();
    for (j, t) in c.tests.iter().enumerate() {
        let rank = if t.outcome == wanted { 0 } else { 4 };
        for (k, v) in &t.observed {
            let errno = |s: &str| {
                s.split(|ch: char| !ch.is_ascii_alphanumeric()).any(|w| {
                    w.len() >= 4
                        && w.starts_with('E')
                        && w.chars().all(|ch| ch.is_ascii_uppercase())
                })
            };
            // An errno says most, then a number; how many property cases ran says nothing.
            let r = rank
                + match short(v) {
                    _ if k == "property_cases" => 3,
                    Some(s) if errno(&s) => 0,
                    Some(s) if s.chars().any(|ch| ch.is_ascii_digit()) => 1,
                    Some(_) => 2,
                    None => 3,
                };
            candidates.push((r, j, k, v));
        }
    }
    let (_, j, key, value) = candidates.into_iter().min_by_key(|(r, j, _, _)| (*r, *j))?;
    let test = &c.tests[j];
    Some(Evidence {
        kernel: test.kernel.clone().unwrap_or_default(),
        test: test.display(),
        key: key.to_string(),
        value: short(value),
        pointer: pointer(index, j, key),
    })
}

/// rstest's generated case name in words: `family_1_V4` is `v4`, `case_2_tcp_v6` is `tcp v6`,
/// `kind_3_Kind__Unix_UnixKind__Stream_` is `unix stream`, `v6only_1_true` is `v6only=true`.
pub fn case_label(test: &str) -> Option<String> {
    let id = TestId::parse(test);
    id.case?;
    let labels: Vec<String> = id.case_segments().map(segment_label).collect();
    Some(labels.join(", "))
}

fn segment_label(segment: &str) -> String {
    // `<param>_<n>_<value>` or `case_<n>[_<description>]`.
    let mut fields = segment.splitn(2, '_');
    let mut param = fields.next().unwrap_or_default().to_string();
    let mut rest = fields.next().unwrap_or_default();
    // A parameter name may itself contain underscores: it ends before the first `_<digits>_`.
    loop {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 && (rest.len() == digits || rest[digits..].starts_with('_')) {
            rest = rest[digits..].trim_start_matches('_');
            break;
        }
        match rest.split_once('_') {
            Some((more, tail)) => {
                param = format!("{param}_{more}");
                rest = tail;
            }
            None => return segment.to_string(),
        }
    }
    if param == "case" {
        return if rest.is_empty() {
            segment.replace('_', " ")
        } else {
            rest.replace('_', " ")
        };
    }
    if matches!(rest, "true" | "false") || rest.parse::<f64>().is_ok() {
        return format!("{param}={rest}");
    }
    // rstest spells `Kind::Unix(UnixKind::Stream)` as `Kind__Unix_UnixKind__Stream_`: the word
    // before each `__` is a type path, dropped; the words left are the variant and its fields.
    let pieces: Vec<&str> = rest.split("__").collect();
    let mut words = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        let mut tokens: Vec<&str> = piece.split('_').filter(|t| !t.is_empty()).collect();
        if i + 1 < pieces.len() {
            tokens.pop();
        }
        words.extend(tokens.into_iter().map(kebab));
    }
    words.join(" ")
}

/// `CloseWithUnreadData` is `close-with-unread-data`, `STREAM` is `stream`, `V4` is `v4`.
fn kebab(word: &str) -> String {
    if word.chars().all(|c| !c.is_ascii_lowercase()) {
        return word.to_ascii_lowercase();
    }
    let mut out = String::new();
    for (i, c) in word.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
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

    fn sections(&self) -> impl Iterator<Item = (&'static str, Vec<&ClaimResult>)> {
        SECTIONS.iter().filter_map(|(key, title)| {
            let claims: Vec<&ClaimResult> = self
                .claims
                .iter()
                .filter(|c| c.id.split('.').next() == Some(*key))
                .collect();
            (!claims.is_empty()).then_some((*title, claims))
        })
    }

    fn headline(&self) -> String {
        let caps = if self.privileges.capabilities.is_empty() {
            "none".to_string()
        } else {
            self.privileges.capabilities.join(", ")
        };
        let run = self
            .run
            .as_ref()
            .map(|r| format!(" · {}", r.describe()))
            .unwrap_or_default();
        format!(
            "Linux {} · uid {} · capabilities: {caps} · network namespaces: {}{run}",
            self.kernel, self.privileges.uid, self.netns
        )
    }

    fn course_line(&self, lang: Lang) -> String {
        match &self.course_text {
            Some(c) if c.stale.is_empty() => {
                format!("{}: `{}`", lang.pick("본문", "Course text"), c.file)
            }
            Some(c) => match lang {
                Lang::Ko => format!(
                    "본문: `{}` — 주장 {}개의 문장을 본문에서 찾지 못함 (`cargo claims course`): {}",
                    c.file,
                    c.stale.len(),
                    c.stale.join(", ")
                ),
                Lang::En => format!(
                    "Course text: `{}` — {} claims' words are no longer in it (`cargo claims \
                     course`): {}",
                    c.file,
                    c.stale.len(),
                    c.stale.join(", ")
                ),
            },
            None => lang
                .pick(
                    "본문 파일을 찾지 못해 줄 번호가 없음 (`cargo claims --course FILE`)",
                    "No course file found, so no line numbers (`cargo claims --course FILE`)",
                )
                .to_string(),
        }
    }

    fn totals_line(&self, lang: Lang) -> String {
        let t = &self.totals;
        let not_checked = t.skipped + t.not_run + t.untestable + t.pending;
        match lang {
            Lang::Ko => format!(
                "주장 {}개 — 본문 문장: 부정확 {}, 보충 필요 {}, 정확 {} — 이 커널에서: 확인 {}, \
                 실패 {}, 판정 불가 {}, 확인 못 함 {} (건너뜀 {}, 결과 없음 {}, 확인 불가 {}, 테스트 없음 {})",
                t.claims, t.inaccurate, t.needs_caveat, t.accurate, t.holds, t.fails,
                t.inconclusive, not_checked, t.skipped, t.not_run, t.untestable, t.pending
            ),
            Lang::En => format!(
                "{} claims — course sentences: {} inaccurate, {} need a caveat, {} accurate — on \
                 this kernel: {} hold, {} fail, {} inconclusive, {} not checked ({} skipped, {} \
                 not run, {} untestable, {} pending)",
                t.claims, t.inaccurate, t.needs_caveat, t.accurate, t.holds, t.fails,
                t.inconclusive, not_checked, t.skipped, t.not_run, t.untestable, t.pending
            ),
        }
    }

    /// Claims with a correction, by verdict and line: with `course`, those on the overview's
    /// own words (a course sentence, or a topic or supplement claim whose section is the
    /// overview: no section document owns its words, so its caveat is the author's to make);
    /// otherwise the notes for the section documents.
    fn todo(&self, verdict: Verdict, course: bool) -> Vec<&ClaimResult> {
        let on_the_words = |c: &ClaimResult| c.kind == Kind::Course || c.section == DOCUMENTS[0];
        let mut list: Vec<&ClaimResult> = self
            .claims
            .iter()
            .filter(|c| c.correction.is_some() && c.verdict == verdict && on_the_words(c) == course)
            .collect();
        list.sort_by_key(|c| c.location.as_ref().map_or(usize::MAX, |l| l.line));
        list
    }

    /// The course claims to act on as replacements, by verdict: claims at one place with one
    /// correction (two claims about the same words) are one item, listed under the first verdict
    /// that has it (inaccurate before needs-caveat).
    fn replacements(&self) -> Vec<(Verdict, Vec<Vec<&ClaimResult>>)> {
        let key = |c: &ClaimResult| {
            (
                c.location.as_ref().map(|l| l.line),
                c.correction.as_ref().map(|k| k.ko.clone()),
            )
        };
        let mut lists: Vec<(Verdict, Vec<Vec<&ClaimResult>>)> = Vec::new();
        for verdict in [Verdict::Inaccurate, Verdict::NeedsCaveat] {
            let mut groups: Vec<Vec<&ClaimResult>> = Vec::new();
            for c in self.todo(verdict, true) {
                let same = |g: &&mut Vec<&ClaimResult>| key(g[0]) == key(c);
                let earlier = lists
                    .iter_mut()
                    .flat_map(|(_, gs)| gs.iter_mut())
                    .find(same);
                match earlier {
                    Some(g) => g.push(c),
                    None => match groups.iter_mut().find(same) {
                        Some(g) => g.push(c),
                        None => groups.push(vec![c]),
                    },
                }
            }
            lists.push((verdict, groups));
        }
        lists
    }

    /// The claims the author must act on: what `$GITHUB_STEP_SUMMARY` gets.
    pub fn must_change(&self, lang: Lang) -> String {
        let mut md = String::new();
        let lists = [
            (
                Verdict::Inaccurate,
                lang.pick("고쳐야 할 문장", "Sentences to change"),
            ),
            (
                Verdict::NeedsCaveat,
                lang.pick("보충이 필요한 문장", "Sentences that need a caveat"),
            ),
        ];
        let groups = self.replacements();
        for ((_, title), (_, items)) in lists.into_iter().zip(groups) {
            let _ = writeln!(md, "## {title} ({})\n", items.len());
            if items.is_empty() {
                md.push_str(lang.pick("없음.\n\n", "None.\n\n"));
            }
            for (n, group) in items.iter().enumerate() {
                self.item(&mut md, n + 1, group, lang);
            }
        }
        md
    }

    /// One to-do item: the place, the words and the correction of the first claim of `group`,
    /// its evidence, and every claim of the group.
    fn item(&self, md: &mut String, n: usize, group: &[&ClaimResult], lang: Lang) {
        let c = group[0];
        let at = match &c.location {
            Some(_) => format!("**{}** — ", c.located()),
            None => String::new(),
        };
        let _ = writeln!(md, "{n}. {at}“{}”", c.course);
        if let Some(correction) = &c.correction {
            let _ = writeln!(
                md,
                "   - {}: {}",
                lang.pick("바꿀 문장", "Replace with"),
                correction_in(correction, lang)
            );
        }
        let proof = match (&c.evidence, c.status.observed()) {
            (Some(e), true) => {
                let value = match &e.value {
                    Some(v) => format!("`{}={v}`", e.key),
                    None => format!("`{}` (report.json `{}`)", e.key, e.pointer),
                };
                format!(
                    "Linux {} — {value} ({}) — {}",
                    e.kernel,
                    e.test,
                    lang.pick("이번 실행에서 관찰함", "observed on this run")
                )
            }
            _ => c.says_with_reason(lang),
        };
        let _ = writeln!(md, "   - {}: {proof}", lang.pick("근거", "Evidence"));
        let ids: Vec<String> = group.iter().map(|c| format!("`{}`", c.id)).collect();
        let _ = writeln!(
            md,
            "   - {}: {}\n",
            lang.pick("주장", "Claim"),
            ids.join(", ")
        );
    }

    /// The terminal summary: the author's to-do list, then one line per claim by section.
    pub fn terminal(&self, lang: Lang) -> String {
        let mut out = format!(
            "socket-claims report\n{}\n{}\n",
            self.headline(),
            self.course_line(lang)
        );
        for (verdict, items) in self.replacements() {
            let title = match verdict {
                Verdict::Inaccurate => lang.pick("고쳐야 할 문장", "Sentences to change"),
                _ => lang.pick("보충이 필요한 문장", "Sentences that need a caveat"),
            };
            let _ = writeln!(out, "\n{title} ({}):", items.len());
            for group in items {
                let ids: Vec<&str> = group.iter().map(|c| c.id.as_str()).collect();
                let c = group[0];
                let _ = writeln!(
                    out,
                    "  {:<32} {} — {}",
                    c.located(),
                    ids.join(", "),
                    c.says.get(lang)
                );
            }
        }
        for (title, claims) in self.sections() {
            let _ = writeln!(out, "\n{title}");
            for c in &claims {
                let why = c
                    .reason
                    .as_deref()
                    .filter(|_| !c.status.passed())
                    .map(|r| format!(" — {}", first_line(r)))
                    .unwrap_or_default();
                let _ = writeln!(out, "  {:<12} {}{why}", c.status.label(), c.id);
            }
        }
        let _ = writeln!(out, "\n{}", self.totals_line(lang));
        out
    }

    /// The Markdown report for course authors: the to-do list, notes on the section documents,
    /// then every claim as an appendix.
    pub fn markdown(&self, lang: Lang) -> String {
        let mut md = format!(
            "# {}\n\n{}  \n{}  \n**{}**\n\n",
            lang.pick(
                "socket-claims: 본문의 소켓 관련 문장을 이 커널에서 점검한 결과",
                "socket-claims: the course's socket sentences on this kernel"
            ),
            self.headline(),
            self.course_line(lang),
            self.totals_line(lang)
        );
        md.push_str(&self.must_change(lang));
        let notes: Vec<&ClaimResult> = [Verdict::Inaccurate, Verdict::NeedsCaveat]
            .into_iter()
            .flat_map(|v| self.todo(v, false))
            .collect();
        if !notes.is_empty() {
            let _ = writeln!(
                md,
                "## {} ({})\n\n{}\n",
                lang.pick("섹션 문서에 대한 참고", "Notes for the section documents"),
                notes.len(),
                lang.pick(
                    "본문의 문장이 아니라 로드맵 항목 아래의 주제나 보충 사실에 대한 것입니다.",
                    "About topics under the roadmap's headings or facts the suite adds, not \
                     sentences of the course text."
                )
            );
            for (n, c) in notes.iter().enumerate() {
                self.item(&mut md, n + 1, &[c], lang);
            }
        }
        let _ = writeln!(
            md,
            "## {}\n\n{}\n",
            lang.pick("부록: 전체 주장", "Appendix: every claim"),
            lang.pick(
                "관찰값이 길면 report.json의 위치(JSON pointer)를 적었습니다.",
                "Long observations are in report.json at the JSON pointer given."
            )
        );
        let header = lang.pick(
            "| 위치 | 주장 | 본문 | 판정 | 커널이 한 일 |\n|---|---|---|---|---|\n",
            "| Where | Claim | Course says | Verdict on this kernel | What the kernel did |\n|---|---|---|---|---|\n",
        );
        for (title, mut claims) in self.sections() {
            claims.sort_by_key(|c| c.location.as_ref().map_or(usize::MAX, |l| l.line));
            let _ = writeln!(md, "### {title}\n");
            md.push_str(header);
            for c in claims {
                let _ = writeln!(
                    md,
                    "| {} | `{}` | {} | {} | {} |",
                    c.located(),
                    c.id,
                    cell(&c.course),
                    cell(&c.says_with_reason(lang)),
                    cell(&observed_summary(self.index_of(c), c))
                );
            }
            md.push('\n');
        }
        md
    }

    fn index_of(&self, c: &ClaimResult) -> usize {
        self.claims
            .iter()
            .position(|x| std::ptr::eq(x, c))
            .unwrap_or_default()
    }

    /// This run as one JUnit testsuite named `name`, each claim's classname `<package>.<section>`
    /// (the matrix names the kernel in both, so that tools which merge suites keep kernels apart).
    pub fn junit_suite(&self, name: &str, package: &str) -> junit::Suite {
        let cases = self
            .claims
            .iter()
            .map(|c| {
                let mut output = format!("{}\n", c.says.en);
                for t in &c.tests {
                    let _ = write!(output, "{} {:?}", t.display(), t.outcome);
                    for (k, v) in &t.observed {
                        let _ = write!(output, "\n  {k}={}", as_text(v));
                    }
                    output.push('\n');
                }
                let message = match &c.reason {
                    Some(r) => format!("{}: {r}", c.status.label()),
                    None => c.status.label().to_string(),
                };
                let outcome = if c.status.failed() {
                    junit::Outcome::Failure {
                        kind: c.status.label(),
                        message,
                    }
                } else if c.status.passed() {
                    junit::Outcome::Passed
                } else {
                    junit::Outcome::Skipped { message }
                };
                junit::Case {
                    classname: format!("{package}.{}", c.id.split('.').next().unwrap_or_default()),
                    name: c.id.clone(),
                    outcome,
                    output,
                    seconds: c.tests.iter().filter_map(|t| t.elapsed_ms).sum::<u64>() as f64
                        / 1000.0,
                }
            })
            .collect();
        junit::Suite {
            name: name.to_string(),
            cases,
        }
    }
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The observations of a claim's tests as whole `key=value` pairs; a long value is named with
/// its place in report.json, never cut.
fn observed_summary(index: usize, c: &ClaimResult) -> String {
    const SHOWN: usize = 4;
    let mut parts: Vec<String> = Vec::new();
    let mut more = 0;
    for (j, t) in c.tests.iter().enumerate() {
        for (k, v) in &t.observed {
            let part = match short(v) {
                Some(v) => format!("`{k}={v}`"),
                None => format!("`{k}` → report.json `{}`", pointer(index, j, k)),
            };
            if parts.contains(&part) {
                continue;
            }
            if parts.len() < SHOWN {
                parts.push(part);
            } else {
                more += 1;
            }
        }
    }
    if more > 0 {
        parts.push(format!("(+{more} in report.json `/claims/{index}/tests`)"));
    }
    parts.join("; ")
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::course;

    fn claim(id: &str, kind: Kind, course: &str, verdict: Verdict) -> Claim {
        Claim {
            id: id.into(),
            section: match kind {
                Kind::Topic => "07-10-tcp-programming",
                _ => "07-01-overview",
            }
            .into(),
            kind,
            course: course.into(),
            facts: vec![id.into()],
            fact: "f".into(),
            refs: vec!["socket(7)".into()],
            verdict,
            correction: (verdict != Verdict::Accurate).then(|| Correction {
                ko: format!("{id} 고친 문장"),
                en: format!("{id} fixed sentence"),
            }),
            untestable: None,
            since: Vec::new(),
            until: Vec::new(),
            on: None,
            kernel_ref: None,
        }
    }

    fn record(claim: &str, test: &str, outcome: Outcome, observed: &[(&str, &str)]) -> Record {
        Record {
            claim: claim.into(),
            test: test.into(),
            case: None,
            outcome,
            reason: (outcome == Outcome::Skipped).then(|| "needs CAP_NET_RAW".into()),
            observed: observed
                .iter()
                .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                .collect(),
            kernel: "6.12.0".into(),
            run: "r".into(),
            uid: 0,
            caps: Vec::new(),
            netns: None,
            elapsed_ms: 3,
            at_ms: 1,
        }
    }

    #[test]
    fn a_claim_holds_only_when_every_test_of_it_passed() {
        let catalogue = Catalogue {
            facts: Vec::new(),
            claims: vec![claim("tcp.a.b", Kind::Course, "x", Verdict::Accurate)],
        };
        let mut index = TestIndex::default();
        for name in ["tcp::first", "tcp::second"] {
            index.tests.insert(name.into(), vec!["tcp.a.b".into()]);
        }
        let status = |records: &[Record]| {
            let report = build(
                &catalogue,
                &index,
                records,
                None,
                Privileges::current(),
                String::new(),
            );
            (report.claims[0].status, report.claims[0].reason.clone())
        };
        let pass = record("tcp.a.b", "tcp::first", Outcome::Pass, &[]);
        let (st, why) = status(std::slice::from_ref(&pass));
        assert_eq!(st, Status::NotRun, "one of two tests left no evidence");
        let why = why.expect("a reason");
        assert!(
            why.contains("1 of 2 tests passed") && why.contains("tcp::second"),
            "{why}"
        );
        let skipped = record("tcp.a.b", "tcp::second", Outcome::Skipped, &[]);
        let (st, why) = status(&[pass.clone(), skipped]);
        assert_eq!(st, Status::Skipped, "one of two tests was skipped");
        assert!(why.expect("a reason").contains("needs CAP_NET_RAW"));
        let both = [pass, record("tcp.a.b", "tcp::second", Outcome::Pass, &[])];
        assert_eq!(status(&both).0, Status::Holds);
        // A report of claims none of which was checked says so (the runner exits 1).
        let none = build(
            &catalogue,
            &index,
            &[],
            None,
            Privileges::current(),
            String::new(),
        );
        let why = none.totals.nothing_checked().expect("nothing was checked");
        assert!(why.contains("of 1 claims none holds"), "{why}");
    }

    #[test]
    fn claims_about_the_same_words_with_one_correction_are_one_item() {
        let text = "# 개요\n\n- 한 줄에 두 주장이 있습니다\n";
        let words = "한 줄에 두 주장이 있습니다";
        let wrong = claim("tcp.a.wrong", Kind::Course, words, Verdict::Inaccurate);
        let mut caveat = claim("tcp.b.caveat", Kind::Course, words, Verdict::NeedsCaveat);
        caveat.correction = wrong.correction.clone();
        let extra = claim(
            "tcp.c.supplement",
            Kind::Supplement,
            words,
            Verdict::NeedsCaveat,
        );
        let catalogue = Catalogue {
            facts: Vec::new(),
            claims: vec![wrong, caveat, extra],
        };
        let mut report = build(
            &catalogue,
            &TestIndex::default(),
            &[],
            None,
            Privileges::current(),
            String::new(),
        );
        let pairs: Vec<(&str, &str)> = catalogue
            .claims
            .iter()
            .map(|c| (c.id.as_str(), c.course.as_str()))
            .collect();
        report.locate(&course::check("ch.md", text, &pairs, &[]));
        let md = report.must_change(Lang::Ko);
        assert!(md.contains("## 고쳐야 할 문장 (1)"), "{md}");
        assert!(md.contains("## 보충이 필요한 문장 (1)"), "{md}");
        assert!(
            md.contains("바꿀 문장: tcp.c.supplement 고친 문장"),
            "a supplement's caveat on the overview's words is the author's: {md}"
        );
        assert_eq!(
            md.matches("바꿀 문장: tcp.a.wrong 고친 문장").count(),
            1,
            "{md}"
        );
        assert!(md.contains("주장: `tcp.a.wrong`, `tcp.b.caveat`"), "{md}");
    }

    #[test]
    fn the_report_opens_with_the_to_do_list_located_and_says_what_was_observed() {
        let text = "# 개요\n\n- 첫째 문장은 정확합니다\n- 둘째 문장은 보충이 필요합니다\n\
                    - 셋째 문장은 틀렸습니다\n\n## 주제 제목\n";
        let catalogue = Catalogue {
            facts: Vec::new(),
            claims: vec![
                claim(
                    "tcp.a.right",
                    Kind::Course,
                    "첫째 문장은 정확합니다",
                    Verdict::Accurate,
                ),
                claim(
                    "tcp.b.caveat",
                    Kind::Course,
                    "둘째 문장은 보충이 필요합니다",
                    Verdict::NeedsCaveat,
                ),
                claim(
                    "tcp.c.wrong",
                    Kind::Course,
                    "셋째 문장은 틀렸습니다",
                    Verdict::Inaccurate,
                ),
                claim(
                    "tcp.d.topic",
                    Kind::Topic,
                    "주제 제목",
                    Verdict::NeedsCaveat,
                ),
            ],
        };
        let mut index = TestIndex::default();
        for (test, id) in [
            ("tcp::b", "tcp.b.caveat"),
            ("tcp::c", "tcp.c.wrong"),
            ("tcp::d", "tcp.d.topic"),
        ] {
            index.tests.insert(test.into(), vec![id.into()]);
        }
        let long = "COMMAND PID\nnc 42 TCP 127.0.0.1:8080 (LISTEN)";
        let records = [
            record("tcp.b.caveat", "tcp::b::family_1_V4", Outcome::Skipped, &[]),
            record(
                "tcp.c.wrong",
                "tcp::c::family_2_V6",
                Outcome::Pass,
                &[("lsof", long), ("errno", "Err(EADDRINUSE)")],
            ),
            record("tcp.d.topic", "tcp::d", Outcome::Pass, &[]),
        ];
        let privileges = Privileges::current();
        let mut report = build(
            &catalogue,
            &index,
            &records,
            None,
            privileges,
            String::new(),
        );
        let acked = Vec::new();
        let pairs: Vec<(&str, &str)> = catalogue
            .claims
            .iter()
            .map(|c| (c.id.as_str(), c.course.as_str()))
            .collect();
        report.locate(&course::check("ch.md", text, &pairs, &acked));

        let md = report.markdown(Lang::Ko);
        let at = |needle: &str| {
            md.find(needle)
                .unwrap_or_else(|| panic!("no {needle:?} in\n{md}"))
        };
        assert!(at("## 고쳐야 할 문장 (1)") < at("**ch.md:5** — “셋째 문장은 틀렸습니다”"));
        assert!(at("셋째") < at("## 보충이 필요한 문장 (1)"));
        assert!(at("## 보충이 필요한 문장") < at("**ch.md:4**"));
        assert!(at("**ch.md:4**") < at("## 섹션 문서에 대한 참고 (1)"));
        assert!(at("## 섹션 문서에 대한 참고") < at("## 부록"));
        assert!(md.contains("바꿀 문장: tcp.c.wrong 고친 문장"));
        assert!(md.contains(
            "근거: Linux 6.12.0 — `errno=Err(EADDRINUSE)` (tcp::c [v6]) — 이번 실행에서 관찰함"
        ));
        assert!(md.contains("근거: 여기서는 확인 못 함 (tcp::b [v4]: needs CAP_NET_RAW)"));
        assert!(
            md.contains("`lsof` → report.json `/claims/2/tests/0/observed/lsof`"),
            "{md}"
        );
        assert!(
            !md.contains("COMMAND PID"),
            "a multi-line value stays whole in the JSON"
        );
        assert!(md.contains("| ch.md:3 | `tcp.a.right` |"));
        assert_eq!(report.totals.inaccurate, 1);
        assert_eq!(
            report.totals.needs_caveat, 1,
            "a topic is no verdict on the course"
        );

        let en = report.markdown(Lang::En);
        assert!(en.contains("## Sentences to change (1)"));
        assert!(en.contains("Replace with: tcp.c.wrong fixed sentence"));
        let json = serde_json::to_value(&report).expect("serialises");
        assert_eq!(
            json["claims"][2]["correction"]["ko"],
            "tcp.c.wrong 고친 문장"
        );
        assert_eq!(
            json["claims"][2]["says"]["en"],
            "course inaccurate, kernel confirms the correction"
        );
        assert_eq!(json["claims"][2]["status"], "holds");
        assert_eq!(json["claims"][1]["status"], "skipped");
        assert_eq!(json["claims"][0]["status"], "pending");
        assert_eq!(json["claims"][2]["tests"][0]["observed"]["lsof"], long);
    }

    #[test]
    fn rstest_case_names_read_as_words() {
        let label = |t: &str| case_label(t).unwrap_or_default();
        assert_eq!(label("tcp::x::family_1_V4"), "v4");
        assert_eq!(
            label("tcp::x::family_2_V6::ty_1_Type__STREAM"),
            "v6, stream"
        );
        assert_eq!(
            label("f::x::kind_3_Kind__Unix_UnixKind__Stream_"),
            "unix stream"
        );
        assert_eq!(label("f::x::kind_2_Kind__Tcp_V6_"), "tcp v6");
        assert_eq!(label("f::x::kind_3_SeqPacket"), "seq-packet");
        assert_eq!(label("f::x::case_2_tcp_v6"), "tcp v6");
        assert_eq!(label("f::x::case_1"), "case 1");
        assert_eq!(label("f::x::v6only_1_false"), "v6only=false");
        assert_eq!(
            label("f::x::family_1_V4::old_server_set_it_2_false"),
            "v4, old_server_set_it=false"
        );
        assert_eq!(
            label("f::x::family_1_V4::how_1_Abort__CloseWithUnreadData"),
            "v4, close-with-unread-data"
        );
        assert_eq!(label("f::x::buffer_2_Buffer__Send"), "send");
        assert_eq!(case_label("tcp::plain_test"), None);
    }
}
