//! Peers: the sockets a test talks to. Every socket made here has SO_RCVTIMEO and SO_SNDTIMEO
//! set (a blocking call returns EAGAIN instead of hanging), every server binds port 0 on
//! loopback, and peer threads are joined with a bound.

use std::ffi::OsStr;
use std::fmt;
use std::io::{self, IoSliceMut, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::PollFlags;
use nix::sys::socket::{recvmsg, MsgFlags, SockaddrStorage};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tempfile::TempDir;

use crate::wait;

/// The errno of a failed socket call, for comparing with the man pages' names.
pub fn errno(e: std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(0))
}

/// The IP version a case runs over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub const fn domain(self) -> Domain {
        match self {
            Family::V4 => Domain::IPV4,
            Family::V6 => Domain::IPV6,
        }
    }

    /// 127.0.0.1 or ::1.
    pub fn loopback(self) -> IpAddr {
        match self {
            Family::V4 => Ipv4Addr::LOCALHOST.into(),
            Family::V6 => Ipv6Addr::LOCALHOST.into(),
        }
    }

    /// 0.0.0.0 or ::.
    pub fn unspecified(self) -> IpAddr {
        match self {
            Family::V4 => Ipv4Addr::UNSPECIFIED.into(),
            Family::V6 => Ipv6Addr::UNSPECIFIED.into(),
        }
    }

    /// Loopback with the kernel choosing the port.
    pub fn any_port(self) -> SocketAddr {
        SocketAddr::new(self.loopback(), 0)
    }

    pub fn is_v6(self) -> bool {
        self == Family::V6
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        })
    }
}

/// Bounds every blocking send and receive (and, on Linux, a blocking connect) of `sock`.
pub fn bounded(sock: Socket) -> Socket {
    sock.set_read_timeout(Some(wait::STEP))
        .expect("set SO_RCVTIMEO");
    sock.set_write_timeout(Some(wait::STEP))
        .expect("set SO_SNDTIMEO");
    sock
}

/// A new bounded socket.
pub fn socket(domain: Domain, ty: Type) -> Socket {
    bounded(
        Socket::new(domain, ty, None).unwrap_or_else(|e| panic!("socket({domain:?}, {ty:?}): {e}")),
    )
}

/// The address a socket is bound to, as an IP socket address.
pub fn local(sock: &Socket) -> SocketAddr {
    sock.local_addr()
        .expect("getsockname")
        .as_socket()
        .expect("an IP address")
}

/// A TCP listener on loopback, port 0.
pub fn tcp_listener(family: Family) -> (Socket, SocketAddr) {
    let listener = socket(family.domain(), Type::STREAM);
    listener
        .bind(&family.any_port().into())
        .expect("bind listener to loopback port 0");
    listener.listen(16).expect("listen");
    let addr = local(&listener);
    (listener, addr)
}

/// Accepts one connection, waiting at most one step for it.
pub fn accept(listener: &Socket, what: &str) -> (Socket, SockAddr) {
    wait::ready(listener.as_fd(), PollFlags::POLLIN, wait::STEP, what);
    let (sock, peer) = listener
        .accept()
        .unwrap_or_else(|e| panic!("{what}: accept: {e}"));
    (bounded(sock), peer)
}

/// A kind of connected socket pair, after gVisor's `SocketPairKind`: what it is, in words (the
/// case label a test records) and as socket(2)'s arguments, and how a pair of it is made on
/// loopback ([`SocketKind::pair`]). The tests and the bench name their socket kinds with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketKind {
    /// Short and stable: `tcp-v4`, `unix-stream`, `unix-dgram-path` (bench.json uses it).
    pub name: &'static str,
    /// For people: `TCP over IPv4 loopback`, `Unix stream socketpair`.
    pub description: &'static str,
    pub domain: Domain,
    pub ty: Type,
    pub protocol: Option<Protocol>,
    make: Make,
}

/// How the two ends of a pair find each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Make {
    /// socketpair(2), or, for a Unix kind [`SocketKind::named`], bound names.
    Unix(UnixNaming),
    /// A listener on loopback port 0, connect(2) and accept(2).
    Accept(Family),
    /// Two sockets bound to loopback port 0, each connected to the other.
    ConnectBoth(Family),
    /// Raw IPv4 sockets on 127.0.0.1 and 127.0.0.2, each connected to the other.
    RawV4,
}

