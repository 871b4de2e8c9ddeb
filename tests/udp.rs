//! Section 07-11 (UDP, broadcast and multicast, raw sockets) and the overview's UDP and raw-socket
//! claims: connectionless sends, message boundaries, errors on connected sockets, the datagram
//! size limit, silent drops, broadcast and multicast rooms, ping, sniffing and IP_HDRINCL.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::AsFd;
use std::time::Duration;

use harness::errno;
use harness::peers::{self, Family, SocketKind};
use harness::privileges::as_unprivileged;
use harness::tools;
use harness::wait::{self, STEP};
use harness::{claim, sandbox::Netns, Cap};
use nix::errno::Errno;
use nix::sys::socket::MsgFlags;
use rstest::rstest;
use socket2::{Domain, Protocol, Socket, Type};

use Family::{V4, V6};

/// A UDP socket bound to loopback port 0, and its address.
fn bound(family: Family) -> (Socket, SocketAddr) {
    let sock = peers::socket(family.domain(), Type::DGRAM);
    sock.bind(&family.any_port().into()).expect("bind UDP");
    let addr = peers::local(&sock);
    (sock, addr)
}

/// A counter of the namespace's UDP MIB (`/proc/net/snmp` for IPv4, `snmp6` for IPv6).
fn udp_counter(ns: &Netns, family: Family, name: &str) -> u64 {
    if family.is_v6() {
        let text = std::fs::read_to_string(ns.proc_net("snmp6")).expect("read snmp6");
        let key = format!("Udp6{name}");
        text.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(char::is_whitespace)?;
                (k == key).then(|| v.trim().parse().expect("a number"))
            })
            .unwrap_or_else(|| panic!("no {key} in snmp6"))
    } else {
        ns.counter("snmp", "Udp", name)
    }
}

#[rstest]
fn sendto_needs_no_connection_and_autobinds(#[values(V4, V6)] family: Family) {
    claim("udp.basics.connectionless")
        .family(family)
        .run(move |ctx| {
            let (receiver, to) = bound(family);
            let sender = peers::socket(family.domain(), Type::DGRAM);
            let before = sender.local_addr().expect("getsockname").as_socket();
            ctx.observe("sender_name_before", format!("{before:?}"));
            sender
                .send_to(b"hello", &to.into())
                .expect("sendto on a fresh socket");
            let after = peers::local(&sender);
            ctx.observe("sender_name_after", after.to_string());
            assert_ne!(after.port(), 0, "sendto autobinds an ephemeral port");
            let got = peers::datagram(&receiver, 64).expect("recvfrom");
            let (n, from) = (got.data.len(), got.source().expect("an IP source"));
            ctx.observe("recvfrom", format!("{n} bytes from {from}"));
            assert_eq!((n, from.port()), (5, after.port()));
        });
}

#[rstest]
fn each_recv_returns_one_datagram_and_truncates_the_rest(#[values(V4, V6)] family: Family) {
    claim("udp.basics.message-boundaries")
        .family(family)
        .run(move |ctx| {
            let pair = SocketKind::udp(family).pair();
            for d in [&b"abc"[..], b"defgh", &[9u8; 100]] {
                pair.client.send(d).expect("send");
            }
            let recv = |max| {
                let m = peers::datagram(&pair.server, max).expect("recv");
                (m.data, m.truncated)
            };
            let (first, second, third) = (recv(64), recv(64), recv(10));
            ctx.observe("reads_of_64", [first.0.len(), second.0.len()]);
            ctx.observe(
                "read_of_10_from_100",
                format!("{} bytes, MSG_TRUNC {}", third.0.len(), third.1),
            );
            assert_eq!(first, (b"abc".to_vec(), false));
            assert_eq!(second, (b"defgh".to_vec(), false));
            assert_eq!(
                third,
                (vec![9u8; 10], true),
                "the rest of the datagram is gone"
            );
            pair.client.send(&[1u8; 100]).expect("send");
            let real = peers::recv_msg(&pair.server, 10, MsgFlags::MSG_TRUNC)
                .expect("recv MSG_TRUNC")
                .returned;
            ctx.observe("recv_with_msg_trunc_returns", real);
            assert_eq!(
                real, 100,
                "recv(MSG_TRUNC) gives the datagram's real length"
            );
            pair.server.set_nonblocking(true).expect("nonblocking");
            assert_eq!(
                peers::datagram(&pair.server, 64).map(|d| d.data.len()),
                Err(Errno::EAGAIN)
            );
        });
}

#[rstest]
fn only_a_connected_udp_socket_hears_of_an_unreachable_port(#[values(V4, V6)] family: Family) {
    claim("udp.basics.connected-udp-reports-icmp-errors")
        .family(family)
        .in_netns()
        .run(move |ctx| {
            // In the test's own namespace nobody else can take the port once it is closed.
            let closed = bound(family).1;
            let connected = peers::socket(family.domain(), Type::DGRAM);
            connected.connect(&closed.into()).expect("connect UDP");
            connected.send(b"anyone?").expect("send");
            let got = peers::datagram(&connected, 64).map(|d| d.data.len());
            ctx.observe("connected_recv_after_send", format!("{got:?}"));
            assert_eq!(got, Err(Errno::ECONNREFUSED));
            let unconnected = peers::socket(family.domain(), Type::DGRAM);
            unconnected
                .send_to(b"anyone?", &closed.into())
                .expect("sendto");
            unconnected
                .set_read_timeout(Some(Duration::from_millis(200)))
                .expect("SO_RCVTIMEO");
            let got = peers::datagram(&unconnected, 64).map(|d| d.data.len());
            ctx.observe("unconnected_recv_after_sendto", format!("{got:?}"));
            assert_eq!(
                got,
                Err(Errno::EAGAIN),
                "no error reaches an unconnected socket"
            );
        });
}

