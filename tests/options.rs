//! Section 07-12, first half, and the overview's option, buffer and debugging claims:
//! SO_REUSEADDR and TIME_WAIT, TCP_NODELAY, buffer sizes and autotuning, TCP_INFO, /proc/net and
//! the protocol counters, and the debugging commands the course lists (ss, lsof, nc/telnet).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::errno;
use harness::peers::{self, Family};
use harness::privileges::{self, as_unprivileged, sysctl};
use harness::tools;
use harness::wait::{self, STEP};
use harness::{claim, Cap};
use nix::errno::Errno;
use nix::poll::PollFlags;
use nix::sys::socket::{setsockopt, sockopt};
use rstest::rstest;
use socket2::{Socket, Type};

use Family::{V4, V6};

/// `tcpi_state` values (include/net/tcp_states.h; libc does not export them).
const TCP_ESTABLISHED: u8 = 1;
const TCP_CLOSE_WAIT: u8 = 8;

/// getsockopt(IPPROTO_TCP, TCP_INFO): neither socket2 nor nix wraps it.
fn tcp_info(sock: &Socket) -> libc::tcp_info {
    // SAFETY: tcp_info is plain old data; all zeros is a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` and `len` are valid for writes of `len` bytes, the fd is open.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&raw mut info).cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "getsockopt(TCP_INFO): {}", Errno::last());
    info
}

/// The TCP states (hex, as /proc/net/tcp prints them) of the sockets whose local port is `port`.
fn proc_tcp_states(family: Family, port: u16) -> Vec<String> {
    let file = if family.is_v6() { "tcp6" } else { "tcp" };
    let table = std::fs::read_to_string(format!("/proc/thread-self/net/{file}"))
        .unwrap_or_else(|e| panic!("/proc/thread-self/net/{file}: {e}"));
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let local_port = cols.get(1)?.rsplit_once(':')?.1;
            (u16::from_str_radix(local_port, 16).ok()? == port).then(|| cols[3].to_string())
        })
        .collect()
}

