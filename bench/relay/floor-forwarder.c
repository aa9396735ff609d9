/* The floor for the relay benchmark: the least a UDP forwarder can do per packet. One thread,
 * recvmmsg into preallocated buffers, sendmmsg back out. Each datagram names its destination
 * port on 127.0.0.1 in bytes 2..3 (big-endian) and is forwarded unchanged: no lookup, no
 * checks, so what it costs is the kernel's own receive and send path.
 *
 *   floor-forwarder PORT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

enum { BATCH = 64, FRAME = 2048 };

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s PORT\n", argv[0]); return 2; }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int size = 8 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size)) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size)) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    struct sockaddr_in self = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (bind(fd, (struct sockaddr *)&self, sizeof self)) { perror("bind"); return 1; }

    static char buffers[BATCH][FRAME];
    static struct iovec in_iov[BATCH], out_iov[BATCH];
    static struct sockaddr_in from[BATCH], to[BATCH];
    static struct mmsghdr in[BATCH], out[BATCH];
    for (int i = 0; i < BATCH; i++) {
        in_iov[i] = (struct iovec){ buffers[i], FRAME };
        in[i].msg_hdr = (struct msghdr){ .msg_name = &from[i], .msg_namelen = sizeof from[i], .msg_iov = &in_iov[i], .msg_iovlen = 1 };
        to[i] = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    }
    for (;;) {
        for (int i = 0; i < BATCH; i++) in[i].msg_hdr.msg_namelen = sizeof from[i];
        int n = recvmmsg(fd, in, BATCH, MSG_WAITFORONE, NULL);
        if (n <= 0) continue;
        int k = 0;
        for (int i = 0; i < n; i++) {
            if (in[i].msg_len < 4) continue;
            memcpy(&to[k].sin_port, buffers[i] + 2, 2);
            out_iov[k] = (struct iovec){ buffers[i], in[i].msg_len };
            out[k].msg_hdr = (struct msghdr){ .msg_name = &to[k], .msg_namelen = sizeof to[k], .msg_iov = &out_iov[k], .msg_iovlen = 1 };
            k++;
        }
        for (int sent = 0; sent < k;) {
            int m = sendmmsg(fd, out + sent, k - sent, 0);
            sent += m > 0 ? m : 1;
        }
    }
}
