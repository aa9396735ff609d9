#!/usr/bin/env python3
"""Observe NAT mappings in the lab, as a STUN server would.

  mapping.py serve PORT                       answer every UDP datagram and TCP connection on PORT
                                              with the address:port it came from
  mapping.py probe LOCAL_PORT HOST:PORT...    from UDP LOCAL_PORT, ask each observer what it sees;
                                              prints one line per observer: "HOST:PORT SEEN" or
                                              "HOST:PORT -" when no answer came within a second
  mapping.py tcp HOST:PORT                    the same over TCP; exit 1 when it cannot connect
"""
import socket
import sys
import threading


def serve(port):
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("0.0.0.0", port))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("0.0.0.0", port))
    tcp.listen(16)

    def tcp_loop():
        while True:
            conn, peer = tcp.accept()
            conn.sendall(f"{peer[0]}:{peer[1]}\n".encode())
            conn.close()

    threading.Thread(target=tcp_loop, daemon=True).start()
    while True:
        _, peer = udp.recvfrom(2048)
        udp.sendto(f"{peer[0]}:{peer[1]}".encode(), peer)


def split(target):
    host, port = target.rsplit(":", 1)
    return host, int(port)


def probe(local_port, targets):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", local_port))
    sock.settimeout(1.0)
    for target in targets:
        sock.sendto(b"?", split(target))
        try:
            data, _ = sock.recvfrom(2048)
            print(target, data.decode())
        except socket.timeout:
            print(target, "-")


def tcp(target):
    try:
        with socket.create_connection(split(target), timeout=2) as conn:
            print(target, conn.recv(256).decode().strip())
    except OSError as error:
        print(target, "-", error)
        sys.exit(1)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "serve":
        serve(int(sys.argv[2]))
    elif mode == "probe":
        probe(int(sys.argv[2]), sys.argv[3:])
    elif mode == "tcp":
        tcp(sys.argv[2])
    else:
        sys.exit(__doc__)
