//! Section 07-02 (socket fundamentals) and the overview's opening: a socket is a file
//! descriptor; domains, types and protocols; the sockaddr structures; byte order;
//! inet_pton / inet_ntop; bind and its errors; IPv6 dual stack.

use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::mem::{offset_of, size_of};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, FromRawFd};
use std::sync::Mutex;
use std::time::Duration;

use harness::errno;
use harness::peers::{self, Family, SocketKind, SocketPair, UnixNaming};
use harness::{claim, privileges, skip, Cap};
use nix::errno::Errno;
use nix::poll::PollFlags;
use nix::sys::stat::SFlag;
use proptest::prelude::*;
use rstest::rstest;
use socket2::{Domain, Protocol, SockAddr, SockAddrStorage, Socket, Type};

use Family::{V4, V6};

/// The Unix kinds a fact about "a socket" is checked on are named by socket files.
const UNIX_STREAM: SocketKind = SocketKind::UNIX_STREAM.named(UnixNaming::Path);
const UNIX_DGRAM: SocketKind = SocketKind::UNIX_DGRAM.named(UnixNaming::Path);
const UNIX_SEQPACKET: SocketKind = SocketKind::UNIX_SEQPACKET.named(UnixNaming::Path);

/// An IPv4 or IPv6 socket address with a chosen length and family, built by hand the way a C
/// program fills a sockaddr: `port` is stored exactly as given (no htons).
fn raw_inet_addr(family: i32, ip: IpAddr, raw_port: u16, len: usize) -> SockAddr {
    let mut storage = SockAddrStorage::zeroed();
    match ip {
        IpAddr::V4(ip) => {
            // SAFETY: sockaddr_in is a sockaddr type of this platform and fits the storage.
            let sin = unsafe { storage.view_as::<libc::sockaddr_in>() };
            sin.sin_family = family as libc::sa_family_t;
            sin.sin_port = raw_port;
            sin.sin_addr.s_addr = u32::from_ne_bytes(ip.octets());
        }
        IpAddr::V6(ip) => {
            // SAFETY: sockaddr_in6 is a sockaddr type of this platform and fits the storage.
            let sin6 = unsafe { storage.view_as::<libc::sockaddr_in6>() };
            sin6.sin6_family = family as libc::sa_family_t;
            sin6.sin6_port = raw_port;
            sin6.sin6_addr.s6_addr = ip.octets();
        }
    }
    // SAFETY: the storage holds an initialised sockaddr_in/sockaddr_in6 and `len` never
    // exceeds the storage; short lengths are the point of some cases.
    unsafe { SockAddr::new(storage, len as libc::socklen_t) }
}

/// The bytes of a socket address as the kernel wrote them.
fn addr_bytes(addr: &SockAddr) -> Vec<u8> {
    // SAFETY: `as_ptr` points at `len` initialised bytes of the address storage.
    unsafe { std::slice::from_raw_parts(addr.as_ptr().cast::<u8>(), addr.len() as usize) }.to_vec()
}

#[rstest]
fn socket_is_a_file_descriptor(
    #[values(
        SocketKind::TCP_V4,
        SocketKind::TCP_V6,
        SocketKind::UDP_V4,
        SocketKind::UDP_V6,
        UNIX_STREAM,
        UNIX_DGRAM,
        UNIX_SEQPACKET
    )]
    kind: SocketKind,
) {
    claim("fundamentals.fd.socket-is-a-file-descriptor")
        .kind(kind)
        .run(move |ctx| {
            let SocketPair {
                client: a,
                server: _b,
                dir: _dir,
                ..
            } = kind.pair();
            let stat = nix::sys::stat::fstat(a.as_fd()).expect("fstat on a socket");
            let file_type = stat.st_mode & SFlag::S_IFMT.bits();
            let is_socket = file_type == SFlag::S_IFSOCK.bits();
            ctx.observe(
                "st_mode_file_type",
                format!("{file_type:#o} (S_IFSOCK: {is_socket})"),
            );
            assert!(is_socket, "fstat file type {file_type:#o} is not S_IFSOCK");
            let link = std::fs::read_link(format!("/proc/self/fd/{}", a.as_raw_fd()))
                .expect("readlink /proc/self/fd/N");
            ctx.observe("proc_fd_link", link.display().to_string());
            assert_eq!(link.to_string_lossy(), format!("socket:[{}]", stat.st_ino));
        });
}

#[rstest]
fn read_write_and_close_work_on_a_socket(
    #[values(
        SocketKind::TCP_V4,
        SocketKind::TCP_V6,
        SocketKind::UDP_V4,
        UNIX_STREAM,
        UNIX_DGRAM,
        UNIX_SEQPACKET
    )]
    kind: SocketKind,
) {
    claim("fundamentals.fd.read-write-close-like-a-file")
        .kind(kind)
        .run(move |ctx| {
            let SocketPair {
                client: a,
                server: b,
                dir: _dir,
                ..
            } = kind.pair();
            // On a stream, write(2) and read(2) may each move fewer bytes than asked, as on a
            // pipe: the loops take what the kernel hands over. A datagram moves whole.
            peers::write_all_by(b"ping", "write(2)", |rest| nix::unistd::write(&a, rest));
            let first = peers::read_exact(&b, 4, "recv what write(2) sent");
            assert_eq!(first, b"ping", "recv what write(2) sent");
            peers::write_all(&b, b"pong", "send");
            let got = peers::read_exact_by(4, "read(2) what send sent", |buf| {
                nix::unistd::read(&a, buf)
            });
            assert_eq!(got, b"pong");
            ctx.observe("write_then_recv", String::from_utf8_lossy(&first));
            ctx.observe("send_then_read", String::from_utf8_lossy(&got));
            nix::unistd::close(a).expect("close(2)");
            if kind.ty != Type::DGRAM {
                let mut plain = [0u8; 16];
                let n = nix::unistd::read(&b, &mut plain).expect("read after the peer closed");
                ctx.observe("read_after_peer_close", n);
                assert_eq!(n, 0, "EOF after the peer's close(2)");
            }
        });
}

#[rstest]
fn sockets_are_not_seekable_files(
    #[values(SocketKind::TCP_V4, SocketKind::UDP_V4, UNIX_STREAM)] kind: SocketKind,
) {
    claim("fundamentals.fd.not-a-regular-file")
        .kind(kind)
        .run(move |ctx| {
            let SocketPair {
                client: a,
                server: _b,
                dir,
                ..
            } = kind.pair();
            let seek = nix::unistd::lseek(&a, 0, nix::unistd::Whence::SeekSet);
            ctx.observe("lseek", format!("{seek:?}"));
            assert_eq!(seek, Err(Errno::ESPIPE), "lseek on a socket");
            let mut buf = [0u8; 8];
            let pread = nix::sys::uio::pread(&a, &mut buf, 0);
            ctx.observe("pread", format!("{pread:?}"));
            assert_eq!(pread, Err(Errno::ESPIPE), "pread on a socket");
            if let Some(dir) = dir {
                let path = dir.path().join("b.sock");
                let open = nix::fcntl::open(
                    &path,
                    nix::fcntl::OFlag::O_RDWR,
                    nix::sys::stat::Mode::empty(),
                );
                let open = open.map(drop);
                ctx.observe("open_socket_file", format!("{open:?}"));
                assert_eq!(open, Err(Errno::ENXIO), "open(2) on a socket file");
            }
        });
}

