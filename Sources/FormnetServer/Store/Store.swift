import FormnetKit
import Foundation
import GRDB
import WireGuard

/// The server's registry of one network in SQLite: peers, the CIDR tree, associations,
/// candidates and relays. Every method is one transaction, so a refused change leaves nothing
/// behind. `formnet-server serve` and the admin subcommands open the same file at once; SQLite's
/// locks serialize them and a busy database is waited on rather than failed.
public final class Store: Sendable {
    let queue: DatabaseQueue

    /// Opens the database at `path`, creating it only when `create` is set, and brings its
    /// schema to the latest migration.
    public init(path: String, create: Bool = false) throws {
        if !create, !FileManager.default.fileExists(atPath: path) {
            throw StoreError(.notFound, "no database at \(path)")
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        queue = try DatabaseQueue(path: path, configuration: configuration)
        try StoreMigrations.migrator.migrate(queue)
    }

    /// A private database in memory, for tests.
    public init() throws {
        queue = try DatabaseQueue()
        try StoreMigrations.migrator.migrate(queue)
    }

    /// Identifiers of the migrations applied to this database, oldest first.
    public func appliedMigrations() throws -> [String] {
        try queue.read { try StoreMigrations.migrator.appliedMigrations($0) }
    }

    public static var latestMigrations: [String] { StoreMigrations.migrator.migrations }

    // MARK: Reading

    public func peers() throws -> [NetworkPeer] {
        try queue.read { try Self.peers($0) }
    }

    public func peer(id: Int64) throws -> NetworkPeer? {
        try queue.read { try Self.peers($0, where: "id = ?", [id]).first }
    }

    public func peer(ip: IPAddress) throws -> NetworkPeer? {
        try queue.read { try Self.peers($0, where: "ip = ?", [ip.description]).first }
    }

    public func peer(named name: String) throws -> NetworkPeer? {
        try queue.read { try Self.peers($0, where: "name = ?", [name]).first }
    }

    public func cidrs() throws -> [Cidr] {
        try queue.read { try Self.cidrs($0) }
    }

    public func cidr(id: Int64) throws -> Cidr? {
        try queue.read { try Self.cidr($0, id: id) }
    }

    public func cidr(named name: String) throws -> Cidr? {
        try queue.read { db in try Row.fetchOne(db, sql: "SELECT * FROM cidrs WHERE name = ?", arguments: [name]).map(Cidr.init(row:)) }
    }

    public func associations() throws -> [FormnetKit.Association] {
        try queue.read { db in try Row.fetchAll(db, sql: "SELECT * FROM associations ORDER BY id").map(FormnetKit.Association.init(row:)) }
    }

    /// Peers, CIDRs, associations and relays read together, so visibility is computed on one state.
    public func snapshot() throws -> NetworkSnapshot {
        try queue.read { db in
            NetworkSnapshot(
                peers: try Self.peers(db), cidrs: try Self.cidrs(db),
                associations: try Row.fetchAll(db, sql: "SELECT * FROM associations ORDER BY id").map(FormnetKit.Association.init(row:)),
                relays: try Self.relays(db))
        }
    }

    static func peers(_ db: Database, where condition: String = "1", _ arguments: StatementArguments = []) throws -> [NetworkPeer] {
        let rows = try Row.fetchAll(db, sql: "SELECT * FROM peers WHERE \(condition) ORDER BY id", arguments: arguments)
        return try rows.map { row in
            let id: Int64 = row["id"]
            let candidates = try String.fetchAll(db, sql: "SELECT endpoint FROM candidates WHERE peer_id = ? ORDER BY position", arguments: [id])
                .map { text in
                    guard let endpoint = Endpoint(text) else { throw StoreError(.invalid, "corrupt database: candidate '\(text)'") }
                    return endpoint
                }
            let relays = try String.fetchAll(db, sql: "SELECT public_key FROM reported_relays WHERE peer_id = ? ORDER BY position",
                                             arguments: [id])
                .map { text in
                    guard let key = PublicKey(base64: text) else { throw StoreError(.invalid, "corrupt database: reported relay '\(text)'") }
                    return key
                }
            return try NetworkPeer(row: row, candidates: candidates, relays: relays)
        }
    }

    static func cidrs(_ db: Database) throws -> [Cidr] {
        try Row.fetchAll(db, sql: "SELECT * FROM cidrs ORDER BY id").map(Cidr.init(row:))
    }

    static func cidr(_ db: Database, id: Int64) throws -> Cidr? {
        try Row.fetchOne(db, sql: "SELECT * FROM cidrs WHERE id = ?", arguments: [id]).map(Cidr.init(row:))
    }
}

/// One consistent reading of the whole network.
public struct NetworkSnapshot: Sendable, Equatable {
    public var peers: [NetworkPeer]
    public var cidrs: [Cidr]
    public var associations: [FormnetKit.Association]
    /// Every stored announcement, expired or not, of enabled and disabled members alike.
    public var relays: [StoredRelay]

    public init(peers: [NetworkPeer], cidrs: [Cidr], associations: [FormnetKit.Association], relays: [StoredRelay]) {
        self.peers = peers
        self.cidrs = cidrs
        self.associations = associations
        self.relays = relays
    }
}
