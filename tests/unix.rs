//! Section 07-12, second half, and the overview's Unix-socket claims: local-only IPC, socket
//! files and abstract names, the path limit, reliable datagrams, socketpair, seqpacket, peer
//! credentials, Unix sockets against loopback TCP, and passing descriptors with SCM_RIGHTS.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{IoSlice, IoSliceMut, Seek, SeekFrom};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::time::Duration;

use harness::errno;
use harness::fork::fork_child;
use harness::peers::{self, Family, SocketKind, UnixNaming};
use harness::privileges::as_unprivileged;
use harness::wait::STEP;
use harness::{claim, Cap};
use nix::errno::Errno;
use nix::sys::memfd::{memfd_create, MFdFlags};
use nix::sys::socket::{getsockopt, recvmsg, sendmsg, sockopt, ControlMessage, MsgFlags, UnixAddr};
use nix::sys::wait::WaitStatus;
use proptest::prelude::*;
use rstest::rstest;
use socket2::{Domain, SockAddr, Socket, Type};

/// One datagram or record of at most `max` bytes.
fn record(sock: &Socket, max: usize) -> Result<Vec<u8>, Errno> {
    peers::datagram(sock, max).map(|m| m.data)
}

/// A world-traversable temporary directory (the unprivileged child must reach its files).
fn open_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod 755");
    dir
}

fn unix_addr(path: &std::path::Path) -> SockAddr {
    SockAddr::unix(path).expect("a Unix socket address")
}

#[test]
fn unix_traffic_never_reaches_the_network_stack() {
    claim("unix.ipc.local-only")
        .in_netns()
        .needs(Cap::NetRaw)
        .run(|ctx| {
            let sniffer = peers::sniffer();
            let pair = SocketKind::UNIX_STREAM.named(UnixNaming::Path).pair();
            let name = pair.client.peer_addr().expect("getpeername");
            ctx.observe("peer_address_family", format!("{:?}", name.domain()));
            assert_eq!(name.domain(), Domain::UNIX);
            peers::write_all(&pair.client, &[5u8; 4096], "send over the Unix socket");
            peers::read_exact(&pair.server, 4096, "the Unix data");
            // A TCP exchange afterwards proves the sniffer works: it must see that, and only that.
            let tcp = SocketKind::tcp(Family::V4).pair();
            peers::write_all(&tcp.client, b"marker", "send the TCP marker");
            let mut before_marker = 0;
            peers::capture(&sniffer, "the TCP marker", |c| {
                let is_tcp = c.packet.get(9) == Some(&6);
                before_marker += usize::from(!is_tcp);
                // The marker's bytes (a short send may split them): a TCP segment with payload.
                let ihl = usize::from(c.packet[0] & 0x0f) * 4;
                let doff = c
                    .packet
                    .get(ihl + 12)
                    .map_or(0, |b| usize::from(b >> 4) * 4);
                (is_tcp && c.packet.len() > ihl + doff).then_some(())
            });
            ctx.observe("non_tcp_packets_captured", before_marker);
            assert_eq!(
                before_marker, 0,
                "4096 bytes over a Unix socket put no packet on lo"
            );
        });
}

#[test]
fn a_path_socket_is_a_file_that_outlives_it() {
    claim("unix.ipc.path-socket-file").run(|ctx| {
        let dir = open_dir();
        let path = dir.path().join("server.sock");
        let server = peers::socket(Domain::UNIX, Type::STREAM);
        server.bind(&unix_addr(&path)).expect("bind the path");
        server.listen(1).expect("listen");
        let meta = fs::metadata(&path).expect("stat the socket file");
        ctx.observe("file_type_is_socket", meta.file_type().is_socket());
        assert!(meta.file_type().is_socket(), "S_IFSOCK");
        drop(server);
        assert!(path.exists(), "the file outlives the socket");
        let again = peers::socket(Domain::UNIX, Type::STREAM);
        let rebind = again.bind(&unix_addr(&path)).map_err(errno);
        ctx.observe("bind_again_before_unlink", format!("{rebind:?}"));
        assert_eq!(rebind, Err(Errno::EADDRINUSE));
        fs::remove_file(&path).expect("unlink");
        again.bind(&unix_addr(&path)).expect("bind after unlink");
        again.listen(1).expect("listen");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o555)).expect("chmod a-w");
        let target = path.clone();
        let denied = as_unprivileged("connect without write permission", STEP, move || {
            let sock = Socket::new(Domain::UNIX, Type::STREAM, None).map_err(errno)?;
            sock.connect(&unix_addr(&target)).map(|()| 0).map_err(errno)
        })
        .unwrap_or_else(|e| panic!("{e}"));
        ctx.observe("connect_to_mode_0555_unprivileged", format!("{denied:?}"));
        assert_eq!(denied, Err(Errno::EACCES));
    });
}

