//! The judgement: the catalogue joined with the evidence, one status per claim, and the one
//! observation that shows each claim's fact.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::model::{ClaimResult, Evidence, Report, Status, TestOutcome, TestResult, Totals};
use super::texts::{Lang, Texts};
use crate::index::TestIndex;
use harness::catalogue::{Catalogue, Claim, Kind, Verdict};
use harness::privileges::Privileges;
use harness::record::{Outcome, Record, TestId};

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

pub(super) fn short(v: &Value) -> Option<String> {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    (s.chars().count() <= SHORT && !s.contains('\n')).then_some(s)
}

pub(super) fn pointer(claim: usize, test: usize, key: &str) -> String {
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
