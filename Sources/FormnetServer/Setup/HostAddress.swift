import Foundation
import WireGuard

/// The host's own addresses, for `new --auto-external-endpoint`.
public enum HostAddress {
    /// The first address of an interface that is up and not loopback: IPv4 first, then a
    /// global IPv6 address (link-local ones cannot be reached from elsewhere).
    public static func firstNonLoopback() throws -> IPAddress {
        let linkLocal = IPNetwork("fe80::/10")!
        let found = InterfaceAddress.all()
            .filter { $0.isUp && !$0.isLoopback && !linkLocal.contains($0.address) }
            .map(\.address)
        guard let address = found.first(where: \.isIPv4) ?? found.first else {
            throw StoreError(.notFound, "the host has no non-loopback address; pass --external-endpoint")
        }
        return address
    }
}
