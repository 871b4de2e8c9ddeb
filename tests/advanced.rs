//! The overview's advanced topics: epoll (ready lists, edge triggering, a readable listener
//! with nothing to accept), SO_REUSEPORT load balancing, and per-namespace kernel tuning
//! (sysctls, the ephemeral port range, TIME_WAIT reuse). Backlog capping by somaxconn is
//! checked with the TCP suite (`tcp::listen_backlog_is_capped_by_somaxconn`).

use std::net::SocketAddr;
use std::os::fd::{AsFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use harness::catalogue;
use harness::errno;
use harness::kernel::{self, Runtime};
use harness::peers::{self, Family, SocketKind};
use harness::privileges::as_unprivileged;
use harness::sysctl::sysctl;
use harness::wait::{self, STEP};
use harness::{claim, skip};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg};
use nix::poll::PollFlags;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use rstest::rstest;
use socket2::{Socket, Type};

use Family::{V4, V6};

fn epoll() -> Epoll {
    Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).expect("epoll_create1")
}

/// epoll_wait with room for 64 events: the tokens of the ready descriptors.
fn ready(ep: &Epoll, timeout_ms: u16) -> Vec<u64> {
    let mut events = [EpollEvent::empty(); 64];
    let n = ep
        .wait(&mut events, EpollTimeout::from(timeout_ms))
        .expect("epoll_wait");
    events[..n].iter().map(EpollEvent::data).collect()
}

#[test]
fn epoll_reports_only_the_ready_descriptors() {
    claim("advanced.epoll.ready-list").run(|ctx| {
        let ep = epoll();
        let pairs: Vec<_> = (0..200).map(|_| SocketKind::UNIX_STREAM.pair()).collect();
        for (i, pair) in pairs.iter().enumerate() {
            ep.add(&pair.server, EpollEvent::new(EpollFlags::EPOLLIN, i as u64))
                .expect("EPOLL_CTL_ADD, once per descriptor");
        }
        peers::write_all(&pairs[137].client, b"wake", "make one ready");
        let got = ready(&ep, 1000);
        ctx.observe("registered", pairs.len());
        ctx.observe("epoll_wait_returned", &got);
        assert_eq!(
            got,
            [137],
            "only the one ready descriptor, of 200 registered"
        );
        assert_eq!(
            ready(&ep, 0),
            [137],
            "and again: registration is not repeated per wait"
        );
    });
}

#[rstest]
fn edge_triggered_epoll_reports_new_data_once(#[values(V4, V6)] family: Family) {
    claim("advanced.epoll.edge-triggered-drain")
        .family(family)
        .run(move |ctx| {
            let pair = SocketKind::tcp(family).pair();
            pair.server.set_nonblocking(true).expect("nonblocking");
            let (level, edge) = (epoll(), epoll());
            level
                .add(&pair.server, EpollEvent::new(EpollFlags::EPOLLIN, 1))
                .expect("add level-triggered");
            edge.add(
                &pair.server,
                EpollEvent::new(EpollFlags::EPOLLIN | EpollFlags::EPOLLET, 1),
            )
            .expect("add edge-triggered");
            peers::write_all(&pair.client, &[1u8; 100], "send 100 bytes");
            // All 100 bytes queued (a short send may have split them into several segments,
            // each a new edge) before the edge is taken.
            peers::await_queued(&pair.server, 100, "the 100 bytes");
            let first = (ready(&level, 1000).len(), ready(&edge, 1000).len());
            // One read of at most 10: recv(2) may hand over fewer, any count leaves data queued.
            let partial = peers::read_some(&pair.server, 10).expect("read at most 10 of 100");
            assert!(!partial.is_empty(), "100 bytes are queued: no EOF");
            // The rest remains: level-triggered says so again, edge-triggered stays silent.
            let after_partial_read = (ready(&level, 0).len(), ready(&edge, 50).len());
            // With EPOLLET a reader must drain to EAGAIN, whatever count each read returns.
            let mut drained = partial.len();
            let mut reads = vec![partial.len()];
            let end = loop {
                match peers::read_some(&pair.server, 10) {
                    Ok(d) if d.is_empty() => break Ok(()),
                    Ok(d) => {
                        drained += d.len();
                        reads.push(d.len());
                    }
                    Err(e) => break Err(e),
                }
                assert!(drained <= 100, "more bytes than were sent");
            };
            peers::write_all(&pair.client, b"more", "new data");
            let after_new_data = ready(&edge, 1000).len();
            ctx.observe("level_edge_after_send", first);
            ctx.observe(
                "level_edge_after_one_read_of_at_most_10",
                after_partial_read,
            );
            ctx.observe("read_counts", &reads);
            ctx.observe("drained_until", format!("{drained} bytes, then {end:?}"));
            ctx.observe("edge_after_new_data", after_new_data);
            assert_eq!(first, (1, 1));
            assert_eq!(
                after_partial_read,
                (1, 0),
                "EPOLLET does not repeat unread data"
            );
            assert_eq!((drained, end), (100, Err(Errno::EAGAIN)));
            assert_eq!(after_new_data, 1, "new data is a new edge");
        });
}

