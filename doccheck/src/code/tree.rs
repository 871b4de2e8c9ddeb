//! A C listing's syntax tree (tree-sitter's C grammar, which tolerates fragments) and the few
//! questions the checks ask of it: calls and their arguments, declared types, order and
//! enclosing loops and branches.

use std::collections::HashMap;

use tree_sitter::{Node, Parser, Point, Tree};

/// Statements outside any function parse as top-level statements in the C grammar; a
/// fragment the grammar still rejects is parsed again inside this wrapper, on lines of its
/// own so that columns stay the listing's.
const WRAP_OPEN: &str = "void __listing(void) {\n";
const WRAP_CLOSE: &str = "\n}\n";

/// One parsed listing.
pub struct Parsed {
    pub src: String,
    pub tree: Tree,
    /// Rows the parsed text has before the listing's first line (1 when wrapped).
    pub row_offset: usize,
}

impl Parsed {
    pub fn new(code: &str) -> Parsed {
        let plain = parse(code);
        if error_count(plain.root_node()) == 0 {
            return Parsed {
                src: code.to_owned(),
                tree: plain,
                row_offset: 0,
            };
        }
        let wrapped_src = format!("{WRAP_OPEN}{code}{WRAP_CLOSE}");
        let wrapped = parse(&wrapped_src);
        if error_count(wrapped.root_node()) < error_count(plain.root_node()) {
            Parsed {
                src: wrapped_src,
                tree: wrapped,
                row_offset: 1,
            }
        } else {
            Parsed {
                src: code.to_owned(),
                tree: plain,
                row_offset: 0,
            }
        }
    }

    /// The listing as it is, never wrapped (the compiler's view of its top level).
    pub fn plain(code: &str) -> Parsed {
        Parsed {
            src: code.to_owned(),
            tree: parse(code),
            row_offset: 0,
        }
    }

    pub fn root(&self) -> Node<'_> {
        self.tree.root_node()
    }

    /// Every node in document order.
    pub fn nodes(&self) -> Vec<Node<'_>> {
        let mut out = Vec::new();
        let mut cursor = self.tree.walk();
        'walk: loop {
            out.push(cursor.node());
            if cursor.goto_first_child() {
                continue;
            }
            while !cursor.goto_next_sibling() {
                if !cursor.goto_parent() {
                    break 'walk;
                }
            }
        }
        out
    }

    pub fn text(&self, node: Node<'_>) -> &str {
        &self.src[node.byte_range()]
    }

    /// The listing's own 0-based row of a point.
    pub fn row(&self, point: Point) -> usize {
        point.row.saturating_sub(self.row_offset)
    }
}

fn parse(code: &str) -> Tree {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_c::LANGUAGE.into())
        .expect("the C grammar matches the tree-sitter version it was built for");
    parser
        .parse(code, None)
        .expect("a parser with a language and no timeout always returns a tree")
}

fn error_count(node: Node<'_>) -> usize {
    if !node.has_error() {
        return 0;
    }
    let own = usize::from(node.is_error() || node.is_missing());
    let mut cursor = node.walk();
    own + node.children(&mut cursor).map(error_count).sum::<usize>()
}

