import Foundation
import FormnetKit
import RelayClient
import GeoIP
import Logging
import WireGuard

/// The agent's relay fallback: which relays to keep registrations with, which is home, and a
/// route through them for each peer the traversal could not reach directly.
///
/// The agent registers with the best few relays it knows (at most `API.maxReportedRelays`), not
/// only its home: a sender reaches a peer through a relay both are registered with, so when the
/// home relay dies the peers already share the next one and the engine moves to it within its
/// failure detection time, without waiting for the server or for the peer to re-register.
final class RelayManager {
    let engine: RelayClientEngine
    let logger: Logger
    let network: String
    let paths: Paths
    private(set) var targets: [RelayTarget] = []
    /// Registered relays, home first.
    private(set) var ranked: [PublicKey] = []
    private(set) var home: PublicKey?
    private var udpBlocked = false
    private var routed: [PublicKey: Endpoint] = [:]
    let locator: GeoLocator
    /// The registry as last synchronised with `Paths.relayRegistry`.
    private(set) var registry = RelayRegistry()
    private var syncedServerList: [NetworkRelay]?
    private var lastRegistrySync: Double?
    private var writtenStatus: (relays: [RelayStatus.Relay], at: Double)?

    /// How often measurements go to the registry, and bootstrap relays added meanwhile come in.
    static let registrySyncInterval = 10.0

    init(network: String, paths: Paths, clientKey: PrivateKey, wireGuardPort: UInt16, geoDatabase: GeoDatabase?,
         logger: Logger) throws {
        engine = try RelayClientEngine(clientKey: clientKey, wireGuardPort: wireGuardPort, logger: logger)
        locator = GeoLocator(database: geoDatabase)
        self.network = network
        self.paths = paths
        self.logger = logger
    }

    deinit { engine.stop() }

    /// Takes the relays this member may use (its server's list, and the registry's bootstrap and
    /// discovered relays) and re-ranks them (`RelaySelection`: distance before any RTT is known,
    /// then measured RTT, load as the tie-break, hysteresis for the home relay).
    func refresh(serverRelays: [NetworkRelay], ownNat: NatType, ownAddress: IPAddress?, status: RelayEngineStatus) {
        if serverRelays != syncedServerList || lastRegistrySync.map({ status.now - $0 >= Self.registrySyncInterval }) ?? true {
            syncRegistry(serverRelays: serverRelays, status: status)
        }
        let records = registry.relays(for: network)
        let ownLocation = locator.ownLocation(publicAddress: ownAddress)
        let candidates = records.map { record in
            let link = status.links[record.key]
            let live = link.flatMap { RelaySelection.smoothedRTT($0.rttSamples.map { $0 * 1000 }) }
            return RelaySelection.Candidate(
                key: record.key, location: locator.location(announced: record.location, address: record.endpoint.address),
                // A live measurement, else the last one recorded (a relay measured in an earlier
                // run, or one this member no longer registers with).
                rttMilliseconds: live ?? (link?.usable == false ? nil : record.smoothedRTT),
                load: link?.info.map { Int($0.load) } ?? record.load,
                capacity: link?.info.map { Int($0.capacity) } ?? record.capacity,
                // Not yet registered counts as healthy unless the registry recorded failures:
                // it has not failed, and distance must decide the first choice.
                healthy: link.map { $0.usable || Self.isRegistering($0.phase, now: status.now) } ?? record.isHealthy)
        }
        let outcome = RelaySelection.choose(candidates, ownLocation: ownLocation, currentHome: home)
        if let chosen = outcome.home, chosen != home {
            logger.info("\(network): home relay \(records.first { $0.key == chosen }.map { "\($0.endpoint)" } ?? "\(chosen)")")
        }
        home = outcome.home
        let order = (outcome.home.map { [$0] } ?? []) + outcome.ranked.filter { $0 != outcome.home }
        let chosen = order.prefix(API.maxReportedRelays).compactMap { key in records.first { $0.key == key } }
        let wanted = chosen.map { RelayTarget(key: $0.key, endpoint: $0.endpoint) }
        let blocked = ownNat == .udpBlocked
        if Set(wanted) != Set(targets) || blocked != udpBlocked {
            targets = wanted
            udpBlocked = blocked
            engine.setRelays(wanted, udpBlocked: udpBlocked)
        }
        ranked = chosen.map(\.key)
        writeStatus(order: order, records: records, candidates: candidates, ownLocation: ownLocation, status: status)
    }