#[rstest]
fn read_returns_what_has_arrived(#[values(V4, V6)] family: Family) {
    claim("fundamentals.fd.read-may-return-less")
        .family(family)
        .run(move |ctx| {
            let pair = SocketKind::tcp(family).pair();
            peers::write_all(&pair.client, &[7u8; 10], "send 10 bytes");
            peers::await_queued(&pair.server, 10, "the 10 bytes to arrive");
            // read(2) promises at least 1 byte and at most what is both queued and asked; the
            // count within that is the kernel's choice (Linux, left alone, returns all 10).
            let mut buf = [0u8; 1024];
            let first = nix::unistd::read(&pair.server, &mut buf).expect("read(sock, buf, 1024)");
            ctx.observe("read_1024_after_10_sent", first);
            assert!(
                (1..=10).contains(&first),
                "read returns what has arrived (1..=10), not the 1024 asked for: {first}"
            );
            peers::read_exact(&pair.server, 10 - first, "the rest of the 10 bytes");
            // One 3000-byte send, all of it arrived: a 1024-byte read takes part of it and
            // leaves the rest queued, so only a loop of reads gets all 3000, in order.
            let sent: Vec<u8> = (0..3000).map(|i| (i % 251) as u8).collect();
            peers::write_all(&pair.client, &sent, "send 3000 bytes");
            peers::await_queued(&pair.server, 3000, "the 3000 bytes to arrive");
            let mut got = Vec::new();
            let mut reads = Vec::new();
            while got.len() < sent.len() {
                let n = nix::unistd::read(&pair.server, &mut buf).expect("read(sock, buf, 1024)");
                assert!(
                    (1..=1024).contains(&n),
                    "a read returns 1..=1024 bytes: {n}"
                );
                got.extend_from_slice(&buf[..n]);
                reads.push(n);
                if reads.len() == 1 {
                    let left = peers::queued(&pair.server);
                    ctx.observe("queued_after_the_first_read", left);
                    assert_eq!(left, 3000 - n, "the rest of the send stays queued");
                }
            }
            ctx.observe("reads_of_1024_after_3000_sent", &reads);
            assert!(
                reads.len() >= 3,
                "3000 bytes take at least three reads of 1024"
            );
            assert!(
                got == sent,
                "the reads return the 3000 bytes sent, in order"
            );
        });
}

#[rstest]
fn connect_with_an_unfilled_sockaddr_is_af_unspec(#[values(V4, V6)] family: Family) {
    claim("fundamentals.snippet.connect-needs-a-filled-sockaddr")
        .family(family)
        .run(move |ctx| {
            let sock = peers::socket(family.domain(), Type::STREAM);
            let len = match family {
                V4 => size_of::<libc::sockaddr_in>(),
                V6 => size_of::<libc::sockaddr_in6>(),
            };
            // `struct sockaddr_in addr;` declared but never filled: all zeros, family 0.
            let zeroed = raw_inet_addr(libc::AF_UNSPEC, family.unspecified(), 0, len);
            let connect = sock.connect(&zeroed).map_err(errno);
            ctx.observe("connect_zeroed_sockaddr", format!("{connect:?}"));
            assert_eq!(
                connect,
                Ok(()),
                "connect with sa_family 0 is AF_UNSPEC: a no-op"
            );
            let mut buf = [0u8; 16];
            let read = nix::unistd::read(&sock, &mut buf);
            ctx.observe("read_after", format!("{read:?}"));
            assert_eq!(
                read,
                Err(Errno::ENOTCONN),
                "read on the never-connected socket"
            );
        });
}

const DOMAINS: [(i32, &str); 4] = [
    (libc::AF_INET, "AF_INET"),
    (libc::AF_INET6, "AF_INET6"),
    (libc::AF_UNIX, "AF_UNIX"),
    (libc::AF_PACKET, "AF_PACKET"),
];
const TYPES: [(i32, &str); 6] = [
    (libc::SOCK_STREAM, "SOCK_STREAM"),
    (libc::SOCK_DGRAM, "SOCK_DGRAM"),
    (libc::SOCK_RAW, "SOCK_RAW"),
    (libc::SOCK_SEQPACKET, "SOCK_SEQPACKET"),
    (libc::SOCK_RDM, "SOCK_RDM"),
    (11, "type 11 (out of range)"),
];
/// Protocol numbers whose modules are built in (no module autoloading is triggered for them).
const PROTOCOLS: [(i32, &str); 7] = [
    (0, "0"),
    (libc::IPPROTO_ICMP, "IPPROTO_ICMP"),
    (libc::IPPROTO_TCP, "IPPROTO_TCP"),
    (libc::IPPROTO_UDP, "IPPROTO_UDP"),
    (libc::IPPROTO_ICMPV6, "IPPROTO_ICMPV6"),
    (libc::IPPROTO_RAW, "IPPROTO_RAW"),
    (0x0300, "htons(ETH_P_ALL)"),
];

/// The errors socket(2) can give: its own list, EPERM from raw(7) and packet(7) (no
/// CAP_NET_RAW), and ESOCKTNOSUPPORT, which the protocol families return for an unsupported
/// type (errno(3); socket(2) covers it only as "other errors ... from protocol modules").
const DOCUMENTED: [Errno; 10] = [
    Errno::EACCES,
    Errno::EAFNOSUPPORT,
    Errno::EINVAL,
    Errno::EMFILE,
    Errno::ENFILE,
    Errno::ENOBUFS,
    Errno::ENOMEM,
    Errno::EPROTONOSUPPORT,
    Errno::EPERM,
    Errno::ESOCKTNOSUPPORT,
];

