//! `cargo claims bench`: the speed claims measured like a benchmark. Interleaved rounds over
//! six loopback transports (round-trip time by each of three methods, throughput at three
//! message sizes, Nagle's write-write-read stall), a bootstrap confidence interval for every
//! ratio a claim names, a verdict from each interval, a C reference for the round-trip loop,
//! and plots. Writes `target/claims/bench.json` and `target/claims/bench.md`; the report reads
//! the JSON.

mod plot;
mod reference;
mod render;
pub mod verdicts;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::exit::{bad_input, Exit};
use harness::bench::measure::{self, Method, Transport, SIZES};
use harness::bench::stats::{self, Ratio, Status};
use harness::bench::verdicts::{FIVE_MS, FIVE_MS_US};
use verdicts::Metric;

pub use render::{methods_table, ratio_line};

/// The whole bench's bound on a 2-core machine; each phase ends by its share of it.
const TOTAL: Duration = Duration::from_secs(60);
/// When each phase must be done, from the start (the rest is plots and files).
const RTT_BY: Duration = Duration::from_secs(14);
const RAW_BY: Duration = Duration::from_secs(19);
const REFERENCE_BY: Duration = Duration::from_secs(25);
const NAGLE_BY: Duration = Duration::from_secs(29);
const THROUGHPUT_BY: Duration = Duration::from_secs(TOTAL.as_secs() - 4);

/// Round trips per transport and method per round, and rounds: 10 × 2 000 = 20 000 each.
const RTT_ROUNDS: usize = 10;
const RTT_PER_ROUND: usize = 2_000;
/// Throughput rounds; each point gets 1 s in total across them (less if time runs short).
const THROUGHPUT_ROUNDS: usize = 6;
const THROUGHPUT_PER_POINT: Duration = Duration::from_secs(1);
/// Nagle rounds and exchanges per round (a stalled exchange costs a delayed ACK, ~40 ms).
const NAGLE_ROUNDS: usize = 8;
const NAGLE_PER_ROUND: usize = 3;
/// C reference rounds (each: the C loop, then the Rust loop, per transport).
const REFERENCE_ROUNDS: usize = 5;

/// The version of bench.json's layout; a file of another one is measured again, not misread.
/// 2: round trips by method (`method` on the rows).
pub const FORMAT: u32 = 2;

/// `target/claims/bench.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct BenchFile {
    /// [`FORMAT`]; absent (0) in files written before the methods.
    #[serde(default)]
    pub format: u32,
    /// `uname -r` of the kernel measured; the report uses the file only on that kernel.
    pub kernel: String,
    /// The evidence run it was measured beside (the newest in the evidence directory then, or
    /// the bench's own): `cargo claims` reports it with that run only.
    #[serde(default)]
    pub run: String,
    /// Why nothing was measured (CPU emulation, whose speed says nothing about the kernel):
    /// then every claim is not-measured and `results` and `ratios` are empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_measured: Option<String>,
    /// Every measured point.
    pub results: Vec<ResultRow>,
    /// Every ratio a speed claim names, with its interval and status.
    pub ratios: Vec<RatioRow>,
}

impl BenchFile {
    /// The measured ratio for one row of a claim's spec.
    pub fn ratio(&self, claim: &str, row: &verdicts::Row) -> Option<&RatioRow> {
        self.ratios.iter().find(|r| {
            r.claim == claim
                && r.metric == row.metric
                && r.method == row.method
                && r.message_bytes == row.message_bytes
                && r.a == row.a
                && r.b == row.b
                // Read back from JSON: 1/1.5 need not parse to the same last bit.
                && (r.threshold - row.threshold).abs() < 1e-9
        })
    }

