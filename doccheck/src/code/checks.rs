//! The code checks, each a function from a parsed listing to the nodes it objects to. A
//! check fires only on a pattern it can see whole in the tree; where a name's type, an
//! initialisation or a branch is out of sight (another listing, a macro, a helper), it stays
//! silent: a missed case costs less than a false alarm.

use std::collections::{HashMap, HashSet};

use tree_sitter::Node;

use super::tree::{
    address_of, addressed_var, args, assignments_to, call_name, calls, declarations,
    enclosing_loop, macros, mentions, scope, string_value, strip, value_discarded, within,
    Declared, Parsed,
};

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

/// A check: the nodes of a listing it objects to.
pub type Check = for<'t> fn(&Ctx<'t>) -> Vec<Node<'t>>;

/// Every check, by the name rules give in `check = "…"`.
pub const CHECKS: &[(&str, Check)] = &[
    ("htons-missing", htons_missing),
    ("reuseaddr-after-bind", reuseaddr_after_bind),
    ("sockaddr-cast-missing", sockaddr_cast_missing),
    ("address-never-filled", address_never_filled),
    ("addrlen-uninitialised", addrlen_uninitialised),
    ("addrlen-not-reset-in-loop", addrlen_not_reset_in_loop),
    ("read-count-ignored", read_count_ignored),
    ("read-assumed-full", read_assumed_full),
    ("read-printed-unterminated", read_printed_unterminated),
    (
        "broadcast-without-so-broadcast",
        broadcast_without_so_broadcast,
    ),
    ("fork-child-keeps-listener", fork_child_keeps_listener),
    ("fork-parent-keeps-connection", fork_parent_keeps_connection),
    ("fork-children-never-reaped", fork_children_never_reaped),
    ("nodelay-at-sol-socket", nodelay_at_sol_socket),
    ("sockaddr-size-for-ipv6", sockaddr_size_for_ipv6),
    ("inet-addr", inet_addr_call),
    ("fd-set-past-fd-setsize", fd_set_past_fd_setsize),
    ("epollet-without-drain", epollet_without_drain),
    ("errno-without-failed-call", errno_without_failed_call),
];

const SPECIFIC_SOCKADDRS: &[&str] = &[
    "struct sockaddr_in",
    "struct sockaddr_in6",
    "struct sockaddr_un",
    "struct sockaddr_storage",
];

/// An integer literal's value (decimal, hex or octal, suffixes ignored).
fn int_value(text: &str) -> Option<u64> {
    let t = text.trim_end_matches(['u', 'U', 'l', 'L']);
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else if t.len() > 1 && t.starts_with('0') {
        u64::from_str_radix(&t[1..], 8).ok()
    } else {
        t.parse().ok()
    }
}

/// Whether an expression certainly holds a port or IPv4 address in host byte order: a
/// non-zero literal, a macro or variable only ever set to one, INADDR_LOOPBACK or
/// INADDR_BROADCAST (host-order macros), or a number parsed from text (atoi…).
fn host_order(ctx: &Ctx<'_>, value: Node<'_>) -> bool {
    let value = strip(value, true);
    match value.kind() {
        "number_literal" => int_value(ctx.text(value)).is_some_and(|v| v != 0),
        "call_expression" => {
            matches!(
                call_name(ctx.p, value),
                Some("atoi" | "atol" | "strtol" | "strtoul" | "strtoull")
            )
        }
        "identifier" => {
            let name = ctx.text(value);
            if matches!(name, "INADDR_LOOPBACK" | "INADDR_BROADCAST" | "INADDR_NONE") {
                return true;
            }
            if let Some(def) = ctx.macros.get(name) {
                return int_value(def.trim_matches(|c| c == '(' || c == ')'))
                    .is_some_and(|v| v != 0);
            }
            let mut values: Vec<Node<'_>> = assignments_to(ctx.p, &ctx.nodes, name)
                .into_iter()
                .map(|(_, right)| right)
                .collect();
            values.extend(
                ctx.nodes
                    .iter()
                    .filter(|n| n.kind() == "init_declarator")
                    .filter_map(|n| {
                        let d = n.child_by_field_name("declarator")?;
                        (d.kind() == "identifier" && ctx.text(d) == name)
                            .then_some(n.child_by_field_name("value")?)
                    }),
            );
            !values.is_empty()
                && values.iter().all(|v| {
                    let v = strip(*v, true);
                    v.kind() == "number_literal" && int_value(ctx.text(v)).is_some_and(|v| v != 0)
                })
        }
        _ => false,
    }
}

