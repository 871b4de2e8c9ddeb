//! Section 07-12, first half, and the overview's option, buffer and debugging claims:
//! SO_REUSEADDR and TIME_WAIT, TCP_NODELAY, buffer sizes and autotuning, TCP_INFO, /proc/net and
//! the protocol counters, and the debugging commands the course lists (ss, lsof, nc/telnet).

use std::mem::size_of;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::errno;
use harness::peers::{self, tcp_info, Family, SocketKind};
use harness::privileges::{self, as_unprivileged};
use harness::sysctl::sysctl;
use harness::tools;
use harness::wait::{self, STEP};
use harness::{claim, Cap};
use nix::errno::Errno;
use nix::poll::PollFlags;
use nix::sys::socket::{setsockopt, sockopt};
use rstest::rstest;
use socket2::{Protocol, Socket, Type};

use Family::{V4, V6};

/// `tcpi_state` values (include/net/tcp_states.h; libc does not export them).
const TCP_ESTABLISHED: u8 = 1;
const TCP_CLOSE_WAIT: u8 = 8;

/// The rows of /proc/net/tcp{,6} (split into columns) of the sockets whose local port is `port`.
fn proc_tcp_rows(family: Family, port: u16) -> Vec<Vec<String>> {
    let file = if family.is_v6() { "tcp6" } else { "tcp" };
    let table = std::fs::read_to_string(format!("/proc/thread-self/net/{file}"))
        .unwrap_or_else(|e| panic!("/proc/thread-self/net/{file}: {e}"));
    table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .filter(|cols| {
            cols.get(1)
                .and_then(|c| c.rsplit_once(':'))
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
                == Some(port)
        })
        .collect()
}

/// The TCP states (hex, as /proc/net/tcp prints them) of the sockets whose local port is `port`.
fn proc_tcp_states(family: Family, port: u16) -> Vec<String> {
    proc_tcp_rows(family, port)
        .into_iter()
        .map(|cols| cols[3].clone())
        .collect()
}

#[rstest]
fn rebind_during_time_wait_needs_reuseaddr(
    #[values(V4, V6)] family: Family,
    #[values(true, false)] old_server_set_it: bool,
) {
    claim("options.reuseaddr.rebind-during-time-wait")
        .and("options.reuseaddr.set-before-bind")
        .family(family)
        .case(if old_server_set_it {
            "the old server set SO_REUSEADDR"
        } else {
            "the old server did not set SO_REUSEADDR"
        })
        // Its own namespace: nobody else can meet the TIME_WAIT port or take it afterwards.
        .in_netns()
        .run(move |ctx| {
            let listener = peers::socket(family.domain(), Type::STREAM);
            listener
                .set_reuse_address(old_server_set_it)
                .expect("SO_REUSEADDR");
            listener.bind(&family.any_port().into()).expect("bind");
            listener.listen(1).expect("listen");
            let addr = peers::local(&listener);
            let client = peers::socket(family.domain(), Type::STREAM);
            client.connect(&addr.into()).expect("connect");
            let (server, _) = peers::accept(&listener, "accept");
            drop(server); // the server closes first, so its end goes to TIME_WAIT
            assert_eq!(peers::read_some(&client, 1), Ok(Vec::new()), "EOF");
            drop((client, listener));
            wait::until(STEP, "the server's end to reach TIME_WAIT", || {
                proc_tcp_states(family, addr.port())
                    .contains(&"06".to_string())
                    .then_some(())
            });
            ctx.observe("states_on_port", proc_tcp_states(family, addr.port()));
            let fresh = peers::socket(family.domain(), Type::STREAM);
            ctx.observe("SO_REUSEADDR_default", fresh.reuse_address().expect("get"));
            let without = fresh.bind(&addr.into()).map_err(errno);
            ctx.observe("bind_without_SO_REUSEADDR", format!("{without:?}"));
            assert_eq!(without, Err(Errno::EADDRINUSE));
            // The same socket: the option is consulted by the next bind, not remembered before.
            fresh.set_reuse_address(true).expect("SO_REUSEADDR");
            assert!(fresh.reuse_address().expect("get"), "reads back as set");
            let with = fresh.bind(&addr.into()).map_err(errno);
            ctx.observe(
                &format!("bind_with_SO_REUSEADDR_old_server_set_it_{old_server_set_it}"),
                format!("{with:?}"),
            );
            // The TIME_WAIT connection keeps the old listener's setting: both must set it.
            if old_server_set_it {
                assert_eq!(with, Ok(()));
                fresh.listen(1).expect("listen on the reclaimed port");
            } else {
                assert_eq!(with, Err(Errno::EADDRINUSE));
            }
        });
}

#[rstest]
fn reuseaddr_cannot_share_a_listening_port_but_reuseport_can(#[values(V4, V6)] family: Family) {
    claim("options.reuseaddr.zero-downtime-deploy")
        .family(family)
        .run(move |ctx| {
            let listener = |reuseport: bool, at: SocketAddr| {
                let sock = peers::socket(family.domain(), Type::STREAM);
                sock.set_reuse_address(true).expect("SO_REUSEADDR");
                sock.set_reuse_port(reuseport).expect("SO_REUSEPORT");
                sock.bind(&at.into()).map(|()| sock).map_err(errno)
            };
            let old = listener(false, family.any_port()).expect("the old server binds");
            old.listen(16).expect("listen");
            let addr = peers::local(&old);
            let new = listener(false, addr).map(|_| ());
            ctx.observe("second_listener_with_SO_REUSEADDR", format!("{new:?}"));
            assert_eq!(
                new,
                Err(Errno::EADDRINUSE),
                "SO_REUSEADDR does not share a live port"
            );
            let old = listener(true, family.any_port()).expect("bind with SO_REUSEPORT");
            old.listen(16).expect("listen");
            let new = listener(true, peers::local(&old)).and_then(|s| s.listen(16).map_err(errno));
            ctx.observe("second_listener_with_SO_REUSEPORT", format!("{new:?}"));
            assert_eq!(
                new,
                Ok(()),
                "SO_REUSEPORT lets old and new listen side by side"
            );
        });
}