#[test]
fn socket_creation_fails_only_with_documented_errors() {
    claim("fundamentals.domains.creation-matrix")
        .limit(Duration::from_secs(10))
        .run(|ctx| {
            let seen = Mutex::new(BTreeMap::new());
            let strategy = (
                proptest::sample::select(DOMAINS.to_vec()),
                proptest::sample::select(TYPES.to_vec()),
                proptest::sample::select(PROTOCOLS.to_vec()),
            );
            ctx.property(256, strategy, |((d, dn), (t, tn), (p, pn))| {
                let outcome = Socket::new(Domain::from(d), Type::from(t), Some(Protocol::from(p)))
                    .map(drop)
                    .map_err(errno);
                seen.lock()
                    .unwrap()
                    .insert(format!("{dn}/{tn}/{pn}"), format!("{outcome:?}"));
                if let Err(e) = outcome {
                    prop_assert!(
                        DOCUMENTED.contains(&e),
                        "socket({dn}, {tn}, {pn}) gave {e:?}"
                    );
                }
                Ok(())
            });
            let seen = seen.into_inner().unwrap();
            let mut by_outcome: BTreeMap<String, usize> = BTreeMap::new();
            for outcome in seen.values() {
                *by_outcome.entry(outcome.clone()).or_default() += 1;
            }
            ctx.observe("outcomes", by_outcome);
            ctx.observe("combinations", seen);
        });
}

/// What socket(2) does with one combination the fact names.
#[derive(Clone, Copy, Debug)]
enum Creation {
    /// A socket whose SO_TYPE is this.
    Creates(Type),
    Fails(Errno),
    /// SOCK_RAW or AF_PACKET: created with CAP_NET_RAW, EPERM without.
    NeedsNetRaw,
    /// An ICMP datagram ("ping") socket: created when the caller's group is inside
    /// net.ipv4.ping_group_range, EACCES otherwise.
    PingGroup,
}

/// Whether the caller's effective or a supplementary group lies in net.ipv4.ping_group_range.
fn in_ping_group_range() -> (bool, String) {
    let range = harness::sysctl::sysctl("net.ipv4.ping_group_range").expect("ping_group_range");
    let (lo, hi) = harness::sysctl::sysctl_range("net.ipv4.ping_group_range").expect("two numbers");
    let mut groups = nix::unistd::getgroups().unwrap_or_default();
    groups.push(nix::unistd::getegid());
    let inside = groups.iter().any(|g| (lo..=hi).contains(&g.as_raw()));
    (inside, range)
}

#[rstest]
#[case::unix_raw_is_made_a_datagram_socket(
    libc::AF_UNIX,
    libc::SOCK_RAW,
    0,
    Creation::Creates(Type::DGRAM)
)]
#[case::unix_rdm(
    libc::AF_UNIX,
    libc::SOCK_RDM,
    0,
    Creation::Fails(Errno::ESOCKTNOSUPPORT)
)]
#[case::inet_rdm(
    libc::AF_INET,
    libc::SOCK_RDM,
    0,
    Creation::Fails(Errno::ESOCKTNOSUPPORT)
)]
#[case::no_such_domain(1000, libc::SOCK_STREAM, 0, Creation::Fails(Errno::EAFNOSUPPORT))]
#[case::type_out_of_range(libc::AF_INET, 11, 0, Creation::Fails(Errno::EINVAL))]
#[case::stream_with_udp(
    libc::AF_INET,
    libc::SOCK_STREAM,
    libc::IPPROTO_UDP,
    Creation::Fails(Errno::EPROTONOSUPPORT)
)]
#[case::unix_with_tcp(
    libc::AF_UNIX,
    libc::SOCK_STREAM,
    libc::IPPROTO_TCP,
    Creation::Fails(Errno::EPROTONOSUPPORT)
)]
#[case::inet_raw_icmp(
    libc::AF_INET,
    libc::SOCK_RAW,
    libc::IPPROTO_ICMP,
    Creation::NeedsNetRaw
)]
#[case::packet_raw(libc::AF_PACKET, libc::SOCK_RAW, 0x0300, Creation::NeedsNetRaw)]
#[case::inet_dgram_icmp(
    libc::AF_INET,
    libc::SOCK_DGRAM,
    libc::IPPROTO_ICMP,
    Creation::PingGroup
)]
fn socket_creation_gives_the_outcome_the_fact_names(
    #[case] domain: i32,
    #[case] ty: i32,
    #[case] protocol: i32,
    #[case] expected: Creation,
) {
    claim("fundamentals.domains.creation-matrix").run(move |ctx| {
        let got = Socket::new(
            Domain::from(domain),
            Type::from(ty),
            Some(Protocol::from(protocol)),
        )
        .map(|s| s.r#type().expect("SO_TYPE"))
        .map_err(errno);
        ctx.observe("socket", format!("{got:?}"));
        let asked = Type::from(ty);
        let expected = match expected {
            Creation::Creates(t) => Ok(t),
            Creation::Fails(e) => Err(e),
            Creation::NeedsNetRaw => {
                let has = privileges::has(Cap::NetRaw);
                ctx.observe("CAP_NET_RAW", has);
                if has {
                    Ok(asked)
                } else {
                    Err(Errno::EPERM)
                }
            }
            Creation::PingGroup => {
                let (inside, range) = in_ping_group_range();
                ctx.observe("ping_group_range", range);
                if inside {
                    Ok(asked)
                } else {
                    Err(Errno::EACCES)
                }
            }
        };
        assert_eq!(got, expected, "socket({domain}, {ty}, {protocol})");
    });
}

#[rstest]
#[case::tcp(Domain::IPV4, Type::STREAM, None, Some(Protocol::TCP))]
#[case::udp(Domain::IPV4, Type::DGRAM, None, Some(Protocol::UDP))]
#[case::raw(
    Domain::IPV4,
    Type::RAW,
    Some(Protocol::ICMPV4),
    Some(Protocol::ICMPV4)
)]
#[case::unix(Domain::UNIX, Type::STREAM, None, None)]
fn so_protocol_names_the_protocol_so_type_the_type(
    #[case] domain: Domain,
    #[case] ty: Type,
    #[case] asked: Option<Protocol>,
    #[case] protocol: Option<Protocol>,
) {
    let check = claim("fundamentals.table.protocol-column-lists-types");
    // A raw socket needs CAP_NET_RAW, which a namespace of its own gives an unprivileged user.
    let check = if ty == Type::RAW {
        check.in_netns().needs(Cap::NetRaw)
    } else {
        check
    };
    check.run(move |ctx| {
        let sock = Socket::new(domain, ty, asked).expect("socket");
        let (so_type, so_protocol) = (
            sock.r#type().expect("SO_TYPE"),
            sock.protocol().expect("SO_PROTOCOL"),
        );
        ctx.observe("SO_TYPE", format!("{so_type:?}"));
        ctx.observe("SO_PROTOCOL", format!("{so_protocol:?}"));
        assert_eq!(so_type, ty, "the table's 프로토콜 column is SO_TYPE");
        assert_eq!(so_protocol, protocol, "the protocol is SO_PROTOCOL");
    });
}

