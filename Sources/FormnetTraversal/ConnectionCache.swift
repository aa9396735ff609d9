import Foundation
import WireGuard

/// Per peer and endpoint, what worked: consulted to order candidates and to skip attempts that
/// failed recently. Bounded (least recently used peers and endpoints go first) and persisted
/// atomically in the data dir.
public struct ConnectionCache: Codable, Sendable, Equatable {
    public static let maxPeers = 1024
    public static let maxEndpointsPerPeer = 8

    struct PeerEntry: Codable, Sendable, Equatable {
        var endpoints: [String: EndpointStats]
        var touched: Double
    }

    private var peers: [String: PeerEntry] = [:]

    public init() {}

    public func stats(for peer: PublicKey) -> [Endpoint: EndpointStats] {
        var out: [Endpoint: EndpointStats] = [:]
        for (text, stats) in peers[peer.base64]?.endpoints ?? [:] {
            if let endpoint = Endpoint(text) { out[endpoint] = stats }
        }
        return out
    }

    public mutating func update(peer: PublicKey, endpoint: Endpoint, kind: EndpointKind, now: Double,
                                _ change: (inout EndpointStats) -> Void) {
        var entry = peers[peer.base64] ?? PeerEntry(endpoints: [:], touched: now)
        var stats = entry.endpoints[endpoint.description] ?? EndpointStats(kind: kind)
        stats.kind = kind
        change(&stats)
        entry.endpoints[endpoint.description] = stats
        entry.touched = now
        if entry.endpoints.count > Self.maxEndpointsPerPeer, let stalest = entry.endpoints.min(by: {
            ($0.value.lastSuccess ?? $0.value.lastFailure ?? 0) < ($1.value.lastSuccess ?? $1.value.lastFailure ?? 0)
        }) {
            entry.endpoints[stalest.key] = nil
        }
        peers[peer.base64] = entry
        if peers.count > Self.maxPeers, let stalest = peers.min(by: { $0.value.touched < $1.value.touched }) {
            peers[stalest.key] = nil
        }
    }

    public mutating func forget(peer: PublicKey) {
        peers[peer.base64] = nil
    }

    public var peerCount: Int { peers.count }

    /// The cache at `path`, or an empty one with a warning when it is missing, unreadable or
    /// corrupt: the cache only speeds things up, so losing it must never stop the agent.
    public static func load(from path: String, warn: (String) -> Void) -> ConnectionCache {
        guard FileManager.default.fileExists(atPath: path) else { return ConnectionCache() }
        guard let data = FileManager.default.contents(atPath: path) else {
            warn("connection cache \(path) is unreadable; starting with an empty cache")
            return ConnectionCache()
        }
        do {
            return try JSONDecoder().decode(ConnectionCache.self, from: data)
        } catch {
            warn("connection cache \(path) is corrupt (\(error)); starting with an empty cache")
            return ConnectionCache()
        }
    }

    public func save(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try SecretFile.write(String(decoding: try encoder.encode(self), as: UTF8.self), to: path)
    }
}