#[rstest]
fn both_set_so_reuseaddr_tcp_refuses_a_live_listener_udp_shares(
    #[values(
        SocketKind::TCP_V4,
        SocketKind::TCP_V6,
        SocketKind::UDP_V4,
        SocketKind::UDP_V6
    )]
    kind: SocketKind,
) {
    let family = kind.family().expect("an IP kind");
    claim("options.reuseaddr.both-set-while-listening")
        .kind(kind)
        .run(move |ctx| {
            let ty = kind.ty;
            let bind = |at: SocketAddr| {
                let sock = peers::socket(family.domain(), ty);
                sock.set_reuse_address(true).expect("SO_REUSEADDR");
                sock.bind(&at.into()).map(|()| sock).map_err(errno)
            };
            let old = bind(family.any_port()).expect("the old server binds");
            let addr = peers::local(&old);
            match kind.protocol {
                Some(Protocol::TCP) => {
                    let holding = bind(addr).map(drop);
                    ctx.observe(
                        "second_bind_TCP_old_bound_not_listening",
                        format!("{holding:?}"),
                    );
                    assert_eq!(holding, Ok(()), "a port merely held is shared");
                    old.listen(16).expect("the old server listens");
                    let new = bind(addr).map(drop);
                    ctx.observe("second_bind_TCP_old_listening", format!("{new:?}"));
                    assert_eq!(new, Err(Errno::EADDRINUSE), "not while the old one listens");
                }
                _ => {
                    let new = bind(addr);
                    ctx.observe("second_bind_UDP", format!("{:?}", new.as_ref().map(drop)));
                    let new = new.expect("UDP sockets that all set SO_REUSEADDR share the port");
                    peers::socket(family.domain(), Type::DGRAM)
                        .send_to(b"one", &addr.into())
                        .expect("send one datagram");
                    let both = [&old, &new];
                    for sock in both {
                        sock.set_nonblocking(true).expect("O_NONBLOCK");
                    }
                    let mut got = [false; 2];
                    // Delivered once, to one socket: when one has it, the other never will.
                    wait::until(STEP, "the datagram at one of the two", || {
                        for (sock, got) in both.iter().zip(got.iter_mut()) {
                            *got |= peers::read_some(sock, 16).is_ok();
                        }
                        got.contains(&true).then_some(())
                    });
                    ctx.observe("received_by_old_new", got);
                    assert_eq!(got.iter().filter(|g| **g).count(), 1, "exactly one gets it");
                }
            }
        });
}

#[test]
fn time_wait_lasts_60_s_whatever_tcp_fin_timeout_says() {
    claim("options.reuseaddr.time-wait-lasts-60s")
        .in_netns()
        .run(|ctx| {
            ctx.netns().write_sysctl("net.ipv4.tcp_fin_timeout", "5");
            let fin_timeout: u64 = sysctl("net.ipv4.tcp_fin_timeout")
                .expect("tcp_fin_timeout")
                .parse()
                .expect("a number");
            ctx.observe("tcp_fin_timeout", fin_timeout);
            let pair = SocketKind::tcp(V4).pair();
            let port = peers::local(&pair.client).port();
            // The client closes first, so its end goes FIN_WAIT → TIME_WAIT.
            drop(pair.client);
            assert!(peers::read_some(&pair.server, 1).expect("EOF").is_empty());
            drop(pair.server);
            let row = wait::until(STEP, "the client's end in TIME_WAIT", || {
                proc_tcp_rows(V4, port).into_iter().find(|c| c[3] == "06")
            });
            // Column 5 is `timer:expires`; for TIME_WAIT timer 3 and the time left in clock
            // ticks (USER_HZ).
            let (timer, left) = row[5].split_once(':').expect("tr:when");
            let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
                .expect("sysconf")
                .expect("CLK_TCK") as u64;
            let left = u64::from_str_radix(left, 16).expect("hex") as f64 / ticks as f64;
            ctx.observe("time_wait_row", row.join(" "));
            ctx.observe("time_wait_seconds_left", (left * 10.0).round() / 10.0);
            assert_eq!(timer, "03", "the TIME_WAIT timer");
            assert!(
                (50.0..=60.0).contains(&left),
                "{left} s left: 60 s, not tcp_fin_timeout ({fin_timeout} s)"
            );
        });
}

