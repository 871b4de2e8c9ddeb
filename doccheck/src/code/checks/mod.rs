//! The code checks, each a function from a parsed listing to the nodes it objects to. A
//! check fires only on a pattern it can see whole in the tree; where a name's type, an
//! initialisation or a branch is out of sight (another listing, a macro, a helper), it stays
//! silent: a missed case costs less than a false alarm.

use std::collections::{HashMap, HashSet};

use tree_sitter::Node;

use super::tree::{
    address_of, args, call_name, calls, declarations, enclosing_loop, macros, strip, within,
    Declared, Parsed,
};

mod address;
mod events;
mod fork;
mod options;
mod reads;

/// What one listing's checks may know about the whole document (another listing may set
/// SO_BROADCAST, reap children, or declare and fill an address).
#[derive(Clone, Debug, Default)]
pub struct DocWide {
    pub sets_so_broadcast: bool,
    pub reaps_children: bool,
    /// Every name some listing uses other than as the `&name` address of a socket call or
    /// inside `sizeof`: declared, filled in, or handed to something that fills it.
    pub names_in_use: HashSet<String>,
}

impl DocWide {
    pub fn of(listings: &[Parsed]) -> DocWide {
        let mut wide = DocWide::default();
        for p in listings {
            let nodes = p.nodes();
            for node in &nodes {
                if node.kind() == "identifier" && p.text(*node) == "SIGCHLD" {
                    wide.reaps_children = true;
                }
                if node.kind() == "identifier" && !only_named_as_an_address(p, *node) {
                    wide.names_in_use.insert(p.text(*node).to_owned());
                }
                match call_name(p, *node) {
                    Some("setsockopt")
                        if args(*node)
                            .get(2)
                            .is_some_and(|a| p.text(*a) == "SO_BROADCAST") =>
                    {
                        wide.sets_so_broadcast = true
                    }
                    Some("wait" | "waitpid" | "wait3" | "wait4" | "waitid") => {
                        wide.reaps_children = true
                    }
                    _ => {}
                }
            }
        }
        wide
    }
}

/// Whether an identifier stands as a socket call's `&name` address argument, or in `sizeof`.
fn only_named_as_an_address(p: &Parsed, ident: Node<'_>) -> bool {
    let mut cur = ident.parent();
    while let Some(n) = cur {
        match n.kind() {
            "sizeof_expression" => return true,
            "argument_list" => {
                let addr = n
                    .parent()
                    .and_then(|call| address_arg_of(p, call))
                    .map(|(addr, _)| addr);
                return addr.is_some_and(|a| within(a, ident) && address_of(p, a).is_some());
            }
            "function_definition" | "expression_statement" | "declaration" => return false,
            _ => cur = n.parent(),
        }
    }
    false
}

/// One listing as the checks see it.
pub struct Ctx<'t> {
    pub p: &'t Parsed,
    pub nodes: Vec<Node<'t>>,
    pub decls: HashMap<String, Vec<Declared>>,
    pub macros: HashMap<String, String>,
    pub doc: &'t DocWide,
}

impl<'t> Ctx<'t> {
    pub fn new(p: &'t Parsed, doc: &'t DocWide) -> Ctx<'t> {
        let nodes = p.nodes();
        let decls = declarations(p, &nodes);
        let macros = macros(p, &nodes);
        Ctx {
            p,
            nodes,
            decls,
            macros,
            doc,
        }
    }

    fn text(&self, node: Node<'_>) -> &'t str {
        &self.p.src[node.byte_range()]
    }

    /// The declaration of `name` visible at `at`: the last one before it in the innermost
    /// function (or file scope) that holds it.
    fn decl(&self, name: &str, at: Node<'_>) -> Option<&Declared> {
        self.decls
            .get(name)?
            .iter()
            .filter(|d| {
                d.scope.start <= at.start_byte()
                    && at.end_byte() <= d.scope.end
                    && d.at <= at.start_byte()
            })
            .min_by_key(|d| (d.scope.len(), std::cmp::Reverse(d.at)))
    }

    fn calls(&self, names: &[&str]) -> Vec<Node<'t>> {
        calls(self.p, &self.nodes, names)
    }

    fn nodes_in(&self, region: Node<'_>) -> impl Iterator<Item = Node<'t>> + '_ {
        let range = region.byte_range();
        self.nodes
            .iter()
            .copied()
            .filter(move |n| range.start <= n.start_byte() && n.end_byte() <= range.end)
    }

    /// Calls to `name` inside `region` whose first argument is `fd`.
    fn calls_on(&self, region: Node<'_>, names: &[&str], fd: &str) -> Vec<Node<'t>> {
        self.nodes_in(region)
            .filter(|n| call_name(self.p, *n).is_some_and(|c| names.contains(&c)))
            .filter(|n| {
                args(*n)
                    .first()
                    .is_some_and(|a| self.text(strip(*a, false)) == fd)
            })
            .collect()
    }
}

