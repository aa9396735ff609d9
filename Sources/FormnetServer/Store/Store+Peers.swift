import FormnetKit
import Foundation
import GRDB
import WireGuard

/// How a new peer gets its tunnel IP.
public enum PeerAddressChoice: Sendable, Equatable {
    /// The IP in the peer's contents.
    case given
    /// The first free assignable IP of the peer's CIDR, outside its sub-CIDRs.
    case firstFree
}

extension Store {
    /// Adds a peer after checking every invariant. `beforeCommit` runs inside the transaction
    /// with the stored peer; if it throws (say, the invitation file cannot be written) the
    /// peer is not added.
    @discardableResult
    public func addPeer(_ contents: API.PeerContents, address: PeerAddressChoice = .given,
                        beforeCommit: (NetworkPeer) throws -> Void = { _ in }) throws -> NetworkPeer {
        try queue.write { db in
            var contents = contents
            if address == .firstFree {
                contents.ip = try Self.firstFreeIP(db, cidrID: contents.cidrId)
            }
            try Self.checkNewPeer(db, contents)
            try db.execute(sql: """
                INSERT INTO peers (name, ip, cidr_id, public_key, endpoint, endpoint_overridden, persistent_keepalive,
                                   is_admin, is_disabled, is_redeemed, invite_expires)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [
                    contents.name, contents.ip.description, contents.cidrId, contents.publicKey.base64,
                    contents.endpoint?.description, contents.endpoint != nil, contents.persistentKeepalive.map { Int64($0) },
                    contents.isAdmin, contents.isDisabled, contents.isRedeemed,
                    contents.inviteExpires?.timeIntervalSince1970,
                ])
            let id = db.lastInsertedRowID
            guard let peer = try Self.peers(db, where: "id = ?", [id]).first else {
                throw StoreError(.notFound, "peer \(id) vanished while being added")
            }
            try beforeCommit(peer)
            return peer
        }
    }

    /// The first IP a new peer of the CIDR would get.
    public func firstFreeIP(cidrID: Int64) throws -> IPAddress {
        try queue.read { try Self.firstFreeIP($0, cidrID: cidrID) }
    }

    /// Changes what may change about a peer: name, admin and disabled flags, keepalive, and the
    /// endpoint (a new value becomes an override; nil clears one). Its IP, CIDR, key and
    /// invitation state belong to it for life (a key changes only by redeeming).
    @discardableResult
    public func updatePeer(id: Int64, to contents: API.PeerContents) throws -> NetworkPeer {
        try queue.write { db in
            guard let current = try Self.peers(db, where: "id = ?", [id]).first else {
                throw StoreError(.notFound, "no peer with id \(id)")
            }
            var fixed: [String] = []
            if contents.ip != current.ip { fixed.append("ip") }
            if contents.cidrId != current.cidrId { fixed.append("cidrId") }
            if contents.publicKey != current.publicKey { fixed.append("publicKey") }
            if contents.isRedeemed != current.isRedeemed { fixed.append("isRedeemed") }
            if contents.inviteExpires != current.inviteExpires { fixed.append("inviteExpires") }
            guard fixed.isEmpty else {
                throw StoreError(.invalid, "\(fixed.joined(separator: ", ")) of peer '\(current.name)' cannot be changed")
            }
            if contents.name != current.name {
                try Self.checkPeerName(db, contents.name)
            }
            if contents.endpoint != current.endpoint {
                try db.execute(sql: "UPDATE peers SET endpoint = ?, endpoint_overridden = ? WHERE id = ?",
                               arguments: [contents.endpoint?.description, contents.endpoint != nil, id])
            }
            try db.execute(sql: """
                UPDATE peers SET name = ?, is_admin = ?, is_disabled = ?, persistent_keepalive = ? WHERE id = ?
                """, arguments: [contents.name, contents.isAdmin, contents.isDisabled,
                                 contents.persistentKeepalive.map { Int64($0) }, id])
            guard let peer = try Self.peers(db, where: "id = ?", [id]).first else {
                throw StoreError(.notFound, "no peer with id \(id)")
            }
            return peer
        }
    }

    /// Replaces an invitation's temporary key with the member's own and marks it redeemed.
    /// Returns the key it replaced.
    public func redeem(peerID: Int64, newKey: PublicKey, now: Date) throws -> (oldKey: PublicKey, peer: NetworkPeer) {
        try queue.write { db in
            guard let peer = try Self.peers(db, where: "id = ?", [peerID]).first else {
                throw StoreError(.notFound, "no peer with id \(peerID)")
            }
            guard !peer.isRedeemed else { throw StoreError(.conflict, "the invitation of peer '\(peer.name)' was already redeemed") }
            if let expires = peer.inviteExpires, expires <= now {
                throw StoreError(.invalid, "the invitation of peer '\(peer.name)' expired at \(expires.ISO8601Format())")
            }
            guard newKey != peer.publicKey else {
                throw StoreError(.invalid, "the new public key must not be the invitation's temporary key")
            }
            try Self.checkPublicKeyFree(db, newKey)
            try db.execute(sql: "UPDATE peers SET public_key = ?, is_redeemed = 1, invite_expires = NULL WHERE id = ?",
                           arguments: [newKey.base64, peerID])
            guard let redeemed = try Self.peers(db, where: "id = ?", [peerID]).first else {
                throw StoreError(.notFound, "no peer with id \(peerID)")
            }
            return (peer.publicKey, redeemed)
        }
    }

    /// Sets the endpoint a peer wants others to use, or with nil returns it to the observed one.
    public func setEndpointOverride(peerID: Int64, _ endpoint: Endpoint?) throws {
        try queue.write { db in
            try db.execute(sql: "UPDATE peers SET endpoint = ?, endpoint_overridden = ? WHERE id = ?",
                           arguments: [endpoint?.description, endpoint != nil, peerID])
            guard db.changesCount == 1 else { throw StoreError(.notFound, "no peer with id \(peerID)") }
        }
    }

    /// Records endpoints the server's WireGuard device saw, for peers that have not overridden
    /// theirs. Returns how many peers changed.
    @discardableResult
    public func recordObservedEndpoints(_ observed: [PublicKey: Endpoint]) throws -> Int {
        try queue.write { db in
            var changed = 0
            for (key, endpoint) in observed {
                try db.execute(sql: """
                    UPDATE peers SET endpoint = ?
                    WHERE public_key = ? AND endpoint_overridden = 0 AND (endpoint IS NULL OR endpoint != ?)
                    """, arguments: [endpoint.description, key.base64, endpoint.description])
                changed += db.changesCount
            }
            return changed
        }
    }

    /// Replaces a peer's host candidates (more than `API.maxCandidates` are refused) and, when
    /// given, the NAT type it measured and the relays it is registered with, home first.
    public func setCandidates(peerID: Int64, _ candidates: [Endpoint], natType: NatType? = nil,
                              relays: [PublicKey]? = nil) throws {
        guard candidates.count <= API.maxCandidates else {
            throw StoreError(.invalid, "\(candidates.count) candidates is more than the limit of \(API.maxCandidates)")
        }
        if let relays { try Self.checkReportedRelays(relays) }
        try queue.write { db in
            guard try Self.peers(db, where: "id = ?", [peerID]).first != nil else {
                throw StoreError(.notFound, "no peer with id \(peerID)")
            }
            try db.execute(sql: "DELETE FROM candidates WHERE peer_id = ?", arguments: [peerID])
            if let natType {
                try db.execute(sql: "UPDATE peers SET nat_type = ? WHERE id = ?", arguments: [natType.rawValue, peerID])
            }
            for (position, endpoint) in candidates.enumerated() {
                try db.execute(sql: "INSERT INTO candidates (peer_id, position, endpoint) VALUES (?, ?, ?)",
                               arguments: [peerID, position, endpoint.description])
            }
            if let relays {
                try db.execute(sql: "DELETE FROM reported_relays WHERE peer_id = ?", arguments: [peerID])
                for (position, key) in relays.enumerated() {
                    try db.execute(sql: "INSERT INTO reported_relays (peer_id, position, public_key) VALUES (?, ?, ?)",
                                   arguments: [peerID, position, key.base64])
                }
            }
        }
    }

    /// Deletes invitations that expired unredeemed, as innernet's sweeper does, and returns them.
    @discardableResult
    public func deleteExpiredInvitations(now: Date) throws -> [NetworkPeer] {
        try queue.write { db in
            let expired = try Self.peers(db, where: "is_redeemed = 0 AND invite_expires IS NOT NULL AND invite_expires <= ?",
                                         [now.timeIntervalSince1970])
            try db.execute(sql: "DELETE FROM peers WHERE is_redeemed = 0 AND invite_expires IS NOT NULL AND invite_expires <= ?",
                           arguments: [now.timeIntervalSince1970])
            return expired
        }
    }

    // MARK: Invariants

    static func checkNewPeer(_ db: Database, _ contents: API.PeerContents) throws {
        try checkPeerName(db, contents.name)
        guard let cidr = try cidr(db, id: contents.cidrId) else {
            throw StoreError(.invalid, "no CIDR with id \(contents.cidrId)")
        }
        guard cidr.cidr.contains(contents.ip) else {
            throw StoreError(.invalid, "\(contents.ip) is outside CIDR '\(cidr.name)' (\(cidr.cidr))")
        }
        guard AddressRules.isAssignable(contents.ip, in: cidr.cidr) else {
            throw StoreError(.invalid, "\(contents.ip) is the network or broadcast address of CIDR '\(cidr.name)' (\(cidr.cidr))")
        }
        if let child = try cidrs(db).first(where: { $0.parent == cidr.id && $0.cidr.contains(contents.ip) }) {
            throw StoreError(.invalid, "\(contents.ip) lies in sub-CIDR '\(child.name)' (\(child.cidr)); add the peer there")
        }
        if let holder = try peers(db, where: "ip = ?", [contents.ip.description]).first {
            throw StoreError(.conflict, "\(contents.ip) is taken by peer '\(holder.name)'")
        }
        try checkPublicKeyFree(db, contents.publicKey)
    }

    static func checkPeerName(_ db: Database, _ name: String) throws {
        do {
            try Names.validateHost(name)
        } catch {
            throw StoreError(.invalid, error.description)
        }
        if try Bool.fetchOne(db, sql: "SELECT 1 FROM peers WHERE name = ?", arguments: [name]) != nil {
            throw StoreError(.conflict, "a peer named '\(name)' already exists")
        }
    }

    static func checkPublicKeyFree(_ db: Database, _ key: PublicKey) throws {
        if let holder = try String.fetchOne(db, sql: "SELECT name FROM peers WHERE public_key = ?", arguments: [key.base64]) {
            throw StoreError(.conflict, "public key \(key.base64) is already used by peer '\(holder)'")
        }
    }

    static func firstFreeIP(_ db: Database, cidrID: Int64) throws -> IPAddress {
        guard let cidr = try cidr(db, id: cidrID) else { throw StoreError(.invalid, "no CIDR with id \(cidrID)") }
        let taken = Set(try peers(db, where: "cidr_id = ?", [cidrID]).map(\.ip))
        let children = try cidrs(db).filter { $0.parent == cidrID }.map(\.cidr)
        guard let ip = AddressRules.firstFree(in: cidr.cidr, taken: taken, excluded: children) else {
            throw StoreError(.conflict, "CIDR '\(cidr.name)' (\(cidr.cidr)) has no free address left")
        }
        return ip
    }
}
