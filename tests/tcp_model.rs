//! A model-based property test of the TCP socket API: random sequences of socket, bind,
//! listen, connect, accept, send, recv, shutdown, close and O_NONBLOCK changes on a few IPv4
//! loopback sockets run against the kernel and against a small reference model of the
//! documented state machine (socket(7), tcp(7), connect(2), accept(2), recv(2), send(2),
//! shutdown(2)); the model must predict every call's result and errno. A mismatch shrinks to
//! a minimal sequence of calls.
//!
//! The kernel finishes some things asynchronously (a handshake, a RST crossing loopback); where
//! the model says something is on its way, the executor waits (bounded) for it to arrive
//! before the next call, so every run is deterministic. Sequences that would block for good
//! (a blocking connect to a full accept queue) or race (connecting a socket to itself) are not
//! generated into calls: the model skips them.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::net::{Ipv4Addr, Shutdown, SocketAddr};
use std::os::fd::AsFd;
use std::time::Duration;

use harness::claim;
use harness::errno;
use harness::peers;
use harness::wait;
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use proptest::prelude::*;
use rstest::rstest;
use socket2::{Domain, Socket, Type};

/// Slots for sockets; the first `FRESH` start with a new socket, the rest take accepted ones.
const SLOTS: usize = 6;
const FRESH: usize = 4;
/// listen(2) backlog; Linux queues backlog + 1 connections.
const BACKLOG: usize = 2;
/// SO_RCVTIMEO of every socket: how long a blocking recv/accept waits before EAGAIN.
const BLOCKED: Duration = Duration::from_millis(1);
/// The buffer each recv(2) reads into.
const RECV_BUFFER: usize = 65536;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Slot(usize),
    /// A port that is bound but not listening.
    ClosedPort,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Socket(usize),
    Bind(usize),
    Listen(usize),
    Connect(usize, Target),
    Accept(usize),
    Send(usize, usize),
    Recv(usize),
    Shutdown(usize, Shutdown),
    Close(usize),
    SetNonblocking(usize, bool),
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Op::Socket(i) => write!(f, "s{i} = socket(AF_INET, SOCK_STREAM)"),
            Op::Bind(i) => write!(f, "bind(s{i}, 127.0.0.1:0)"),
            Op::Listen(i) => write!(f, "listen(s{i}, {BACKLOG})"),
            Op::Connect(i, Target::Slot(j)) => write!(f, "connect(s{i}, address of s{j})"),
            Op::Connect(i, Target::ClosedPort) => write!(f, "connect(s{i}, a closed port)"),
            Op::Accept(i) => write!(f, "accept(s{i})"),
            Op::Send(i, n) => write!(f, "send(s{i}, {n} bytes, MSG_NOSIGNAL)"),
            Op::Recv(i) => write!(f, "recv(s{i})"),
            Op::Shutdown(i, how) => write!(f, "shutdown(s{i}, {how:?})"),
            Op::Close(i) => write!(f, "close(s{i})"),
            Op::SetNonblocking(i, on) => write!(f, "fcntl(s{i}, O_NONBLOCK={on})"),
        }
    }
}

fn op() -> impl Strategy<Value = Op> {
    let slot = 0..SLOTS;
    let target = prop_oneof![(0..SLOTS).prop_map(Target::Slot), Just(Target::ClosedPort)];
    let how = prop_oneof![
        Just(Shutdown::Read),
        Just(Shutdown::Write),
        Just(Shutdown::Both)
    ];
    prop_oneof![
        2 => slot.clone().prop_map(Op::Socket),
        1 => slot.clone().prop_map(Op::Bind),
        2 => slot.clone().prop_map(Op::Listen),
        3 => (slot.clone(), target).prop_map(|(i, t)| Op::Connect(i, t)),
        2 => slot.clone().prop_map(Op::Accept),
        3 => (slot.clone(), 1usize..512).prop_map(|(i, n)| Op::Send(i, n)),
        3 => slot.clone().prop_map(Op::Recv),
        1 => (slot.clone(), how).prop_map(|(i, h)| Op::Shutdown(i, h)),
        1 => slot.clone().prop_map(Op::Close),
        1 => (slot, any::<bool>()).prop_map(|(i, on)| Op::SetNonblocking(i, on)),
    ]
}

/// One end of a modelled connection.
#[derive(Clone, Debug, Default)]
struct End {
    peer: usize,
    /// Bytes that arrived and are not read yet.
    unread: usize,
    /// The peer's FIN arrived (reads end in EOF).
    fin_in: bool,
    /// This end sent its FIN (flags from a shutdown(2) before connect(2) send none).
    fin_out: bool,
    rd_shut: bool,
    wr_shut: bool,
    /// The descriptor is closed (the kernel may still hold the connection).
    closed: bool,
    /// A RST arrived or was sent: the connection is over (TCP_CLOSE).
    reset: bool,
    /// The error a RST left for the next call to report (SO_ERROR).
    pending: Option<Errno>,
    /// bind(2) was called again after the connection reached TCP_CLOSE.
    rebound: bool,
}

