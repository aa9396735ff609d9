import Foundation
import FormnetKit
import Testing
import WireGuard
@testable import FormnetAgent
@testable import RelayClient

/// A member whose UDP is blocked reaches the server through its relays, and goes back to the
/// server's external endpoint when UDP works again.
@Suite struct ServerRouteTests {
    let fixture = Fixture()
    let relayKey = PrivateKey.generate().publicKey
    let proxy = Endpoint("127.0.0.1:40002")!

    /// The engine's status with one usable relay (over TCP), and the server's route once the
    /// engine has opened its proxy.
    func status(routed: Bool = false, usable: Bool = true) -> RelayEngineStatus {
        let link = RelayEngineStatus.Link(target: RelayTarget(key: relayKey, endpoint: Endpoint("192.0.2.10:51821")!), transport: .tcp,
                                          phase: .registered(since: 0), usable: true, rttSamples: [], observedAddress: nil, info: nil)
        let route = RelayEngineStatus.Route(peer: fixture.serverKey, proxy: proxy, preferences: [relayKey], automatic: false,
                                            packetsIn: 0, packetsOut: 0, packetsDropped: 0)
        return RelayEngineStatus(links: usable ? [relayKey: link] : [:], routes: routed ? [fixture.serverKey: route] : [:],
                                 discovered: [], grantedChannels: [], now: 0)
    }

    func routes() -> RelayRoutes? {
        var routes = RelayRoutes(status: status())
        routes.ranked = [relayKey]
        return routes
    }

    func device(serverAt endpoint: Endpoint, rx: UInt64 = 0, tx: UInt64 = 0) -> Device {
        Device(name: "evilcorp", peers: [Peer(publicKey: fixture.serverKey, endpoint: endpoint, rxBytes: rx, txBytes: tx)])
    }

    /// The direct path goes silent (WireGuard sends, nothing comes back for 30 s): the server
    /// moves onto the relays; UDP back, it returns to its external endpoint.
    @Test func aSilentDirectPathMovesToTheRelaysAndComesBack() throws {
        var relay = routes()
        var route = ServerRoute(server: fixture.config.server)
        let external = fixture.config.server.externalEndpoint
        #expect(route.current == external)
        func update(_ device: Device, _ nat: NatType = .udpBlocked, at now: Double) -> [PeerUpdate] {
            route.update(device: device, ownNat: nat, relay: &relay, now: now).peers
        }
        // Answers keep coming: a member taken for UDP-blocked keeps a working direct path.
        #expect(update(device(serverAt: external, rx: 100, tx: 100), at: 0).isEmpty)
        #expect(update(device(serverAt: external, rx: 200, tx: 200), at: 40).isEmpty)
        #expect(relay?.proxy(for: fixture.serverKey) == nil)
        // Silent from 40 s on: at 70 s it moves.
        #expect(update(device(serverAt: external, rx: 200, tx: 300), at: 69).isEmpty)
        let toRelay = update(device(serverAt: external, rx: 200, tx: 400), at: 70)
        #expect(toRelay == [PeerUpdate(publicKey: fixture.serverKey, action: .updateOnly, endpoint: MemberPlan.pendingProxy)])
        #expect(relay?.take() == [.route(fixture.serverKey, preferring: [relayKey], peerRelays: [])])
        // The engine opened the proxy: a state's diff now puts the server there, and so does the route.
        relay?.begin(status: status(routed: true))
        #expect(route.endpoint(relay: relay) == proxy)
        // Answered through the relay: it stays there.
        #expect(update(device(serverAt: proxy, rx: 300, tx: 500), at: 71).isEmpty)
        #expect(route.current == proxy)
        #expect(update(device(serverAt: proxy, rx: 400, tx: 600), at: 200).isEmpty)

        let back = update(device(serverAt: proxy, rx: 400, tx: 600), .portPreserving, at: 201)
        #expect(back == [PeerUpdate(publicKey: fixture.serverKey, action: .updateOnly, endpoint: external)])
        #expect(relay?.proxy(for: fixture.serverKey) == nil)
        #expect(relay?.take() == [.unroute(fixture.serverKey)])
        #expect(route.current == external)
    }

    /// Relays that do not carry the server (the server is not registered there): the relayed
    /// path is silent too, the server goes back to its endpoint, and the relays are not tried
    /// again for five minutes.
    @Test func aSilentRelayedPathGoesBackAndIsHeldOff() throws {
        var relay = routes()
        var route = ServerRoute(server: fixture.config.server)
        let external = fixture.config.server.externalEndpoint
        func update(_ device: Device, at now: Double) -> [PeerUpdate] {
            route.update(device: device, ownNat: .udpBlocked, relay: &relay, now: now).peers
        }
        #expect(update(device(serverAt: external, rx: 0, tx: 10), at: 0).isEmpty)
        #expect(update(device(serverAt: external, rx: 0, tx: 20), at: 30).first?.endpoint == MemberPlan.pendingProxy)
        relay?.begin(status: status(routed: true))
        #expect(update(device(serverAt: proxy, rx: 0, tx: 30), at: 31).isEmpty)
        #expect(update(device(serverAt: proxy, rx: 0, tx: 40), at: 60).isEmpty)
        #expect(update(device(serverAt: proxy, rx: 0, tx: 50), at: 61) == [PeerUpdate(publicKey: fixture.serverKey, action: .updateOnly, endpoint: external)])
        #expect(relay?.proxy(for: fixture.serverKey) == nil)
        // Held off: still silent, but the relays are not tried again before 361 s.
        #expect(update(device(serverAt: external, rx: 0, tx: 60), at: 62).isEmpty)
        #expect(update(device(serverAt: external, rx: 0, tx: 70), at: 200).isEmpty)
        #expect(update(device(serverAt: external, rx: 0, tx: 80), at: 360).isEmpty)
        #expect(update(device(serverAt: external, rx: 0, tx: 90), at: 361).first?.endpoint == MemberPlan.pendingProxy)
    }

    @Test func withoutAUsableRelayTheServerStaysAtItsEndpoint() throws {
        var relay = routes()
        relay?.begin(status: status(usable: false))
        var none: RelayRoutes?
        var route = ServerRoute(server: fixture.config.server)
        let external = fixture.config.server.externalEndpoint
        #expect(route.update(device: device(serverAt: external, tx: 10), ownNat: .udpBlocked, relay: &relay, now: 0).peers.isEmpty)
        #expect(route.update(device: device(serverAt: external, tx: 20), ownNat: .udpBlocked, relay: &relay, now: 40).peers.isEmpty)
        #expect(route.update(device: device(serverAt: external, tx: 30), ownNat: .udpBlocked, relay: &none, now: 80).peers.isEmpty)
        #expect(relay?.proxy(for: fixture.serverKey) == nil)
        #expect(relay?.take() == [])
        #expect(route.current == external)
    }
}
