//! Prose rules on sentences: every `all` pattern, at least one `any` pattern (when given) and no
//! `none` pattern must match one sentence, case-insensitively. The finding covers the matched
//! words, from the first match to the last.

use std::ops::Range;

use regex::{Regex, RegexBuilder};

use crate::document::{Block, Document};
use crate::finding::{Finding, Origin};
use crate::rules::FactRule;

/// A prose rule with its patterns compiled once.
#[derive(Clone, Debug)]
pub struct ProseRule {
    pub rule: FactRule,
    all: Vec<Regex>,
    any: Vec<Regex>,
    none: Vec<Regex>,
}

/// Compiles one pattern case-insensitively, naming the field it came from when it is bad.
fn compile(pattern: &str, field: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .build()
        .map_err(|e| format!("{field}: bad regular expression {pattern:?}: {e}"))
}

impl ProseRule {
    /// Compiles a prose rule's patterns. The error names the field (`all[1]`) and the pattern.
    pub fn new(rule: &FactRule) -> Result<ProseRule, String> {
        let list = |field: &str, patterns: &[String]| -> Result<Vec<Regex>, String> {
            patterns
                .iter()
                .enumerate()
                .map(|(i, p)| compile(p, &format!("{field}[{i}]")))
                .collect()
        };
        if rule.rule.all.is_empty() && rule.rule.any.is_empty() {
            return Err("a prose rule needs `all` or `any` patterns".into());
        }
        Ok(ProseRule {
            rule: rule.clone(),
            all: list("all", &rule.rule.all)?,
            any: list("any", &rule.rule.any)?,
            none: list("none", &rule.rule.none)?,
        })
    }

    /// The matched words' byte range in `sentence`, if the rule fires on it.
    pub fn matches(&self, sentence: &str) -> Option<Range<usize>> {
        let mut span: Option<Range<usize>> = None;
        let mut widen = |m: regex::Match| {
            let s = span.get_or_insert(m.range());
            s.start = s.start.min(m.start());
            s.end = s.end.max(m.end());
        };
        for re in &self.all {
            widen(re.find(sentence)?);
        }
        if !self.any.is_empty() {
            let mut found = false;
            for m in self.any.iter().filter_map(|re| re.find(sentence)) {
                found = true;
                widen(m);
            }
            if !found {
                return None;
            }
        }
        if self.none.iter().any(|re| re.is_match(sentence)) {
            return None;
        }
        span
    }
}

/// Every finding of `rules` on the document's sentences (headings are titles, not statements).
/// A rule reports one place once: the rows of a table whose header it faults all start at that
/// header.
pub fn check(doc: &Document, rules: &[ProseRule]) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for sentence in doc.sentences.iter().filter(|s| s.block != Block::Heading) {
        for rule in rules {
            let Some(range) = rule.matches(&sentence.text.text) else {
                continue;
            };
            let (start, end) = doc.span(&sentence.text, range);
            if !seen.insert((start, rule.rule.id())) {
                continue;
            }
            out.push(Finding {
                file: doc.path.clone(),
                line: start.line,
                column: start.column,
                end_line: end.line,
                end_column: end.column,
                origin: Origin::Prose,
                rule: rule.rule.id(),
                fact: Some(rule.rule.fact.clone()),
                severity: rule.rule.rule.severity,
                message: rule.rule.rule.message.clone(),
                correction: rule.rule.rule.correction.clone(),
                excerpt: sentence.text.text.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Severity, Text};
    use crate::rules::{Rule, RuleKind};

    fn rule(all: &[&str], any: &[&str], none: &[&str]) -> ProseRule {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        ProseRule::new(&FactRule {
            fact: "tcp.x".into(),
            rule: Rule {
                name: "r".into(),
                kind: RuleKind::Prose,
                severity: Severity::Error,
                message: Text::default(),
                correction: None,
                all: strings(all),
                any: strings(any),
                none: strings(none),
                check: None,
                fire: vec![],
                pass: vec![],
            },
        })
        .unwrap()
    }

    #[test]
    fn all_any_and_none_decide_and_the_span_covers_first_to_last_match() {
        let r = rule(&["backlog"], &["max", "clients"], &["queue"]);
        let s = "The BACKLOG is the max number of clients.";
        assert_eq!(r.matches(s), Some(4..40));
        assert_eq!(r.matches("The backlog is a number."), None);
        assert_eq!(r.matches("The backlog queue holds max clients."), None);
    }

    #[test]
    fn a_bad_pattern_is_named_with_its_field() {
        let mut bad = rule(&["x"], &[], &[]).rule;
        bad.rule.none = vec!["ok".into(), "(unclosed".into()];
        let err = ProseRule::new(&bad).unwrap_err();
        assert!(
            err.starts_with("none[1]: bad regular expression \"(unclosed\""),
            "{err}"
        );
    }

    #[test]
    fn a_finding_points_at_the_matched_words_in_the_file() {
        let doc = Document::parse("doc.md", "# Backlog\n\nIntro. The backlog is the max.\n");
        let found = check(&doc, &[rule(&["backlog", "max"], &[], &[])]);
        assert_eq!(found.len(), 1, "the heading does not fire: {found:?}");
        let f = &found[0];
        assert_eq!((f.line, f.column, f.end_line, f.end_column), (3, 12, 3, 30));
        assert_eq!(f.excerpt, "The backlog is the max.");
        assert_eq!(f.rule, "tcp.x/r");
    }
}
