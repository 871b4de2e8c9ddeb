//! Reads on a stream socket: the count ignored, assumed full, or printed without a terminator.

use tree_sitter::Node;

use super::{result_var, Ctx};
use crate::code::tree::{
    args, call_name, mentions, scope, string_value, strip, value_discarded, within,
};

const STREAM_READS: &[&str] = &["read", "recv"];

/// `read(fd, buf, n);` with its count thrown away.
pub(super) fn read_count_ignored<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
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

/// `read(fd, buf, SIZE)` and then `buf` used as SIZE bytes (`write(out, buf, SIZE)`), the
/// count never compared with SIZE.
pub(super) fn read_assumed_full<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
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
                // Written again in between (snprintf, memset, another read), the buffer is
                // not the read's any more.
                let refilled = ctx.nodes_in(scope(call)).any(|n| {
                    n.start_byte() > call.end_byte()
                        && n.end_byte() < u.start_byte()
                        && call_name(ctx.p, n).is_some()
                        && args(n)
                            .first()
                            .is_some_and(|a| ctx.text(strip(*a, true)) == buf)
                });
                !refilled
                    && ua.iter().any(|x| ctx.text(strip(*x, true)) == buf)
                    && ua.iter().any(|x| ctx.text(strip(*x, false)) == size)
            });
        if used_as_full {
            out.push(call);
        }
    }
    out
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
pub(super) fn read_printed_unterminated<'t>(ctx: &Ctx<'t>) -> Vec<Node<'t>> {
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

#[cfg(test)]
mod tests {
    use super::unbounded_string_args;

    #[test]
    fn format_scanner_finds_unbounded_string_arguments() {
        assert_eq!(unbounded_string_args("got %d bytes: %s\n"), vec![1]);
        assert_eq!(unbounded_string_args("%.*s %s %%s %5s"), vec![2, 3]);
        assert!(unbounded_string_args("%.10s").is_empty());
    }
}