/// `x.sin_port`, `x->sin6_port` or `x.sin_addr.s_addr`: the field's name.
fn byte_order_field<'t>(ctx: &Ctx<'t>, left: Node<'t>) -> Option<&'t str> {
    let left = strip(left, false);
    if left.kind() != "field_expression" {
        return None;
    }
    let field = ctx.text(left.child_by_field_name("field")?);
    match field {
        "sin_port" | "sin6_port" => Some(field),
        "s_addr" => {
            let base = strip(left.child_by_field_name("argument")?, false);
            (base.kind() == "field_expression"
                && base
                    .child_by_field_name("field")
                    .is_some_and(|f| ctx.text(f) == "sin_addr"))
            .then_some(field)
        }
        _ => None,
    }
}

/// A port or IPv4 address stored in host byte order.
fn htons_missing<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
    let mut out = Vec::new();
    for node in &ctx.nodes {
        match node.kind() {
            "assignment_expression" => {
                let (Some(left), Some(right)) = (
                    node.child_by_field_name("left"),
                    node.child_by_field_name("right"),
                ) else {
                    continue;
                };
                let is_plain = node
                    .child_by_field_name("operator")
                    .is_some_and(|o| ctx.text(o) == "=");
                if is_plain && byte_order_field(ctx, left).is_some() && host_order(ctx, right) {
                    out.push(*node);
                }
            }
            "initializer_pair" => {
                let mut cursor = node.walk();
                let designators: Vec<&str> = node
                    .children_by_field_name("designator", &mut cursor)
                    .map(|d| ctx.text(d).trim_start_matches('.').trim())
                    .collect();
                let Some(value) = node.child_by_field_name("value") else {
                    continue;
                };
                if matches!(designators.as_slice(), ["sin_port"] | ["sin6_port"])
                    && host_order(ctx, value)
                {
                    out.push(*node);
                }
            }
            _ => {}
        }
    }
    out
}

/// `setsockopt(fd, SOL_SOCKET, SO_REUSEADDR…)` after `bind(fd…)`.
fn reuseaddr_after_bind<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
    let mut out = Vec::new();
    for set in ctx.calls(&["setsockopt"]) {
        let a = args(set);
        if a.len() < 3
            || ctx.text(a[1]) != "SOL_SOCKET"
            || !matches!(ctx.text(a[2]), "SO_REUSEADDR" | "SO_REUSEPORT")
        {
            continue;
        }
        let fd = ctx.text(strip(a[0], false));
        let fn_scope = scope(set);
        let bound_before = ctx
            .calls_on(fn_scope, &["bind"], fd)
            .into_iter()
            .any(|bind| {
                let reassigned = assignments_to(ctx.p, &ctx.nodes, fd)
                    .iter()
                    .any(|(asg, _)| {
                        asg.start_byte() > bind.end_byte() && asg.end_byte() < set.start_byte()
                    });
                // A retry loop binds again after the option is set.
                let retried = loops_around(set).into_iter().any(|l| within(l, bind));
                bind.end_byte() <= set.start_byte() && !reassigned && !retried
            });
        if bound_before {
            out.push(set);
        }
    }
    out
}

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