#[test]
fn an_abstract_name_has_no_file_and_lives_in_the_network_namespace() {
    claim("unix.ipc.abstract-namespace").run(|ctx| {
        let name = format!("\0socket-claims-abstract-{}", std::process::id());
        let addr = SockAddr::unix(OsStr::from_bytes(name.as_bytes())).expect("abstract address");
        let server = peers::socket(Domain::UNIX, Type::STREAM);
        server.bind(&addr).expect("bind the abstract name");
        server.listen(4).expect("listen");
        let shown = server.local_addr().expect("getsockname");
        ctx.observe("getsockname_len", shown.len());
        peers::socket(Domain::UNIX, Type::STREAM)
            .connect(&addr)
            .expect("connect by the abstract name");
        // Another network namespace does not see the name (a forked child unshares its own).
        let elsewhere = fork_child("connect from another network namespace", &[], || {
            let flags = nix::sched::CloneFlags::CLONE_NEWNET;
            if nix::sched::unshare(flags).is_err()
                && nix::sched::unshare(flags | nix::sched::CloneFlags::CLONE_NEWUSER).is_err()
            {
                return 3;
            }
            let Ok(sock) = Socket::new(Domain::UNIX, Type::STREAM, None) else {
                return 4;
            };
            match sock.connect(&addr).map_err(errno) {
                Err(Errno::ECONNREFUSED) => 0,
                Ok(()) => 1,
                Err(_) => 2,
            }
        })
        .wait(STEP);
        ctx.observe("child_in_new_netns_exit", format!("{elsewhere:?}"));
        if matches!(elsewhere, WaitStatus::Exited(_, 3)) {
            harness::skip("no private network namespace for the child (unshare refused)");
        }
        assert!(
            matches!(elsewhere, WaitStatus::Exited(_, 0)),
            "another namespace must get ECONNREFUSED: {elsewhere:?}"
        );
        drop(server);
        // Another test's forked child may hold a copy of the listener for a moment (fork copies
        // every descriptor), so the name's release is awaited, bounded.
        let name_addr = || SockAddr::unix(OsStr::from_bytes(name.as_bytes())).expect("address");
        let gone = harness::wait::until(STEP, "the abstract name to go with its socket", || {
            let got = peers::socket(Domain::UNIX, Type::STREAM)
                .connect(&name_addr())
                .map_err(errno);
            got.is_err().then_some(got)
        });
        ctx.observe("connect_after_close", format!("{gone:?}"));
        assert_eq!(
            gone,
            Err(Errno::ECONNREFUSED),
            "the name went with its socket"
        );
        peers::socket(Domain::UNIX, Type::STREAM)
            .bind(&name_addr())
            .expect("the name is free again, no unlink needed");
    });
}

/// A sockaddr_un of `path_len` path bytes (no terminating NUL), length field included.
fn long_unix_addr(dir: &std::path::Path, path_len: usize) -> (std::path::PathBuf, SockAddr) {
    let prefix = dir.as_os_str().as_bytes().len() + 1;
    let name = "s".repeat(path_len - prefix);
    let path = dir.join(name);
    let bytes = path.as_os_str().as_bytes();
    assert_eq!(bytes.len(), path_len);
    // SAFETY: the closure fills a zeroed sockaddr_storage as a sockaddr_un; the length given
    // covers the family and `path_len` bytes of path, possibly past sun_path's 108.
    let ((), addr) = unsafe {
        SockAddr::try_init(|storage, len| {
            let raw = storage.cast::<u8>();
            let family = (libc::AF_UNIX as libc::sa_family_t).to_ne_bytes();
            std::ptr::copy_nonoverlapping(family.as_ptr(), raw, family.len());
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), raw.add(2), bytes.len());
            *len = (2 + path_len) as libc::socklen_t;
            Ok(())
        })
    }
    .expect("build the address");
    (path, addr)
}