#[rstest]
#[case::v4(V4, 65_507)]
#[case::v6(V6, 65_527)]
fn a_datagram_over_the_size_limit_is_emsgsize(#[case] family: Family, #[case] max: usize) {
    claim("udp.basics.max-datagram-size")
        .needs_ipv6(family.is_v6())
        .run(move |ctx| {
            let pair = SocketKind::udp(family).pair();
            let sent = pair.client.send(&vec![3u8; max]).map_err(errno);
            let over = pair.client.send(&vec![3u8; max + 1]).map_err(errno);
            ctx.observe("largest_send", format!("{max}: {sent:?}"));
            ctx.observe("one_byte_more", format!("{over:?}"));
            assert_eq!(sent, Ok(max));
            assert_eq!(over, Err(Errno::EMSGSIZE));
            let got = peers::datagram(&pair.server, max + 1).expect("recv the largest");
            assert_eq!((got.data.len(), got.truncated), (max, false));
        });
}

#[rstest]
fn a_full_receive_buffer_drops_datagrams_silently(#[values(V4, V6)] family: Family) {
    claim("udp.table.unreliable")
        .family(family)
        .in_netns()
        .run(move |ctx| {
            let ns = ctx.netns();
            let (receiver, to) = bound(family);
            receiver
                .set_recv_buffer_size(0)
                .expect("SO_RCVBUF to its minimum");
            ctx.observe(
                "rcvbuf",
                receiver.recv_buffer_size().expect("get SO_RCVBUF"),
            );
            let sender = peers::socket(family.domain(), Type::DGRAM);
            let before = udp_counter(ns, family, "RcvbufErrors");
            const SENT: u64 = 100;
            for n in 0..SENT {
                sender
                    .send_to(&[n as u8; 1000], &to.into())
                    .expect("every sendto succeeds; the sender is never told");
            }
            receiver.set_nonblocking(true).expect("nonblocking");
            let mut received = 0;
            while peers::datagram(&receiver, 2000).is_ok() {
                received += 1;
            }
            let dropped = udp_counter(ns, family, "RcvbufErrors") - before;
            ctx.observe("received", received);
            ctx.observe("RcvbufErrors_delta", dropped);
            assert!(received < SENT, "a minimal buffer cannot hold 100 KB");
            assert_eq!(
                received + dropped,
                SENT,
                "every datagram not received was counted"
            );
        });
}

#[test]
fn broadcast_needs_so_broadcast() {
    claim("udp.broadcast.needs-so-broadcast")
        .in_netns()
        .run(|ctx| {
            // 127.255.255.255 is the broadcast address of lo's 127.0.0.0/8, inside the namespace.
            let broadcast = Ipv4Addr::new(127, 255, 255, 255);
            let receiver = |ip: Ipv4Addr, port: u16| {
                let sock = peers::socket(V4.domain(), Type::DGRAM);
                sock.set_reuse_address(true).expect("SO_REUSEADDR");
                sock.bind(&SocketAddr::from((ip, port)).into())
                    .unwrap_or_else(|e| panic!("bind {ip}:{port}: {e}"));
                sock
            };
            let any = receiver(Ipv4Addr::UNSPECIFIED, 0);
            let port = peers::local(&any).port();
            let to_broadcast = receiver(broadcast, port);
            let to_host = receiver(Ipv4Addr::LOCALHOST, port);
            let to = SocketAddrV4::new(broadcast, port);
            let sender = peers::socket(V4.domain(), Type::DGRAM);
            let without = sender.send_to(b"all", &to.into()).map_err(errno);
            ctx.observe("sendto_without_SO_BROADCAST", format!("{without:?}"));
            assert_eq!(without, Err(Errno::EACCES));
            sender.set_broadcast(true).expect("SO_BROADCAST");
            let with = sender.send_to(b"all", &to.into()).map_err(errno);
            ctx.observe("sendto_with_SO_BROADCAST", format!("{with:?}"));
            assert_eq!(with, Ok(3));
            let got = |sock: &Socket| {
                peers::datagram(sock, 64).map(|d| String::from_utf8_lossy(&d.data).into_owned())
            };
            // One datagram is handed to every matching socket at once: once the INADDR_ANY
            // receiver has it, a socket that matched would have it too.
            let (at_any, at_broadcast) = (got(&any), got(&to_broadcast));
            to_host.set_nonblocking(true).expect("O_NONBLOCK");
            let at_host = got(&to_host);
            ctx.observe("receiver_on_0.0.0.0", format!("{at_any:?}"));
            ctx.observe("receiver_on_127.255.255.255", format!("{at_broadcast:?}"));
            ctx.observe("receiver_on_127.0.0.1", format!("{at_host:?}"));
            assert_eq!(at_any, Ok("all".into()), "bound to INADDR_ANY");
            assert_eq!(
                at_broadcast,
                Ok("all".into()),
                "bound to the broadcast address"
            );
            assert_eq!(
                at_host,
                Err(Errno::EAGAIN),
                "bound to 127.0.0.1: not for it"
            );
        });
}

