//! What a bench run prints and writes: the terminal summary, bench.md (round trips by method in
//! the course table's order, ratios by claim, the results, the C comparison, the plots) and the
//! one-line form of a ratio.

use std::fmt::Write as _;
use std::time::Duration;

use super::verdicts::{self, Metric};
use super::{reference, stats, BenchFile, RatioRow, Run, REFERENCE_ROUNDS, RTT_PER_ROUND};
use harness::bench::measure::{Method, Transport, SIZES};

/// The C and Rust loops' medians-of-rounds per transport, and Rust's over C's.
fn reference_rows(run: &Run) -> Vec<(Transport, f64, f64, f64)> {
    run.reference
        .iter()
        .map(|(t, (c, rust))| {
            let (c, rust) = (stats::median(c), stats::median(rust));
            (*t, c, rust, rust / c)
        })
        .collect()
}

pub(super) fn terminal(file: &BenchFile, run: &Run) -> String {
    let mut out = format!("\nbench on Linux {}\n", file.kernel);
    for method in Method::ALL {
        let _ = writeln!(
            out,
            "round trips (1 B) {}, µs:\n  {:<14} {:>8} {:>8} {:>17}   rounds",
            method.words().0,
            "",
            "median",
            "p99",
            "spread (p10–p90)"
        );
        for r in file
            .results
            .iter()
            .filter(|r| r.metric == Metric::Rtt && r.method == Some(method))
        {
            let [lo, hi] = r.spread.unwrap_or([f64::NAN; 2]);
            let _ = writeln!(
                out,
                "  {:<14} {:>8.2} {:>8.2} {:>8.2}–{:<8.2}   {}",
                r.transport,
                r.median,
                r.p99.unwrap_or(f64::NAN),
                lo,
                hi,
                r.rounds
            );
        }
    }
    let _ = writeln!(out, "throughput, MB/s (median of rounds):");
    for size in SIZES {
        let cells: Vec<String> = file
            .results
            .iter()
            .filter(|r| r.metric == Metric::Throughput && r.message_bytes == size)
            .map(|r| format!("{} {:.0}", r.transport, r.median))
            .collect();
        let _ = writeln!(out, "  {size:>6} B: {}", cells.join(" · "));
    }
    for r in file
        .results
        .iter()
        .filter(|r| r.metric == Metric::WriteWriteRead)
    {
        let _ = writeln!(
            out,
            "write-write-read, {}: median {:.1} µs",
            r.transport, r.median
        );
    }
    let _ = writeln!(
        out,
        "ratios (how many times faster a is than b), read against the claim's fact:"
    );
    for r in &file.ratios {
        let _ = writeln!(
            out,
            "  {:<25} {:<36} {}",
            r.expect.reading(r.status),
            r.claim,
            ratio_line(r)
        );
    }
    let _ = writeln!(out, "claims (each ratio on the side its fact states):");
    for spec in verdicts::specs() {
        let _ = writeln!(
            out,
            "  {:<13} {}",
            file.claim_status(&spec).as_str(),
            spec.claim
        );
    }
    match &run.reference_skipped {
        Some(why) => {
            let _ = writeln!(out, "C reference: skipped: {why}");
        }
        None => {
            let _ = writeln!(out, "C reference vs Rust, round-trip medians (µs):");
            for (t, c, rust, ratio) in reference_rows(run) {
                let _ = writeln!(
                    out,
                    "  {:<12} C {c:>7.2}  Rust {rust:>7.2}  Rust/C {ratio:.3}{}",
                    t.name(),
                    if (ratio - 1.0).abs() > reference::TOLERANCE {
                        "  (more than 10% apart)"
                    } else {
                        ""
                    }
                );
            }
        }
    }
    for (who, why) in &run.dropped {
        let _ = writeln!(out, "not measured: {who}: {why}");
    }
    for note in &run.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}

