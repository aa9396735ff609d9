#!/usr/bin/env python3
"""Forward UDP with an added one-way delay in each direction, for lab tests.

Usage: udp-delay.py LISTEN_IP:PORT TARGET_IP:PORT DELAY_MS

Clients send to LISTEN; each datagram reaches TARGET DELAY_MS later, and each answer reaches
the client DELAY_MS after TARGET sent it, so a round trip gains 2 x DELAY_MS. The lab kernel
has no netem, and this is how a lab test makes one relay slower than another. Every client
address gets its own upstream socket, so TARGET sees distinct sources and its answers go back
to the right client. IPv6 addresses are written in brackets: [::1]:51821.
"""
import asyncio
import sys


def parse(text):
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


class Upstream(asyncio.DatagramProtocol):
    """The socket toward TARGET for one client: answers go back to that client, delayed."""

    def __init__(self, listener, client, delay):
        self.listener, self.client, self.delay = listener, client, delay

    def datagram_received(self, data, _):
        asyncio.get_running_loop().call_later(self.delay, self.listener.sendto, data, self.client)


class Listener(asyncio.DatagramProtocol):
    def __init__(self, target, delay):
        self.target, self.delay = target, delay
        self.upstreams = {}

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, client):
        loop = asyncio.get_running_loop()
        if client not in self.upstreams:
            # Opened now, while the first datagram waits out its delay.
            self.upstreams[client] = loop.create_task(loop.create_datagram_endpoint(
                lambda: Upstream(self.transport, client, self.delay), remote_addr=self.target))
        loop.call_later(self.delay, self.forward, data, self.upstreams[client])

    @staticmethod
    def forward(data, upstream):
        # Runs at once when the socket is open, else when it opens; either way in arrival order.
        upstream.add_done_callback(lambda task: task.result()[0].sendto(data))


async def main():
    if len(sys.argv) != 4:
        sys.exit("usage: udp-delay.py LISTEN_IP:PORT TARGET_IP:PORT DELAY_MS")
    listen, target, delay = parse(sys.argv[1]), parse(sys.argv[2]), float(sys.argv[3]) / 1000
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(lambda: Listener(target, delay), local_addr=listen)
    print(f"udp-delay: {sys.argv[1]} -> {sys.argv[2]}, +{sys.argv[3]} ms each way", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