#[rstest]
#[case::tcp_v4(V4, Type::STREAM, Protocol::TCP)]
#[case::tcp_v6(V6, Type::STREAM, Protocol::TCP)]
#[case::udp_v4(V4, Type::DGRAM, Protocol::UDP)]
#[case::udp_v6(V6, Type::DGRAM, Protocol::UDP)]
fn protocol_zero_picks_tcp_for_streams_and_udp_for_datagrams(
    #[case] family: Family,
    #[case] ty: Type,
    #[case] expected: Protocol,
) {
    claim("fundamentals.domains.protocol-zero-default")
        .needs_ipv6(family.is_v6())
        .run(move |ctx| {
            let sock = Socket::new(family.domain(), ty, None).expect("socket(.., .., 0)");
            let protocol = sock.protocol().expect("getsockopt SO_PROTOCOL");
            ctx.observe("so_protocol", format!("{protocol:?}"));
            assert_eq!(protocol, Some(expected));
        });
}

#[rstest]
#[case::inet_stream(Domain::IPV4, Type::STREAM)]
#[case::inet6_dgram(Domain::IPV6, Type::DGRAM)]
#[case::unix_stream(Domain::UNIX, Type::STREAM)]
#[case::unix_dgram(Domain::UNIX, Type::DGRAM)]
#[case::unix_seqpacket(Domain::UNIX, Type::SEQPACKET)]
fn so_domain_and_so_type_report_what_was_created(#[case] domain: Domain, #[case] ty: Type) {
    claim("fundamentals.domains.getsockopt-reports-kind")
        .needs_ipv6(domain == Domain::IPV6)
        .run(move |ctx| {
            let sock = Socket::new(domain, ty.nonblocking().cloexec(), None)
                .expect("socket with SOCK_NONBLOCK | SOCK_CLOEXEC");
            let (d, t) = (
                sock.domain().expect("SO_DOMAIN"),
                sock.r#type().expect("SO_TYPE"),
            );
            ctx.observe("so_domain", format!("{d:?}"));
            ctx.observe("so_type", format!("{t:?}"));
            assert_eq!(d, domain);
            assert_eq!(
                t, ty,
                "SO_TYPE without the SOCK_NONBLOCK/SOCK_CLOEXEC flags"
            );
        });
}

#[test]
fn sockaddr_sizes_match_what_the_kernel_returns() {
    claim("fundamentals.sockaddr.sizes-and-layout").run(|ctx| {
        let sizes = [
            ("sockaddr", size_of::<libc::sockaddr>(), 16),
            ("sockaddr_in", size_of::<libc::sockaddr_in>(), 16),
            ("sockaddr_in6", size_of::<libc::sockaddr_in6>(), 28),
            ("sockaddr_un", size_of::<libc::sockaddr_un>(), 110),
            ("sockaddr_storage", size_of::<libc::sockaddr_storage>(), 128),
        ];
        for (name, got, want) in sizes {
            ctx.observe(&format!("sizeof_{name}"), got);
            assert_eq!(got, want, "sizeof(struct {name})");
        }
        let offsets = [
            ("sin_port", offset_of!(libc::sockaddr_in, sin_port), 2),
            ("sin_addr", offset_of!(libc::sockaddr_in, sin_addr), 4),
            ("sin6_port", offset_of!(libc::sockaddr_in6, sin6_port), 2),
            (
                "sin6_flowinfo",
                offset_of!(libc::sockaddr_in6, sin6_flowinfo),
                4,
            ),
            ("sin6_addr", offset_of!(libc::sockaddr_in6, sin6_addr), 8),
            (
                "sin6_scope_id",
                offset_of!(libc::sockaddr_in6, sin6_scope_id),
                24,
            ),
            ("sun_path", offset_of!(libc::sockaddr_un, sun_path), 2),
        ];
        for (name, got, want) in offsets {
            ctx.observe(&format!("offsetof_{name}"), got);
            assert_eq!(got, want, "offsetof({name})");
        }
        let v4 = peers::socket(Domain::IPV4, Type::DGRAM);
        v4.bind(&V4.any_port().into()).expect("bind v4");
        let len = v4.local_addr().expect("getsockname").len();
        ctx.observe("getsockname_len_inet", len);
        assert_eq!(len as usize, size_of::<libc::sockaddr_in>());
        if harness::check::ipv6_available() {
            let v6 = peers::socket(Domain::IPV6, Type::DGRAM);
            v6.bind(&V6.any_port().into()).expect("bind v6");
            let len = v6.local_addr().expect("getsockname").len();
            ctx.observe("getsockname_len_inet6", len);
            assert_eq!(len as usize, size_of::<libc::sockaddr_in6>());
        }
        let unnamed = SocketKind::UNIX_STREAM.pair();
        let len = unnamed.client.local_addr().expect("getsockname").len();
        ctx.observe("getsockname_len_unix_unnamed", len);
        assert_eq!(
            len as usize,
            size_of::<libc::sa_family_t>(),
            "unnamed: sun_family only"
        );
        let named = SocketKind::UNIX_STREAM.named(UnixNaming::Path).pair();
        let path = named
            .dir
            .as_ref()
            .expect("a directory")
            .path()
            .join("b.sock");
        let addr = named.server.local_addr().expect("getsockname");
        let want = offset_of!(libc::sockaddr_un, sun_path) + path.as_os_str().len() + 1;
        ctx.observe("getsockname_len_unix_path", addr.len());
        assert_eq!(
            addr.len() as usize,
            want,
            "offsetof(sun_path) + strlen(path) + 1"
        );
    });
}

#[rstest]
#[case::inet_full_length(V4, libc::AF_INET, 16, Ok(()))]
#[case::inet_one_byte_short(V4, libc::AF_INET, 15, Err(Errno::EINVAL))]
#[case::inet_given_an_inet6_address(V4, libc::AF_INET6, 28, Err(Errno::EAFNOSUPPORT))]
#[case::inet6_full_length(V6, libc::AF_INET6, 28, Ok(()))]
#[case::inet6_rfc2133_length(V6, libc::AF_INET6, 24, Ok(()))]
#[case::inet6_below_rfc2133_length(V6, libc::AF_INET6, 23, Err(Errno::EINVAL))]
#[case::inet6_given_an_inet_address(V6, libc::AF_INET, 28, Err(Errno::EAFNOSUPPORT))]
fn bind_checks_the_address_length_and_family(
    #[case] family: Family,
    #[case] sa_family: i32,
    #[case] len: usize,
    #[case] expected: Result<(), Errno>,
) {
    claim("fundamentals.sockaddr.kernel-checks-length-and-family")
        .needs_ipv6(family.is_v6())
        .run(move |ctx| {
            let sock = peers::socket(family.domain(), Type::DGRAM);
            let ip = if sa_family == libc::AF_INET {
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            } else {
                IpAddr::V6(Ipv6Addr::LOCALHOST)
            };
            let got = sock
                .bind(&raw_inet_addr(sa_family, ip, 0, len))
                .map_err(errno);
            ctx.observe("bind", format!("{got:?}"));
            assert_eq!(
                got, expected,
                "bind with sa_family {sa_family}, addrlen {len}"
            );
        });
}