    /// A claim's status from its measured ratios.
    pub fn claim_status(&self, spec: &verdicts::Spec) -> Status {
        if self.not_measured.is_some() {
            return Status::NotMeasured;
        }
        let statuses: Vec<Status> = spec
            .rows
            .iter()
            .filter_map(|row| self.ratio(spec.claim, row))
            .map(|r| r.status)
            .collect();
        verdicts::combine(&spec.rows, &statuses)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ResultRow {
    /// `unix-stream`, `unix-dgram`, `tcp-v4`, `tcp-v6`, `udp-v4`, `udp-v6`, or `netns:*` (raw comparison, as root).
    pub transport: String,
    pub metric: Metric,
    /// How a round trip (and Nagle's exchange, pinned: `same-cpu`) was measured; none for
    /// throughput (unpinned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<Method>,
    /// The message size (1 for round trips).
    pub message_bytes: usize,
    /// rtt: the median of every round trip; throughput: the median of the rounds.
    pub median: f64,
    /// rtt only: the 99th percentile of every round trip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99: Option<f64>,
    /// rtt only: the spread of every round trip, its 10th and 90th percentiles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread: Option<[f64; 2]>,
    /// The 95% bootstrap interval of the median over the rounds (of the rounds' medians).
    pub ci95: [f64; 2],
    /// The interleaved rounds measured.
    pub rounds: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct RatioRow {
    /// The speed claim the ratio belongs to.
    pub claim: String,
    pub metric: Metric,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<Method>,
    /// The message size both sides used.
    pub message_bytes: usize,
    /// The side expected to be faster.
    pub a: String,
    /// The side it is compared with (`5ms`: the 5 ms budget).
    pub b: String,
    /// How many times faster `a` was than `b` (the median of the per-round ratios).
    pub ratio: f64,
    /// The 95% bootstrap interval of the ratio over the rounds.
    pub ci95: [f64; 2],
    /// The ratio's line: above it `a` is that many times faster.
    pub threshold: f64,
    /// The interval against the threshold: holds (wholly above), fails (wholly below) or
    /// inconclusive.
    pub status: Status,
    /// Where the claim's fact puts the ratio: what `status` must be for the fact to hold.
    pub expect: verdicts::Expect,
}

/// One measured point: its per-round values and, for round trips, every sample.
#[derive(Default)]
struct Series {
    rounds: Vec<f64>,
    samples: Vec<f64>,
}

/// (transport, metric, message bytes, method).
type Key = (String, Metric, usize, Option<Method>);

/// Everything one bench run measured.
#[derive(Default)]
struct Run {
    series: BTreeMap<Key, Series>,
    /// Transports that failed or could not run, with why.
    dropped: BTreeMap<String, String>,
    /// Per transport: the C loop's and the Rust loop's round-trip medians, per round.
    reference: BTreeMap<Transport, (Vec<f64>, Vec<f64>)>,
    reference_skipped: Option<String>,
    notes: Vec<String>,
}

impl Run {
    fn push(&mut self, key: (&str, Metric, usize, Option<Method>), round: f64, samples: &[f64]) {
        let s = self
            .series
            .entry((key.0.to_string(), key.1, key.2, key.3))
            .or_default();
        s.rounds.push(round);
        s.samples.extend_from_slice(samples);
    }

    /// Runs one point; a panic (a bounded call that timed out, a refused socket) drops the
    /// transport from the rest of the run, with the reason.
    fn attempt<T>(&mut self, who: &str, f: impl FnOnce() -> T) -> Option<T> {
        if self.dropped.contains_key(who) {
            return None;
        }
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(v) => Some(v),
            Err(payload) => {
                let why = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "failed".into());
                self.dropped.insert(who.to_string(), why);
                None
            }
        }
    }
}

/// `cargo claims bench`.
pub fn main() -> ExitCode {
    let out = harness::record::claims_dir();
    if let Err(e) = std::fs::create_dir_all(&out) {
        return bad_input(format!("creating {}: {e}", out.display()));
    }
    let started = Instant::now();
    let emulated = std::env::var(harness::record::EMULATED_ENV)
        .ok()
        .filter(|v| !v.is_empty());
    // Under emulation the figures would be the emulator's: skip the 60 s of measuring.
    let run = match &emulated {
        Some(_) => Run::default(),
        None => measure_all(started, &out),
    };
    let mut file = summarise(&run);
    file.run = beside_run();
    file.not_measured = emulated
        .as_deref()
        .map(|how| format!("not measured under CPU emulation ({how})"));
    print!("{}", render::terminal(&file, &run));
    let plots = plot::draw(&file, &out);
    let md = render::markdown(&file, &run, &plots, emulated.as_deref(), started.elapsed());
    let json = serde_json::to_string_pretty(&file).expect("bench.json serialises");
    let written = std::fs::write(out.join("bench.json"), json)
        .and_then(|()| std::fs::write(out.join("bench.md"), md));
    if let Err(e) = written {
        return bad_input(format!("writing the bench to {}: {e}", out.display()));
    }
    println!(
        "bench: {} and bench.md in {:.1} s",
        out.join("bench.json").display(),
        started.elapsed().as_secs_f64()
    );
    Exit::Ok.into()
}

/// The run this bench belongs to: the newest run in the evidence directory, else its own.
fn beside_run() -> String {
    let records = harness::record::read_all(&harness::record::results_dir()).unwrap_or_default();
    records
        .iter()
        .max_by_key(|r| r.at_ms)
        .map(|r| r.run.clone())
        .unwrap_or_else(|| harness::run::id().to_string())
}

fn measure_all(started: Instant, out: &std::path::Path) -> Run {
    let mut run = Run::default();
    let transports: Vec<Transport> = Transport::ALL
        .into_iter()
        .filter(|t| {
            let ok = !t.is_v6() || harness::check::ipv6_available();
            if !ok {
                run.dropped
                    .insert(t.name().into(), "IPv6 is disabled on this kernel".into());
            }
            ok
        })
        .collect();
    let c_binary = reference::build(out);
    run.notes.push(match measure::pinning() {
        Ok(cpu) => format!(
            "the one-thread and same-cpu round trips and Nagle's exchange ran pinned to one CPU \
             (CPU {cpu} when checked), as did the C reference; the two-cpus round trips ran \
             unpinned on {} CPUs",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        ),
        Err(why) => format!(
            "every round trip ran unpinned ({why}): the same-cpu ones include cross-CPU \
             wake-ups, which on an idle virtual machine add tens of microseconds at random"
        ),
    });
    round_trips(&mut run, &transports, started);
    eprintln!("bench: raw IP round trips (in a private network namespace)");
    measure_raw(&mut run, left(started, RAW_BY));
    match c_binary {
        Err(why) => run.reference_skipped = Some(why),
        Ok(binary) => c_reference(&mut run, &transports, &binary, started),
    }
    nagle(&mut run, started);
    throughput(&mut run, &transports, started);
    run
}

/// What is left of the bench's time until `by` (from its start).
fn left(started: Instant, by: Duration) -> Duration {
    by.saturating_sub(started.elapsed())
}

/// Round-trip times by every method over every transport, in rotating order.
fn round_trips(run: &mut Run, transports: &[Transport], started: Instant) {
    let points: Vec<(Transport, Method)> = transports
        .iter()
        .flat_map(|&t| Method::ALL.map(|m| (t, m)))
        .collect();
    eprintln!(
        "bench: round trips ({RTT_ROUNDS} rounds × {RTT_PER_ROUND} per transport and method)"
    );
    for round in 0..RTT_ROUNDS {
        for (i, (t, method)) in rotated(&points, round).into_iter().enumerate() {
            let points_left = (RTT_ROUNDS - round) * points.len() - i;
            let limit = left(started, RTT_BY) / points_left as u32;
            if limit.is_zero() {
                break;
            }
            if let Some(times) = run.attempt(t.name(), || {
                measure::round_trips(t, method, RTT_PER_ROUND, limit)
            }) {
                let key = (t.name(), Metric::Rtt, 1, Some(method));
                run.push(key, stats::median(&times), &times);
            }
        }
    }
}

/// The C ping-pong against the Rust loop, transport by transport, in the same rounds.
fn c_reference(
    run: &mut Run,
    transports: &[Transport],
    binary: &std::path::Path,
    started: Instant,
) {
    eprintln!("bench: the C reference ({REFERENCE_ROUNDS} rounds)");
    'rounds: for round in 0..REFERENCE_ROUNDS {
        for t in rotated(transports, round) {
            if left(started, REFERENCE_BY).is_zero() {
                run.notes
                    .push("the C comparison ran out of its time share".into());
                break 'rounds;
            }
            let c = match reference::median_us(binary, t, RTT_PER_ROUND) {
                Ok((c, true)) => c,
                Ok((c, false)) => {
                    let note = "the C reference could not pin its threads to one CPU";
                    if !run.notes.iter().any(|n| n == note) {
                        run.notes.push(note.into());
                    }
                    c
                }
                Err(why) => {
                    run.reference_skipped = Some(why);
                    break 'rounds;
                }
            };
            let limit = left(started, REFERENCE_BY);
            if let Some(times) = run.attempt(t.name(), || {
                measure::round_trips(t, Method::SameCpu, RTT_PER_ROUND, limit)
            }) {
                let entry = run.reference.entry(t).or_default();
                entry.0.push(c);
                entry.1.push(stats::median(&times));
            }
        }
    }
}

