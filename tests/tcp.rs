//! Section 07-10 (TCP programming) and the overview's TCP claims: the server lifecycle,
//! nonblocking mode, errors and reconnection, timeouts, the byte stream, multi-process servers,
//! connection reuse and keep-alive.

use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, FromRawFd};
use std::time::{Duration, Instant};

use harness::errno;
use harness::fork::fork_child;
use harness::peers::{self, Family, SocketKind};
use harness::sysctl::sysctl;
use harness::wait::{self, STEP};
use harness::{claim, Cap};
use nix::errno::Errno;
use nix::poll::PollFlags;
use nix::sys::signal::Signal;
use nix::sys::socket::MsgFlags;
use nix::sys::socket::SockFlag;
use nix::sys::wait::WaitStatus;
use proptest::prelude::*;
use rstest::rstest;
use socket2::{Domain, SockFilter, Socket, TcpKeepalive, Type};

use Family::{V4, V6};

/// A port on loopback that nothing listens on: bound (so nobody else gets it) but not
/// listening, so a SYN to it is answered with RST.
fn closed_port(family: Family) -> (Socket, SocketAddr) {
    let holder = peers::socket(family.domain(), Type::STREAM);
    holder.bind(&family.any_port().into()).expect("bind port 0");
    let addr = peers::local(&holder);
    (holder, addr)
}

/// How a socket is put into nonblocking mode.
#[derive(Clone, Copy, Debug)]
enum Nonblocking {
    /// `fcntl(fd, F_SETFL, O_NONBLOCK)` on an existing socket.
    Fcntl,
    /// `socket(…, SOCK_STREAM | SOCK_NONBLOCK, …)` at creation.
    SockNonblock,
}

fn nonblocking_socket(family: Family, how: Nonblocking) -> Socket {
    match how {
        Nonblocking::Fcntl => {
            let sock = peers::socket(family.domain(), Type::STREAM);
            let fd = sock.as_fd();
            let flags = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL).expect("F_GETFL");
            let flags =
                nix::fcntl::OFlag::from_bits_truncate(flags) | nix::fcntl::OFlag::O_NONBLOCK;
            nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFL(flags)).expect("F_SETFL");
            sock
        }
        Nonblocking::SockNonblock => peers::bounded(
            Socket::new(family.domain(), Type::STREAM.nonblocking(), None)
                .expect("socket with SOCK_NONBLOCK"),
        ),
    }
}

/// A listener whose accept queue is full (backlog 0, one connection queued): further SYNs are
/// dropped, so a new connect stays in SYN_SENT until the queue has room.
fn full_listener(family: Family) -> (Socket, SocketAddr, Socket) {
    let listener = peers::socket(family.domain(), Type::STREAM);
    listener.bind(&family.any_port().into()).expect("bind");
    listener.listen(0).expect("listen(0)");
    let addr = peers::local(&listener);
    let queued = peers::socket(family.domain(), Type::STREAM);
    queued.connect(&addr.into()).expect("first connection");
    wait::until(
        STEP,
        "the first connection to fill the accept queue",
        || {
            let (_, queues) = peers::tcp_state(&listener)?;
            (queues.split(':').nth(1)? != "00000000").then_some(())
        },
    );
    (listener, addr, queued)
}

/// A server's socket after socket(2) → bind(2) → listen(2) on loopback port 0, with
/// SO_ACCEPTCONN after bind and the state /proc/net/tcp shows after listen.
fn listening(family: Family) -> (Socket, SocketAddr, bool, Option<&'static str>) {
    let listener = peers::socket(family.domain(), Type::STREAM);
    listener
        .bind(&family.any_port().into())
        .expect("bind to loopback port 0");
    let accepting = listener.is_listener().expect("SO_ACCEPTCONN");
    listener.listen(16).expect("listen");
    let state = peers::tcp_state(&listener).map(|s| s.0);
    let addr = peers::local(&listener);
    (listener, addr, accepting, state)
}

/// One client connection to a fresh listener, accepted: the listener, the client, the
/// accepted socket and the address accept(2) reported.
fn served(family: Family) -> (Socket, Socket, Socket, SocketAddr) {
    let (listener, addr, _, _) = listening(family);
    let client = peers::socket(family.domain(), Type::STREAM);
    client.connect(&addr.into()).expect("connect");
    let (server, peer) = peers::accept(&listener, "accept");
    let peer = peer.as_socket().expect("an IP peer");
    (listener, client, server, peer)
}

#[rstest]
fn a_server_is_socket_bind_listen_accept(#[values(V4, V6)] family: Family) {
    claim("tcp.lifecycle.socket-bind-listen-accept")
        .family(family)
        .run(move |ctx| {
            let (listener, addr, accepting, listens) = listening(family);
            ctx.observe("SO_ACCEPTCONN_after_bind", accepting);
            ctx.observe("state_after_listen", listens);
            assert!(!accepting, "bind(2) alone does not listen");
            assert_eq!(listens, Some("LISTEN"), "listen(2) turns it LISTEN");
            let client = peers::socket(family.domain(), Type::STREAM);
            client
                .connect(&addr.into())
                .expect("connect to the bound address");
            let (server, _) = peers::accept(&listener, "accept");
            let states = [&client, &server].map(|s| peers::tcp_state(s).map(|s| s.0));
            ctx.observe("client_and_accepted_states", states);
            assert_eq!(states, [Some("ESTABLISHED"); 2]);
            peers::write_all(&client, b"ping", "client to server");
            assert_eq!(peers::read_exact(&server, 4, "client's bytes"), b"ping");
            peers::write_all(&server, b"pong", "server to client");
            assert_eq!(peers::read_exact(&client, 4, "server's bytes"), b"pong");
        });
}

#[rstest]
fn accept_returns_a_new_descriptor_and_the_clients_address(#[values(V4, V6)] family: Family) {
    claim("tcp.lifecycle.accept-returns-new-fd-and-peer")
        .family(family)
        .run(move |ctx| {
            let (listener, client, server, peer) = served(family);
            ctx.observe("listener_fd", listener.as_raw_fd());
            ctx.observe("accepted_fd", server.as_raw_fd());
            ctx.observe("accept_peer", peer.to_string());
            assert_ne!(server.as_raw_fd(), listener.as_raw_fd(), "a new fd");
            assert_eq!(peer, peers::local(&client), "the client's getsockname()");
            let still = peers::tcp_state(&listener).map(|s| s.0);
            ctx.observe("listener_state_after_accept", still);
            assert_eq!(
                still,
                Some("LISTEN"),
                "the listening socket keeps listening"
            );
            let second = peers::socket(family.domain(), Type::STREAM);
            second
                .connect(&peers::local(&listener).into())
                .expect("a second connect");
            let (_, peer2) = peers::accept(&listener, "a second accept");
            assert_eq!(peer2.as_socket(), Some(peers::local(&second)));
        });
}

#[rstest]
fn getsockname_of_one_end_is_getpeername_of_the_other(#[values(V4, V6)] family: Family) {
    claim("tcp.lifecycle.names-agree")
        .family(family)
        .run(move |ctx| {
            let (listener, client, server, _) = served(family);
            let name = |s: &Socket| peers::local(s);
            let peer = |s: &Socket| s.peer_addr().expect("getpeername").as_socket();
            ctx.observe(
                "client_name_peer",
                [name(&client), peer(&client).expect("IP")],
            );
            ctx.observe(
                "server_name_peer",
                [name(&server), peer(&server).expect("IP")],
            );
            assert_eq!(peer(&server), Some(name(&client)));
            assert_eq!(peer(&client), Some(name(&server)));
            assert_eq!(
                name(&server),
                name(&listener),
                "the accepted socket has the listener's name"
            );
        });
}

