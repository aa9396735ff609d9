#!/usr/bin/env python3
"""Write a small IPv4 MaxMind DB in the GeoLite2-City layout, for lab tests.

Usage: mmdb-write.py OUT.mmdb < lines

Each line is "CIDR LAT LON [COUNTRY]", e.g. "10.1.0.0/16 50.11 8.68 DE"; blank lines and lines
starting with "#" are skipped. A network inside another one overrides it for its addresses;
of two equal networks the later line wins.
Each record holds location.latitude, location.longitude and, when given, country.iso_code,
which is what GeoDatabase reads.

The format is the MaxMind DB File Format Specification 2.0: a binary search tree of 24-bit
records, 16 zero bytes, the data section, then the metadata after its marker.
"""
import ipaddress
import struct
import sys
import time


def control(type_, size):
    """Control byte(s): types 1-7 in the byte itself, larger ones in an extended byte."""
    if size < 29:
        head, extra = size, b""
    elif size < 29 + 256:
        head, extra = 29, bytes([size - 29])
    else:
        head, extra = 30, struct.pack(">H", size - 285)
    if type_ <= 7:
        return bytes([type_ << 5 | head]) + extra
    return bytes([head, type_ - 7]) + extra


def uint(type_, value):
    """Already encoded: metadata fields have fixed types (5 uint16, 6 uint32, 9 uint64) that
    libmaxminddb checks, and the format stores the minimal big-endian bytes."""
    raw = value.to_bytes(8, "big").lstrip(b"\0")
    return control(type_, len(raw)) + raw


def encode(value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        raw = value.encode()
        return control(2, len(raw)) + raw
    if isinstance(value, float):
        return control(3, 8) + struct.pack(">d", value)
    if isinstance(value, dict):
        return control(7, len(value)) + b"".join(encode(k) + encode(v) for k, v in value.items())
    if isinstance(value, list):
        return control(11, len(value)) + b"".join(encode(v) for v in value)
    raise TypeError(value)


class Tree:
    """Nodes are [left, right] records: None (no data), ("node", index) or ("data", offset)."""

    def __init__(self):
        self.nodes = [[None, None]]
        self.data = b""

    def insert(self, network, record):
        offset = len(self.data)
        self.data += encode(record)
        bits = int(network.network_address)
        node = 0
        for depth in range(network.prefixlen):
            bit = bits >> (31 - depth) & 1
            if depth == network.prefixlen - 1:
                self.nodes[node][bit] = ("data", offset)
                return
            child = self.nodes[node][bit]
            if child is None or child[0] == "data":
                # A data record on the way is a wider network: both halves below keep it.
                self.nodes.append([child, child])
                child = ("node", len(self.nodes) - 1)
                self.nodes[node][bit] = child
            node = child[1]

    def bytes(self):
        count = len(self.nodes)

        def value(record):
            if record is None:
                return count
            kind, n = record
            return n if kind == "node" else count + 16 + n

        tree = b"".join(value(r).to_bytes(3, "big") for node in self.nodes for r in node)
        metadata = {
            "binary_format_major_version": uint(5, 2),
            "binary_format_minor_version": uint(5, 0),
            "build_epoch": uint(9, int(time.time())),
            "database_type": "formnet-lab-City",
            "description": {"en": "formnet lab locations"},
            "ip_version": uint(5, 4),
            "languages": ["en"],
            "node_count": uint(6, count),
            "record_size": uint(5, 24),
        }
        return tree + bytes(16) + self.data + b"\xab\xcd\xefMaxMind.com" + encode(metadata)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: mmdb-write.py OUT.mmdb < 'CIDR LAT LON [COUNTRY]' lines")
    entries = []
    for number, line in enumerate(sys.stdin, 1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        try:
            if len(fields) not in (3, 4):
                raise ValueError("expected CIDR LAT LON [COUNTRY]")
            network = ipaddress.IPv4Network(fields[0])
            lat, lon = float(fields[1]), float(fields[2])
            if not (-90 <= lat <= 90 and -180 <= lon <= 180) or network.prefixlen == 0:
                raise ValueError("latitude, longitude or prefix out of range")
        except ValueError as error:
            sys.exit(f"line {number}: {line.strip()!r}: {error}")
        record = {"location": {"latitude": lat, "longitude": lon}}
        if len(fields) == 4:
            record["country"] = {"iso_code": fields[3]}
        entries.append((network, record))
    tree = Tree()
    # Wider networks first, so that one inside another overrides it whatever the input order.
    for network, record in sorted(entries, key=lambda entry: entry[0].prefixlen):
        tree.insert(network, record)
    if len(tree.nodes) + 16 + len(tree.data) >= 1 << 24:
        sys.exit("too many networks for 24-bit records")
    with open(sys.argv[1], "wb") as out:
        out.write(tree.bytes())


if __name__ == "__main__":
    main()