#[test]
fn poll_watches_a_descriptor_past_fd_setsize() {
    claim("advanced.select.fd-setsize").run(|ctx| {
        ctx.observe("FD_SETSIZE", libc::FD_SETSIZE);
        assert_eq!(
            libc::FD_SETSIZE,
            1024,
            "glibc's fd_set holds 1024 descriptors"
        );
        const HIGH: RawFd = 1100;
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit(RLIMIT_NOFILE)");
        let needed = HIGH as u64 + 1;
        if soft < needed {
            if hard < needed {
                skip(format!(
                    "RLIMIT_NOFILE's hard limit ({hard}) is below {needed}"
                ));
            }
            setrlimit(Resource::RLIMIT_NOFILE, needed, hard)
                .expect("raise RLIMIT_NOFILE's soft limit");
        }
        let pair = SocketKind::TCP_V4.pair();
        let raw = fcntl(&pair.server, FcntlArg::F_DUPFD_CLOEXEC(HIGH)).expect("F_DUPFD_CLOEXEC");
        // SAFETY: F_DUPFD_CLOEXEC returned a new descriptor that nothing else owns.
        let high = unsafe { OwnedFd::from_raw_fd(raw) };
        ctx.observe("descriptor", raw);
        assert!(raw >= 1024, "a descriptor past FD_SETSIZE: {raw}");
        pair.client.send(b"x").expect("send a byte");
        let events = wait::ready(
            high.as_fd(),
            PollFlags::POLLIN,
            STEP,
            "poll on a descriptor past FD_SETSIZE",
        );
        ctx.observe("poll", format!("{events:?}"));
        assert!(events.contains(PollFlags::POLLIN));
    });
}

#[rstest]
fn a_readable_listener_can_have_nothing_to_accept(#[values(V4, V6)] family: Family) {
    claim("advanced.epoll.nonblocking-accept")
        .family(family)
        .run(move |ctx| {
            let (listener, addr) = peers::tcp_listener(family);
            listener
                .set_nonblocking(true)
                .expect("nonblocking listener");
            let ep = epoll();
            ep.add(&listener, EpollEvent::new(EpollFlags::EPOLLIN, 7))
                .expect("add the listener");
            let client = peers::socket(family.domain(), Type::STREAM);
            client.connect(&addr.into()).expect("connect");
            assert_eq!(ready(&ep, 1000), [7], "the listener is readable");
            // Another worker takes the connection between the event and this loop's accept.
            let (taken, _) = listener.accept().expect("the other worker's accept");
            let late = listener.accept().map(|_| ()).map_err(errno);
            ctx.observe("accept_after_another_took_it", format!("{late:?}"));
            assert_eq!(
                late,
                Err(Errno::EAGAIN),
                "a nonblocking accept does not block the loop"
            );
            drop(taken);
            // A connection reset while it waited in the queue is still handed out.
            let doomed = peers::socket(family.domain(), Type::STREAM);
            doomed.connect(&addr.into()).expect("connect");
            doomed
                .set_linger(Some(Duration::ZERO))
                .expect("SO_LINGER {1, 0}");
            drop(doomed);
            wait::ready(
                listener.as_fd(),
                nix::poll::PollFlags::POLLIN,
                STEP,
                "the queued connection",
            );
            let (reset, _) = wait::until(STEP, "accept of the reset connection", || {
                listener.accept().ok()
            });
            let read = wait::until(STEP, "the reset to arrive", || {
                match peers::read_some(&reset, 8) {
                    Err(Errno::EAGAIN) => None,
                    other => Some(other),
                }
            });
            ctx.observe("read_on_accepted_reset_connection", format!("{read:?}"));
            assert_eq!(read, Err(Errno::ECONNRESET));
        });
}

