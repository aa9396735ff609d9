import FormnetKit
import Foundation
import WireGuard

/// One network's files on the server host: its config (TOML, 0600) and its database.
public struct ServerFiles: Sendable {
    public let network: String
    public let paths: Paths

    public init(network: String, paths: Paths) throws {
        do {
            try Names.validateNetwork(network)
        } catch {
            throw StoreError(.invalid, error.description)
        }
        self.network = network
        self.paths = paths
    }

    public var configPath: String { paths.serverConfig(network) }
    public var databasePath: String { paths.serverDatabase(network) }

    /// The network's config and store; an unknown network is named as such.
    public func open() throws -> (ServerConfig, Store) {
        guard FileManager.default.fileExists(atPath: configPath) else {
            throw StoreError(.notFound, "unknown network '\(network)': no config at \(configPath)")
        }
        let config = try ServerConfig.load(from: configPath)
        guard FileManager.default.fileExists(atPath: databasePath) else {
            throw StoreError(.notFound, "network '\(network)' has a config but no database at \(databasePath)")
        }
        return (config, try Store(path: databasePath))
    }
}
