import FormnetKit
import Foundation
import Logging
import WireGuard

/// One fetch: ask the server for the state, check pinned keys, bring the device's peers in line
/// with the state, and record the state in the peer cache, the members file and the hosts file.
/// The daemon uses the check and the record around its planner (`MemberDaemon`); `up` and
/// `fetch` apply a state at once.
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

    /// Checks a fetched state against the pinned keys: peers whose keys conflict with pinned
    /// ones are left as pinned, and each conflict is logged.
    public func check(_ fetched: API.State) -> CheckedState {
        let cache = loadCache()
        let outcome = KeyPinning.check(fetched, pins: cache.pinnedKeys, previous: cache.state)
        for conflict in outcome.conflicts { logger.error("\(conflict)") }
        return CheckedState(state: outcome.state, pins: outcome.pins, conflicts: outcome.conflicts,
                            previousEndpoints: cache.endpoints)
    }

    /// Records an applied state in the peer cache, the members file and the hosts file.
    public func record(_ checked: CheckedState) throws {
        try AtomicFile.makeDirectory(options.paths.dataDir)
        try PeerCache(state: checked.state, pinnedKeys: checked.pins).save(to: cachePath)
        try Self.writeMembers(of: checked.state, to: options.paths.members(network))
        if let hostsPath = options.hostsPath {
            let entries = checked.state.peers.filter { !$0.isDisabled && $0.isRedeemed }
                .map { HostsFile.Entry(ip: $0.ip, name: $0.name) }
            try HostsFile.update(path: hostsPath, network: network, entries: entries)
        }
    }

    /// Applies a state (fetched, or the cached one when the server cannot be reached) once,
    /// outside the daemon: `up` and `fetch`.
    @discardableResult
    public func apply(_ fetched: API.State) throws -> Result {
        guard let ownKey = config.privateKey?.publicKey else {
            throw AgentError.invalidInput("the config for '\(network)' has no valid private key")
        }
        let checked = check(fetched)
        let device: Device
        do {
            device = try backend.device(named: network)
        } catch WireGuardError.interfaceNotFound {
            throw AgentError.interfaceNotUp(network)
        }
        let planned = MemberPlanner.stateUpdate(checked, config: config, ownKey: ownKey, device: device, traversalOwnsEndpoints: false,
                                                serverEndpoint: config.server.externalEndpoint)
        if !planned.update.peers.isEmpty {
            try backend.apply(planned.update, to: network)
            logger.info("\(network): fetched \(planned.peers - 1) peer(s) from the server; applied \(planned.update.peers.count) change(s)")
        }
        try record(checked)
        return Result(changes: planned.update.peers.count, conflicts: checked.conflicts, state: checked.state)
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