/// `rtt_us same-cpu 1 B unix-stream/tcp-v4 1.37× [1.33, 1.39] vs 2 (below)`.
pub fn ratio_line(r: &RatioRow) -> String {
    format!(
        "{}{} {} B {}/{} {:.2}× [{:.2}, {:.2}] vs {} ({})",
        r.metric.as_str(),
        r.method
            .map(|m| format!(" {}", m.name()))
            .unwrap_or_default(),
        r.message_bytes,
        r.a,
        r.b,
        r.ratio,
        r.ci95[0],
        r.ci95[1],
        threshold(r.threshold),
        verdicts::side(r.status)
    )
}

/// A threshold as written: `2`, `1.5`, `0.67`.
fn threshold(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The course table's rows whose speed the bench measures, in its order: the label, the
/// course's speed word, and the two sides of the round trip's ratio to TCP (raw sockets are
/// measured in a private namespace, against TCP there).
pub const COURSE_ROWS: [(&str, &str, &str, &str); 4] = [
    ("TCP", "보통", "tcp-v4", "tcp-v4"),
    ("UDP", "높음", "udp-v4", "tcp-v4"),
    ("Raw", "높음", super::NETNS_RAW, super::NETNS_TCP),
    ("Unix", "매우높음", "unix-stream", "tcp-v4"),
];

/// How many times faster `a`'s round trip was than `tcp`'s by `method`, with its interval:
/// 1 for TCP itself (when measured), else the ratio a claim names.
pub fn ratio_to_tcp(
    file: &BenchFile,
    method: Method,
    a: &str,
    tcp: &str,
) -> Option<(f64, [f64; 2])> {
    if a == tcp {
        return rtt(file, tcp, method).map(|_| (1.0, [1.0, 1.0]));
    }
    file.ratios
        .iter()
        .find(|r| r.metric == Metric::Rtt && r.method == Some(method) && r.a == a && r.b == tcp)
        .map(|r| (r.ratio, r.ci95))
}

/// The round-trip result of `transport` by `method`.
pub fn rtt<'a>(
    file: &'a BenchFile,
    transport: &str,
    method: Method,
) -> Option<&'a super::ResultRow> {
    file.results
        .iter()
        .find(|r| r.metric == Metric::Rtt && r.method == Some(method) && r.transport == transport)
}

/// The round trips by method, in the course table's order: each transport's median (and, for
/// unpinned threads, its spread) and how many times faster than TCP it was. Korean headers for
/// the Korean report.
pub fn methods_table(file: &BenchFile, korean: bool) -> String {
    let mut md = String::new();
    let (transport, word) = if korean {
        ("소켓 타입", "교재의 속도")
    } else {
        ("transport", "the course's speed")
    };
    let _ = write!(md, "| {transport} | {word} |");
    for m in Method::ALL {
        let (en, ko) = m.words();
        let _ = write!(md, " {} |", if korean { ko } else { en });
    }
    md.push_str("\n|---|---|---|---|---|\n");
    for (label, course, a, tcp) in COURSE_ROWS {
        let _ = write!(md, "| {label} | {course} |");
        for m in Method::ALL {
            let cell = match (rtt(file, a, m), ratio_to_tcp(file, m, a, tcp)) {
                (Some(r), ratio) => {
                    let spread = match (m, r.spread) {
                        (Method::TwoCpus, Some([lo, hi])) => format!(" ({lo:.1}–{hi:.1})"),
                        _ => String::new(),
                    };
                    let ratio = ratio
                        .map(|(x, [lo, hi])| format!(", **{x:.2}×** [{lo:.2}, {hi:.2}]"))
                        .unwrap_or_default();
                    format!("{:.1} µs{spread}{ratio}", r.median)
                }
                (None, _) => "not measured".into(),
            };
            let _ = write!(md, " {cell} |");
        }
        md.push('\n');
    }
    md
}