/// recvfrom(2) with the address length given in: the bytes and the length it returns.
fn recvfrom_with_len(sock: &Socket, given: libc::socklen_t) -> (Vec<u8>, libc::socklen_t) {
    harness::wait::ready(
        sock.as_fd(),
        PollFlags::POLLIN,
        harness::wait::STEP,
        "a datagram to arrive",
    );
    let mut addr = [0xAA_u8; size_of::<libc::sockaddr_storage>()];
    let mut len = given;
    let mut data = [0_u8; 16];
    // SAFETY: every pointer is valid for the call: data for its length, addr for the
    // whole sockaddr_storage (more than any `given` here), len for one socklen_t.
    let n = unsafe {
        libc::recvfrom(
            sock.as_raw_fd(),
            data.as_mut_ptr().cast(),
            data.len(),
            0,
            addr.as_mut_ptr().cast(),
            &mut len,
        )
    };
    assert!(n > 0, "recvfrom: {}", std::io::Error::last_os_error());
    (addr.to_vec(), len)
}

#[rstest]
#[case::inet(V4, 16)]
#[case::inet6(V6, 28)]
fn recvfrom_and_accept_write_at_most_the_given_address_length_and_return_the_real_one(
    #[case] family: Family,
    #[case] full: usize,
) {
    claim("fundamentals.sockaddr.addrlen-value-result")
        .needs_ipv6(family.is_v6())
        .run(move |ctx| {
            let pair = SocketKind::udp(family).pair();
            let sender = addr_bytes(&pair.client.local_addr().expect("getsockname"));
            for given in [0, 4, full] {
                pair.client.send(b"x").expect("send a datagram");
                let (addr, len) = recvfrom_with_len(&pair.server, given as libc::socklen_t);
                ctx.observe(&format!("given_{given}"), format!("returned length {len}"));
                assert_eq!(
                    len as usize, full,
                    "the length returned for a buffer of {given}"
                );
                assert_eq!(&addr[..given], &sender[..given], "the first {given} bytes");
                assert!(
                    addr[given..].iter().all(|b| *b == 0xAA),
                    "nothing written past {given} bytes"
                );
            }
            let (listener, at) = peers::tcp_listener(family);
            let client = peers::socket(family.domain(), Type::STREAM);
            client.connect(&at.into()).expect("connect");
            harness::wait::ready(
                listener.as_fd(),
                PollFlags::POLLIN,
                harness::wait::STEP,
                "a connection to accept",
            );
            let mut addr = [0xAA_u8; size_of::<libc::sockaddr_storage>()];
            let mut len: libc::socklen_t = 0;
            // SAFETY: addr is valid for any length the kernel may write (it writes none for a
            // length of 0) and len for one socklen_t; the descriptor returned is owned below.
            let fd =
                unsafe { libc::accept(listener.as_raw_fd(), addr.as_mut_ptr().cast(), &mut len) };
            assert!(fd >= 0, "accept: {}", std::io::Error::last_os_error());
            // SAFETY: accept returned a new descriptor nothing else owns.
            drop(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) });
            ctx.observe("accept_given_0", format!("returned length {len}"));
            assert_eq!(
                len as usize, full,
                "the length accept returns for a buffer of 0"
            );
            assert!(
                addr.iter().all(|b| *b == 0xAA),
                "accept wrote nothing into a buffer of 0"
            );
        });
}

#[test]
fn gethostbyname_answers_with_ipv4_addresses_only() {
    claim("fundamentals.addr.gethostbyname-ipv4-only").run(|ctx| {
        let name = CString::new("localhost").expect("a name without NUL");
        // SAFETY: the name is NUL-terminated; the hostent returned lives in glibc's static
        // storage and is read whole before any other resolver call of this test.
        let (family, length, addrs) = unsafe {
            let host = gethostbyname(name.as_ptr());
            if host.is_null() {
                skip("gethostbyname(\"localhost\") found nothing (no localhost in /etc/hosts)");
            }
            let host = &*host;
            let mut addrs = Vec::new();
            let mut at = host.h_addr_list;
            while !(*at).is_null() {
                let bytes = std::slice::from_raw_parts((*at).cast::<u8>(), host.h_length as usize);
                addrs.push(bytes.to_vec());
                at = at.add(1);
            }
            (host.h_addrtype, host.h_length, addrs)
        };
        ctx.observe("gethostbyname_family", family);
        ctx.observe("gethostbyname_addresses", format!("{addrs:?}"));
        assert_eq!(family, libc::AF_INET, "h_addrtype");
        assert_eq!(length, 4, "h_length");
        let resolved: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(&("localhost", 0))
            .expect("getaddrinfo(localhost)")
            .collect();
        ctx.observe("getaddrinfo", format!("{resolved:?}"));
        for a in &addrs {
            let v4 = Ipv4Addr::new(a[0], a[1], a[2], a[3]);
            assert!(
                resolved.iter().any(|r| r.ip() == IpAddr::V4(v4)),
                "getaddrinfo also lists {v4}"
            );
        }
    });
}

extern "C" {
    // glibc's resolver call the caveat is about (the libc crate does not declare it).
    fn gethostbyname(name: *const libc::c_char) -> *mut libc::hostent;
    // glibc's exported byte-order functions (the C headers may inline them as macros).
    fn htons(host: u16) -> u16;
    fn ntohs(net: u16) -> u16;
    fn htonl(host: u32) -> u32;
    fn ntohl(net: u32) -> u32;
    // glibc's text conversions, which neither libc (the crate), nix nor socket2 declare.
    #[link_name = "inet_ntop"]
    fn c_inet_ntop(
        af: libc::c_int,
        src: *const libc::c_void,
        dst: *mut libc::c_char,
        size: libc::socklen_t,
    ) -> *const libc::c_char;
    #[link_name = "inet_pton"]
    fn c_inet_pton(
        af: libc::c_int,
        src: *const libc::c_char,
        dst: *mut libc::c_void,
    ) -> libc::c_int;
}

#[test]
fn htons_and_htonl_store_big_endian_and_ntoh_undoes_them() {
    claim("fundamentals.byteorder.htons-ntohs").run(|ctx| {
        for x in 0..=u16::MAX {
            // SAFETY: pure functions of their argument.
            let (net, back) = unsafe { (htons(x), ntohs(htons(x))) };
            assert_eq!(net.to_ne_bytes(), x.to_be_bytes(), "htons({x}) in memory");
            assert_eq!(back, x, "ntohs(htons({x}))");
        }
        ctx.observe("host_is_little_endian", cfg!(target_endian = "little"));
        ctx.property(1024, any::<u32>(), |x| {
            // SAFETY: pure functions of their argument.
            let (net, back) = unsafe { (htonl(x), ntohl(htonl(x))) };
            prop_assert_eq!(net.to_ne_bytes(), x.to_be_bytes());
            prop_assert_eq!(back, x);
            Ok(())
        });
    });
}