/// A member of multicast `group` on lo, bound to `0.0.0.0:port` (port 0: a new one).
fn member(group: Ipv4Addr, port: u16, multicast_all: Option<bool>) -> Socket {
    member_on(Ipv4Addr::LOCALHOST, group, port, multicast_all)
}

/// A member of multicast `group` on the interface that has address `iface`, bound to
/// `0.0.0.0:port` (port 0: a new one).
fn member_on(iface: Ipv4Addr, group: Ipv4Addr, port: u16, multicast_all: Option<bool>) -> Socket {
    let sock = on_port(port, multicast_all);
    sock.join_multicast_v4(&group, &iface)
        .expect("IP_ADD_MEMBERSHIP");
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("SO_RCVTIMEO");
    sock
}

/// A UDP socket bound to `0.0.0.0:port` (port 0: a new one) with SO_REUSEADDR, so several can
/// share a group's port, and IP_MULTICAST_ALL as asked (`None`: left as the kernel made it).
fn on_port(port: u16, multicast_all: Option<bool>) -> Socket {
    let sock = peers::socket(V4.domain(), Type::DGRAM);
    sock.set_reuse_address(true).expect("SO_REUSEADDR");
    if let Some(on) = multicast_all {
        sock.set_multicast_all_v4(on).expect("IP_MULTICAST_ALL");
    }
    sock.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)).into())
        .expect("bind the port");
    sock
}

/// A multicast sender whose datagrams leave through lo. IP_MULTICAST_IF must be set: the
/// test's namespace has no route for 224.0.0.0/4, and without one a send fails with
/// ENETUNREACH (`udp.multicast.loopback-needs-multicast-if`).
fn sender_on_lo() -> Socket {
    let sender = peers::socket(V4.domain(), Type::DGRAM);
    sender
        .set_multicast_if_v4(&Ipv4Addr::LOCALHOST)
        .expect("IP_MULTICAST_IF lo");
    sender
}

/// The case label of an IP_MULTICAST_ALL setting (None: left at its default).
fn multicast_all_case(multicast_all: Option<bool>) -> String {
    match multicast_all {
        None => "IP_MULTICAST_ALL left at its default".into(),
        Some(on) => format!("IP_MULTICAST_ALL={}", u8::from(on)),
    }
}

#[rstest]
fn multicast_reaches_the_sockets_that_joined(
    #[values(None, Some(true), Some(false))] multicast_all: Option<bool>,
) {
    claim("udp.multicast.join-group")
        .case(multicast_all_case(multicast_all))
        .in_netns()
        .run(move |ctx| {
            let group = Ipv4Addr::new(239, 1, 1, 1);
            let joined = member(group, 0, Some(true));
            let port = peers::local(&joined).port();
            let non_member = |port: u16| {
                let sock = on_port(port, multicast_all);
                sock.set_nonblocking(true).expect("O_NONBLOCK");
                sock
            };
            let other_port = non_member(0);
            let same_port = non_member(port);
            let sender = sender_on_lo();
            let loop_default = sender.multicast_loop_v4().expect("IP_MULTICAST_LOOP");
            ctx.observe("IP_MULTICAST_LOOP_default", loop_default);
            sender
                .send_to(b"hi group", &SocketAddrV4::new(group, port).into())
                .expect("send to the group (no membership needed)");
            assert_eq!(
                peers::datagram(&joined, 64)
                    .expect("the member receives")
                    .data,
                b"hi group"
            );
            assert!(loop_default, "looping back to local members is the default");
            // Delivered to every matching socket at once: the member has it, so the others
            // would have it by now too.
            let got = |s: &Socket| {
                peers::datagram(s, 64).map(|d| String::from_utf8_lossy(&d.data).into_owned())
            };
            let (other, same) = (got(&other_port), got(&same_port));
            ctx.observe("non_member_on_another_port", format!("{other:?}"));
            let setting = multicast_all.map_or("default".into(), |on| on.to_string());
            ctx.observe(
                &format!("non_member_on_the_port_IP_MULTICAST_ALL_{setting}"),
                format!("{same:?}"),
            );
            ctx.observe(
                "IP_MULTICAST_ALL_of_the_non_member",
                same_port.multicast_all_v4().expect("IP_MULTICAST_ALL"),
            );
            assert_eq!(other, Err(Errno::EAGAIN), "another port gets nothing");
            // IP_MULTICAST_ALL = 1 (the default: a socket left alone behaves so) hands a
            // socket on the port every group that any socket of the host joined.
            let expected = if multicast_all.unwrap_or(true) {
                Ok("hi group".to_string())
            } else {
                Err(Errno::EAGAIN)
            };
            assert_eq!(same, expected, "a non-member on the group's port");
        });
}