/// How the two ends of a Unix pair find each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnixNaming {
    /// A socket file in a fresh temporary directory.
    Path,
    /// A name in the abstract namespace (Linux only; no file).
    Abstract,
    /// socketpair(2): no names at all.
    Socketpair,
}

/// The protocol number of [`SocketKind::raw_v4`]: 253 is reserved for experiments (RFC 3692).
pub const RAW_PROTOCOL: i32 = 253;

impl SocketKind {
    pub const UNIX_STREAM: SocketKind = SocketKind::unix(Type::STREAM);
    pub const UNIX_DGRAM: SocketKind = SocketKind::unix(Type::DGRAM);
    pub const UNIX_SEQPACKET: SocketKind = SocketKind::unix(Type::SEQPACKET);
    pub const TCP_V4: SocketKind = SocketKind::tcp(Family::V4);
    pub const TCP_V6: SocketKind = SocketKind::tcp(Family::V6);
    pub const UDP_V4: SocketKind = SocketKind::udp(Family::V4);
    pub const UDP_V6: SocketKind = SocketKind::udp(Family::V6);

    /// A connected TCP pair over loopback of `family`, with the listener that made it.
    pub const fn tcp(family: Family) -> SocketKind {
        let (name, description) = match family {
            Family::V4 => ("tcp-v4", "TCP over IPv4 loopback"),
            Family::V6 => ("tcp-v6", "TCP over IPv6 loopback"),
        };
        SocketKind {
            name,
            description,
            domain: family.domain(),
            ty: Type::STREAM,
            protocol: Some(Protocol::TCP),
            make: Make::Accept(family),
        }
    }

    /// Two UDP sockets on loopback of `family`, each connected to the other.
    pub const fn udp(family: Family) -> SocketKind {
        let (name, description) = match family {
            Family::V4 => ("udp-v4", "UDP over IPv4 loopback"),
            Family::V6 => ("udp-v6", "UDP over IPv6 loopback"),
        };
        SocketKind {
            name,
            description,
            domain: family.domain(),
            ty: Type::DGRAM,
            protocol: Some(Protocol::UDP),
            make: Make::ConnectBoth(family),
        }
    }

    /// A Unix socketpair(2) of `ty` (stream, datagram or seqpacket).
    const fn unix(ty: Type) -> SocketKind {
        SocketKind {
            name: "",
            description: "",
            domain: Domain::UNIX,
            ty,
            protocol: None,
            make: Make::Unix(UnixNaming::Socketpair),
        }
        .named(UnixNaming::Socketpair)
    }

    /// Raw IPv4 sockets of protocol [`RAW_PROTOCOL`] between 127.0.0.1 and 127.0.0.2: needs
    /// CAP_NET_RAW, so only inside a private network namespace.
    pub fn raw_v4() -> SocketKind {
        SocketKind {
            name: "raw-v4",
            description: "raw IPv4 between 127.0.0.1 and 127.0.0.2",
            domain: Domain::IPV4,
            ty: Type::RAW,
            protocol: Some(Protocol::from(RAW_PROTOCOL)),
            make: Make::RawV4,
        }
    }

    /// This Unix kind with its ends found through `naming`: bound to a socket file or an
    /// abstract name (connected, or accepted from a listener), or a socketpair(2).
    pub const fn named(self, naming: UnixNaming) -> SocketKind {
        let Make::Unix(_) = self.make else {
            panic!("only a Unix kind has names");
        };
        // Spelled out so that each kind's words are &'static.
        let (name, description) = match (self.ty, naming) {
            (Type::STREAM, UnixNaming::Socketpair) => ("unix-stream", "Unix stream socketpair"),
            (Type::STREAM, UnixNaming::Path) => ("unix-stream-path", "Unix stream, socket file"),
            (Type::STREAM, UnixNaming::Abstract) => {
                ("unix-stream-abstract", "Unix stream, abstract name")
            }
            (Type::DGRAM, UnixNaming::Socketpair) => ("unix-dgram", "Unix datagram socketpair"),
            (Type::DGRAM, UnixNaming::Path) => ("unix-dgram-path", "Unix datagram, socket file"),
            (Type::DGRAM, UnixNaming::Abstract) => {
                ("unix-dgram-abstract", "Unix datagram, abstract name")
            }
            (_, UnixNaming::Socketpair) => ("unix-seqpacket", "Unix seqpacket socketpair"),
            (_, UnixNaming::Path) => ("unix-seqpacket-path", "Unix seqpacket, socket file"),
            (_, UnixNaming::Abstract) => {
                ("unix-seqpacket-abstract", "Unix seqpacket, abstract name")
            }
        };
        SocketKind {
            name,
            description,
            make: Make::Unix(naming),
            ..self
        }
    }