/// `n` SO_REUSEPORT listeners on one loopback port.
fn reuseport_listeners(family: Family, n: usize) -> (Vec<Socket>, SocketAddr) {
    let mut addr = family.any_port();
    let listeners = (0..n)
        .map(|_| {
            let sock = peers::socket(family.domain(), Type::STREAM);
            sock.set_reuse_port(true).expect("SO_REUSEPORT");
            sock.bind(&addr.into()).expect("bind the shared port");
            sock.listen(128).expect("listen");
            sock.set_nonblocking(true).expect("nonblocking");
            addr = peers::local(&sock);
            sock
        })
        .collect();
    (listeners, addr)
}

/// Accepts whatever each listener has queued right now.
fn accept_all(listeners: &[Socket], counts: &mut [usize], kept: &mut Vec<Socket>) {
    for (listener, count) in listeners.iter().zip(counts.iter_mut()) {
        while let Ok((sock, _)) = listener.accept() {
            *count += 1;
            kept.push(sock);
        }
    }
}

#[rstest]
fn reuseport_spreads_connections_over_the_listeners(#[values(V4, V6)] family: Family) {
    claim("advanced.reuseport.load-balancing")
        .family(family)
        .run(move |ctx| {
            let (listeners, addr) = reuseport_listeners(family, 2);
            let clients: Vec<Socket> = (0..64)
                .map(|_| {
                    let c = peers::socket(family.domain(), Type::STREAM);
                    c.connect(&addr.into()).expect("connect to the shared port");
                    c
                })
                .collect();
            let (mut counts, mut kept) = (vec![0; 2], Vec::new());
            wait::until(STEP, "all 64 connections accepted", || {
                accept_all(&listeners, &mut counts, &mut kept);
                (counts.iter().sum::<usize>() == clients.len()).then_some(())
            });
            ctx.observe("accepted_per_listener", &counts);
            // A 4-tuple hash puts all 64 on one listener with probability 2^-63.
            assert!(
                counts.iter().all(|&c| c > 0),
                "each listener gets a share: {counts:?}"
            );
        });
}

