/* The plain forwarder for bench/relayed: what a relay costs at the least, for two WireGuard peers
 * that both point their endpoint at it. The loop is bench/relay/floor-forwarder.c's (one thread,
 * recvmmsg into preallocated buffers, sendmmsg back out); floor-forwarder cannot be used as it is,
 * because it takes the destination port from bytes 2..3 of each datagram and sends to loopback,
 * and a WireGuard packet has zeros there. This one learns the two peers' addresses instead: a
 * datagram from one is sent, unchanged, to the other. A third address replaces the peer heard
 * from least recently. No keys, no checks, no header: the kernel's UDP path and nothing else.
 *
 *   pair-forwarder ADDRESS PORT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

enum { BATCH = 64, FRAME = 2048 };

static int same(const struct sockaddr_in *a, const struct sockaddr_in *b) {
    return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s ADDRESS PORT\n", argv[0]); return 2; }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int size = 8 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size)) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size)) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    struct sockaddr_in self = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
    if (inet_pton(AF_INET, argv[1], &self.sin_addr) != 1) { fprintf(stderr, "bad address %s\n", argv[1]); return 2; }
    if (bind(fd, (struct sockaddr *)&self, sizeof self)) { perror("bind"); return 1; }

    static char buffers[BATCH][FRAME];
    static struct iovec in_iov[BATCH], out_iov[BATCH];
    static struct sockaddr_in from[BATCH];
    static struct mmsghdr in[BATCH], out[BATCH];
    struct sockaddr_in peer[2];
    int known[2] = { 0, 0 };
    time_t heard[2] = { 0, 0 };
    for (int i = 0; i < BATCH; i++) {
        in_iov[i] = (struct iovec){ buffers[i], FRAME };
        in[i].msg_hdr = (struct msghdr){ .msg_name = &from[i], .msg_namelen = sizeof from[i], .msg_iov = &in_iov[i], .msg_iovlen = 1 };
    }
    for (;;) {
        for (int i = 0; i < BATCH; i++) in[i].msg_hdr.msg_namelen = sizeof from[i];
        int n = recvmmsg(fd, in, BATCH, MSG_WAITFORONE, NULL);
        if (n <= 0) continue;
        time_t now = time(NULL);
        int k = 0;
        for (int i = 0; i < n; i++) {
            int slot = known[0] && same(&from[i], &peer[0]) ? 0 : known[1] && same(&from[i], &peer[1]) ? 1 : -1;
            if (slot < 0) {
                slot = !known[0] ? 0 : !known[1] ? 1 : heard[0] <= heard[1] ? 0 : 1;
                peer[slot] = from[i];
                known[slot] = 1;
            }
            heard[slot] = now;
            if (!known[1 - slot]) continue;
            out_iov[k] = (struct iovec){ buffers[i], in[i].msg_len };
            out[k].msg_hdr = (struct msghdr){ .msg_name = &peer[1 - slot], .msg_namelen = sizeof peer[1 - slot], .msg_iov = &out_iov[k], .msg_iovlen = 1 };
            k++;
        }
        for (int sent = 0; sent < k;) {
            int m = sendmmsg(fd, out + sent, k - sent, 0);
            sent += m > 0 ? m : 1;
        }
    }
}
