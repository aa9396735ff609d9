import Foundation
import FormnetKit
import WireGuard

/// The last state fetched from the server and the keys pinned to tunnel IPs, kept as JSON in
/// the data dir so `show` works offline and `up` can configure peers while the server is down.
public struct PeerCache: Codable, Sendable, Equatable {
    public var state: API.State
    /// Tunnel IP (as text) → the key first seen for it.
    public var pinnedKeys: [String: PublicKey]

    public init(state: API.State = API.State(peers: [], cidrs: []), pinnedKeys: [String: PublicKey] = [:]) {
        self.state = state
        self.pinnedKeys = pinnedKeys
    }

    /// The server's view of each peer's endpoint at the last fetch.
    public var endpoints: [PublicKey: Endpoint] {
        var result: [PublicKey: Endpoint] = [:]
        for peer in state.peers {
            if let endpoint = peer.endpoint { result[peer.publicKey] = endpoint }
        }
        return result
    }

    /// A missing cache is an empty one. A corrupt one is reported through `warn` and replaced by
    /// an empty one: the next fetch rebuilds it, at the cost of re-pinning keys.
    public static func load(from path: String, warn: (String) -> Void) -> PeerCache {
        guard let data = FileManager.default.contents(atPath: path) else { return PeerCache() }
        do {
            return try API.decoder().decode(PeerCache.self, from: data)
        } catch {
            warn("warning: the peer cache \(path) is unreadable (\(error)); starting with an empty cache")
            return PeerCache()
        }
    }

    public func save(to path: String) throws {
        let data = try API.encoder().encode(self)
        try AtomicFile.write(String(decoding: data, as: UTF8.self), to: path, mode: 0o600)
    }
}
