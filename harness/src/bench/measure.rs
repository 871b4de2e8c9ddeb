//! The measurements behind the speed claims, one source for `cargo claims bench` and for the
//! short tests: a 1-byte ping-pong's round-trip times, receiver-side throughput, and the
//! write-write-read exchange that Nagle's algorithm stalls. Each runs over a fresh pair of
//! loopback sockets from [`crate::peers`] (SO_RCVTIMEO/SO_SNDTIMEO set, so nothing blocks
//! for long) with the harness's bounded I/O.
//!
//! A round trip is measured three ways ([`Method`]), because they answer different questions
//! and disagree: in one thread (the kernel's socket path alone), between two threads pinned to
//! one CPU (each message also a wake-up and a context switch), and between two unpinned threads
//! (where the scheduler puts them; across CPUs a message also wakes the other CPU, which on an
//! idle virtual machine is a halted vCPU's wake-up, ~50 µs at random, and which load hides).
//! The other end is a peer thread, not a forked process: the short tests run inside libtest's
//! multithreaded process, where a forked child may only make async-signal-safe calls. The C
//! reference (`benches/pingpong.c`) pins its two threads like [`Method::SameCpu`], so the two
//! loops compare like for like.

use std::net::Shutdown;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sched::{sched_getaffinity, sched_getcpu, sched_setaffinity, CpuSet};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use socket2::{Protocol, Socket};

use super::stats::Ratio;
use crate::peers::{self, Family, SocketKind};
use crate::wait::{self, Deadline};

/// The socket kinds the bench compares, all on loopback.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    UnixStream,
    UnixDgram,
    TcpV4,
    TcpV6,
    UdpV4,
    UdpV6,
    /// Raw IPv4 sockets of an unassigned protocol (253, for experiments) between 127.0.0.1 and
    /// 127.0.0.2: needs CAP_NET_RAW, so only inside a private network namespace. Not in
    /// [`Transport::ALL`].
    RawV4,
}

impl Transport {
    pub const ALL: [Transport; 6] = [
        Transport::UnixStream,
        Transport::UnixDgram,
        Transport::TcpV4,
        Transport::TcpV6,
        Transport::UdpV4,
        Transport::UdpV6,
    ];

    /// The socket kind of the tests' vocabulary this transport measures.
    pub fn kind(self) -> SocketKind {
        match self {
            Transport::UnixStream => SocketKind::UNIX_STREAM,
            Transport::UnixDgram => SocketKind::UNIX_DGRAM,
            Transport::TcpV4 => SocketKind::TCP_V4,
            Transport::TcpV6 => SocketKind::TCP_V6,
            Transport::UdpV4 => SocketKind::UDP_V4,
            Transport::UdpV6 => SocketKind::UDP_V6,
            Transport::RawV4 => SocketKind::raw_v4(),
        }
    }

    /// The name in bench.json: `unix-stream`, `tcp-v4`, … (the kind's name).
    pub fn name(self) -> &'static str {
        self.kind().name
    }

    pub fn is_stream(self) -> bool {
        self.kind().is_stream()
    }

    pub fn is_v6(self) -> bool {
        self.kind().family() == Some(Family::V6)
    }

    /// What a read returns before the payload: a raw IPv4 socket receives the IP header.
    fn header_bytes(self) -> usize {
        if self == Transport::RawV4 {
            20
        } else {
            0
        }
    }

    /// A connected pair `(client, server)` of the transport's kind, TCP with TCP_NODELAY on
    /// both ends (so a 1-byte message is never held back by Nagle).
    pub fn pair(self) -> (Socket, Socket) {
        let p = self.kind().pair();
        if self.kind().protocol == Some(Protocol::TCP) {
            for s in [&p.client, &p.server] {
                s.set_tcp_nodelay(true).expect("TCP_NODELAY");
            }
        }
        (p.client, p.server)
    }
}

/// How a round trip is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// One thread sends the ping, receives it on the other socket, sends the pong back and
    /// receives it: the kernel's socket path alone, no wake-up, no context switch.
    OneThread,
    /// The echo on a second thread, both pinned to one CPU: each message also a wake-up and a
    /// context switch on that CPU (the short tests' method).
    SameCpu,
    /// The echo on a second thread, neither pinned: the scheduler places them, as an
    /// application's, usually on two CPUs; its spread is wide (cross-CPU wake-ups).
    TwoCpus,
}

impl Method {
    pub const ALL: [Method; 3] = [Method::OneThread, Method::SameCpu, Method::TwoCpus];