/// Strips parentheses (and, with `casts`, casts) around an expression.
pub fn strip(mut node: Node<'_>, casts: bool) -> Node<'_> {
    loop {
        match node.kind() {
            "parenthesized_expression" => match node.named_child(0) {
                Some(inner) => node = inner,
                None => return node,
            },
            "cast_expression" if casts => match node.child_by_field_name("value") {
                Some(inner) => node = inner,
                None => return node,
            },
            _ => return node,
        }
    }
}

/// A call's function name, when it is a plain identifier.
pub fn call_name<'t>(p: &'t Parsed, node: Node<'_>) -> Option<&'t str> {
    if node.kind() != "call_expression" {
        return None;
    }
    let function = node.child_by_field_name("function")?;
    (function.kind() == "identifier").then(|| &p.src[function.byte_range()])
}

/// A call's arguments (comments left out).
pub fn args(node: Node<'_>) -> Vec<Node<'_>> {
    let Some(list) = node.child_by_field_name("arguments") else {
        return Vec::new();
    };
    let mut cursor = list.walk();
    list.named_children(&mut cursor)
        .filter(|n| n.kind() != "comment")
        .collect()
}

/// The calls to any of `names`, in document order.
pub fn calls<'t>(p: &'t Parsed, nodes: &[Node<'t>], names: &[&str]) -> Vec<Node<'t>> {
    nodes
        .iter()
        .copied()
        .filter(|n| call_name(p, *n).is_some_and(|name| names.contains(&name)))
        .collect()
}

/// The function a node is in (the listing's root for top-level code).
pub fn scope(node: Node<'_>) -> Node<'_> {
    let mut cur = node;
    while let Some(parent) = cur.parent() {
        if parent.kind() == "function_definition" {
            return parent;
        }
        cur = parent;
    }
    cur
}

pub fn within(outer: Node<'_>, inner: Node<'_>) -> bool {
    outer.start_byte() <= inner.start_byte() && inner.end_byte() <= outer.end_byte()
}

pub fn is_loop(node: Node<'_>) -> bool {
    matches!(
        node.kind(),
        "for_statement" | "while_statement" | "do_statement"
    )
}

/// The innermost loop around a node, within its function.
pub fn enclosing_loop(node: Node<'_>) -> Option<Node<'_>> {
    let mut cur = node.parent();
    while let Some(n) = cur {
        if is_loop(n) {
            return Some(n);
        }
        if n.kind() == "function_definition" {
            return None;
        }
        cur = n.parent();
    }
    None
}

/// Whether an expression statement throws the node's value away (`f(x);`).
pub fn value_discarded(node: Node<'_>) -> bool {
    node.parent()
        .is_some_and(|p| p.kind() == "expression_statement")
}

/// `&name` or `name` (after parentheses and, with `casts`, casts): the variable's name.
pub fn addressed_var<'t>(p: &'t Parsed, node: Node<'_>, casts: bool) -> Option<&'t str> {
    let node = strip(node, casts);
    let inner = match node.kind() {
        "pointer_expression" if p.text(node).starts_with('&') => {
            strip(node.child_by_field_name("argument")?, false)
        }
        _ => node,
    };
    (inner.kind() == "identifier").then(|| &p.src[inner.byte_range()])
}

/// The variable a `&name` argument takes the address of (no cast, no plain pointer).
pub fn address_of<'t>(p: &'t Parsed, node: Node<'_>) -> Option<&'t str> {
    let node = strip(node, false);
    if node.kind() != "pointer_expression" || !p.text(node).starts_with('&') {
        return None;
    }
    let inner = strip(node.child_by_field_name("argument")?, false);
    (inner.kind() == "identifier").then(|| &p.src[inner.byte_range()])
}

/// A declared variable's type: `struct sockaddr_in`, `socklen_t`, `char`…, whether the
/// declarator is a pointer or an array, and its initializer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Declared {
    pub ty: String,
    pub pointer: bool,
    pub array: bool,
    pub initialised: bool,
    /// Byte offset of the declaration.
    pub at: usize,
    /// The bytes of the function it belongs to (the whole listing at file scope).
    pub scope: std::ops::Range<usize>,
}

/// Every variable declaration of the listing (parameters included), by name. A name
/// declared twice with different types maps to all of them.
pub fn declarations(p: &Parsed, nodes: &[Node<'_>]) -> HashMap<String, Vec<Declared>> {
    let mut out: HashMap<String, Vec<Declared>> = HashMap::new();
    for node in nodes {
        if !matches!(
            node.kind(),
            "declaration" | "parameter_declaration" | "field_declaration"
        ) {
            continue;
        }
        if node.kind() == "field_declaration" {
            continue;
        }
        let owner = scope(*node);
        // A prototype's parameters name nothing outside it.
        if node.kind() == "parameter_declaration" && owner.kind() != "function_definition" {
            continue;
        }
        let Some(ty) = node.child_by_field_name("type") else {
            continue;
        };
        let ty = p.text(ty).split_whitespace().collect::<Vec<_>>().join(" ");
        let mut cursor = node.walk();
        for declarator in node.children_by_field_name("declarator", &mut cursor) {
            let mut d = declarator;
            let mut decl = Declared {
                ty: ty.clone(),
                pointer: false,
                array: false,
                initialised: false,
                scope: owner.byte_range(),
                at: node.start_byte(),
            };
            loop {
                match d.kind() {
                    "init_declarator" => {
                        decl.initialised = true;
                        match d.child_by_field_name("declarator") {
                            Some(inner) => d = inner,
                            None => break,
                        }
                    }
                    "pointer_declarator" => {
                        decl.pointer = true;
                        match d.child_by_field_name("declarator") {
                            Some(inner) => d = inner,
                            None => break,
                        }
                    }
                    "array_declarator" => {
                        decl.array = true;
                        match d.child_by_field_name("declarator") {
                            Some(inner) => d = inner,
                            None => break,
                        }
                    }
                    "parenthesized_declarator" => match d.named_child(0) {
                        Some(inner) => d = inner,
                        None => break,
                    },
                    "identifier" => {
                        out.entry(p.text(d).to_owned()).or_default().push(decl);
                        break;
                    }
                    _ => break,
                }
            }
        }
    }
    out
}

/// `#define NAME value` lines of the listing.
pub fn macros(p: &Parsed, nodes: &[Node<'_>]) -> HashMap<String, String> {
    nodes
        .iter()
        .filter(|n| n.kind() == "preproc_def")
        .filter_map(|n| {
            let name = p.text(n.child_by_field_name("name")?).to_owned();
            let value = p.text(n.child_by_field_name("value")?).trim().to_owned();
            Some((name, value))
        })
        .collect()
}

/// The assignments `name = …` (or `name op= …`) of the listing, as (assignment, right side).
pub fn assignments_to<'t>(p: &Parsed, nodes: &[Node<'t>], name: &str) -> Vec<(Node<'t>, Node<'t>)> {
    nodes
        .iter()
        .filter(|n| n.kind() == "assignment_expression")
        .filter_map(|n| {
            let left = strip(n.child_by_field_name("left")?, false);
            (left.kind() == "identifier" && p.text(left) == name)
                .then_some((*n, n.child_by_field_name("right")?))
        })
        .collect()
}

/// Whether `node` mentions the identifier `name` anywhere.
pub fn mentions(p: &Parsed, node: Node<'_>, name: &str) -> bool {
    if node.kind() == "identifier" && p.text(node) == name {
        return true;
    }
    let mut cursor = node.walk();
    let found = node
        .named_children(&mut cursor)
        .any(|c| mentions(p, c, name));
    found
}

/// The text of a string literal's contents (escape sequences left as written).
pub fn string_value(p: &Parsed, node: Node<'_>) -> Option<String> {
    let node = strip(node, false);
    match node.kind() {
        "string_literal" => {
            let mut cursor = node.walk();
            let parts: String = node
                .named_children(&mut cursor)
                .filter(|c| matches!(c.kind(), "string_content" | "escape_sequence"))
                .map(|c| p.text(c))
                .collect();
            Some(parts)
        }
        "concatenated_string" => {
            let mut cursor = node.walk();
            let parts: Option<Vec<String>> = node
                .named_children(&mut cursor)
                .map(|c| string_value(p, c))
                .collect();
            parts.map(|v| v.concat())
        }
        _ => None,
    }
}