#[test]
fn sun_path_holds_108_bytes() {
    claim("unix.ipc.sun-path-limit").run(|ctx| {
        let dir = tempfile::tempdir().expect("temporary directory");
        let (path, fits) = long_unix_addr(dir.path(), 108);
        let sock = peers::socket(Domain::UNIX, Type::STREAM);
        let at_108 = sock.bind(&fits).map_err(errno);
        ctx.observe("bind_108_byte_path", format!("{at_108:?}"));
        assert_eq!(at_108, Ok(()));
        assert!(path.exists(), "the 108-byte path was created whole");
        let (_, over) = long_unix_addr(dir.path(), 109);
        let at_109 = peers::socket(Domain::UNIX, Type::STREAM)
            .bind(&over)
            .map_err(errno);
        ctx.observe("bind_109_byte_path", format!("{at_109:?}"));
        assert_eq!(at_109, Err(Errno::EINVAL));
    });
}

#[test]
fn unix_datagrams_block_instead_of_dropping() {
    claim("unix.table.reliable-and-types").run(|ctx| {
        let pair = SocketKind::UNIX_DGRAM.pair();
        pair.client
            .set_nonblocking(true)
            .expect("nonblocking sender");
        let mut sent: u32 = 0;
        let full = loop {
            match pair.client.send(&sent.to_be_bytes()).map_err(errno) {
                Ok(_) => sent += 1,
                Err(e) => break e,
            }
            assert!(sent < 1_000_000, "the receiver's queue never filled");
        };
        ctx.observe("datagrams_queued_before_the_sender_was_told", sent);
        ctx.observe("when_full", format!("{full:?}"));
        assert_eq!(full, Errno::EAGAIN, "a full queue stops the sender");
        for n in 0..sent {
            let got = record(&pair.server, 16).expect("every queued datagram");
            assert_eq!(got, n.to_be_bytes(), "in order, none lost");
        }
        pair.client
            .send(b"room again")
            .expect("the sender may go on once drained");
    });
}

#[test]
fn datagrams_queued_for_a_receiver_that_closes_are_discarded() {
    claim("unix.table.reliable-and-types").run(|ctx| {
        let dir = open_dir();
        let path = dir.path().join("receiver");
        let bind = || {
            let sock = peers::socket(Domain::UNIX, Type::DGRAM);
            sock.bind(&unix_addr(&path))
                .expect("bind the receiver's path");
            sock
        };
        let receiver = bind();
        let sender = peers::socket(Domain::UNIX, Type::DGRAM);
        for n in 0u8..3 {
            let sent = sender.send_to(&[n], &unix_addr(&path)).map_err(errno);
            assert_eq!(sent, Ok(1), "datagram {n} is accepted");
        }
        ctx.observe("datagrams_sent_and_queued", 3);
        drop(receiver);
        let after = sender.send_to(b"x", &unix_addr(&path)).map_err(errno);
        ctx.observe("send_after_the_receiver_closed", format!("{after:?}"));
        assert_eq!(
            after,
            Err(Errno::ECONNREFUSED),
            "nobody receives at the path"
        );
        // A new receiver at the same path: the three queued datagrams are gone.
        fs::remove_file(&path).expect("unlink the old socket file");
        let receiver = bind();
        receiver.set_nonblocking(true).expect("O_NONBLOCK");
        let got = record(&receiver, 16);
        ctx.observe("new_receiver_at_the_path_reads", format!("{got:?}"));
        assert_eq!(
            got,
            Err(Errno::EAGAIN),
            "the queued datagrams were discarded"
        );
    });
}

/// The short version of the bench's Unix-vs-TCP comparison, between two threads on one CPU:
/// shorter round trips, the one bound the fact states for every method. How many times shorter
/// depends on the method (the course's 매우높음), which needs `cargo claims bench`.
#[test]
fn unix_stream_round_trips_beat_loopback_tcp() {
    use harness::bench::{self, measure::Transport, verdicts};
    claim("unix.table.faster-than-loopback-tcp")
        .alone()
        .and("tcp.table.tcp-speed-medium")
        .needs_native_speed()
        .run(|ctx| {
            let ratio =
                bench::measure::compare_round_trips(Transport::UnixStream, Transport::TcpV4);
            bench::require(
                ctx,
                "unix_stream_over_tcp_v4_round_trip",
                ratio,
                verdicts::FASTER,
            );
        });
}

