//! What fixes a compiler diagnostic on a socket listing: the header that declares a name,
//! the prototype of a call given the wrong number of arguments, the members glibc's address
//! structs have.

use crate::finding::Text;

/// The header that declares a name of the socket API (and the libc calls socket code uses).
pub fn header_of(name: &str) -> Option<&'static str> {
    const TABLE: &[(&str, &[&str])] = &[
        (
            "sys/socket.h",
            &[
                "socket",
                "bind",
                "listen",
                "accept",
                "accept4",
                "connect",
                "send",
                "recv",
                "sendto",
                "recvfrom",
                "sendmsg",
                "recvmsg",
                "setsockopt",
                "getsockopt",
                "shutdown",
                "getsockname",
                "getpeername",
                "socketpair",
                "socklen_t",
                "sockaddr",
                "sockaddr_storage",
                "msghdr",
                "cmsghdr",
                "SOL_SOCKET",
                "SOMAXCONN",
                "SHUT_RD",
                "SHUT_WR",
                "SHUT_RDWR",
                "CMSG_FIRSTHDR",
                "CMSG_DATA",
                "CMSG_LEN",
                "CMSG_SPACE",
                "SCM_RIGHTS",
                "SCM_CREDENTIALS",
            ],
        ),
        (
            "arpa/inet.h",
            &[
                "htons",
                "htonl",
                "ntohs",
                "ntohl",
                "inet_pton",
                "inet_ntop",
                "inet_addr",
                "inet_aton",
                "inet_ntoa",
            ],
        ),
        (
            "netinet/in.h",
            &[
                "sockaddr_in",
                "sockaddr_in6",
                "in_addr",
                "in6_addr",
                "in_port_t",
                "in_addr_t",
                "ip_mreq",
                "ipv6_mreq",
                "in6addr_any",
                "in6addr_loopback",
                "INET_ADDRSTRLEN",
                "INET6_ADDRSTRLEN",
            ],
        ),
        ("netinet/tcp.h", &[]),
        ("sys/un.h", &["sockaddr_un"]),
        (
            "unistd.h",
            &[
                "close", "read", "write", "fork", "pipe", "dup", "dup2", "sleep", "usleep",
                "_exit", "execl", "execlp", "execv", "execvp", "getpid", "getppid", "unlink",
                "lseek", "ssize_t", "pid_t",
            ],
        ),
        (
            "netdb.h",
            &[
                "getaddrinfo",
                "freeaddrinfo",
                "gai_strerror",
                "getnameinfo",
                "addrinfo",
                "gethostbyname",
                "hostent",
            ],
        ),
        (
            "fcntl.h",
            &[
                "fcntl",
                "F_GETFL",
                "F_SETFL",
                "F_GETFD",
                "F_SETFD",
                "FD_CLOEXEC",
                "O_NONBLOCK",
            ],
        ),
        ("errno.h", &["errno"]),
        ("poll.h", &["poll", "pollfd", "nfds_t"]),
        (
            "sys/select.h",
            &[
                "select",
                "pselect",
                "fd_set",
                "FD_SET",
                "FD_CLR",
                "FD_ISSET",
                "FD_ZERO",
                "FD_SETSIZE",
            ],
        ),
        (
            "sys/epoll.h",
            &[
                "epoll_create",
                "epoll_create1",
                "epoll_ctl",
                "epoll_wait",
                "epoll_event",
            ],
        ),
        (
            "signal.h",
            &[
                "signal",
                "sigaction",
                "sigemptyset",
                "kill",
                "SIG_IGN",
                "SIG_DFL",
                "sig_atomic_t",
            ],
        ),
        (
            "sys/wait.h",
            &["wait", "waitpid", "WNOHANG", "WIFEXITED", "WEXITSTATUS"],
        ),
        (
            "stdio.h",
            &[
                "printf", "fprintf", "perror", "puts", "fputs", "fgets", "snprintf", "sprintf",
                "stderr", "stdout", "stdin", "getchar", "fflush", "fwrite", "fread", "FILE",
            ],
        ),
        (
            "stdlib.h",
            &[
                "exit",
                "malloc",
                "calloc",
                "realloc",
                "free",
                "atoi",
                "atol",
                "strtol",
                "strtoul",
                "EXIT_FAILURE",
                "EXIT_SUCCESS",
                "abort",
            ],
        ),
        (
            "string.h",
            &[
                "memset", "memcpy", "memmove", "memcmp", "strlen", "strcpy", "strncpy", "strcmp",
                "strncmp", "strerror", "strchr", "strstr", "strcat",
            ],
        ),
        ("strings.h", &["bzero"]),
        (
            "stdint.h",
            &[
                "uint8_t", "uint16_t", "uint32_t", "uint64_t", "int32_t", "int64_t",
            ],
        ),
        ("stdbool.h", &["bool", "true", "false"]),
        ("sys/time.h", &["timeval", "gettimeofday"]),
        (
            "time.h",
            &["time", "time_t", "timespec", "clock_gettime", "nanosleep"],
        ),
        (
            "pthread.h",
            &[
                "pthread_create",
                "pthread_join",
                "pthread_t",
                "pthread_detach",
            ],
        ),
    ];
    let prefixed: &[(&str, &str)] = &[
        ("AF_", "sys/socket.h"),
        ("PF_", "sys/socket.h"),
        ("SOCK_", "sys/socket.h"),
        ("SO_", "sys/socket.h"),
        ("MSG_", "sys/socket.h"),
        ("INADDR_", "netinet/in.h"),
        ("IPPROTO_", "netinet/in.h"),
        ("IPV6_", "netinet/in.h"),
        ("IP_", "netinet/in.h"),
        ("TCP_", "netinet/tcp.h"),
        ("AI_", "netdb.h"),
        ("NI_", "netdb.h"),
        ("EPOLL", "sys/epoll.h"),
        ("POLL", "poll.h"),
        ("SIG", "signal.h"),
        ("E", "errno.h"),
    ];
    if let Some((h, _)) = TABLE.iter().find(|(_, names)| names.contains(&name)) {
        return Some(h);
    }
    let upper = name
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    prefixed
        .iter()
        .find(|(p, _)| upper && name.starts_with(p) && (*p != "E" || name.len() > 2))
        .map(|(_, h)| *h)
}