/// A `struct sockaddr_in *` (or `_in6`, `_un`, `_storage`) passed where the call takes a
/// `struct sockaddr *`, without a cast.
fn sockaddr_cast_missing<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
    let names: Vec<&str> = ADDRESS_ARGS.iter().map(|(n, _, _)| *n).collect();
    ctx.calls(&names)
        .into_iter()
        .filter_map(|call| {
            let (addr, _) = address_arg(ctx, call)?;
            let bare = strip(addr, false);
            let specific = |d: &Declared| SPECIFIC_SOCKADDRS.contains(&d.ty.as_str()) && !d.array;
            let uncast = if let Some(var) = address_of(ctx.p, bare) {
                ctx.decl(var, call)
                    .is_some_and(|d| specific(d) && !d.pointer)
            } else if bare.kind() == "identifier" {
                ctx.decl(ctx.text(bare), call)
                    .is_some_and(|d| specific(d) && d.pointer)
            } else {
                false
            };
            uncast.then_some(addr)
        })
        .collect()
}

/// `connect(fd, &addr, …)` (or bind, sendto) with no cast, where no listing of the document
/// declares `addr` or does anything else with it: the reader never sees it filled in.
fn address_never_filled<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
    ctx.calls(&["connect", "bind", "sendto"])
        .into_iter()
        .filter_map(|call| {
            let (addr, _) = address_arg(ctx, call)?;
            let var = address_of(ctx.p, addr)?;
            (!ctx.doc.names_in_use.contains(var)).then_some(addr)
        })
        .collect()
}

/// The `&len` argument of a call that reads and writes an address length, with the
/// address's variable.
fn length_args<'t>(ctx: &Ctx<'t>) -> Vec<(Node<'t>, &'t str, Node<'t>)> {
    ctx.calls(&[
        "accept",
        "accept4",
        "recvfrom",
        "getsockname",
        "getpeername",
    ])
    .into_iter()
    .filter_map(|call| {
        let (_, len) = address_arg(ctx, call)?;
        let len = len?;
        let var = address_of(ctx.p, len)?;
        let d = ctx.decl(var, call)?;
        (!d.pointer && !d.array && d.at < call.start_byte()).then_some((call, var, len))
    })
    .collect()
}

fn assigned_between(ctx: &Ctx<'_>, var: &str, from: usize, to: usize) -> bool {
    assignments_to(ctx.p, &ctx.nodes, var)
        .iter()
        .any(|(asg, _)| from <= asg.start_byte() && asg.end_byte() <= to)
}

/// accept/recvfrom's address length never set before the call: the kernel reads it as the
/// buffer's size.
fn addrlen_uninitialised<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
    length_args(ctx)
        .into_iter()
        .filter(|(call, var, _)| {
            let d = ctx
                .decl(var, *call)
                .expect("length_args keeps declared variables");
            let fn_scope = scope(*call);
            !d.initialised && !assigned_between(ctx, var, fn_scope.start_byte(), call.start_byte())
        })
        .map(|(_, _, len)| len)
        .collect()
}

/// A length set once before a loop of accept/recvfrom calls into a buffer that holds
/// addresses of different lengths (sockaddr_storage, sockaddr_un): after a shorter address
/// the next call truncates.
fn addrlen_not_reset_in_loop<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
    length_args(ctx)
        .into_iter()
        .filter(|(call, var, _)| {
            let Some(l) = enclosing_loop(*call) else {
                return false;
            };
            let variable_size = address_arg(ctx, *call)
                .and_then(|(addr, _)| addressed_var(ctx.p, addr, true))
                .and_then(|a| ctx.decl(a, *call))
                .is_some_and(|d| {
                    matches!(
                        d.ty.as_str(),
                        "struct sockaddr_storage" | "struct sockaddr_un"
                    )
                });
            let d = ctx
                .decl(var, *call)
                .expect("length_args keeps declared variables");
            let set_before = d.initialised
                || assigned_between(ctx, var, scope(*call).start_byte(), l.start_byte());
            variable_size && set_before && !assigned_between(ctx, var, l.start_byte(), l.end_byte())
        })
        .map(|(_, _, len)| len)
        .collect()
}

const STREAM_READS: &[&str] = &["read", "recv"];

/// `read(fd, buf, n);` with its count thrown away.
fn read_count_ignored<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
    socket_reads(ctx, STREAM_READS)
        .into_iter()
        .filter(|c| value_discarded(*c))
        .collect()
}

