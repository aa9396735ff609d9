/// How one peer of a device should look: what a member derives from the server's state, and
/// what the server derives from its store.
public struct DesiredPeer: Sendable, Equatable {
    public var publicKey: PublicKey
    public var allowedIPs: [IPNetwork]
    public var endpoint: Endpoint?
    public var persistentKeepalive: UInt16

    public init(publicKey: PublicKey, allowedIPs: [IPNetwork], endpoint: Endpoint?, persistentKeepalive: UInt16) {
        self.publicKey = publicKey
        self.allowedIPs = allowedIPs
        self.endpoint = endpoint
        self.persistentKeepalive = persistentKeepalive
    }

    /// Seconds; innernet's keepalive for every peer. Frequent enough to hold NAT mappings open,
    /// and it lets the server observe each member's endpoint.
    public static let defaultKeepalive: UInt16 = 25
}