#[test]
fn ports_and_addresses_are_big_endian_on_the_wire() {
    claim("fundamentals.byteorder.network-order-on-the-wire")
        .and("fundamentals.tips.mind-the-byte-order")
        .in_netns()
        .needs(Cap::NetRaw)
        .run(|ctx| {
            let netns = ctx.netns();
            let sniffer = peers::sniffer();
            let rx = peers::socket(Domain::IPV4, Type::DGRAM);
            rx.bind(&V4.any_port().into()).expect("bind receiver");
            let tx = peers::socket(Domain::IPV4, Type::DGRAM);
            tx.bind(&V4.any_port().into()).expect("bind sender");
            let (src, dst) = (peers::local(&tx).port(), peers::local(&rx).port());
            let raw = addr_bytes(&tx.local_addr().expect("getsockname"));
            ctx.observe("sockaddr_in_bytes", format!("{raw:02x?}"));
            assert_eq!(
                raw[2..4],
                src.to_be_bytes(),
                "sin_port as stored by getsockname"
            );
            assert_eq!(
                raw[4..8],
                [127, 0, 0, 1],
                "sin_addr as stored by getsockname"
            );
            tx.send_to(b"byte order", &peers::local(&rx).into())
                .expect("send one datagram");
            let header = peers::capture(&sniffer, "capturing the datagram", |c| {
                let pkt = &c.packet;
                let ihl = usize::from(pkt.first()? & 0x0f) * 4;
                let udp = pkt.get(ihl..ihl + 8)?;
                (pkt[0] >> 4 == 4 && pkt[9] == 17 && udp[2..4] == dst.to_be_bytes())
                    .then(|| (pkt[12..16].to_vec(), udp.to_vec()))
            });
            let (ip_src, udp) = header;
            ctx.observe("captured_udp_header", format!("{udp:02x?}"));
            ctx.observe("source_port", src);
            assert_eq!(udp[0..2], src.to_be_bytes(), "source port on the wire");
            assert_eq!(ip_src, [127, 0, 0, 1], "source address on the wire");
            let table = std::fs::read_to_string(netns.proc_net("udp")).expect("/proc/net/udp");
            let line = table
                .lines()
                .find(|l| l.contains(&format!(":{src:04X} ")))
                .expect("the sender in /proc/net/udp")
                .trim()
                .to_string();
            ctx.observe("proc_net_udp_line", &line);
            let local = line
                .split_whitespace()
                .nth(1)
                .expect("local_address column");
            let want = format!("{:08X}:{src:04X}", u32::from_ne_bytes([127, 0, 0, 1]));
            assert_eq!(
                local, want,
                "/proc/net/udp prints the raw s_addr word and the port"
            );
        });
}

#[test]
fn forgetting_htons_binds_the_byte_swapped_port() {
    claim("fundamentals.byteorder.forgetting-htons")
        .and("fundamentals.tips.mind-the-byte-order")
        .in_netns()
        .limit(Duration::from_secs(10))
        .run(|ctx| {
            ctx.property(256, 1..=u16::MAX, |port| {
                let sock = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
                // `addr.sin_port = port;` — the host-order value, htons forgotten.
                let addr = raw_inet_addr(libc::AF_INET, Ipv4Addr::LOCALHOST.into(), port, 16);
                sock.bind(&addr)
                    .map_err(|e| TestCaseError::fail(format!("bind: {e}")))?;
                let bound = peers::local(&sock).port();
                prop_assert_eq!(
                    bound,
                    port.swap_bytes(),
                    "asked (without htons) for {}",
                    port
                );
                Ok(())
            });
            let sock = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
            sock.bind(&raw_inet_addr(
                libc::AF_INET,
                Ipv4Addr::LOCALHOST.into(),
                8080,
                16,
            ))
            .expect("bind with sin_port = 8080");
            ctx.observe(
                "sin_port_8080_without_htons_bound",
                peers::local(&sock).port(),
            );
        });
}