/// The calls to `names` whose descriptor is not known to be a file or a pipe (`fd = open(…)`,
/// `pipe(fds)` then `fds[0]`): the facts these checks rest on are about sockets.
fn socket_reads<'t>(ctx: &Ctx<'t>, names: &[&str]) -> Vec<Node<'t>> {
    let files: Vec<&str> = ctx
        .calls(&["open", "openat", "creat", "fileno"])
        .into_iter()
        .filter_map(|c| result_var(ctx, c))
        .collect();
    let pipes: Vec<&str> = ctx
        .calls(&["pipe", "pipe2"])
        .into_iter()
        .filter_map(|c| args(c).first().map(|a| ctx.text(strip(*a, true))))
        .collect();
    let not_a_socket = |fd: Node<'_>| {
        let fd = strip(fd, true);
        let base = match fd.kind() {
            "subscript_expression" => fd.child_by_field_name("argument").map(|a| ctx.text(a)),
            _ => None,
        };
        files.contains(&ctx.text(fd)) || base.is_some_and(|b| pipes.contains(&b))
    };
    ctx.calls(names)
        .into_iter()
        .filter(|c| !args(*c).first().is_some_and(|fd| not_a_socket(*fd)))
        .collect()
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

/// `read(fd, buf, SIZE)` and then `buf` used as SIZE bytes (`write(out, buf, SIZE)`), the
/// count never compared with SIZE.
fn read_assumed_full<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
    let mut out = Vec::new();
    for call in socket_reads(ctx, STREAM_READS) {
        let a = args(call);
        if a.len() < 3 || a.get(3).is_some_and(|f| mentions(ctx.p, *f, "MSG_WAITALL")) {
            continue;
        }
        let (buf, size) = (ctx.text(strip(a[1], false)), ctx.text(strip(a[2], false)));
        let size_node = strip(a[2], false);
        let constant = match size_node.kind() {
            "sizeof_expression" | "number_literal" => true,
            "identifier" => ctx.macros.contains_key(size),
            _ => false,
        };
        if !constant {
            continue;
        }
        // A count compared with the size (`!= sizeof buf`) is a count checked.
        let result = result_var(ctx, call);
        let compared = ctx.nodes.iter().any(|n| {
            n.kind() == "binary_expression"
                && (within(*n, call) || result.is_some_and(|r| mentions(ctx.p, *n, r)))
                && n.named_child(0)
                    .into_iter()
                    .chain(n.named_child(1))
                    .any(|side| ctx.text(strip(side, true)) == size)
        });
        if compared {
            continue;
        }
        let used_as_full = ctx
            .calls_on_any(
                scope(call),
                &["write", "send", "fwrite", "memcpy", "memcmp"],
            )
            .into_iter()
            .filter(|u| u.start_byte() > call.end_byte())
            .any(|u| {
                let ua = args(u);
                ua.iter().any(|x| ctx.text(strip(*x, true)) == buf)
                    && ua.iter().any(|x| ctx.text(strip(*x, false)) == size)
            });
        if used_as_full {
            out.push(call);
        }
    }
    out
}

impl<'t> Ctx<'t> {
    fn calls_on_any(&self, region: Node<'_>, names: &[&str]) -> Vec<Node<'t>> {
        self.nodes_in(region)
            .filter(|n| call_name(self.p, *n).is_some_and(|c| names.contains(&c)))
            .collect()
    }
}

/// The argument positions a printf-style format gives to `%s` without a precision.
fn unbounded_string_args(format: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut arg = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            continue;
        }
        let mut precision = false;
        let mut conversion = None;
        for c in chars.by_ref() {
            match c {
                '.' => precision = true,
                '*' => arg += 1,
                c if c.is_ascii_alphabetic()
                    && !matches!(c, 'h' | 'l' | 'L' | 'q' | 'j' | 'z' | 't') =>
                {
                    conversion = Some(c);
                    break;
                }
                _ => {}
            }
        }
        if conversion == Some('s') && !precision {
            out.push(arg);
        }
        arg += 1;
    }
    out
}

