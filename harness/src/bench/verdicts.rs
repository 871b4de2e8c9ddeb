//! The speed claims as measurable statements: for each claim, the ratios its fact names (metric,
//! message size, the two sides, the threshold) and on which side of the threshold the fact puts
//! each. A ratio holds when its whole 95% interval is above the threshold, fails when wholly
//! below, and is inconclusive otherwise; a claim holds when every ratio lands where its fact
//! says, fails when one lands on the other side, and is inconclusive otherwise.

use serde::{Deserialize, Serialize};

use super::measure::LARGE;
use super::stats::Status;

/// What a ratio compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Metric {
    /// A 1-byte ping-pong's round-trip time, µs (smaller is faster).
    #[serde(rename = "rtt_us")]
    Rtt,
    /// Receiver-side MB/s (bigger is faster).
    #[serde(rename = "throughput_mb_s")]
    Throughput,
    /// A write-write-read exchange over TCP, µs (smaller is faster).
    #[serde(rename = "write_write_read_us")]
    WriteWriteRead,
}

impl Metric {
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Rtt => "rtt_us",
            Metric::Throughput => "throughput_mb_s",
            Metric::WriteWriteRead => "write_write_read_us",
        }
    }

    /// Whether a bigger value is faster (throughput) or slower (a time).
    pub fn bigger_is_faster(self) -> bool {
        self == Metric::Throughput
    }
}

/// One ratio a claim's fact names: how many times faster `a` is than `b`.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    pub metric: Metric,
    pub message_bytes: usize,
    pub a: &'static str,
    pub b: &'static str,
    pub threshold: f64,
    /// Where the fact puts the ratio: above the threshold (true) or below it.
    pub above: bool,
}

/// A speed claim and the ratios that decide it.
pub struct Spec {
    pub claim: &'static str,
    pub rows: Vec<Row>,
}

/// One step on the course's three-level speed scale (보통 → 높음 → 매우높음) is taken as
/// 1.25×: less is within the run-to-run spread of a loaded machine, so no reader could notice
/// it; two steps (매우높음 over 보통) as 1.5× (1.25² ≈ 1.56, rounded down).
pub const ONE_STEP: f64 = 1.25;
pub const TWO_STEPS: f64 = 1.5;

/// Nagle's stall is a delayed ACK (tens of milliseconds) against a round trip of microseconds;
/// "disables Nagle" is taken to mean the exchange gets at least ten times faster.
pub const NAGLE: f64 = 10.0;

/// The 5 ms scenario: the loopback kernel path's round trip is taken to be negligible when
/// at least ten of them fit in 5 ms (the kernel's share under a tenth of the budget).
pub const BUDGET_5MS: f64 = 10.0;

/// The name of the 5 ms budget as the `b` side of a ratio.
pub const FIVE_MS: &str = "5ms";
pub const FIVE_MS_US: f64 = 5_000.0;

pub fn specs() -> Vec<Spec> {
    let row = |metric, message_bytes, a, b, threshold, above| Row {
        metric,
        message_bytes,
        a,
        b,
        threshold,
        above,
    };
    // UDP's 높음 against TCP's 보통, read from either row of the table: one comparison.
    let udp_vs_tcp = || {
        [("udp-v4", "tcp-v4"), ("udp-v6", "tcp-v6")]
            .into_iter()
            .flat_map(|(a, b)| {
                [
                    row(Metric::Rtt, 1, a, b, ONE_STEP, true),
                    row(Metric::Throughput, 64, a, b, ONE_STEP, false),
                    row(Metric::Throughput, 1024, a, b, ONE_STEP, false),
                    row(Metric::Throughput, LARGE, a, b, ONE_STEP, false),
                ]
            })
            .collect::<Vec<_>>()
    };
    vec![
        Spec {
            claim: "unix.table.faster-than-loopback-tcp",
            rows: vec![
                row(Metric::Rtt, 1, "unix-stream", "tcp-v4", TWO_STEPS, true),
                row(
                    Metric::Throughput,
                    64,
                    "unix-stream",
                    "tcp-v4",
                    TWO_STEPS,
                    true,
                ),
                row(
                    Metric::Throughput,
                    1024,
                    "unix-stream",
                    "tcp-v4",
                    TWO_STEPS,
                    true,
                ),
                row(
                    Metric::Throughput,
                    LARGE,
                    "unix-stream",
                    "tcp-v4",
                    TWO_STEPS,
                    false,
                ),
            ],
        },
        Spec {
            claim: "udp.table.speed-high",
            rows: udp_vs_tcp(),
        },
        Spec {
            claim: "tcp.table.tcp-speed-medium",
            rows: udp_vs_tcp(),
        },
        Spec {
            claim: "options.nodelay.disables-nagle",
            rows: vec![row(
                Metric::WriteWriteRead,
                2,
                "tcp-v4-nodelay",
                "tcp-v4-nagle",
                NAGLE,
                true,
            )],
        },
        Spec {
            claim: "udp.realtime.position-updates-5ms",
            rows: vec![row(Metric::Rtt, 1, "udp-v4", FIVE_MS, BUDGET_5MS, true)],
        },
    ]
}

/// A claim's status from its ratios' statuses (in the order of its rows).
pub fn combine(rows: &[Row], statuses: &[Status]) -> Status {
    if statuses.contains(&Status::NotMeasured) {
        return Status::NotMeasured;
    }
    if statuses.len() < rows.len() {
        return Status::Inconclusive;
    }
    let expected = |row: &Row| {
        if row.above {
            Status::Holds
        } else {
            Status::Fails
        }
    };
    let mut all = Status::Holds;
    for (row, status) in rows.iter().zip(statuses) {
        match status {
            Status::Inconclusive => all = Status::Inconclusive,
            s if *s == expected(row) => {}
            _ => return Status::Fails,
        }
    }
    all
}