#[rstest]
fn nagle_holds_a_small_write_until_the_first_is_acked(#[values(V4, V6)] family: Family) {
    claim("options.nodelay.disables-nagle")
        .family(family)
        .run(move |ctx| {
            // A client writes one byte, then another, then waits for the server's answer; the
            // server answers once it has both (write-write-read, Nagle's worst case).
            let connection = |nodelay: bool| {
                let pair = SocketKind::tcp(family).pair();
                pair.client.set_tcp_nodelay(nodelay).expect("TCP_NODELAY");
                assert_eq!(pair.client.tcp_nodelay().expect("get"), nodelay);
                let server = pair.server;
                let answerer = peers::spawn("answers every two bytes", move || {
                    let mut have = 0;
                    loop {
                        match peers::read_some(&server, 2 - have) {
                            Ok(d) if d.is_empty() => return,
                            Ok(d) => have += d.len(),
                            Err(_) => return,
                        }
                        if have == 2 {
                            have = 0;
                            peers::write_all(&server, b"r", "the answer");
                        }
                    }
                });
                (pair.client, pair.listener, answerer)
            };
            let nagle = connection(false);
            let nodelay = connection(true);
            let (mut held, mut millis) = ([Vec::new(), Vec::new()], [Vec::new(), Vec::new()]);
            // Interleaved rounds; the first round of each runs in quick-ACK mode, so it is left
            // out of the comparison.
            for round in 0..10 {
                for (i, (client, _, _)) in [&nagle, &nodelay].into_iter().enumerate() {
                    let started = Instant::now();
                    peers::write_all(client, b"a", "first write");
                    peers::write_all(client, b"b", "second write");
                    let unsent = tcp_info(client).tcpi_notsent_bytes;
                    peers::read_exact(client, 1, "the answer");
                    if round > 0 {
                        held[i].push(unsent);
                        millis[i].push(started.elapsed().as_secs_f64() * 1e3);
                    }
                }
            }
            let median = |v: &mut Vec<f64>| {
                v.sort_by(f64::total_cmp);
                (v[v.len() / 2] * 10.0).round() / 10.0
            };
            let (nagle_ms, nodelay_ms) = (median(&mut millis[0]), median(&mut millis[1]));
            ctx.observe("nagle_second_write_unsent_bytes", &held[0]);
            ctx.observe("nodelay_second_write_unsent_bytes", &held[1]);
            ctx.observe("nagle_median_round_ms", nagle_ms);
            ctx.observe("nodelay_median_round_ms", nodelay_ms);
            // The held byte waits for the peer's delayed ACK (40 ms minimum on Linux): load
            // only makes rounds slower, so a median under 10 ms would mean no stall at all.
            assert!(
                nagle_ms >= 10.0,
                "write-write-read with Nagle took a median {nagle_ms} ms: no delayed-ACK stall"
            );
            assert!(
                held[1].iter().all(|&n| n == 0),
                "TCP_NODELAY sends every write at once"
            );
            // The byte is held whenever the first is still unacknowledged, which the peer's
            // delayed ACK makes the rule; one round in nine is a margin against a preempted
            // writer whose first byte got acknowledged before the second write.
            assert!(
                held[0].contains(&1),
                "Nagle never held the second byte back"
            );
            for (client, listener, answerer) in [nagle, nodelay] {
                drop((client, listener));
                answerer.join(STEP);
            }
        });
}

/// The timing half of the Nagle claim: the write-write-read exchange is many times faster
/// with TCP_NODELAY (a delayed ACK of tens of milliseconds against microseconds).
#[test]
fn nodelay_makes_write_write_read_many_times_faster() {
    use harness::bench::{self, verdicts};
    claim("options.nodelay.disables-nagle")
        .alone()
        .needs_native_speed()
        .run(|ctx| {
            let ratio = bench::measure::compare_nagle();
            bench::require(ctx, "nodelay_over_nagle_exchange", ratio, verdicts::NAGLE);
        });
}

/// Which buffer a case sets.
#[derive(Clone, Copy, Debug)]
enum Buffer {
    Receive,
    Send,
}

impl Buffer {
    fn set(self, sock: &Socket, n: usize) {
        match self {
            Buffer::Receive => sock.set_recv_buffer_size(n),
            Buffer::Send => sock.set_send_buffer_size(n),
        }
        .expect("set the buffer size")
    }

    fn get(self, sock: &Socket) -> usize {
        match self {
            Buffer::Receive => sock.recv_buffer_size(),
            Buffer::Send => sock.send_buffer_size(),
        }
        .expect("get the buffer size")
    }

    fn max_sysctl(self) -> &'static str {
        match self {
            Buffer::Receive => "net.core.rmem_max",
            Buffer::Send => "net.core.wmem_max",
        }
    }
}

/// An int socket option at a level and name given as numbers: the test is about the level,
/// which the typed options of nix and socket2 fix by construction.
fn set_int_option(sock: &Socket, level: i32, name: i32, value: i32) -> Result<(), Errno> {
    // SAFETY: the value pointer is valid for the size given, for the duration of the call.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (&value as *const i32).cast(),
            size_of::<i32>() as libc::socklen_t,
        )
    };
    Errno::result(rc).map(drop)
}

fn get_int_option(sock: &Socket, level: i32, name: i32) -> i32 {
    let mut value = 0_i32;
    let mut len = size_of::<i32>() as libc::socklen_t;
    // SAFETY: value and len are valid for writes of the sizes given.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (&mut value as *mut i32).cast(),
            &mut len,
        )
    };
    Errno::result(rc).unwrap_or_else(|e| panic!("getsockopt({level}, {name}): {e}"));
    value
}

#[test]
fn tcp_nodelay_at_the_socket_level_is_so_debug_and_leaves_nagle_on() {
    claim("options.nodelay.level-is-ipproto-tcp").run(|ctx| {
        ctx.observe("TCP_NODELAY", libc::TCP_NODELAY);
        assert_eq!(
            libc::TCP_NODELAY,
            libc::SO_DEBUG,
            "the two options share a number"
        );
        let unprivileged = as_unprivileged("TCP_NODELAY at SOL_SOCKET", STEP, || {
            let sock = Socket::new(V4.domain(), Type::STREAM, None).map_err(errno)?;
            set_int_option(&sock, libc::SOL_SOCKET, libc::TCP_NODELAY, 1)?;
            Ok(0)
        })
        .unwrap_or_else(|e| panic!("{e}"));
        ctx.observe("unprivileged", format!("{unprivileged:?}"));
        assert_eq!(
            unprivileged,
            Err(Errno::EACCES),
            "SO_DEBUG needs CAP_NET_ADMIN"
        );
        if privileges::has(Cap::NetAdmin) {
            let sock = peers::socket(V4.domain(), Type::STREAM);
            set_int_option(&sock, libc::SOL_SOCKET, libc::TCP_NODELAY, 1)
                .expect("SO_DEBUG with CAP_NET_ADMIN");
            let debug = get_int_option(&sock, libc::SOL_SOCKET, libc::SO_DEBUG);
            let nodelay = sock.tcp_nodelay().expect("getsockopt TCP_NODELAY");
            ctx.observe("privileged_SO_DEBUG", debug);
            ctx.observe("privileged_TCP_NODELAY", nodelay);
            assert_eq!(debug, 1, "the call set SO_DEBUG");
            assert!(!nodelay, "Nagle stays on");
        } else {
            ctx.observe("privileged", "not run: no CAP_NET_ADMIN");
        }
    });
}

