import FormnetKit
import WireGuard

/// Where a candidate endpoint came from, which says how likely it is to work and from where.
public enum EndpointKind: String, Codable, Sendable, CaseIterable {
    /// The member's NAT mapping of its WireGuard port, as the server observed it.
    case serverReflexive = "server-reflexive"
    /// An endpoint the member set by hand (override-endpoint).
    case override
    /// A host address in a public range.
    case `public`
    /// A host address in a private, shared (CGNAT) or link-local range: reachable on the same LAN only.
    case `private`
    /// Through a relay (the relay issue).
    case relayed

    public static func classify(hostAddress address: IPAddress) -> EndpointKind {
        AddressRanges.isPrivate(address) ? .private : .public
    }
}

enum AddressRanges {
    static let privateRanges: [IPNetwork] = [
        "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "127.0.0.0/8",
        "fc00::/7", "fe80::/10", "::1/128",
    ].compactMap(IPNetwork.init)

    static func isPrivate(_ address: IPAddress) -> Bool {
        privateRanges.contains { $0.contains(address) }
    }
}

/// One endpoint to try for a peer.
public struct Candidate: Hashable, Sendable, Codable {
    public var endpoint: Endpoint
    public var kind: EndpointKind

    public init(endpoint: Endpoint, kind: EndpointKind) {
        self.endpoint = endpoint
        self.kind = kind
    }
}