    /// The name in bench.json: `one-thread`, `same-cpu`, `two-cpus`.
    pub fn name(self) -> &'static str {
        match self {
            Method::OneThread => "one-thread",
            Method::SameCpu => "same-cpu",
            Method::TwoCpus => "two-cpus",
        }
    }

    /// In the words an author would use, English and Korean.
    pub fn words(self) -> (&'static str, &'static str) {
        match self {
            Method::OneThread => ("in one thread", "한 스레드 안에서"),
            Method::SameCpu => (
                "between two threads on one CPU",
                "한 CPU의 두 스레드 사이에서",
            ),
            Method::TwoCpus => (
                "between two unpinned threads (two CPUs)",
                "고정하지 않은 두 스레드(두 CPU) 사이에서",
            ),
        }
    }
}

/// The large message size: 64 KiB does not fit one UDP datagram (IPv4 carries at most 65 507
/// bytes of payload; IPv6 on `lo`, MTU 65 536, at most 65 488 unfragmented), so every transport
/// is measured at 65 000 bytes and all compare at the same size.
pub const LARGE: usize = 65_000;

/// The message sizes of the throughput points.
pub const SIZES: [usize; 3] = [64, 1024, LARGE];

/// Tells the peer the exchange is over: EOF for a stream, an empty datagram otherwise (a
/// datagram socket has no EOF).
fn hang_up(client: &Socket, stream: bool) {
    if stream {
        let _ = client.shutdown(Shutdown::Write);
    } else {
        // Thrice: a datagram may be lost; the peer stops at the first.
        for _ in 0..3 {
            let _ = client.send(&[]);
        }
    }
}

/// The calling thread pinned to the CPU it runs on, until dropped (then its previous mask is
/// back). Threads it spawns meanwhile inherit the one-CPU mask, so a measurement and its peer
/// thread share that CPU.
pub struct OneCpu {
    previous: Option<CpuSet>,
}

impl OneCpu {
    /// Pins the calling thread. Where that is refused (a cpuset that forbids it, EINVAL) the
    /// thread stays as it was; [`pinning`] says why, for the record.
    pub fn pin() -> OneCpu {
        OneCpu {
            previous: Self::try_pin().ok(),
        }
    }

    fn try_pin() -> Result<CpuSet, String> {
        let me = Pid::from_raw(0);
        let previous = sched_getaffinity(me).map_err(|e| format!("sched_getaffinity: {e}"))?;
        let cpu = sched_getcpu().map_err(|e| format!("sched_getcpu: {e}"))?;
        let mut one = CpuSet::new();
        one.set(cpu).map_err(|e| format!("CPU {cpu}: {e}"))?;
        sched_setaffinity(me, &one).map_err(|e| format!("sched_setaffinity(CPU {cpu}): {e}"))?;
        Ok(previous)
    }
}

impl Drop for OneCpu {
    fn drop(&mut self) {
        if let Some(previous) = &self.previous {
            // The mask this thread had a moment ago; were it refused now, the thread would
            // only stay on one CPU (and a panic here could abort an unwinding thread).
            let _ = sched_setaffinity(Pid::from_raw(0), previous);
        }
    }
}

/// Whether the measurements can pin themselves to one CPU here: `Ok(cpu)` or why not (they
/// then run unpinned, and cross-CPU wake-ups add to the round trips).
pub fn pinning() -> Result<usize, String> {
    let _restore = OneCpu {
        previous: Some(OneCpu::try_pin()?),
    };
    sched_getcpu().map_err(|e| format!("sched_getcpu: {e}"))
}

/// How long a datagram ping waits for its pong before it counts as lost: UDP may drop a
/// datagram (a loopback backlog full of other traffic), which must cost neither the bound of a
/// blocking read nor a wrong time.
const LOSS_WAIT: Duration = Duration::from_millis(200);
/// More lost pings than this in one run is not loss but a broken path.
const MAX_LOST: usize = 50;