#[rstest]
fn socketpair_gives_a_connected_pair_a_child_can_share(
    #[values(
        SocketKind::UNIX_STREAM,
        SocketKind::UNIX_DGRAM,
        SocketKind::UNIX_SEQPACKET
    )]
    kind: SocketKind,
) {
    claim("unix.socketpair.connected-pair")
        .kind(kind)
        .run(move |ctx| {
            let pair = kind.pair();
            let peer = pair
                .client
                .peer_addr()
                .expect("getpeername on a socketpair end");
            ctx.observe("peer_is_unnamed", peer.is_unnamed());
            let child = fork_child("the child end of the pair", &[pair.server.as_fd()], || {
                peers::write_all(&pair.server, b"from the child", "the child's send");
                0
            })
            .wait(STEP);
            assert!(matches!(child, WaitStatus::Exited(_, 0)), "{child:?}");
            assert_eq!(
                peers::read_exact(&pair.client, 14, "what the child sent"),
                b"from the child"
            );
            let inet = Socket::pair(Domain::IPV4, Type::STREAM, None)
                .map(|_| ())
                .map_err(errno);
            ctx.observe("socketpair_AF_INET", format!("{inet:?}"));
            assert_eq!(inet, Err(Errno::EOPNOTSUPP));
        });
}

#[test]
fn seqpacket_keeps_boundaries_on_a_connection() {
    claim("unix.seqpacket.boundaries-and-connection").run(|ctx| {
        let pair = SocketKind::UNIX_SEQPACKET.named(UnixNaming::Path).pair();
        for m in [&b"one"[..], b"two!", &[7u8; 100]] {
            pair.client.send(m).expect("send");
        }
        let (first, second) = (record(&pair.server, 64), record(&pair.server, 64));
        let short = peers::datagram(&pair.server, 10).expect("recv into 10 bytes");
        let (n, truncated) = (short.data.len(), short.truncated);
        ctx.observe(
            "reads",
            format!("{first:?} {second:?}, then {n} bytes truncated={truncated}"),
        );
        assert_eq!(first, Ok(b"one".to_vec()));
        assert_eq!(second, Ok(b"two!".to_vec()));
        assert_eq!((n, truncated), (10, true));
        pair.client.send(b"next").expect("send");
        assert_eq!(
            record(&pair.server, 64),
            Ok(b"next".to_vec()),
            "the rest of 100 is gone"
        );
        drop(pair.client);
        let eof = record(&pair.server, 64);
        ctx.observe("after_peer_close", format!("{eof:?}"));
        assert_eq!(eof, Ok(Vec::new()), "EOF, like a stream");
    });
}

#[test]
fn so_peercred_names_the_connecting_process() {
    claim("unix.credentials.so-peercred").run(|ctx| {
        let dir = open_dir();
        let path = dir.path().join("creds.sock");
        let server = peers::socket(Domain::UNIX, Type::STREAM);
        server.bind(&unix_addr(&path)).expect("bind");
        server.listen(1).expect("listen");
        let target = path.clone();
        let child = fork_child("a client process", &[], move || {
            let Ok(sock) = Socket::new(Domain::UNIX, Type::STREAM, None) else {
                return 2;
            };
            if sock.connect(&unix_addr(&target)).is_err() {
                return 3;
            }
            // Stay connected until the server has looked.
            let _ = sock.set_read_timeout(Some(STEP));
            i32::from(peers::read_some(&sock, 1).is_err())
        });
        let (conn, _) = peers::accept(&server, "the child's connection");
        let cred = getsockopt(&conn.as_fd(), sockopt::PeerCredentials).expect("SO_PEERCRED");
        ctx.observe(
            "peer_pid_uid_gid",
            [cred.pid(), cred.uid() as i32, cred.gid() as i32],
        );
        ctx.observe("child_pid", child.pid().as_raw());
        assert_eq!(
            cred.pid(),
            child.pid().as_raw(),
            "the connecting process, not the server"
        );
        assert_eq!(cred.uid(), nix::unistd::geteuid().as_raw());
        assert_eq!(cred.gid(), nix::unistd::getegid().as_raw());
        conn.send(b"k").expect("release the child");
        assert!(matches!(child.wait(STEP), WaitStatus::Exited(_, 0)));
    });
}

