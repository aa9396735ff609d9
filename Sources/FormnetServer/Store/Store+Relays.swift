import FormnetKit
import Foundation
import GRDB
import WireGuard

/// A relay announcement as stored: what the member sent and when it last renewed it. The
/// endpoint members are given is settled only when a state is built (`Visibility.relays`):
/// without an explicit one it follows the member's observed address, which moves on its own.
public struct StoredRelay: Sendable, Equatable {
    /// The member that runs the relay.
    public var peerId: Int64
    public var announcement: API.RelayAnnouncement
    public var lastSeen: Date

    public init(peerId: Int64, announcement: API.RelayAnnouncement, lastSeen: Date) {
        self.peerId = peerId
        self.announcement = announcement
        self.lastSeen = lastSeen
    }

    /// Whether the announcement is still renewed often enough to be listed.
    public func isLive(at now: Date) -> Bool {
        now.timeIntervalSince(lastSeen) <= Store.relayExpirySeconds
    }
}

extension Store {
    static let relayExpirySeconds = Double(API.relayExpiry.components.seconds)
        + Double(API.relayExpiry.components.attoseconds) / 1e18

    /// Records the relay a member runs, replacing what it announced before (one relay per member).
    /// Without an explicit endpoint the member's own endpoint must be known, or members would be
    /// given a relay they cannot reach. A relay key another member announces live is refused:
    /// members name relays by key, and the first holder keeps it until its announcement expires.
    public func announceRelay(peerID: Int64, _ announcement: API.RelayAnnouncement, now: Date) throws {
        try Self.checkAnnouncement(announcement)
        try queue.write { db in
            guard let peer = try Self.peers(db, where: "id = ?", [peerID]).first else {
                throw StoreError(.notFound, "no peer with id \(peerID)")
            }
            if announcement.endpoint == nil, peer.endpoint == nil {
                throw StoreError(.conflict, "the server has not observed this member's public address yet; give --endpoint")
            }
            let key = announcement.publicKey.base64
            let cutoff = now.timeIntervalSince1970 - Self.relayExpirySeconds
            if let holder = try String.fetchOne(db, sql: """
                SELECT peers.name FROM relays JOIN peers ON peers.id = relays.peer_id
                WHERE relays.public_key = ? AND relays.peer_id != ? AND relays.last_seen >= ?
                """, arguments: [key, peerID, cutoff]) {
                throw StoreError(.conflict, "relay key \(key) is already announced by peer '\(holder)'")
            }
            try db.execute(sql: "DELETE FROM relays WHERE public_key = ? AND peer_id != ?", arguments: [key, peerID])
            try db.execute(sql: """
                INSERT OR REPLACE INTO relays (peer_id, public_key, port, endpoint, latitude, longitude, country,
                                               capacity, load, last_seen)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [
                    peerID, key, Int64(announcement.port), announcement.endpoint?.description,
                    announcement.location?.latitude, announcement.location?.longitude, announcement.location?.country,
                    announcement.capacity, announcement.load, now.timeIntervalSince1970,
                ])
        }
    }

    /// Forgets the relay a member runs; withdrawing twice is not an error.
    public func withdrawRelay(peerID: Int64) throws {
        try queue.write { db in
            try db.execute(sql: "DELETE FROM relays WHERE peer_id = ?", arguments: [peerID])
        }
    }

    /// Deletes announcements not renewed within `API.relayExpiry` and returns them.
    @discardableResult
    public func deleteExpiredRelays(now: Date) throws -> [StoredRelay] {
        try queue.write { db in
            let cutoff = now.timeIntervalSince1970 - Self.relayExpirySeconds
            let expired = try Row.fetchAll(db, sql: "SELECT * FROM relays WHERE last_seen < ? ORDER BY peer_id", arguments: [cutoff])
                .map(StoredRelay.init(row:))
            try db.execute(sql: "DELETE FROM relays WHERE last_seen < ?", arguments: [cutoff])
            return expired
        }
    }

    static func relays(_ db: Database) throws -> [StoredRelay] {
        try Row.fetchAll(db, sql: "SELECT * FROM relays ORDER BY peer_id").map(StoredRelay.init(row:))
    }

    static func checkAnnouncement(_ announcement: API.RelayAnnouncement) throws {
        guard announcement.port != 0 else { throw StoreError(.invalid, "the relay port must not be 0") }
        if let endpoint = announcement.endpoint, endpoint.port == 0 {
            throw StoreError(.invalid, "the relay endpoint \(endpoint) has port 0")
        }
        guard announcement.capacity >= 1 else {
            throw StoreError(.invalid, "the relay capacity must be at least 1, not \(announcement.capacity)")
        }
        guard announcement.load >= 0 else {
            throw StoreError(.invalid, "the relay load must not be negative, not \(announcement.load)")
        }
        if let location = announcement.location {
            guard (-90...90).contains(location.latitude), (-180...180).contains(location.longitude) else {
                throw StoreError(.invalid, "the relay location \(location.latitude),\(location.longitude) is not on the globe "
                                 + "(latitude -90…90, longitude -180…180)")
            }
            if let country = location.country, country.count != 2 || !country.allSatisfy({ $0.isASCII && $0.isLetter }) {
                throw StoreError(.invalid, "the relay country '\(country)' is not a two-letter ISO 3166-1 code")
            }
        }
    }

    /// A member's relays, home first: at most `API.maxReportedRelays`, each once.
    static func checkReportedRelays(_ relays: [PublicKey]) throws {
        guard relays.count <= API.maxReportedRelays else {
            throw StoreError(.invalid, "\(relays.count) relays is more than the limit of \(API.maxReportedRelays)")
        }
        var seen: Set<PublicKey> = []
        for key in relays where !seen.insert(key).inserted {
            throw StoreError(.invalid, "relay \(key.base64) is reported twice")
        }
    }
}
