import FormnetKit
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

/// What one observer saw of a member's WireGuard port.
public struct MappingObservation: Sendable, Equatable, Codable {
    /// Who observed it (the server, a relay): distinct observers are what reveal symmetric NATs.
    public var observer: String
    public var destination: Endpoint
    public var seen: Endpoint

    public init(observer: String, destination: Endpoint, seen: Endpoint) {
        self.observer = observer
        self.destination = destination
        self.seen = seen
    }
}

public enum NatTypeInference {
    /// - Parameters:
    ///   - localPort: the WireGuard listen port.
    ///   - localAddresses: the host's own addresses.
    ///   - observations: recent mappings, one per destination.
    ///   - udpAnswered: false when UDP probes went unanswered while TCP reached an observer.
    public static func infer(localPort: UInt16, localAddresses: Set<IPAddress>,
                             observations: [MappingObservation], udpAnswered: Bool = true) -> NatType {
        guard udpAnswered else { return .udpBlocked }
        guard let first = observations.first else { return .unknown }
        if localAddresses.contains(first.seen.address) && first.seen.port == localPort { return .open }
        let destinations = Set(observations.map(\.destination))
        let mappings = Set(observations.map(\.seen))
        if mappings.count > 1 { return .symmetric }
        // One mapping seen from a single destination proves nothing about the others.
        guard destinations.count > 1 else { return .unknown }
        return first.seen.port == localPort ? .portPreserving : .endpointIndependent
    }
}