#[test]
fn a_listening_socket_handed_over_keeps_its_port_and_its_queue() {
    claim("options.reuseaddr.zero-downtime-deploy").run(|ctx| {
        let (old, addr) = peers::tcp_listener(Family::V4);
        let early = peers::socket(Domain::IPV4, Type::STREAM);
        early
            .connect(&addr.into())
            .expect("a client while the old server runs");
        let channel = SocketKind::UNIX_STREAM.pair();
        send_fds(&channel.client, &[old.as_raw_fd()]).expect("send the listening socket");
        let (mut fds, _) = recv_fds(&channel.server, 1);
        assert_eq!(fds.len(), 1, "the new server receives one descriptor");
        drop(old); // the old server exits without accepting
        let new = peers::bounded(Socket::from(fds.remove(0)));
        let late = peers::socket(Domain::IPV4, Type::STREAM);
        let connect = late.connect(&addr.into()).map_err(errno);
        ctx.observe(
            "connect_after_the_old_server_closed",
            format!("{connect:?}"),
        );
        assert_eq!(connect, Ok(()), "the port never stopped listening");
        let peers_seen: Vec<_> = (0..2)
            .map(|_| peers::accept(&new, "the new server accepts").1.as_socket())
            .collect();
        ctx.observe("accepted_by_the_new_server", format!("{peers_seen:?}"));
        for client in [&early, &late] {
            assert!(
                peers_seen.contains(&Some(peers::local(client))),
                "{:?} is accepted by the new server",
                peers::local(client)
            );
        }
    });
}

/// Sends `fds` with one byte of data over `sock`.
fn send_fds(sock: &Socket, fds: &[RawFd]) -> Result<usize, Errno> {
    let cmsg = [ControlMessage::ScmRights(fds)];
    sendmsg::<UnixAddr>(
        sock.as_raw_fd(),
        &[IoSlice::new(b"F")],
        &cmsg,
        MsgFlags::empty(),
        None,
    )
}

/// Receives one message with room for `room` descriptors of control data: the descriptors and
/// whether MSG_CTRUNC was set.
fn recv_fds(sock: &Socket, room: usize) -> (Vec<OwnedFd>, bool) {
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    // SAFETY: CMSG_SPACE is a pure size computation.
    let space = unsafe { libc::CMSG_SPACE((room * size_of::<RawFd>()) as u32) } as usize;
    let mut cmsg = vec![0u8; space];
    let flags = recvmsg::<UnixAddr>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .expect("recvmsg")
    .flags;
    (scm_rights(&cmsg), flags.contains(MsgFlags::MSG_CTRUNC))
}

/// The descriptors of an SCM_RIGHTS message at the start of `cmsg`, read by hand: nix refuses
/// to parse a truncated control buffer, and truncation is what one test is about.
fn scm_rights(cmsg: &[u8]) -> Vec<OwnedFd> {
    const HDR: usize = size_of::<libc::cmsghdr>();
    if cmsg.len() < HDR {
        return Vec::new();
    }
    // struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; } on glibc.
    let w = size_of::<usize>();
    let len = usize::from_ne_bytes(cmsg[..w].try_into().expect("cmsg_len"));
    let level = i32::from_ne_bytes(cmsg[w..w + 4].try_into().expect("cmsg_level"));
    let kind = i32::from_ne_bytes(cmsg[w + 4..w + 8].try_into().expect("cmsg_type"));
    if level != libc::SOL_SOCKET || kind != libc::SCM_RIGHTS || len < HDR {
        return Vec::new();
    }
    cmsg[HDR..len.min(cmsg.len())]
        .chunks_exact(size_of::<RawFd>())
        // SAFETY: the kernel installed these descriptors for this process; nothing else owns them.
        .map(|b| unsafe { OwnedFd::from_raw_fd(RawFd::from_ne_bytes(b.try_into().expect("fd"))) })
        .collect()
}

