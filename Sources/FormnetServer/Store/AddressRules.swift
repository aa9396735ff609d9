import WireGuard

/// Address arithmetic behind the store's invariants and IP allocation, for both families.
public enum AddressRules {
    /// The highest address of a network (the IPv4 broadcast address).
    public static func lastAddress(of network: IPNetwork) -> IPAddress {
        let prefix = network.prefixLength
        switch network.address.masked(to: prefix) {
        case .v4(let a):
            let hostBits: UInt32 = prefix == 0 ? ~0 : (prefix == 32 ? 0 : ~UInt32(0) >> prefix)
            return .v4(a | hostBits)
        case .v6(let hi, let lo):
            let hiHost: UInt64 = prefix >= 64 ? 0 : (prefix == 0 ? ~0 : ~UInt64(0) >> prefix)
            let loHost: UInt64 = prefix <= 64 ? ~0 : (prefix == 128 ? 0 : ~UInt64(0) >> (prefix - 64))
            return .v6(hi | hiHost, lo | loHost)
        }
    }

    /// The address after `address`, or nil past the end of the family's space.
    public static func next(_ address: IPAddress) -> IPAddress? {
        switch address {
        case .v4(let a): return a == .max ? nil : .v4(a + 1)
        case .v6(let hi, let lo):
            if lo != .max { return .v6(hi, lo + 1) }
            return hi == .max ? nil : .v6(hi + 1, 0)
        }
    }

    public static func less(_ a: IPAddress, _ b: IPAddress) -> Bool {
        switch (a, b) {
        case (.v4(let x), .v4(let y)): return x < y
        case (.v6(let xh, let xl), .v6(let yh, let yl)): return xh < yh || (xh == yh && xl < yl)
        default: return a.isIPv4
        }
    }

    /// Whether a peer may hold `ip` in `network`: inside it, and for IPv4 networks larger than
    /// /31 neither the network nor the broadcast address (innernet's `is_assignable`); for IPv6
    /// larger than /127 not the subnet-router anycast address (the network address).
    public static func isAssignable(_ ip: IPAddress, in network: IPNetwork) -> Bool {
        guard network.contains(ip) else { return false }
        let canonical = network.canonical
        if ip.isIPv4 {
            return network.prefixLength >= 31 || (ip != canonical.address && ip != lastAddress(of: canonical))
        }
        return network.prefixLength >= 127 || ip != canonical.address
    }

    public static func overlaps(_ a: IPNetwork, _ b: IPNetwork) -> Bool {
        a.address.isIPv4 == b.address.isIPv4 && (a.contains(b.address) || b.contains(a.address))
    }

    /// Whether `child` is a proper sub-range of `parent`.
    public static func isStrictlyInside(_ child: IPNetwork, _ parent: IPNetwork) -> Bool {
        child.address.isIPv4 == parent.address.isIPv4 && child.prefixLength > parent.prefixLength
            && parent.contains(child.address)
    }

    /// The first assignable address of `network` that is not in `taken` and not inside any of
    /// `excluded` (sub-CIDRs, whose addresses belong to their own peers).
    public static func firstFree(in network: IPNetwork, taken: Set<IPAddress>, excluded: [IPNetwork]) -> IPAddress? {
        let last = lastAddress(of: network)
        var candidate: IPAddress? = network.canonical.address
        while let ip = candidate {
            if let blocking = excluded.first(where: { $0.contains(ip) }) {
                let end = lastAddress(of: blocking)
                if end == last { return nil }
                candidate = next(end)
                continue
            }
            if !taken.contains(ip), isAssignable(ip, in: network) { return ip }
            if ip == last { return nil }
            candidate = next(ip)
        }
        return nil
    }
}
