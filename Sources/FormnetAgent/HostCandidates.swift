import Foundation
import WireGuard

/// This host's own addresses, which peers on the same network can try before the address the
/// server observed (host candidates, in ICE's terms).
public enum HostCandidates {
    public typealias InterfaceAddress = WireGuard.InterfaceAddress

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
}