impl<'t> Ctx<'t> {
    fn calls_on_any(&self, region: Node<'_>, names: &[&str]) -> Vec<Node<'t>> {
        self.nodes_in(region)
            .filter(|n| call_name(self.p, *n).is_some_and(|c| names.contains(&c)))
            .collect()
    }
}

/// A check: the nodes of a listing it objects to.
pub type Check = for<'t> fn(&Ctx<'t>) -> Vec<Node<'t>>;

/// Every check, by the name rules give in `check = "…"`.
pub const CHECKS: &[(&str, Check)] = &[
    ("htons-missing", address::htons_missing),
    ("reuseaddr-after-bind", options::reuseaddr_after_bind),
    ("sockaddr-cast-missing", address::sockaddr_cast_missing),
    ("address-never-filled", address::address_never_filled),
    ("addrlen-uninitialised", address::addrlen_uninitialised),
    (
        "addrlen-not-reset-in-loop",
        address::addrlen_not_reset_in_loop,
    ),
    ("read-count-ignored", reads::read_count_ignored),
    ("read-assumed-full", reads::read_assumed_full),
    (
        "read-printed-unterminated",
        reads::read_printed_unterminated,
    ),
    (
        "broadcast-without-so-broadcast",
        options::broadcast_without_so_broadcast,
    ),
    ("fork-child-keeps-listener", fork::fork_child_keeps_listener),
    (
        "fork-parent-keeps-connection",
        fork::fork_parent_keeps_connection,
    ),
    (
        "fork-children-never-reaped",
        fork::fork_children_never_reaped,
    ),
    ("nodelay-at-sol-socket", options::nodelay_at_sol_socket),
    ("sockaddr-size-for-ipv6", address::sockaddr_size_for_ipv6),
    ("inet-addr", address::inet_addr_call),
    ("gethostbyname", address::gethostbyname_call),
    ("fd-set-past-fd-setsize", events::fd_set_past_fd_setsize),
    ("epollet-without-drain", events::epollet_without_drain),
    (
        "errno-without-failed-call",
        events::errno_without_failed_call,
    ),
];

fn loops_around(node: Node<'_>) -> Vec<Node<'_>> {
    let mut out = Vec::new();
    let mut cur = enclosing_loop(node);
    while let Some(l) = cur {
        out.push(l);
        cur = enclosing_loop(l);
    }
    out
}

/// The socket calls that take an address, with the index of the address argument and of
/// its length.
const ADDRESS_ARGS: &[(&str, usize, usize)] = &[
    ("bind", 1, 2),
    ("connect", 1, 2),
    ("accept", 1, 2),
    ("accept4", 1, 2),
    ("getsockname", 1, 2),
    ("getpeername", 1, 2),
    ("sendto", 4, 5),
    ("recvfrom", 4, 5),
];

fn address_arg<'t>(ctx: &Ctx<'t>, call: Node<'t>) -> Option<(Node<'t>, Option<Node<'t>>)> {
    address_arg_of(ctx.p, call)
}

fn address_arg_of<'t>(p: &Parsed, call: Node<'t>) -> Option<(Node<'t>, Option<Node<'t>>)> {
    let name = call_name(p, call)?;
    let (_, addr, len) = ADDRESS_ARGS.iter().find(|(n, _, _)| *n == name)?;
    let a = args(call);
    Some((*a.get(*addr)?, a.get(*len).copied()))
}

/// The variable a call's result is stored in (`n = read(…)` or `ssize_t n = read(…)`).
fn result_var<'t>(ctx: &Ctx<'t>, call: Node<'t>) -> Option<&'t str> {
    let mut parent = call.parent()?;
    while parent.kind() == "parenthesized_expression" {
        parent = parent.parent()?;
    }
    let target = match parent.kind() {
        "assignment_expression" => parent.child_by_field_name("left")?,
        "init_declarator" => parent.child_by_field_name("declarator")?,
        _ => return None,
    };
    (target.kind() == "identifier").then(|| ctx.text(target))
}
