//! The report: the catalogue joined with the evidence, one status per claim (holds / fails /
//! skipped / pending), rendered for the terminal, as Markdown for course authors and as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::catalogue::{Catalogue, Claim, Correction, Kind, TestIndex, Verdict, SECTIONS};
use crate::evidence::{Outcome, Record};
use crate::privileges::Privileges;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Holds,
    Fails,
    Skipped,
    Pending,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Holds => "holds",
            Status::Fails => "FAILS",
            Status::Skipped => "skipped",
            Status::Pending => "pending",
        }
    }
}

#[derive(Debug, Serialize)]
pub struct TestResult {
    pub name: String,
    /// pass, fail, skipped, or "not run" when its body names the claim but no evidence came.
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub observed: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elapsed_ms: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct ClaimResult {
    pub id: String,
    pub section: String,
    pub course: String,
    pub fact: String,
    pub refs: Vec<String>,
    pub kind: Kind,
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correction: Option<Correction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub untestable: Option<String>,
    pub status: Status,
    /// Why the claim fails or was skipped, from the first test that says so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub tests: Vec<TestResult>,
}

#[derive(Debug, Default, Serialize)]
pub struct Totals {
    pub claims: usize,
    pub holds: usize,
    pub fails: usize,
    pub skipped: usize,
    pub pending: usize,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub kernel: String,
    pub privileges: Privileges,
    /// How tests got a private network namespace on this machine, or why they could not.
    pub netns: String,
    pub totals: Totals,
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
    let mut newest: BTreeMap<(&str, &str), &Record> = BTreeMap::new();
    for r in records {
        let slot = newest
            .entry((r.claim.as_str(), r.test.as_str()))
            .or_insert(r);
        if r.at_ms >= slot.at_ms {
            *slot = r;
        }
    }
    let claims: Vec<ClaimResult> = catalogue
        .claims
        .iter()
        .filter(|c| only.is_none_or(|s| c.section_key() == s))
        .map(|c| judge(c, &index.tests_of(&c.id), &newest))
        .collect();
    let mut totals = Totals {
        claims: claims.len(),
        ..Totals::default()
    };
    for c in &claims {
        *match c.status {
            Status::Holds => &mut totals.holds,
            Status::Fails => &mut totals.fails,
            Status::Skipped => &mut totals.skipped,
            Status::Pending => &mut totals.pending,
        } += 1;
    }
    Report {
        kernel: crate::privileges::kernel_release(),
        privileges,
        netns,
        totals,
        claims,
    }
}

fn judge(
    claim: &Claim,
    named_by: &[&str],
    newest: &BTreeMap<(&str, &str), &Record>,
) -> ClaimResult {
    let mut tests = Vec::new();
    for name in named_by {
        let prefix = format!("{name}::");
        let ran = newest
            .keys()
            .any(|(id, test)| *id == claim.id && (test == name || test.starts_with(&prefix)));
        if !ran {
            tests.push(TestResult {
                name: name.to_string(),
                outcome: "not run".into(),
                reason: Some("no evidence from this test in this run".into()),
                observed: Map::new(),
                netns: None,
                elapsed_ms: None,
            });
        }
    }
    tests.extend(
        newest
            .iter()
            .filter(|((id, _), _)| *id == claim.id)
            .map(|(_, r)| TestResult {
                name: r.test.clone(),
                outcome: match r.outcome {
                    Outcome::Pass => "pass",
                    Outcome::Fail => "fail",
                    Outcome::Skipped => "skipped",
                }
                .into(),
                reason: r.reason.clone(),
                observed: r.observed.clone(),
                netns: r.netns.clone(),
                elapsed_ms: Some(r.elapsed_ms),
            }),
    );
    let first_reason = |outcome: &str| {
        tests
            .iter()
            .find(|t| t.outcome == outcome)
            .and_then(|t| t.reason.clone())
            .map(|r| format!("{}: {r}", short_name(&tests, outcome)))
    };
    let (status, reason) = if let Some(why) = &claim.untestable {
        (Status::Skipped, Some(format!("untestable: {why}")))
    } else if tests.is_empty() {
        (Status::Pending, None)
    } else if tests.iter().any(|t| t.outcome == "fail") {
        (Status::Fails, first_reason("fail"))
    } else if tests.iter().any(|t| t.outcome == "pass") {
        (Status::Holds, None)
    } else if tests.iter().any(|t| t.outcome == "skipped") {
        (Status::Skipped, first_reason("skipped"))
    } else {
        (Status::Skipped, Some("not run in this session".into()))
    };
    ClaimResult {
        id: claim.id.clone(),
        section: claim.section.clone(),
        course: claim.course.clone(),
        fact: claim.fact.clone(),
        refs: claim.refs.clone(),
        kind: claim.kind,
        verdict: claim.verdict,
        correction: claim.correction.clone(),
        untestable: claim.untestable.clone(),
        status,
        reason,
        tests,
    }
}

fn short_name(tests: &[TestResult], outcome: &str) -> String {
    tests
        .iter()
        .find(|t| t.outcome == outcome)
        .map(|t| t.name.clone())
        .unwrap_or_default()
}

impl Report {
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
        format!(
            "Linux {} · uid {} · capabilities: {caps} · network namespaces: {}",
            self.kernel, self.privileges.uid, self.netns
        )
    }

