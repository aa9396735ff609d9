#!/usr/bin/env python3
"""Forward UDP with an added one-way delay in each direction, for lab tests.

Usage: udp-delay.py LISTEN_IP:PORT TARGET_IP:PORT DELAY_MS [DELAY_FILE]

Clients send to LISTEN; each datagram reaches TARGET DELAY_MS later, and each answer reaches
the client DELAY_MS after TARGET sent it, so a round trip gains 2 x DELAY_MS. The lab kernel
has no netem, and this is how a lab test makes one relay slower than another. Every client
address gets its own upstream socket, so TARGET sees distinct sources and its answers go back
to the right client. IPv6 addresses are written in brackets: [::1]:51821.

With DELAY_FILE, SIGHUP sets the delay to the milliseconds that file holds, keeping every
socket: TARGET goes on seeing the same source addresses. A relay binds a registration to its
source address, so a proxy restarted with another delay would look like new clients whose pings
go unanswered, and a test would measure a relay failure instead of a slower relay.
"""
import asyncio
import signal
import sys


def parse(text):
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


class Upstream(asyncio.DatagramProtocol):
    """The socket toward TARGET for one client: answers go back to that client, delayed."""

    def __init__(self, listener, client, delay):
        self.listener, self.client, self.delay = listener, client, delay

    def datagram_received(self, data, _):
        asyncio.get_running_loop().call_later(self.delay(), self.listener.sendto, data, self.client)


class Listener(asyncio.DatagramProtocol):
    def __init__(self, target, delay):
        self.target, self.delay = target, delay
        self.upstreams = {}

    def current_delay(self):
        return self.delay

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, client):
        loop = asyncio.get_running_loop()
        if client not in self.upstreams:
            # Opened now, while the first datagram waits out its delay.
            self.upstreams[client] = loop.create_task(loop.create_datagram_endpoint(
                lambda: Upstream(self.transport, client, self.current_delay), remote_addr=self.target))
        loop.call_later(self.delay, self.forward, data, self.upstreams[client])

    @staticmethod
    def forward(data, upstream):
        # Runs at once when the socket is open, else when it opens; either way in arrival order.
        upstream.add_done_callback(lambda task: task.result()[0].sendto(data))


async def main():
    if len(sys.argv) not in (4, 5):
        sys.exit("usage: udp-delay.py LISTEN_IP:PORT TARGET_IP:PORT DELAY_MS [DELAY_FILE]")
    listen, target, delay = parse(sys.argv[1]), parse(sys.argv[2]), float(sys.argv[3]) / 1000
    loop = asyncio.get_running_loop()
    listener = Listener(target, delay)
    await loop.create_datagram_endpoint(lambda: listener, local_addr=listen)
    if len(sys.argv) == 5:
        def reload():
            try:
                listener.delay = float(open(sys.argv[4]).read()) / 1000
                print(f"udp-delay: now +{listener.delay * 1000:g} ms each way", flush=True)
            except (OSError, ValueError) as error:
                print(f"udp-delay: {sys.argv[4]}: {error}; keeping +{listener.delay * 1000:g} ms", flush=True)
        loop.add_signal_handler(signal.SIGHUP, reload)
    print(f"udp-delay: {sys.argv[1]} -> {sys.argv[2]}, +{sys.argv[3]} ms each way", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