#[rstest]
fn an_http_exchange_is_bytes_on_one_accepted_connection(#[values(V4, V6)] family: Family) {
    claim("tcp.overview.http-server-on-tcp")
        .family(family)
        .run(move |ctx| {
            let (_listener, client, server, _) = served(family);
            // The request in two writes: nothing in the socket API marks where it ends.
            peers::write_all(&client, b"GET / HTTP/1.1\r\nHost: x\r", "request, part 1");
            peers::write_all(&client, b"\n\r\n", "request, part 2");
            let mut request = Vec::new();
            let mut reads = 0;
            while !request.ends_with(b"\r\n\r\n") {
                let chunk = peers::read_some(&server, 64).expect("recv the request");
                assert!(!chunk.is_empty(), "EOF inside the request");
                request.extend(chunk);
                reads += 1;
            }
            ctx.observe("reads_to_parse_the_request", reads);
            assert_eq!(request, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
            let response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
            peers::write_all(&server, response, "the response");
            assert_eq!(
                peers::read_exact(&client, response.len(), "the response"),
                response,
                "the response comes back on the same connection"
            );
        });
}

#[rstest]
fn accept_on_a_socket_that_is_not_listening_is_einval(#[values(V4, V6)] family: Family) {
    claim("tcp.lifecycle.accept-needs-listen")
        .family(family)
        .run(move |ctx| {
            let (bound, _) = closed_port(family);
            let got = bound.accept().map(drop).map_err(errno);
            ctx.observe("accept_on_bound_socket", format!("{got:?}"));
            assert_eq!(got, Err(Errno::EINVAL));
        });
}

#[rstest]
fn connect_to_a_port_without_listener_is_refused(#[values(V4, V6)] family: Family) {
    claim("tcp.lifecycle.connect-refused")
        .and("tcp.tips.handle-every-error")
        .family(family)
        .run(move |ctx| {
            let (_holder, addr) = closed_port(family);
            let client = peers::socket(family.domain(), Type::STREAM);
            let got = client.connect(&addr.into()).map_err(errno);
            ctx.observe("connect", format!("{got:?}"));
            assert_eq!(got, Err(Errno::ECONNREFUSED));
        });
}

#[rstest]
fn connections_complete_before_accept_is_called(#[values(V4, V6)] family: Family) {
    claim("tcp.lifecycle.handshake-before-accept")
        .family(family)
        .run(move |ctx| {
            let (listener, addr) = peers::tcp_listener(family);
            let clients: Vec<Socket> = (0..3)
                .map(|_| {
                    let c = peers::socket(family.domain(), Type::STREAM);
                    c.connect(&addr.into())
                        .expect("connect returns before any accept");
                    c
                })
                .collect();
            let states: Vec<&str> = clients
                .iter()
                .map(|c| peers::tcp_state(c).map_or("?", |s| s.0))
                .collect();
            ctx.observe("client_states_before_accept", &states);
            assert!(states.iter().all(|s| *s == "ESTABLISHED"));
            let queued = wait::until(STEP, "three connections in the accept queue", || {
                let (_, q) = peers::tcp_state(&listener)?;
                let n = u32::from_str_radix(q.split(':').nth(1)?, 16).ok()?;
                (n == 3).then_some(n)
            });
            ctx.observe("accept_queue_length", queued);
            peers::write_all(&clients[0], b"early", "send before accept");
            let (first, _) = peers::accept(&listener, "first queued connection");
            assert_eq!(
                peers::read_exact(&first, 5, "data sent before accept"),
                b"early"
            );
        });
}

#[test]
fn listen_backlog_is_capped_by_somaxconn() {
    claim("tcp.lifecycle.backlog-capped-by-somaxconn")
        .and("advanced.tuning.somaxconn")
        .in_netns()
        .run(|ctx| {
            let netns = ctx.netns();
            let default = sysctl("net.core.somaxconn").expect("somaxconn");
            ctx.observe("new_namespace_somaxconn", &default);
            assert_eq!(default, "4096", "the default since Linux 5.4");
            netns.write_sysctl("net.core.somaxconn", "4");
            let (listener, addr) = peers::tcp_listener(Family::V4);
            listener
                .listen(100)
                .expect("listen(100): more than somaxconn");
            let clients: Vec<Socket> = (0..8)
                .map(|_| {
                    let c = Socket::new(Domain::IPV4, Type::STREAM.nonblocking(), None)
                        .expect("socket");
                    let _ = c.connect(&addr.into());
                    c
                })
                .collect();
            let queue = || {
                let (_, q) = peers::tcp_state(&listener)?;
                u32::from_str_radix(q.split(':').nth(1)?, 16).ok()
            };
            wait::until(STEP, "the accept queue to fill", || {
                queue().filter(|n| *n >= 5)
            });
            // Further SYNs are dropped, not queued; give stragglers time to show up if they were.
            std::thread::sleep(Duration::from_millis(50));
            let queued = queue().expect("listener in /proc/net/tcp");
            ctx.observe("accept_queue_after_8_connects", queued);
            let overflows = netns.counter("netstat", "TcpExt", "ListenOverflows");
            ctx.observe("TcpExt_ListenOverflows", overflows);
            assert_eq!(
                queued, 5,
                "the queue holds min(backlog, somaxconn) + 1 = 5 connections"
            );
            assert!(overflows > 0, "the dropped SYNs are counted");
            drop(clients);
        });
}

#[rstest]
fn nonblocking_connect_is_einprogress_then_writable(
    #[values(V4, V6)] family: Family,
    #[values(Nonblocking::Fcntl, Nonblocking::SockNonblock)] how: Nonblocking,
) {
    claim("tcp.nonblocking.connect-einprogress")
        .and("tcp.nonblocking.connect-ealready-then-eisconn")
        .family(family)
        .case(match how {
            Nonblocking::Fcntl => "O_NONBLOCK by fcntl",
            Nonblocking::SockNonblock => "SOCK_NONBLOCK",
        })
        .run(move |ctx| {
            let (listener, addr) = peers::tcp_listener(family);
            let client = nonblocking_socket(family, how);
            let started = client.connect(&addr.into()).map_err(errno);
            ctx.observe("connect", format!("{started:?}"));
            assert_eq!(started, Err(Errno::EINPROGRESS));
            let revents = wait::ready(
                client.as_fd(),
                PollFlags::POLLOUT,
                STEP,
                "connect to finish",
            );
            ctx.observe("poll", format!("{revents:?}"));
            assert!(revents.contains(PollFlags::POLLOUT));
            let so_error = client.take_error().expect("SO_ERROR");
            ctx.observe("so_error", format!("{so_error:?}"));
            assert!(so_error.is_none(), "SO_ERROR 0 after a successful connect");
            // Calling connect again is how a program learns the outcome: the first call after
            // completion reports it (0), later calls say the socket is connected.
            let again = client.connect(&addr.into()).map_err(errno);
            ctx.observe("connect_again_after_pollout", format!("{again:?}"));
            assert_eq!(again, Ok(()));
            let third = client.connect(&addr.into()).map_err(errno);
            ctx.observe("connect_third_time", format!("{third:?}"));
            assert_eq!(third, Err(Errno::EISCONN));
            drop(peers::accept(&listener, "the nonblocking client"));
        });
}

#[rstest]
fn nonblocking_connect_to_a_closed_port_reports_econnrefused(#[values(V4, V6)] family: Family) {
    claim("tcp.nonblocking.connect-error-via-so-error")
        .family(family)
        .run(move |ctx| {
            let (_holder, addr) = closed_port(family);
            let client = nonblocking_socket(family, Nonblocking::SockNonblock);
            let started = client.connect(&addr.into()).map_err(errno);
            ctx.observe("connect", format!("{started:?}"));
            let so_error = |what: &str| {
                let e = client.take_error().expect("SO_ERROR");
                let e = e.and_then(|e| e.raw_os_error()).map(Errno::from_raw);
                ctx.observe(what, e.map(|e| format!("{e:?}")));
                e
            };
            if started == Err(Errno::ECONNREFUSED) {
                // connect(2) allows the refusal at once; then nothing is left pending.
                assert_eq!(
                    so_error("so_error"),
                    None,
                    "the refusal was reported already"
                );
                harness::skip(
                    "this kernel refused at once (connect(2) allows it): the EINPROGRESS path \
                     the fact describes, which Linux takes even on loopback, is not taken here",
                );
            }
            assert_eq!(started, Err(Errno::EINPROGRESS));
            let revents = wait::ready(client.as_fd(), PollFlags::POLLOUT, STEP, "connect to fail");
            ctx.observe("poll", format!("{revents:?}"));
            let expected = PollFlags::POLLOUT | PollFlags::POLLERR | PollFlags::POLLHUP;
            assert!(
                revents.contains(expected),
                "poll reports {expected:?}: {revents:?}"
            );
            assert_eq!(so_error("so_error"), Some(Errno::ECONNREFUSED));
            assert_eq!(
                so_error("so_error_again"),
                None,
                "reading SO_ERROR clears it"
            );
        });
}

#[rstest]
fn connect_while_in_progress_is_ealready(#[values(V4, V6)] family: Family) {
    claim("tcp.nonblocking.connect-ealready-then-eisconn")
        .family(family)
        .limit(Duration::from_secs(8))
        .run(move |ctx| {
            let (listener, addr, _queued) = full_listener(family);
            let client = nonblocking_socket(family, Nonblocking::SockNonblock);
            let first = client.connect(&addr.into()).map_err(errno);
            assert_eq!(first, Err(Errno::EINPROGRESS));
            ctx.observe(
                "state_while_queue_full",
                peers::tcp_state(&client).map(|s| s.0),
            );
            let again = client.connect(&addr.into()).map_err(errno);
            ctx.observe("connect_again_in_progress", format!("{again:?}"));
            assert_eq!(again, Err(Errno::EALREADY));
            drop(peers::accept(&listener, "make room in the queue"));
            // The dropped SYN is retransmitted after the initial RTO (1 s on Linux).
            wait::ready(
                client.as_fd(),
                PollFlags::POLLOUT,
                Duration::from_secs(5),
                "retried handshake",
            );
            let done = client.connect(&addr.into()).map_err(errno);
            ctx.observe("connect_after_established", format!("{done:?}"));
            assert_eq!(
                done,
                Ok(()),
                "the first connect after completion reports success"
            );
            let then = client.connect(&addr.into()).map_err(errno);
            ctx.observe("connect_once_more", format!("{then:?}"));
            assert_eq!(then, Err(Errno::EISCONN));
        });
}

#[rstest]
fn accept_and_recv_with_nothing_ready_are_eagain(#[values(V4, V6)] family: Family) {
    claim("tcp.nonblocking.eagain-when-nothing-ready")
        .family(family)
        .run(move |ctx| {
            let pair = SocketKind::tcp(family).pair();
            pair.listener().set_nonblocking(true).expect("O_NONBLOCK");
            let accept = pair.listener().accept().map(drop).map_err(errno);
            ctx.observe("accept_empty_queue", format!("{accept:?}"));
            assert_eq!(accept, Err(Errno::EAGAIN));
            pair.server.set_nonblocking(true).expect("O_NONBLOCK");
            let recv = peers::read_some(&pair.server, 16);
            ctx.observe("recv_no_data", format!("{recv:?}"));
            assert_eq!(recv, Err(Errno::EAGAIN));
            let dontwait =
                peers::recv_msg(&pair.client, 16, MsgFlags::MSG_DONTWAIT).map(|m| m.data.len());
            ctx.observe("recv_msg_dontwait", format!("{dontwait:?}"));
            assert_eq!(dontwait, Err(Errno::EAGAIN));
            ctx.observe(
                "EAGAIN_equals_EWOULDBLOCK",
                Errno::EAGAIN == Errno::EWOULDBLOCK,
            );
        });
}

#[rstest]
fn send_into_a_full_buffer_is_partial_then_eagain(#[values(V4, V6)] family: Family) {
    claim("tcp.nonblocking.partial-send-then-eagain")
        .family(family)
        .run(move |ctx| {
            let pair = SocketKind::tcp(family).pair();
            pair.client.set_send_buffer_size(4096).expect("SO_SNDBUF");
            pair.server.set_recv_buffer_size(4096).expect("SO_RCVBUF");
            pair.client.set_nonblocking(true).expect("O_NONBLOCK");
            let chunk = vec![0x5a; 65536];
            let mut results = Vec::new();
            let outcome = loop {
                match pair.client.send(&chunk).map_err(errno) {
                    Ok(n) => results.push(n),
                    Err(e) => break e,
                }
                assert!(results.len() < 1000, "send never filled the buffer");
            };
            ctx.observe("send_results_before_error", &results);
            ctx.observe("then", format!("{outcome:?}"));
            assert_eq!(outcome, Errno::EAGAIN);
            assert!(
                results.iter().any(|n| *n < chunk.len()),
                "a send took only part of the chunk"
            );
        });
}

#[rstest]
fn write_after_the_peer_closed_is_epipe(#[values(V4, V6)] family: Family) {
    claim("tcp.errors.epipe-after-peer-close")
        .and("tcp.tips.handle-every-error")
        .family(family)
        .run(move |ctx| {
            let pair = SocketKind::tcp(family).pair();
            drop(pair.server);
            let first = pair
                .client
                .send_with_flags(b"one", libc::MSG_NOSIGNAL)
                .map_err(errno);
            ctx.observe("first_send", format!("{first:?}"));
            assert!(
                matches!(first, Ok(1..=3)),
                "the first write after the peer's close is accepted: {first:?}"
            );
            wait::ready(
                pair.client.as_fd(),
                PollFlags::POLLHUP,
                STEP,
                "the peer's RST",
            );
            let second = pair
                .client
                .send_with_flags(b"two", libc::MSG_NOSIGNAL)
                .map_err(errno);
            ctx.observe("second_send", format!("{second:?}"));
            assert_eq!(second, Err(Errno::EPIPE));
        });
}

#[test]
fn sigpipe_kills_a_writer_that_did_not_ask_for_msg_nosignal() {
    claim("tcp.errors.sigpipe-unless-nosignal").run(|ctx| {
        let pair = SocketKind::tcp(V4).pair();
        drop(pair.server);
        pair.client
            .send_with_flags(b"one", libc::MSG_NOSIGNAL)
            .expect("first write");
        wait::ready(
            pair.client.as_fd(),
            PollFlags::POLLHUP,
            STEP,
            "the peer's RST",
        );
        let child = fork_child(
            "writer with SIGPIPE at its default",
            &[pair.client.as_fd()],
            || {
                // SAFETY: restoring the default disposition is async-signal-safe.
                unsafe {
                    nix::sys::signal::signal(Signal::SIGPIPE, nix::sys::signal::SigHandler::SigDfl)
                }
                .expect("SIGPIPE to default");
                let _ = nix::unistd::write(&pair.client, b"two");
                0
            },
        );
        let status = child.wait(STEP);
        ctx.observe("child", format!("{status:?}"));
        assert!(matches!(
            status,
            WaitStatus::Signaled(_, Signal::SIGPIPE, _)
        ));
        let nosignal = pair
            .client
            .send_with_flags(b"3", libc::MSG_NOSIGNAL)
            .map_err(errno);
        ctx.observe("with_msg_nosignal", format!("{nosignal:?}"));
        assert_eq!(nosignal, Err(Errno::EPIPE));
    });
}

/// How the peer ends the connection abortively.
#[derive(Clone, Copy, Debug)]
enum Abort {
    /// close(2) while received data is still unread: Linux sends RST.
    CloseWithUnreadData,
    /// SO_LINGER {on, 0} then close(2).
    LingerZero,
}

#[rstest]
fn read_after_the_peer_reset_is_econnreset(
    #[values(V4, V6)] family: Family,
    #[values(Abort::CloseWithUnreadData, Abort::LingerZero)] how: Abort,
) {
    claim("tcp.errors.econnreset-after-rst")
        .and("tcp.tips.reconnect")
        .family(family)
        .case(match how {
            Abort::CloseWithUnreadData => "close with unread data",
            Abort::LingerZero => "SO_LINGER 0",
        })
        .run(move |ctx| {
            let pair = SocketKind::tcp(family).pair();
            match how {
                Abort::CloseWithUnreadData => {
                    peers::write_all(&pair.client, b"unread", "send");
                    peers::await_queued(&pair.server, 6, "the data to arrive");
                }
                Abort::LingerZero => pair
                    .server
                    .set_linger(Some(Duration::ZERO))
                    .expect("SO_LINGER"),
            }
            drop(pair.server);
            wait::ready(pair.client.as_fd(), PollFlags::POLLIN, STEP, "the RST");
            let got = peers::read_some(&pair.client, 16);
            ctx.observe("recv", format!("{got:?}"));
            assert_eq!(got, Err(Errno::ECONNRESET));
            let server =
                peers::local(pair.listener.as_ref().expect("the TCP pair's listener")).into();
            let again = pair.client.connect(&server).map_err(errno);
            ctx.observe("connect_same_socket_again", format!("{again:?}"));
            assert_eq!(
                again,
                Err(Errno::EISCONN),
                "the reset socket stays connected"
            );
            let fresh = peers::socket(family.domain(), Type::STREAM);
            let reconnect = fresh.connect(&server).map_err(errno);
            ctx.observe("connect_new_socket", format!("{reconnect:?}"));
            assert_eq!(reconnect, Ok(()), "a new socket reconnects");
            let dissolved = pair.client.connect(&af_unspec()).map_err(errno);
            ctx.observe("connect_af_unspec", format!("{dissolved:?}"));
            assert_eq!(
                dissolved,
                Ok(()),
                "connect(AF_UNSPEC) dissolves the association"
            );
            let reused = pair.client.connect(&server).map_err(errno);
            ctx.observe("connect_same_socket_after_af_unspec", format!("{reused:?}"));
            assert_eq!(
                reused,
                Ok(()),
                "after AF_UNSPEC the same socket connects again"
            );
        });
}

/// A socket address whose family is AF_UNSPEC: connect(2) with it dissolves an association.
fn af_unspec() -> socket2::SockAddr {
    let len = std::mem::size_of::<libc::sa_family_t>() as libc::socklen_t;
    // SAFETY: zeroed storage is a valid address of family 0 (AF_UNSPEC), and `len` covers
    // only its family field.
    unsafe { socket2::SockAddr::new(socket2::SockAddrStorage::zeroed(), len) }
}

/// How the peer ends its sending direction.
#[derive(Clone, Copy, Debug)]
enum Finish {
    Close,
    ShutdownWrite,
}

#[rstest]
fn read_after_an_orderly_close_is_eof(
    #[values(V4, V6)] family: Family,
    #[values(Finish::Close, Finish::ShutdownWrite)] how: Finish,
) {
    claim("tcp.errors.eof-after-orderly-close")
        .and("tcp.errors.half-close")
        .family(family)
        .case(match how {
            Finish::Close => "close",
            Finish::ShutdownWrite => "shutdown(SHUT_WR)",
        })
        .run(move |ctx| {
            let pair = SocketKind::tcp(family).pair();
            peers::write_all(&pair.client, b"last words", "send");
            match how {
                Finish::Close => drop(pair.client),
                Finish::ShutdownWrite => {
                    pair.client
                        .shutdown(Shutdown::Write)
                        .expect("shutdown(SHUT_WR)");
                    assert_eq!(
                        peers::read_exact(&pair.server, 10, "data before FIN"),
                        b"last words"
                    );
                    let eof = peers::read_some(&pair.server, 16);
                    ctx.observe("read_after_shut_wr", format!("{eof:?}"));
                    assert_eq!(eof, Ok(Vec::new()), "EOF after the peer's SHUT_WR");
                    peers::write_all(&pair.server, b"reply", "the other direction still works");
                    let reply = peers::read_exact(&pair.client, 5, "reply after SHUT_WR");
                    ctx.observe("reply_after_half_close", String::from_utf8_lossy(&reply));
                    assert_eq!(reply, b"reply");
                    return;
                }
            }
            assert_eq!(
                peers::read_exact(&pair.server, 10, "data before FIN"),
                b"last words"
            );
            let eof = peers::read_some(&pair.server, 16);
            ctx.observe("read_after_close", format!("{eof:?}"));
            assert_eq!(eof, Ok(Vec::new()), "EOF (0) after the peer's close");
        });
}

#[rstest]
fn so_rcvtimeo_and_so_sndtimeo_end_a_blocked_call_with_eagain(
    #[values(V4, V6)] family: Family,
    #[values(true, false)] receive: bool,
) {
    claim("tcp.timeouts.so-rcvtimeo-sndtimeo")
        .and("tcp.tips.set-timeouts")
        .family(family)
        .case(if receive {
            "SO_RCVTIMEO"
        } else {
            "SO_SNDTIMEO"
        })
        .run(move |ctx| {
            let pair = SocketKind::tcp(family).pair();
            let fresh = Socket::new(family.domain(), Type::STREAM, None).expect("socket");
            ctx.observe(
                "default_SO_RCVTIMEO",
                format!("{:?}", fresh.read_timeout().expect("get")),
            );
            assert_eq!(
                fresh.read_timeout().expect("get"),
                None,
                "default: block forever"
            );
            let timeout = Duration::from_millis(200);
            let (got, started) = if receive {
                pair.client
                    .set_read_timeout(Some(timeout))
                    .expect("SO_RCVTIMEO");
                let started = Instant::now();
                (peers::read_some(&pair.client, 16).map(|v| v.len()), started)
            } else {
                pair.client.set_send_buffer_size(4096).expect("SO_SNDBUF");
                pair.server.set_recv_buffer_size(4096).expect("SO_RCVBUF");
                pair.client
                    .set_nonblocking(true)
                    .expect("nonblocking to fill");
                while pair.client.send(&[1u8; 65536]).is_ok() {}
                pair.client.set_nonblocking(false).expect("blocking again");
                pair.client
                    .set_write_timeout(Some(timeout))
                    .expect("SO_SNDTIMEO");
                // A timed send that queued part of its data when the timeout ran out returns
                // that count (send(2)); the call that could queue nothing ends in EAGAIN.
                let mut partial = Vec::new();
                let outcome = loop {
                    let started = Instant::now();
                    match pair.client.send(&[2u8; 65536]).map_err(errno) {
                        Ok(n) => partial.push(n),
                        Err(e) => break (Err(e), started),
                    }
                    assert!(
                        partial.len() < 10,
                        "timed sends kept taking data: {partial:?}"
                    );
                };
                ctx.observe("timed_sends_that_took_part", &partial);
                outcome
            };
            let waited = started.elapsed();
            ctx.observe("result", format!("{got:?}"));
            ctx.observe("waited_ms", waited.as_millis() as u64);
            assert_eq!(got, Err(Errno::EAGAIN));
            // The kernel rounds the timeout up to whole jiffies, but the jiffy the wait starts
            // in is partly gone, so it may end up to one jiffy early: 10 ms at HZ=100, the
            // coarsest setting; 5 ms more for the clock reads around the call (slow when
            // emulated). Seen: 194.7 ms for 200 ms on a HZ=250 kernel under TCG.
            assert!(
                waited + Duration::from_millis(15) >= timeout,
                "returned after {waited:?}"
            );
            // Late is allowed, by scheduling; never unbounded.
            assert!(
                waited <= timeout + Duration::from_millis(1500),
                "returned only after {waited:?}"
            );
        });
}

#[rstest]
fn poll_bounds_a_nonblocking_connect(#[values(V4, V6)] family: Family) {
    claim("tcp.timeouts.bounded-connect")
        .and("tcp.tips.set-timeouts")
        .family(family)
        .run(move |ctx| {
            let (_listener, addr, _queued) = full_listener(family);
            let client = nonblocking_socket(family, Nonblocking::SockNonblock);
            assert_eq!(
                client.connect(&addr.into()).map_err(errno),
                Err(Errno::EINPROGRESS)
            );
            let mut fds = [nix::poll::PollFd::new(client.as_fd(), PollFlags::POLLOUT)];
            let ready =
                nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(300u16)).expect("poll");
            ctx.observe("poll_result_after_300ms", ready);
            ctx.observe("state", peers::tcp_state(&client).map(|s| s.0));
            assert_eq!(
                ready, 0,
                "the handshake cannot finish while the queue is full"
            );
        });
}