#[rstest]
fn rebind_during_time_wait_needs_reuseaddr(
    #[values(V4, V6)] family: Family,
    #[values(true, false)] old_server_set_it: bool,
) {
    claim("options.reuseaddr.rebind-during-time-wait")
        .and("options.reuseaddr.set-before-bind")
        .needs_ipv6(family.is_v6())
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
        .needs_ipv6(family.is_v6())
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
#[serial_test::file_serial(timing)]
fn nagle_holds_a_small_write_until_the_first_is_acked(#[values(V4, V6)] family: Family) {
    claim("options.nodelay.disables-nagle")
        .needs_ipv6(family.is_v6())
        .run(move |ctx| {
            // A client writes one byte, then another, then waits for the server's answer; the
            // server answers once it has both (write-write-read, Nagle's worst case).
            let connection = |nodelay: bool| {
                let pair = peers::tcp_pair(family);
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
            ctx.observe("nagle_second_write_unsent_bytes", &held[0]);
            ctx.observe("nodelay_second_write_unsent_bytes", &held[1]);
            ctx.observe("nagle_median_round_ms", median(&mut millis[0]));
            ctx.observe("nodelay_median_round_ms", median(&mut millis[1]));
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

#[rstest]
fn buffer_sizes_are_doubled_capped_and_floored(
    #[values(Buffer::Receive, Buffer::Send)] buffer: Buffer,
) {
    claim("options.buffers.value-is-doubled").run(move |ctx| {
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
        } else {
            ctx.observe(
                "SO_RCVBUFFORCE_privileged",
                "not checked: no CAP_NET_ADMIN here",
            );
        }
    });
}

/// Moves `bytes` from client to server of a new pair; the server's SO_RCVBUF before and after.
fn receive_buffer_across_a_transfer(set: Option<usize>, bytes: usize) -> (usize, usize) {
    let pair = peers::tcp_pair(V4);
    if let Some(n) = set {
        pair.server.set_recv_buffer_size(n).expect("SO_RCVBUF");
    }
    let before = pair.server.recv_buffer_size().expect("get");
    peers::bulk_transfer(pair.client, &pair.server, bytes);
    (before, pair.server.recv_buffer_size().expect("get"))
}

#[test]
#[serial_test::file_serial(timing)]
fn tcp_buffers_autotune_until_the_program_sets_them() {
    claim("options.buffers.defaults-too-small").run(|ctx| {
        let rmem = sysctl("net.ipv4.tcp_rmem").expect("tcp_rmem");
        ctx.observe("tcp_rmem", &rmem);
        let default: usize = rmem
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .expect("tcp_rmem's default");
        let (start, grown) = receive_buffer_across_a_transfer(None, 16 << 20);
        let (set, fixed) = receive_buffer_across_a_transfer(Some(65_536), 16 << 20);
        ctx.observe("autotuned_rcvbuf_before_after_16MiB", [start, grown]);
        ctx.observe("set_65536_rcvbuf_before_after_16MiB", [set, fixed]);
        assert_eq!(
            start, default,
            "a new connection starts at tcp_rmem's default"
        );
        assert!(grown > start, "autotuning grew the buffer");
        assert_eq!(fixed, set, "a set SO_RCVBUF is locked: no autotuning");
    });
}

#[rstest]
fn tcp_info_and_so_error_report_the_connection(#[values(V4, V6)] family: Family) {
    claim("options.monitoring.tcp-info")
        .needs_ipv6(family.is_v6())
        .run(move |ctx| {
            let pair = peers::tcp_pair(family);
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
        .needs_ipv6(family.is_v6())
        .run(move |ctx| {
            let pair = peers::tcp_pair(family);
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
            let listener = row(&pair.listener, false);
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
            let pairs = [peers::tcp_pair(V4), peers::tcp_pair(V4)];
            let udp = peers::udp_pair(V4);
            for _ in 0..3 {
                udp.a.send(b"count me").expect("send");
                peers::datagram(&udp.b, 16).expect("recv");
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
        let filter = format!("sport = :{}", addr.port());
        let out = tools::run("ss", &["-tlnpH", &filter], STEP);
        ctx.observe("ss -tlnpH 'sport = :PORT'", out.trim());
        assert!(out.contains(&format!("127.0.0.1:{}", addr.port())), "{out}");
        assert!(out.contains("LISTEN"), "{out}");
        assert!(
            out.contains(&format!("pid={}", std::process::id())),
            "-p names this process: {out}"
        );
    });
}

#[test]
fn lsof_lists_the_socket_on_a_port() {
    claim("options.debug.lsof-port")
        .limit(Duration::from_secs(10))
        .run(|ctx| {
            let (_listener, addr) = peers::tcp_listener(V4);
            let spec = format!("-i:{}", addr.port());
            // -n/-P: no name lookups; -a -p: this process only, so the scan stays short.
            let pid = std::process::id().to_string();
            let out = tools::run(
                "lsof",
                &["-nP", &spec, "-a", "-p", &pid],
                Duration::from_secs(8),
            );
            ctx.observe("lsof -nP -i:PORT -a -p PID", out.trim());
            assert!(
                out.contains(&format!("127.0.0.1:{} (LISTEN)", addr.port())),
                "{out}"
            );
        });
}

#[test]
fn a_server_on_127_0_0_1_refuses_localhost_over_ipv6() {
    claim("options.debug.telnet-nc-localhost")
        .needs_ipv6(true)
        .in_netns()
        .run(|ctx| {
            let resolved: Vec<String> = ("localhost", 0)
                .to_socket_addrs()
                .map(|a| a.map(|a| a.ip().to_string()).collect())
                .unwrap_or_default();
            ctx.observe("localhost_resolves_to", &resolved);
            let listener = peers::socket(V4.domain(), Type::STREAM);
            listener
                .bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
                .expect("bind 127.0.0.1");
            listener.listen(1).expect("listen");
            let port = peers::local(&listener).port();
            let v6 = peers::socket(V6.domain(), Type::STREAM)
                .connect(&SocketAddr::from((Ipv6Addr::LOCALHOST, port)).into())
                .map_err(errno);
            let v4 = peers::socket(V4.domain(), Type::STREAM)
                .connect(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)).into())
                .map_err(errno);
            ctx.observe("connect_[::1]", format!("{v6:?}"));
            ctx.observe("connect_127.0.0.1", format!("{v4:?}"));
            assert_eq!(v6, Err(Errno::ECONNREFUSED));
            assert_eq!(v4, Ok(()));
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