/// The prototypes of the socket calls, for a call with the wrong number of arguments.
const SIGNATURES: &[(&str, &str)] = &[
    ("socket", "int socket(int domain, int type, int protocol)"),
    ("bind", "int bind(int fd, const struct sockaddr *addr, socklen_t addrlen)"),
    ("listen", "int listen(int fd, int backlog)"),
    ("accept", "int accept(int fd, struct sockaddr *addr, socklen_t *addrlen)"),
    ("accept4", "int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags)"),
    ("connect", "int connect(int fd, const struct sockaddr *addr, socklen_t addrlen)"),
    ("send", "ssize_t send(int fd, const void *buf, size_t len, int flags)"),
    ("recv", "ssize_t recv(int fd, void *buf, size_t len, int flags)"),
    (
        "sendto",
        "ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *dest_addr, socklen_t addrlen)",
    ),
    (
        "recvfrom",
        "ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *src_addr, socklen_t *addrlen)",
    ),
    ("setsockopt", "int setsockopt(int fd, int level, int optname, const void *optval, socklen_t optlen)"),
    ("getsockopt", "int getsockopt(int fd, int level, int optname, void *optval, socklen_t *optlen)"),
    ("shutdown", "int shutdown(int fd, int how)"),
    ("getsockname", "int getsockname(int fd, struct sockaddr *addr, socklen_t *addrlen)"),
    ("getpeername", "int getpeername(int fd, struct sockaddr *addr, socklen_t *addrlen)"),
    ("inet_pton", "int inet_pton(int af, const char *src, void *dst)"),
    ("inet_ntop", "const char *inet_ntop(int af, const void *src, char *dst, socklen_t size)"),
    ("read", "ssize_t read(int fd, void *buf, size_t count)"),
    ("write", "ssize_t write(int fd, const void *buf, size_t count)"),
];

