import FormnetKit
import RelayClient
import Foundation
import Hummingbird
import FormnetTraversal
import Logging
import WireGuard

/// `formnet-server serve`: brings the network's WireGuard interface up, serves the API on the
/// tunnel address, and every `refreshInterval` records observed endpoints, sweeps expired
/// invitations and relays, reconciles the device's peers with the store (so changes the admin
/// subcommands make on the same host take effect), and registers with the network's relays, so
/// that members whose UDP is blocked reach the API through them (they cannot reach the server's
/// WireGuard port). SIGTERM or SIGINT shuts the API down and takes the interface away.
public struct ServerRuntime: Sendable {
    public let network: String
    public let config: ServerConfig
    public let store: Store
    public let backend: any WireGuardBackend
    public let links: any LinkControl
    public let mtu: UInt32
    public let refreshInterval: Duration
    /// The first of the two UDP ports the STUN observers use; nil runs none.
    public let stunPort: UInt16?
    public let logger: Logger
    /// Wakes held state requests when an upkeep pass may have changed what members see.
    let changes = StateChanges()
    /// A pass started right after a redeem may meet the periodic one; they take turns.
    private let refreshLock = NSLock()

    public init(network: String, config: ServerConfig, store: Store, backend: any WireGuardBackend,
                links: any LinkControl, mtu: UInt32, refreshInterval: Duration, stunPort: UInt16? = nil, logger: Logger) {
        self.network = network
        self.config = config
        self.store = store
        self.backend = backend
        self.links = links
        self.mtu = mtu
        self.refreshInterval = refreshInterval
        self.stunPort = stunPort
        self.logger = logger
    }

    public func run() async throws {
        guard let privateKey = config.privateKeyValue,
              let address = IPNetwork(address: config.address, prefixLength: config.networkCidrPrefix) else {
            throw StoreError(.invalid, "the server config of \(network) has no usable key or address")
        }
        let transitions = RedeemTransitions()
        // Each member's long poll holds a connection.
        DescriptorLimit.raiseToHard()
        try bringUp(privateKey: privateKey, address: address)
        defer { takeDown() }
        logger.info("interface up", metadata: ["interface": "\(network)", "address": "\(address)", "backend": "\(backend.kind)"])
        let relays = try RelayClientEngine(clientKey: privateKey, wireGuardPort: (try? backend.device(named: network).listenPort) ?? config.listenPort,
                                           logger: logger)
        defer { relays.stop() }

        let observers = try startSTUN()
        defer { observers.forEach { $0.stop() } }
        let advertised = observers.map { Endpoint(address: config.externalEndpoint.address, port: $0.port) }

        let runtime = self
        let service = APIService(store: store, serverKey: privateKey.publicKey, serverAddress: config.address,
                                 stunObservers: advertised, onRedeem: { change in
            transitions.begin(change, now: Date())
            runtime.logger.info("invitation redeemed", metadata: ["old-key": "\(change.oldKey)", "new-key": "\(change.newKey)"])
            // Switch keys as soon as the wait is over rather than at the next periodic pass.
            Task {
                try? await Task.sleep(for: API.redeemTransitionWait + .milliseconds(100))
                runtime.refresh(transitions, relays: relays)
            }
        })
        let endpoint = config.apiEndpoint
        let app = APIServer.application(service: service, address: endpoint, interface: network, logger: logger, changes: changes) { port in
            runtime.logger.info("API listening", metadata: ["address": "\(endpoint.address)", "port": "\(port)"])
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService() }
            group.addTask { await refreshLoop(transitions, relays: relays) }
            try await group.next()
            group.cancelAll()
        }
        logger.info("shutting down", metadata: ["interface": "\(network)"])
    }

    func bringUp(privateKey: PrivateKey, address: IPNetwork) throws {
        let peers = DevicePeers.desired(from: try store.peers(), serverAddress: config.address, now: Date())
        let tookOver = try InterfaceBringUp(privateKey: privateKey, listenPort: config.listenPort, peers: peers,
                                            addresses: [address], mtu: mtu, routes: [])
            .runOrTakeOver(named: network, backend: backend, links: links)
        if tookOver {
            logger.warning("the interface existed already (a server that did not stop cleanly): taken over, its peers replaced",
                           metadata: ["interface": "\(network)"])
        }
    }

    /// Two STUN observers on consecutive ports of every address: members compare what the two
    /// see of one of their ports to tell an endpoint-independent NAT from a symmetric one.
    func startSTUN() throws -> [STUNResponder] {
        guard let first = stunPort else { return [] }
        let family = config.externalEndpoint.address.isIPv4 ? AF_INET : AF_INET6
        let observers = try [first, first + 1].map { try STUNResponder(port: $0, family: family) }
        observers.forEach { $0.start() }
        logger.info("STUN observers listening", metadata: ["ports": "\(first), \(first + 1)"])
        return observers
    }

    func takeDown() {
        do {
            try backend.deleteInterface(named: network)
        } catch {
            logger.error("could not remove the interface", metadata: ["interface": "\(network)", "error": "\(error)"])
        }
    }

    func refreshLoop(_ transitions: RedeemTransitions, relays: RelayClientEngine) async {
        while !Task.isCancelled {
            refresh(transitions, relays: relays)
            try? await Task.sleep(for: refreshInterval)
        }
    }

    /// One pass of upkeep; a failure is logged and the next pass tries again.
    func refresh(_ transitions: RedeemTransitions, relays: RelayClientEngine) {
        refreshLock.lock()
        defer {
            refreshLock.unlock()
            changes.signal()
        }
        do {
            let now = Date()
            for peer in try store.deleteExpiredInvitations(now: now) {
                logger.info("expired invitation removed", metadata: ["peer": "\(peer.name)", "ip": "\(peer.ip)"])
            }
            for relay in try store.deleteExpiredRelays(now: now) {
                logger.info("expired relay removed", metadata: [
                    "peer-id": "\(relay.peerId)", "relay-key": "\(relay.announcement.publicKey)",
                    "last-seen": "\(relay.lastSeen.ISO8601Format())",
                ])
            }
            let device = try backend.device(named: network)
            try store.recordObservedEndpoints(DevicePeers.observedEndpoints(device))
            let snapshot = try store.snapshot()
            // Registered with every relay members are given: a member routes to the server
            // through its own home relay, which is one of them.
            relays.setRelays(Visibility.relays(in: snapshot, now: now).map { RelayTarget(key: $0.publicKey, endpoint: $0.endpoint) },
                             udpBlocked: false)
            let desired = DevicePeers.desired(from: snapshot.peers, serverAddress: config.address, now: now) {
                transitions.deviceKey(for: $0, now: now)
            }
            // A stored endpoint is only where a peer starts; WireGuard's roaming follows members
            // from there.
            let update = PeerDiff.update(current: device.peers, desired: desired, correcting: .allowedIPsOnly)
            guard !update.peers.isEmpty else { return }
            try backend.apply(update, to: network)
            logger.info("WireGuard peers reconciled", metadata: [
                "removed": "\(update.peers.filter { $0.action == .remove }.count)",
                "changed": "\(update.peers.filter { $0.action != .remove }.count)",
            ])
        } catch {
            logger.error("refresh failed", metadata: ["error": "\(error)"])
        }
    }
}