#[rstest]
fn a_blocking_connect_bounded_by_so_sndtimeo_fails_with_einprogress(
    #[values(V4, V6)] family: Family,
) {
    claim("tcp.nonblocking.connect-sndtimeo-einprogress")
        .family(family)
        .limit(Duration::from_secs(8))
        // Its own namespace: tcp_abort_on_overflow at its default (0), so SYNs to a full
        // accept queue are dropped and the handshake cannot finish.
        .in_netns()
        .run(move |ctx| {
            let abort = sysctl("net.ipv4.tcp_abort_on_overflow").expect("read the sysctl");
            ctx.observe("tcp_abort_on_overflow", &abort);
            let (listener, addr, _queued) = full_listener(family);
            let client = peers::socket(family.domain(), Type::STREAM);
            let timeout = Duration::from_millis(300);
            client
                .set_write_timeout(Some(timeout))
                .expect("SO_SNDTIMEO");
            let started = Instant::now();
            let got = client.connect(&addr.into()).map_err(errno);
            let waited = started.elapsed();
            let state = peers::tcp_state(&client).map(|s| s.0);
            ctx.observe("blocking_connect", format!("{got:?}"));
            ctx.observe("waited_ms", waited.as_millis() as u64);
            ctx.observe("state_after", state);
            assert_eq!(got, Err(Errno::EINPROGRESS), "not ETIMEDOUT");
            assert_eq!(state, Some("SYN_SENT"), "the handshake goes on");
            assert!(
                waited + Duration::from_millis(15) >= timeout,
                "returned after {waited:?}, before SO_SNDTIMEO"
            );
            // Room in the queue: the retransmitted SYN (initial RTO 1 s) completes the
            // connection, which the program learns as after a nonblocking connect.
            drop(peers::accept(&listener, "make room in the queue"));
            wait::ready(
                client.as_fd(),
                PollFlags::POLLOUT,
                Duration::from_secs(4),
                "the connection to complete later",
            );
            let later = client.take_error().expect("SO_ERROR").map(errno);
            let state = peers::tcp_state(&client).map(|s| s.0);
            ctx.observe(
                "SO_ERROR_and_state_once_writable",
                format!("{later:?} {state:?}"),
            );
            assert_eq!(
                (later, state),
                (None, Some("ESTABLISHED")),
                "it connected later"
            );
        });
}