impl End {
    /// Both FINs exchanged: the kernel moves the socket to TCP_CLOSE (via TIME_WAIT/LAST_ACK).
    fn finished(&self) -> bool {
        self.reset || (self.fin_out && self.fin_in)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Slot {
    Empty,
    /// Not connected. `shut` holds the shutdown(2) flags: the kernel records them even while
    /// it answers ENOTCONN.
    Fresh {
        bound: Bound,
        shut: (bool, bool),
    },
    /// `shut`: flags left by a shutdown(2) before listen(2); new connections inherit them.
    Listening {
        queue: VecDeque<usize>,
        shut: (bool, bool),
    },
    Connected {
        end: usize,
        report_pending: bool,
    },
    /// A nonblocking connect failed. Until a call reports the error it waits in SO_ERROR;
    /// after that the socket is still "connecting" for the socket layer until connect(2) is
    /// called again.
    Refused {
        reported: bool,
    },
}

/// Whether a not-connected socket has a local port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bound {
    No,
    Yes,
    /// It was disconnected: the kernel may or may not have kept a port, and the man pages
    /// leave the socket's state open.
    Unspecified(Disconnected),
}

/// How a socket became disconnected where no man page says what state that leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Disconnected {
    /// connect(2) failed: "consider the state of the socket as unspecified" (connect(2)).
    FailedConnect,
    /// shutdown(SHUT_RD) stopped a listener, a Linux particular.
    ListenerShutdown,
}

impl Disconnected {
    fn describe(self) -> &'static str {
        match self {
            Disconnected::FailedConnect => "after a failed connect",
            Disconnected::ListenerShutdown => "after shutdown(SHUT_RD) stopped a listener",
        }
    }
}

#[derive(Clone, Debug)]
struct Model {
    slots: Vec<Slot>,
    nonblocking: Vec<bool>,
    ends: Vec<End>,
    /// Which local address each slot's socket has (an accepted socket has its listener's),
    /// as an identity: connect(2) to it reaches whatever listens there.
    addr: Vec<Option<usize>>,
    next_addr: usize,
}

/// What the model expects of one call.
#[derive(Debug, PartialEq, Eq)]
enum Expect {
    /// The call is not made (it would block for good or race).
    Skip,
    Result(Result<usize, Errno>),
    /// `Ok(k)` for any `1 <= k <= max`: how many bytes one recv(2) hands over or one send(2)
    /// takes is the kernel's choice within that promise; the model learns `k` afterwards.
    Bytes {
        max: usize,
        moved: Moved,
    },
    /// On a socket whose state the man pages leave open (see [`Disconnected`]): the usual
    /// answer, or EINVAL with the socket left as it was. Which one Linux chose is recorded.
    OrEinval {
        usual: Box<Expect>,
        after: Disconnected,
    },
}

/// Where the bytes of a [`Expect::Bytes`] call go in the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Moved {
    /// Read from this end's queue.
    Read(usize),
    /// Queued at this end (the peer of the sender).
    Queued(usize),
    /// Nowhere the model tracks (sent into a connection that is being reset).
    Lost,
}

impl Expect {
    /// The fact a disagreement on `op` is about: the one that promises what the model expected
    /// there, else the state machine as a whole.
    fn about(&self, op: Op) -> &'static str {
        let expected = match self {
            Expect::Result(r) => Some(*r),
            Expect::OrEinval { usual, .. } => match usual.as_ref() {
                Expect::Result(r) => Some(*r),
                _ => None,
            },
            _ => None,
        };
        match (op, expected) {
            (Op::Accept(_), Some(Err(Errno::EINVAL))) => "tcp.lifecycle.accept-needs-listen",
            (Op::Connect(..), Some(Err(Errno::ECONNREFUSED))) => "tcp.lifecycle.connect-refused",
            (Op::Connect(..), Some(Err(Errno::EINPROGRESS))) => {
                "tcp.nonblocking.connect-einprogress"
            }
            (_, Some(Err(Errno::EAGAIN))) => "tcp.nonblocking.eagain-when-nothing-ready",
            (Op::Send(..), Some(Err(Errno::EPIPE))) => "tcp.errors.epipe-after-peer-close",
            (_, Some(Err(Errno::ECONNRESET))) => "tcp.errors.econnreset-after-rst",
            (Op::Recv(_), Some(Ok(0))) => "tcp.errors.eof-after-orderly-close",
            (Op::Shutdown(..), _) => "tcp.errors.half-close",
            _ => "tcp.model.api-state-machine",
        }
    }

    /// Whether the kernel's answer is one the model allows.
    fn allows(&self, got: &Result<usize, Errno>) -> bool {
        match self {
            Expect::Skip => true,
            Expect::Result(r) => r == got,
            Expect::Bytes { max, .. } => matches!(got, Ok(k) if (1..=*max).contains(k)),
            Expect::OrEinval { usual, .. } => *got == Err(Errno::EINVAL) || usual.allows(got),
        }
    }

    /// `usual`, or EINVAL where the socket's state is unspecified.
    fn unless_unspecified(usual: Expect, bound: Option<Bound>) -> Expect {
        match bound {
            Some(Bound::Unspecified(after)) if usual != Expect::Skip => Expect::OrEinval {
                usual: Box::new(usual),
                after,
            },
            _ => usual,
        }
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Skip => f.write_str("no call"),
            Expect::Result(r) => write!(f, "{r:?}"),
            Expect::Bytes { max: 1, .. } => f.write_str("Ok(1)"),
            Expect::Bytes { max, .. } => write!(f, "Ok(1..={max})"),
            Expect::OrEinval { usual, .. } => write!(f, "{usual} or Err(EINVAL)"),
        }
    }
}