/// `read(fd, buf, …)` and then `printf("%s", buf)` (or puts, strlen…) with no terminator
/// written into `buf`.
fn read_printed_unterminated<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
    let mut out = Vec::new();
    for call in socket_reads(ctx, &["read", "recv", "recvfrom"]) {
        let Some(buf_node) = args(call).get(1).map(|b| strip(*b, false)) else {
            continue;
        };
        if buf_node.kind() != "identifier" {
            continue;
        }
        let buf = ctx.text(buf_node);
        if !ctx
            .decl(buf, call)
            .is_some_and(|d| d.array && !d.initialised && d.ty == "char")
        {
            continue;
        }
        let region = scope(call);
        let terminated = ctx.nodes_in(region).any(|n| match n.kind() {
            "assignment_expression" => n.child_by_field_name("left").is_some_and(|l| {
                let l = strip(l, false);
                matches!(l.kind(), "subscript_expression" | "pointer_expression")
                    && mentions(ctx.p, l, buf)
            }),
            "call_expression" => {
                call_name(ctx.p, n).is_some_and(|c| !matches!(c, "read" | "recv" | "recvfrom"))
                    && args(n)
                        .first()
                        .is_some_and(|a| ctx.text(strip(*a, true)) == buf)
                    && matches!(
                        call_name(ctx.p, n),
                        Some(
                            "memset"
                                | "bzero"
                                | "explicit_bzero"
                                | "strcpy"
                                | "strncpy"
                                | "snprintf"
                                | "sprintf"
                                | "strcat"
                        )
                    )
            }
            _ => false,
        });
        if terminated {
            continue;
        }
        let printed = ctx.calls_on_any(
            region,
            &["printf", "fprintf", "dprintf", "puts", "fputs", "strlen"],
        );
        for print in printed
            .into_iter()
            .filter(|u| u.start_byte() > call.end_byte())
        {
            let a = args(print);
            let name = call_name(ctx.p, print).unwrap_or_default();
            let as_string: Vec<Node<'_>> = match name {
                "puts" | "fputs" | "strlen" => a.first().copied().into_iter().collect(),
                _ => {
                    let fmt_at = usize::from(name != "printf");
                    let Some(format) = a.get(fmt_at).and_then(|f| string_value(ctx.p, *f)) else {
                        continue;
                    };
                    unbounded_string_args(&format)
                        .into_iter()
                        .filter_map(|i| a.get(fmt_at + 1 + i).copied())
                        .collect()
                }
            };
            if as_string.iter().any(|x| ctx.text(strip(*x, true)) == buf) {
                out.push(print);
            }
        }
    }
    out
}

/// Whether a dotted-quad text names a broadcast address (255.255.255.255 or a /24's .255).
fn broadcast_text(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
        && parts[3] == "255"
}

/// Whether the listing stores a broadcast address into `var`'s sin_addr.
fn holds_broadcast(ctx: &Ctx<'_>, var: &str) -> bool {
    ctx.nodes.iter().any(|n| match n.kind() {
        "assignment_expression" => {
            let (Some(left), Some(right)) = (
                n.child_by_field_name("left"),
                n.child_by_field_name("right"),
            ) else {
                return false;
            };
            if byte_order_field(ctx, left) != Some("s_addr") || !mentions(ctx.p, left, var) {
                return false;
            }
            let right = strip(right, true);
            let value = match call_name(ctx.p, right) {
                Some("htonl") => args(right).first().map(|a| strip(*a, true)),
                Some("inet_addr") => {
                    return args(right)
                        .first()
                        .and_then(|a| string_value(ctx.p, *a))
                        .is_some_and(|s| broadcast_text(&s))
                }
                _ => Some(right),
            };
            value.is_some_and(|v| {
                matches!(ctx.text(v), "INADDR_BROADCAST")
                    || int_value(ctx.text(v)) == Some(0xffff_ffff)
            })
        }
        "call_expression" => {
            let a = args(*n);
            let (text, dest) = match call_name(ctx.p, *n) {
                Some("inet_pton") if a.len() == 3 && ctx.text(a[0]) == "AF_INET" => (a[1], a[2]),
                Some("inet_aton") if a.len() == 2 => (a[0], a[1]),
                _ => return false,
            };
            mentions(ctx.p, dest, var)
                && string_value(ctx.p, text).is_some_and(|s| broadcast_text(&s))
        }
        _ => false,
    })
}

