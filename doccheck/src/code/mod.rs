//! Code rules over a document's C listings: each listing is parsed into a real syntax tree
//! (tree-sitter's C grammar; fragments are fine) and every code rule's named check looks for
//! its pattern there. A finding sits on the listing's own line in the document.

mod checks;
pub(crate) mod tree;

use crate::finding::{Finding, Origin};
use crate::rules::{FactRule, RuleKind};

pub use checks::CHECKS;

/// A fenced listing as the document gives it: its text, the document's 1-based line of its
/// first code line (the line after the opening fence), and the fence's info string.
#[derive(Clone, Copy, Debug)]
pub struct Listing<'a> {
    pub code: &'a str,
    pub first_line: usize,
    pub lang: Option<&'a str>,
}

/// Whether a fence's info string says C (`c`, `C`, `h`, with or without attributes).
pub fn is_c(lang: Option<&str>) -> bool {
    lang.and_then(|l| {
        l.split(|c: char| c.is_whitespace() || c == ',' || c == '{')
            .next()
    })
    .is_some_and(|word| matches!(word.to_ascii_lowercase().as_str(), "c" | "h"))
}

/// Whether a text reads as C code: the C grammar takes it whole, and it makes at least one
/// call or assignment (prose, or a lone comment, does not).
pub fn reads_as_c(text: &str) -> bool {
    let p = tree::Parsed::plain(text);
    !p.root().has_error()
        && p.nodes().iter().any(|n| {
            matches!(
                n.kind(),
                "call_expression" | "assignment_expression" | "init_declarator"
            )
        })
}

/// Whether `doccheck::code` has a check of this name (rule loading rejects others).
pub fn check_exists(name: &str) -> bool {
    CHECKS.iter().any(|(n, _)| *n == name)
}

/// Where a check fires in one listing on its own, as 1-based (line, column) within the
/// listing; `None` for an unknown check. The self-test runs every rule's examples with it.
pub fn fire_points(check: &str, code: &str) -> Option<Vec<(usize, usize)>> {
    let (_, f) = CHECKS.iter().find(|(n, _)| *n == check)?;
    let parsed = [tree::Parsed::new(code)];
    let wide = checks::DocWide::of(&parsed);
    let ctx = checks::Ctx::new(&parsed[0], &wide);
    Some(
        f(&ctx)
            .into_iter()
            .map(|n| {
                let (line, column) = position(&parsed[0], n.start_position());
                (line + 1, column)
            })
            .collect(),
    )
}

/// Runs every code rule over the C listings of one document (`file` as the findings name
/// it). Listings in another language are skipped.
pub fn check(file: &str, listings: &[Listing<'_>], rules: &[FactRule]) -> Vec<Finding> {
    let c: Vec<&Listing<'_>> = listings.iter().filter(|l| is_c(l.lang)).collect();
    let parsed: Vec<tree::Parsed> = c.iter().map(|l| tree::Parsed::new(l.code)).collect();
    let wide = checks::DocWide::of(&parsed);
    let mut out = Vec::new();
    for (listing, p) in c.iter().zip(&parsed) {
        let ctx = checks::Ctx::new(p, &wide);
        for rule in rules.iter().filter(|r| r.rule.kind == RuleKind::Code) {
            let Some((_, f)) = rule
                .rule
                .check
                .as_deref()
                .and_then(|name| CHECKS.iter().find(|(n, _)| *n == name))
            else {
                continue;
            };
            for node in f(&ctx) {
                let (row, column) = position(p, node.start_position());
                if shown_as_wrong(listing.code, row) {
                    continue;
                }
                let (end_row, end_column) = position(p, node.end_position());
                let finding = Finding {
                    file: file.to_owned(),
                    line: listing.first_line + row,
                    column,
                    end_line: listing.first_line + end_row,
                    end_column,
                    origin: Origin::Code,
                    rule: rule.id(),
                    fact: Some(rule.fact.clone()),
                    severity: rule.rule.severity,
                    message: rule.rule.message.clone(),
                    correction: rule.rule.correction.clone(),
                    excerpt: listing
                        .code
                        .lines()
                        .nth(row)
                        .unwrap_or_default()
                        .trim()
                        .to_owned(),
                };
                if !out.contains(&finding) {
                    out.push(finding);
                }
            }
        }
    }
    out.sort_by(|a, b| (a.line, a.column, &a.rule).cmp(&(b.line, b.column, &b.rule)));
    out
}

/// Words of a comment that marks the code under it (or beside it) as a deliberate mistake:
/// a tutorial's "wrong way" example is no finding.
const WRONG_MARKERS: &[&str] = &[
    "잘못",
    "틀린",
    "틀렸",
    "나쁜 예",
    "버그",
    "❌",
    "✗",
    "✘",
    "wrong",
    "incorrect",
    "bad example",
    "buggy",
    "don't",
    "do not",
    "mistake",
];

/// Whether the comment nearest above `row` of a listing (or on it) marks it as a deliberate
/// mistake. Only comments count, read from the syntax tree.
pub fn shown_as_wrong(code: &str, row: usize) -> bool {
    let p = tree::Parsed::plain(code);
    let nearest = p
        .nodes()
        .into_iter()
        .filter(|n| n.kind() == "comment" && n.start_position().row <= row)
        .max_by_key(|n| n.start_position().row);
    nearest.is_some_and(|c| {
        let text = p.text(c).to_lowercase();
        WRONG_MARKERS.iter().any(|m| text.contains(m))
    })
}

/// A tree point as the listing's 0-based row and 1-based character column.
fn position(p: &tree::Parsed, point: tree_sitter::Point) -> (usize, usize) {
    let line_start = p.src[..]
        .split_inclusive('\n')
        .take(point.row)
        .map(str::len)
        .sum::<usize>();
    let prefix = p
        .src
        .get(line_start..line_start + point.column)
        .unwrap_or_default();
    (p.row(point), prefix.chars().count() + 1)
}