    /// The IP version, for an IP kind.
    pub fn family(&self) -> Option<Family> {
        match self.domain {
            d if d == Domain::IPV4 => Some(Family::V4),
            d if d == Domain::IPV6 => Some(Family::V6),
            _ => None,
        }
    }

    /// A byte stream (TCP, Unix stream): no message boundaries, EOF after the peer's close.
    pub fn is_stream(&self) -> bool {
        self.ty == Type::STREAM
    }

    /// A connected pair of this kind; every socket is bounded ([`bounded`]).
    pub fn pair(&self) -> SocketPair {
        match self.make {
            Make::Unix(naming) => unix_pair(self.ty, naming),
            Make::Accept(family) => {
                let (listener, addr) = tcp_listener(family);
                let client = socket(family.domain(), Type::STREAM);
                client
                    .connect(&addr.into())
                    .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
                let (server, _) = accept(&listener, "accepting the pair's connection");
                SocketPair {
                    client,
                    server,
                    listener: Some(listener),
                    dir: None,
                }
            }
            Make::ConnectBoth(family) => {
                let bind = || {
                    let s = socket(family.domain(), self.ty);
                    s.bind(&family.any_port().into()).expect("bind to port 0");
                    s
                };
                let (client, server) = (bind(), bind());
                client
                    .connect(&local(&server).into())
                    .expect("connect the client to the server");
                server
                    .connect(&local(&client).into())
                    .expect("connect the server to the client");
                SocketPair::of(client, server)
            }
            Make::RawV4 => {
                let (a, b) = (Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(127, 0, 0, 2));
                let raw = |local: Ipv4Addr, remote: Ipv4Addr| {
                    let s = Socket::new(self.domain, self.ty, self.protocol)
                        .unwrap_or_else(|e| panic!("raw socket (protocol {RAW_PROTOCOL}): {e}"));
                    let s = bounded(s);
                    s.bind(&SocketAddr::from((local, 0)).into())
                        .expect("bind the raw socket");
                    s.connect(&SocketAddr::from((remote, 0)).into())
                        .expect("connect the raw socket");
                    s
                };
                SocketPair::of(raw(a, b), raw(b, a))
            }
        }
    }
}

impl fmt::Display for SocketKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description)
    }
}

/// Two connected sockets of one [`SocketKind`]. `client` is the end that connected (or the
/// first of a socketpair), `server` the other; a TCP pair keeps the listener that accepted it,
/// a Unix pair with socket files the directory that holds them.
pub struct SocketPair {
    pub client: Socket,
    pub server: Socket,
    pub listener: Option<Socket>,
    pub dir: Option<TempDir>,
}

impl SocketPair {
    /// The listener a stream pair over TCP was accepted from; panics for other kinds.
    pub fn listener(&self) -> &Socket {
        self.listener
            .as_ref()
            .expect("a listener: only TCP pairs have one")
    }

    fn of(client: Socket, server: Socket) -> SocketPair {
        SocketPair {
            client,
            server,
            listener: None,
            dir: None,
        }
    }
}

fn unix_pair(ty: Type, naming: UnixNaming) -> SocketPair {
    if naming == UnixNaming::Socketpair {
        let (a, b) = Socket::pair(Domain::UNIX, ty, None).expect("socketpair");
        return SocketPair::of(bounded(a), bounded(b));
    }
    let (dir, name_a, name_b) = match naming {
        UnixNaming::Path => {
            let dir = tempfile::tempdir().expect("temporary directory");
            let (a, b) = (dir.path().join("a.sock"), dir.path().join("b.sock"));
            (Some(dir), a.into_os_string(), b.into_os_string())
        }
        _ => {
            let tag = format!(
                "socket-claims-{}-{:?}",
                std::process::id(),
                thread::current().id()
            );
            let name =
                |end: &str| OsStr::from_bytes(format!("\0{tag}-{end}").as_bytes()).to_owned();
            (None, name("a"), name("b"))
        }
    };
    let addr = |name: &OsStr| SockAddr::unix(name).expect("a Unix socket address");
    let b_side = socket(Domain::UNIX, ty);
    b_side
        .bind(&addr(&name_b))
        .expect("bind the Unix server end");
    let a = socket(Domain::UNIX, ty);
    let b = if ty != Type::DGRAM {
        b_side.listen(4).expect("listen on the Unix server end");
        a.connect(&addr(&name_b))
            .expect("connect to the Unix server end");
        accept(&b_side, "accepting the Unix pair's connection").0
    } else {
        a.bind(&addr(&name_a)).expect("bind the Unix client end");
        a.connect(&addr(&name_b)).expect("connect a to b");
        b_side.connect(&addr(&name_a)).expect("connect b to a");
        b_side
    };
    SocketPair {
        client: a,
        server: b,
        listener: None,
        dir,
    }
}