#[test]
fn scm_rights_passes_the_open_file_not_the_number() {
    claim("unix.scm-rights.passes-open-files")
        .limit(Duration::from_secs(10))
        .run(|ctx| {
            // Any set of open files, each at its own offset, arrives as the same open files.
            // The files are in memory (memfd_create(2)): on disk, creating and truncating
            // them is most of the test's time.
            ctx.property(64, prop::collection::vec(0u64..4096, 1..16), |offsets| {
                let pair = SocketKind::UNIX_STREAM.pair();
                let files: Vec<File> = offsets
                    .iter()
                    .map(|&off| {
                        let mut f = File::from(
                            memfd_create("scm-rights", MFdFlags::MFD_CLOEXEC)
                                .expect("memfd_create"),
                        );
                        f.set_len(4096).expect("size the file");
                        f.seek(SeekFrom::Start(off)).expect("seek");
                        f
                    })
                    .collect();
                let raw: Vec<RawFd> = files.iter().map(AsRawFd::as_raw_fd).collect();
                send_fds(&pair.client, &raw)
                    .map_err(|e| TestCaseError::fail(format!("sendmsg: {e}")))?;
                let (got, truncated) = recv_fds(&pair.server, raw.len());
                prop_assert!(!truncated);
                prop_assert_eq!(got.len(), files.len());
                for ((sent, received), &off) in files.iter().zip(&got).zip(&offsets) {
                    let (a, b) = (
                        sent.metadata().expect("stat"),
                        File::from(received.try_clone().expect("dup"))
                            .metadata()
                            .expect("stat"),
                    );
                    prop_assert_eq!((a.dev(), a.ino()), (b.dev(), b.ino()), "the same file");
                    let mut mine = File::from(received.try_clone().expect("dup"));
                    prop_assert_eq!(
                        mine.stream_position().expect("tell"),
                        off,
                        "the sender's offset"
                    );
                    mine.seek(SeekFrom::Start(off / 2))
                        .expect("move the shared offset");
                    let mut theirs = sent.try_clone().expect("dup");
                    prop_assert_eq!(
                        theirs.stream_position().expect("tell"),
                        off / 2,
                        "one shared offset"
                    );
                }
                Ok(())
            });
            let pair = SocketKind::UNIX_STREAM.pair();
            let file = tempfile::tempfile().expect("a file");
            send_fds(&pair.client, &[file.as_raw_fd()]).expect("sendmsg");
            let (got, _) = recv_fds(&pair.server, 1);
            ctx.observe("sent_fd_number", file.as_raw_fd());
            ctx.observe("received_fd_number", got[0].as_raw_fd());
            assert_ne!(
                got[0].as_raw_fd(),
                file.as_raw_fd(),
                "a new descriptor number"
            );
        });
}

#[test]
fn descriptors_that_do_not_fit_the_control_buffer_are_closed() {
    claim("unix.scm-rights.truncated-control").run(|ctx| {
        let pair = SocketKind::UNIX_STREAM.pair();
        // Three pipes; the receiver has room for one descriptor, which CMSG_SPACE pads on
        // x86_64 to room for two: the third cannot fit.
        let pipes: Vec<(OwnedFd, OwnedFd)> = (0..3)
            .map(|_| nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("pipe"))
            .collect();
        let writers: Vec<RawFd> = pipes.iter().map(|(_, w)| w.as_raw_fd()).collect();
        send_fds(&pair.client, &writers).expect("send three write ends");
        let readers: Vec<OwnedFd> = pipes.into_iter().map(|(r, _w)| r).collect();
        let (got, truncated) = recv_fds(&pair.server, 1);
        ctx.observe("received_of_3", got.len());
        ctx.observe("MSG_CTRUNC", truncated);
        assert!(
            truncated && got.len() < 3,
            "MSG_CTRUNC with fewer than three"
        );
        // Each pipe's write end now lives only where the kernel put it: in `got`, or nowhere.
        // A dropped one reads EOF once its last copy is closed; another test's child forked
        // just now may hold a copy until it closes its inherited descriptors, so EOF is
        // awaited (bounded) rather than sampled.
        for (i, reader) in readers.iter().enumerate() {
            nix::fcntl::fcntl(
                reader.as_fd(),
                nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
            )
            .expect("nonblocking");
            let read = || nix::unistd::read(reader, &mut [0u8; 1]);
            let read = if i < got.len() {
                read()
            } else {
                harness::wait::until(STEP, &format!("EOF on dropped pipe {i}"), || {
                    let r = read();
                    (r != Err(Errno::EAGAIN)).then_some(r)
                })
            };
            ctx.observe(&format!("pipe_{i}_read"), format!("{read:?}"));
            let expected = if i < got.len() {
                Err(Errno::EAGAIN)
            } else {
                Ok(0)
            };
            assert_eq!(
                read, expected,
                "pipe {i}: delivered keeps it open, dropped is closed (EOF)"
            );
        }
    });
}