/// The members of glibc's address structs.
const MEMBERS: &[(&str, &str)] = &[
    ("sockaddr_in", "sin_family, sin_port, sin_addr, sin_zero"),
    (
        "sockaddr_in6",
        "sin6_family, sin6_port, sin6_flowinfo, sin6_addr, sin6_scope_id",
    ),
    ("sockaddr_un", "sun_family, sun_path"),
    ("sockaddr", "sa_family, sa_data"),
    ("sockaddr_storage", "ss_family"),
    ("in_addr", "s_addr"),
];

/// The socket calls that take a `struct sockaddr *`: the argument's number and the call
/// written with the cast.
const ADDRESS_CALLS: &[(&str, usize, &str)] = &[
    ("bind", 2, "bind(fd, (struct sockaddr *)&addr, sizeof addr)"),
    (
        "connect",
        2,
        "connect(fd, (struct sockaddr *)&addr, sizeof addr)",
    ),
    (
        "accept",
        2,
        "accept(fd, (struct sockaddr *)&addr, &addrlen)",
    ),
    (
        "accept4",
        2,
        "accept4(fd, (struct sockaddr *)&addr, &addrlen, flags)",
    ),
    (
        "getsockname",
        2,
        "getsockname(fd, (struct sockaddr *)&addr, &addrlen)",
    ),
    (
        "getpeername",
        2,
        "getpeername(fd, (struct sockaddr *)&addr, &addrlen)",
    ),
    (
        "sendto",
        5,
        "sendto(fd, buf, len, 0, (struct sockaddr *)&addr, sizeof addr)",
    ),
    (
        "recvfrom",
        5,
        "recvfrom(fd, buf, len, 0, (struct sockaddr *)&addr, &addrlen)",
    ),
];

/// The quoted names of a diagnostic (`'struct sockaddr_in' has no member named 'sin_len'`).
fn quoted_all(words: &str) -> Vec<&str> {
    words.split('\'').skip(1).step_by(2).collect()
}

/// A wrong argument count: the call's prototype, for the message.
pub fn prototype(words: &str) -> Option<Text> {
    let name = quoted_all(words).into_iter().next()?;
    let (_, sig) = SIGNATURES.iter().find(|(n, _)| *n == name)?;
    Some(Text {
        ko: format!("{name}의 선언: {sig}"),
        en: format!("{name} is declared {sig}"),
    })
}

/// A member glibc's struct lacks: the members it has, for the message.
pub fn members(words: &str) -> Option<Text> {
    let ty = quoted_all(words)
        .into_iter()
        .next()?
        .trim_start_matches("struct ");
    let (_, list) = MEMBERS.iter().find(|(n, _)| *n == ty)?;
    Some(Text {
        ko: format!("Linux(glibc)의 struct {ty} 멤버: {list}"),
        en: format!("Linux (glibc) struct {ty} has: {list}"),
    })
}

/// An address passed to a socket call without its cast (`passing argument 2 of 'bind' from
/// incompatible pointer type`): the call with the cast.
pub fn cast(words: &str) -> Option<Text> {
    let call = quoted_all(words).into_iter().next()?;
    let argument: usize = words
        .strip_prefix("passing argument ")?
        .split(' ')
        .next()?
        .parse()
        .ok()?;
    let (_, _, written) = ADDRESS_CALLS
        .iter()
        .find(|(c, n, _)| *c == call && *n == argument)?;
    Some(Text {
        ko: format!("{written};  /* 주소를 (struct sockaddr *)로 캐스트 */"),
        en: format!("{written};  /* the address cast to (struct sockaddr *) */"),
    })
}