/// Whether O_NONBLOCK is set on `fd` (F_GETFL).
fn is_nonblocking(fd: std::os::fd::BorrowedFd<'_>) -> bool {
    let flags = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL).expect("F_GETFL");
    nix::fcntl::OFlag::from_bits_truncate(flags).contains(nix::fcntl::OFlag::O_NONBLOCK)
}

#[rstest]
fn accept_does_not_pass_o_nonblock_on_but_accept4_can(#[values(V4, V6)] family: Family) {
    claim("tcp.nonblocking.accept-does-not-inherit-nonblock")
        .family(family)
        .run(move |ctx| {
            let (listener, addr) = peers::tcp_listener(family);
            listener
                .set_nonblocking(true)
                .expect("O_NONBLOCK on the listener");
            let clients = [(); 2].map(|()| {
                let c = peers::socket(family.domain(), Type::STREAM);
                c.connect(&addr.into()).expect("connect");
                c
            });
            let take = |flags: Option<SockFlag>| {
                wait::ready(
                    listener.as_fd(),
                    PollFlags::POLLIN,
                    STEP,
                    "a queued connection",
                );
                let fd = match flags {
                    None => nix::sys::socket::accept(listener.as_raw_fd()),
                    Some(f) => nix::sys::socket::accept4(listener.as_raw_fd(), f),
                }
                .expect("accept");
                // SAFETY: accept just returned this new descriptor; nothing else owns it.
                unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }
            };
            let plain = is_nonblocking(take(None).as_fd());
            let with = is_nonblocking(take(Some(SockFlag::SOCK_NONBLOCK)).as_fd());
            ctx.observe("listener_O_NONBLOCK", is_nonblocking(listener.as_fd()));
            ctx.observe("accept_O_NONBLOCK", plain);
            ctx.observe("accept4_SOCK_NONBLOCK_O_NONBLOCK", with);
            assert!(!plain, "accept(2) gives a blocking socket");
            assert!(with, "accept4(SOCK_NONBLOCK) gives a nonblocking one");
            drop(clients);
        });
}