/// sendto a broadcast address on a socket no listing sets SO_BROADCAST on.
fn broadcast_without_so_broadcast<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
    if ctx.doc.sets_so_broadcast {
        return Vec::new();
    }
    ctx.calls(&["sendto"])
        .into_iter()
        .filter(|call| {
            address_arg(ctx, *call)
                .and_then(|(addr, _)| addressed_var(ctx.p, addr, true))
                .is_some_and(|var| holds_broadcast(ctx, var))
        })
        .collect()
}

/// A fork-per-connection server's parts: `conn = accept(listener, …)` then, in the same
/// loop, `fork()` tested with `== 0` (or `!`): the fork call, the child's branch, the
/// parent's statements (the else branch and what follows the if in the loop body).
struct ForkServer<'t> {
    fork: Node<'t>,
    listener: &'t str,
    conn: &'t str,
    child: Node<'t>,
    parent: Vec<Node<'t>>,
}

fn fork_servers<'t>(ctx: &Ctx<'t>) -> Vec<ForkServer<'t>> {
    let mut out = Vec::new();
    for fork in ctx.calls(&["fork"]) {
        let Some(l) = enclosing_loop(fork) else {
            continue;
        };
        let accepted = ctx
            .nodes_in(l)
            .filter(|n| n.end_byte() < fork.start_byte())
            .find_map(|n| {
                if !matches!(call_name(ctx.p, n), Some("accept" | "accept4")) {
                    return None;
                }
                let conn = result_var(ctx, n)?;
                let listener = args(n)
                    .first()
                    .map(|a| strip(*a, false))
                    .filter(|a| a.kind() == "identifier")?;
                Some((ctx.text(listener), conn))
            });
        let Some((listener, conn)) = accepted else {
            continue;
        };
        let pid = result_var(ctx, fork);
        let is_child_test = |cond: Node<'t>| {
            let cond = strip(cond, false);
            let tested = |x: Node<'t>| {
                let x = strip(x, false);
                within(x, fork) && x.start_byte() <= fork.start_byte()
                    || pid.is_some_and(|p| ctx.text(x) == p)
                    || x.kind() == "assignment_expression"
                        && x.named_child(1).is_some_and(|r| strip(r, false) == fork)
            };
            match cond.kind() {
                "binary_expression" => {
                    let (Some(a), Some(b), Some(op)) = (
                        cond.child_by_field_name("left"),
                        cond.child_by_field_name("right"),
                        cond.child_by_field_name("operator"),
                    ) else {
                        return false;
                    };
                    ctx.text(op) == "=="
                        && (tested(a) && ctx.text(strip(b, false)) == "0"
                            || tested(b) && ctx.text(strip(a, false)) == "0")
                }
                "unary_expression" => {
                    cond.child_by_field_name("operator")
                        .is_some_and(|o| ctx.text(o) == "!")
                        && cond.child_by_field_name("argument").is_some_and(tested)
                }
                _ => false,
            }
        };
        let branch = ctx.nodes_in(l).find(|n| {
            n.kind() == "if_statement"
                && n.start_byte() >= fork.start_byte().min(n.start_byte())
                && n.child_by_field_name("condition")
                    .is_some_and(is_child_test)
        });
        let Some(branch) = branch else {
            continue;
        };
        let Some(child) = branch.child_by_field_name("consequence") else {
            continue;
        };
        let mut parent: Vec<Node<'t>> = branch
            .child_by_field_name("alternative")
            .into_iter()
            .collect();
        // What follows the whole if/else-if chain in the loop body runs in the parent too.
        let mut outer = branch;
        while let Some(up) = outer
            .parent()
            .filter(|u| matches!(u.kind(), "else_clause" | "if_statement"))
        {
            outer = up;
        }
        let mut next = outer.next_named_sibling();
        while let Some(n) = next {
            parent.push(n);
            next = n.next_named_sibling();
        }
        out.push(ForkServer {
            fork,
            listener,
            conn,
            child,
            parent,
        });
    }
    out
}