#[rstest]
fn a_room_per_group_needs_ip_multicast_all_off(
    #[values(None, Some(true), Some(false))] multicast_all: Option<bool>,
) {
    claim("udp.multicast.room-broadcast")
        .case(multicast_all_case(multicast_all))
        .in_netns()
        .run(move |ctx| {
            let (room_a, room_b) = (Ipv4Addr::new(239, 1, 1, 1), Ipv4Addr::new(239, 2, 2, 2));
            let a1 = member(room_a, 0, multicast_all);
            let port = peers::local(&a1).port();
            let a2 = member(room_a, port, multicast_all);
            let b = member(room_b, port, multicast_all);
            let sender = sender_on_lo();
            let ttl = sender.multicast_ttl_v4().expect("IP_MULTICAST_TTL");
            ctx.observe("IP_MULTICAST_TTL_default", ttl);
            assert_eq!(ttl, 1, "multicast stays on the local network by default");
            sender
                .send_to(b"room A", &SocketAddrV4::new(room_a, port).into())
                .expect("send to room A");
            for (name, sock) in [("a1", &a1), ("a2", &a2)] {
                assert_eq!(
                    peers::datagram(sock, 64).expect(name).data,
                    b"room A",
                    "{name} is in room A"
                );
            }
            let leaked =
                peers::datagram(&b, 64).map(|d| String::from_utf8_lossy(&d.data).into_owned());
            let setting = multicast_all.map_or("default".into(), |on| on.to_string());
            ctx.observe(
                &format!("room_B_member_with_IP_MULTICAST_ALL_{setting}"),
                format!("{leaked:?}"),
            );
            // The default (1: what a socket left alone does) hands a socket bound to
            // INADDR_ANY every group any socket joined.
            let expected = if multicast_all.unwrap_or(true) {
                Ok("room A".to_string())
            } else {
                Err(Errno::EAGAIN)
            };
            assert_eq!(leaked, expected);
        });
}

/// Runs `ip` with `args` in the test's namespace; skips the test, naming what failed, when the
/// kernel refuses (a missing veth driver, say).
fn ip(args: &[&str]) {
    let out = tools::finish(
        tools::spawn("ip", args),
        &format!("ip {}", args.join(" ")),
        STEP,
        || {},
    );
    if !out.status.success() {
        harness::skip(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
}

#[test]
fn multicast_on_lo_needs_ip_multicast_if_or_a_route() {
    claim("udp.multicast.loopback-needs-multicast-if")
        .in_netns()
        .run(|ctx| {
            let group = Ipv4Addr::new(239, 1, 1, 3);
            let joined = member(group, 0, Some(true));
            let to = SocketAddrV4::new(group, peers::local(&joined).port());
            let unnamed = peers::socket(V4.domain(), Type::DGRAM)
                .join_multicast_v4(&group, &Ipv4Addr::UNSPECIFIED)
                .map_err(errno);
            ctx.observe("IP_ADD_MEMBERSHIP_on_INADDR_ANY", format!("{unnamed:?}"));
            assert_eq!(unnamed, Err(Errno::ENODEV), "no route names an interface");
            let plain = peers::socket(V4.domain(), Type::DGRAM);
            let without = plain.send_to(b"no route", &to.into()).map_err(errno);
            ctx.observe(
                "send_without_IP_MULTICAST_IF_or_route",
                format!("{without:?}"),
            );
            assert_eq!(without, Err(Errno::ENETUNREACH), "only lo, no route");
            let with_if = sender_on_lo().send_to(b"via if", &to.into()).map_err(errno);
            ctx.observe(
                "send_with_IP_MULTICAST_IF_127.0.0.1",
                format!("{with_if:?}"),
            );
            assert_eq!(with_if, Ok(6));
            assert_eq!(
                peers::datagram(&joined, 64)
                    .expect("the member receives")
                    .data,
                b"via if"
            );
            ip(&["route", "add", "224.0.0.0/4", "dev", "lo"]);
            let routed = plain.send_to(b"routed", &to.into()).map_err(errno);
            ctx.observe("send_with_route_224.0.0.0/4_dev_lo", format!("{routed:?}"));
            assert_eq!(routed, Ok(6));
            assert_eq!(
                peers::datagram(&joined, 64)
                    .expect("the member receives")
                    .data,
                b"routed"
            );
        });
}

/// The interface a multicast sender sends through.
#[derive(Clone, Copy, Debug)]
enum Out {
    /// One end of a veth pair made in the test's namespace: a real link.
    Veth,
    Lo,
}

impl Out {
    /// The case label.
    fn case(self) -> &'static str {
        match self {
            Out::Veth => "out a veth link",
            Out::Lo => "out lo",
        }
    }
}

#[rstest]
fn ip_multicast_loop_off_stops_the_own_copy_except_on_lo(
    #[values(Out::Veth, Out::Lo)] out: Out,
    #[values(true, false)] multicast_loop: bool,
) {
    claim("udp.multicast.loop-off-stops-own-copy")
        .case(out.case())
        .case(format!("IP_MULTICAST_LOOP={}", u8::from(multicast_loop)))
        .in_netns()
        .run(move |ctx| {
            let group = Ipv4Addr::new(239, 1, 1, 4);
            // 198.18.0.0/15 (benchmarking) addresses, known only inside this namespace.
            let (here, there) = (Ipv4Addr::new(198, 18, 0, 1), Ipv4Addr::new(198, 18, 0, 2));
            let iface = match out {
                Out::Lo => Ipv4Addr::LOCALHOST,
                Out::Veth => {
                    ip(&[
                        "link", "add", "name", "mc0", "type", "veth", "peer", "name", "mc1",
                    ]);
                    ip(&["addr", "add", "198.18.0.1/24", "dev", "mc0"]);
                    ip(&["addr", "add", "198.18.0.2/24", "dev", "mc1"]);
                    ip(&["link", "set", "mc0", "up"]);
                    ip(&["link", "set", "mc1", "up"]);
                    // Both ends are in this namespace, so mc1 receives from a local source
                    // address, which it drops as martian unless told to accept it.
                    ctx.netns()
                        .write_sysctl("net.ipv4.conf.mc1.accept_local", "1");
                    here
                }
            };
            // IP_MULTICAST_ALL off: each member hears only its group on its interface.
            let own = member_on(iface, group, 0, Some(false));
            let port = peers::local(&own).port();
            let across =
                matches!(out, Out::Veth).then(|| member_on(there, group, port, Some(false)));
            let sender = peers::socket(V4.domain(), Type::DGRAM);
            sender.set_multicast_if_v4(&iface).expect("IP_MULTICAST_IF");
            sender
                .set_multicast_loop_v4(multicast_loop)
                .expect("IP_MULTICAST_LOOP");
            let send = || {
                sender
                    .send_to(b"mc", &SocketAddrV4::new(group, port).into())
                    .expect("send to the group");
            };
            match &across {
                None => send(),
                Some(across) => {
                    // A new link drops what it is given until the kernel activates its queue
                    // (link watch, up to a second after it comes up): send until one crosses.
                    let mut sends = 0;
                    wait::until(STEP, "a datagram across the new veth link", || {
                        send();
                        sends += 1;
                        (wait::poll_readable(across.as_fd(), Duration::from_millis(50))
                            && peers::datagram(across, 64).is_ok_and(|d| d.data == b"mc"))
                        .then_some(())
                    });
                    ctx.observe("sends_until_one_crossed_the_link", sends);
                }
            }
            let own_copies = (0..)
                .take_while(|_| {
                    wait::poll_readable(own.as_fd(), Duration::from_millis(100))
                        && peers::datagram(&own, 64).is_ok()
                })
                .count();
            ctx.observe(
                &format!("own_host_copies_{out:?}_IP_MULTICAST_LOOP_{multicast_loop}"),
                own_copies,
            );
            match (out, multicast_loop) {
                (Out::Veth, false) => {
                    assert_eq!(own_copies, 0, "loop off: no copy for the own host")
                }
                _ => assert!(own_copies >= 1, "the own host's member gets a copy"),
            }
        });
}

/// The Internet checksum (RFC 1071) of `data`.
fn internet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An ICMP echo request (type 8, code 0) with its checksum.
fn echo_request(id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut pkt = vec![8, 0, 0, 0];
    pkt.extend(id.to_be_bytes());
    pkt.extend(seq.to_be_bytes());
    pkt.extend(payload);
    let sum = internet_checksum(&pkt);
    pkt[2..4].copy_from_slice(&sum.to_be_bytes());
    pkt
}

fn loopback_v4() -> socket2::SockAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into()
}