    /// Merges the server's list, discovery answers and measurements into the registry file and
    /// takes back what others added to it (`add-bootstrap-relay`).
    private func syncRegistry(serverRelays: [NetworkRelay], status: RelayEngineStatus) {
        let now = Date()
        let merge = { (registry: inout RelayRegistry) in
            registry.mergeServerList(serverRelays, network: self.network)
            registry.mergeDiscovery(status.discovered, now: now)
            for (key, link) in status.links {
                if let info = link.info {
                    registry.recordInfo(key, capacity: Int(info.capacity), load: Int(info.load), location: info.location.geoLocation)
                }
                if link.usable, let rtt = RelaySelection.smoothedRTT(link.rttSamples.map { $0 * 1000 }) {
                    registry.recordRTT(key, milliseconds: rtt, at: now)
                } else if !link.usable, !Self.isRegistering(link.phase, now: status.now) {
                    registry.recordFailure(key, at: now)
                }
            }
        }
        do {
            registry = try RelayRegistryFile.update(paths.relayRegistry, warn: { logger.warning("\($0)") }, merge).1
        } catch {
            logger.warning("\(network): relay registry not saved: \(error)")
            merge(&registry)
        }
        syncedServerList = serverRelays
        lastRegistrySync = status.now
    }

    /// Rewrites `Paths.relayStatus` when the ranking, home or health changed, and every
    /// `RelayStatus.rewriteInterval` (so that a reader can tell a running daemon from a stopped one).
    private func writeStatus(order: [PublicKey], records: [RelayRecord], candidates: [RelaySelection.Candidate],
                             ownLocation: GeoLocation?, status: RelayEngineStatus) {
        let rows: [RelayStatus.Relay] = (order + records.map(\.key).filter { !order.contains($0) }).compactMap { key in
            guard let record = records.first(where: { $0.key == key }),
                  let candidate = candidates.first(where: { $0.key == key }) else { return nil }
            let link = status.links[key]
            return RelayStatus.Relay(
                key: key.base64, endpoint: record.endpoint, location: candidate.location,
                distanceKm: ownLocation.flatMap { own in candidate.location.map { own.distance(to: $0) } },
                rttMs: candidate.rttMilliseconds, load: candidate.load, capacity: candidate.capacity,
                sources: record.sources.map(\.description).sorted(), home: key == home,
                health: Self.health(link: link, record: record, now: status.now),
                transport: link.map { $0.transport == .tcp ? "tcp" : "udp" })
        }
        if let written = writtenStatus, !RelayStatus.differs(rows, from: written.relays),
           status.now - written.at < RelayStatus.rewriteInterval {
            return
        }
        do {
            try RelayStatus(updated: Date(), relays: rows).save(to: paths.relayStatus(network))
            writtenStatus = (rows, status.now)
        } catch {
            logger.warning("\(network): relay status not saved: \(error)")
            writtenStatus = (rows, status.now)
        }
    }

    private static func health(link: RelayEngineStatus.Link?, record: RelayRecord, now: Double) -> RelayStatus.Health {
        guard let link else { return record.isHealthy ? .standby : .unhealthy }
        if link.usable { return .usable }
        return isRegistering(link.phase, now: now) ? .registering : .unreachable
    }

    /// Registering for less than a few seconds: a first registration, or a brief re-registration.
    private static func isRegistering(_ phase: RelayLinkMachine.Phase, now: Double) -> Bool {
        if case .registering(let since, _, _) = phase { now - since < 3 } else { false }
    }

    /// Whether a relayed packet could leave now.
    func hasUsableRelay(_ status: RelayEngineStatus) -> Bool { status.links.values.contains { $0.usable } }

    /// The relays to report to the server, home first.
    var reported: [PublicKey] { ranked }

    /// Routes a peer through the relays and returns the proxy endpoint WireGuard must use:
    /// the peer's reported relays first (it is registered there), then ours.
    func route(_ peer: PublicKey, peerRelays: [PublicKey]) -> Endpoint? {
        let preferences = peerRelays.filter { ranked.contains($0) } + ranked.filter { !peerRelays.contains($0) }
        do {
            let endpoint = try engine.route(peer, preferring: preferences)
            routed[peer] = endpoint
            return endpoint
        } catch {
            logger.warning("relay route for \(peer): \(error)")
            return nil
        }
    }

    func unroute(_ peer: PublicKey) {
        routed[peer] = nil
        engine.unroute(peer)
    }

    func proxy(for peer: PublicKey) -> Endpoint? { routed[peer] }

    /// Where WireGuard should send a routed peer's packets: the relay's channel for it when one
    /// is granted and current (no hop through this agent), else the loopback proxy.
    func wireGuardEndpoint(for peer: PublicKey, status: RelayEngineStatus) -> Endpoint? {
        guard let proxy = routed[peer] else { return nil }
        return status.routes[peer]?.channel ?? proxy
    }

    /// Whether packets from this endpoint came through a relay: a proxy, or a relay's channel.
    static func isRelayed(_ endpoint: Endpoint, status: RelayEngineStatus?) -> Bool {
        RelayClientEngine.isProxy(endpoint) || status?.grantedChannels.contains(endpoint) == true
    }
}
