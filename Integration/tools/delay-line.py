#!/usr/bin/env python3
"""A user-space delay line for lab tests: holds the packets of one NFQUEUE and lets them go late.

Usage: delay-line.py --queue N --delay MS [--jitter MS] [--loss FRACTION] [--rate KBIT [--rate-queue MS]]
                      [--seed S] [--config FILE]

Why: the lab kernel has no netem (no `tc qdisc ... netem delay`), nor sch_fq for BPF departure
times, so a test that needs a slower or lossy path cannot ask the kernel for one. It can ask
xtables to queue packets to user space (NFQUEUE, with iptables-legacy: nftables' own `queue`
expression is not compiled in), and this program gives each queued packet its verdict late:
NF_ACCEPT once the delay has passed, or NF_DROP at once for a packet it chose to lose. It speaks
nfnetlink_queue itself over a raw NETLINK_NETFILTER socket, with the standard library only.

Hooking it up: run it in the network namespace whose traffic it delays (netlink, the queue and
the rule are all per namespace), then queue that namespace's egress on one interface to it:

    ip netns exec NS python3 delay-line.py --queue 7 --delay 50 &
    ip netns exec NS iptables-legacy -t mangle -A POSTROUTING -o IFACE -j NFQUEUE --queue-num 7 --queue-bypass

That delays every IPv4 packet NS sends out of IFACE (ip6tables-legacy does the same for IPv6,
to the same queue); this pair of commands is what delay-line-selftest, beside this file, runs
and measures. In a router namespace R, one direction of forwarded traffic is delayed instead:

    ip netns exec R iptables-legacy -A FORWARD -i IN -o OUT -j NFQUEUE --queue-num 7 --queue-bypass

--queue-bypass lets packets through unimpaired while no program is bound to the queue (before
this one starts, after it exits); without it they are dropped.

Impairment: each packet is held DELAY ms, plus a jitter drawn uniformly from [-JITTER, +JITTER]
ms (the total never below 0), and is lost with probability LOSS (dropped on arrival, each packet
independently). Order: with no jitter packets leave in arrival order, even just after the delay
was lowered (a packet is never released before one that came earlier). With jitter each packet's
delay is drawn on its own and packets may overtake one another, as with netem's jitter: the
delay distribution is exactly the one asked for, and the path reorders, as real ones can.
--seed makes the loss and jitter draws repeatable.

Rate: with --rate KBIT, packets also leave no faster than KBIT kilobits a second (1000 bits), one
after another, per input interface (so a router's two directions are two links of that rate, as
a full-duplex line), each as long as its length takes at that rate, before its delay starts; a
packet that would wait more than --rate-queue MS (default 100) for the link is dropped, as a full
router queue (tbf's limit) drops it. The length is the kernel's (NFQA_CAP_LEN, which the kernel
sends when it copies only the start of a packet). Rate 0 means no limit.

With --config FILE, the file is read at start and again on each SIGHUP. It holds lines
`delay MS`, `jitter MS`, `loss FRACTION`, `rate KBIT` (any subset; '#' starts a comment); a key the file
leaves out takes its command-line value, so the file alone says what is in force, and a file
that does not exist means the command-line values. A change applies to packets that arrive
after it; a file that does not parse is reported and changes nothing. One line, flushed, is
printed at start and on each reload; SIGUSR1 prints the counters. SIGTERM or SIGINT lets every
held packet go at once (NF_ACCEPT), unbinds the queue and exits 0.

Limits: every verdict waits for this one Python process, at about 6-7 us of CPU a packet. On
this lab's 2-core machine it passed 80000 packets/s for 2.5 s without loss or added delay when
it had a core to itself; a busy machine makes that far less. Past what it keeps up with, the
delay grows (packets wait to be read) and then the kernel drops at the queue, which holds 10000
packets (so rate x delay must stay below that: 100 ms holds at most 100000 packets/s), or at the
socket's 16 MiB; /proc/net/netfilter/nfnetlink_queue in the namespace counts those drops
(6th and 7th columns). A held packet is still charged to the socket that sent it (netem would
orphan it): a sender in the delayed namespace can have only its SO_SNDBUF in flight, about 200
small UDP datagrams with the default 208 KiB, which at 50 ms caps it near 4000 datagrams/s, and
the same accounting (TCP small queues) throttles a TCP sender. Hooking FORWARD in a router
namespace avoids that, as does a larger send buffer on the sender. The kernel copies the first
8 bytes of each packet to user space (COPY_PACKET with a copy range of 8, so that it reports each
packet's length): nothing here reads or changes a payload. GSO packets are segmented by the
kernel before they are queued, so loss is per wire packet.
"""
import argparse
import errno
import heapq
import os
import random
import select
import signal
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
SOL_NETLINK = 270
NETLINK_NO_ENOBUFS = 5
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)

NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLMSG_ERROR = 2
NLMSG_DONE = 3

NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET = NFNL_SUBSYS_QUEUE << 8 | 0
NFQNL_MSG_VERDICT = NFNL_SUBSYS_QUEUE << 8 | 1
NFQNL_MSG_CONFIG = NFNL_SUBSYS_QUEUE << 8 | 2

NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQA_IFINDEX_INDEV = 5
NFQA_CAP_LEN = 13
NFQA_CFG_CMD = 1
NFQA_CFG_PARAMS = 2
NFQA_CFG_QUEUE_MAXLEN = 3
NFQA_CFG_MASK = 4
NFQA_CFG_FLAGS = 5
NFQA_CFG_F_FAIL_OPEN = 0x1

NFQNL_CFG_CMD_BIND = 1
NFQNL_CFG_CMD_UNBIND = 2
NFQNL_CFG_CMD_PF_BIND = 3
NFQNL_CFG_CMD_PF_UNBIND = 4
NFQNL_COPY_PACKET = 2
COPY_RANGE = 8                       # bytes of each packet the kernel copies to us (none are read)

NF_DROP = 0
NF_ACCEPT = 1

NLMSGHDR = struct.Struct("=IHHII")   # length, type, flags, sequence, port id
NFGENMSG = struct.Struct(">BBH")     # family, version, resource id (the queue, big-endian)
NLATTR = struct.Struct("=HH")        # length, type
QUEUE_MAXLEN = 10000
RCVBUF = 16 << 20
VERDICTS_PER_SEND = 1024             # 32 bytes each: well inside a netlink socket's send buffer
RECVS_PER_ROUND = 256                # then release what is due, so a flood cannot starve timers


def attr(kind, payload):
    pad = -len(payload) % 4
    return NLATTR.pack(NLATTR.size + len(payload), kind) + payload + b"\0" * pad


def message(kind, flags, queue, attrs, seq=0, family=socket.AF_UNSPEC):
    body = NFGENMSG.pack(family, 0, queue) + b"".join(attrs)
    return NLMSGHDR.pack(NLMSGHDR.size + len(body), kind, flags, seq, 0) + body


class Settings:
    def __init__(self, delay, jitter, loss, rate=0.0, rate_queue=100.0):
        self.delay, self.jitter, self.loss, self.rate, self.rate_queue = delay, jitter, loss, rate, rate_queue

    def describe(self):
        text = "+%g ms, jitter %g ms, loss %g" % (self.delay, self.jitter, self.loss)
        return text + (", rate %g kbit/s (queue %g ms)" % (self.rate, self.rate_queue) if self.rate else "")


def check(settings):
    if settings.delay < 0 or settings.jitter < 0:
        raise ValueError("delay and jitter must not be negative")
    if not 0 <= settings.loss <= 1:
        raise ValueError("loss must be a fraction between 0 and 1")
    if settings.rate < 0 or settings.rate_queue <= 0:
        raise ValueError("rate must not be negative, and its queue must be positive")
    return settings