/// Reads exactly `n` bytes from a stream socket, looping over short reads (recv(2) may return
/// fewer bytes than are queued); each read is bounded by SO_RCVTIMEO and the whole by
/// [`wait::STEP`] per read that makes no progress. Fails the test naming `what` on EOF or error.
pub fn read_exact(sock: &Socket, n: usize, what: &str) -> Vec<u8> {
    read_exact_by(n, what, |buf| read_into(sock, buf))
}

/// [`read_exact`] with another read call (read(2) on the descriptor, say): `call` reads once
/// into the buffer it is given and returns the count (0 is EOF).
pub fn read_exact_by(
    n: usize,
    what: &str,
    mut call: impl FnMut(&mut [u8]) -> Result<usize, Errno>,
) -> Vec<u8> {
    wait::step(what);
    let mut out = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match call(&mut out[got..]) {
            Ok(0) => panic!("{what}: EOF after {got} of {n} bytes"),
            Ok(k) => got += k,
            Err(Errno::EINTR) => {}
            Err(e) => panic!("{what}: read after {got} of {n} bytes: {e}"),
        }
    }
    out
}

/// One read of at most `max` bytes: what the kernel hands over, which recv(2) promises is at
/// least 1 and at most what was both queued and asked (empty means EOF). Bounded by
/// SO_RCVTIMEO; EINTR is retried, other errors are returned as their errno.
pub fn read_some(sock: &Socket, max: usize) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; max];
    let n = read_into(sock, &mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

/// The one read of [`read_some`] into the caller's buffer (socket2's `Read for &Socket`, so no
/// uninitialised memory): how many bytes arrived (0 means EOF, or an empty datagram). For loops
/// that must not allocate per call, such as the bench's.
pub fn read_into(sock: &Socket, buf: &mut [u8]) -> Result<usize, Errno> {
    loop {
        match (&*sock).read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other.map_err(errno),
        }
    }
}

/// Writes all of `data`, looping over short sends (send(2) on a socket with SO_SNDTIMEO may
/// take fewer bytes than asked); fails the test naming `what` on error.
pub fn write_all(sock: &Socket, data: &[u8], what: &str) {
    write_all_by(data, what, |rest| loop {
        match (&*sock).write(rest) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other.map_err(errno),
        }
    })
}

/// [`write_all`] with another write call (write(2) on the descriptor, say): `call` writes once
/// from the slice it is given and returns how many bytes it took.
pub fn write_all_by(data: &[u8], what: &str, mut call: impl FnMut(&[u8]) -> Result<usize, Errno>) {
    wait::step(what);
    let mut sent = 0;
    while sent < data.len() {
        match call(&data[sent..]) {
            Ok(0) => panic!("{what}: send took 0 bytes after {sent} of {}", data.len()),
            Ok(n) => sent += n,
            Err(Errno::EINTR) => {}
            Err(e) => panic!("{what}: send after {sent} of {} bytes: {e}", data.len()),
        }
    }
}

/// What one recvmsg(2) returned.
#[derive(Debug)]
pub struct Received {
    /// The bytes that fit the buffer.
    pub data: Vec<u8>,
    /// The call's return value: with MSG_TRUNC on a datagram socket, the datagram's real length.
    pub returned: usize,
    /// MSG_TRUNC in msg_flags: the datagram was longer than the buffer and the rest is gone.
    pub truncated: bool,
    /// The sender's address, where the socket type reports one.
    pub from: Option<SockaddrStorage>,
}

impl Received {
    /// The sender as an IP socket address.
    pub fn source(&self) -> Option<SocketAddr> {
        let from = self.from.as_ref()?;
        from.as_sockaddr_in()
            .map(|a| SocketAddr::V4((*a).into()))
            .or_else(|| from.as_sockaddr_in6().map(|a| SocketAddr::V6((*a).into())))
    }
}