#[rstest]
fn buffer_sizes_are_doubled_capped_and_floored(
    #[values(Buffer::Receive, Buffer::Send)] buffer: Buffer,
) {
    claim("options.buffers.value-is-doubled")
        .case(match buffer {
            Buffer::Receive => "SO_RCVBUF",
            Buffer::Send => "SO_SNDBUF",
        })
        .run(move |ctx| {
            let sock = peers::socket(V4.domain(), Type::STREAM);
            let max: usize = sysctl(buffer.max_sysctl())
                .expect("read the cap")
                .parse()
                .expect("a number");
            buffer.set(&sock, 10_000);
            let doubled = buffer.get(&sock);
            buffer.set(&sock, max * 4);
            let capped = buffer.get(&sock);
            buffer.set(&sock, 0);
            let floor = buffer.get(&sock);
            ctx.observe("max_sysctl", max);
            ctx.observe("set_10000_reads", doubled);
            ctx.observe("set_4x_max_reads", capped);
            ctx.observe("set_0_reads", floor);
            assert_eq!(doubled, 20_000, "the kernel stores twice what was asked");
            assert_eq!(capped, 2 * max, "capped at the sysctl, then doubled");
            // The floor is 2048 + one struct sk_buff (cache-aligned) for SO_RCVBUF, twice that for
            // SO_SNDBUF; sk_buff's size varies with the kernel's configuration.
            let unit = match buffer {
                Buffer::Receive => floor,
                Buffer::Send => floor / 2,
            };
            assert!((2048 + 128..=2048 + 1024).contains(&unit), "floor {floor}");
        });
}

#[test]
fn buffer_force_options_need_cap_net_admin() {
    claim("options.buffers.force-needs-cap-net-admin").run(|ctx| {
        let max: usize = sysctl("net.core.rmem_max")
            .expect("rmem_max")
            .parse()
            .expect("a number");
        let denied = as_unprivileged("SO_RCVBUFFORCE without CAP_NET_ADMIN", STEP, move || {
            let sock = Socket::new(V4.domain(), Type::STREAM, None).map_err(errno)?;
            setsockopt(&sock.as_fd(), sockopt::RcvBufForce, &(max * 2)).map(|()| 0)
        })
        .unwrap_or_else(|e| panic!("{e}"));
        ctx.observe("SO_RCVBUFFORCE_unprivileged", format!("{denied:?}"));
        assert_eq!(denied, Err(Errno::EPERM));
        if privileges::has(Cap::NetAdmin) {
            let sock = peers::socket(V4.domain(), Type::STREAM);
            setsockopt(&sock.as_fd(), sockopt::RcvBufForce, &(max * 2)).expect("forced");
            let got = sock.recv_buffer_size().expect("get");
            ctx.observe("SO_RCVBUFFORCE_2x_max_reads", got);
            assert_eq!(got, 4 * max, "past rmem_max, doubled");
        }
    });
}

/// Streams from client to server of a new pair until `enough` says so of the bytes received
/// and the server's SO_RCVBUF: the server's SO_RCVBUF before and after, and the bytes moved.
fn receive_buffer_across_a_transfer(
    set: Option<usize>,
    mut enough: impl FnMut(usize, usize) -> bool,
) -> (usize, usize, usize) {
    let pair = SocketKind::tcp(V4).pair();
    if let Some(n) = set {
        pair.server.set_recv_buffer_size(n).expect("SO_RCVBUF");
    }
    let before = pair.server.recv_buffer_size().expect("get");
    let (moved, _) = peers::stream(pair.client, &pair.server, |got| {
        enough(got, pair.server.recv_buffer_size().expect("get"))
    });
    (before, pair.server.recv_buffer_size().expect("get"), moved)
}

/// A TCP buffer sysctl (`net.ipv4.tcp_rmem`, `tcp_wmem`): min, default, max.
fn tcp_mem_sysctl(key: &str) -> [usize; 3] {
    let value = sysctl(key).unwrap_or_else(|e| panic!("{e}"));
    let n: Vec<usize> = value
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    n.try_into()
        .unwrap_or_else(|_| panic!("{key}: expected three numbers, got {value:?}"))
}

#[test]
fn tcp_buffers_autotune_until_the_program_sets_them() {
    claim("options.buffers.defaults-too-small").run(|ctx| {
        let rmem = tcp_mem_sysctl("net.ipv4.tcp_rmem");
        let wmem = tcp_mem_sysctl("net.ipv4.tcp_wmem");
        ctx.observe("tcp_rmem_min_default_max", rmem);
        ctx.observe("tcp_wmem_min_default_max", wmem);
        let fresh = peers::socket(V4.domain(), Type::STREAM);
        let fresh_sndbuf = fresh.send_buffer_size().expect("SO_SNDBUF");
        ctx.observe("new_socket_sndbuf", fresh_sndbuf);
        assert_eq!(
            fresh_sndbuf, wmem[1],
            "a new socket starts at tcp_wmem's default"
        );
        // As long as the kernel takes to grow the buffer (at most 64 MiB); then four times
        // that many bytes, at least 1 MiB, into a socket whose program set SO_RCVBUF.
        let (start, grown, moved) =
            receive_buffer_across_a_transfer(None, |got, now| now > rmem[1] || got >= 64 << 20);
        let locked_bytes = (4 * moved).max(1 << 20);
        let (set, fixed, _) =
            receive_buffer_across_a_transfer(Some(65_536), |got, _| got >= locked_bytes);
        ctx.observe("autotuned_rcvbuf_before_after_bytes", [start, grown, moved]);
        ctx.observe(
            "set_65536_rcvbuf_before_after_bytes",
            [set, fixed, locked_bytes],
        );
        assert_eq!(
            start, rmem[1],
            "a new connection starts at tcp_rmem's default"
        );
        assert!(grown > start, "autotuning grew the buffer");
        assert!(
            grown <= rmem[2],
            "autotuning stays within tcp_rmem's maximum"
        );
        assert_eq!(fixed, set, "a set SO_RCVBUF is locked: no autotuning");
    });
}