#[test]
fn reuseport_shares_a_port_only_within_one_uid_and_only_if_all_opt_in() {
    claim("advanced.reuseport.same-uid").run(|ctx| {
        let (_listeners, addr) = reuseport_listeners(V4, 1);
        let plain = peers::socket(V4.domain(), Type::STREAM);
        let without = plain.bind(&addr.into()).map_err(errno);
        ctx.observe("bind_without_SO_REUSEPORT", format!("{without:?}"));
        assert_eq!(without, Err(Errno::EADDRINUSE), "every socket must opt in");
        let child_uid = as_unprivileged("the unprivileged uid", STEP, || {
            Ok(i64::from(nix::unistd::geteuid().as_raw()))
        })
        .unwrap_or_else(|e| panic!("{e}"))
        .expect("geteuid");
        let other = as_unprivileged("bind with SO_REUSEPORT as another user", STEP, move || {
            let sock = Socket::new(V4.domain(), Type::STREAM, None).map_err(errno)?;
            sock.set_reuse_port(true).map_err(errno)?;
            sock.bind(&addr.into()).map(|()| 0).map_err(errno)
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let me = i64::from(nix::unistd::geteuid().as_raw());
        ctx.observe("uids", [me, child_uid]);
        ctx.observe("child_bind_with_SO_REUSEPORT", format!("{other:?}"));
        if child_uid == me {
            // Not root: the child cannot take another uid, and a same-uid socket shares.
            assert_eq!(other, Ok(0), "the same uid shares the port");
        } else {
            assert_eq!(
                other,
                Err(Errno::EADDRINUSE),
                "another uid cannot join the group"
            );
        }
    });
}

/// `n` nonblocking clients connected to `addr`, their connections queued at the listeners.
fn queued_clients(addr: SocketAddr, n: usize) -> Vec<Socket> {
    (0..n)
        .map(|_| {
            let c = peers::socket(V4.domain(), Type::STREAM);
            c.connect(&addr.into()).expect("connect");
            c.set_nonblocking(true).expect("nonblocking");
            c
        })
        .collect()
}

#[test]
fn closing_a_reuseport_listener_resets_its_queued_connections() {
    claim("advanced.reuseport.closing-listener-drops-its-queue")
        // Its own namespace: net.ipv4.tcp_migrate_req is at its default (0) there.
        .in_netns()
        .run(|ctx| {
            ctx.observe("tcp_migrate_req", sysctl("net.ipv4.tcp_migrate_req").ok());
            let (mut listeners, addr) = reuseport_listeners(V4, 2);
            const N: usize = 32;
            let clients = queued_clients(addr, N);
            drop(listeners.remove(0)); // closes with its queue unaccepted
            let (mut accepted, mut kept) = (vec![0], Vec::new());
            let mut reset = [false; N];
            wait::until(
                STEP,
                "every connection reset or accepted by the survivor",
                || {
                    accept_all(&listeners, &mut accepted, &mut kept);
                    for (client, was_reset) in clients.iter().zip(reset.iter_mut()) {
                        *was_reset |= peers::read_some(client, 1) == Err(Errno::ECONNRESET);
                    }
                    let resets = reset.iter().filter(|r| **r).count();
                    (resets + accepted[0] == N).then_some(resets)
                },
            );
            let resets = reset.iter().filter(|r| **r).count();
            ctx.observe("reset_with_the_closed_listener", resets);
            ctx.observe("accepted_by_the_other", accepted[0]);
            // All 32 hashing to the survivor has probability 2^-32.
            assert!(
                resets > 0,
                "the closed listener's queue was moved, not reset"
            );
        });
}

#[test]
fn with_tcp_migrate_req_a_closing_listeners_queue_moves_to_the_others() {
    claim("advanced.reuseport.closing-listener-drops-its-queue")
        .in_netns()
        .run(|ctx| {
            let since_5_14 = harness::kernel::Scope {
                since: harness::kernel::Version::parse("5.14")
                    .into_iter()
                    .collect(),
                until: Vec::new(),
                linux_only: false,
            };
            if !since_5_14.includes(&harness::kernel::running())
                || sysctl("net.ipv4.tcp_migrate_req").is_err()
            {
                skip("this kernel has no net.ipv4.tcp_migrate_req (added in Linux 5.14)");
            }
            ctx.netns().write_sysctl("net.ipv4.tcp_migrate_req", "1");
            let (mut listeners, addr) = reuseport_listeners(V4, 2);
            const N: usize = 32;
            let clients = queued_clients(addr, N);
            drop(listeners.remove(0)); // closes with its queue unaccepted
            let (mut accepted, mut kept) = (vec![0], Vec::new());
            wait::until(STEP, "the survivor to accept all 32", || {
                accept_all(&listeners, &mut accepted, &mut kept);
                (accepted[0] == N).then_some(())
            });
            let resets = clients
                .iter()
                .filter(|c| peers::read_some(c, 1) == Err(Errno::ECONNRESET))
                .count();
            ctx.observe("accepted_by_the_other", accepted[0]);
            ctx.observe("reset", resets);
            assert_eq!(
                resets, 0,
                "with tcp_migrate_req = 1 no queued connection is reset"
            );
        });
}

/// A Unix socket has no port to share. Linux 6.13 (and the stable updates the claim's `since`
/// lists) refuses SO_REUSEPORT on one with EOPNOTSUPP; older kernels accept it and ignore it.
/// The catalogue says which this kernel is; the test asserts that and records the answer.
#[rstest]
fn so_reuseport_on_a_unix_socket_is_refused_from_6_13_on(
    #[values(
        SocketKind::UNIX_STREAM,
        SocketKind::UNIX_DGRAM,
        SocketKind::UNIX_SEQPACKET
    )]
    kind: SocketKind,
) {
    claim("advanced.reuseport.not-for-unix-sockets")
        .kind(kind)
        .run(move |ctx| {
            let scope = catalogue::scope_of("advanced.reuseport.not-for-unix-sockets");
            let here = kernel::running();
            let sock = Socket::new(kind.domain, kind.ty, None).expect("socket(AF_UNIX)");
            let got = sock.set_reuse_port(true).map_err(errno);
            let version = here.version.as_ref().map(ToString::to_string);
            ctx.observe("kernel_version", &version);
            ctx.observe("setsockopt_so_reuseport", format!("{got:?}"));
            if scope.linux_only && here.runtime == Runtime::Gvisor {
                skip(format!(
                    "gVisor is not Linux, whose versions the fact is about (it answered {got:?})"
                ));
            }
            if scope.includes(&here) {
                assert_eq!(
                    got,
                    Err(Errno::EOPNOTSUPP),
                    "{version:?} is {}: SO_REUSEPORT on AF_UNIX is refused",
                    scope.describe()
                );
            } else {
                assert_eq!(
                    got,
                    Ok(()),
                    "{version:?} is before {}: SO_REUSEPORT on AF_UNIX is accepted",
                    scope.describe()
                );
            }
        });
}

