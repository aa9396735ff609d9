import FormnetKit
import Foundation
import GRDB
import WireGuard

extension Store {
    /// Adds a CIDR under an existing parent: a proper sub-range of it, in canonical form, not
    /// overlapping its siblings, and not covering addresses the parent's own peers hold.
    @discardableResult
    public func addCidr(_ contents: API.CidrContents) throws -> Cidr {
        try queue.write { db in
            try Self.checkCidrName(db, contents.name)
            guard let parentID = contents.parent else {
                throw StoreError(.invalid, "a new CIDR needs a parent: the network has its root CIDR already")
            }
            guard let parent = try Self.cidr(db, id: parentID) else {
                throw StoreError(.invalid, "no CIDR with id \(parentID) to be the parent")
            }
            let range = contents.cidr
            guard range == range.canonical else {
                throw StoreError(.invalid, "\(range) has host bits set; did you mean \(range.canonical)?")
            }
            guard AddressRules.isStrictlyInside(range, parent.cidr) else {
                throw StoreError(.invalid, "\(range) is not inside parent CIDR '\(parent.name)' (\(parent.cidr))")
            }
            let all = try Self.cidrs(db)
            if let sibling = all.first(where: { $0.parent == parentID && AddressRules.overlaps($0.cidr, range) }) {
                throw StoreError(.conflict, "\(range) overlaps CIDR '\(sibling.name)' (\(sibling.cidr))")
            }
            if let peer = try Self.peers(db, where: "cidr_id = ?", [parentID]).first(where: { range.contains($0.ip) }) {
                throw StoreError(.conflict, "\(range) covers \(peer.ip), held by peer '\(peer.name)' of CIDR '\(parent.name)'")
            }
            try db.execute(sql: "INSERT INTO cidrs (name, cidr, parent) VALUES (?, ?, ?)",
                           arguments: [contents.name, range.description, parentID])
            return Cidr(id: db.lastInsertedRowID, name: contents.name, cidr: range, parent: parentID)
        }
    }

    /// Changes what may change about a CIDR: its name. Its range and place in the tree are fixed
    /// because peers' addresses and associations depend on them.
    @discardableResult
    public func updateCidr(id: Int64, to contents: API.CidrContents) throws -> Cidr {
        try queue.write { db in
            guard let current = try Self.cidr(db, id: id) else { throw StoreError(.notFound, "no CIDR with id \(id)") }
            guard contents.cidr == current.cidr, contents.parent == current.parent else {
                throw StoreError(.invalid, "the range and parent of CIDR '\(current.name)' cannot be changed; only its name")
            }
            if contents.name != current.name {
                try Self.checkCidrName(db, contents.name)
                try db.execute(sql: "UPDATE cidrs SET name = ? WHERE id = ?", arguments: [contents.name, id])
            }
            return Cidr(id: id, name: contents.name, cidr: current.cidr, parent: current.parent)
        }
    }

    /// Deletes a CIDR that holds no peers and no sub-CIDRs, with its associations.
    public func deleteCidr(id: Int64) throws {
        try queue.write { db in
            guard let cidr = try Self.cidr(db, id: id) else { throw StoreError(.notFound, "no CIDR with id \(id)") }
            guard cidr.parent != nil else { throw StoreError(.invalid, "CIDR '\(cidr.name)' is the network's root and cannot be deleted") }
            let peerCount = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM peers WHERE cidr_id = ?", arguments: [id]) ?? 0
            guard peerCount == 0 else {
                throw StoreError(.conflict, "CIDR '\(cidr.name)' still has \(peerCount) peer(s)")
            }
            let childCount = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM cidrs WHERE parent = ?", arguments: [id]) ?? 0
            guard childCount == 0 else {
                throw StoreError(.conflict, "CIDR '\(cidr.name)' still has \(childCount) sub-CIDR(s)")
            }
            try db.execute(sql: "DELETE FROM cidrs WHERE id = ?", arguments: [id])
        }
    }

    /// Lets the peers of two CIDRs (and of their sub-CIDRs) see each other.
    @discardableResult
    public func addAssociation(_ contents: API.AssociationContents) throws -> FormnetKit.Association {
        try queue.write { db in
            let low = min(contents.cidrId1, contents.cidrId2)
            let high = max(contents.cidrId1, contents.cidrId2)
            guard low != high else { throw StoreError(.invalid, "a CIDR cannot be associated with itself") }
            for id in [low, high] where try Self.cidr(db, id: id) == nil {
                throw StoreError(.invalid, "no CIDR with id \(id)")
            }
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM associations WHERE cidr_id_1 = ? AND cidr_id_2 = ?", arguments: [low, high]) != nil {
                throw StoreError(.conflict, "CIDRs \(low) and \(high) are already associated")
            }
            try db.execute(sql: "INSERT INTO associations (cidr_id_1, cidr_id_2) VALUES (?, ?)", arguments: [low, high])
            return FormnetKit.Association(id: db.lastInsertedRowID, cidrId1: low, cidrId2: high)
        }
    }

    public func deleteAssociation(id: Int64) throws {
        try queue.write { db in
            try db.execute(sql: "DELETE FROM associations WHERE id = ?", arguments: [id])
            guard db.changesCount == 1 else { throw StoreError(.notFound, "no association with id \(id)") }
        }
    }

    /// Lays out a new network in an empty database, as `innernet-server new` does: the root
    /// CIDR named after the network, the server's infrastructure CIDR (a single address), and
    /// the server as its admin peer holding that address.
    public func createNetwork(name: String, root: IPNetwork, serverIP: IPAddress, serverKey: PublicKey,
                              externalEndpoint: Endpoint) throws {
        try queue.write { db in
            guard try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM cidrs") == 0 else {
                throw StoreError(.conflict, "the database already holds a network")
            }
            try db.execute(sql: "INSERT INTO cidrs (name, cidr, parent) VALUES (?, ?, NULL)", arguments: [name, root.description])
            let rootID = db.lastInsertedRowID
            let infrastructure = IPNetwork(address: serverIP, prefixLength: serverIP.bitWidth)
            guard let infrastructure, AddressRules.isStrictlyInside(infrastructure, root) else {
                throw StoreError(.invalid, "the server's address \(serverIP) is not inside \(root)")
            }
            try db.execute(sql: "INSERT INTO cidrs (name, cidr, parent) VALUES (?, ?, ?)",
                           arguments: [ServerNames.infrastructureCidr, infrastructure.description, rootID])
            let infrastructureID = db.lastInsertedRowID
            try db.execute(sql: """
                INSERT INTO peers (name, ip, cidr_id, public_key, endpoint, endpoint_overridden, persistent_keepalive,
                                   is_admin, is_disabled, is_redeemed)
                VALUES (?, ?, ?, ?, ?, 1, ?, 1, 0, 1)
                """, arguments: [ServerNames.serverPeer, serverIP.description, infrastructureID, serverKey.base64,
                                 externalEndpoint.description, Int64(DesiredPeer.defaultKeepalive)])
        }
    }

    static func checkCidrName(_ db: Database, _ name: String) throws {
        do {
            try Names.validateHost(name, kind: "CIDR")
        } catch {
            throw StoreError(.invalid, error.description)
        }
        if try Bool.fetchOne(db, sql: "SELECT 1 FROM cidrs WHERE name = ?", arguments: [name]) != nil {
            throw StoreError(.conflict, "a CIDR named '\(name)' already exists")
        }
    }
}

/// Names and defaults a new network starts with.
public enum ServerNames {
    public static let infrastructureCidr = "formnet-server"
    public static let serverPeer = "formnet-server"
}