def read_config(path, base):
    """The settings FILE asks for on top of the command line's BASE (a missing file asks nothing)."""
    values = {"delay": base.delay, "jitter": base.jitter, "loss": base.loss, "rate": base.rate}
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        lines = []
    for number, line in enumerate(lines, 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) != 2 or words[0] not in values:
            raise ValueError("%s:%d: expected 'delay MS', 'jitter MS', 'loss FRACTION' or 'rate KBIT'"
                             % (path, number))
        try:
            values[words[0]] = float(words[1])
        except ValueError:
            raise ValueError("%s:%d: %r is not a number" % (path, number, words[1])) from None
    return check(Settings(values["delay"], values["jitter"], values["loss"], values["rate"], base.rate_queue))


class DelayLine:
    def __init__(self, queue, settings, rng):
        self.queue, self.settings, self.rng = queue, settings, rng
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
        except OSError:  # not root (no CAP_NET_ADMIN): as much as net.core.rmem_max allows
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        try:
            # A full socket then costs the packets the kernel could not queue (it counts them in
            # /proc/net/netfilter/nfnetlink_queue), not an error on every later recv.
            self.sock.setsockopt(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1)
        except OSError:
            pass
        self.sock.bind((0, 0))
        self.seq = 0
        self.held = []          # heap of (due, arrival number, packet id)
        self.last_due = {}      # input interface -> without jitter, no packet is due before an earlier one
        self.link_free = {}     # input interface -> when its link has sent what it took (--rate)
        self.arrivals = 0
        self.outbox = []
        self.stats = {"packets": 0, "accepted": 0, "lost": 0, "over rate": 0, "released at exit": 0,
                      "kernel errors": 0}
        self.errors = {}        # sequence number of a config request -> its error, once answered

    # Configuration: requests with acknowledgements; packets that come meanwhile are held as usual.
    def configure(self, *attrs, family=socket.AF_UNSPEC, queue=None, tolerate=()):
        self.seq += 1
        seq = self.seq
        self.sock.send(message(NFQNL_MSG_CONFIG, NLM_F_REQUEST | NLM_F_ACK,
                               self.queue if queue is None else queue, attrs, seq, family))
        while seq not in self.errors:
            self.receive(block=True)
        err = self.errors.pop(seq)
        if err and err not in tolerate:
            raise OSError(err, "nfnetlink_queue config: %s" % os.strerror(err))

    def command(self, cmd, family=socket.AF_UNSPEC, queue=None, tolerate=()):
        # struct nfqnl_msg_config_cmd: command, pad, protocol family (big-endian)
        self.configure(attr(NFQA_CFG_CMD, struct.pack(">BxH", cmd, family)),
                       family=family, queue=queue, tolerate=tolerate)

    def bind(self):
        # PF_UNBIND/PF_BIND are no-ops since Linux 3.8 and still accepted; older kernels need them.
        self.command(NFQNL_CFG_CMD_PF_UNBIND, socket.AF_INET, queue=0, tolerate=(errno.EINVAL,))
        self.command(NFQNL_CFG_CMD_PF_BIND, socket.AF_INET, queue=0, tolerate=(errno.EINVAL,))
        self.command(NFQNL_CFG_CMD_BIND)
        # struct nfqnl_msg_config_params: copy range (big-endian), copy mode; packed
        # Packet mode with a copy range shorter than any packet: the kernel then says how long the
        # packet is (NFQA_CAP_LEN, which --rate needs; metadata mode leaves it out).
        self.configure(attr(NFQA_CFG_PARAMS, struct.pack(">IB", COPY_RANGE, NFQNL_COPY_PACKET)))
        self.configure(attr(NFQA_CFG_QUEUE_MAXLEN, struct.pack(">I", QUEUE_MAXLEN)))
        # Fail-open off: a packet that finds the queue full is dropped, as on a full link.
        self.configure(attr(NFQA_CFG_FLAGS, struct.pack(">I", 0)),
                       attr(NFQA_CFG_MASK, struct.pack(">I", NFQA_CFG_F_FAIL_OPEN)),
                       tolerate=(errno.EOPNOTSUPP,))

    def unbind(self):
        self.command(NFQNL_CFG_CMD_UNBIND, tolerate=(errno.ENODEV,))

    # Packets
    def receive(self, block=False):
        """Reads what the socket has: at most RECVS_PER_ROUND messages, or one when BLOCKing.
        True when it stopped for that limit, that is when more may be waiting."""
        for _ in range(1 if block else RECVS_PER_ROUND):
            try:
                data = self.sock.recv(65536, 0 if block else socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                return False
            except OSError as e:
                if e.errno == errno.ENOBUFS:  # messages lost, and with them the packets: go on
                    continue
                raise
            self.parse(data, time.monotonic())
        return not block

    def parse(self, data, now):
        offset = 0
        while offset + NLMSGHDR.size <= len(data):
            length, kind, _, seq, _ = NLMSGHDR.unpack_from(data, offset)
            if length < NLMSGHDR.size:
                break
            if kind == NFQNL_MSG_PACKET:
                attrs = offset + NLMSGHDR.size + NFGENMSG.size
                self.arrived(*self.packet_fields(data, attrs, offset + length), now)
            elif kind == NLMSG_ERROR:
                (err,) = struct.unpack_from("=i", data, offset + NLMSGHDR.size)
                if seq and seq <= self.seq and seq not in self.errors:
                    self.errors[seq] = -err
                elif err:  # a verdict the kernel refused (a packet it had already let go)
                    self.stats["kernel errors"] += 1
            offset += (length + 3) & ~3

    @staticmethod
    def packet_fields(data, offset, end):
        """The packet id, its length (0 when the kernel did not say) and its input interface."""
        packet_id, size, indev = None, 0, 0
        while offset + NLATTR.size <= end:
            length, kind = NLATTR.unpack_from(data, offset)
            if length < NLATTR.size:
                break
            kind &= 0x3FFF
            if kind == NFQA_PACKET_HDR:
                # struct nfqnl_msg_packet_hdr: packet id (big-endian), hw protocol, hook
                packet_id = struct.unpack_from(">I", data, offset + NLATTR.size)[0]
            elif kind == NFQA_CAP_LEN and length >= NLATTR.size + 4:
                size = struct.unpack_from(">I", data, offset + NLATTR.size)[0]
            elif kind == NFQA_IFINDEX_INDEV and length >= NLATTR.size + 4:
                indev = struct.unpack_from(">I", data, offset + NLATTR.size)[0]
            offset += (length + 3) & ~3
        if packet_id is None:
            raise ValueError("nfnetlink_queue packet without NFQA_PACKET_HDR")
        return packet_id, size, indev

    def arrived(self, packet_id, size, indev, now):
        self.stats["packets"] += 1
        s = self.settings
        if s.loss and self.rng.random() < s.loss:
            self.stats["lost"] += 1
            self.verdict(packet_id, NF_DROP)
            return
        start = now
        if s.rate:
            # The link sends one packet after another: this one starts when the last is out.
            begin = max(now, self.link_free.get(indev, 0.0))
            if begin - now > s.rate_queue / 1000:
                self.stats["over rate"] += 1
                self.verdict(packet_id, NF_DROP)
                return
            start = begin + size * 8 / (s.rate * 1000)
            self.link_free[indev] = start
        if s.jitter:
            due = start + max(0.0, s.delay + self.rng.uniform(-s.jitter, s.jitter)) / 1000
        else:
            due = max(start + s.delay / 1000, self.last_due.get(indev, 0.0))
            self.last_due[indev] = due
        self.arrivals += 1
        heapq.heappush(self.held, (due, self.arrivals, packet_id))

    def verdict(self, packet_id, verdict):
        self.outbox.append(message(NFQNL_MSG_VERDICT, NLM_F_REQUEST, self.queue,
                                   [attr(NFQA_VERDICT_HDR, struct.pack(">II", verdict, packet_id))]))
        if len(self.outbox) >= VERDICTS_PER_SEND:
            self.flush()

    def flush(self):
        # One send carries many verdicts: nfnetlink handles each message in the buffer in turn.
        if self.outbox:
            data, self.outbox = b"".join(self.outbox), []
            self.sock.send(data)

    def release(self, now):
        held = self.held
        while held and held[0][0] <= now:
            self.verdict(heapq.heappop(held)[2], NF_ACCEPT)
            self.stats["accepted"] += 1
        self.flush()

    def release_all(self):
        while self.held:
            self.verdict(heapq.heappop(self.held)[2], NF_ACCEPT)
            self.stats["released at exit"] += 1
        self.flush()

    def counters(self):
        return ", ".join("%s %d" % kv for kv in self.stats.items()) + ", held %d" % len(self.held)


def say(text):
    print("delay-line: " + text, flush=True)


def main():
    parser = argparse.ArgumentParser(
        description="Hold an NFQUEUE's packets for a delay (a netem stand-in for lab tests).")
    parser.add_argument("--queue", type=int, required=True, help="NFQUEUE number (0-65535)")
    parser.add_argument("--delay", type=float, required=True, help="milliseconds each packet is held")
    parser.add_argument("--jitter", type=float, default=0.0, help="uniform +/- milliseconds (reorders)")
    parser.add_argument("--loss", type=float, default=0.0, help="fraction of packets dropped")
    parser.add_argument("--rate", type=float, default=0.0, help="kilobits a second each direction may carry (0: no limit)")
    parser.add_argument("--rate-queue", type=float, default=100.0,
                        help="milliseconds a packet may wait for the rate before it is dropped")
    parser.add_argument("--seed", type=int, help="seed for loss and jitter draws")
    parser.add_argument("--config",
                        help="file of 'delay MS', 'jitter MS', 'loss FRACTION', 'rate KBIT' lines, re-read on SIGHUP")
    args = parser.parse_args()
    if not 0 <= args.queue <= 65535:
        parser.error("--queue must be 0-65535")
    try:
        base = check(Settings(args.delay, args.jitter, args.loss, args.rate, args.rate_queue))
        settings = read_config(args.config, base) if args.config else base
    except ValueError as e:
        parser.error(str(e))

    # Signals only mark what to do; the wakeup fd ends the select in the main loop.
    pending = set()
    wake_r, wake_w = socket.socketpair()
    wake_r.setblocking(False)
    wake_w.setblocking(False)
    signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
    for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
        signal.signal(signum, lambda n, _: pending.add(n))

    line = DelayLine(args.queue, settings, random.Random(args.seed))
    try:
        line.bind()
    except OSError as e:
        hint = ""
        if e.errno == errno.EPERM:
            hint = " (another program holds this queue, or no CAP_NET_ADMIN)"
        say("queue %d: cannot bind: %s%s" % (args.queue, e, hint))
        return 1
    say("queue %d, %s%s%s" % (args.queue, settings.describe(),
                              "" if args.seed is None else ", seed %d" % args.seed,
                              ", config %s" % args.config if args.config else ""))

    while True:
        if pending:
            signals = set()
            while pending:  # set.pop cannot be split by a signal handler; a copy-and-clear could
                signals.add(pending.pop())
            if signals & {signal.SIGTERM, signal.SIGINT}:
                break
            if signal.SIGHUP in signals and args.config:
                try:
                    line.settings = read_config(args.config, base)
                    say("reload %s: queue %d, %s" % (args.config, args.queue, line.settings.describe()))
                except (OSError, ValueError) as e:
                    say("reload %s failed, keeping %s: %s" % (args.config, line.settings.describe(), e))
            if signal.SIGUSR1 in signals:
                say("queue %d: %s" % (args.queue, line.counters()))
        timeout = max(0.0, line.held[0][0] - time.monotonic()) if line.held else None
        readable, _, _ = select.select([line.sock, wake_r], [], [], timeout)
        if wake_r in readable:
            try:
                while wake_r.recv(64):
                    pass
            except BlockingIOError:
                pass
        if line.sock in readable:
            line.receive()
        line.release(time.monotonic())

    while line.receive():  # what the kernel has queued to us: let it go too, not be dropped by unbind
        pass
    line.release_all()
    line.unbind()
    say("queue %d stopped: %s" % (args.queue, line.counters()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