/// Something the kernel finishes after the call returns, which the executor waits for.
#[derive(Debug)]
enum Settle {
    /// A RST reaches the socket in this slot (POLLHUP/POLLERR).
    Hangup(usize),
    /// The handshake or refusal of a nonblocking connect finishes (POLLOUT).
    Connected(usize),
}

impl Model {
    fn new() -> Self {
        // Every slot starts with a fresh socket, so every call of a sequence means something.
        let fresh = Slot::Fresh {
            bound: Bound::No,
            shut: (false, false),
        };
        Model {
            slots: (0..SLOTS)
                .map(|i| {
                    if i < FRESH {
                        fresh.clone()
                    } else {
                        Slot::Empty
                    }
                })
                .collect(),
            nonblocking: vec![false; SLOTS],
            ends: Vec::new(),
            addr: vec![None; SLOTS],
            next_addr: 0,
        }
    }

    /// Gives slot `i` a new ephemeral address unless it has one.
    fn autobind(&mut self, i: usize) {
        if self.addr[i].is_none() {
            self.addr[i] = Some(self.next_addr);
            self.next_addr += 1;
        }
    }

    fn slot_of_end(&self, end: usize) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| matches!(s, Slot::Connected { end: e, .. } if *e == end))
    }

    /// A RST crosses the connection of `end` towards its peer.
    fn reset_peer(&mut self, end: usize, settle: &mut Vec<Settle>) {
        let peer = self.ends[end].peer;
        let p = &mut self.ends[peer];
        if p.closed || p.reset {
            return;
        }
        p.reset = true;
        // tcp_reset: EPIPE in CLOSE_WAIT (the peer had our FIN), ECONNRESET otherwise.
        p.pending = Some(if p.fin_in {
            Errno::EPIPE
        } else {
            Errno::ECONNRESET
        });
        if let Some(slot) = self.slot_of_end(peer) {
            settle.push(Settle::Hangup(slot));
        }
    }

    fn send_fin(&mut self, end: usize) {
        let peer = self.ends[end].peer;
        if !self.ends[end].reset && !self.ends[peer].reset {
            self.ends[end].fin_out = true;
            self.ends[peer].fin_in = true;
        }
    }

    /// Whether `end` has sent its FIN. A shutdown(2) before connect(2) leaves the flags set
    /// but sends none: the kernel sends it at the next shutdown(SHUT_WR) or close(2).
    fn fin_sent(&self, end: usize) -> bool {
        self.ends[end].fin_out
    }

    fn close_end(&mut self, end: usize, settle: &mut Vec<Settle>) {
        let e = &self.ends[end];
        if e.reset {
            self.ends[end].closed = true;
            return;
        }
        if e.unread > 0 {
            self.reset_peer(end, settle);
            self.ends[end].reset = true;
        } else if !self.fin_sent(end) {
            self.send_fin(end);
        }
        self.ends[end].closed = true;
    }

    fn close_slot(&mut self, i: usize, settle: &mut Vec<Settle>) {
        self.addr[i] = None;
        match std::mem::replace(&mut self.slots[i], Slot::Empty) {
            Slot::Connected { end, .. } => self.close_end(end, settle),
            Slot::Listening { queue, .. } => {
                for end in queue {
                    self.reset_peer(end, settle);
                    self.ends[end].reset = true;
                    self.ends[end].closed = true;
                }
            }
            _ => {}
        }
        self.nonblocking[i] = false;
    }

    /// Applies `op` to the model: what the kernel should answer, and what to wait for.
    fn apply(&mut self, op: Op) -> (Expect, Vec<Settle>) {
        let mut settle = Vec::new();
        let expect = match op {
            Op::Socket(i) => {
                self.close_slot(i, &mut settle);
                self.slots[i] = Slot::Fresh {
                    bound: Bound::No,
                    shut: (false, false),
                };
                Expect::Result(Ok(0))
            }
            _ if self.slots[op_slot(op)] == Slot::Empty => Expect::Skip,
            Op::Bind(i) | Op::Listen(i) | Op::Accept(i) | Op::Shutdown(i, _)
                if matches!(self.slots[i], Slot::Refused { .. }) =>
            {
                Expect::Skip
            }
            Op::SetNonblocking(i, on) => {
                self.nonblocking[i] = on;
                Expect::Result(Ok(0))
            }
            Op::Close(i) => {
                self.close_slot(i, &mut settle);
                Expect::Result(Ok(0))
            }
            Op::Bind(i) => self.bind(i),
            Op::Listen(i) => {
                let bound = self.bound(i);
                Expect::unless_unspecified(self.listen(i), bound)
            }
            Op::Connect(i, target) => {
                let bound = self.bound(i);
                Expect::unless_unspecified(self.connect(i, target, &mut settle), bound)
            }
            Op::Accept(i) => self.accept(i),
            Op::Send(i, n) => self.send_call(i, n, &mut settle),
            Op::Recv(i) => self.recv_call(i),
            Op::Shutdown(i, how) => self.shutdown(i, how, &mut settle),
        };
        (expect, settle)
    }

    fn bind(&mut self, i: usize) -> Expect {
        match &mut self.slots[i] {
            Slot::Fresh {
                bound: Bound::No,
                shut,
            } => {
                let shut = *shut;
                self.slots[i] = Slot::Fresh {
                    bound: Bound::Yes,
                    shut,
                };
                self.autobind(i);
                Expect::Result(Ok(0))
            }
            Slot::Fresh {
                bound: Bound::Unspecified(_),
                ..
            } => Expect::Skip,
            // A connection that reached TCP_CLOSE gave its (port 0) binding back.
            Slot::Connected { end, .. }
                if self.ends[*end].finished() && !self.ends[*end].rebound =>
            {
                self.ends[*end].rebound = true;
                self.addr[i] = None;
                self.autobind(i);
                Expect::Result(Ok(0))
            }
            _ => Expect::Result(Err(Errno::EINVAL)),
        }
    }

    fn accept(&mut self, i: usize) -> Expect {
        let free = self.slots.iter().position(|s| *s == Slot::Empty);
        match (&mut self.slots[i], free) {
            (Slot::Listening { queue, .. }, _) if queue.is_empty() => {
                Expect::Result(Err(Errno::EAGAIN))
            }
            (Slot::Listening { .. }, None) => Expect::Skip,
            (Slot::Listening { queue, .. }, Some(free)) => {
                let end = queue.pop_front().expect("a queued connection");
                self.slots[free] = Slot::Connected {
                    end,
                    report_pending: false,
                };
                self.nonblocking[free] = false;
                self.addr[free] = self.addr[i];
                Expect::Result(Ok(0))
            }
            _ => Expect::Result(Err(Errno::EINVAL)),
        }
    }

    /// send(2) on slot `i`.
    fn send_call(&mut self, i: usize, n: usize, settle: &mut Vec<Settle>) -> Expect {
        match self.slots[i].clone() {
            Slot::Connected { end, .. } => self.send(end, n, settle),
            Slot::Refused { reported: false } => {
                self.slots[i] = Slot::Refused { reported: true };
                Expect::Result(Err(Errno::ECONNREFUSED))
            }
            _ => Expect::Result(Err(Errno::EPIPE)),
        }
    }

    /// recv(2) on slot `i`.
    fn recv_call(&mut self, i: usize) -> Expect {
        match self.slots[i].clone() {
            Slot::Connected { end, .. } => self.recv(end),
            Slot::Refused { reported: false } => {
                self.slots[i] = Slot::Refused { reported: true };
                Expect::Result(Err(Errno::ECONNREFUSED))
            }
            Slot::Refused { reported: true } => Expect::Skip,
            Slot::Fresh {
                shut: (true, _), ..
            } => Expect::Result(Ok(0)),
            _ => Expect::Result(Err(Errno::ENOTCONN)),
        }
    }

    fn shutdown(&mut self, i: usize, how: Shutdown, settle: &mut Vec<Settle>) -> Expect {
        match self.slots[i].clone() {
            // After a nonblocking connect the socket layer still says "connecting";
            // shutdown(2) on a connection already in TCP_CLOSE turns that into
            // "disconnecting", where connect(2) fails with EINVAL: not modelled.
            Slot::Connected {
                end,
                report_pending: true,
            } if self.ends[end].finished() => Expect::Skip,
            Slot::Connected { end, .. } if self.ends[end].finished() => {
                Expect::Result(Err(Errno::ENOTCONN))
            }
            Slot::Connected { end, .. } => {
                // On a live connection it settles "connecting" into "connected": a later
                // connect(2) is EISCONN, no longer the one-time 0.
                self.slots[i] = Slot::Connected {
                    end,
                    report_pending: false,
                };
                if matches!(how, Shutdown::Read | Shutdown::Both) {
                    self.ends[end].rd_shut = true;
                }
                if matches!(how, Shutdown::Write | Shutdown::Both) {
                    self.ends[end].wr_shut = true;
                    if !self.fin_sent(end) {
                        self.send_fin(end);
                    }
                }
                Expect::Result(Ok(0))
            }
            Slot::Listening { queue, .. } if how != Shutdown::Write => {
                // shutdown(SHUT_RD) disconnects a listener: its queue is reset, and its
                // port, which it got from port 0, is given back (tcp_disconnect): a new
                // listen(2) picks another.
                for end in queue {
                    self.reset_peer(end, settle);
                    self.ends[end].reset = true;
                    self.ends[end].closed = true;
                }
                self.addr[i] = None;
                self.slots[i] = Slot::Fresh {
                    bound: Bound::Unspecified(Disconnected::ListenerShutdown),
                    shut: (false, false),
                };
                Expect::Result(Ok(0))
            }
            Slot::Listening { .. } => Expect::Result(Ok(0)),
            Slot::Fresh { bound, shut } => {
                let rd = shut.0 || matches!(how, Shutdown::Read | Shutdown::Both);
                let wr = shut.1 || matches!(how, Shutdown::Write | Shutdown::Both);
                self.slots[i] = Slot::Fresh {
                    bound,
                    shut: (rd, wr),
                };
                Expect::Result(Err(Errno::ENOTCONN))
            }
            _ => Expect::Result(Err(Errno::ENOTCONN)),
        }
    }

    /// Where slot `i` holds a not-connected socket, whether it has a port.
    fn bound(&self, i: usize) -> Option<Bound> {
        match self.slots[i] {
            Slot::Fresh { bound, .. } => Some(bound),
            _ => None,
        }
    }

    fn listen(&mut self, i: usize) -> Expect {
        match &self.slots[i] {
            Slot::Fresh { shut, .. } => {
                self.slots[i] = Slot::Listening {
                    queue: VecDeque::new(),
                    shut: *shut,
                };
                self.autobind(i);
                Expect::Result(Ok(0))
            }
            Slot::Listening { .. } => Expect::Result(Ok(0)),
            _ => Expect::Result(Err(Errno::EINVAL)),
        }
    }

    fn connect(&mut self, i: usize, target: Target, settle: &mut Vec<Settle>) -> Expect {
        if let Some(expect) = self.connect_again(i) {
            return expect;
        }
        let carried = match self.slots[i] {
            Slot::Fresh { shut, .. } => shut,
            _ => (false, false),
        };
        let listening = match self.listener_at(i, target) {
            Ok(listening) => listening,
            Err(skip) => return skip,
        };
        let nonblocking = self.nonblocking[i];
        self.autobind(i);
        match listening {
            Some(j) => {
                let client = self.open_connection(j, carried);
                self.slots[i] = Slot::Connected {
                    end: client,
                    report_pending: nonblocking,
                };
                if nonblocking {
                    settle.push(Settle::Connected(i));
                    Expect::Result(Err(Errno::EINPROGRESS))
                } else {
                    Expect::Result(Ok(0))
                }
            }
            None if nonblocking => {
                self.slots[i] = Slot::Refused { reported: false };
                settle.push(Settle::Connected(i));
                Expect::Result(Err(Errno::EINPROGRESS))
            }
            None => {
                self.slots[i] = Slot::Fresh {
                    bound: Bound::Unspecified(Disconnected::FailedConnect),
                    shut: (false, false),
                };
                Expect::Result(Err(Errno::ECONNREFUSED))
            }
        }
    }

    /// connect(2) on a socket that is not fresh: listening, connected or connecting, or after
    /// a nonblocking connect failed. None for a fresh socket, which starts a connection.
    fn connect_again(&mut self, i: usize) -> Option<Expect> {
        let expect = match self.slots[i].clone() {
            Slot::Listening { .. } => Expect::Result(Err(Errno::EISCONN)),
            Slot::Connected {
                end,
                report_pending: true,
            } if self.ends[end].finished() => {
                // The connection already reached TCP_CLOSE: connect(2) reports its error and
                // leaves the socket unconnected.
                let e = self.ends[end].pending.take().unwrap_or(Errno::ECONNABORTED);
                self.ends[end].closed = true;
                self.slots[i] = Slot::Fresh {
                    bound: Bound::Unspecified(Disconnected::FailedConnect),
                    shut: (false, false),
                };
                Expect::Result(Err(e))
            }
            Slot::Connected {
                end,
                report_pending: true,
            } => {
                self.slots[i] = Slot::Connected {
                    end,
                    report_pending: false,
                };
                Expect::Result(Ok(0))
            }
            Slot::Connected { .. } => Expect::Result(Err(Errno::EISCONN)),
            Slot::Refused { reported } => {
                self.slots[i] = Slot::Fresh {
                    bound: Bound::Unspecified(Disconnected::FailedConnect),
                    shut: (false, false),
                };
                // connect(2) reports the pending error, or ECONNABORTED once it was taken.
                let e = if reported {
                    Errno::ECONNABORTED
                } else {
                    Errno::ECONNREFUSED
                };
                Expect::Result(Err(e))
            }
            Slot::Fresh { .. } => return None,
            Slot::Empty => Expect::Skip,
        };
        Some(expect)
    }

    /// The slot listening where a connect(2) from slot `i` to `target` arrives, if any; Err
    /// (a skip) where the call would race (to itself) or block for good (a full queue).
    fn listener_at(&self, i: usize, target: Target) -> Result<Option<usize>, Expect> {
        match target {
            Target::Slot(j) if j == i => Err(Expect::Skip),
            Target::Slot(j) => {
                let at = self.addr[j];
                let listener = (0..SLOTS).find(|&k| {
                    at.is_some()
                        && self.addr[k] == at
                        && matches!(self.slots[k], Slot::Listening { .. })
                });
                match listener.map(|k| (k, &self.slots[k])) {
                    Some((_, Slot::Listening { queue, .. })) if queue.len() > BACKLOG => {
                        Err(Expect::Skip)
                    }
                    Some((k, _)) => Ok(Some(k)),
                    None => Ok(None),
                }
            }
            Target::ClosedPort => Ok(None),
        }
    }

    /// A new connection queued at listener `j`: its two ends, the client's carrying the
    /// shutdown(2) flags `carried` from before connect(2), the server's inheriting the
    /// listener's. Returns the client's end.
    fn open_connection(&mut self, j: usize, carried: (bool, bool)) -> usize {
        let (client, server) = (self.ends.len(), self.ends.len() + 1);
        self.ends.push(End {
            peer: server,
            rd_shut: carried.0,
            wr_shut: carried.1,
            ..End::default()
        });
        let inherited = match &self.slots[j] {
            Slot::Listening { shut, .. } => *shut,
            _ => (false, false),
        };
        self.ends.push(End {
            peer: client,
            rd_shut: inherited.0,
            wr_shut: inherited.1,
            ..End::default()
        });
        if inherited.1 {
            // A write-shut listener's new connection sends its FIN at once.
            self.ends[server].fin_out = true;
            self.ends[client].fin_in = true;
        }
        if let Slot::Listening { queue, .. } = &mut self.slots[j] {
            queue.push_back(server);
        }
        client
    }

    fn send(&mut self, end: usize, n: usize, settle: &mut Vec<Settle>) -> Expect {
        let e = &mut self.ends[end];
        if let Some(pending) = e.pending.take() {
            return Expect::Result(Err(pending));
        }
        if e.reset || e.wr_shut {
            return Expect::Result(Err(Errno::EPIPE));
        }
        let peer = e.peer;
        let p = &self.ends[peer];
        let lost = Expect::Bytes {
            max: n,
            moved: Moved::Lost,
        };
        if p.reset {
            return lost;
        }
        if p.closed || (p.rd_shut && p.fin_out) {
            // Data for a socket that will never read it (FIN_WAIT with SHUT_RD, or closed)
            // is answered with RST; a socket that only carries flags from a shutdown(2)
            // before connect(2) is still ESTABLISHED and queues it.
            self.reset_peer(peer, settle);
            self.ends[peer].reset = true;
            self.ends[peer].pending = (!self.ends[peer].closed).then_some(Errno::ECONNRESET);
            if let Some(slot) = self.slot_of_end(peer) {
                settle.push(Settle::Hangup(slot));
            }
            return lost;
        }
        Expect::Bytes {
            max: n,
            moved: Moved::Queued(peer),
        }
    }

    fn recv(&mut self, end: usize) -> Expect {
        let e = &mut self.ends[end];
        if e.unread > 0 {
            return Expect::Bytes {
                max: e.unread.min(RECV_BUFFER),
                moved: Moved::Read(end),
            };
        }
        if e.fin_in {
            return Expect::Result(Ok(0));
        }
        if let Some(pending) = e.pending.take() {
            return Expect::Result(Err(pending));
        }
        if e.reset || e.rd_shut {
            return Expect::Result(Ok(0));
        }
        Expect::Result(Err(Errno::EAGAIN))
    }
}