#[rstest]
fn tcp_info_and_so_error_report_the_connection(#[values(V4, V6)] family: Family) {
    claim("options.monitoring.tcp-info")
        .family(family)
        .run(move |ctx| {
            let pair = SocketKind::tcp(family).pair();
            peers::write_all(&pair.client, b"ping", "send");
            peers::read_exact(&pair.server, 4, "the data");
            let info = tcp_info(&pair.client);
            ctx.observe("established_tcpi_state", info.tcpi_state);
            ctx.observe("tcpi_rtt_us", info.tcpi_rtt);
            ctx.observe("tcpi_snd_cwnd", info.tcpi_snd_cwnd);
            ctx.observe("tcpi_bytes_acked", info.tcpi_bytes_acked);
            assert_eq!(info.tcpi_state, TCP_ESTABLISHED);
            drop(pair.server);
            let closing = wait::until(STEP, "CLOSE_WAIT after the peer closed", || {
                let state = tcp_info(&pair.client).tcpi_state;
                (state != TCP_ESTABLISHED).then_some(state)
            });
            ctx.observe("after_peer_close_tcpi_state", closing);
            assert_eq!(closing, TCP_CLOSE_WAIT);

            let holder = peers::socket(family.domain(), Type::STREAM);
            holder
                .bind(&family.any_port().into())
                .expect("bind a port nobody listens on");
            let client = peers::socket(family.domain(), Type::STREAM);
            client.set_nonblocking(true).expect("nonblocking");
            let _ = client.connect(&peers::local(&holder).into());
            wait::ready(
                client.as_fd(),
                PollFlags::POLLOUT,
                STEP,
                "the refused connect",
            );
            let first = client.take_error().expect("SO_ERROR").map(errno);
            let second = client.take_error().expect("SO_ERROR").map(errno);
            ctx.observe("SO_ERROR_first_second", format!("{first:?}, {second:?}"));
            assert_eq!(
                (first, second),
                (Some(Errno::ECONNREFUSED), None),
                "read and cleared"
            );
        });
}

#[rstest]
fn proc_net_tcp_lists_sockets_with_state_uid_and_inode(#[values(V4, V6)] family: Family) {
    claim("options.monitoring.proc-net-tcp")
        .family(family)
        .run(move |ctx| {
            let pair = SocketKind::tcp(family).pair();
            let file = if family.is_v6() { "tcp6" } else { "tcp" };
            let table = std::fs::read_to_string(format!("/proc/thread-self/net/{file}"))
                .expect("read /proc/net/tcp");
            let row = |sock: &Socket, remote: bool| -> Vec<String> {
                let (local, peer) = (peers::local(sock).port(), sock.peer_addr().ok());
                table
                    .lines()
                    .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
                    .find(|cols| {
                        let port = |c: &str| c.rsplit_once(':').map(|p| p.1.to_string());
                        port(&cols[1]) == Some(format!("{local:04X}"))
                            && (!remote
                                || port(&cols[2])
                                    == peer
                                        .as_ref()
                                        .and_then(|p| p.as_socket())
                                        .map(|p| format!("{:04X}", p.port())))
                    })
                    .unwrap_or_else(|| panic!("no row for port {local} in /proc/net/{file}"))
            };
            let listener = row(
                pair.listener.as_ref().expect("the TCP pair's listener"),
                false,
            );
            let client = row(&pair.client, true);
            ctx.observe("listener_row", listener.join(" "));
            ctx.observe("client_row", client.join(" "));
            assert_eq!(listener[3], "0A", "LISTEN");
            assert_eq!(client[3], "01", "ESTABLISHED");
            let inode = std::fs::metadata(format!("/proc/self/fd/{}", pair.client.as_raw_fd()))
                .expect("stat the socket")
                .ino();
            assert_eq!(
                client[9],
                inode.to_string(),
                "the inode /proc/self/fd links to"
            );
            assert_eq!(
                client[7],
                privileges::host_uid().to_string(),
                "the owner's uid"
            );
        });
}

#[test]
fn protocol_counters_count_what_the_test_did() {
    claim("options.monitoring.real-time-counters")
        .in_netns()
        .run(|ctx| {
            let ns = ctx.netns();
            let counters = [
                ("Tcp", "ActiveOpens"),
                ("Tcp", "PassiveOpens"),
                ("Udp", "InDatagrams"),
                ("Udp", "OutDatagrams"),
            ];
            let read = || counters.map(|(p, n)| ns.counter("snmp", p, n));
            let before = read();
            let pairs = [SocketKind::tcp(V4).pair(), SocketKind::tcp(V4).pair()];
            let udp = SocketKind::udp(V4).pair();
            for _ in 0..3 {
                udp.client.send(b"count me").expect("send");
                peers::datagram(&udp.server, 16).expect("recv");
            }
            let after = read();
            let delta: Vec<u64> = after.iter().zip(before).map(|(a, b)| a - b).collect();
            for ((proto, name), d) in counters.iter().zip(&delta) {
                ctx.observe(&format!("{proto}_{name}_delta"), d);
            }
            drop(pairs);
            assert_eq!(delta, [2, 2, 3, 3], "two connections, three datagrams");
        });
}