fn inet_ntop(family: i32, bytes: &[u8]) -> String {
    let mut out = [0 as libc::c_char; 64];
    // SAFETY: `bytes` holds an in_addr/in6_addr for `family`; `out` is larger than
    // INET6_ADDRSTRLEN and inet_ntop writes a NUL-terminated string into it.
    let p = unsafe {
        c_inet_ntop(
            family,
            bytes.as_ptr().cast(),
            out.as_mut_ptr(),
            out.len() as libc::socklen_t,
        )
    };
    assert!(!p.is_null(), "inet_ntop failed: {}", Errno::last());
    // SAFETY: inet_ntop returned `out`, now holding a NUL-terminated string.
    unsafe { CStr::from_ptr(out.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

fn inet_pton(family: i32, text: &str) -> Option<Vec<u8>> {
    let text = CString::new(text).ok()?;
    let mut out = [0u8; 16];
    // SAFETY: `text` is NUL-terminated and `out` has room for an in6_addr.
    let rc = unsafe { c_inet_pton(family, text.as_ptr(), out.as_mut_ptr().cast()) };
    let len = if family == libc::AF_INET { 4 } else { 16 };
    (rc == 1).then(|| out[..len].to_vec())
}

#[rstest]
fn inet_pton_and_inet_ntop_round_trip(#[values(V4, V6)] family: Family) {
    claim("fundamentals.addr.inet-pton-ntop")
        .case(family.to_string())
        .run(move |ctx| match family {
            V4 => {
                ctx.property(2048, any::<[u8; 4]>(), |bytes| {
                    let text = inet_ntop(libc::AF_INET, &bytes);
                    prop_assert_eq!(&text, &Ipv4Addr::from(bytes).to_string());
                    prop_assert_eq!(inet_pton(libc::AF_INET, &text), Some(bytes.to_vec()));
                    Ok(())
                });
                ctx.observe("example", inet_ntop(libc::AF_INET, &[192, 0, 2, 1]));
            }
            V6 => {
                ctx.property(2048, any::<[u8; 16]>(), |bytes| {
                    let text = inet_ntop(libc::AF_INET6, &bytes);
                    prop_assert_eq!(text.parse::<Ipv6Addr>().ok(), Some(Ipv6Addr::from(bytes)));
                    prop_assert_eq!(inet_pton(libc::AF_INET6, &text), Some(bytes.to_vec()));
                    Ok(())
                });
                let mapped = Ipv4Addr::new(127, 0, 0, 1).to_ipv6_mapped().octets();
                ctx.observe("example", inet_ntop(libc::AF_INET6, &mapped));
            }
        });
}

#[rstest]
#[case::three_parts("127.1")]
#[case::hex_part("0x7f.0.0.1")]
#[case::leading_zero("010.0.0.1")]
#[case::octet_too_big("256.0.0.1")]
#[case::trailing_dot("1.2.3.4.")]
fn inet_pton_accepts_only_dotted_quads(#[case] text: &'static str) {
    claim("fundamentals.addr.inet-pton-strict").run(move |ctx| {
        let got = inet_pton(libc::AF_INET, text);
        ctx.observe(text, format!("{got:?}"));
        assert_eq!(got, None, "inet_pton(AF_INET, {text:?})");
    });
}

#[rstest]
fn bind_names_a_socket_once(#[values(V4, V6)] family: Family) {
    claim("fundamentals.bind.names-a-socket-once")
        .family(family)
        .run(move |ctx| {
            let sock = peers::socket(family.domain(), Type::STREAM);
            let before = peers::local(&sock);
            ctx.observe("getsockname_before_bind", before.to_string());
            assert_eq!(before, SocketAddr::new(family.unspecified(), 0));
            sock.bind(&family.any_port().into()).expect("first bind");
            let after = peers::local(&sock);
            ctx.observe("getsockname_after_bind", after.to_string());
            assert_eq!(after.ip(), family.loopback());
            assert_ne!(after.port(), 0);
            let again = sock.bind(&family.any_port().into()).map_err(errno);
            ctx.observe("second_bind", format!("{again:?}"));
            assert_eq!(again, Err(Errno::EINVAL), "binding a bound socket again");
            let unbound = peers::socket(family.domain(), Type::STREAM);
            unbound.listen(1).expect("listen without bind");
            let auto = peers::local(&unbound);
            ctx.observe("listen_without_bind", auto.to_string());
            assert_ne!(auto.port(), 0, "listen autobinds an ephemeral port");
        });
}

#[rstest]
fn port_zero_picks_a_port_in_the_local_range(#[values(V4, V6)] family: Family) {
    claim("fundamentals.bind.port-zero-ephemeral")
        .family(family)
        .limit(Duration::from_secs(10))
        .run(move |ctx| {
            let (lo, hi) = harness::sysctl::sysctl_range("net.ipv4.ip_local_port_range")
                .expect("read ip_local_port_range");
            ctx.observe("ip_local_port_range", format!("{lo} {hi}"));
            ctx.property(256, proptest::bool::ANY, |stream| {
                let ty = if stream { Type::STREAM } else { Type::DGRAM };
                let sock = Socket::new(family.domain(), ty, None).expect("socket");
                sock.bind(&family.any_port().into()).expect("bind port 0");
                let port = u32::from(peers::local(&sock).port());
                prop_assert!(
                    (lo..=hi).contains(&port),
                    "port {} outside {}..={}",
                    port,
                    lo,
                    hi
                );
                Ok(())
            });
        });
}

#[rstest]
fn port_zero_stays_inside_a_narrowed_range(#[values(Type::STREAM, Type::DGRAM)] ty: Type) {
    claim("fundamentals.bind.port-zero-ephemeral")
        .case(if ty == Type::STREAM {
            "stream"
        } else {
            "datagram"
        })
        .and("fundamentals.bind.eaddrinuse")
        .in_netns()
        .run(move |ctx| {
            let netns = ctx.netns();
            netns.write_sysctl("net.ipv4.ip_local_port_range", "40000 40007");
            let mut held = Vec::new();
            let mut ports = Vec::new();
            for _ in 0..8 {
                let sock = peers::socket(Domain::IPV4, ty);
                sock.bind(&V4.any_port().into())
                    .expect("bind port 0 in a range of 8");
                ports.push(peers::local(&sock).port());
                held.push(sock);
            }
            ports.sort_unstable();
            ctx.observe(
                "range",
                harness::sysctl::sysctl("net.ipv4.ip_local_port_range").expect("read it back"),
            );
            ctx.observe("ports_given", &ports);
            assert_eq!(ports, (40000..=40007).collect::<Vec<u16>>());
            let ninth = peers::socket(Domain::IPV4, ty);
            let exhausted = ninth.bind(&V4.any_port().into()).map_err(errno);
            ctx.observe("ninth_bind", format!("{exhausted:?}"));
            assert_eq!(
                exhausted,
                Err(Errno::EADDRINUSE),
                "bind port 0 with the range used up"
            );
        });
}

#[rstest]
fn bind_refuses_a_port_in_use(
    #[values(V4, V6)] family: Family,
    #[values(Type::STREAM, Type::DGRAM)] ty: Type,
) {
    claim("fundamentals.bind.eaddrinuse")
        .family(family)
        .case(if ty == Type::STREAM {
            "stream"
        } else {
            "datagram"
        })
        .run(move |ctx| {
            let first = peers::socket(family.domain(), ty);
            first.bind(&family.any_port().into()).expect("first bind");
            let taken = peers::local(&first);
            let second = peers::socket(family.domain(), ty);
            let same = second.bind(&taken.into()).map_err(errno);
            ctx.observe("same_address", format!("{same:?}"));
            assert_eq!(same, Err(Errno::EADDRINUSE));
            let wildcard = SocketAddr::new(family.unspecified(), taken.port());
            let wild = second.bind(&wildcard.into()).map_err(errno);
            ctx.observe("wildcard_same_port", format!("{wild:?}"));
            assert_eq!(wild, Err(Errno::EADDRINUSE));
        });
}

#[test]
fn unprivileged_bind_below_the_start_is_eacces() {
    claim("fundamentals.bind.eacces-privileged-port")
        .in_netns()
        .limit(Duration::from_secs(10))
        .run(|ctx| {
            let netns = ctx.netns();
            let default = harness::sysctl::sysctl("net.ipv4.ip_unprivileged_port_start")
                .expect("read ip_unprivileged_port_start");
            ctx.observe("ip_unprivileged_port_start_default", &default);
            let as_root = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
            let root_bind = as_root.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 80)).into());
            ctx.observe(
                "namespace_root_binds_80",
                format!("{:?}", root_bind.map_err(errno)),
            );
            let cases = (1u32..30000, 1u16..=u16::MAX);
            ctx.property(64, cases, |(start, port)| {
                netns.write_sysctl("net.ipv4.ip_unprivileged_port_start", &start.to_string());
                let got = privileges::as_unprivileged("bind", harness::wait::STEP, || {
                    let s = Socket::new(Domain::IPV4, Type::STREAM, None).map_err(errno)?;
                    s.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)).into())
                        .map_err(errno)?;
                    Ok(0)
                })
                .map_err(TestCaseError::fail)?;
                let want = if u32::from(port) < start {
                    Err(Errno::EACCES)
                } else {
                    Ok(0)
                };
                prop_assert_eq!(
                    got,
                    want,
                    "unprivileged bind of port {} with start {}",
                    port,
                    start
                );
                Ok(())
            });
        });
}