/// Whether `region` closes `fd`, or hands it to a function that may (anything but a plain
/// read or write): a helper out of sight is given the benefit of the doubt.
fn closes(ctx: &Ctx<'_>, region: Node<'_>, fd: &str) -> bool {
    ctx.nodes_in(region).any(|n| {
        call_name(ctx.p, n).is_some_and(|name| {
            let passes = args(n).iter().any(|a| ctx.text(strip(*a, true)) == fd);
            passes
                && !matches!(
                    name,
                    "read" | "write" | "recv" | "send" | "recvfrom" | "sendto"
                )
        })
    })
}

/// The child of a fork-per-connection server never closes the listening socket.
fn fork_child_keeps_listener<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
    fork_servers(ctx)
        .into_iter()
        .filter(|s| {
            let execs = ctx
                .nodes_in(s.child)
                .any(|n| call_name(ctx.p, n).is_some_and(|c| c.starts_with("exec")));
            !execs && !closes(ctx, s.child, s.listener)
        })
        .map(|s| s.fork)
        .collect()
}

/// The parent of a fork-per-connection server never closes the accepted connection.
fn fork_parent_keeps_connection<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
    fork_servers(ctx)
        .into_iter()
        .filter(|s| !s.parent.iter().any(|region| closes(ctx, *region, s.conn)))
        .map(|s| s.fork)
        .collect()
}

/// A fork-per-connection server and no wait/waitpid or SIGCHLD anywhere in the document.
fn fork_children_never_reaped<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
    if ctx.doc.reaps_children {
        return Vec::new();
    }
    fork_servers(ctx).into_iter().map(|s| s.fork).collect()
}

/// TCP_NODELAY given at level SOL_SOCKET (it is an IPPROTO_TCP option).
fn nodelay_at_sol_socket<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
    ctx.calls(&["setsockopt", "getsockopt"])
        .into_iter()
        .filter_map(|call| {
            let a = args(call);
            (a.len() >= 3 && ctx.text(a[1]) == "SOL_SOCKET" && ctx.text(a[2]) == "TCP_NODELAY")
                .then_some(a[1])
        })
        .collect()
}

/// `sizeof(struct sockaddr)` (16) as the length of a sockaddr_in6 (28).
fn sockaddr_size_for_ipv6<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
    ctx.calls(&["bind", "connect", "sendto"])
        .into_iter()
        .filter_map(|call| {
            let (addr, len) = address_arg(ctx, call)?;
            let len = strip(len?, false);
            let var = addressed_var(ctx.p, addr, true)?;
            let d = ctx.decl(var, call)?;
            let v6 = d.ty == "struct sockaddr_in6"
                && !d.array
                && (d.pointer != address_of(ctx.p, strip(addr, true)).is_some());
            let short: String = ctx
                .text(len)
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            (v6 && matches!(
                short.as_str(),
                "sizeof(structsockaddr)" | "sizeof(structsockaddr_in)"
            ))
            .then_some(len)
        })
        .collect()
}

/// `FD_SET(c, …)` on a descriptor from accept, in a function that never compares anything
/// with FD_SETSIZE.
fn fd_set_past_fd_setsize<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
    ctx.calls(&["FD_SET"])
        .into_iter()
        .filter(|set| {
            let Some(fd) = args(*set)
                .first()
                .map(|a| strip(*a, true))
                .filter(|a| a.kind() == "identifier")
            else {
                return false;
            };
            let fd = ctx.text(fd);
            let region = scope(*set);
            let accepted = ctx
                .calls_on_any(region, &["accept", "accept4"])
                .into_iter()
                .any(|a| a.end_byte() < set.start_byte() && result_var(ctx, a) == Some(fd));
            let bounded = ctx
                .nodes_in(region)
                .any(|n| n.kind() == "identifier" && ctx.text(n) == "FD_SETSIZE");
            accepted && !bounded
        })
        .collect()
}