#[test]
fn the_byte_stream_keeps_bytes_not_write_boundaries() {
    claim("tcp.stream.no-message-boundaries")
        .limit(Duration::from_secs(10))
        .run(|ctx| {
            let writes = prop::collection::vec(prop::collection::vec(any::<u8>(), 1..2000), 1..20);
            let reads = prop::collection::vec(1usize..3000, 1..20);
            ctx.property(64, (writes, reads), |(writes, reads)| {
                let pair = SocketKind::tcp(V4).pair();
                let sent: Vec<u8> = writes.concat();
                let total = sent.len();
                let client = pair.client;
                let writer = peers::spawn("writer", move || {
                    for w in &writes {
                        peers::write_all(&client, w, "one write");
                    }
                    client
                });
                let mut got = Vec::new();
                for size in reads.iter().cycle() {
                    if got.len() == total {
                        break;
                    }
                    let chunk = peers::read_some(&pair.server, *size).expect("recv");
                    prop_assert!(!chunk.is_empty(), "EOF before all bytes arrived");
                    prop_assert!(chunk.len() <= *size);
                    got.extend(chunk);
                }
                drop(writer.join(STEP));
                prop_assert_eq!(got, sent);
                Ok(())
            });
            let pair = SocketKind::tcp(V4).pair();
            for part in [&b"abc"[..], b"def", b"ghi"] {
                peers::write_all(&pair.client, part, "one of three writes");
            }
            peers::await_queued(&pair.server, 9, "all nine bytes to arrive");
            // recv(2) promises 1..=9 bytes here; how many is the kernel's choice (Linux, left
            // alone, hands over all nine: the three writes' boundaries are gone).
            let one_read = peers::read_some(&pair.server, 64).expect("recv");
            ctx.observe("three_writes_one_read", String::from_utf8_lossy(&one_read));
            assert!(
                (1..=9).contains(&one_read.len()),
                "one read returns between 1 and the 9 queued bytes"
            );
            let rest = peers::read_exact(&pair.server, 9 - one_read.len(), "the rest");
            assert_eq!(
                [one_read, rest].concat(),
                b"abcdefghi",
                "the bytes, in order"
            );
        });
}