#[test]
fn ss_lists_a_listener_with_its_process() {
    claim("options.debug.ss-tlnp").run(|ctx| {
        let (_listener, addr) = peers::tcp_listener(V4);
        let port = addr.port().to_string();
        let ours = format!("127.0.0.1:{port}");
        let pid = format!("pid={}", std::process::id());
        // `ss -tlnp | grep PORT`: every line holding the digits anywhere. Only this test's
        // own lines go into the evidence; of other processes' sockets, just how many matched.
        let all = tools::run("ss", &["-tlnp"], STEP);
        let grepped: Vec<&str> = all.lines().filter(|l| l.contains(&port)).collect();
        let own = tools::lines_about(&all, &[&ours]);
        ctx.observe("ss -tlnp | grep PORT (this listener's lines)", &own);
        ctx.observe(
            "ss -tlnp | grep PORT (other lines)",
            grepped.len() - own.len(),
        );
        let line = own
            .first()
            .unwrap_or_else(|| panic!("no line for {ours} among {} grepped", grepped.len()));
        assert!(line.starts_with("LISTEN"), "{line}");
        assert!(line.contains(&pid), "-p names this process: {line}");
        // ss's own filter matches the port exactly: this listener and nothing else.
        let filter = format!("sport = :{port}");
        let exact = tools::run("ss", &["-tlnpH", &filter], STEP);
        ctx.observe(
            "ss -tlnpH 'sport = :PORT'",
            tools::lines_about(&exact, &[&ours]),
        );
        let exact: Vec<&str> = exact.lines().collect();
        assert_eq!(exact.len(), 1, "{} lines", exact.len());
        assert!(
            exact[0].contains(&ours) && exact[0].contains(&pid),
            "the one line names {ours} and {pid}"
        );
    });
}

/// A TCP listener and a UDP socket on one port number (port 0 for the listener, the same
/// number for UDP; retried while some other UDP socket holds it).
fn tcp_and_udp_on_one_port() -> (Socket, Socket, u16) {
    for _ in 0..16 {
        let (listener, addr) = peers::tcp_listener(V4);
        let udp = peers::socket(V4.domain(), Type::DGRAM);
        if udp.bind(&addr.into()).is_ok() {
            return (listener, udp, addr.port());
        }
    }
    panic!("no port free for both TCP and UDP in 16 tries");
}

/// lsof's lines (after the header) whose PID column is `pid`.
fn lsof_lines_of(out: &str, pid: u32) -> Vec<String> {
    let pid = pid.to_string();
    out.lines()
        .filter(|l| l.split_whitespace().nth(1) == Some(pid.as_str()))
        .map(str::to_string)
        .collect()
}

#[test]
fn lsof_lists_the_tcp_and_udp_sockets_on_a_port() {
    claim("options.debug.lsof-port")
        .limit(Duration::from_secs(10))
        .run(|ctx| {
            let (_listener, _udp, port) = tcp_and_udp_on_one_port();
            let spec = format!(":{port}");
            // As the course writes it: every process, names looked up.
            let out = tools::run("lsof", &["-i", &spec], Duration::from_secs(8));
            // This process's lines only: another process's connection to the port stays out.
            let ours = lsof_lines_of(&out, std::process::id());
            ctx.observe("lsof -i :PORT (this process's lines)", &ours);
            assert!(
                ours.iter()
                    .any(|l| l.contains("TCP") && l.ends_with("(LISTEN)")),
                "the TCP listener: {ours:?}"
            );
            assert!(
                ours.iter().any(|l| l.contains("UDP")),
                "the UDP socket: {ours:?}"
            );
        });
}

#[test]
fn lsof_as_a_normal_user_does_not_list_roots_socket() {
    claim("options.debug.lsof-port")
        .limit(Duration::from_secs(10))
        .run(|ctx| {
            if privileges::host_uid() != 0 || !nix::unistd::Uid::effective().is_root() {
                harness::skip(
                    "needs real root: the socket must belong to another user than lsof's",
                );
            }
            let (_listener, _udp, port) = tcp_and_udp_on_one_port();
            let spec = format!(":{port}");
            let nobody = privileges::NOBODY.to_string();
            let (uid, gid) = (format!("--reuid={nobody}"), format!("--regid={nobody}"));
            let args = [
                &uid[..],
                &gid,
                "--clear-groups",
                "lsof",
                "-n",
                "-P",
                "-i",
                &spec,
            ];
            let child = tools::spawn("setpriv", &args);
            let run = tools::finish(
                child,
                "lsof -i :PORT as uid 65534",
                Duration::from_secs(8),
                || {},
            );
            let out = String::from_utf8_lossy(&run.stdout);
            ctx.observe("exit_status", run.status.code());
            // What uid 65534 saw of this process's sockets (it must be nothing).
            let seen = lsof_lines_of(&out, std::process::id());
            ctx.observe(
                "lsof -n -P -i :PORT as uid 65534 (this process's lines)",
                &seen,
            );
            assert!(seen.is_empty(), "uid 65534 saw root's sockets: {seen:?}");
            let as_root = tools::run("lsof", &["-n", "-P", "-i", &spec], Duration::from_secs(8));
            let by_root = lsof_lines_of(&as_root, std::process::id());
            ctx.observe("lines_root_sees", &by_root);
            assert_eq!(
                by_root.len(),
                2,
                "root sees the TCP and the UDP socket: {by_root:?}"
            );
        });
}

#[test]
fn ss_as_a_normal_user_lists_roots_listener_without_its_process() {
    claim("options.debug.ss-tlnp").run(|ctx| {
        if privileges::host_uid() != 0 || !nix::unistd::Uid::effective().is_root() {
            harness::skip("needs real root: the listener must belong to another user than ss's");
        }
        let (_listener, addr) = peers::tcp_listener(V4);
        let filter = format!("sport = :{}", addr.port());
        let pid = format!("pid={}", std::process::id());
        let nobody = privileges::NOBODY.to_string();
        let (uid, gid) = (format!("--reuid={nobody}"), format!("--regid={nobody}"));
        let args = [&uid[..], &gid, "--clear-groups", "ss", "-tlnpH", &filter];
        let run = tools::finish(
            tools::spawn("setpriv", &args),
            "ss as uid 65534",
            STEP,
            || {},
        );
        let as_nobody = String::from_utf8_lossy(&run.stdout).trim().to_string();
        ctx.observe("ss -tlnpH 'sport = :PORT' as uid 65534", &as_nobody);
        if !run.status.success() {
            harness::skip(format!(
                "ss could not run as uid 65534 here ({}): {}",
                run.status,
                String::from_utf8_lossy(&run.stderr).trim()
            ));
        }
        let as_root = tools::run("ss", &["-tlnpH", &filter], STEP);
        ctx.observe("ss -tlnpH 'sport = :PORT' as root", as_root.trim());
        assert_eq!(
            as_nobody.lines().count(),
            1,
            "the listener is listed: {as_nobody}"
        );
        assert!(
            !as_nobody.contains(&pid),
            "but not its process: {as_nobody}"
        );
        assert!(as_root.contains(&pid), "root sees the process: {as_root}");
    });
}

