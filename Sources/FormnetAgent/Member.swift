import Foundation
import FormnetKit
import Logging
import WireGuard

/// An installed network on this host: its config, its interface and its cache.
public struct Member {
    public let network: String
    public let options: AgentOptions
    public let setup: InterfaceSetup
    public let logger: Logger

    public init(network: String, options: AgentOptions, setup: InterfaceSetup, logger: Logger) throws {
        do {
            try Names.validateNetwork(network)
        } catch {
            throw AgentError.invalidInput(error.description)
        }
        self.network = network
        self.options = options
        self.setup = setup
        self.logger = logger
    }

    public var configPath: String { options.paths.interfaceConfig(network) }

    /// The config, refused if others may read it (`SecretFile`).
    public func config() throws -> InterfaceConfig {
        guard FileManager.default.fileExists(atPath: configPath) else {
            throw AgentError.notInstalled(network: network, path: configPath)
        }
        return try InterfaceConfig.load(from: configPath)
    }

    func sync(_ config: InterfaceConfig) -> StateSync {
        StateSync(network: network, config: config, backend: setup.backend, options: options, logger: logger)
    }

    /// Brings the interface up (unless it already is) with the server and the cached peers, then
    /// fetches. A server that does not answer leaves the mesh running on the cached peers, as
    /// innernet does; the error is returned for the caller to report.
    ///
    /// With `fetch` false only the interface comes up: the daemon long-polls the state itself,
    /// and must not first wait out a server it cannot reach (a member whose UDP is blocked).
    @discardableResult
    public func up(fetch: Bool = true) throws -> (any Error)? {
        let config = try config()
        let sync = sync(config)
        if !setup.exists(network) {
            guard let ownKey = config.privateKey?.publicKey else {
                throw AgentError.invalidInput("\(configPath): private-key is not a base64 WireGuard key")
            }
            let cached = sync.loadCache()
            let peers = DesiredPeer.from(state: cached.state, config: config, ownKey: ownKey)
            try setup.bringUp(network, config: config, peers: peers, options: options)
            logger.info("\(network): interface up at \(config.interface.address)")
        }
        guard fetch else { return nil }
        do {
            try sync.fetch(client: APIClient(config: config))
            return nil
        } catch let error as AgentError {
            if case .serverUnreachable = error { return error }
            throw error
        }
    }

    public func fetch() throws -> StateSync.Result {
        let config = try config()
        guard setup.exists(network) else { throw AgentError.interfaceNotUp(network) }
        return try sync(config).fetch(client: APIClient(config: config))
    }

    public func down() throws {
        do {
            try setup.backend.deleteInterface(named: network)
        } catch WireGuardError.interfaceNotFound {
            throw AgentError.interfaceNotUp(network)
        }
    }

    /// Takes the interface down if it is up and deletes the config, the cache and the hosts block.
    public func uninstall() throws {
        _ = try config()
        if setup.exists(network) { try setup.backend.deleteInterface(named: network) }
        if let hostsPath = options.hostsPath {
            try HostsFile.update(path: hostsPath, network: network, entries: nil)
        }
        for path in [options.paths.peerCache(network), options.paths.connectionCache(network),
                     options.paths.traversalStatus(network), options.paths.relayStatus(network), options.paths.members(network),
                     configPath]
            where unlink(path) != 0 && errno != ENOENT {
            throw WireGuardError.system(operation: "delete \(path)", errno: errno)
        }
    }

    /// Changes the config's listen port (nil: a random port each time) and the live interface's.
    public func setListenPort(_ port: UInt16?) throws {
        var config = try config()
        config.interface.listenPort = port
        if setup.exists(network) {
            try setup.backend.apply(DeviceUpdate(listenPort: port ?? 0), to: network)
        }
        try config.save(to: configPath)
    }

    /// Turns relay fallback on or off in the config; returns whether it changed.
    @discardableResult
    public func setRelayFallback(_ enabled: Bool) throws -> Bool {
        var config = try config()
        let before = config.interface.relayFallback ?? true
        config.interface.relayFallback = enabled ? nil : false
        guard before != enabled else { return false }
        try config.save(to: configPath)
        return true
    }

    /// Asks the server to give peers this endpoint for us (nil: back to what it observes).
    public func overrideEndpoint(_ endpoint: Endpoint?) throws {
        try APIClient(config: try config()).overrideEndpoint(endpoint)
    }

    public func client() throws -> APIClient { APIClient(config: try config()) }

    /// The report `formnet show` prints: live WireGuard data if the interface is up, else the cache only.
    public func show(short: Bool, tree: Bool) throws -> String {
        let config = try config()
        let cache = sync(config).loadCache()
        return ShowReport.render(try showSnapshot(config: config, cache: cache), cidrs: cache.state.cidrs,
                                 short: short, tree: tree, now: Date())
    }

    /// What `formnet show --json` prints for this network.
    public func showSnapshot() throws -> ShowReport.Network {
        let config = try config()
        return try showSnapshot(config: config, cache: sync(config).loadCache())
    }

    private func showSnapshot(config: InterfaceConfig, cache: PeerCache) throws -> ShowReport.Network {
        ShowReport.snapshot(network: network, config: config, device: try? setup.backend.device(named: network), cache: cache,
                            traversal: TraversalStatus.load(from: options.paths.traversalStatus(network)))
    }

    /// Networks with a config in the config dir.
    public static func installed(in paths: Paths) -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: paths.configDir)) ?? []
        return files.filter { $0.hasSuffix(".conf") }.map { String($0.dropLast(".conf".count)) }
            .filter { (try? Names.validateNetwork($0)) != nil }.sorted()
    }
}
