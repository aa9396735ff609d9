/* Load generator for the relay benchmark. It registers pairs of clients with a formnet relay
 * (the real crypto_box registration of docs/relay-protocol.md) or addresses the floor
 * forwarder, floods data frames from each pair's first client to its second at a paced rate
 * with sendmmsg, counts what arrives with recvmmsg, and reads the relay's CPU time from
 * /proc/PID/stat over the same interval.
 *
 *   loadgen flood    --relay PORT [--relay-key B64] --pid PID [--pairs 4] [--payload 100]
 *                    [--rates 50000,100000,...] [--seconds 3] [--tick-us 50]
 *   loadgen register --relay PORT --relay-key B64 --pid PID --clients 10000
 * Without --relay-key the target is the floor forwarder (destination port in bytes 2..3).
 * Every address used is on 127.0.0.0/8.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

enum { BATCH = 32, HEADER = 51, MAX_PAIRS = 64 };

static uint16_t relay_port;
static unsigned char relay_pk[32];
static int formnet;
static int relay_pid;
static long tick_ns = 50000; /* pacing step: packets due are sent in bursts this far apart */

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static uint64_t wall_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void put64(unsigned char *p, uint64_t v) { for (int i = 7; i >= 0; i--) { p[i] = v & 0xff; v >>= 8; } }
static uint64_t get64(const unsigned char *p) { uint64_t v = 0; for (int i = 0; i < 8; i++) v = v << 8 | p[i]; return v; }

/* The relay process's user+system CPU seconds, all threads. */
static double relay_cpu(void) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", relay_pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    unsigned long utime = 0, stime = 0;
    if (p) sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime);
    return (double)(utime + stime) / sysconf(_SC_CLK_TCK);
}

static long relay_rss_kb(void) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", relay_pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f)) if (sscanf(line, "VmRSS: %ld", &kb) == 1) break;
    if (f) fclose(f);
    return kb;
}

struct client {
    int fd;
    uint16_t port;
    unsigned char pk[32], sk[32];
    uint64_t session;
};