/// One recvmsg(2) of at most `max` bytes with `flags` (MSG_PEEK, MSG_DONTWAIT, MSG_TRUNC…), on
/// any socket type: a datagram comes whole or truncated, never split. Bounded by SO_RCVTIMEO;
/// EINTR is retried, other errors are returned as their errno.
pub fn recv_msg(sock: &Socket, max: usize, flags: MsgFlags) -> Result<Received, Errno> {
    let mut buf = vec![0u8; max];
    let (returned, truncated, from) = loop {
        let mut iov = [IoSliceMut::new(&mut buf)];
        match recvmsg::<SockaddrStorage>(sock.as_raw_fd(), &mut iov, None, flags) {
            Ok(m) => break (m.bytes, m.flags.contains(MsgFlags::MSG_TRUNC), m.address),
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    };
    buf.truncate(returned.min(max));
    Ok(Received {
        data: buf,
        returned,
        truncated,
        from,
    })
}

/// One datagram (or record) of at most `max` bytes: [`recv_msg`] without flags.
pub fn datagram(sock: &Socket, max: usize) -> Result<Received, Errno> {
    recv_msg(sock, max, MsgFlags::empty())
}

nix::ioctl_read_bad!(fionread, libc::FIONREAD, libc::c_int);

/// The bytes queued for reading on a stream socket (SIOCINQ, tcp(7) and unix(7)): how a test
/// learns that data has arrived without reading or peeking, whose counts are the kernel's choice.
pub fn queued(sock: &Socket) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int through the pointer, which is valid for the call.
    unsafe { fionread(sock.as_raw_fd(), &mut n) }.expect("ioctl(SIOCINQ)");
    usize::try_from(n).expect("a byte count")
}

/// Waits (one step at most) until at least `n` bytes are queued on a stream socket.
pub fn await_queued(sock: &Socket, n: usize, what: &str) {
    wait::until(wait::STEP, what, || (queued(sock) >= n).then_some(()));
}

/// A thread acting as the other end of a test's sockets.
pub struct Peer<T> {
    what: String,
    done: mpsc::Receiver<thread::Result<T>>,
}

/// Runs `f` on a peer thread (in the caller's network namespace).
pub fn spawn<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> Peer<T> {
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name(format!("peer: {what}"))
        .spawn(move || {
            let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
        })
        .expect("spawn peer thread");
    Peer {
        what: what.to_string(),
        done: rx,
    }
}

impl<T> Peer<T> {
    /// The peer's result; fails the test if the peer failed or is not done within `limit`.
    pub fn join(self, limit: Duration) -> T {
        wait::step(&format!("joining peer: {}", self.what));
        match self.done.recv_timeout(limit) {
            Ok(Ok(v)) => v,
            Ok(Err(_)) => panic!("peer {} failed (see its panic above)", self.what),
            Err(_) => panic!("timed out: peer {} did not finish in {limit:?}", self.what),
        }
    }
}

/// An echo server on a connected stream socket: sends back what it reads until EOF, then
/// returns how many bytes it echoed.
pub fn echo(sock: Socket) -> Peer<usize> {
    spawn("echo", move || {
        let mut total = 0;
        loop {
            match read_some(&sock, 4096) {
                Ok(data) if data.is_empty() => return total,
                Ok(data) => {
                    write_all(&sock, &data, "echo: send");
                    total += data.len();
                }
                Err(e) => panic!("echo: recv: {e}"),
            }
        }
    })
}

/// The TCP state of a connected or listening socket (`ESTABLISHED`, `LISTEN`, `SYN_SENT`,
/// `CLOSE_WAIT`, …) as the kernel lists it in /proc/net/tcp{,6} of the caller's namespace,
/// with the queue column (`tx_queue:rx_queue`; for a listener, max backlog : accept queue).
pub fn tcp_state(sock: &Socket) -> Option<(&'static str, String)> {
    const STATES: [&str; 12] = [
        "ESTABLISHED",
        "SYN_SENT",
        "SYN_RECV",
        "FIN_WAIT1",
        "FIN_WAIT2",
        "TIME_WAIT",
        "CLOSE",
        "CLOSE_WAIT",
        "LAST_ACK",
        "LISTEN",
        "CLOSING",
        "NEW_SYN_RECV",
    ];
    let local = local(sock);
    // A listener's remote is 0:0; a connecting socket has no peer name yet: any remote matches.
    let remote_port = if sock.is_listener().unwrap_or(false) {
        Some(0)
    } else {
        sock.peer_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .map(|a| a.port())
    };
    let file = if local.is_ipv4() { "tcp" } else { "tcp6" };
    let table = std::fs::read_to_string(format!("/proc/thread-self/net/{file}")).ok()?;
    table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let port = |col: &str| {
            col.rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok())
        };
        let remote = port(cols.get(2)?);
        (port(cols.get(1)?) == Some(local.port()) && remote_port.is_none_or(|p| remote == Some(p)))
            .then(|| {
                let st = usize::from_str_radix(cols[3], 16).ok()?;
                Some((*STATES.get(st.checked_sub(1)?)?, cols[4].to_string()))
            })
            .flatten()
    })
}

