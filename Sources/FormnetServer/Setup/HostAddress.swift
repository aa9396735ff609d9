import Foundation
import WireGuard

/// The host's own addresses, for `new --auto-external-endpoint`.
public enum HostAddress {
    /// The first address of an interface that is up and not loopback: IPv4 first, then a
    /// global IPv6 address (link-local ones cannot be reached from elsewhere).
    public static func firstNonLoopback() throws -> IPAddress {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { throw StoreError(.notFound, "cannot list the host's addresses (errno \(errno))") }
        defer { freeifaddrs(list) }
        var found: [IPAddress] = []
        var cursor = list
        while let entry = cursor?.pointee {
            defer { cursor = entry.ifa_next }
            let flags = Int32(entry.ifa_flags)
            guard flags & Int32(IFF_UP) != 0, flags & Int32(IFF_LOOPBACK) == 0, let socketAddress = entry.ifa_addr else { continue }
            switch Int32(socketAddress.pointee.sa_family) {
            case AF_INET:
                let address = socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
                found.append(.v4(UInt32(bigEndian: address)))
            case AF_INET6:
                let bytes = socketAddress.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                    withUnsafeBytes(of: pointer.pointee.sin6_addr) { Array($0) }
                }
                if let address = IPAddress(bytes: bytes), !(bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80) {
                    found.append(address)
                }
            default: continue
            }
        }
        guard let address = found.first(where: \.isIPv4) ?? found.first else {
            throw StoreError(.notFound, "the host has no non-loopback address; pass --external-endpoint")
        }
        return address
    }
}
