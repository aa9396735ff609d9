/// Where formnet keeps its files, following innernet's layout; every directory is overridable
/// with --config-dir / --data-dir.
public struct Paths: Sendable {
    public static let defaultConfigDir = "/etc/formnet"
    public static let defaultDataDir = "/var/lib/formnet"
    public static let defaultServerConfigDir = "/etc/formnet-server"
    public static let defaultServerDataDir = "/var/lib/formnet-server"

    public var configDir: String
    public var dataDir: String

    public init(configDir: String, dataDir: String) {
        self.configDir = configDir
        self.dataDir = dataDir
    }

    /// A member's interface config (TOML, 0600: it holds the private key).
    public func interfaceConfig(_ network: String) -> String { "\(configDir)/\(network).conf" }
    /// A member's peer cache (JSON): the last state fetched, and the keys pinned to IPs.
    public func peerCache(_ network: String) -> String { "\(dataDir)/\(network).json" }
    /// A member's connection cache (JSON): per peer and endpoint, what worked for NAT traversal.
    public func connectionCache(_ network: String) -> String { "\(dataDir)/\(network).connections.json" }
    /// What a member's daemon last knew of each peer's path and of NAT types, for `formnet show`.
    public func traversalStatus(_ network: String) -> String { "\(dataDir)/\(network).traversal.json" }
    /// What a member's daemon last knew of its relays (ranking, home, health), for `formnet list-relays`.
    public func relayStatus(_ network: String) -> String { "\(dataDir)/\(network).relays.json" }
    /// The public keys of a network's members, one base64 key a line, for `start-relay --network`.
    public func members(_ network: String) -> String { "\(dataDir)/\(network).members" }
    /// Every relay this host knows, from every network's server, bootstrap and discovery (JSON).
    public var relayRegistry: String { "\(dataDir)/relays.json" }
    /// The server's config (TOML, 0600).
    public func serverConfig(_ network: String) -> String { "\(configDir)/\(network).conf" }
    /// The server's SQLite database.
    public func serverDatabase(_ network: String) -> String { "\(dataDir)/\(network).db" }
}
