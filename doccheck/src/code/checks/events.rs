//! Event loops and errors: edge-triggered epoll without draining, FD_SET past FD_SETSIZE,
//! errno read without a failed call.

use tree_sitter::Node;

use super::{loops_around, result_var, Ctx};
use crate::code::tree::{args, assignments_to, mentions, scope, strip, within};

/// With EPOLLET in the listing, a read that runs once per event, in the event loop (or in
/// the loop over its events), not in a loop of its own until EAGAIN.
pub(super) fn epollet_without_drain<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
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

/// `FD_SET(c, …)` on a descriptor from accept, in a function that never compares anything
/// with FD_SETSIZE.
pub(super) fn fd_set_past_fd_setsize<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
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

/// `errno` tested right after a call whose result nothing tested: errno is only meaningful
/// after a call that reported failure.
pub(super) fn errno_without_failed_call<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
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
