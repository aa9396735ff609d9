import FormnetKit
import WireGuard

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
