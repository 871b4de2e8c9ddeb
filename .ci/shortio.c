/*
 * shortio: an LD_PRELOAD library that makes socket I/O do what the man pages allow and a
 * quiet machine rarely shows. On stream sockets, recv/recvfrom/recvmsg/read return fewer
 * bytes than asked (and than queued), and send/sendto/sendmsg/write take fewer than asked;
 * every call on any socket may first sleep a little. Datagram and seqpacket sockets keep
 * whole messages: a datagram is never shortened. Other descriptors are left alone.
 *
 * Built and loaded by .ci/inject. Tunables (environment, read at load time):
 *   SHORTIO_SHORT_PCT   percent of stream calls made short (default 50)
 *   SHORTIO_DELAY_PCT   percent of socket calls delayed (default 10)
 *   SHORTIO_DELAY_US    longest delay in microseconds (default 2000)
 *   SHORTIO_STATS       a directory of the calling user's own (owned by its euid, no access
 *                       for group or others) where each process that made socket calls
 *                       leaves a new file <pid> (<pid>.<n> if taken) holding "calls
 *                       short_reads short_writes delays". Any other directory is refused,
 *                       and neither it nor the file is followed through a symlink: the
 *                       library runs as root too, and must not write where another user
 *                       points it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_recv)(int, void *, size_t, int);
static ssize_t (*real_send)(int, const void *, size_t, int);
static ssize_t (*real_recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
static ssize_t (*real_sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
static ssize_t (*real_recvmsg)(int, struct msghdr *, int);
static ssize_t (*real_sendmsg)(int, const struct msghdr *, int);

static int short_pct = 50, delay_pct = 10, delay_us = 2000;
static atomic_ulong calls, short_reads, short_writes, delays;

static void resolve(void) {
    real_read = dlsym(RTLD_NEXT, "read");
    real_write = dlsym(RTLD_NEXT, "write");
    real_recv = dlsym(RTLD_NEXT, "recv");
    real_send = dlsym(RTLD_NEXT, "send");
    real_recvfrom = dlsym(RTLD_NEXT, "recvfrom");
    real_sendto = dlsym(RTLD_NEXT, "sendto");
    real_recvmsg = dlsym(RTLD_NEXT, "recvmsg");
    real_sendmsg = dlsym(RTLD_NEXT, "sendmsg");
}

static int env_int(const char *name, int fallback) {
    const char *v = getenv(name);
    return v && *v ? atoi(v) : fallback;
}

__attribute__((constructor)) static void init(void) {
    resolve();
    short_pct = env_int("SHORTIO_SHORT_PCT", short_pct);
    delay_pct = env_int("SHORTIO_DELAY_PCT", delay_pct);
    delay_us = env_int("SHORTIO_DELAY_US", delay_us);
}

/* The stats directory, opened without following a symlink, if it is the caller's own and
 * closed to everyone else; -1 otherwise. */
static int own_stats_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

__attribute__((destructor)) static void report(void) {
    const char *dir = getenv("SHORTIO_STATS");
    if (!dir || !*dir || atomic_load(&calls) == 0)
        return;
    int dirfd = own_stats_dir(dir);
    if (dirfd < 0)
        return;
    char name[64], line[160];
    int n = snprintf(line, sizeof line, "%lu %lu %lu %lu\n", atomic_load(&calls),
                     atomic_load(&short_reads), atomic_load(&short_writes), atomic_load(&delays));
    /* A new file only: an existing name (a reused pid, a planted link) is never opened. */
    for (int attempt = 0; attempt < 100; attempt++) {
        if (attempt == 0)
            snprintf(name, sizeof name, "%ld", (long)getpid());
        else
            snprintf(name, sizeof name, "%ld.%d", (long)getpid(), attempt);
        int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0) {
            real_write(fd, line, (size_t)n);
            close(fd);
            break;
        }
        if (errno != EEXIST)
            break;
    }
    close(dirfd);
}

/* xorshift64*, one state per thread, seeded from the thread's address and the clock. */
static uint64_t rnd(void) {
    static __thread uint64_t s;
    if (s == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s = ((uint64_t)(uintptr_t)&s * 0x9e3779b97f4a7c15ull) ^ (uint64_t)ts.tv_nsec ^
            ((uint64_t)getpid() << 32) ^ 1;
    }
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545f4914f6cdd1dull;
}

/* The socket type of fd (SOCK_STREAM, SOCK_DGRAM, ...), or -1 if fd is not a socket. */
static int socket_type(int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode))
        return -1;
    int type;
    socklen_t len = sizeof type;
    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 ? type : -1;
}

/* Called first by every wrapper: on a socket, may sleep; returns whether fd is a stream
 * socket. errno is left as the caller had it, so the real call alone decides what it says. */