/// Up to `n` 1-byte round trips (ping, echoed pong) measured by `method`, stopping early once
/// `limit` has passed: each round trip's time in microseconds. The byte is a sequence number:
/// a datagram ping whose pong does not come within [`LOSS_WAIT`] is counted lost and not
/// timed, and a pong that comes late is skipped.
pub fn round_trips(t: Transport, method: Method, n: usize, limit: Duration) -> Vec<f64> {
    crate::wait::step(&format!(
        "measuring {} round trips ({})",
        t.name(),
        method.name()
    ));
    let _pinned = (method != Method::TwoCpus).then(OneCpu::pin);
    let (client, server) = t.pair();
    let header = t.header_bytes();
    let datagrams = !t.is_stream();
    if datagrams {
        client
            .set_read_timeout(Some(LOSS_WAIT))
            .expect("SO_RCVTIMEO");
    }
    let mut buf = [0u8; 64];
    let (mut seq, mut lost) = (0u8, 0);
    let mut times = Vec::with_capacity(n);
    let mut timed = |one: &mut dyn FnMut(u8, &mut [u8]) -> bool| {
        let started = Instant::now();
        while times.len() < n {
            let t0 = Instant::now();
            if t0 - started >= limit {
                break;
            }
            seq = seq.wrapping_add(1);
            if one(seq, &mut buf) {
                times.push(t0.elapsed().as_secs_f64() * 1e6);
            } else {
                lost += 1;
                assert!(lost <= MAX_LOST, "bench: {} lost {lost} pings", t.name());
            }
        }
    };
    if method == Method::OneThread {
        if datagrams {
            server
                .set_read_timeout(Some(LOSS_WAIT))
                .expect("SO_RCVTIMEO");
        }
        timed(&mut |seq, buf| {
            peers::write_all(&client, &[seq], "bench: send the ping");
            let got = match peers::read_into(&server, buf) {
                Ok(got) if got > header => got,
                Ok(_) => panic!("bench: the ping: EOF"),
                Err(Errno::EAGAIN) if datagrams => return false,
                Err(e) => panic!("bench: the ping: {e}"),
            };
            let ping = buf[header..got].to_vec();
            peers::write_all(&server, &ping, "bench: send the pong");
            pong(&client, buf, header, seq, datagrams)
        });
        return times;
    }
    let echo = peers::spawn("bench echo", move || {
        let mut buf = [0u8; 64];
        // Nothing past the header is the hang-up; a read that fails or times out means the
        // pinging side is gone: nothing to report either way.
        while let Ok(got) = peers::read_into(&server, &mut buf) {
            if got <= header {
                break;
            }
            peers::write_all(&server, &buf[header..got], "bench echo: send the pong");
        }
    });
    timed(&mut |seq, buf| {
        peers::write_all(&client, &[seq], "bench: send the ping");
        pong(&client, buf, header, seq, datagrams)
    });
    hang_up(&client, t.is_stream());
    echo.join(2 * wait::STEP);
    times
}

/// Reads until the pong to ping `seq` arrives (true), skipping late pongs to earlier pings;
/// false when a datagram's wait ran out (lost). One read per pong, as a C loop makes.
fn pong(client: &Socket, buf: &mut [u8], header: usize, seq: u8, datagrams: bool) -> bool {
    loop {
        match peers::read_into(client, buf) {
            Ok(got) if got > header && buf[header] == seq => return true,
            Ok(got) if got > header => {}
            Ok(_) => panic!("bench: the pong: EOF"),
            Err(Errno::EAGAIN) if datagrams => return false,
            Err(e) => panic!("bench: the pong: {e}"),
        }
    }
}

/// Receiver-side throughput in MB/s (10^6 bytes per second) while a peer thread sends
/// `message`-byte messages as fast as it can, measured over `span` after a warm-up of a tenth
/// of it. A stream receiver reads up to 64 KiB per call (what a stream reader does); a datagram
/// receiver reads one datagram per call (all it can). UDP drops what the receiver has no room
/// for: only what arrived counts. Not pinned: the sender and the receiver run where the
/// scheduler puts them, as an application's would, so which transport moves more bytes per
/// second changes with load (the claims report it and let it decide nothing).
pub fn throughput(t: Transport, message: usize, span: Duration) -> f64 {
    crate::wait::step(&format!(
        "measuring {} throughput ({message}-byte messages)",
        t.name()
    ));
    let (tx, rx) = t.pair();
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let (stop_tx, done_tx) = (stop.clone(), done.clone());
    let sender = peers::spawn("bench sender", move || {
        let data = vec![7u8; message];
        while !stop_tx.load(Ordering::Relaxed) {
            peers::write_all(&tx, &data, "bench: send a message");
        }
        done_tx.store(true, Ordering::Release);
    });
    let mut buf = vec![
        0u8;
        if t.is_stream() {
            message.max(64 << 10)
        } else {
            message
        }
    ];
    let read = |buf: &mut [u8]| match peers::read_into(&rx, buf) {
        Ok(n) => n,
        Err(e) => panic!("bench: receive ({} {message} B): {e}", t.name()),
    };
    let warm_up = Instant::now();
    while warm_up.elapsed() < span / 10 {
        read(&mut buf);
    }
    let started = Instant::now();
    let mut bytes = 0u64;
    let elapsed = loop {
        bytes += read(&mut buf) as u64;
        let elapsed = started.elapsed();
        if elapsed >= span {
            break elapsed;
        }
    };
    stop.store(true, Ordering::Relaxed);
    drain(&rx, &mut buf, &done);
    sender.join(wait::STEP);
    bytes as f64 / elapsed.as_secs_f64() / 1e6
}

/// Reads until the sender has stopped (and, for a stream, closed): a sender blocked on a full
/// queue finishes its message and sees the stop.
fn drain(rx: &Socket, buf: &mut [u8], done: &AtomicBool) {
    let deadline = Deadline::after(2 * wait::STEP, "bench: the sender did not stop");
    loop {
        let readable = wait::poll_readable(rx.as_fd(), Duration::from_millis(5));
        if !readable && done.load(Ordering::Acquire) {
            return;
        }
        if readable {
            match peers::read_into(rx, buf) {
                Ok(0) => return,
                Ok(_) | Err(Errno::EAGAIN) => {}
                Err(e) => panic!("bench: draining: {e}"),
            }
        }
        deadline.remaining();
    }
}