    fn totals_line(&self) -> String {
        let t = &self.totals;
        format!(
            "{} claims: {} hold, {} fail, {} skipped, {} pending",
            t.claims, t.holds, t.fails, t.skipped, t.pending
        )
    }

    /// The terminal summary: one line per claim, grouped by section, with totals.
    pub fn terminal(&self) -> String {
        let mut out = format!("socket-claims report\n{}\n", self.headline());
        for (title, claims) in self.sections() {
            let _ = writeln!(out, "\n{title}");
            for c in &claims {
                let why = c
                    .reason
                    .as_deref()
                    .map(|r| format!(" — {}", first_line(r, 110)))
                    .unwrap_or_default();
                let _ = writeln!(out, "  {:<8} {}{why}", c.status.label(), c.id);
            }
            let count = |s: Status| claims.iter().filter(|c| c.status == s).count();
            let _ = writeln!(
                out,
                "  ({} hold, {} fail, {} skipped, {} pending)",
                count(Status::Holds),
                count(Status::Fails),
                count(Status::Skipped),
                count(Status::Pending)
            );
        }
        let _ = writeln!(out, "\n{}", self.totals_line());
        out
    }

    /// The Markdown report for course authors.
    pub fn markdown(&self) -> String {
        let mut md = String::from("# socket-claims: the course's socket claims on this kernel\n\n");
        let _ = writeln!(md, "{}  \n**{}**\n", self.headline(), self.totals_line());
        md.push_str(
            "Status: **holds** — every test of the claim passed on this kernel; **FAILS** — a \
             test found the kernel doing otherwise; **skipped** — not checked here (reason \
             given); **pending** — no test yet.\n",
        );
        for (title, claims) in self.sections() {
            let _ = writeln!(md, "\n## {title}\n");
            md.push_str("| Claim | Course says | Verdict | Status | What the kernel did |\n");
            md.push_str("|---|---|---|---|---|\n");
            for c in claims {
                let status = match &c.reason {
                    Some(r) => format!("{} ({})", c.status.label(), first_line(r, 120)),
                    None => c.status.label().to_string(),
                };
                let _ = writeln!(
                    md,
                    "| `{}` | {} | {} | {} | {} |",
                    c.id,
                    cell(&c.course),
                    verdict_cell(c),
                    cell(&status),
                    cell(&observed_summary(c))
                );
            }
        }
        let corrections: Vec<&ClaimResult> = self
            .claims
            .iter()
            .filter(|c| c.correction.is_some())
            .collect();
        if !corrections.is_empty() {
            md.push_str("\n## Corrections for the author\n");
            for c in corrections {
                let correction = c.correction.clone().unwrap_or_default();
                let _ = write!(
                    md,
                    "\n### `{}` ({})\n\n- Course: {}\n- Linux: {}\n- Publish instead: {}\n  \
                     ({})\n- Refs: {}\n",
                    c.id,
                    verdict_cell(c),
                    c.course,
                    c.fact,
                    correction.ko,
                    correction.en,
                    c.refs.join("; ")
                );
                if c.status != Status::Pending {
                    let _ = writeln!(md, "- On this kernel: {}", c.status.label());
                }
            }
        }
        md
    }
}

/// The verdict on the course's words; a topic check or supplement is not a verdict on the
/// course, and says so.
fn verdict_cell(c: &ClaimResult) -> String {
    match c.kind {
        Kind::Course => c.verdict.as_str().to_string(),
        kind => format!("{} ({})", c.verdict.as_str(), kind.as_str()),
    }
}

/// The observations of a claim's passing (else any) test runs, as `key=value` pairs.
fn observed_summary(c: &ClaimResult) -> String {
    let mut parts = Vec::new();
    for t in &c.tests {
        for (k, v) in &t.observed {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            // Tables of many values stay in report.json; the Markdown cell names them.
            let part = if v.chars().count() > 160 {
                format!("{k}=(see report.json)")
            } else {
                format!("{k}={v}")
            };
            if !parts.contains(&part) {
                parts.push(part);
            }
        }
    }
    first_line(&parts.join("; "), 600)
}

fn first_line(s: &str, max: usize) -> String {
    let line = s.lines().next().unwrap_or_default();
    if line.chars().count() > max {
        format!("{}…", line.chars().take(max).collect::<String>())
    } else {
        line.to_string()
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
