//! The report's words in Korean and English: the language, a text in both, what a status says,
//! and the report's course and totals lines.

use serde::Serialize;

use super::model::{Report, Status};
use harness::catalogue::{Correction, Kind, Verdict};

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
    pub(super) fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Ko => &self.ko,
            Lang::En => &self.en,
        }
    }
}

pub(super) fn correction_in(c: &Correction, lang: Lang) -> &str {
    match lang {
        Lang::Ko => &c.ko,
        Lang::En => &c.en,
    }
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

impl Report {
    pub(super) fn course_line(&self, lang: Lang) -> String {
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

    pub(super) fn totals_line(&self, lang: Lang) -> String {
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
}
