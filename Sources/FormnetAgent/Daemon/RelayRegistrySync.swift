import Foundation
import FormnetKit
import RelayClient
import Logging
import WireGuard

/// Keeps the daemon's copy of the relay registry (`Paths.relayRegistry`, shared with the CLI's
/// `add-bootstrap-relay` under a lock) in step with the file: merges in the server's list,
/// discovery answers and the engine's measurements, and takes back what others added.
struct RelayRegistrySync {
    let network: String
    let path: String
    let logger: Logger
    /// The registry as last synchronised with the file.
    private(set) var registry = RelayRegistry()
    private var syncedServerList: [NetworkRelay]?
    private var lastSync: Double?

    /// How often measurements go to the registry, and bootstrap relays added meanwhile come in.
    static let interval = 10.0

    init(network: String, path: String, logger: Logger) {
        self.network = network
        self.path = path
        self.logger = logger
    }

    /// Synchronises when the server's list changed or `interval` passed, and returns the relays
    /// this network's member may use.
    mutating func records(serverRelays: [NetworkRelay], status: RelayEngineStatus) -> [RelayRecord] {
        if serverRelays != syncedServerList || lastSync.map({ status.now - $0 >= Self.interval }) ?? true {
            sync(serverRelays: serverRelays, status: status)
        }
        return registry.relays(for: network)
    }

    private mutating func sync(serverRelays: [NetworkRelay], status: RelayEngineStatus) {
        let now = Date()
        let network = network
        let merge = { (registry: inout RelayRegistry) in
            registry.mergeServerList(serverRelays, network: network)
            registry.mergeDiscovery(status.discovered, now: now)
            for (key, link) in status.links {
                if let info = link.info {
                    registry.recordInfo(key, capacity: Int(info.capacity), load: Int(info.load), location: info.location.geoLocation)
                }
                if link.usable, let rtt = RelaySelection.smoothedRTT(link.rttSamples.map { $0 * 1000 }) {
                    registry.recordRTT(key, milliseconds: rtt, at: now)
                } else if !link.usable, !RelayChoice.isRegistering(link.phase, now: status.now) {
                    registry.recordFailure(key, at: now)
                }
            }
        }
        do {
            registry = try RelayRegistryFile.update(path, warn: { logger.warning("\($0)") }, merge).1
        } catch {
            logger.warning("\(network): relay registry not saved: \(error)")
            merge(&registry)
        }
        syncedServerList = serverRelays
        lastSync = status.now
    }
}