impl Model {
    /// Records how many bytes a [`Expect::Bytes`] call moved.
    fn moved(&mut self, moved: Moved, k: usize) {
        match moved {
            Moved::Read(end) => self.ends[end].unread -= k,
            Moved::Queued(end) => self.ends[end].unread += k,
            Moved::Lost => {}
        }
    }
}

impl Op {
    /// The call's name, as the man pages spell it.
    fn name(self) -> &'static str {
        match self {
            Op::Socket(_) => "socket",
            Op::Bind(_) => "bind",
            Op::Listen(_) => "listen",
            Op::Connect(..) => "connect",
            Op::Accept(_) => "accept",
            Op::Send(..) => "send",
            Op::Recv(_) => "recv",
            Op::Shutdown(..) => "shutdown",
            Op::Close(_) => "close",
            Op::SetNonblocking(..) => "fcntl",
        }
    }
}

fn op_slot(op: Op) -> usize {
    match op {
        Op::Socket(i)
        | Op::Bind(i)
        | Op::Listen(i)
        | Op::Connect(i, _)
        | Op::Accept(i)
        | Op::Send(i, _)
        | Op::Recv(i)
        | Op::Shutdown(i, _)
        | Op::Close(i)
        | Op::SetNonblocking(i, _) => i,
    }
}

