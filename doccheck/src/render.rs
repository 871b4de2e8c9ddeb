//! Findings where authors look: rustc-style diagnostics on a terminal (annotate-snippets), JSON,
//! SARIF 2.1.0 for code scanning, and GitHub workflow annotations. Each finding comes with its
//! fact's status on this kernel, which the caller (the runner) supplies from its evidence.

use std::fmt::Write as _;

use annotate_snippets::{AnnotationKind, Element, Level, Renderer, Snippet};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::document::Document;
use crate::finding::{Finding, Severity, Text};
use crate::load::Rules;

/// What the latest run of a fact's tests found on this kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Holds,
    Fails,
    Skipped,
    NotRun,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Holds => "holds",
            Status::Fails => "fails",
            Status::Skipped => "skipped",
            Status::NotRun => "not run",
        }
    }
}

/// A fact's status with the evidence behind it (what the kernel did, or why it was skipped).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactStatus {
    pub status: Status,
    pub evidence: String,
}

/// An output format of `claims course`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Sarif,
    Github,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            "sarif" => Ok(Format::Sarif),
            "github" => Ok(Format::Github),
            _ => Err(format!(
                "unknown format {s:?} (text, json, sarif or github)"
            )),
        }
    }
}

/// A finding with its fact's status.
pub type Checked = (Finding, FactStatus);

/// Whether a sentence is Korean (it has Hangul): its message and correction come first in
/// Korean, else in English.
fn korean(text: &str) -> bool {
    text.chars().any(|c| ('\u{AC00}'..='\u{D7A3}').contains(&c))
}

/// The text in the excerpt's language first, the other after it.
fn both(text: &Text, korean_first: bool) -> (&str, &str) {
    if korean_first {
        (&text.ko, &text.en)
    } else {
        (&text.en, &text.ko)
    }
}

/// The fact and its status on this kernel; a finding without a fact (the compiler's) shows
/// its evidence alone.
fn fact_line(f: &Finding, status: &FactStatus) -> String {
    let Some(fact) = f.fact.as_deref() else {
        return status.evidence.clone();
    };
    if status.evidence.is_empty() {
        format!("fact {fact}: {}", status.status.as_str())
    } else {
        format!(
            "fact {fact}: {} on this kernel: {}",
            status.status.as_str(),
            status.evidence
        )
    }
}

/// rustc-style diagnostics: where, the line with a caret under the words, the rule, the fact and
/// its status, and the correction. `docs` holds the documents the findings are on (for their
/// lines); `color` only when writing to a terminal.
pub fn text(findings: &[Checked], docs: &[Document], color: bool) -> String {
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let mut out = String::new();
    for (f, status) in findings {
        let ko = korean(&f.excerpt);
        let (message, other) = both(&f.message, ko);
        let level = match f.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
            Severity::Note => Level::NOTE,
        };
        let title = level.primary_title(message).id(&f.rule);
        let snippet = docs
            .iter()
            .find(|d| d.path == f.file)
            .and_then(|d| snippet(d, f));
        let mut elements: Vec<Element> = Vec::new();
        if let Some((source, span)) = &snippet {
            elements.push(
                Snippet::source(source.as_str())
                    .line_start(f.line)
                    .path(&f.file)
                    .annotation(AnnotationKind::Primary.span(span.clone()))
                    .into(),
            );
        }
        elements.push(Level::NOTE.message(other).into());
        elements.push(Level::NOTE.message(fact_line(f, status)).into());
        if let Some(c) = &f.correction {
            let (first, second) = both(c, ko);
            elements.push(
                Level::HELP
                    .message(format!("write instead: {first}\n{second}"))
                    .into(),
            );
        }
        let group = title.elements(elements);
        out.push_str(&renderer.render(&[group]));
        out.push_str("\n\n");
    }
    out
}

/// The finding's lines and its words' byte range within them.
fn snippet(doc: &Document, f: &Finding) -> Option<(String, std::ops::Range<usize>)> {
    let lines: Vec<&str> = (f.line..=f.end_line).map(|n| doc.line(n)).collect();
    let byte = |line: &str, column: usize| {
        line.char_indices()
            .nth(column.saturating_sub(1))
            .map_or(line.len(), |(i, _)| i)
    };
    let start = byte(lines.first()?, f.column);
    let last = lines.last()?;
    let end_in_last = byte(last, f.end_column);
    let before_last: usize = lines[..lines.len() - 1].iter().map(|l| l.len() + 1).sum();
    let end = (before_last + end_in_last).max(start);
    Some((lines.join("\n"), start..end))
}

