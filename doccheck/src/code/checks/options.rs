//! Socket options: SO_REUSEADDR after bind, TCP_NODELAY at the wrong level, broadcast
//! without SO_BROADCAST.

use tree_sitter::Node;

use super::address::{byte_order_field, int_value};
use super::{address_arg, loops_around, Ctx};
use crate::code::tree::{
    addressed_var, args, assignments_to, call_name, mentions, scope, string_value, strip, within,
};

/// `setsockopt(fd, SOL_SOCKET, SO_REUSEADDR…)` after `bind(fd…)`.
pub(super) fn reuseaddr_after_bind<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
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

/// TCP_NODELAY given at level SOL_SOCKET (it is an IPPROTO_TCP option).
pub(super) fn nodelay_at_sol_socket<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
    ctx.calls(&["setsockopt", "getsockopt"])
        .into_iter()
        .filter_map(|call| {
            let a = args(call);
            (a.len() >= 3 && ctx.text(a[1]) == "SOL_SOCKET" && ctx.text(a[2]) == "TCP_NODELAY")
                .then_some(a[1])
        })
        .collect()
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
pub(super) fn broadcast_without_so_broadcast<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
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