/// A packet captured by a [`sniffer`]: the IP packet and which way it went.
pub struct Captured {
    /// The IP packet, from its IP header on (the sniffer strips the link-layer header).
    pub packet: Vec<u8>,
    /// `sll_pkttype`: PACKET_OUTGOING for a copy this host sent, PACKET_HOST for one it received.
    pub outgoing: bool,
}

/// An AF_PACKET socket that sees every IP packet of the caller's network namespace, in both
/// directions (on lo each packet shows once outgoing, once received). Needs CAP_NET_RAW there,
/// so it belongs in a test that runs in its own namespace.
pub fn sniffer() -> Socket {
    let all = i32::from((libc::ETH_P_ALL as u16).to_be());
    bounded(
        Socket::new(Domain::PACKET, Type::DGRAM, Some(all.into()))
            .unwrap_or_else(|e| panic!("AF_PACKET socket: {e}")),
    )
}

/// Captures packets until `pick` accepts one, failing the test after one step.
pub fn capture<T>(sniffer: &Socket, what: &str, mut pick: impl FnMut(&Captured) -> Option<T>) -> T {
    wait::until(wait::STEP, what, || {
        let got = datagram(sniffer, 65536).ok()?;
        let ll = got.from.as_ref().and_then(SockaddrStorage::as_link_addr)?;
        let captured = Captured {
            outgoing: ll.pkttype() == libc::PACKET_OUTGOING,
            packet: got.data,
        };
        pick(&captured)
    })
}

/// Streams from `writer` (on a peer thread, in 64 KiB writes) to `reader` until `enough` says
/// so of the bytes received so far; how many had arrived then and how long that took. The reader asks
/// for 1 MiB with MSG_WAITALL, so a kernel that hands over a few bytes per call (allowed)
/// still moves megabytes in a few calls; each read is bounded by the reader's SO_RCVTIMEO and
/// announces the progress, which the watchdog quotes on an overrun.
pub fn stream(
    writer: Socket,
    reader: &Socket,
    mut enough: impl FnMut(usize) -> bool,
) -> (usize, Duration) {
    let started = std::time::Instant::now();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer_stop = stop.clone();
    let sender = spawn("bulk writer", move || {
        let chunk = vec![7u8; 64 << 10];
        while !writer_stop.load(std::sync::atomic::Ordering::Relaxed) {
            write_all(&writer, &chunk, "bulk send");
        }
        writer
            .shutdown(std::net::Shutdown::Write)
            .expect("bulk writer: shutdown");
    });
    let mut buf = vec![0u8; 1 << 20];
    let mut got = 0;
    let mut reached = None;
    loop {
        wait::step(&format!("bulk transfer: reading after {got} bytes"));
        let n = loop {
            match nix::sys::socket::recv(reader.as_raw_fd(), &mut buf, MsgFlags::MSG_WAITALL) {
                Err(Errno::EINTR) => {}
                other => {
                    break other.unwrap_or_else(|e| panic!("bulk recv after {got} bytes: {e}"))
                }
            }
        };
        if n == 0 {
            assert!(reached.is_some(), "bulk recv: EOF after {got} bytes");
            break;
        }
        got += n;
        if reached.is_none() && enough(got) {
            reached = Some((got, started.elapsed()));
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
    sender.join(wait::STEP);
    reached.expect("enough was reached")
}

/// getsockopt(IPPROTO_TCP, TCP_INFO) of a TCP socket: neither socket2 nor nix wraps it.
pub fn tcp_info(sock: &Socket) -> libc::tcp_info {
    // SAFETY: tcp_info is plain old data; all zeros is a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` and `len` are valid for writes of `len` bytes, the fd is open.
    let rc = unsafe {
        libc::getsockopt(
            std::os::fd::AsRawFd::as_raw_fd(sock),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&raw mut info).cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "getsockopt(TCP_INFO): {}", nix::errno::Errno::last());
    info
}