#[test]
fn raw_and_packet_sockets_need_cap_net_raw() {
    claim("udp.raw.needs-cap-net-raw").run(|ctx| {
        let all = i32::from((libc::ETH_P_ALL as u16).to_be());
        for (name, domain, protocol) in [
            (
                "AF_INET SOCK_RAW IPPROTO_ICMP",
                Domain::IPV4,
                Protocol::ICMPV4,
            ),
            ("AF_PACKET SOCK_RAW ETH_P_ALL", Domain::PACKET, all.into()),
        ] {
            let got = as_unprivileged(name, STEP, move || {
                Socket::new(domain, Type::RAW, Some(protocol))
                    .map(|_| 0)
                    .map_err(errno)
            })
            .unwrap_or_else(|e| panic!("{e}"));
            ctx.observe(&format!("{name} without CAP_NET_RAW"), format!("{got:?}"));
            assert_eq!(got, Err(Errno::EPERM), "{name}");
        }
    });
}

#[test]
fn a_raw_icmp_socket_pings_loopback_and_sees_the_ip_header() {
    claim("udp.raw.icmp-ping")
        .in_netns()
        .needs(Cap::NetRaw)
        .run(|ctx| {
            let sock = peers::bounded(
                Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)).expect("raw ICMP"),
            );
            let id = 0x5c1a;
            sock.send_to(&echo_request(id, 1, b"ping"), &loopback_v4())
                .expect("send the echo request");
            let mut types = Vec::new();
            let reply = wait::until(STEP, "the echo reply", || {
                let pkt = peers::datagram(&sock, 2048).ok()?.data;
                let icmp = pkt.get(usize::from(pkt[0] & 0x0f) * 4..)?;
                types.push(icmp[0]);
                (icmp[0] == 0 && icmp[4..6] == id.to_be_bytes()).then_some(pkt)
            });
            let ihl = usize::from(reply[0] & 0x0f) * 4;
            ctx.observe("icmp_types_received", &types);
            ctx.observe("reply_bytes", reply.len());
            ctx.observe("ip_header_bytes", ihl);
            assert_eq!(reply[0] >> 4, 4, "the packet starts with the IPv4 header");
            assert_eq!(reply[9], 1, "protocol ICMP");
            assert_eq!(&reply[ihl + 8..], b"ping", "the payload comes back");
            assert_eq!(
                internet_checksum(&reply[ihl..]),
                0,
                "the reply's checksum is valid"
            );
        });
}

