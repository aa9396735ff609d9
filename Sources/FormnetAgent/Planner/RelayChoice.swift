import Foundation
import FormnetKit
import RelayClient
import GeoIP
import Logging
import WireGuard

/// Which relays this member keeps registrations with, and which is home.
///
/// The agent registers with the best few relays it knows (at most `API.maxReportedRelays`), not
/// only its home: a sender reaches a peer through a relay both are registered with, so when the
/// home relay dies the peers already share the next one and the engine moves to it within its
/// failure detection time, without waiting for the server or for the peer to re-register.
struct RelayChoice: Sendable {
    let network: String
    let locator: GeoLocator
    let logger: Logger
    private(set) var targets: [RelayTarget] = []
    /// Every relay of the registry: where the engine may register on demand.
    private(set) var known: [RelayTarget] = []
    /// Registered relays, home first: what this member reports to the server.
    private(set) var ranked: [PublicKey] = []
    private(set) var home: PublicKey?
    private var homeChange = HomeChangeDelay()
    private var udpBlocked = false
    private var writtenStatus: (relays: [RelayStatus.Relay], at: Double)?

    init(network: String, locator: GeoLocator, logger: Logger) {
        self.network = network
        self.locator = locator
        self.logger = logger
    }

    /// Re-ranks the relays this member may use (`RelaySelection`: distance before any RTT is
    /// known, then measured RTT, load as the tie-break, hysteresis for the home relay; and
    /// `HomeChangeDelay` before a home that works is left). Returns the command that changes the
    /// engine's registrations when they change, and the status document to write when a reader
    /// would see something new in it.
    mutating func refresh(records: [RelayRecord], ownNat: NatType, ownAddress: IPAddress?, status: RelayEngineStatus,
                          wallClock: Date) -> (command: RelayCommand?, written: RelayStatus?) {
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
                healthy: link.map { Self.countsHealthy($0, now: status.now) } ?? record.isHealthy)
        }
        var outcome = RelaySelection.choose(candidates, ownLocation: ownLocation, currentHome: home)
        outcome.home = homeChange.home(current: home, currentHealthy: candidates.first { $0.key == home }?.healthy == true,
                                       chosen: outcome.home, now: status.now)
        if let chosen = outcome.home, chosen != home {
            logger.info("\(network): home relay \(records.first { $0.key == chosen }.map { "\($0.endpoint)" } ?? "\(chosen)")")
        }
        home = outcome.home
        let standing = RelaySelection.standing(candidates, ranked: outcome.ranked, home: outcome.home,
                                               current: Set(targets.map(\.key)), count: API.maxReportedRelays,
                                               ownLocation: ownLocation)
        let order = standing + outcome.ranked.filter { !standing.contains($0) }
        let chosen = standing.compactMap { key in records.first { $0.key == key } }
        let wanted = chosen.map { RelayTarget(key: $0.key, endpoint: $0.endpoint) }
        let blocked = ownNat == .udpBlocked
        let all = records.map { RelayTarget(key: $0.key, endpoint: $0.endpoint) }
        var command: RelayCommand?
        if Set(wanted) != Set(targets) || blocked != udpBlocked || Set(all) != Set(known) {
            targets = wanted
            known = all
            udpBlocked = blocked
            command = .setRelays(wanted, udpBlocked: blocked, known: all)
        }
        ranked = chosen.map(\.key)
        let rows = statusRows(order: order, records: records, candidates: candidates, ownLocation: ownLocation, status: status)
        return (command, statusToWrite(rows, now: status.now, wallClock: wallClock))
    }

    /// The ranking, home and health as `formnet list-relays` shows them: ranked relays first,
    /// then the rest of the registry.
    private func statusRows(order: [PublicKey], records: [RelayRecord], candidates: [RelaySelection.Candidate],
                            ownLocation: GeoLocation?, status: RelayEngineStatus) -> [RelayStatus.Relay] {
        (order + records.map(\.key).filter { !order.contains($0) }).compactMap { key in
            guard let record = records.first(where: { $0.key == key }),
                  let candidate = candidates.first(where: { $0.key == key }) else { return nil }
            let link = status.links[key]
            return RelayStatus.Relay(
                key: key.base64, endpoint: record.endpoint, location: candidate.location,
                distanceKm: ownLocation.flatMap { own in candidate.location.map { own.distance(to: $0) } },
                rttMs: candidate.rttMilliseconds, load: candidate.load, capacity: candidate.capacity,
                sources: record.sources.map(\.description).sorted(), home: key == home,
                health: Self.health(link: link, record: record, now: status.now),
                transport: link.map { $0.transport == .tcp ? "tcp" : "udp" },
                registration: link.map { $0.onDemand ? .onDemand : .standing },
                neededBy: link.flatMap { $0.onDemand ? $0.neededBy.map(\.base64).sorted() : nil })
        }
    }

    /// The status when the ranking, home or health changed, and every
    /// `RelayStatus.rewriteInterval` (so that a reader can tell a running daemon from a stopped one).
    private mutating func statusToWrite(_ rows: [RelayStatus.Relay], now: Double, wallClock: Date) -> RelayStatus? {
        if let written = writtenStatus, !RelayStatus.differs(rows, from: written.relays),
           now - written.at < RelayStatus.rewriteInterval {
            return nil
        }
        writtenStatus = (rows, now)
        return RelayStatus(updated: wallClock, relays: rows)
    }

    private static func health(link: RelayEngineStatus.Link?, record: RelayRecord, now: Double) -> RelayStatus.Health {
        guard let link else { return record.isHealthy ? .standby : .unhealthy }
        if link.usable { return .usable }
        return isRegistering(link.phase, now: now) ? .registering : .unreachable
    }

    /// Usable, or registering for less than a few seconds, or registered but silent (the engine
    /// registers it again at its next tick): a home is not left for a re-registration that may
    /// take one round trip. Seeing the link between its last overdue ping and that tick moved a
    /// WAN lab member's home away from a relay that answered 0.14 s later, for good.
    static func countsHealthy(_ link: RelayEngineStatus.Link, now: Double) -> Bool {
        if link.usable || isRegistering(link.phase, now: now) { return true }
        if case .registered = link.phase { return true }
        return false
    }

    /// Registering for less than a few seconds: a first registration, or a brief re-registration.
    static func isRegistering(_ phase: RelayLinkMachine.Phase, now: Double) -> Bool {
        if case .registering(let since, _, _) = phase { now - since < 3 } else { false }
    }
}
