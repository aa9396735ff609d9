import Foundation
import FormnetKit
import FormnetRelay
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
    private(set) var targets: [RelayTarget] = []
    /// Registered relays, home first.
    private(set) var ranked: [PublicKey] = []
    private(set) var home: PublicKey?
    private var udpBlocked = false
    private var routed: [PublicKey: Endpoint] = [:]
    let locator: GeoLocator

    init(clientKey: PrivateKey, wireGuardPort: UInt16, geoDatabase: GeoDatabase?, logger: Logger) throws {
        engine = try RelayClientEngine(clientKey: clientKey, wireGuardPort: wireGuardPort, logger: logger)
        locator = GeoLocator(database: geoDatabase)
        self.logger = logger
    }

    deinit { engine.stop() }

    /// Takes the relays this member may use (the server's list and the local registry's) and
    /// re-ranks them (`RelaySelection`: distance before any RTT is known, then measured RTT, load
    /// as the tie-break, hysteresis for the home relay).
    func refresh(relays offered: [RelayOffer], ownNat: NatType, ownAddress: IPAddress?, status: RelayEngineStatus) {
        let blocked = ownNat == .udpBlocked
        let candidates = offered.map { offer in
            let link = status.links[offer.key]
            return RelaySelection.Candidate(
                key: offer.key, location: locator.location(announced: offer.location, address: offer.endpoint.address),
                rttMilliseconds: link.flatMap { RelaySelection.smoothedRTT($0.rttSamples.map { $0 * 1000 }) },
                load: link?.info.map { Int($0.load) }, capacity: link?.info.map { Int($0.capacity) },
                // Not yet registered counts as healthy: it has not failed, and distance must
                // decide the first choice.
                healthy: link.map { $0.usable || Self.isRegistering($0.phase, now: status.now) } ?? true)
        }
        let outcome = RelaySelection.choose(candidates, ownLocation: locator.ownLocation(publicAddress: ownAddress),
                                            currentHome: home)
        if let chosen = outcome.home, chosen != home {
            logger.info("home relay: \(offered.first { $0.key == chosen }.map { "\($0.endpoint)" } ?? "\(chosen)")")
        }
        home = outcome.home
        let order = (outcome.home.map { [$0] } ?? []) + outcome.ranked.filter { $0 != outcome.home }
        let chosen = order.prefix(API.maxReportedRelays).compactMap { key in offered.first { $0.key == key } }
        let wanted = chosen.map { RelayTarget(key: $0.key, endpoint: $0.endpoint) }
        if Set(wanted) != Set(targets) || blocked != udpBlocked {
            targets = wanted
            udpBlocked = blocked
            engine.setRelays(wanted, udpBlocked: blocked)
        }
        ranked = chosen.map(\.key)
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

    /// Whether WireGuard's endpoint for a peer is one of the relay proxies.
    static func isLoopback(_ endpoint: Endpoint) -> Bool { endpoint.address == RelayClientEngine.proxyAddress }
}

/// A relay the member may use, as the server or the registry offers it.
struct RelayOffer: Equatable {
    var key: PublicKey
    var endpoint: Endpoint
    var location: GeoLocation?
}

/// The relays a member may use: those its network's server lists.
enum RelayOffers {
    static func from(state: API.State?) -> [RelayOffer] {
        (state?.relays ?? []).map { RelayOffer(key: $0.publicKey, endpoint: $0.endpoint, location: $0.location) }
    }
}
