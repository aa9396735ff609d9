import Foundation
import FormnetKit
import WireGuard

/// What the daemon last knew of this member's NAT and of each peer's path, written to the data
/// dir so that `formnet show`, another process, can report it.
public struct TraversalStatus: Codable, Sendable, Equatable {
    public enum Path: String, Codable, Sendable {
        /// A direct WireGuard handshake completed.
        case direct
        /// Candidates are being tried.
        case connecting
        /// No direct path: the NAT types rule it out, or every candidate failed, and no relay is usable.
        case unreachableDirect = "unreachable-direct"
        /// Carried through a relay (the endpoint is the relay's): a handshake went through it.
        case relayed
        /// Routed through a relay, but no handshake went through it yet, or none lately (the
        /// reason says which).
        case relayConnecting = "relay-connecting"

    }

    public struct PeerPath: Codable, Sendable, Equatable {
        public var path: Path
        public var endpoint: Endpoint?
        /// The peer's NAT type as it reported it.
        public var natType: NatType?
        /// Why the path is unreachable-direct.
        public var reason: String?
        /// Seconds from the successful attempt's start to the handshake.
        public var timeToHandshake: Double?
        /// The relay's public key (base64) when relayed or connecting through one.
        public var relay: String?
        /// Smoothed round-trip time through the tunnel in seconds, and fraction of probes lost,
        /// measured on a direct path.
        public var rtt: Double?
        public var loss: Double?

        public init(path: Path, endpoint: Endpoint? = nil, natType: NatType? = nil, reason: String? = nil,
                    timeToHandshake: Double? = nil, relay: String? = nil) {
            self.relay = relay
            self.path = path
            self.endpoint = endpoint
            self.natType = natType
            self.reason = reason
            self.timeToHandshake = timeToHandshake
        }
    }

    /// This member's NAT type as its last probe inferred it.
    public var natType: NatType
    /// By the peer's public key (base64).
    public var peers: [String: PeerPath]

    public init(natType: NatType = .unknown, peers: [String: PeerPath] = [:]) {
        self.natType = natType
        self.peers = peers
    }

    /// The status at `path`; nil when there is none or it cannot be read (show then omits paths).
    public static func load(from path: String) -> TraversalStatus? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(TraversalStatus.self, from: data)
    }

    public func save(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try AtomicFile.write(String(decoding: try encoder.encode(self), as: UTF8.self), to: path, mode: 0o644)
    }
}