/// The sysctls a new network namespace copies from the initial one instead of starting from
/// the kernel's defaults (tcp_sk_init: "copied from init_net").
const COPIED_FROM_THE_INITIAL_NAMESPACE: [&str; 3] = [
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
    "net.ipv4.tcp_congestion_control",
];

/// A value for `key` unlike `now` (written in the test's namespace only).
fn another_value(key: &str, now: &str) -> String {
    if key.ends_with("congestion_control") {
        return if now == "reno" { "cubic" } else { "reno" }.to_string();
    }
    let fields: Vec<u64> = now
        .split_whitespace()
        .map(|f| f.parse().expect("a number"))
        .collect();
    format!("{}\t{}\t{}", fields[0], fields[1] + 1024, fields[2] + 1024)
}

#[test]
fn sysctls_belong_to_the_network_namespace() {
    let read = |key: &str| sysctl(key).unwrap_or_else(|e| panic!("{key}: {e}"));
    // Read where the test starts: as root the initial (host) namespace; unprivileged, the test
    // already runs in a namespace of its own, whose values are copies too.
    let netns_inode = || {
        std::fs::metadata("/proc/thread-self/ns/net")
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .expect("this thread's network namespace")
    };
    let started_in = netns_inode();
    let outside = COPIED_FROM_THE_INITIAL_NAMESPACE.map(read);
    claim("advanced.tuning.per-namespace-sysctls")
        .in_netns()
        .run(move |ctx| {
            let ns = ctx.netns();
            let fresh = [
                read("net.core.somaxconn"),
                read("net.ipv4.ip_local_port_range"),
            ];
            ctx.observe("new_namespace_somaxconn_port_range", &fresh);
            let copied = COPIED_FROM_THE_INITIAL_NAMESPACE.map(read);
            ctx.observe("new_namespace_tcp_rmem_wmem_congestion", &copied);
            if netns_inode() == started_in {
                ctx.observe(
                    "initial_namespace_values",
                    "not readable here: unprivileged, the test started in a namespace already",
                );
            } else {
                ctx.observe("initial_namespace_values", &outside);
                assert_eq!(
                    copied, outside,
                    "a new namespace starts with the host's values"
                );
            }
            ns.write_sysctl("net.core.somaxconn", "77");
            let written = COPIED_FROM_THE_INITIAL_NAMESPACE.map(|key| {
                let value = another_value(key, &read(key));
                ns.write_sysctl(key, &value);
                value
            });
            ctx.observe("written_here", &written);
            let elsewhere = peers::spawn("a thread in another new namespace", || {
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
                    .expect("unshare a second namespace");
                (
                    sysctl("net.core.somaxconn").expect("somaxconn there"),
                    COPIED_FROM_THE_INITIAL_NAMESPACE.map(|key| sysctl(key).expect(key)),
                )
            })
            .join(STEP);
            let here = read("net.core.somaxconn");
            ctx.observe(
                "somaxconn_here_and_in_another_namespace",
                [&here, &elsewhere.0],
            );
            ctx.observe("another_namespace_tcp_rmem_wmem_congestion", &elsewhere.1);
            assert_eq!(
                fresh,
                ["4096", "32768\t60999"],
                "a new namespace has the kernel's defaults"
            );
            assert_eq!((here.as_str(), elsewhere.0.as_str()), ("77", "4096"));
            assert_eq!(
                COPIED_FROM_THE_INITIAL_NAMESPACE.map(read),
                written,
                "the writes hold in this namespace"
            );
            // The next namespace copies the initial namespace's values, not this one's.
            assert_eq!(elsewhere.1, copied, "copied from the initial namespace");
        });
}