#[test]
fn ping_sockets_need_no_privilege_inside_ping_group_range() {
    claim("udp.raw.unprivileged-ping-socket")
        .in_netns()
        .run(|ctx| {
            let ns = ctx.netns();
            let ping_socket =
                || Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::ICMPV4)).map_err(errno);
            // A new namespace starts with the kernel's default "1 0": an empty range.
            let default = harness::sysctl::sysctl("net.ipv4.ping_group_range")
                .expect("read ping_group_range");
            ctx.observe("ping_group_range_default", &default);
            let denied = as_unprivileged("ping socket, default range", STEP, move || {
                ping_socket().map(|_| 0)
            })
            .unwrap_or_else(|e| panic!("{e}"));
            ctx.observe("ping_socket_in_default_range", format!("{denied:?}"));
            assert_eq!(denied, Err(Errno::EACCES));
            // The unprivileged child's gid, as this namespace sees it (65534 under real root,
            // the mapped gid 0 in a user namespace): the range then holds exactly it.
            let gid = as_unprivileged("the unprivileged gid", STEP, || {
                Ok(i64::from(nix::unistd::getgid().as_raw()))
            })
            .unwrap_or_else(|e| panic!("{e}"))
            .expect("getgid");
            ns.write_sysctl("net.ipv4.ping_group_range", &format!("{gid} {gid}"));
            ctx.observe("ping_group_range_set", format!("{gid} {gid}"));
            let reply = as_unprivileged("ping as an unprivileged user", STEP, move || {
                let sock = ping_socket()?;
                sock.set_read_timeout(Some(STEP)).map_err(errno)?;
                sock.send_to(&echo_request(0, 1, b"ping"), &loopback_v4())
                    .map_err(errno)?;
                let reply = peers::datagram(&sock, 2048)?.data;
                let first = reply.first().copied().unwrap_or_default();
                Ok(i64::from(first) << 32 | reply.len() as i64)
            })
            .unwrap_or_else(|e| panic!("{e}"));
            let (first_byte, len) = reply
                .map(|v| (v >> 32, v & 0xffff_ffff))
                .unwrap_or_default();
            ctx.observe("ping_socket_in_range", format!("{reply:?}"));
            ctx.observe("reply_first_byte", first_byte);
            ctx.observe("reply_bytes", len);
            assert!(reply.is_ok(), "the unprivileged ping failed: {reply:?}");
            assert_eq!(
                (first_byte, len),
                (0, 12),
                "an echo reply (type 0) of 8 + 4 bytes, without the IP header"
            );
        });
}

/// The destination port of an IPv4 UDP packet, if it is one.
fn udp_dst_port(pkt: &[u8]) -> Option<u16> {
    let ihl = usize::from(pkt.first()? & 0x0f) * 4;
    (pkt[0] >> 4 == 4 && pkt.get(9) == Some(&17)).then(|| {
        pkt.get(ihl + 2..ihl + 4)
            .map(|p| u16::from_be_bytes([p[0], p[1]]))
    })?
}

#[test]
fn only_a_packet_socket_sees_both_directions_and_every_protocol() {
    claim("udp.raw.sniffer-needs-packet-socket")
        .and("udp.scenario.raw-capture-and-analysis")
        .and("udp.table.raw-use-cases")
        .in_netns()
        .needs(Cap::NetRaw)
        .run(|ctx| {
            let sniffer = peers::sniffer();
            let raw_udp = peers::bounded(
                Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::UDP)).expect("raw UDP"),
            );
            let (rx, to) = bound(V4);
            peers::socket(V4.domain(), Type::DGRAM)
                .send_to(b"sniff me", &to.into())
                .expect("send the datagram");
            assert_eq!(
                peers::datagram(&rx, 64).expect("the receiver gets it").data,
                b"sniff me"
            );
            let pair = SocketKind::tcp(V4).pair();
            peers::write_all(&pair.client, b"tcp", "some TCP traffic");
            let (mut udp_out, mut udp_in, mut tcp) = (false, false, false);
            let mut captured = Vec::new();
            peers::capture(
                &sniffer,
                "both copies of the datagram and a TCP segment",
                |c| {
                    let way = if c.outgoing { "outgoing" } else { "received" };
                    captured.push(format!("{way} protocol {:?}", c.packet.get(9)));
                    if udp_dst_port(&c.packet) == Some(to.port()) {
                        *if c.outgoing {
                            &mut udp_out
                        } else {
                            &mut udp_in
                        } = true;
                    }
                    tcp |= c.packet.get(9) == Some(&6);
                    (udp_out && udp_in && tcp).then_some(())
                },
            );
            ctx.observe("packet_socket_captured", &captured);
            raw_udp.set_nonblocking(true).expect("nonblocking");
            let mut seen = Vec::new();
            while let Ok(pkt) = peers::datagram(&raw_udp, 2048).map(|m| m.data) {
                seen.push((pkt[9], udp_dst_port(&pkt)));
            }
            ctx.observe("raw_udp_socket_saw_protocol_and_port", format!("{seen:?}"));
            assert_eq!(
                seen,
                [(17, Some(to.port()))],
                "the raw UDP socket sees the datagram once, and no TCP"
            );
        });
}

