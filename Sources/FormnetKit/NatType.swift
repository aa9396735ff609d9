import WireGuard

/// How a member's NAT maps and filters its WireGuard port, as far as observers can tell.
public enum NatType: String, Codable, Sendable, CaseIterable {
    /// Observed at one of its own addresses: no NAT, reachable unsolicited.
    case open
    /// One mapping for every destination, and the local port kept (Linux masquerade).
    case portPreserving = "port-preserving"
    /// One mapping for every destination, on another port.
    case endpointIndependent = "endpoint-independent"
    /// A different mapping per destination: hole punching cannot predict it.
    case symmetric
    /// No UDP gets through at all (only TCP).
    case udpBlocked = "udp-blocked"
    /// Too few observations to say.
    case unknown

    /// Whether a direct WireGuard path between members of these types can be opened.
    /// Hole punching needs each side's mapping to be known in advance to the other, or one side
    /// to accept unsolicited packets: a symmetric side can only reach an open one.
    public static func directPossible(_ a: NatType, _ b: NatType) -> Bool {
        switch (a, b) {
        case (.udpBlocked, _), (_, .udpBlocked): return false
        case (.symmetric, .open), (.open, .symmetric): return true
        case (.symmetric, _), (_, .symmetric): return false
        default: return true
        }
    }
}