/// Nagle's write-write-read exchange with and without TCP_NODELAY, alternating.
fn nagle(run: &mut Run, started: Instant) {
    eprintln!("bench: Nagle ({NAGLE_ROUNDS} rounds)");
    for round in 0..NAGLE_ROUNDS {
        let order = if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for nodelay in order {
            let limit = left(started, NAGLE_BY) / 2;
            if limit.is_zero() {
                break;
            }
            let name = nagle_name(nodelay);
            if let Some(times) = run.attempt(name, || {
                measure::write_write_read(nodelay, NAGLE_PER_ROUND, limit)
            }) {
                if !times.is_empty() {
                    run.push(
                        (name, Metric::WriteWriteRead, 2, Some(Method::SameCpu)),
                        stats::median(&times),
                        &times,
                    );
                }
            }
        }
    }
}

/// Throughput at each message size over every transport.
fn throughput(run: &mut Run, transports: &[Transport], started: Instant) {
    eprintln!(
        "bench: throughput ({THROUGHPUT_ROUNDS} rounds × {} points)",
        SIZES.len() * transports.len()
    );
    let points = SIZES.len() * transports.len();
    for round in 0..THROUGHPUT_ROUNDS {
        for (j, &size) in SIZES.iter().enumerate() {
            for (i, t) in rotated(transports, round + j).into_iter().enumerate() {
                let points_left = (THROUGHPUT_ROUNDS - round) * points - j * transports.len() - i;
                // The share of what is left, less a tenth for warm-up, setup and draining.
                let share = left(started, THROUGHPUT_BY) / points_left as u32;
                let span = (THROUGHPUT_PER_POINT / THROUGHPUT_ROUNDS as u32).min(share * 8 / 10);
                if span < Duration::from_millis(20) {
                    continue;
                }
                if let Some(mb_s) = run.attempt(t.name(), || measure::throughput(t, size, span)) {
                    run.push((t.name(), Metric::Throughput, size, None), mb_s, &[]);
                }
            }
        }
    }
}