/// The kernel side: real sockets in the same slots.
struct Kernel {
    slots: Vec<Option<Socket>>,
    closed_port: SocketAddr,
    _holder: Socket,
}

fn fresh_socket() -> Socket {
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    s.set_read_timeout(Some(BLOCKED)).expect("SO_RCVTIMEO");
    s.set_write_timeout(Some(wait::STEP)).expect("SO_SNDTIMEO");
    s
}

impl Kernel {
    fn new() -> Self {
        let holder = fresh_socket();
        holder
            .bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
            .expect("bind the closed port");
        Kernel {
            slots: (0..SLOTS).map(|i| (i < FRESH).then(fresh_socket)).collect(),
            closed_port: peers::local(&holder),
            _holder: holder,
        }
    }

    fn sock(&self, i: usize) -> &Socket {
        self.slots[i]
            .as_ref()
            .expect("the model only runs calls on open slots")
    }

    /// Waits (bounded) until `poll` reports any of `events` on slot `i`.
    fn await_events(&self, i: usize, events: PollFlags) -> bool {
        let deadline = wait::Deadline::after(wait::STEP, "model settle");
        while !deadline.expired() {
            let mut fds = [PollFd::new(self.sock(i).as_fd(), events)];
            if poll(&mut fds, PollTimeout::from(10u16)).unwrap_or(0) > 0 {
                return true;
            }
        }
        false
    }

