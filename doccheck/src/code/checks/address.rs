//! Addresses: byte order, the sockaddr cast and size, address lengths, the resolver calls.

use tree_sitter::Node;

use super::{address_arg, Ctx, ADDRESS_ARGS};
use crate::code::tree::{
    address_of, addressed_var, assignments_to, call_name, enclosing_loop, scope, strip, Declared,
};

const SPECIFIC_SOCKADDRS: &[&str] = &[
    "struct sockaddr_in",
    "struct sockaddr_in6",
    "struct sockaddr_un",
    "struct sockaddr_storage",
];

/// An integer literal's value (decimal, hex or octal, suffixes ignored).
pub(super) fn int_value(text: &str) -> Option<u64> {
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
pub(super) fn byte_order_field<'t>(ctx: &Ctx<'t>, left: Node<'t>) -> Option<&'t str> {
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
pub(super) fn htons_missing<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
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

/// A `struct sockaddr_in *` (or `_in6`, `_un`, `_storage`) passed where the call takes a
/// `struct sockaddr *`, without a cast.
pub(super) fn sockaddr_cast_missing<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
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
pub(super) fn address_never_filled<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
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
pub(super) fn addrlen_uninitialised<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
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
pub(super) fn addrlen_not_reset_in_loop<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
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

/// `sizeof(struct sockaddr)` (16) as the length of a sockaddr_in6 (28).
pub(super) fn sockaddr_size_for_ipv6<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
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

pub(super) fn inet_addr_call<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
    ctx.calls(&["inet_addr"])
}

pub(super) fn gethostbyname_call<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
    ctx.calls(&["gethostbyname"])
}

#[cfg(test)]
mod tests {
    use super::int_value;

    #[test]
    fn integer_literals_in_every_base() {
        assert_eq!(int_value("8080"), Some(8080));
        assert_eq!(int_value("0x1F90"), Some(8080));
        assert_eq!(int_value("017620"), Some(8080));
        assert_eq!(int_value("0"), Some(0));
        assert_eq!(int_value("8080U"), Some(8080));
    }
}