/// The names of the raw comparison's sides: all three run in the same private namespace.
pub const NETNS_RAW: &str = "netns:raw-v4";
pub const NETNS_UDP: &str = "netns:udp-v4";
pub const NETNS_TCP: &str = "netns:tcp-v4";

/// Raw sockets need CAP_NET_RAW and, so that nothing they send reaches the host, a network
/// namespace of their own. As root a thread unshares one (the harness's sandbox) and runs raw,
/// UDP and TCP round trips there by each method in interleaved rounds; elsewhere the comparison is left out,
/// with the reason (`cargo test` runs the short version in a user namespace).
fn measure_raw(run: &mut Run, budget: Duration) {
    use harness::privileges::{has, Cap};
    let names: Vec<(Transport, &str, Method)> = [
        (Transport::RawV4, NETNS_RAW),
        (Transport::UdpV4, NETNS_UDP),
        (Transport::TcpV4, NETNS_TCP),
    ]
    .into_iter()
    .flat_map(|(t, name)| Method::ALL.map(|m| (t, name, m)))
    .collect();
    if !has(Cap::SysAdmin) || !has(Cap::NetRaw) {
        run.dropped.insert(
            NETNS_RAW.into(),
            "raw sockets are measured only as root (in a private network namespace)".into(),
        );
        return;
    }
    let measured = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                harness::sandbox::Netns::unshare_thread()?;
                let started = Instant::now();
                let mut rounds: Vec<(&str, Method, Vec<f64>)> = Vec::new();
                for round in 0..RTT_ROUNDS {
                    for (i, (t, name, method)) in rotated(&names, round).into_iter().enumerate() {
                        let points_left = (RTT_ROUNDS - round) * names.len() - i;
                        let limit = budget.saturating_sub(started.elapsed()) / points_left as u32;
                        if limit.is_zero() {
                            return Ok(rounds);
                        }
                        let times =
                            catch_unwind(|| measure::round_trips(t, method, RTT_PER_ROUND, limit))
                                .map_err(|_| {
                                    format!("{name} ({}): the round trips failed", method.name())
                                })?;
                        rounds.push((name, method, times));
                    }
                }
                Ok::<_, String>(rounds)
            })
            .join()
            .unwrap_or_else(|_| Err("the namespace thread failed".into()))
    });
    match measured {
        Ok(rounds) => {
            for (name, method, times) in rounds {
                let key = (name, Metric::Rtt, 1, Some(method));
                run.push(key, stats::median(&times), &times);
            }
        }
        Err(why) => {
            run.dropped.insert(NETNS_RAW.into(), why);
        }
    }
}