fn inet_addr_call<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
    ctx.calls(&["inet_addr"])
}

/// With EPOLLET in the listing, a read that runs once per event, in the event loop (or in
/// the loop over its events), not in a loop of its own until EAGAIN.
fn epollet_without_drain<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
    let edge = ctx
        .nodes
        .iter()
        .any(|n| n.kind() == "identifier" && ctx.text(*n) == "EPOLLET");
    if !edge {
        return Vec::new();
    }
    let waits = ctx.calls(&["epoll_wait", "epoll_pwait"]);
    let ready: Vec<&str> = waits.iter().filter_map(|w| result_var(ctx, *w)).collect();
    ctx.calls(&["read", "recv", "recvfrom"])
        .into_iter()
        .filter(|call| {
            for l in loops_around(*call) {
                if waits.iter().any(|w| within(l, *w)) {
                    return true;
                }
                // A loop over the events epoll_wait returned is not a drain loop.
                let over_events = l.kind() == "for_statement"
                    && l.child_by_field_name("condition")
                        .is_some_and(|c| ready.iter().any(|r| mentions(ctx.p, c, r)));
                if !over_events {
                    return false;
                }
            }
            false
        })
        .collect()
}

/// `errno` tested right after a call whose result nothing tested: errno is only meaningful
/// after a call that reported failure.
fn errno_without_failed_call<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
    let mut out = Vec::new();
    for stmt in ctx.nodes.iter().filter(|n| n.kind() == "if_statement") {
        let Some(cond) = stmt.child_by_field_name("condition") else {
            continue;
        };
        let idents: Vec<Node<'_>> = ctx
            .nodes_in(cond)
            .filter(|n| n.kind() == "identifier")
            .collect();
        let errno_only = idents.iter().any(|n| ctx.text(*n) == "errno")
            && idents.iter().all(|n| {
                let t = ctx.text(*n);
                t == "errno"
                    || t.starts_with('E')
                        && t.chars()
                            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            });
        if !errno_only {
            continue;
        }
        // Inside a branch, something was tested first.
        let mut up = stmt.parent();
        let mut branched = false;
        while let Some(u) = up {
            if u.kind() == "function_definition" {
                break;
            }
            if matches!(
                u.kind(),
                "if_statement"
                    | "else_clause"
                    | "switch_statement"
                    | "case_statement"
                    | "conditional_expression"
            ) {
                branched = true;
                break;
            }
            up = u.parent();
        }
        if branched {
            continue;
        }
        let mut prev = stmt.prev_named_sibling();
        while let Some(p) = prev.filter(|p| p.kind() == "comment") {
            prev = p.prev_named_sibling();
        }
        let Some(prev) = prev else {
            continue;
        };
        let untested_call = matches!(prev.kind(), "expression_statement" | "declaration")
            && ctx.nodes_in(prev).any(|n| n.kind() == "call_expression");
        let errno_cleared = assignments_to(ctx.p, &ctx.nodes, "errno")
            .iter()
            .any(|(a, _)| a.start_byte() < stmt.start_byte());
        if untested_call && !errno_cleared {
            out.extend(
                idents
                    .into_iter()
                    .filter(|n| ctx.text(*n) == "errno")
                    .take(1),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_scanner_finds_unbounded_string_arguments() {
        assert_eq!(unbounded_string_args("got %d bytes: %s\n"), vec![1]);
        assert_eq!(unbounded_string_args("%.*s %s %%s %5s"), vec![2, 3]);
        assert!(unbounded_string_args("%.10s").is_empty());
    }

    #[test]
    fn integer_literals_in_every_base() {
        assert_eq!(int_value("8080"), Some(8080));
        assert_eq!(int_value("0x1F90"), Some(8080));
        assert_eq!(int_value("017620"), Some(8080));
        assert_eq!(int_value("0"), Some(0));
        assert_eq!(int_value("8080U"), Some(8080));
    }
}