#[test]
fn one_message_carries_at_most_253_descriptors_and_only_over_unix() {
    claim("unix.scm-rights.max-fds").run(|ctx| {
        let pair = SocketKind::UNIX_STREAM.pair();
        let file = tempfile::tempfile().expect("a file");
        let many = vec![file.as_raw_fd(); 254];
        let at_253 = send_fds(&pair.client, &many[..253]).map(|_| ());
        let at_254 = send_fds(&pair.client, &many).map(|_| ());
        ctx.observe("sendmsg_253_fds", format!("{at_253:?}"));
        ctx.observe("sendmsg_254_fds", format!("{at_254:?}"));
        assert_eq!(at_253, Ok(()));
        assert_eq!(at_254, Err(Errno::EINVAL));
        let (got, _) = recv_fds(&pair.server, 253);
        assert_eq!(got.len(), 253);
        // Over UDP the kernel ignores SCM_RIGHTS: the datagram goes, the descriptor does not.
        let udp = SocketKind::udp(Family::V4).pair();
        let over_udp = send_fds(&udp.client, &[file.as_raw_fd()]);
        let (arrived, _) = recv_fds(&udp.server, 1);
        ctx.observe("sendmsg_SCM_RIGHTS_over_UDP", format!("{over_udp:?}"));
        ctx.observe("descriptors_received_over_UDP", arrived.len());
        assert_eq!((over_udp, arrived.len()), (Ok(1), 0));
    });
}

#[rstest]
fn scm_rights_over_tcp_sends_the_data_and_no_descriptor(
    #[values(Family::V4, Family::V6)] family: Family,
) {
    claim("unix.scm-rights.ignored-over-tcp")
        .family(family)
        .run(move |ctx| {
            let pair = SocketKind::tcp(family).pair();
            let file = tempfile::tempfile().expect("a file");
            let sent = send_fds(&pair.client, &[file.as_raw_fd()]);
            ctx.observe("sendmsg_SCM_RIGHTS_over_TCP", format!("{sent:?}"));
            assert_eq!(sent, Ok(1), "accepted: the byte is sent");
            let mut byte = [0u8; 1];
            let mut iov = [IoSliceMut::new(&mut byte)];
            let mut cmsg = nix::cmsg_space!(RawFd);
            let got = recvmsg::<()>(
                pair.server.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_CMSG_CLOEXEC,
            )
            .expect("recvmsg");
            let (bytes, flags) = (got.bytes, got.flags);
            let arrived = got.cmsgs().map(|c| c.count()).unwrap_or(0);
            ctx.observe("bytes_received", bytes);
            ctx.observe("control_messages_received", arrived);
            ctx.observe("MSG_CTRUNC", flags.contains(MsgFlags::MSG_CTRUNC));
            assert_eq!((bytes, byte), (1, *b"F"), "the data arrives");
            assert_eq!(arrived, 0, "no descriptor arrives");
            assert!(
                !flags.contains(MsgFlags::MSG_CTRUNC),
                "nothing was cut off either"
            );
        });
}

#[test]
fn stream_descriptors_travel_with_a_data_byte() {
    claim("unix.scm-rights.needs-data-byte").run(|ctx| {
        let pair = SocketKind::UNIX_STREAM.pair();
        let file = tempfile::tempfile().expect("a file");
        let fds = [file.as_raw_fd()];
        let empty = sendmsg::<UnixAddr>(
            pair.client.as_raw_fd(),
            &[],
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::empty(),
            None,
        );
        ctx.observe("sendmsg_no_data", format!("{empty:?}"));
        pair.server.set_nonblocking(true).expect("nonblocking");
        let nothing = peers::read_some(&pair.server, 1);
        ctx.observe("receiver_after_it", format!("{nothing:?}"));
        assert_eq!(empty, Ok(0), "accepted, but nothing sent");
        assert_eq!(
            nothing,
            Err(Errno::EAGAIN),
            "nothing arrived, descriptor included"
        );
        pair.server.set_nonblocking(false).expect("blocking");
        send_fds(&pair.client, &fds).expect("with one byte");
        let (got, _) = recv_fds(&pair.server, 1);
        assert_eq!(got.len(), 1, "the descriptor rides with the byte");
    });
}
