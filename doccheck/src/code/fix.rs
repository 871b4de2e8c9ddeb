//! A code finding's correction: the listing's own line with the check's fix applied, built
//! from the syntax tree's byte ranges, so the names and the call stay as the author wrote
//! them and the line can be pasted as it is. A check without a one-line fix has none.

use std::ops::Range;

use tree_sitter::Node;

use super::tree::{strip, Parsed};

/// One edit of a listing's text: the bytes to replace and what goes there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Edit {
    pub range: Range<usize>,
    pub text: String,
}

/// The edit that fixes what `check` found at `node`, for the checks a one-line edit fixes.
pub(crate) fn edit(check: &str, p: &Parsed, node: Node<'_>) -> Option<Edit> {
    let text = |n: Node<'_>| &p.src[n.byte_range()];
    match check {
        // The address argument: `(struct sockaddr *)` goes before it.
        "sockaddr-cast-missing" => Some(Edit {
            range: node.start_byte()..node.start_byte(),
            text: "(struct sockaddr *)".to_owned(),
        }),
        // `x.sin_port = v` or `.sin_port = v`: v goes into htons (htonl for s_addr).
        "htons-missing" => {
            let (value, wrap) = match node.kind() {
                "assignment_expression" => {
                    let left = strip(node.child_by_field_name("left")?, false);
                    let field = text(left.child_by_field_name("field")?);
                    let wrap = if field == "s_addr" { "htonl" } else { "htons" };
                    (node.child_by_field_name("right")?, wrap)
                }
                "initializer_pair" => (node.child_by_field_name("value")?, "htons"),
                _ => return None,
            };
            Some(Edit {
                range: value.byte_range(),
                text: format!("{wrap}({})", text(value)),
            })
        }
        // The level argument.
        "nodelay-at-sol-socket" => Some(Edit {
            range: node.byte_range(),
            text: "IPPROTO_TCP".to_owned(),
        }),
        // The length argument, `sizeof(struct sockaddr)` or `sizeof(struct sockaddr_in)`.
        "sockaddr-size-for-ipv6" => Some(Edit {
            range: node.byte_range(),
            text: "sizeof(struct sockaddr_in6)".to_owned(),
        }),
        _ => None,
    }
}

/// The lines of `src` that hold `at`, with every edit inside them applied (so two findings on
/// one line give the same, wholly fixed line), trimmed as the excerpt is.
pub(crate) fn fixed_line(src: &str, at: &Edit, edits: &[Edit]) -> String {
    let start = src[..at.range.start].rfind('\n').map_or(0, |i| i + 1);
    let end = src[at.range.end..]
        .find('\n')
        .map_or(src.len(), |i| at.range.end + i);
    let mut inside: Vec<&Edit> = edits
        .iter()
        .filter(|e| start <= e.range.start && e.range.end <= end)
        .collect();
    inside.sort_by_key(|e| std::cmp::Reverse((e.range.start, e.range.end)));
    let mut line = src[start..end].to_owned();
    let mut limit = end;
    for e in inside {
        if e.range.end > limit {
            continue; // overlaps an edit already applied
        }
        line.replace_range(e.range.start - start..e.range.end - start, &e.text);
        limit = e.range.start;
    }
    line.trim().to_owned()
}