#[test]
fn a_narrow_ephemeral_range_runs_out() {
    claim("advanced.tuning.ephemeral-port-range")
        .in_netns()
        .run(|ctx| {
            let ns = ctx.netns();
            let (_listener, addr) = peers::tcp_listener(V4);
            // Four ports, away from the listener's own.
            let low = if (40000..=40003).contains(&addr.port()) {
                50000
            } else {
                40000
            };
            let range = low..=low + 3;
            ns.write_sysctl(
                "net.ipv4.ip_local_port_range",
                &format!("{low} {}", low + 3),
            );
            let attempt = |connect: bool| {
                let (mut held, mut ports) = (Vec::new(), Vec::new());
                for _ in 0..5 {
                    let s = peers::socket(V4.domain(), Type::STREAM);
                    let got = if connect {
                        s.connect(&addr.into())
                    } else {
                        s.bind(&V4.any_port().into())
                    };
                    ports.push(got.map(|()| peers::local(&s).port()).map_err(errno));
                    held.push(s);
                }
                ports
            };
            let bound = attempt(false);
            let connected = attempt(true);
            ctx.observe("bind_port_0_five_times", format!("{bound:?}"));
            ctx.observe("connect_five_times", format!("{connected:?}"));
            for (what, ports, exhausted) in [
                ("bind", &bound, Errno::EADDRINUSE),
                ("connect", &connected, Errno::EADDRNOTAVAIL),
            ] {
                assert!(
                    ports[..4]
                        .iter()
                        .all(|p| p.as_ref().is_ok_and(|p| range.contains(p))),
                    "{what}: four ports, all in the range: {ports:?}"
                );
                assert_eq!(
                    ports[4],
                    Err(exhausted),
                    "{what}: then the range is exhausted"
                );
            }
        });
}

#[test]
fn time_wait_reuse_is_loopback_only_by_default_and_recycle_is_gone() {
    claim("advanced.tuning.time-wait-reuse")
        .in_netns()
        .limit(Duration::from_secs(10))
        .run(|ctx| {
            let ns = ctx.netns();
            let reuse = sysctl("net.ipv4.tcp_tw_reuse").expect("tcp_tw_reuse");
            let recycle = sysctl("net.ipv4.tcp_tw_recycle").map_err(|e| e.kind());
            ctx.observe("tcp_tw_reuse_default", &reuse);
            ctx.observe("tcp_tw_recycle", format!("{recycle:?}"));
            ctx.observe(
                "tcp_tw_reuse_delay_ms",
                sysctl("net.ipv4.tcp_tw_reuse_delay").ok(),
            );
            assert_eq!(reuse, "2", "2: reuse for loopback connections only");
            assert_eq!(
                recycle,
                Err(std::io::ErrorKind::NotFound),
                "removed in Linux 4.12"
            );
            let (listener, addr) = peers::tcp_listener(V4);
            // One local port: a second connection to the server needs the first one's.
            ns.write_sysctl("net.ipv4.ip_local_port_range", "40000 40000");
            let connect = || {
                let c = peers::socket(V4.domain(), Type::STREAM);
                c.connect(&addr.into()).map(|()| c).map_err(errno)
            };
            let first = connect().expect("the first connection");
            let port = peers::local(&first).port();
            let (server, _) = peers::accept(&listener, "the first connection");
            drop(first); // the client closes first: its end goes to TIME_WAIT
            assert!(peers::read_some(&server, 1).expect("EOF").is_empty());
            drop(server);
            wait::until(STEP, "the client's end in TIME_WAIT", || {
                let table = std::fs::read_to_string(ns.proc_net("tcp")).ok()?;
                let local = format!(":{port:04X} ");
                table
                    .lines()
                    .any(|l| l.contains(&local) && l.split_whitespace().nth(3) == Some("06"))
                    .then_some(())
            });
            // Reuse waits until the TIME_WAIT is older than tcp_tw_reuse_delay, 1 s by
            // default, which this namespace sets to its least (1 ms); kernels before 6.13
            // have a whole-second timestamp check instead: wait that out there.
            let old_enough = if sysctl("net.ipv4.tcp_tw_reuse_delay").is_ok() {
                ns.write_sysctl("net.ipv4.tcp_tw_reuse_delay", "1");
                Duration::from_millis(20)
            } else {
                Duration::from_millis(2100)
            };
            std::thread::sleep(old_enough);
            ns.write_sysctl("net.ipv4.tcp_tw_reuse", "0");
            let without = connect().map(|_| ());
            ctx.observe("connect_with_tcp_tw_reuse_0", format!("{without:?}"));
            assert_eq!(
                without,
                Err(Errno::EADDRNOTAVAIL),
                "the only port is in TIME_WAIT"
            );
            ns.write_sysctl("net.ipv4.tcp_tw_reuse", "2");
            let with = connect();
            let reused = with
                .as_ref()
                .map(|c| peers::local(c).port())
                .map_err(|e| *e);
            ctx.observe("connect_with_tcp_tw_reuse_2_port", format!("{reused:?}"));
            assert_eq!(
                reused,
                Ok(port),
                "a loopback connect takes over the TIME_WAIT port"
            );
        });
}
