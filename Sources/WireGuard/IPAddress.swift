import Foundation

/// An IPv4 or IPv6 address, parsed and printed with the C library's inet_pton/inet_ntop so that
/// every textual form the system accepts is accepted here too.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(UInt32)              // host byte order
    case v6(UInt64, UInt64)      // high and low halves, host byte order

    public init?(_ text: String) {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self = .v4(UInt32(bigEndian: v4.s_addr))
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            self.init(v6Bytes: withUnsafeBytes(of: v6) { Array($0) })!
        } else {
            return nil
        }
    }

    /// Network-order bytes: 4 for IPv4, 16 for IPv6.
    public init?(bytes: [UInt8]) {
        switch bytes.count {
        case 4: self = .v4(bytes.reduce(0) { $0 << 8 | UInt32($1) })
        case 16: self.init(v6Bytes: bytes)
        default: return nil
        }
    }

    private init?(v6Bytes b: [UInt8]) {
        guard b.count == 16 else { return nil }
        let hi = b[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let lo = b[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        self = .v6(hi, lo)
    }

    public var isIPv4: Bool { if case .v4 = self { true } else { false } }
    public var family: Int32 { isIPv4 ? AF_INET : AF_INET6 }
    public var bitWidth: Int { isIPv4 ? 32 : 128 }

    /// Network-order bytes.
    public var bytes: [UInt8] {
        switch self {
        case .v4(let a): return (0..<4).map { UInt8(truncatingIfNeeded: a >> (24 - 8 * $0)) }
        case .v6(let hi, let lo):
            return (0..<8).map { UInt8(truncatingIfNeeded: hi >> (56 - 8 * $0)) }
                + (0..<8).map { UInt8(truncatingIfNeeded: lo >> (56 - 8 * $0)) }
        }
    }

    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let raw = bytes
        _ = raw.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The address with every bit past `prefix` cleared.
    public func masked(to prefix: Int) -> IPAddress {
        switch self {
        case .v4(let a):
            let mask: UInt32 = prefix == 0 ? 0 : ~UInt32(0) << (32 - prefix)
            return .v4(a & mask)
        case .v6(let hi, let lo):
            let hiMask: UInt64 = prefix >= 64 ? ~0 : (prefix == 0 ? 0 : ~UInt64(0) << (64 - prefix))
            let loMask: UInt64 = prefix <= 64 ? 0 : (prefix == 128 ? ~0 : ~UInt64(0) << (128 - prefix))
            return .v6(hi & hiMask, lo & loMask)
        }
    }
}

/// An address with a prefix length: an allowed-IP entry, an interface address or a route.
public struct IPNetwork: Hashable, Sendable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    public init?(address: IPAddress, prefixLength: Int) {
        guard (0...address.bitWidth).contains(prefixLength) else { return nil }
        self.address = address
        self.prefixLength = prefixLength
    }

    /// "10.0.0.1/24", "fd00::/64"; a bare address means a host prefix (/32 or /128).
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPAddress(String(parts[0])) else { return nil }
        var prefix = address.bitWidth
        if parts.count == 2 {
            guard let p = Int(parts[1]), String(p) == parts[1] else { return nil }
            prefix = p
        }
        self.init(address: address, prefixLength: prefix)
    }

    /// The network with host bits cleared (what a route or allowed-IP entry means).
    public var canonical: IPNetwork { IPNetwork(address: address.masked(to: prefixLength), prefixLength: prefixLength)! }

    public func contains(_ other: IPAddress) -> Bool {
        other.isIPv4 == address.isIPv4 && other.masked(to: prefixLength) == address.masked(to: prefixLength)
    }

    public var description: String { "\(address)/\(prefixLength)" }
}

/// A UDP endpoint: "1.2.3.4:51820" or "[fd00::1]:51820".
public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    public let address: IPAddress
    public let port: UInt16

    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    public init?(_ text: String) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"),
                  text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard let address = IPAddress(String(host)), !(text.hasPrefix("[") == address.isIPv4),
              let port = UInt16(portText), String(port) == portText else { return nil }
        self.init(address: address, port: port)
    }

    public var description: String {
        address.isIPv4 ? "\(address):\(port)" : "[\(address)]:\(port)"
    }
}