/// `items` rotated by `by`: each round starts with a different transport.
fn rotated<T: Copy>(items: &[T], by: usize) -> Vec<T> {
    let mut v = items.to_vec();
    if !v.is_empty() {
        let n = by % v.len();
        v.rotate_left(n);
    }
    v
}

fn nagle_name(nodelay: bool) -> &'static str {
    if nodelay {
        "tcp-v4-nodelay"
    } else {
        "tcp-v4-nagle"
    }
}

/// The per-round values of one side of a ratio (the 5 ms budget is a constant).
fn rounds_of(run: &Run, side: &str, row: &verdicts::Row) -> Option<Vec<f64>> {
    let key = |name: &str| (name.to_string(), row.metric, row.message_bytes, row.method);
    if side == FIVE_MS {
        let n = run.series.get(&key("udp-v4"))?.rounds.len();
        return Some(vec![FIVE_MS_US; n]);
    }
    run.series.get(&key(side)).map(|s| s.rounds.clone())
}

fn summarise(run: &Run) -> BenchFile {
    let results = run
        .series
        .iter()
        .map(|((transport, metric, size, method), s)| {
            let pooled = !s.samples.is_empty();
            let rtt = *metric == Metric::Rtt;
            ResultRow {
                transport: transport.clone(),
                metric: *metric,
                method: *method,
                message_bytes: *size,
                median: if pooled {
                    stats::median(&s.samples)
                } else {
                    stats::median(&s.rounds)
                },
                p99: rtt.then(|| stats::percentile(&s.samples, 99.0)),
                spread: rtt.then(|| {
                    [
                        stats::percentile(&s.samples, 10.0),
                        stats::percentile(&s.samples, 90.0),
                    ]
                }),
                ci95: stats::bootstrap(&s.rounds, stats::median),
                rounds: s.rounds.len(),
            }
        })
        .collect();
    let mut ratios = Vec::new();
    for spec in verdicts::specs() {
        for row in &spec.rows {
            let (Some(a), Some(b)) = (rounds_of(run, row.a, row), rounds_of(run, row.b, row))
            else {
                continue;
            };
            let ratio = if row.metric.bigger_is_faster() {
                Ratio::paired(&a, &b)
            } else {
                Ratio::paired(&b, &a)
            };
            if ratio.rounds == 0 {
                continue;
            }
            ratios.push(RatioRow {
                claim: spec.claim.into(),
                metric: row.metric,
                method: row.method,
                message_bytes: row.message_bytes,
                a: row.a.into(),
                b: row.b.into(),
                ratio: ratio.ratio,
                ci95: ratio.ci95,
                threshold: row.threshold,
                status: ratio.against(row.threshold),
                expect: row.expect,
            });
        }
    }
    BenchFile {
        format: FORMAT,
        kernel: harness::kernel::release(),
        run: String::new(),
        not_measured: None,
        results,
        ratios,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run as the bench would record it: every transport's round trips by every method,
    /// each `µs` per transport and method times a little per-round noise, ten rounds (and a
    /// throughput in proportion to the one-thread round trip's speed).
    pub(super) fn synthetic(us: &[(&str, [f64; 3])]) -> BenchFile {
        let mut run = Run::default();
        for round in 0..RTT_ROUNDS {
            let noise = 1.0 + 0.002 * (round % 3) as f64;
            for (name, by_method) in us {
                for (method, base) in Method::ALL.into_iter().zip(by_method) {
                    let t = base * noise;
                    run.push((name, Metric::Rtt, 1, Some(method)), t, &[t; 5]);
                }
                for size in SIZES {
                    run.push(
                        (name, Metric::Throughput, size, None),
                        1e3 / by_method[0],
                        &[],
                    );
                }
            }
        }
        summarise(&run)
    }

    /// Round trips like this machine's: Unix about 2× TCP in one thread, 1.3× on one CPU.
    pub(super) fn like_here() -> BenchFile {
        synthetic(&[
            ("tcp-v4", [2.6, 4.3, 4.3]),
            ("udp-v4", [1.9, 3.4, 3.4]),
            ("tcp-v6", [2.7, 4.4, 4.4]),
            ("udp-v6", [1.9, 3.5, 3.5]),
            ("unix-stream", [1.3, 3.2, 3.3]),
            (NETNS_TCP, [2.7, 4.4, 4.4]),
            (NETNS_UDP, [1.9, 3.4, 3.5]),
            (NETNS_RAW, [2.3, 3.9, 3.9]),
        ])
    }

    #[test]
    fn each_round_trip_ratio_is_taken_within_one_method() {
        let file = like_here();
        let unix: Vec<(Method, f64)> = file
            .ratios
            .iter()
            .filter(|r| r.claim == "unix.table.faster-than-loopback-tcp" && r.threshold == 1.0)
            .map(|r| (r.method.expect("a round trip has a method"), r.ratio))
            .collect();
        let near = |x: f64, y: f64| (x - y).abs() < 0.01;
        assert_eq!(unix.len(), 3, "{unix:?}");
        assert!(
            near(unix[0].1, 2.6 / 1.3) && unix[0].0 == Method::OneThread,
            "{unix:?}"
        );
        assert!(
            near(unix[1].1, 4.3 / 3.2) && unix[1].0 == Method::SameCpu,
            "{unix:?}"
        );
        assert!(
            near(unix[2].1, 4.3 / 3.3) && unix[2].0 == Method::TwoCpus,
            "{unix:?}"
        );
        let json = serde_json::to_string(&file).expect("serialises");
        let back: BenchFile = serde_json::from_str(&json).expect("parses");
        assert_eq!(back.format, FORMAT);
        assert_eq!(back.ratios.len(), file.ratios.len());
    }
}