pub(super) fn markdown(
    file: &BenchFile,
    run: &Run,
    plots: &Result<Vec<String>, String>,
    emulated: Option<&str>,
    took: Duration,
) -> String {
    let mut md = String::new();
    header(&mut md, file, emulated, took);
    methods(&mut md, file);
    ratios(&mut md, file);
    plots_section(&mut md, plots);
    results(&mut md, file);
    c_reference(&mut md, run);
    not_measured(&mut md, run);
    md
}

/// The machine, the load and the method.
fn header(md: &mut String, file: &BenchFile, emulated: Option<&str>, took: Duration) {
    md.push_str("# socket-claims bench: the speed claims, measured\n\n");
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let _ = writeln!(
        md,
        "Linux {} · {} CPUs · load average {} · {:.1} s",
        file.kernel,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        took.as_secs_f64()
    );
    if let Some(how) = emulated {
        let _ = writeln!(
            md,
            "\n**Not measured under CPU emulation ({how}):** the emulator's speed says \
             nothing about the kernel's, so nothing was measured and every status is \
             `not-measured`."
        );
    }
    md.push_str(
        "\nAll on loopback, in interleaved rounds (each round runs every transport once, \
         starting with a different one). A ratio is how many times faster `a` was than `b`: \
         the median of the per-round ratios, with a 95% bootstrap interval over the \
         rounds. **interval**: above (the whole interval above the threshold), below (wholly \
         below) or straddles. **reads**: *as the fact says* when the interval is on the side \
         the claim's fact puts it, *against the fact* when on the other side; the claim holds \
         when every ratio reads as the fact says. TCP runs with TCP_NODELAY; the large \
         message is 65 000 B for every transport (64 KiB does not fit one UDP datagram). MB = \
         10^6 bytes, counted at the receiver.\n",
    );
}

/// Round trips by method, in the course table's order.
fn methods(md: &mut String, file: &BenchFile) {
    md.push_str(
        "\n## Round trips, by method\n\nA 1-byte round trip measured three ways, which \
         answer different questions: **in one thread** (send, receive on the peer, send back, \
         receive: the kernel's socket path alone), **between two threads on one CPU** (each \
         message also a wake-up and a context switch), **between two unpinned threads** (where \
         the scheduler puts them, usually two CPUs: the spread, p10–p90, is wide). Each cell: \
         the median round trip and how many times faster than TCP's (raw sockets against TCP \
         in the same private namespace), with its 95% interval; the rows in the course \
         table's order, with its speed word.\n\n",
    );
    md.push_str(&methods_table(file, false));
}

/// Each claim's ratios, their intervals and how they read, and the claim's status.
fn ratios(md: &mut String, file: &BenchFile) {
    md.push_str(
        "\n## Ratios, by claim\n\n| claim | method | metric | size | a / b | ratio | 95% CI \
         | threshold | interval | the fact says | reads |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for spec in verdicts::specs() {
        for row in &spec.rows {
            let Some(r) = file.ratio(spec.claim, row) else {
                continue;
            };
            let _ = writeln!(
                md,
                "| `{}` | {} | {} | {} B | {} / {} | {:.2}× | [{:.2}, {:.2}] | {} | {} | {} | {} |",
                r.claim,
                r.method.map_or("", |m| m.name()),
                r.metric.as_str(),
                r.message_bytes,
                r.a,
                r.b,
                r.ratio,
                r.ci95[0],
                r.ci95[1],
                threshold(r.threshold),
                verdicts::side(r.status),
                match row.expect {
                    verdicts::Expect::Either => "(reported only)",
                    e => e.as_str(),
                },
                row.expect.reading(r.status)
            );
        }
        let _ = writeln!(
            md,
            "| `{}` | | | | | | | | | the claim | **{}** |",
            spec.claim,
            file.claim_status(&spec).as_str()
        );
    }
}

/// The SVG plots, or why they were not drawn.
fn plots_section(md: &mut String, plots: &Result<Vec<String>, String>) {
    match plots {
        Ok(files) => {
            md.push_str("\n## Plots\n\n");
            for f in files {
                let _ = writeln!(md, "![{f}]({f})\n");
            }
        }
        Err(e) => {
            let _ = writeln!(md, "\nPlots not drawn: {e}");
        }
    }
}