/// The ICMP type and identifier of an IPv4 ICMP echo packet to or from `peer`, if it is one.
fn icmp_echo(pkt: &[u8], peer: Ipv4Addr) -> Option<(u8, u16)> {
    let ihl = usize::from(pkt.first()? & 0x0f) * 4;
    let ends = (pkt.get(12..16)?, pkt.get(16..20)?);
    let involves = ends.0 == peer.octets() || ends.1 == peer.octets();
    let icmp = pkt.get(ihl..ihl + 6)?;
    (pkt[0] >> 4 == 4 && pkt[9] == 1 && involves)
        .then(|| (icmp[0], u16::from_be_bytes([icmp[4], icmp[5]])))
}

#[rstest]
fn a_raw_socket_sees_what_it_sent_only_where_it_comes_back_in(
    #[values(Out::Lo, Out::Veth)] out: Out,
) {
    claim("udp.raw.sniffer-needs-packet-socket")
        .case(out.case())
        .and("udp.scenario.raw-capture-and-analysis")
        .and("udp.table.raw-use-cases")
        .in_netns()
        .needs(Cap::NetRaw)
        .run(move |ctx| {
            let to = match out {
                Out::Lo => Ipv4Addr::LOCALHOST,
                Out::Veth => {
                    ip(&[
                        "link", "add", "name", "rw0", "type", "veth", "peer", "name", "rw1",
                    ]);
                    ip(&["addr", "add", "198.18.1.1/24", "dev", "rw0"]);
                    ip(&["link", "set", "rw0", "up"]);
                    ip(&["link", "set", "rw1", "up"]);
                    // A neighbour no host is: the request leaves through rw0, nothing answers.
                    let mac = "02:00:00:00:00:09";
                    ip(&["neigh", "add", "198.18.1.9", "lladdr", mac, "dev", "rw0"]);
                    Ipv4Addr::new(198, 18, 1, 9)
                }
            };
            let sniffer = peers::sniffer();
            sniffer.set_nonblocking(true).expect("O_NONBLOCK");
            let raw = peers::bounded(
                Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)).expect("raw ICMP"),
            );
            let id = 0x5c1b;
            let dest: socket2::SockAddr = SocketAddr::from((to, 0)).into();
            // A new link drops what it is given until the kernel activates its queue: send
            // until the packet socket sees the request go out.
            let mut sends = 0u16;
            wait::until(STEP, "the echo request to go out", || {
                sends += 1;
                raw.send_to(&echo_request(id, sends, b"own"), &dest)
                    .expect("send the echo request");
                wait::poll_readable(sniffer.as_fd(), Duration::from_millis(50));
                let mut sent = false;
                while let Ok(got) = peers::recv_msg(&sniffer, 65536, MsgFlags::empty()) {
                    let ll = got.from.as_ref().and_then(|a| a.as_link_addr());
                    let outgoing = ll.is_some_and(|l| l.pkttype() == libc::PACKET_OUTGOING);
                    sent |= outgoing && icmp_echo(&got.data, to) == Some((8, id));
                }
                sent.then_some(())
            });
            ctx.observe("sends_until_the_request_went_out", sends);
            // Everything the raw socket gets within a while: what came in on the interface.
            raw.set_nonblocking(true).expect("O_NONBLOCK");
            let mut types = Vec::new();
            while wait::poll_readable(raw.as_fd(), Duration::from_millis(200)) {
                let Ok(got) = peers::datagram(&raw, 2048) else {
                    break;
                };
                if let Some((ty, pkt_id)) = icmp_echo(&got.data, to) {
                    if pkt_id == id {
                        types.push(ty);
                    }
                }
            }
            ctx.observe(&format!("raw_icmp_socket_got_types_{out:?}"), &types);
            match out {
                // lo hands every sent packet back as received: the own request, then the reply.
                Out::Lo => assert!(
                    types.contains(&8) && types.contains(&0),
                    "on lo the raw socket sees its own request (8) and the reply (0): {types:?}"
                ),
                // Out through a real link: no copy of the sent packet, and no one replies.
                Out::Veth => assert!(
                    types.is_empty(),
                    "the raw socket gets no copy of what it sent out rw0: {types:?}"
                ),
            }
        });
}

#[test]
fn ip_hdrincl_sends_a_header_the_program_wrote() {
    claim("udp.table.raw-direct-control")
        .in_netns()
        .needs(Cap::NetRaw)
        .run(|ctx| {
            let sniffer = peers::sniffer();
            let (rx, to) = bound(V4);
            let (_src_holder, from) = bound(V4);
            // IPPROTO_RAW implies IP_HDRINCL: the program writes the IP header itself.
            let raw = peers::bounded(
                Socket::new(Domain::IPV4, Type::RAW, Some(libc::IPPROTO_RAW.into()))
                    .expect("IPPROTO_RAW socket"),
            );
            let payload = b"hand-made";
            let udp_len = (8 + payload.len()) as u16;
            let mut pkt = vec![
                0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
            ];
            pkt.extend(from.port().to_be_bytes());
            pkt.extend(to.port().to_be_bytes());
            pkt.extend(udp_len.to_be_bytes());
            pkt.extend([0, 0]); // no UDP checksum (allowed over IPv4)
            pkt.extend(payload);
            raw.send_to(&pkt, &loopback_v4())
                .expect("send the hand-made packet");
            let got = peers::datagram(&rx, 64)
                .expect("the UDP socket receives it")
                .data;
            assert_eq!(got, payload);
            let sent = peers::capture(&sniffer, "the hand-made packet on lo", |c| {
                (c.outgoing && udp_dst_port(&c.packet) == Some(to.port())).then(|| c.packet.clone())
            });
            let total = u16::from_be_bytes([sent[2], sent[3]]);
            ctx.observe("total_length_written_0_sent", total);
            ctx.observe(
                "header_checksum_written_0_sent",
                format!("{:#06x}", u16::from_be_bytes([sent[10], sent[11]])),
            );
            ctx.observe("id_written_0_sent", u16::from_be_bytes([sent[4], sent[5]]));
            assert_eq!(
                usize::from(total),
                pkt.len(),
                "the kernel fills the total length"
            );
            assert_eq!(
                internet_checksum(&sent[..20]),
                0,
                "the kernel fills the header checksum"
            );
            assert_eq!(sent[8], 64, "the TTL is the program's");
        });
}

