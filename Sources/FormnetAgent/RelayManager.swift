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
    /// Registered relays, best first; the first usable one is home.
    private(set) var ranked: [PublicKey] = []
    private var udpBlocked = false
    private var routed: [PublicKey: Endpoint] = [:]

    init(clientKey: PrivateKey, wireGuardPort: UInt16, logger: Logger) throws {
        engine = try RelayClientEngine(clientKey: clientKey, wireGuardPort: wireGuardPort, logger: logger)
        self.logger = logger
    }

    deinit { engine.stop() }

    /// Takes the relays this member may use (the server's list and the local registry's) and
    /// re-ranks them with what the engine measured.
    func refresh(relays offered: [RelayOffer], ownNat: NatType, status: RelayEngineStatus) {
        let blocked = ownNat == .udpBlocked
        let chosen = RelayManager.choose(offered, status: status)
        let wanted = chosen.map { RelayTarget(key: $0.key, endpoint: $0.endpoint) }
        if wanted != targets || blocked != udpBlocked {
            targets = wanted
            udpBlocked = blocked
            engine.setRelays(wanted, udpBlocked: blocked)
        }
        ranked = chosen.map(\.key)
    }

    /// The offers to register with, best first: usable before not, then lower measured RTT,
    /// then the order offered (the caller's order, nearest first when locations are known).
    static func choose(_ offers: [RelayOffer], status: RelayEngineStatus) -> [RelayOffer] {
        let indexed = offers.enumerated().map { ($0.offset, $0.element) }
        let sorted = indexed.sorted { a, b in
            let la = status.links[a.1.key], lb = status.links[b.1.key]
            let ua = la?.usable ?? false, ub = lb?.usable ?? false
            if ua != ub { return ua }
            let ra = la.flatMap { Self.smoothed($0.rttSamples) }, rb = lb.flatMap { Self.smoothed($0.rttSamples) }
            if let ra, let rb, abs(ra - rb) > 0.010 { return ra < rb }
            return a.0 < b.0
        }
        return Array(sorted.map(\.1).prefix(API.maxReportedRelays))
    }

    /// Median of the last three samples: one delayed pong does not reorder relays.
    static func smoothed(_ samples: [Double]) -> Double? {
        let recent = samples.suffix(3).sorted()
        return recent.isEmpty ? nil : recent[recent.count / 2]
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

    /// Proxies listen on 127.0.0.1; no peer's real endpoint is there.
    static func isLoopback(_ endpoint: Endpoint) -> Bool { endpoint.address == .v4(0x7F00_0001) }
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
