//! The speed claims as measurable statements: for each claim, the ratios its fact names (metric,
//! round-trip method, message size, the two sides, the threshold) and on which side of the
//! threshold the fact puts each. A round-trip ratio is named once per method: the methods
//! disagree (Unix over TCP is about 3× in one thread and about 1.4× between two threads on one
//! CPU), so a fact says where each lands, or that it decides nothing. A ratio holds when its whole 95% interval is above the threshold, fails when wholly
//! below, and is inconclusive otherwise; a claim holds when every ratio lands where its fact
//! says, fails when one lands on the other side, and is inconclusive otherwise.

use serde::{Deserialize, Serialize};

use super::{NETNS_RAW, NETNS_TCP, NETNS_UDP};
use harness::bench::measure::{Method, LARGE};
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
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

impl Expect {
    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Above => "above",
            Expect::Below => "below",
            Expect::Either => "either",
        }
    }

    /// A ratio's interval against its threshold, read against where the fact puts it: below a
    /// threshold the fact says it is below reads "as the fact says", not "fails".
    pub fn reading(self, status: Status) -> &'static str {
        match (self, status) {
            (_, Status::NotMeasured) => "not measured",
            (Expect::Either, _) => "reported, decides nothing",
            (_, Status::Inconclusive) => "inconclusive",
            (Expect::Above, Status::Holds) | (Expect::Below, Status::Fails) => "as the fact says",
            _ => "against the fact",
        }
    }
}

/// Where the whole interval lies against the threshold.
pub fn side(status: Status) -> &'static str {
    match status {
        Status::Holds => "above",
        Status::Fails => "below",
        Status::Inconclusive => "straddles",
        Status::NotMeasured => "not measured",
    }
}

/// One ratio a claim's fact names: how many times faster `a` is than `b`.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    pub metric: Metric,
    /// How the round trips (and Nagle's exchange) were measured; none for throughput.
    pub method: Option<Method>,
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

/// Per method ([`Method::ALL`]'s order: one thread, same CPU, two CPUs), where a fact puts a
/// round-trip ratio.
type PerMethod = [Expect; 3];

pub fn specs() -> Vec<Spec> {
    use Expect::{Above, Either};
    let row = |metric, method, message_bytes, a, b, threshold, expect| Row {
        metric,
        method,
        message_bytes,
        a,
        b,
        threshold,
        expect,
    };
    // One round-trip ratio, once per method.
    let rtt = |a, b, threshold, expect: PerMethod| {
        Method::ALL
            .into_iter()
            .zip(expect)
            .map(move |(m, e)| row(Metric::Rtt, Some(m), 1, a, b, threshold, e))
    };
    let throughput = |a, b, threshold| {
        [64, 1024, LARGE]
            .into_iter()
            .map(move |size| row(Metric::Throughput, None, size, a, b, threshold, Either))
    };
    let (unix, tcp) = ("unix-stream", "tcp-v4");
    let udp_vs_tcp = || {
        [("udp-v4", "tcp-v4"), ("udp-v6", "tcp-v6")]
            .into_iter()
            .flat_map(|(a, b)| {
                rtt(a, b, FASTER, PINNED_ABOVE)
                    .chain(rtt(a, b, TWO_STEPS, PINNED_BELOW))
                    .chain(throughput(a, b, FASTER))
            })
            .collect::<Vec<_>>()
    };
    vec![
        Spec {
            claim: "unix.table.faster-than-loopback-tcp",
            rows: rtt(unix, tcp, FASTER, PINNED_ABOVE)
                .chain(rtt(unix, tcp, TWO_STEPS, [Either; 3]))
                .chain(throughput(unix, tcp, TWO_STEPS))
                .collect(),
        },
        Spec {
            claim: "udp.table.speed-high",
            rows: udp_vs_tcp(),
        },
        // TCP the slowest of the table's four: each other's round trip shorter.
        Spec {
            claim: "tcp.table.tcp-speed-medium",
            rows: [
                ("udp-v4", "tcp-v4"),
                ("udp-v6", "tcp-v6"),
                (NETNS_RAW, NETNS_TCP),
                (unix, tcp),
            ]
            .into_iter()
            .flat_map(|(a, b)| rtt(a, b, FASTER, PINNED_ABOVE))
            .chain(throughput("udp-v4", "tcp-v4", FASTER))
            .chain(throughput("udp-v6", "tcp-v6", FASTER))
            .collect(),
        },
        Spec {
            claim: "udp.table.raw-speed-high",
            rows: rtt(NETNS_RAW, NETNS_UDP, ONE_STEP, PINNED_BELOW)
                .chain(rtt(NETNS_RAW, NETNS_UDP, 1.0 / ONE_STEP, PINNED_ABOVE))
                .chain(rtt(NETNS_RAW, NETNS_TCP, FASTER, PINNED_ABOVE))
                .collect(),
        },
        Spec {
            claim: "options.nodelay.disables-nagle",
            rows: vec![row(
                Metric::WriteWriteRead,
                Some(Method::SameCpu),
                2,
                "tcp-v4-nodelay",
                "tcp-v4-nagle",
                NAGLE,
                Above,
            )],
        },
        Spec {
            claim: "udp.realtime.position-updates-5ms",
            rows: rtt("udp-v4", FIVE_MS, BUDGET_5MS, [Above; 3]).collect(),
        },
    ]
}

/// A bound the facts state for the round trip in one thread and between two threads on one
/// CPU; between unpinned threads the scheduler's wake-ups (tens of µs on an idle machine, at
/// random) can hide a microsecond, so that ratio is reported and decides nothing.
const PINNED_ABOVE: PerMethod = [Expect::Above, Expect::Above, Expect::Either];
const PINNED_BELOW: PerMethod = [Expect::Below, Expect::Below, Expect::Either];

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
        // Above 1× in one thread and on one CPU (between unpinned threads: reported); against
        // 2×: reported by every method; throughput decides nothing.
        let as_stated = [h, h, i, i, f, h, f, h, i];
        assert_eq!(combine(&rows, &as_stated), Status::Holds);
        let mut straddling = as_stated;
        straddling[1] = i;
        assert_eq!(combine(&rows, &straddling), Status::Inconclusive);
        let mut against = as_stated;
        against[0] = f;
        assert_eq!(combine(&rows, &against), Status::Fails);
        assert_eq!(combine(&rows, &[h, h]), Status::Inconclusive);
    }
}