#[test]
fn grep_8080_also_matches_a_listener_on_18080() {
    claim("options.debug.ss-tlnp").in_netns().run(|ctx| {
        // The namespace is private, so the course's own port numbers are free here.
        let listen = |port: u16| {
            let sock = peers::socket(V4.domain(), Type::STREAM);
            sock.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)).into())
                .unwrap_or_else(|e| panic!("bind 127.0.0.1:{port}: {e}"));
            sock.listen(4).expect("listen");
            sock
        };
        let (_a, _b) = (listen(8080), listen(18080));
        let all = tools::run("ss", &["-tlnpH"], STEP);
        let grepped: Vec<&str> = all.lines().filter(|l| l.contains("8080")).collect();
        ctx.observe("ss -tlnp | grep 8080", &grepped);
        assert!(
            grepped.iter().any(|l| l.contains("127.0.0.1:18080")),
            "the grep matches 18080 too: {grepped:?}"
        );
        assert_eq!(grepped.len(), 2, "{grepped:?}");
        let exact = tools::run("ss", &["-tlnpH", "sport = :8080"], STEP);
        ctx.observe("ss -tlnpH 'sport = :8080'", exact.trim());
        let exact: Vec<&str> = exact.lines().collect();
        assert_eq!(exact.len(), 1, "{exact:?}");
        assert!(exact[0].contains("127.0.0.1:8080 "), "{exact:?}");
    });
}

/// A TCP listener on 127.0.0.1 only, in the test's namespace: nothing listens on ::1.
fn listener_on_127_0_0_1() -> (Socket, u16) {
    let listener = peers::socket(V4.domain(), Type::STREAM);
    listener
        .bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
        .expect("bind 127.0.0.1");
    listener.listen(4).expect("listen");
    let port = peers::local(&listener).port();
    (listener, port)
}

#[test]
fn a_server_on_127_0_0_1_refuses_localhost_over_ipv6() {
    claim("options.debug.telnet-nc-localhost")
        .needs_ipv6(true)
        .in_netns()
        .run(|ctx| {
            let resolved: Vec<IpAddr> = ("localhost", 0)
                .to_socket_addrs()
                .map(|a| a.map(|a| a.ip()).collect())
                .unwrap_or_default();
            ctx.observe("localhost_resolves_to", &resolved);
            let (_listener, port) = listener_on_127_0_0_1();
            let connect = |ip: IpAddr| {
                let family = if ip.is_ipv6() { V6 } else { V4 };
                peers::socket(family.domain(), Type::STREAM)
                    .connect(&SocketAddr::new(ip, port).into())
                    .map_err(errno)
            };
            // What a client gets for each address localhost gives here, in that order.
            let outcomes: Vec<String> = resolved
                .iter()
                .map(|ip| format!("{ip}: {:?}", connect(*ip)))
                .collect();
            ctx.observe("connect_each_localhost_address", &outcomes);
            for ip in &resolved {
                let expected = if *ip == IpAddr::from(Ipv4Addr::LOCALHOST) {
                    Ok(())
                } else {
                    Err(Errno::ECONNREFUSED)
                };
                assert_eq!(connect(*ip), expected, "localhost as {ip}");
            }
            // Whether or not localhost gives ::1 here, [::1] is refused and 127.0.0.1 served.
            let v6 = connect(Ipv6Addr::LOCALHOST.into());
            ctx.observe("connect_[::1]", format!("{v6:?}"));
            assert_eq!(v6, Err(Errno::ECONNREFUSED));
            assert_eq!(connect(Ipv4Addr::LOCALHOST.into()), Ok(()));
        });
}

/// Where the test's only server listens.
#[derive(Clone, Copy, Debug)]
enum OnlyOn {
    /// 127.0.0.1: the attempt on ::1 is refused first.
    V4,
    /// [::1]: the first attempt is served.
    V6,
}

/// An /etc/hosts that resolves localhost to ::1 first, then 127.0.0.1 (as many distributions'
/// do), seen only by the tool, through a private mount namespace.
const HOSTS_V6_FIRST: &str = "::1 localhost\n127.0.0.1 localhost\n";

