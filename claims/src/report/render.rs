//! The report rendered: for the terminal, as Markdown for the course's authors (their to-do
//! list first), as the must-change list of `$GITHUB_STEP_SUMMARY`, and as a JUnit suite.

use std::fmt::Write as _;

use serde_json::Value;

use super::judge::{pointer, short};
use super::model::{ClaimResult, Report};
use super::texts::{correction_in, Lang};
use crate::junit;
use harness::catalogue::{Kind, Verdict, DOCUMENTS, SECTIONS};

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