/// Every measured point: median, p99, spread and interval.
fn results(md: &mut String, file: &BenchFile) {
    md.push_str(
        "\n## Results\n\n| transport | metric | method | size | median | p99 | spread (p10–p90) \
         | 95% CI of the median | rounds |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in &file.results {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} B | {:.2} | {} | {} | [{:.2}, {:.2}] | {} |",
            r.transport,
            r.metric.as_str(),
            r.method.map_or("", |m| m.name()),
            r.message_bytes,
            r.median,
            r.p99.map(|p| format!("{p:.2}")).unwrap_or_default(),
            r.spread
                .map(|[lo, hi]| format!("{lo:.2}–{hi:.2}"))
                .unwrap_or_default(),
            r.ci95[0],
            r.ci95[1],
            r.rounds
        );
    }
}

/// The Rust loop against the C ping-pong.
fn c_reference(md: &mut String, run: &Run) {
    md.push_str("\n## The Rust loop against a C ping-pong\n\n");
    match &run.reference_skipped {
        Some(why) => {
            let _ = writeln!(md, "Skipped: {why}.");
        }
        None => {
            let _ = writeln!(
                md,
                "`benches/pingpong.c`, built with cc in this run, over the same sockets, its two \
                 threads pinned to one CPU like the Rust loop's same-cpu round trips; medians of {REFERENCE_ROUNDS} interleaved rounds of {RTT_PER_ROUND} round \
                 trips. They should agree within {:.0}%.\n\n| transport | C µs | Rust µs | \
                 Rust / C |\n|---|---|---|---|",
                reference::TOLERANCE * 100.0
            );
            for (t, c, rust, ratio) in reference_rows(run) {
                let _ = writeln!(md, "| {} | {c:.2} | {rust:.2} | {ratio:.3} |", t.name());
            }
        }
    }
}

/// Transports left out and notes on how the run went.
fn not_measured(md: &mut String, run: &Run) {
    if !run.dropped.is_empty() || !run.notes.is_empty() {
        md.push_str("\n## Not measured\n\n");
        for (who, why) in &run.dropped {
            let _ = writeln!(md, "- {who}: {why}");
        }
        for note in &run.notes {
            let _ = writeln!(md, "- {note}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ratio_below_a_threshold_its_fact_puts_it_below_reads_as_the_fact_says() {
        let file = super::super::tests::like_here();
        let run = Run::default();
        let md = markdown(&file, &run, &Ok(Vec::new()), None, Duration::ZERO);
        let row = md
            .lines()
            .find(|l| {
                l.contains("`udp.table.speed-high` | same-cpu")
                    && l.contains("udp-v4 / tcp-v4")
                    && l.contains("| 2 |")
            })
            .expect("the same-CPU UDP/TCP row against 2×");
        assert!(
            row.ends_with("| below | below | as the fact says |"),
            "{row}"
        );
        assert!(!row.contains("fails"), "{row}");
        let claim = md
            .lines()
            .find(|l| l.starts_with("| `udp.table.speed-high` | |"))
            .expect("the claim's row");
        assert!(claim.ends_with("| **holds** |"), "{claim}");
    }

    #[test]
    fn the_methods_table_lists_the_course_rows_in_its_order_with_ratios_to_tcp() {
        let table = methods_table(&super::super::tests::like_here(), false);
        let rows: Vec<&str> = table.lines().skip(2).collect();
        let labels: Vec<&str> = rows
            .iter()
            .map(|r| r.split('|').nth(1).unwrap_or("").trim())
            .collect();
        assert_eq!(labels, ["TCP", "UDP", "Raw", "Unix"], "{table}");
        assert!(
            rows[3].starts_with("| Unix | 매우높음 | 1.3 µs, **2.00×**"),
            "{table}"
        );
        assert!(rows[0].contains("4.3 µs (4.3–4.3), **1.00×**"), "{table}");
    }
}