/// `tc qdisc replace dev lo root netem ARGS` in the test's namespace; skips where this kernel
/// has no netem (a module Debian builds, that this machine may not have loaded).
fn netem(ns: &Netns, args: &[&str]) {
    let mut all = vec!["qdisc", "replace", "dev", "lo", "root", "netem"];
    all.extend(args);
    let out = tools::finish(
        ns.spawn("tc", &all),
        "tc qdisc replace … netem",
        STEP,
        || {},
    );
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if err.contains("unknown") {
            harness::skip(format!("no netem qdisc in this kernel: {err}"));
        }
        panic!("tc {}: {err}", all.join(" "));
    }
}

#[test]
fn a_lost_datagram_does_not_hold_back_the_next() {
    claim("udp.realtime.no-head-of-line-blocking")
        .in_netns()
        .run(|ctx| {
            netem(ctx.netns(), &["loss", "30%"]);
            let pair = SocketKind::udp(V4).pair();
            const N: u32 = 200;
            for seq in 0..N {
                pair.client
                    .send(&seq.to_be_bytes())
                    .expect("every send succeeds, lost or not");
            }
            let mut got = Vec::new();
            while wait::poll_readable(pair.server.as_fd(), Duration::from_millis(100)) {
                let d = peers::datagram(&pair.server, 16).expect("recv").data;
                got.push(u32::from_be_bytes(d.try_into().expect("a sequence number")));
            }
            let first_gap = (0..N).find(|s| !got.contains(s));
            let after_gap = first_gap.map_or(0, |g| got.iter().filter(|s| **s > g).count());
            ctx.observe("received", got.len());
            ctx.observe("first_lost", first_gap);
            ctx.observe("received_after_the_first_loss", after_gap);
            // With 30% loss, 200 datagrams all arriving has probability 0.7^200.
            assert!(first_gap.is_some(), "netem lost nothing");
            assert!(
                got.windows(2).all(|w| w[0] < w[1]),
                "in order, no duplicates"
            );
            assert!(
                after_gap > 0,
                "later datagrams arrived without waiting for the lost one"
            );
        });
}

/// The raw row's 속도 높음, short: a raw IP socket takes the kernel's ordinary IP path, so its
/// round trip is about UDP's (neither a step of the course's scale, 1.5×, shorter nor longer)
/// and, like UDP's, shorter than TCP's. Raw sockets need CAP_NET_RAW, which the test has in a
/// private network namespace of its own.
#[test]
fn raw_round_trips_are_about_udps_and_shorter_than_tcps() {
    use harness::bench::{self, measure::Transport, verdicts};
    claim("udp.table.raw-speed-high")
        .alone()
        .and("tcp.table.tcp-speed-medium")
        .in_netns()
        .needs(Cap::NetRaw)
        .needs_native_speed()
        .limit(Duration::from_secs(8))
        .run(|ctx| {
            let ratio = bench::measure::compare_round_trips(Transport::UdpV4, Transport::RawV4);
            bench::require_between(
                ctx,
                "udp_over_raw_round_trip",
                ratio,
                1.0 / verdicts::ONE_STEP,
                verdicts::ONE_STEP,
            );
            let ratio = bench::measure::compare_round_trips(Transport::RawV4, Transport::TcpV4);
            bench::require(ctx, "raw_over_tcp_round_trip", ratio, verdicts::FASTER);
        });
}

/// What "지연 5ms" can mean on one machine: the kernel's part of a UDP datagram's latency,
/// a loopback round trip, against 5 ms. The rest of 5 ms is the network path's, which one
/// machine cannot measure (a netem delay would only measure itself).
#[test]
fn loopback_udp_round_trips_fit_many_times_in_5ms() {
    use harness::bench::{self, measure, verdicts};
    claim("udp.realtime.position-updates-5ms")
        .alone()
        .needs_native_speed()
        .run(|ctx| {
            let udp = measure::short_round_trips(measure::Transport::UdpV4);
            ctx.observe(
                "udp_v4_round_trip_round_medians_us",
                udp.iter()
                    .map(|us| (us * 100.0).round() / 100.0)
                    .collect::<Vec<_>>(),
            );
            let budget = vec![verdicts::FIVE_MS_US; udp.len()];
            let ratio = bench::stats::Ratio::paired(&budget, &udp);
            bench::require(ctx, "round_trips_per_5ms", ratio, verdicts::BUDGET_5MS);
        });
}