/// Which IPv4 addresses bind(2) accepts in a namespace whose only interface is `lo`.
fn bindable_without_freebind(ip: Ipv4Addr) -> bool {
    ip.is_loopback() || ip.is_unspecified() || ip.is_multicast() || ip.is_broadcast()
}

#[test]
fn bind_to_an_address_not_on_the_machine_is_eaddrnotavail() {
    claim("fundamentals.bind.eaddrnotavail")
        .in_netns()
        .limit(Duration::from_secs(10))
        .run(|ctx| {
            ctx.property(512, any::<u32>(), |raw| {
                let ip = Ipv4Addr::from(raw);
                let sock = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
                let got = sock.bind(&SocketAddr::from((ip, 0)).into()).map_err(errno);
                let want = if bindable_without_freebind(ip) {
                    Ok(())
                } else {
                    Err(Errno::EADDRNOTAVAIL)
                };
                prop_assert_eq!(got, want, "bind({})", ip);
                Ok(())
            });
            let doc = Ipv4Addr::new(192, 0, 2, 1);
            let sock = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
            let plain = sock.bind(&SocketAddr::from((doc, 0)).into()).map_err(errno);
            ctx.observe("bind_192.0.2.1", format!("{plain:?}"));
            sock.set_freebind_v4(true).expect("IP_FREEBIND");
            let free = sock.bind(&SocketAddr::from((doc, 0)).into()).map_err(errno);
            ctx.observe("bind_192.0.2.1_with_IP_FREEBIND", format!("{free:?}"));
            assert_eq!(free, Ok(()), "IP_FREEBIND allows a non-local address");
            if harness::check::ipv6_available() {
                let v6 = Socket::new(Domain::IPV6, Type::STREAM, None).expect("socket");
                let doc6: Ipv6Addr = "2001:db8::1".parse().expect("address");
                let got = v6.bind(&SocketAddr::from((doc6, 0)).into()).map_err(errno);
                ctx.observe("bind_2001:db8::1", format!("{got:?}"));
                assert_eq!(got, Err(Errno::EADDRNOTAVAIL));
            }
        });
}

#[test]
fn every_loopback_address_is_bindable_and_reachable() {
    claim("fundamentals.bind.loopback-slash-8")
        .limit(Duration::from_secs(10))
        .run(|ctx| {
            ctx.property(128, any::<[u8; 3]>(), |[a, b, c]| {
                let ip = Ipv4Addr::new(127, a, b, c);
                let listener = peers::socket(Domain::IPV4, Type::STREAM);
                listener
                    .bind(&SocketAddr::from((ip, 0)).into())
                    .map_err(|e| TestCaseError::fail(format!("bind {ip}: {e}")))?;
                listener.listen(1).expect("listen");
                let addr = peers::local(&listener);
                prop_assert_eq!(addr.ip(), IpAddr::V4(ip));
                let client = peers::socket(Domain::IPV4, Type::STREAM);
                client
                    .connect(&addr.into())
                    .map_err(|e| TestCaseError::fail(format!("connect {addr}: {e}")))?;
                let (_server, peer) = peers::accept(&listener, "loopback connection");
                prop_assert!(peer.as_socket().is_some_and(|p| p.ip().is_loopback()));
                Ok(())
            });
        });
}

#[test]
fn dual_stack_listener_sees_ipv4_clients_as_mapped() {
    claim("fundamentals.bind.ipv6-dual-stack")
        .in_netns()
        .needs_ipv6(true)
        .run(|ctx| {
            let bindv6only =
                harness::sysctl::sysctl("net.ipv6.bindv6only").expect("read bindv6only");
            ctx.observe("net.ipv6.bindv6only", &bindv6only);
            let listener = peers::socket(Domain::IPV6, Type::STREAM);
            ctx.observe(
                "IPV6_V6ONLY_default",
                listener.only_v6().expect("IPV6_V6ONLY"),
            );
            listener
                .bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)).into())
                .expect("bind [::]:0");
            listener.listen(1).expect("listen");
            let port = peers::local(&listener).port();
            let client = peers::socket(Domain::IPV4, Type::STREAM);
            client
                .connect(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)).into())
                .expect("IPv4 connect to the IPv6 listener");
            let (_server, peer) = peers::accept(&listener, "IPv4 client on the IPv6 listener");
            let peer = peer.as_socket().expect("an IP peer");
            ctx.observe("peer_address", peer.to_string());
            assert_eq!(
                peer.ip(),
                IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped()),
                "the IPv4 client appears as ::ffff:127.0.0.1"
            );
        });
}

#[rstest]
fn v6only_decides_whether_ipv4_shares_the_port(#[values(false, true)] v6only: bool) {
    claim("fundamentals.bind.ipv6-v6only")
        .case(format!("IPV6_V6ONLY={}", u8::from(v6only)))
        .in_netns()
        .needs_ipv6(true)
        .run(move |ctx| {
            let listener = peers::socket(Domain::IPV6, Type::STREAM);
            listener.set_only_v6(v6only).expect("IPV6_V6ONLY");
            listener
                .bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)).into())
                .expect("bind [::]:0");
            listener.listen(1).expect("listen");
            let port = peers::local(&listener).port();
            let v4 = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let client = peers::socket(Domain::IPV4, Type::STREAM);
            let connect = client.connect(&v4.into()).map_err(errno);
            ctx.observe("ipv4_connect", format!("{connect:?}"));
            let other = peers::socket(Domain::IPV4, Type::STREAM);
            let bind = other.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)).into());
            let bind = bind.map_err(errno);
            ctx.observe("ipv4_bind_same_port", format!("{bind:?}"));
            if v6only {
                assert_eq!(connect, Err(Errno::ECONNREFUSED));
                assert_eq!(bind, Ok(()));
            } else {
                assert_eq!(connect, Ok(()));
                assert_eq!(bind, Err(Errno::EADDRINUSE));
            }
        });
}

#[test]
fn getsockname_returns_the_bound_address() {
    claim("fundamentals.bind.getsockname-round-trip")
        .in_netns()
        .limit(Duration::from_secs(10))
        .run(|ctx| {
            let v6 = harness::check::ipv6_available();
            ctx.observe("ipv6", v6);
            let strategy = (any::<bool>(), any::<[u8; 3]>(), 1..=u16::MAX);
            ctx.property(256, strategy, |(use_v6, [a, b, c], port)| {
                let addr = if use_v6 && v6 {
                    SocketAddr::from((Ipv6Addr::LOCALHOST, port))
                } else {
                    SocketAddr::from((Ipv4Addr::new(127, a, b, c), port))
                };
                let sock =
                    Socket::new(Domain::for_address(addr), Type::DGRAM, None).expect("socket");
                sock.bind(&addr.into())
                    .map_err(|e| TestCaseError::fail(format!("bind {addr}: {e}")))?;
                prop_assert_eq!(peers::local(&sock), addr);
                Ok(())
            });
        });
}