/// Up to `n` write-write-read exchanges over a fresh loopback TCP connection (IPv4): the client
/// writes one byte, then another, then waits for the server's 1-byte answer, which comes once
/// both arrived. Each exchange's time in microseconds. The first exchange is not counted: a
/// new connection starts in quick-ACK mode, where Nagle's wait ends at once.
pub fn write_write_read(nodelay: bool, n: usize, limit: Duration) -> Vec<f64> {
    crate::wait::step(&format!(
        "measuring write-write-read exchanges (TCP_NODELAY {nodelay})"
    ));
    let _pinned = OneCpu::pin();
    let pair = SocketKind::TCP_V4.pair();
    pair.client.set_tcp_nodelay(nodelay).expect("TCP_NODELAY");
    let server = pair.server;
    let answerer = peers::spawn("bench: answers every two bytes", move || {
        let mut buf = [0u8; 2];
        let mut have = 0;
        while let Ok(got @ 1..) = peers::read_into(&server, &mut buf[have..]) {
            have += got;
            if have == 2 {
                have = 0;
                peers::write_all(&server, b"r", "bench: the answer");
            }
        }
    });
    let started = Instant::now();
    let mut times = Vec::with_capacity(n);
    for i in 0..=n {
        let t0 = Instant::now();
        if i > 0 && t0 - started >= limit {
            break;
        }
        peers::write_all(&pair.client, b"a", "bench: the first write");
        peers::write_all(&pair.client, b"b", "bench: the second write");
        peers::read_exact(&pair.client, 1, "bench: the answer to both writes");
        if i > 0 {
            times.push(t0.elapsed().as_secs_f64() * 1e6);
        }
    }
    hang_up(&pair.client, true);
    answerer.join(wait::STEP);
    times
}

/// Interleaved rounds of two measurements (`a` then `b`, then `b` then `a`, …, so neither
/// always runs first): each round's value of each, until `rounds` are done or `budget` is
/// spent (a round that started runs to its end).
pub fn interleave(
    rounds: usize,
    budget: Duration,
    mut a: impl FnMut() -> f64,
    mut b: impl FnMut() -> f64,
) -> (Vec<f64>, Vec<f64>) {
    let started = Instant::now();
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        if started.elapsed() >= budget {
            break;
        }
        if round % 2 == 0 {
            xs.push(a());
            ys.push(b());
        } else {
            ys.push(b());
            xs.push(a());
        }
    }
    (xs, ys)
}

/// The short tests' rounds: ten, each up to 2 000 round trips, all within two seconds, so a
/// test stays short and leaves a verdict to the bench when load makes its interval straddle
/// the threshold.
const SHORT_ROUNDS: usize = 10;
const SHORT_BUDGET: Duration = Duration::from_secs(2);
const SHORT_ROUND_TRIPS: usize = 2_000;

/// The median round trip of one short round over `t`, µs.
fn short_round(t: Transport) -> f64 {
    super::stats::median(&round_trips(
        t,
        Method::SameCpu,
        SHORT_ROUND_TRIPS,
        SHORT_BUDGET / 4,
    ))
}

/// How many times faster `a`'s round trips are than `b`'s, over short interleaved rounds.
pub fn compare_round_trips(a: Transport, b: Transport) -> Ratio {
    let (a, b) = interleave(
        SHORT_ROUNDS,
        SHORT_BUDGET,
        || short_round(a),
        || short_round(b),
    );
    Ratio::paired(&b, &a)
}

/// The median round trip over `t` in each of the short rounds, µs.
pub fn short_round_trips(t: Transport) -> Vec<f64> {
    let started = Instant::now();
    (0..SHORT_ROUNDS)
        .map_while(|_| (started.elapsed() < SHORT_BUDGET).then(|| short_round(t)))
        .collect()
}

/// How many times faster a write-write-read exchange is with TCP_NODELAY than without, over
/// short interleaved rounds (the median of three exchanges each, so a writer preempted between
/// its two writes, whose first byte was acknowledged in time, does not decide a round; a
/// stalled exchange costs a delayed ACK, ~40 ms).
pub fn compare_nagle() -> Ratio {
    let exchange = |nodelay| super::stats::median(&write_write_read(nodelay, 3, SHORT_BUDGET));
    let (nodelay, nagle) = interleave(
        SHORT_ROUNDS,
        SHORT_BUDGET,
        || exchange(true),
        || exchange(false),
    );
    Ratio::paired(&nagle, &nodelay)
}
