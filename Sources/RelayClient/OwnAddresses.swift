import WireGuard

/// Where this member's WireGuard sends from as others see it: the address the coordination
/// server observes for it, and the host's own (a relay on the same network sees one of those).
/// A relay that sees the member's registration come from anywhere else — a proxy or load
/// balancer in front of it, a second NAT — would see WireGuard's packets come from an address it
/// cannot tell from a stranger's, and is asked for no channel (ADR 10).
public struct OwnAddresses: Sendable, Equatable {
    public var observedByServer: IPAddress
    public var local: Set<IPAddress>

    public init(observedByServer: IPAddress, local: Set<IPAddress>) {
        self.observedByServer = observedByServer
        self.local = local
    }

    /// Whether a relay that sees this member at `observed` would see its WireGuard there too. A
    /// relay reached over the other address family than the server is given the benefit of the
    /// doubt: the server's view says nothing about that family's NAT.
    public func admitsChannels(seenAt observed: IPAddress) -> Bool {
        observed == observedByServer || local.contains(observed) || observed.isIPv4 != observedByServer.isIPv4
    }
}
