import Foundation
import RelayWire
import WireGuard

/// The JSON documents of the status endpoint, built from a snapshot of the relay state.
public enum RelayStatusReport {
    struct Status: Codable {
        var status: String
        var version: String
        var uptime_seconds: Double
        var public_key: String
        var connected_peers: Int
        var active_tunnels: Int
        var max_connections: Int
    }

    struct PeerTunnel: Codable {
        var destination: String
        var frames: UInt64
        var bytes: UInt64
    }

    struct PeerChannel: Codable {
        var peer: String
        var port: UInt16
        /// Where the owner's WireGuard sends from; absent until it has used the channel.
        var learned_address: String?
        var idle_seconds: Double
    }

    struct Peer: Codable {
        var public_key: String
        var transport: String
        var observed_address: String
        var session_age_seconds: Double
        var idle_seconds: Double
        var tunnels: [PeerTunnel]
        var channels: [PeerChannel]
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    public static func status(_ state: RelayState, uptimeSeconds: Double) -> [UInt8] {
        encode(Status(status: "ok", version: state.configuration.version, uptime_seconds: uptimeSeconds,
                      public_key: state.publicKey.base64, connected_peers: state.sessions.count,
                      active_tunnels: state.sessions.tunnelCount, max_connections: state.configuration.maxConnections))
    }

    public static func peers(_ state: RelayState) -> [UInt8] {
        encode(state.sessions.keys.map(\.base64).sorted())
    }

    /// Nil when the key is not registered.
    public static func peer(_ key: PublicKey, in state: RelayState, nowMillis: UInt64) -> [UInt8]? {
        guard let session = state.sessions.session(forKey: key) else { return nil }
        let (transport, address): (String, RelayAddress) = switch session.binding {
        case .udp(let a): ("udp", a)
        case .tcp(_, let a): ("tcp", a)
        }
        return encode(Peer(public_key: key.base64, transport: transport, observed_address: address.description,
                           session_age_seconds: Double(nowMillis &- session.registeredAtMillis) / 1000,
                           idle_seconds: Double(nowMillis &- session.lastSeenMillis) / 1000,
                           tunnels: session.tunnels.map { PeerTunnel(destination: $0.destination.publicKey.base64, frames: $0.frames, bytes: $0.bytes) },
                           channels: state.channels.byDescriptor.values.filter { $0.owner == PeerID(key) }
                               .sorted { $0.port < $1.port }
                               .map { PeerChannel(peer: $0.peer.publicKey.base64, port: $0.port, learned_address: $0.learned?.description,
                                                  idle_seconds: Double(nowMillis &- $0.lastUseMillis) / 1000) }))
    }

    private static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        ((try? encoder.encode(value)).map(Array.init) ?? Array("{}".utf8)) + [0x0A]
    }
}
