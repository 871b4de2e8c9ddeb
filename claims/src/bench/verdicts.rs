//! The speed claims as measurable statements: for each claim, the ratios its fact names (metric,
//! message size, the two sides, the threshold) and on which side of the threshold the fact puts
//! each. A ratio holds when its whole 95% interval is above the threshold, fails when wholly
//! below, and is inconclusive otherwise; a claim holds when every ratio lands where its fact
//! says, fails when one lands on the other side, and is inconclusive otherwise.

use serde::{Deserialize, Serialize};

use super::{NETNS_RAW, NETNS_TCP, NETNS_UDP};
use harness::bench::measure::LARGE;
use harness::bench::stats::Status;
use harness::bench::verdicts::{BUDGET_5MS, FASTER, FIVE_MS, NAGLE, ONE_STEP, TWO_STEPS};

/// What a ratio compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
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

/// Where a claim's fact puts a ratio.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The whole interval above the threshold.
    Above,
    /// The whole interval below it.
    Below,
    /// No side: the ratio changes sides with the message size and the load (throughput: on an
    /// idle machine UDP moved more than TCP at every size, under load TCP moved several times
    /// more at 64 B and 1 KiB), so it is reported for the verdict on the course's words but
    /// decides nothing.
    Either,
}

/// One ratio a claim's fact names: how many times faster `a` is than `b`.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    pub metric: Metric,
    pub message_bytes: usize,
    pub a: &'static str,
    pub b: &'static str,
    pub threshold: f64,
    pub expect: Expect,
}

/// A speed claim and the ratios that decide it.
pub struct Spec {
    pub claim: &'static str,
    pub rows: Vec<Row>,
}

pub fn specs() -> Vec<Spec> {
    use Expect::{Above, Below, Either};
    let row = |metric, message_bytes, a, b, threshold, expect| Row {
        metric,
        message_bytes,
        a,
        b,
        threshold,
        expect,
    };
    // UDP's 높음 against TCP's 보통: one comparison, read from either row of the table.
    let udp_vs_tcp = || {
        [("udp-v4", "tcp-v4"), ("udp-v6", "tcp-v6")]
            .into_iter()
            .flat_map(|(a, b)| {
                [
                    row(Metric::Rtt, 1, a, b, FASTER, Above),
                    row(Metric::Rtt, 1, a, b, ONE_STEP, Below),
                    row(Metric::Throughput, 64, a, b, FASTER, Either),
                    row(Metric::Throughput, 1024, a, b, FASTER, Either),
                    row(Metric::Throughput, LARGE, a, b, FASTER, Either),
                ]
            })
            .collect::<Vec<_>>()
    };
    let (unix, tcp) = ("unix-stream", "tcp-v4");
    vec![
        Spec {
            claim: "unix.table.faster-than-loopback-tcp",
            rows: vec![
                row(Metric::Rtt, 1, unix, tcp, FASTER, Above),
                row(Metric::Rtt, 1, unix, tcp, TWO_STEPS, Below),
                row(Metric::Throughput, 64, unix, tcp, TWO_STEPS, Either),
                row(Metric::Throughput, 1024, unix, tcp, TWO_STEPS, Either),
                row(Metric::Throughput, LARGE, unix, tcp, TWO_STEPS, Either),
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
            claim: "udp.table.raw-speed-high",
            rows: vec![
                row(Metric::Rtt, 1, NETNS_RAW, NETNS_UDP, ONE_STEP, Below),
                row(Metric::Rtt, 1, NETNS_RAW, NETNS_TCP, ONE_STEP, Below),
            ],
        },
        Spec {
            claim: "options.nodelay.disables-nagle",
            rows: vec![row(
                Metric::WriteWriteRead,
                2,
                "tcp-v4-nodelay",
                "tcp-v4-nagle",
                NAGLE,
                Above,
            )],
        },
        Spec {
            claim: "udp.realtime.position-updates-5ms",
            rows: vec![row(Metric::Rtt, 1, "udp-v4", FIVE_MS, BUDGET_5MS, Above)],
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
    let mut all = Status::Holds;
    for (row, status) in rows.iter().zip(statuses) {
        let expected = match row.expect {
            Expect::Above => Status::Holds,
            Expect::Below => Status::Fails,
            Expect::Either => continue,
        };
        match status {
            Status::Inconclusive => all = Status::Inconclusive,
            s if *s == expected => {}
            _ => return Status::Fails,
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_holds_when_each_sided_ratio_lands_where_its_fact_says() {
        let spec = specs()
            .into_iter()
            .find(|s| s.claim == "unix.table.faster-than-loopback-tcp");
        let rows = spec.expect("the Unix claim").rows;
        let (h, f, i) = (Status::Holds, Status::Fails, Status::Inconclusive);
        assert_eq!(combine(&rows, &[h, f, h, f, i]), Status::Holds);
        assert_eq!(combine(&rows, &[h, i, h, h, h]), Status::Inconclusive);
        assert_eq!(combine(&rows, &[f, f, h, h, h]), Status::Fails);
        assert_eq!(combine(&rows, &[h, f]), Status::Inconclusive);
    }
}
