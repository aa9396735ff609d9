import Foundation
import WireGuard

/// This host's own addresses, which peers on the same network can try before the address the
/// server observed (host candidates, in ICE's terms).
public enum HostCandidates {
    public struct InterfaceAddress: Sendable, Equatable {
        public var interface: String
        public var address: IPAddress
        public var isLoopback: Bool
        public var isUp: Bool
        public init(interface: String, address: IPAddress, isLoopback: Bool = false, isUp: Bool = true) {
            self.interface = interface
            self.address = address
            self.isLoopback = isLoopback
            self.isUp = isUp
        }
    }

    /// Addresses worth reporting: up, not loopback, not link-local (a peer cannot use an fe80::
    /// address without knowing our scope), not on the formnet interface itself (that address is
    /// only reachable through the tunnel being set up), at most `API.maxCandidates`.
    public static func select(_ addresses: [InterfaceAddress], excluding formnetInterface: String,
                              port: UInt16, limit: Int) -> [Endpoint] {
        var seen = Set<IPAddress>()
        var result: [Endpoint] = []
        for entry in addresses where entry.isUp && !entry.isLoopback && entry.interface != formnetInterface
            && !isLoopbackOrLinkLocal(entry.address) && seen.insert(entry.address).inserted {
            result.append(Endpoint(address: entry.address, port: port))
        }
        return Array(result.prefix(limit))
    }

    static func isLoopbackOrLinkLocal(_ address: IPAddress) -> Bool {
        switch address {
        case .v4(let a): return a >> 24 == 127 || a >> 16 == 0xA9FE
        case .v6(let hi, let lo): return (hi == 0 && lo == 1) || hi >> 54 == 0x3FA
        }
    }

    /// Every address of every interface, from getifaddrs(3).
    public static func interfaceAddresses() -> [InterfaceAddress] {
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0, let first = head else { return [] }
        defer { freeifaddrs(head) }
        var result: [InterfaceAddress] = []
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let sockaddr = entry.pointee.ifa_addr, let address = ipAddress(sockaddr) else { continue }
            let flags = entry.pointee.ifa_flags
            result.append(InterfaceAddress(interface: String(cString: entry.pointee.ifa_name), address: address,
                                           isLoopback: flags & UInt32(IFF_LOOPBACK) != 0,
                                           isUp: flags & UInt32(IFF_UP) != 0))
        }
        return result
    }

    private static func ipAddress(_ pointer: UnsafeMutablePointer<sockaddr>) -> IPAddress? {
        switch Int32(pointer.pointee.sa_family) {
        case AF_INET:
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                IPAddress.v4(UInt32(bigEndian: $0.pointee.sin_addr.s_addr))
            }
        case AF_INET6:
            return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                withUnsafeBytes(of: $0.pointee.sin6_addr) { IPAddress(bytes: Array($0)) }
            }
        default:
            return nil
        }
    }
}
