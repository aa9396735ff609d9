import FormnetKit
import Foundation
import Logging
import WireGuard

/// One fetch: ask the server for the state, check pinned keys, bring the device's peers in line
/// with the state, and record the state in the peer cache, the members file and the hosts file.
public struct StateSync {
    public let network: String
    public let config: InterfaceConfig
    public let backend: any WireGuardBackend
    public let options: AgentOptions
    public let logger: Logger

    public init(network: String, config: InterfaceConfig, backend: any WireGuardBackend, options: AgentOptions, logger: Logger) {
        self.network = network
        self.config = config
        self.backend = backend
        self.options = options
        self.logger = logger
    }

    public struct Result: Sendable, Equatable {
        public var changes: Int
        public var conflicts: [KeyPinning.Conflict]
        /// The state applied, with peers whose keys conflict with pinned ones left as pinned.
        public var state: API.State
    }

    var cachePath: String { options.paths.peerCache(network) }

    public func loadCache() -> PeerCache {
        PeerCache.load(from: cachePath) { logger.warning("\($0)") }
    }

    @discardableResult
    public func fetch(client: APIClient) throws -> Result {
        try apply(try client.state())
    }

    /// Applies a state (fetched, or the cached one when the server cannot be reached).
    /// - Parameter traversalOwnsEndpoints: NAT traversal sets the member peers' endpoints, so the
    ///   state's endpoints must not overwrite the one it chose.
    /// - Parameter serverEndpoint: where WireGuard reaches the server (`ServerRoute`), when not
    ///   the configured external endpoint.
    @discardableResult
    public func apply(_ fetched: API.State, traversalOwnsEndpoints: Bool = false, serverEndpoint: Endpoint? = nil) throws -> Result {
        guard let ownKey = config.privateKey?.publicKey else {
            throw AgentError.invalidInput("the config for '\(network)' has no valid private key")
        }
        let cache = loadCache()
        let outcome = KeyPinning.check(fetched, pins: cache.pinnedKeys, previous: cache.state)
        for conflict in outcome.conflicts { logger.error("\(conflict)") }

        let device: Device
        do {
            device = try backend.device(named: network)
        } catch WireGuardError.interfaceNotFound {
            throw AgentError.interfaceNotUp(network)
        }
        var desired = DesiredPeer.from(state: outcome.state, config: config, ownKey: ownKey)
        if traversalOwnsEndpoints {
            for index in desired.indices where desired[index].publicKey != config.server.publicKey {
                desired[index].endpoint = nil
            }
        }
        if let serverEndpoint, let index = desired.firstIndex(where: { $0.publicKey == config.server.publicKey }) {
            desired[index].endpoint = serverEndpoint
        }
        let update = PeerDiff.update(current: device.peers, desired: desired, previousEndpoints: cache.endpoints)
        if !update.peers.isEmpty {
            try backend.apply(update, to: network)
            logger.info("\(network): fetched \(desired.count - 1) peer(s) from the server; applied \(update.peers.count) change(s)")
        }
        try AtomicFile.makeDirectory(options.paths.dataDir)
        try PeerCache(state: outcome.state, pinnedKeys: outcome.pins).save(to: cachePath)
        try Self.writeMembers(of: outcome.state, to: options.paths.members(network))
        if let hostsPath = options.hostsPath {
            let entries = outcome.state.peers.filter { !$0.isDisabled && $0.isRedeemed }
                .map { HostsFile.Entry(ip: $0.ip, name: $0.name) }
            try HostsFile.update(path: hostsPath, network: network, entries: entries)
        }
        return Result(changes: update.peers.count, conflicts: outcome.conflicts, state: outcome.state)
    }

    /// The keys a relay run with `--network` serves (`Paths.members`): every enabled, redeemed
    /// peer of the state, one base64 key a line, sorted.
    static func members(of state: API.State) -> String {
        state.peers.filter { !$0.isDisabled && $0.isRedeemed }.map { "\($0.publicKey.base64)\n" }.sorted().joined()
    }

    /// Rewrites the members file only when its contents change: the relay reloads the file
    /// whenever it changes, and the state is applied at every fetch. Readable by all (0644): it
    /// holds public keys only, and the relay need not run as the agent's user.
    static func writeMembers(of state: API.State, to path: String) throws {
        let contents = members(of: state)
        guard (try? String(contentsOfFile: path, encoding: .utf8)) != contents else { return }
        try AtomicFile.write(contents, to: path, mode: 0o644)
    }
}