/// `{"findings": [...]}`: each finding's fields with its fact's status.
pub fn json(findings: &[Checked]) -> String {
    let list: Vec<Value> = findings
        .iter()
        .map(|(f, status)| {
            let mut v = serde_json::to_value(f).expect("a finding serialises");
            v["fact_status"] = serde_json::to_value(status).expect("a status serialises");
            v
        })
        .collect();
    serde_json::to_string_pretty(&json!({ "findings": list })).expect("JSON serialises")
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

/// The path as given, as a URI reference: bytes other than unreserved characters and `/` are
/// percent-encoded.
fn uri(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// SARIF 2.1.0: one run, every rule in `tool.driver.rules`, one result per finding. Regions
/// are the file's own 1-based lines, columns in Unicode code points (`columnKind`).
pub fn sarif(findings: &[Checked], rules: &Rules) -> String {
    let mut ids: Vec<String> = rules.all().map(|r| r.id()).collect();
    let mut rule_list: Vec<Value> = rules
        .all()
        .map(|r| {
            let statement = rules.facts.get(&r.fact).cloned().unwrap_or_default();
            let mut help = format!("Fact {}: {statement}", r.fact);
            if let Some(c) = &r.rule.correction {
                let _ = write!(help, "\nWrite instead: {}\n{}", c.ko, c.en);
            }
            json!({
                "id": r.id(),
                "shortDescription": { "text": r.rule.message.en },
                "fullDescription": { "text": format!("{} / {}", r.rule.message.en, r.rule.message.ko) },
                "help": { "text": help },
                "defaultConfiguration": { "level": level(r.rule.severity) },
                "properties": { "fact": r.fact },
            })
        })
        .collect();
    // A finding of no fact's rule (the compiler's) gets its rule from the finding itself.
    for (f, _) in findings {
        if !ids.contains(&f.rule) {
            ids.push(f.rule.clone());
            rule_list.push(json!({
                "id": f.rule,
                "shortDescription": { "text": f.rule },
                "help": { "text": "The C compiler's diagnostic on a listing (GCC 14's errors)." },
                "defaultConfiguration": { "level": level(f.severity) },
            }));
        }
    }
    let results: Vec<Value> = findings
        .iter()
        .map(|(f, status)| {
            let ko = korean(&f.excerpt);
            let (message, _) = both(&f.message, ko);
            let mut text = format!("{message} ({})", fact_line(f, status));
            if let Some(c) = &f.correction {
                let _ = write!(text, " Write instead: {}", both(c, ko).0);
            }
            let mut result = json!({
                "ruleId": f.rule,
                "level": level(f.severity),
                "message": { "text": text },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": uri(&f.file) },
                        "region": {
                            "startLine": f.line,
                            "startColumn": f.column,
                            "endLine": f.end_line,
                            "endColumn": f.end_column,
                            "snippet": { "text": f.excerpt },
                        }
                    }
                }],
                "properties": {
                    "fact": f.fact,
                    "factStatus": status.status.as_str(),
                    "evidence": status.evidence,
                },
            });
            if let Some(i) = ids.iter().position(|id| *id == f.rule) {
                result["ruleIndex"] = json!(i);
            }
            result
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "socket-claims",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/socket-claims/socket-claims",
                "rules": rule_list,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&log).expect("SARIF serialises")
}

/// A workflow command's message: `%`, CR and LF escaped.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property: also `:` and `,`.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// GitHub workflow annotations, one line per finding.
pub fn github(findings: &[Checked]) -> String {
    let mut out = String::new();
    for (f, status) in findings {
        let command = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "notice",
        };
        let ko = korean(&f.excerpt);
        let mut message = format!("{} ({})", both(&f.message, ko).0, fact_line(f, status));
        if let Some(c) = &f.correction {
            let (first, second) = both(c, ko);
            let _ = write!(message, "\nWrite instead: {first}\n{second}");
        }
        let _ = writeln!(
            out,
            "::{command} file={},line={},col={},endLine={},endColumn={},title={}::{}",
            escape_property(&f.file),
            f.line,
            f.column,
            f.end_line,
            f.end_column,
            escape_property(&f.rule),
            escape_data(&message)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Origin;

    fn finding() -> Checked {
        (
            Finding {
                file: "docs/a b.md".into(),
                line: 3,
                column: 8,
                end_line: 3,
                end_column: 14,
                origin: Origin::Prose,
                rule: "tcp.x/backlog-max".into(),
                fact: Some("tcp.x".into()),
                severity: Severity::Error,
                message: Text {
                    ko: "backlog은 대기열 길이입니다.".into(),
                    en: "The backlog, 50%: a queue.".into(),
                },
                correction: Some(Text {
                    ko: "backlog은 accept 대기열의 길이입니다.".into(),
                    en: "The backlog bounds the accept queue.".into(),
                }),
                excerpt: "The backlog is the max.".into(),
            },
            FactStatus {
                status: Status::Holds,
                evidence: "5 of 8 clients queued".into(),
            },
        )
    }

    #[test]
    fn text_shows_place_line_caret_rule_fact_and_correction() {
        let doc = Document::parse("docs/a b.md", "# T\n\nIntro. The backlog is the max.\n");
        let mut c = finding();
        c.0.column = 12;
        c.0.end_column = 19;
        let shown = text(&[c], &[doc], false);
        for part in [
            "error[tcp.x/backlog-max]: The backlog, 50%: a queue.",
            "--> docs/a b.md:3:12",
            "3 | Intro. The backlog is the max.",
            "  |            ^^^^^^^",
            "fact tcp.x: holds on this kernel: 5 of 8 clients queued",
            "help: write instead: The backlog bounds the accept queue.",
        ] {
            assert!(shown.contains(part), "{part:?} not in\n{shown}");
        }
        assert!(!shown.contains('\u{1b}'), "no colour off a terminal");
    }

    #[test]
    fn github_annotations_escape_properties_and_data() {
        let mut c = finding();
        c.0.file = "a,b:c.md".into();
        assert_eq!(
            github(&[c]),
            "::error file=a%2Cb%3Ac.md,line=3,col=8,endLine=3,endColumn=14,\
             title=tcp.x/backlog-max::The backlog, 50%25: a queue. (fact tcp.x: holds on this \
             kernel: 5 of 8 clients queued)%0AWrite instead: The backlog bounds the accept \
             queue.%0Abacklog은 accept 대기열의 길이입니다.\n"
        );
    }

    #[test]
    fn a_sarif_uri_is_the_path_as_given_percent_encoded() {
        assert_eq!(uri("docs/a b.md"), "docs/a%20b.md");
        assert_eq!(uri("../x/07-10.md"), "../x/07-10.md");
    }
}