static int open_client(struct client *c, uint32_t loopback_host) {
    c->fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (c->fd < 0) return -1;
    int size = 4 << 20;
    setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    struct sockaddr_in self = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(loopback_host) };
    struct sockaddr_in relay = { .sin_family = AF_INET, .sin_port = htons(relay_port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof self;
    if (bind(c->fd, (struct sockaddr *)&self, sizeof self) || connect(c->fd, (struct sockaddr *)&relay, sizeof relay)) return -1;
    getsockname(c->fd, (struct sockaddr *)&self, &len);
    c->port = ntohs(self.sin_port);
    crypto_box_keypair(c->pk, c->sk);
    return 0;
}

static void send_register(struct client *c) {
    unsigned char frame[82] = { 1, 1 }, ts[8];
    memcpy(frame + 2, c->pk, 32);
    randombytes_buf(frame + 34, 24);
    put64(ts, wall_ms());
    if (crypto_box_easy(frame + 58, ts, 8, frame + 34, relay_pk, c->sk) == 0) send(c->fd, frame, sizeof frame, 0);
}

/* Reads the registered answer: 0 and the session id set, or -1. */
static int read_registered(struct client *c, int timeout_ms) {
    struct pollfd p = { c->fd, POLLIN, 0 };
    unsigned char frame[2048], plain[35];
    while (poll(&p, 1, timeout_ms) > 0) {
        ssize_t n = recv(c->fd, frame, sizeof frame, 0);
        if (n == 77 && frame[1] == 2 && crypto_box_open_easy(plain, frame + 26, 51, frame + 2, relay_pk, c->sk) == 0) {
            c->session = get64(plain);
            return 0;
        }
    }
    return -1;
}

static struct client senders[MAX_PAIRS], receivers[MAX_PAIRS];
static int pairs = 4;
static atomic_long received;
static atomic_int stop_receiving;

static void *receive_loop(void *unused) {
    (void)unused;
    static char buffers[BATCH][2048];
    struct iovec iov[BATCH];
    struct mmsghdr msgs[BATCH];
    for (int i = 0; i < BATCH; i++) {
        iov[i] = (struct iovec){ buffers[i], sizeof buffers[i] };
        msgs[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1 };
    }
    struct pollfd fds[MAX_PAIRS];
    for (int i = 0; i < pairs; i++) fds[i] = (struct pollfd){ receivers[i].fd, POLLIN, 0 };
    while (!atomic_load(&stop_receiving)) {
        if (poll(fds, pairs, 100) <= 0) continue;
        for (int i = 0; i < pairs; i++) {
            if (!(fds[i].revents & POLLIN)) continue;
            int n;
            while ((n = recvmmsg(fds[i].fd, msgs, BATCH, MSG_DONTWAIT, NULL)) > 0) atomic_fetch_add(&received, n);
        }
    }
    return NULL;
}

/* One paced run: returns delivered frames; prints the line for it. */
static void run_rate(long rate, double seconds, int payload) {
    int size = HEADER + payload;
    static unsigned char frames[MAX_PAIRS][2048];
    for (int i = 0; i < pairs; i++) {
        memset(frames[i], 0xAB, size);
        frames[i][0] = 1; frames[i][1] = 3;
        if (formnet) {
            memcpy(frames[i] + 2, receivers[i].pk, 32);
            put64(frames[i] + 34, senders[i].session);
            frames[i][50] = 0;
        } else {
            frames[i][2] = receivers[i].port >> 8; frames[i][3] = receivers[i].port & 0xff;
        }
    }
    struct iovec iov[BATCH];
    struct mmsghdr msgs[BATCH];
    long before = atomic_load(&received);
    double cpu0 = relay_cpu(), start = now_s();
    long sent = 0, failed = 0;
    int next = 0;
    while (now_s() - start < seconds) {
        long due = (long)((now_s() - start) * rate);
        if (due <= sent) { struct timespec pause = { 0, tick_ns }; nanosleep(&pause, NULL); continue; }
        int k = due - sent > BATCH ? BATCH : (int)(due - sent);
        int pair = next++ % pairs;
        if (formnet) put64(frames[pair] + 42, wall_ms());
        for (int i = 0; i < k; i++) {
            iov[i] = (struct iovec){ frames[pair], size };
            msgs[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1 };
        }
        int m = sendmmsg(senders[pair].fd, msgs, k, 0);
        if (m < k) failed += k - (m > 0 ? m : 0);
        sent += k;
    }
    double elapsed = now_s() - start;
    usleep(200000);
    double cpu = relay_cpu() - cpu0;
    long delivered = atomic_load(&received) - before;
    double loss = sent ? 100.0 * (sent - delivered) / sent : 0;
    printf("%-8s payload=%d offered=%.0f/s delivered=%.0f/s loss=%.2f%% relay_cpu=%.2fs cpu_per_packet=%.2fus%s\n",
           formnet ? "formnet" : "floor", payload, sent / elapsed, delivered / elapsed, loss, cpu,
           delivered ? cpu * 1e6 / delivered : 0, failed ? " (sender queue full)" : "");
    fflush(stdout);
}

static int flood(const char *rates, double seconds, int payload) {
    for (int i = 0; i < pairs; i++) {
        if (open_client(&senders[i], INADDR_LOOPBACK) || open_client(&receivers[i], INADDR_LOOPBACK)) { perror("socket"); return 1; }
        if (formnet) {
            for (int attempt = 0; attempt < 3 && !senders[i].session; attempt++) { send_register(&senders[i]); read_registered(&senders[i], 1000); }
            for (int attempt = 0; attempt < 3 && !receivers[i].session; attempt++) { send_register(&receivers[i]); read_registered(&receivers[i], 1000); }
            if (!senders[i].session || !receivers[i].session) { fprintf(stderr, "registration failed\n"); return 1; }
        }
    }
    pthread_t thread;
    pthread_create(&thread, NULL, receive_loop, NULL);
    char *list = strdup(rates);
    for (char *r = strtok(list, ","); r; r = strtok(NULL, ",")) run_rate(atol(r), seconds, payload);
    atomic_store(&stop_receiving, 1);
    pthread_join(thread, NULL);
    free(list);
    return 0;
}

/* Registers `count` clients from 127.0.x.y addresses (10 per address: within the relay's
 * per-address registration burst even when two addresses share a hashed rate-limit slot),
 * 100 at a time at about 1,400 a second (under the relay's global budget of 2,000 register
 * frames a second), retrying unanswered ones; all within the relay's 120 s idle expiry. Then
 * reports the relay's resident memory and checks that forwarding between a few of them works. */
static int register_many(int count) {
    struct rlimit limit = { count + 256, count + 256 };
    setrlimit(RLIMIT_NOFILE, &limit);
    struct client *clients = calloc(count, sizeof *clients);
    long rss_before = relay_rss_kb();
    for (int i = 0; i < count; i++) {
        uint32_t host = (127u << 24) | (uint32_t)(2 + i / 10);
        if (open_client(&clients[i], host)) { fprintf(stderr, "client %d: %s\n", i, strerror(errno)); return 1; }
    }
    double start = now_s();
    int registered = 0;
    long sent = 0;
    for (int round = 0; round < 5 && registered < count; round++) {
        for (int first = 0; first < count; first += 100) {
            int last = first + 100 < count ? first + 100 : count;
            for (int i = first; i < last; i++) if (!clients[i].session) { send_register(&clients[i]); sent++; }
            for (int i = first; i < last; i++) if (!clients[i].session) registered += read_registered(&clients[i], 200) == 0;
            while (now_s() - start < sent / 1400.0) usleep(1000);
        }
    }
    double took = now_s() - start;
    long rss = relay_rss_kb();
    int ok = 0, checked = 0;
    for (int i = 0; i + 1 < count && checked < 5; i += count / 5, checked++) {
        struct client *a = &clients[i], *b = &clients[i + 1];
        unsigned char frame[HEADER + 64] = { 1, 3 }, reply[2048];
        memcpy(frame + 2, b->pk, 32);
        put64(frame + 34, a->session);
        put64(frame + 42, wall_ms());
        send(a->fd, frame, sizeof frame, 0);
        struct pollfd p = { b->fd, POLLIN, 0 };
        if (poll(&p, 1, 1000) > 0 && recv(b->fd, reply, sizeof reply, 0) == (ssize_t)sizeof frame && memcmp(reply + 2, a->pk, 32) == 0) ok++;
    }
    printf("registered %d/%d clients in %.1fs; relay resident memory %.1f MB (%.1f MB before); forwarding checked for %d/%d pairs\n",
           registered, count, took, rss / 1024.0, rss_before / 1024.0, ok, checked);
    return registered == count && ok == checked ? 0 : 1;
}

int main(int argc, char **argv) {
    if (sodium_init() < 0 || argc < 2) { fprintf(stderr, "usage: see the comment at the top of loadgen.c\n"); return 2; }
    const char *rates = "50000", *key = NULL;
    double seconds = 3;
    int payload = 100, clients = 10000;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--relay")) relay_port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--relay-key")) key = argv[i + 1];
        else if (!strcmp(argv[i], "--pid")) relay_pid = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--pairs")) pairs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--payload")) payload = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rates")) rates = argv[i + 1];
        else if (!strcmp(argv[i], "--seconds")) seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--clients")) clients = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--tick-us")) tick_ns = atol(argv[i + 1]) * 1000;
        else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
    }
    if (pairs < 1 || pairs > MAX_PAIRS || payload < 4 || payload > 1997) { fprintf(stderr, "bad --pairs or --payload\n"); return 2; }
    if (key) {
        size_t len = 0;
        if (sodium_base642bin(relay_pk, 32, key, strlen(key), NULL, &len, NULL, sodium_base64_VARIANT_ORIGINAL) || len != 32) {
            fprintf(stderr, "bad --relay-key\n");
            return 2;
        }
        formnet = 1;
    }
    if (!strcmp(argv[1], "flood")) return flood(rates, seconds, payload);
    if (!strcmp(argv[1], "register") && formnet) return register_many(clients);
    fprintf(stderr, "unknown command %s\n", argv[1]);
    return 2;
}
