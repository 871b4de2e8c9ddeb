//! Rules as data: a fact in `fixtures/facts/<section>.toml` may carry `[[fact.rule]]` entries
//! that know how the fact is commonly misstated, in prose (Korean and English) or in C code.
//! Every rule ships with examples that must fire and close, correct ones that must not; the
//! self-test runs them all.
//!
//! ```toml
//! [[fact.rule]]
//! name = "backlog-is-max-clients"    # unique within the fact; the rule id is <fact>/<name>
//! kind = "prose"                     # "prose" | "code"
//! severity = "error"                 # error: contradicts the fact; warning: needs its caveat
//! message = { ko = "…", en = "…" }   # why the words are wrong, one sentence
//! correction = { ko = "…", en = "…" }  # prose, optional: a replacement an author pastes as it is
//! advice = { ko = "…", en = "…" }      # code, optional: what to do, shown as a note (a code
//!                                      # finding's correction is its own line, fixed by the check)
//! # prose: each entry is a case-insensitive regular expression over one sentence
//! all = ["backlog|백로그", "최대|maximum"]  # every one must match
//! any = ["클라이언트|client", "연결|connection"]  # at least one must match (if given)
//! none = ["SYN|accept\\(\\)를? 기다리|queue|큐"]  # none may match
//! # code: the name of a check in doccheck::code
//! check = "htons-missing"
//! fire = ["listen()의 backlog는 동시에 접속할 수 있는 최대 클라이언트 수입니다."]
//! pass = ["backlog는 accept()를 기다리는 연결 큐의 길이입니다."]
//! ```

use serde::{Deserialize, Serialize};

use crate::finding::{Severity, Text};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    Prose,
    Code,
}

/// One detector on a fact.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    pub kind: RuleKind,
    pub severity: Severity,
    pub message: Text,
    /// Prose: the sentence to write instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correction: Option<Text>,
    /// Code: what to do where the check has no one-line fix (never pasted over a line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advice: Option<Text>,
    /// Prose: every pattern must match the sentence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub all: Vec<String>,
    /// Prose: at least one pattern must match (when any are given).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub any: Vec<String>,
    /// Prose: no pattern may match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub none: Vec<String>,
    /// Code: the named check in `doccheck::code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    /// Sentences (prose) or listings (code) the rule must fire on.
    pub fire: Vec<String>,
    /// Close, correct sentences or listings the rule must not fire on.
    pub pass: Vec<String>,
}

/// A rule with the fact it rests on.
#[derive(Clone, Debug)]
pub struct FactRule {
    pub fact: String,
    pub rule: Rule,
}

impl FactRule {
    /// `<fact id>/<rule name>`, the id findings carry.
    pub fn id(&self) -> String {
        format!("{}/{}", self.fact, self.rule.name)
    }
}