#[rstest]
#[case::nc("nc", &["-v", "-z", "-w", "2", "localhost"])]
#[case::telnet("telnet", &["localhost"])]
fn telnet_and_nc_try_each_localhost_address_in_turn(
    #[case] tool: &'static str,
    #[case] args: &'static [&'static str],
    #[values(OnlyOn::V4, OnlyOn::V6)] only_on: OnlyOn,
) {
    claim("options.debug.telnet-nc-localhost")
        .needs_ipv6(true)
        .in_netns()
        .run(move |ctx| {
            let ip: IpAddr = match only_on {
                OnlyOn::V4 => Ipv4Addr::LOCALHOST.into(),
                OnlyOn::V6 => Ipv6Addr::LOCALHOST.into(),
            };
            let listener = peers::socket(if ip.is_ipv6() { V6 } else { V4 }.domain(), Type::STREAM);
            listener
                .bind(&SocketAddr::new(ip, 0).into())
                .expect("bind the loopback address");
            listener.listen(4).expect("listen");
            let port = peers::local(&listener).port().to_string();
            let dir = tempfile::tempdir().expect("a directory for the private /etc/hosts");
            let hosts = dir.path().join("hosts");
            std::fs::write(&hosts, HOSTS_V6_FIRST).expect("write the private hosts file");
            ctx.observe("etc_hosts_seen_by_the_tool", HOSTS_V6_FIRST);
            let script = "mount --bind \"$0\" /etc/hosts && exec \"$@\"";
            let hosts = hosts.to_string_lossy();
            // By its path: a busybox sh would run its own applet for a bare `telnet` or `nc`.
            let path =
                on_path(tool).unwrap_or_else(|| harness::skip(format!("{tool} is not installed")));
            let path = path.to_string_lossy();
            let mut argv = vec!["-m", "sh", "-c", script, &hosts, &path];
            argv.extend_from_slice(args);
            argv.push(&port);
            let child = tools::spawn("unshare", &argv);
            // The server takes the connection and closes it, so the client ends on its own.
            let mut accepted = 0;
            listener.set_nonblocking(true).expect("O_NONBLOCK");
            let run = tools::finish(child, &format!("{tool} localhost PORT"), STEP, || {
                if let Ok((conn, _)) = listener.accept() {
                    accepted += 1;
                    drop(conn);
                }
            });
            let said = format!(
                "{}{}",
                String::from_utf8_lossy(&run.stdout),
                String::from_utf8_lossy(&run.stderr)
            );
            ctx.observe(&format!("{tool} localhost PORT"), said.trim());
            ctx.observe("exit_status", run.status.code());
            // A client that ended first left its connection in the accept queue.
            accepted += usize::from(listener.accept().is_ok());
            if accepted == 0 && (said.contains("mount:") || said.contains("unshare:")) {
                harness::skip(format!(
                    "no private mount namespace for /etc/hosts here: {}",
                    said.trim()
                ));
            }
            // Another implementation (busybox's nc) may refuse the course's options: then this
            // machine cannot run the course's command, which says nothing about localhost.
            if accepted == 0
                && ["invalid option", "unrecognized option", "illegal option"]
                    .iter()
                    .any(|m| said.contains(m))
            {
                harness::skip(format!(
                    "this {tool} does not take the course's options: {}",
                    said.trim()
                ));
            }
            // The course's tools are netkit's telnet and OpenBSD's nc. Busybox's applets (what
            // the kernel matrix's guests have) try only the first address localhost names,
            // which is the tool's choice, not the kernel's.
            if accepted == 0 && busybox(tool) {
                harness::skip(format!(
                    "this {tool} is busybox's, which tries one address only: {}",
                    said.trim()
                ));
            }
            assert_eq!(accepted, 1, "{tool} reached the server on {ip}: {said}");
            if let OnlyOn::V4 = only_on {
                // It tried ::1 first, was refused, and went on to 127.0.0.1.
                assert!(
                    said.contains("::1") && said.contains("refused"),
                    "{tool} names the refused attempt on ::1 before it connects: {said}"
                );
            }
        });
}

#[test]
fn tcpdump_any_captures_a_port_on_loopback() {
    claim("options.debug.tcpdump-any")
        .in_netns()
        .needs(Cap::NetRaw)
        .run(|ctx| {
            let (rx, to) = {
                let s = peers::socket(V4.domain(), Type::DGRAM);
                s.bind(&V4.any_port().into()).expect("bind");
                let a = peers::local(&s);
                (s, a)
            };
            let port = to.port().to_string();
            let args = [
                "-i", "any", "-n", "-l", "-c", "1", "-Z", "root", "udp", "port", &port,
            ];
            let tx = peers::socket(V4.domain(), Type::DGRAM);
            // Datagrams until tcpdump has caught one: no race with its start-up.
            let run = tools::finish(
                tools::spawn("tcpdump", &args),
                "tcpdump -i any -c 1",
                STEP,
                || {
                    let _ = tx.send_to(b"seen?", &to.into());
                },
            );
            let (out, err) = (
                String::from_utf8_lossy(&run.stdout),
                String::from_utf8_lossy(&run.stderr),
            );
            if let Some(line) = err.lines().find(|l| l.contains("Couldn't change to")) {
                // Inside a user namespace setgroups is denied, and tcpdump insists on it.
                harness::skip(format!("tcpdump cannot drop privileges here: {line}"));
            }
            ctx.observe("tcpdump -i any -n -c 1 udp port PORT", out.trim());
            let src = peers::local(&tx).port();
            assert!(
                out.contains(&format!("127.0.0.1.{src} > 127.0.0.1.{port}: UDP")),
                "the datagram on lo: {out}"
            );
            drop(rx);
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            let denied = as_unprivileged("tcpdump without CAP_NET_RAW", STEP, move || {
                let out = Command::new("tcpdump")
                    .args(&args)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))?;
                Ok(i64::from(out.code().unwrap_or(-1)))
            })
            .unwrap_or_else(|e| panic!("{e}"));
            ctx.observe("tcpdump_exit_without_CAP_NET_RAW", format!("{denied:?}"));
            assert!(
                matches!(denied, Ok(code) if code != 0),
                "it cannot capture: {denied:?}"
            );
        });
}

/// Where `tool` is on the PATH.
fn on_path(tool: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
}

/// Whether `tool` is a busybox applet: a link to busybox, or a copy that says so in its help.
fn busybox(tool: &str) -> bool {
    let linked = on_path(tool)
        .and_then(|p| std::fs::canonicalize(p).ok())
        .is_some_and(|p| p.file_name().is_some_and(|n| n == "busybox"));
    linked || {
        let help = tools::finish(
            tools::spawn(tool, &["--help"]),
            &format!("{tool} --help"),
            STEP,
            || {},
        );
        String::from_utf8_lossy(&help.stdout).contains("BusyBox")
            || String::from_utf8_lossy(&help.stderr).contains("BusyBox")
    }
}
