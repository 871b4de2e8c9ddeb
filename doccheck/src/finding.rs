//! What a check found in a document: where, which rule and fact, and what to write instead.

use serde::{Deserialize, Serialize};

/// How bad a finding is. `error`: the words contradict the fact; `warning`: they need a
/// caveat the fact supplies; `note`: advice (a listing that compiles but misleads).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Note,
    Warning,
    Error,
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Severity, String> {
        match s {
            "error" => Ok(Severity::Error),
            "warning" => Ok(Severity::Warning),
            "note" => Ok(Severity::Note),
            _ => Err(format!("unknown severity {s:?} (error, warning or note)")),
        }
    }
}

/// A text in the course's language and in English.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    pub ko: String,
    pub en: String,
}

/// Which check found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// A prose rule on a sentence.
    Prose,
    /// A code rule on a C listing's syntax tree.
    Code,
    /// The C compiler on a listing.
    Compile,
}

/// One finding. Lines and columns are the document's own, 1-based (front matter included);
/// columns count characters, not bytes, and `end_column` is the column after the last one (as
/// SARIF has it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub origin: Origin,
    /// The rule's id (`<fact id>/<rule name>` for a rule on a fact; `c-compile` for the
    /// compiler).
    pub rule: String,
    /// The fact the finding rests on (none for a compiler diagnostic).
    pub fact: Option<String>,
    pub severity: Severity,
    /// Why the words are wrong.
    pub message: Text,
    /// What to write instead, where the rule has a replacement.
    pub correction: Option<Text>,
    /// The sentence or code line found.
    pub excerpt: String,
}