    /// Waits (bounded) until the `n` bytes the model has queued at slot `i` have arrived.
    fn await_bytes(&self, i: usize, n: usize) {
        let deadline = wait::Deadline::after(wait::STEP, "model settle");
        while !deadline.expired() && peers::queued(self.sock(i)) < n {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn run(&mut self, op: Op, model: &Model) -> Result<usize, Errno> {
        let unit = |r: std::io::Result<()>| r.map(|()| 0).map_err(errno);
        match op {
            Op::Socket(i) => {
                self.slots[i] = Some(fresh_socket());
                Ok(0)
            }
            Op::Bind(i) => unit(
                self.sock(i)
                    .bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into()),
            ),
            Op::Listen(i) => unit(self.sock(i).listen(BACKLOG as i32)),
            Op::Connect(i, target) => {
                let addr = match target {
                    Target::Slot(j) => self.slots[j]
                        .as_ref()
                        .and_then(|s| s.local_addr().ok())
                        .and_then(|a| a.as_socket())
                        .filter(|a| a.port() != 0)
                        .unwrap_or(self.closed_port),
                    Target::ClosedPort => self.closed_port,
                };
                unit(self.sock(i).connect(&addr.into()))
            }
            Op::Accept(i) => {
                if let Slot::Listening { queue, .. } = &model.slots[i] {
                    if !queue.is_empty() {
                        self.await_events(i, PollFlags::POLLIN);
                    }
                }
                let (sock, _) = self.sock(i).accept().map_err(errno)?;
                sock.set_read_timeout(Some(BLOCKED)).expect("SO_RCVTIMEO");
                let free = self
                    .slots
                    .iter()
                    .position(Option::is_none)
                    .expect("a free slot");
                self.slots[free] = Some(sock);
                Ok(0)
            }
            Op::Send(i, n) => self
                .sock(i)
                .send_with_flags(&vec![0x42; n], libc::MSG_NOSIGNAL)
                .map_err(errno),
            Op::Recv(i) => {
                if let Slot::Connected { end, .. } = &model.slots[i] {
                    let e = &model.ends[*end];
                    if e.unread > 0 {
                        self.await_bytes(i, e.unread);
                    } else if e.fin_in {
                        self.await_events(i, PollFlags::POLLIN);
                    }
                }
                peers::read_some(self.sock(i), RECV_BUFFER).map(|d| d.len())
            }
            Op::Shutdown(i, how) => unit(self.sock(i).shutdown(how)),
            Op::Close(i) => {
                self.slots[i] = None;
                Ok(0)
            }
            Op::SetNonblocking(i, on) => unit(self.sock(i).set_nonblocking(on)),
        }
    }

    fn settle(&self, what: &Settle) -> Result<(), String> {
        let (i, events) = match *what {
            Settle::Hangup(i) => (i, PollFlags::POLLHUP | PollFlags::POLLERR),
            Settle::Connected(i) => (i, PollFlags::POLLOUT | PollFlags::POLLERR),
        };
        if self.await_events(i, events) {
            Ok(())
        } else {
            Err(format!("s{i} never showed {events:?} ({what:?})"))
        }
    }
}

/// What the kernel did with one sequence of calls.
#[derive(Debug, Default)]
struct Run {
    /// Every call made, with the kernel's answer.
    made: Vec<String>,
    /// Where the man pages leave the state open: the call, the state, what Linux chose.
    chosen: Vec<(String, String)>,
}

/// Runs `ops` against the kernel and the model; the first disagreement is the failure, else
/// what the kernel returned for each call the model has an expectation for.
fn check(ops: &[Op]) -> Result<Run, TestCaseError> {
    let mut model = Model::new();
    let mut kernel = Kernel::new();
    let mut run = Run::default();
    for (n, &op) in ops.iter().enumerate() {
        let before = model.clone();
        let (expect, settle) = model.apply(op);
        if expect == Expect::Skip {
            continue;
        }
        let got = kernel.run(op, &before);
        run.made.push(format!("{op:?}: {got:?}"));
        if !expect.allows(&got) {
            return Err(TestCaseError::fail(harness::check::about(
                expect.about(op),
                format!(
                    "call {} `{op:?}`: kernel gave {got:?}, model expected {expect}",
                    n + 1
                ),
            )));
        }
        if let Expect::OrEinval { after, .. } = expect {
            let call = format!("{} {}", op.name(), after.describe());
            run.chosen.push((call, format!("{got:?}")));
            if got == Err(Errno::EINVAL) {
                // Refused: the socket is as it was before the call.
                model = before;
                continue;
            }
        }
        if let (Expect::Bytes { moved, .. }, Ok(k)) = (expect, got) {
            model.moved(moved, k);
        }
        for s in &settle {
            kernel
                .settle(s)
                .map_err(|e| TestCaseError::fail(format!("after call {} `{op:?}`: {e}", n + 1)))?;
        }
    }
    Ok(run)
}

/// Where a sequence of calls starts.
#[derive(Clone, Copy, Debug)]
enum Start {
    /// Sockets as [`Model::new`] makes them.
    NewSockets,
    /// A connected pair (s1 and the accepted s4): random calls alone seldom get that far, and
    /// the byte counts of recv and send need it.
    ConnectedPair,
}

#[rstest]
fn the_socket_api_follows_the_documented_tcp_state_machine(
    #[values(Start::NewSockets, Start::ConnectedPair)] start: Start,
) {
    claim("tcp.model.api-state-machine")
        .and("tcp.lifecycle.accept-needs-listen")
        .and("tcp.lifecycle.connect-refused")
        .and("tcp.nonblocking.connect-einprogress")
        .and("tcp.nonblocking.eagain-when-nothing-ready")
        .and("tcp.errors.epipe-after-peer-close")
        .and("tcp.errors.econnreset-after-rst")
        .and("tcp.errors.eof-after-orderly-close")
        .and("tcp.errors.half-close")
        .case(match start {
            Start::NewSockets => "from new sockets",
            Start::ConnectedPair => "from a connected pair",
        })
        .limit(Duration::from_secs(10))
        .run(move |ctx| {
            let calls = std::sync::atomic::AtomicUsize::new(0);
            let chosen = std::sync::Mutex::new(BTreeMap::<String, BTreeSet<String>>::new());
            let random = prop::collection::vec(op(), 1..32);
            let sequences = match start {
                Start::NewSockets => random.boxed(),
                Start::ConnectedPair => random
                    .prop_map(|ops| {
                        let pair = [
                            Op::Listen(0),
                            Op::Connect(1, Target::Slot(0)),
                            Op::Accept(0),
                        ];
                        [&pair[..], &ops].concat()
                    })
                    .boxed(),
            };
            // 128 sequences from each start: the two cases run side by side.
            ctx.property(128, sequences, |ops| {
                let run = check(&ops)?;
                calls.fetch_add(run.made.len(), std::sync::atomic::Ordering::Relaxed);
                let mut chosen = chosen.lock().expect("not poisoned");
                for (call, got) in run.chosen {
                    chosen.entry(call).or_default().insert(got);
                }
                Ok(())
            });
            ctx.observe("calls_checked", calls.into_inner());
            ctx.observe(
                "unspecified_state",
                chosen.into_inner().expect("not poisoned"),
            );
        });
}

#[test]
fn shutdown_before_connect_and_after_a_nonblocking_connect_follow_the_model() {
    claim("tcp.model.api-state-machine").run(|ctx| {
        use Op::*;
        // Sequences random runs found rarely, now part of the model: flags set by a shutdown
        // before connect travel with the connection but send no FIN (so data to it is queued,
        // not reset, a later SHUT_WR sends the FIN, and the peer's FIN alone leaves it in
        // CLOSE_WAIT, still shut-downable); a shutdown after a nonblocking connect completed
        // makes a second connect EISCONN.
        let sequences: [&[Op]; 3] = [
            &[
                Shutdown(1, std::net::Shutdown::Both),
                Listen(0),
                Connect(1, Target::Slot(0)),
                Accept(0),
                Send(4, 100),
                Recv(1),
                Shutdown(1, std::net::Shutdown::Write),
                Recv(4),
                Send(4, 10),
            ],
            &[
                Listen(0),
                SetNonblocking(1, true),
                Connect(1, Target::Slot(0)),
                Shutdown(1, std::net::Shutdown::Read),
                Connect(1, Target::ClosedPort),
            ],
            &[
                Shutdown(0, std::net::Shutdown::Write),
                Listen(0),
                Shutdown(1, std::net::Shutdown::Write),
                Connect(1, Target::Slot(0)),
                Shutdown(1, std::net::Shutdown::Read),
            ],
        ];
        for ops in sequences {
            let run = check(ops).unwrap_or_else(|e| panic!("{ops:?}: {e}"));
            ctx.observe(&format!("{ops:?}"), run.made);
        }
    });
}

#[test]
fn a_socket_whose_connect_failed_or_whose_listener_was_shut_down_may_refuse_listen_and_connect() {
    claim("tcp.model.api-state-machine").run(|ctx| {
        use Op::*;
        // connect(2) leaves a socket whose connect failed in an unspecified state, and no man
        // page says what shutdown(SHUT_RD) leaves of a listener. Linux 6.18 refuses listen(2)
        // after the one and connect(2) after the other with EINVAL, where the kernels this
        // model was first run on went on: the model allows both and records the choice. The
        // first sequence is the counterexample that showed it.
        let sequences: [&[Op]; 3] = [
            &[
                Listen(0),
                Connect(1, Target::Slot(0)),
                Accept(0),
                Connect(3, Target::Slot(1)),
                Listen(3),
            ],
            &[
                SetNonblocking(2, true),
                Connect(2, Target::ClosedPort),
                Connect(2, Target::ClosedPort),
                Listen(2),
                Connect(2, Target::ClosedPort),
            ],
            &[
                Listen(0),
                Connect(1, Target::Slot(0)),
                Accept(0),
                Shutdown(0, std::net::Shutdown::Both),
                Connect(0, Target::Slot(1)),
                Listen(0),
            ],
        ];
        let mut chosen = BTreeMap::<String, BTreeSet<String>>::new();
        for ops in sequences {
            let run = check(ops).unwrap_or_else(|e| panic!("{ops:?}: {e}"));
            assert!(
                !run.chosen.is_empty(),
                "{ops:?}: no call in an unspecified state"
            );
            for (call, got) in run.chosen {
                chosen.entry(call).or_default().insert(got);
            }
        }
        ctx.observe("unspecified_state", chosen);
    });
}