#[rstest]
fn tcp_delivers_every_byte_in_order_or_fails_with_an_error(#[values(V4, V6)] family: Family) {
    claim("tcp.table.tcp-reliable-stream")
        .family(family)
        .run(move |ctx| {
            let pair = SocketKind::tcp(family).pair();
            let kind = (pair.client.r#type(), pair.client.protocol());
            ctx.observe("SO_TYPE_SO_PROTOCOL", format!("{kind:?}"));
            assert_eq!(
                (kind.0.expect("SO_TYPE"), kind.1.expect("SO_PROTOCOL")),
                (Type::STREAM, Some(socket2::Protocol::TCP))
            );
            let sent: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
            let client = pair.client;
            let data = sent.clone();
            let writer = peers::spawn("1 MiB writer", move || {
                peers::write_all(&client, &data, "1 MiB");
                client
            });
            let got = peers::read_exact(&pair.server, sent.len(), "1 MiB in order");
            let client = writer.join(STEP);
            assert!(got == sent, "every byte, in order, no duplicates");
            // The peer aborts (close with SO_LINGER 0 sends RST): the writer is told, not ignored.
            pair.server
                .set_linger(Some(Duration::ZERO))
                .expect("SO_LINGER 0");
            drop(pair.server);
            wait::ready(client.as_fd(), PollFlags::POLLIN, STEP, "the peer's RST");
            let after = client.send(b"lost?").map(drop).map_err(errno);
            ctx.observe("send_after_peer_reset", format!("{after:?}"));
            assert!(
                matches!(after, Err(Errno::ECONNRESET | Errno::EPIPE)),
                "the connection fails with an error: {after:?}"
            );
        });
}

/// A socket filter (classic BPF, run by TCP on every incoming segment of the socket) that
/// drops the segments whose payload starts with `byte` and keeps every other one.
fn drop_segments_starting_with(byte: u8) -> [SockFilter; 10] {
    use libc::{
        BPF_ABS, BPF_ALU, BPF_AND, BPF_B, BPF_IND, BPF_JEQ, BPF_JGT, BPF_JMP, BPF_K, BPF_LD,
        BPF_LEN, BPF_MISC, BPF_RET, BPF_RSH, BPF_TAX, BPF_W, BPF_X,
    };
    let op = |code: u32| code as u16;
    [
        // A = data offset (TCP header length): the high nibble of byte 12, times 4.
        SockFilter::new(op(BPF_LD | BPF_B | BPF_ABS), 0, 0, 12),
        SockFilter::new(op(BPF_ALU | BPF_RSH | BPF_K), 0, 0, 2),
        SockFilter::new(op(BPF_ALU | BPF_AND | BPF_K), 0, 0, 0x3c),
        SockFilter::new(op(BPF_MISC | BPF_TAX), 0, 0, 0),
        // No payload (len <= header): keep.
        SockFilter::new(op(BPF_LD | BPF_W | BPF_LEN), 0, 0, 0),
        SockFilter::new(op(BPF_JMP | BPF_JGT | BPF_X), 0, 2, 0),
        SockFilter::new(op(BPF_LD | BPF_B | BPF_IND), 0, 0, 0),
        SockFilter::new(op(BPF_JMP | BPF_JEQ | BPF_K), 1, 0, u32::from(byte)),
        SockFilter::new(op(BPF_RET | BPF_K), 0, 0, u32::MAX),
        SockFilter::new(op(BPF_RET | BPF_K), 0, 0, 0),
    ]
}

#[test]
fn a_lost_segment_holds_back_everything_behind_it() {
    claim("tcp.overview.game-state-over-tcp")
        // Its own namespace: SO_ATTACH_FILTER needs privilege on some kernels (see keep-alive).
        .in_netns()
        .limit(Duration::from_secs(10))
        .run(|ctx| {
            // Eight-byte state updates; the first one's segment is lost (a socket filter on
            // the receiver drops it, and its retransmissions, until it is detached).
            const LOST: u8 = 0xEE;
            let update = |n: u8| [if n == 0 { LOST } else { n }, n, 0, 0, 0, 0, 0, n];
            let pair = SocketKind::tcp(V4).pair();
            pair.client.set_tcp_nodelay(true).expect("TCP_NODELAY");
            pair.server
                .attach_filter(&drop_segments_starting_with(LOST))
                .expect("SO_ATTACH_FILTER");
            peers::write_all(&pair.client, &update(0), "update 0 (lost)");
            for n in 1..10 {
                peers::write_all(&pair.client, &update(n), "a later update");
            }
            let sacked = wait::until(STEP, "the later updates to arrive (SACKed)", || {
                let sacked = peers::tcp_info(&pair.client).tcpi_sacked;
                (sacked > 0).then_some(sacked)
            });
            ctx.observe("segments_sacked_behind_the_hole", sacked);
            pair.server.set_nonblocking(true).expect("O_NONBLOCK");
            let readable = peers::read_some(&pair.server, 80).map(|d| d.len());
            ctx.observe("read_while_update_0_is_missing", format!("{readable:?}"));
            assert_eq!(
                readable,
                Err(Errno::EAGAIN),
                "updates 1-9 arrived but are held behind the hole"
            );
            pair.server.detach_filter().expect("SO_DETACH_FILTER");
            let held = Instant::now();
            // The retransmission timer backs off (200 ms, 400 ms, …): the next one may be seconds away.
            wait::ready(
                pair.server.as_fd(),
                PollFlags::POLLIN,
                Duration::from_secs(6),
                "the retransmitted update 0",
            );
            pair.server.set_nonblocking(false).expect("blocking again");
            ctx.observe(
                "readable_after_detach_ms",
                held.elapsed().as_millis() as u64,
            );
            let got = peers::read_exact(&pair.server, 80, "all ten updates");
            let expected: Vec<u8> = (0..10).flat_map(update).collect();
            assert!(got == expected, "all ten, in order: {got:?}");
        });
}

#[test]
fn a_forked_child_keeps_the_connection_after_the_parent_closes() {
    claim("tcp.multiprocess.fork-shares-the-connection").run(|ctx| {
        let pair = SocketKind::tcp(V4).pair();
        let (go_read, go_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("pipe");
        let server = pair.server;
        let child = fork_child(
            "connection worker",
            &[go_read.as_fd(), server.as_fd()],
            || {
                if !wait::poll_readable(go_read.as_fd(), STEP) {
                    return 2;
                }
                peers::write_all_by(b"from child", "the child's write", |rest| {
                    nix::unistd::write(&server, rest)
                });
                0
            },
        );
        drop(server);
        // The child waits up to 2 s for "go"; a 200 ms read shows no EOF arrives meanwhile.
        pair.client
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("SO_RCVTIMEO");
        let after_parent_close = peers::read_some(&pair.client, 16);
        ctx.observe(
            "client_read_after_parent_close",
            format!("{after_parent_close:?}"),
        );
        assert_eq!(
            after_parent_close,
            Err(Errno::EAGAIN),
            "no EOF: the child still holds the connection (read timed out)"
        );
        ctx.observe(
            "client_state_after_parent_close",
            peers::tcp_state(&pair.client).map(|s| s.0),
        );
        nix::unistd::write(&go_write, b"g").expect("tell the child to go");
        pair.client
            .set_read_timeout(Some(STEP))
            .expect("SO_RCVTIMEO");
        let status = child.wait(STEP);
        ctx.observe("child", format!("{status:?}"));
        assert!(matches!(status, WaitStatus::Exited(_, 0)));
        let data = peers::read_exact(&pair.client, 10, "the child's reply");
        assert_eq!(data, b"from child");
        let eof = peers::read_some(&pair.client, 16);
        ctx.observe("read_after_last_copy_closed", format!("{eof:?}"));
        assert_eq!(eof, Ok(Vec::new()), "EOF once the last copy is closed");
    });
}

/// A process's state letter in /proc/PID/stat (`Z` for a zombie), or none once it is gone.
fn process_state(pid: nix::unistd::Pid) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

#[test]
fn an_exited_child_stays_a_zombie_until_waited_for_unless_sigchld_is_ignored() {
    claim("tcp.multiprocess.zombie-until-reaped").run(|ctx| {
        let child = fork_child("a child that exits at once", &[], || 0);
        let pid = child.pid();
        let state = wait::until(STEP, "the exited child to become a zombie", || {
            process_state(pid).filter(|s| *s == 'Z')
        });
        ctx.observe("exited_child_state", state.to_string());
        let status = child.wait(STEP);
        assert_eq!(status, WaitStatus::Exited(pid, 0));
        let after_wait = process_state(pid);
        ctx.observe("state_after_wait", format!("{after_wait:?}"));
        assert_eq!(after_wait, None, "waitpid removed the zombie");

        // With SIGCHLD ignored (in a child of its own, so the test process keeps its
        // disposition) the kernel reaps an exiting grandchild: it leaves /proc and wait finds
        // no child (ECHILD).
        let reaper = fork_child("a parent that ignores SIGCHLD", &[], || {
            // SAFETY: SIG_IGN installs no handler; this single-threaded child only makes
            // system calls afterwards.
            if unsafe {
                nix::sys::signal::signal(Signal::SIGCHLD, nix::sys::signal::SigHandler::SigIgn)
            }
            .is_err()
            {
                return 2;
            }
            let grandchild = fork_child("a grandchild that exits at once", &[], || 0);
            let gpid = grandchild.pid();
            // Reaped by the kernel: no kill or wait on a pid that may be reused.
            std::mem::forget(grandchild);
            let deadline = Instant::now() + STEP;
            while process_state(gpid).is_some() {
                if Instant::now() > deadline {
                    return 3;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            match nix::sys::wait::waitpid(gpid, Some(nix::sys::wait::WaitPidFlag::WNOHANG)) {
                Err(Errno::ECHILD) => 0,
                _ => 4,
            }
        });
        let ignored = reaper.wait(STEP);
        ctx.observe("sigchld_ignored", format!("{ignored:?}"));
        assert!(
            matches!(ignored, WaitStatus::Exited(_, 0)),
            "with SIGCHLD ignored the grandchild left no zombie (1-4: see the child): {ignored:?}"
        );
    });
}

#[test]
fn sock_cloexec_keeps_a_socket_out_of_an_exec_program() {
    claim("tcp.multiprocess.sock-cloexec").run(|ctx| {
        let inherited = Socket::new_raw(Domain::IPV4, Type::STREAM, None).expect("socket");
        let closed = Socket::new_raw(Domain::IPV4, Type::STREAM.cloexec(), None).expect("socket");
        let (a, b) = (inherited.as_raw_fd(), closed.as_raw_fd());
        let script = format!(
            "for fd in {a} {b}; do if [ -e /proc/$$/fd/$fd ]; then echo open; else echo closed; fi; done"
        );
        let out = std::process::Command::new("sh")
            .args(["-c", &script])
            .output()
            .expect("run sh");
        let seen = String::from_utf8_lossy(&out.stdout).split_whitespace().map(String::from).collect::<Vec<_>>();
        ctx.observe("in_exec_program", &seen);
        assert_eq!(seen, ["open", "closed"], "without / with SOCK_CLOEXEC");
    });
}

#[rstest]
fn one_connection_serves_many_requests(#[values(V4, V6)] family: Family) {
    claim("tcp.reuse.keep-alive-connection-reuse")
        .family(family)
        .run(move |ctx| {
            let pair = SocketKind::tcp(family).pair();
            let echo = peers::echo(pair.server);
            let port = peers::local(&pair.client).port();
            for i in 0..100u32 {
                let request = i.to_be_bytes();
                peers::write_all(&pair.client, &request, "request");
                assert_eq!(peers::read_exact(&pair.client, 4, "response"), request);
            }
            assert_eq!(
                peers::local(&pair.client).port(),
                port,
                "same connection throughout"
            );
            // The server end went to the echo thread: borrow the listener field alone.
            let listener = pair.listener.as_ref().expect("the TCP pair's listener");
            listener.set_nonblocking(true).expect("O_NONBLOCK");
            let more = listener.accept().map(drop).map_err(errno);
            ctx.observe("further_accepts", format!("{more:?}"));
            assert_eq!(more, Err(Errno::EAGAIN), "no new connection was made");
            pair.client.shutdown(Shutdown::Write).expect("shutdown");
            ctx.observe("bytes_echoed", echo.join(STEP));
        });
}

#[rstest]
fn keepalive_ends_a_connection_to_a_silent_peer_with_etimedout(#[values(V4, V6)] family: Family) {
    claim("tcp.keepalive.options")
        .family(family)
        // Its own namespace, where the test holds CAP_NET_ADMIN: some kernels (this suite's
        // 6.18 host) refuse SO_ATTACH_FILTER to an unprivileged process with EPERM.
        .in_netns()
        .limit(Duration::from_secs(10))
        .run(move |ctx| {
            // Values no kernel ships, so equal defaults can only come from the sysctls.
            for (key, value) in [("time", "3333"), ("intvl", "44"), ("probes", "5")] {
                ctx.netns()
                    .write_sysctl(&format!("net.ipv4.tcp_keepalive_{key}"), value);
            }
            let pair = SocketKind::tcp(family).pair();
            let sock = &pair.client;
            ctx.observe(
                "SO_KEEPALIVE_default",
                sock.keepalive().expect("SO_KEEPALIVE"),
            );
            assert!(!sock.keepalive().expect("SO_KEEPALIVE"), "off by default");
            // An unconfigured socket's values are the namespace's sysctls, read now.
            let defaults = [
                (
                    "TCP_KEEPIDLE",
                    sock.tcp_keepalive_time().expect("TCP_KEEPIDLE").as_secs(),
                    "time",
                ),
                (
                    "TCP_KEEPINTVL",
                    sock.tcp_keepalive_interval()
                        .expect("TCP_KEEPINTVL")
                        .as_secs(),
                    "intvl",
                ),
                (
                    "TCP_KEEPCNT",
                    u64::from(sock.tcp_keepalive_retries().expect("TCP_KEEPCNT")),
                    "probes",
                ),
            ];
            for (option, value, key) in defaults {
                let key = format!("net.ipv4.tcp_keepalive_{key}");
                let sysctl: u64 = sysctl(&key)
                    .unwrap_or_else(|e| panic!("reading {key}: {e}"))
                    .parse()
                    .unwrap_or_else(|e| panic!("{key}: {e}"));
                ctx.observe(&key, sysctl);
                ctx.observe(&format!("{option}_default"), value);
                assert_eq!(value, sysctl, "{option} defaults to {key}");
            }
            let (idle, intvl, cnt) = (1, 1, 1);
            sock.set_keepalive(true).expect("SO_KEEPALIVE");
            sock.set_tcp_keepalive(
                &TcpKeepalive::new()
                    .with_time(Duration::from_secs(idle))
                    .with_interval(Duration::from_secs(intvl))
                    .with_retries(cnt),
            )
            .expect("TCP_KEEPIDLE/INTVL/CNT");
            let back = (
                sock.tcp_keepalive_time().expect("TCP_KEEPIDLE").as_secs(),
                sock.tcp_keepalive_interval()
                    .expect("TCP_KEEPINTVL")
                    .as_secs(),
                sock.tcp_keepalive_retries().expect("TCP_KEEPCNT"),
            );
            assert_eq!(back, (idle, intvl, cnt), "the per-socket values read back");
            // The peer goes silent: a filter drops every segment reaching it, probes included,
            // so none is answered (TCP runs socket filters on incoming segments).
            pair.server
                .attach_filter(&[SockFilter::new(
                    (libc::BPF_RET | libc::BPF_K) as u16,
                    0,
                    0,
                    0,
                )])
                .expect("SO_ATTACH_FILTER");
            let started = Instant::now();
            let silent_before =
                Duration::from_millis(u64::from(peers::tcp_info(sock).tcpi_last_ack_recv));
            let promised = Duration::from_secs(idle + intvl * u64::from(cnt));
            wait::ready(
                sock.as_fd(),
                PollFlags::POLLIN,
                promised + Duration::from_secs(4),
                "keep-alive to give up on the silent peer",
            );
            let silent = silent_before + started.elapsed();
            let got = peers::read_some(sock, 16).map(|d| d.len());
            ctx.observe("recv_after_the_probes", format!("{got:?}"));
            ctx.observe("silent_for_ms", silent.as_millis() as u64);
            assert_eq!(got, Err(Errno::ETIMEDOUT));
            // Timers fire late under load, never early (one jiffy of rounding aside).
            assert!(
                silent + Duration::from_millis(20) >= promised,
                "gave up after {silent:?}, before idle + cnt × intvl = {promised:?}"
            );
        });
}

#[test]
fn keepalive_probes_go_out_on_an_idle_connection() {
    claim("tcp.keepalive.probes-on-idle")
        .in_netns()
        .needs(Cap::NetRaw)
        .run(|ctx| {
            let sniffer = peers::sniffer();
            let pair = SocketKind::tcp(V4).pair();
            pair.client.set_keepalive(true).expect("SO_KEEPALIVE");
            pair.client
                .set_tcp_keepalive(
                    &TcpKeepalive::new()
                        .with_time(Duration::from_secs(1))
                        .with_interval(Duration::from_secs(1)),
                )
                .expect("TCP_KEEPIDLE 1 s");
            let port = peers::local(&pair.client).port().to_be_bytes();
            let idle_from = Instant::now();
            // Segments from the client: SYN (seq = ISN), the handshake's ACK, then probes.
            let mut seqs = Vec::new();
            let probe = wait::until(Duration::from_secs(4), "a keep-alive probe", || {
                let pkt = peers::datagram(&sniffer, 2048).ok()?.data;
                let ihl = usize::from(pkt.first()? & 0x0f) * 4;
                let tcp = pkt.get(ihl..ihl + 20)?;
                if pkt[9] != 6 || tcp[0..2] != port {
                    return None;
                }
                let payload = pkt.len() - ihl - usize::from(tcp[12] >> 4) * 4;
                let seq = u32::from_be_bytes(tcp[4..8].try_into().ok()?);
                seqs.push(seq);
                (idle_from.elapsed() >= Duration::from_millis(900) && payload == 0)
                    .then(|| (seq, idle_from.elapsed()))
            });
            let (seq, after) = probe;
            ctx.observe("probe_after_ms", after.as_millis() as u64);
            ctx.observe("client_segment_seqs", &seqs);
            let isn = seqs.first().copied().expect("the SYN was captured");
            // A probe carries snd_una - 1; with no data sent that is the SYN's sequence number.
            assert_eq!(seq, isn, "a probe carries snd_una - 1");
        });
}

/// The short version of the bench's UDP-vs-TCP round trips, between two threads on one CPU:
/// UDP's is shorter, by less than 2×, the bound the fact states for every method (the other
/// methods are `cargo claims bench`'s to measure).
#[rstest]
fn udp_round_trips_are_shorter_than_tcp_round_trips(#[values(V4, V6)] family: Family) {
    use harness::bench::{self, measure::Transport, verdicts};
    claim("tcp.table.tcp-speed-medium")
        .alone()
        .and("udp.table.speed-high")
        .needs_native_speed()
        .family(family)
        .run(move |ctx| {
            let (udp, tcp) = match family {
                V4 => (Transport::UdpV4, Transport::TcpV4),
                V6 => (Transport::UdpV6, Transport::TcpV6),
            };
            let ratio = bench::measure::compare_round_trips(udp, tcp);
            bench::require_between(
                ctx,
                "udp_over_tcp_round_trip",
                ratio,
                verdicts::FASTER,
                verdicts::TWO_STEPS,
            );
        });
}
