//! What a bench run prints and writes: the terminal summary, bench.md (ratios by claim, the
//! results, the C comparison, the plots) and the one-line form of a ratio.

use std::fmt::Write as _;
use std::time::Duration;

use super::verdicts::{self, Metric};
use super::{reference, stats, BenchFile, RatioRow, Run, REFERENCE_ROUNDS, RTT_PER_ROUND};
use harness::bench::measure::{Transport, SIZES};

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
    let _ = writeln!(out, "round trips (1 B), µs:      median     p99   rounds");
    for r in file.results.iter().filter(|r| r.metric == Metric::Rtt) {
        let _ = writeln!(
            out,
            "  {:<14} {:>10.2} {:>8.2}   {}",
            r.transport,
            r.median,
            r.p99.unwrap_or(f64::NAN),
            r.rounds
        );
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
    let _ = writeln!(out, "ratios (how many times faster a is than b):");
    for r in &file.ratios {
        let _ = writeln!(
            out,
            "  {:<13} {:<36} {}",
            r.status.as_str(),
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

/// `rtt_us 1 B unix-stream/tcp-v4 2.71× [2.60, 2.83] vs 1.5`.
pub fn ratio_line(r: &RatioRow) -> String {
    format!(
        "{} {} B {}/{} {:.2}× [{:.2}, {:.2}] vs {}",
        r.metric.as_str(),
        r.message_bytes,
        r.a,
        r.b,
        r.ratio,
        r.ci95[0],
        r.ci95[1],
        r.threshold
    )
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
         rounds. Status: **holds** when the whole interval is above the threshold, **fails** \
         when it is wholly below, **inconclusive** otherwise. TCP runs with TCP_NODELAY; the \
         large message is 65 000 B for every transport (64 KiB does not fit one UDP \
         datagram). MB = 10^6 bytes, counted at the receiver.\n",
    );
}

/// Each claim's ratios, their intervals and statuses, and the claim's status.
fn ratios(md: &mut String, file: &BenchFile) {
    md.push_str(
        "\n## Ratios, by claim\n\n| claim | metric | size | a / b | ratio | 95% CI | threshold \
         | status | the claim's fact says |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for spec in verdicts::specs() {
        for row in &spec.rows {
            let Some(r) = file.ratio(spec.claim, row) else {
                continue;
            };
            let _ = writeln!(
                md,
                "| `{}` | {} | {} B | {} / {} | {:.2}× | [{:.2}, {:.2}] | {} | {} | {} |",
                r.claim,
                r.metric.as_str(),
                r.message_bytes,
                r.a,
                r.b,
                r.ratio,
                r.ci95[0],
                r.ci95[1],
                r.threshold,
                r.status.as_str(),
                match row.expect {
                    verdicts::Expect::Above => "above",
                    verdicts::Expect::Below => "below",
                    verdicts::Expect::Either => "(reported only)",
                }
            );
        }
        let _ = writeln!(
            md,
            "| `{}` | | | | | | | **{}** | the claim |",
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

/// Every measured point: median, p99 and interval.
fn results(md: &mut String, file: &BenchFile) {
    md.push_str("\n## Results\n\n| transport | metric | size | median | p99 | 95% CI of the median | rounds |\n|---|---|---|---|---|---|---|\n");
    for r in &file.results {
        let _ = writeln!(
            md,
            "| {} | {} | {} B | {:.2} | {} | [{:.2}, {:.2}] | {} |",
            r.transport,
            r.metric.as_str(),
            r.message_bytes,
            r.median,
            r.p99.map(|p| format!("{p:.2}")).unwrap_or_default(),
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
                 threads pinned to one CPU like the Rust loop's; medians of {REFERENCE_ROUNDS} interleaved rounds of {RTT_PER_ROUND} round \
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
