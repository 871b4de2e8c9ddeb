/* The C reference for the bench's round-trip loop: a 1-byte ping-pong over the same loopback
 * sockets, the echo on a second thread, each round trip timed with CLOCK_MONOTONIC, every
 * blocking call bounded by SO_RCVTIMEO/SO_SNDTIMEO. Both threads are pinned to the CPU the
 * program starts on, as the Rust loop pins its two (a same-CPU hand-off, not a cross-CPU
 * wake-up); where pinning is refused both run unpinned and the output says so. `cargo claims
 * bench` builds it with cc and compares its median with the Rust loop's in the same run.
 *
 *   pingpong <unix-stream|unix-dgram|tcp-v4|tcp-v6|udp-v4|udp-v6> <round trips>
 *   prints: <median µs> <p99 µs> <pinned|unpinned>
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
    perror(what);
    exit(2);
}

static void bound(int fd) {
    struct timeval tv = {.tv_sec = 2};
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv))
        die("SO_RCVTIMEO/SO_SNDTIMEO");
}

static socklen_t loopback(int family, struct sockaddr_storage *ss) {
    memset(ss, 0, sizeof *ss);
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return sizeof *a;
    }
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    return sizeof *a;
}

static int bound_socket(int family, int type, struct sockaddr_storage *ss, socklen_t *len) {
    int fd = socket(family, type, 0);
    if (fd < 0) die("socket");
    bound(fd);
    *len = loopback(family, ss);
    if (bind(fd, (struct sockaddr *)ss, *len)) die("bind");
    if (getsockname(fd, (struct sockaddr *)ss, len)) die("getsockname");
    return fd;
}

static void pair(const char *kind, int fds[2]) {
    int family = strstr(kind, "v6") ? AF_INET6 : AF_INET;
    if (!strcmp(kind, "unix-stream") || !strcmp(kind, "unix-dgram")) {
        int type = strcmp(kind, "unix-stream") ? SOCK_DGRAM : SOCK_STREAM;
        if (socketpair(AF_UNIX, type, 0, fds)) die("socketpair");
        bound(fds[0]);
        bound(fds[1]);
    } else if (!strncmp(kind, "tcp", 3)) {
        struct sockaddr_storage ss;
        socklen_t len;
        int one = 1, listener = bound_socket(family, SOCK_STREAM, &ss, &len);
        if (listen(listener, 1)) die("listen");
        fds[0] = socket(family, SOCK_STREAM, 0);
        if (fds[0] < 0) die("socket");
        bound(fds[0]);
        if (connect(fds[0], (struct sockaddr *)&ss, len)) die("connect");
        fds[1] = accept(listener, NULL, NULL);
        if (fds[1] < 0) die("accept");
        bound(fds[1]);
        close(listener);
        if (setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) ||
            setsockopt(fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one))
            die("TCP_NODELAY");
    } else if (!strncmp(kind, "udp", 3)) {
        struct sockaddr_storage a, b;
        socklen_t alen, blen;
        fds[0] = bound_socket(family, SOCK_DGRAM, &a, &alen);
        fds[1] = bound_socket(family, SOCK_DGRAM, &b, &blen);
        if (connect(fds[0], (struct sockaddr *)&b, blen) ||
            connect(fds[1], (struct sockaddr *)&a, alen))
            die("connect");
    } else {
        fprintf(stderr, "unknown transport %s\n", kind);
        exit(2);
    }
}

static void *echo(void *arg) {
    int fd = *(int *)arg;
    char buf[64];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        if (write(fd, buf, n) != n) break;
    return NULL;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s <transport> <round trips>\n", argv[0]);
        return 2;
    }
    long n = atol(argv[2]);
    if (n < 1) return 2;
    /* Pinned before the echo thread is created, which inherits the mask. */
    cpu_set_t one;
    CPU_ZERO(&one);
    int cpu = sched_getcpu();
    if (cpu >= 0) CPU_SET(cpu, &one);
    int pinned = cpu >= 0 && sched_setaffinity(0, sizeof one, &one) == 0;
    int fds[2];
    pair(argv[1], fds);
    pthread_t peer;
    if (pthread_create(&peer, NULL, echo, &fds[1])) die("pthread_create");
    double *us = malloc(n * sizeof *us);
    if (!us) die("malloc");
    char c = 'p';
    for (long i = 0; i < n; i++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (write(fds[0], &c, 1) != 1) die("write the ping");
        if (read(fds[0], &c, 1) != 1) die("read the pong");
        clock_gettime(CLOCK_MONOTONIC, &t1);
        us[i] = (t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) / 1e3;
    }
    if (strstr(argv[1], "stream") || !strncmp(argv[1], "tcp", 3))
        shutdown(fds[0], SHUT_WR);
    else
        send(fds[0], "", 0, 0);
    pthread_join(peer, NULL);
    qsort(us, n, sizeof *us, by_value);
    long p99 = (long)(0.99 * n + 0.999999);
    printf("%.3f %.3f %s\n", n % 2 ? us[n / 2] : (us[n / 2 - 1] + us[n / 2]) / 2, us[p99 - 1],
           pinned ? "pinned" : "unpinned");
    return 0;
}