static int before(int fd) {
    int saved = errno;
    if (!real_sendmsg)
        resolve();
    int type = socket_type(fd);
    if (type >= 0) {
        atomic_fetch_add(&calls, 1);
        if (delay_pct > 0 && (int)(rnd() % 100) < delay_pct) {
            struct timespec ts = {0, (long)(rnd() % ((uint64_t)delay_us + 1)) * 1000};
            atomic_fetch_add(&delays, 1);
            nanosleep(&ts, NULL);
        }
    }
    errno = saved;
    return type == SOCK_STREAM;
}

/* A shorter length for a read of `len` on stream socket fd: fewer than asked and, when data
 * is queued, fewer than queued; `len` itself when this call is not made short. */
static size_t short_read(int fd, size_t len, int flags) {
    if (len < 2 || (flags & MSG_WAITALL) || (int)(rnd() % 100) >= short_pct)
        return len;
    int saved = errno;
    size_t cap = len;
    int queued = 0;
    if (ioctl(fd, FIONREAD, &queued) == 0 && queued > 1 && (size_t)queued < cap)
        cap = (size_t)queued;
    errno = saved;
    if (cap < 2)
        return len;
    atomic_fetch_add(&short_reads, 1);
    return 1 + (size_t)(rnd() % (cap - 1));
}

static size_t short_write(size_t len) {
    if (len < 2 || (int)(rnd() % 100) >= short_pct)
        return len;
    atomic_fetch_add(&short_writes, 1);
    return 1 + (size_t)(rnd() % (len - 1));
}

/* Copies msg's first `len` bytes of iovecs into iov (room for `room`); 0 if they do not fit. */
static size_t clip_iov(const struct msghdr *msg, size_t len, struct iovec *iov, size_t room) {
    size_t n = 0;
    for (size_t i = 0; i < msg->msg_iovlen && len > 0; i++) {
        if (n == room)
            return 0;
        iov[n] = msg->msg_iov[i];
        if (iov[n].iov_len > len)
            iov[n].iov_len = len;
        len -= iov[n].iov_len;
        n++;
    }
    return n;
}

static size_t iov_total(const struct msghdr *msg) {
    size_t total = 0;
    for (size_t i = 0; i < msg->msg_iovlen; i++)
        total += msg->msg_iov[i].iov_len;
    return total;
}

ssize_t read(int fd, void *buf, size_t len) {
    if (before(fd))
        len = short_read(fd, len, 0);
    return real_read(fd, buf, len);
}

ssize_t write(int fd, const void *buf, size_t len) {
    if (before(fd))
        len = short_write(len);
    return real_write(fd, buf, len);
}

ssize_t recv(int fd, void *buf, size_t len, int flags) {
    if (before(fd))
        len = short_read(fd, len, flags);
    return real_recv(fd, buf, len, flags);
}

ssize_t send(int fd, const void *buf, size_t len, int flags) {
    if (before(fd))
        len = short_write(len);
    return real_send(fd, buf, len, flags);
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
                 socklen_t *fromlen) {
    if (before(fd))
        len = short_read(fd, len, flags);
    return real_recvfrom(fd, buf, len, flags, from, fromlen);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
               socklen_t tolen) {
    if (before(fd))
        len = short_write(len);
    return real_sendto(fd, buf, len, flags, to, tolen);
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags) {
    if (!before(fd))
        return real_recvmsg(fd, msg, flags);
    size_t total = iov_total(msg), len = short_read(fd, total, flags);
    struct iovec iov[64];
    size_t n = len < total ? clip_iov(msg, len, iov, 64) : 0;
    if (n == 0)
        return real_recvmsg(fd, msg, flags);
    struct msghdr shorter = *msg;
    shorter.msg_iov = iov;
    shorter.msg_iovlen = n;
    ssize_t got = real_recvmsg(fd, &shorter, flags);
    int saved = errno;
    /* What the kernel wrote back into the header belongs to the caller's. */
    msg->msg_namelen = shorter.msg_namelen;
    msg->msg_controllen = shorter.msg_controllen;
    msg->msg_flags = shorter.msg_flags;
    errno = saved;
    return got;
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
    if (!before(fd))
        return real_sendmsg(fd, msg, flags);
    size_t total = iov_total(msg), len = short_write(total);
    struct iovec iov[64];
    size_t n = len < total ? clip_iov(msg, len, iov, 64) : 0;
    if (n == 0)
        return real_sendmsg(fd, msg, flags);
    struct msghdr shorter = *msg;
    shorter.msg_iov = iov;
    shorter.msg_iovlen = n;
    return real_sendmsg(fd, &shorter, flags);
}
