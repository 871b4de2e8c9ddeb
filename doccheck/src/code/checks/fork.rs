//! Fork-per-connection servers: who closes which descriptor, and who reaps the children.

use tree_sitter::Node;

use super::{result_var, Ctx};
use crate::code::tree::{args, call_name, enclosing_loop, strip, within};

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
            // The test comes with the fork (`if (fork() == 0)`) or after it.
            n.kind() == "if_statement"
                && n.end_byte() > fork.start_byte()
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
pub(super) fn fork_child_keeps_listener<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
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
pub(super) fn fork_parent_keeps_connection<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
    fork_servers(ctx)
        .into_iter()
        .filter(|s| !s.parent.iter().any(|region| closes(ctx, *region, s.conn)))
        .map(|s| s.fork)
        .collect()
}

/// A fork-per-connection server and no wait/waitpid or SIGCHLD anywhere in the document.
pub(super) fn fork_children_never_reaped<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
    if ctx.doc.reaps_children {
        return Vec::new();
    }
    fork_servers(ctx).into_iter().map(|s| s.fork).collect()
}
