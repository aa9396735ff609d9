import Foundation
import FormnetKit
import Logging
import Testing
import WireGuard
@testable import FormnetAgent
@testable import RelayClient

/// A member whose UDP is blocked reaches the server through its relays, and goes back to the
/// server's external endpoint when UDP works again.
@Suite struct ServerRouteTests {
    let fixture = Fixture()

    func manager() throws -> (RelayManager, RelayEngineStatus) {
        let directory = try fixture.temporaryDirectory()
        let manager = try RelayManager(network: "evilcorp", paths: Paths(configDir: directory, dataDir: directory), clientKey: PrivateKey.generate(),
                                       wireGuardPort: 0, geoDatabase: nil, logger: Logger(label: "test"))
        // A loopback target: the registration goes nowhere; the status below says it is usable.
        let relay = NetworkRelay(publicKey: PrivateKey.generate().publicKey, endpoint: Endpoint("127.0.0.1:9")!, capacity: 10, load: 0,
                                 peerId: 10, lastSeen: Date())
        manager.refresh(serverRelays: [relay], ownNat: .udpBlocked, ownAddress: nil, status: manager.engine.status())
        let usable = RelayEngineStatus(
            links: [relay.publicKey: RelayEngineStatus.Link(target: RelayTarget(key: relay.publicKey, endpoint: relay.endpoint), transport: .tcp,
                                                            phase: .registered(since: 0), usable: true, rttSamples: [],
                                                            observedAddress: nil, info: nil)],
            routes: [:], discovered: [], grantedChannels: [], now: 0)
        return (manager, usable)
    }

    func device(serverAt endpoint: Endpoint, rx: UInt64 = 0, tx: UInt64 = 0) -> Device {
        Device(name: "evilcorp", peers: [Peer(publicKey: fixture.serverKey, endpoint: endpoint, rxBytes: rx, txBytes: tx)])
    }

    /// The direct path goes silent (WireGuard sends, nothing comes back for 30 s): the server
    /// moves onto the relays; UDP back, it returns to its external endpoint.
    @Test func aSilentDirectPathMovesToTheRelaysAndComesBack() throws {
        let (manager, usable) = try manager()
        var route = ServerRoute(server: fixture.config.server)
        let external = fixture.config.server.externalEndpoint
        #expect(route.current == external)
        func update(_ device: Device, _ nat: NatType = .udpBlocked, at now: Double) -> [PeerUpdate] {
            route.update(device: device, ownNat: nat, relay: manager, status: usable, now: now).peers
        }
        // Answers keep coming: a member taken for UDP-blocked keeps a working direct path.
        #expect(update(device(serverAt: external, rx: 100, tx: 100), at: 0).isEmpty)
        #expect(update(device(serverAt: external, rx: 200, tx: 200), at: 40).isEmpty)
        #expect(manager.proxy(for: fixture.serverKey) == nil)
        // Silent from 40 s on: at 70 s it moves.
        #expect(update(device(serverAt: external, rx: 200, tx: 300), at: 69).isEmpty)
        let toRelay = update(device(serverAt: external, rx: 200, tx: 400), at: 70)
        let proxy = try #require(manager.proxy(for: fixture.serverKey))
        #expect(RelayClientEngine.isProxy(proxy))
        #expect(toRelay == [PeerUpdate(publicKey: fixture.serverKey, action: .updateOnly, endpoint: proxy)])
        #expect(route.current == proxy)
        #expect(manager.engine.status().routes[fixture.serverKey]?.preferences == Array(usable.links.keys))
        // Answered through the relay: it stays there.
        #expect(update(device(serverAt: proxy, rx: 300, tx: 500), at: 71).isEmpty)
        #expect(update(device(serverAt: proxy, rx: 400, tx: 600), at: 200).isEmpty)

        let back = update(device(serverAt: proxy, rx: 400, tx: 600), .portPreserving, at: 201)
        #expect(back == [PeerUpdate(publicKey: fixture.serverKey, action: .updateOnly, endpoint: external)])
        #expect(manager.proxy(for: fixture.serverKey) == nil)
        #expect(manager.engine.status().routes[fixture.serverKey] == nil)
        #expect(route.current == external)
    }

    /// Relays that do not carry the server (the server is not registered there): the relayed
    /// path is silent too, the server goes back to its endpoint, and the relays are not tried
    /// again for five minutes.
    @Test func aSilentRelayedPathGoesBackAndIsHeldOff() throws {
        let (manager, usable) = try manager()
        var route = ServerRoute(server: fixture.config.server)
        let external = fixture.config.server.externalEndpoint
        func update(_ device: Device, at now: Double) -> [PeerUpdate] {
            route.update(device: device, ownNat: .udpBlocked, relay: manager, status: usable, now: now).peers
        }
        #expect(update(device(serverAt: external, rx: 0, tx: 10), at: 0).isEmpty)
        let proxy = try #require(update(device(serverAt: external, rx: 0, tx: 20), at: 30).first?.endpoint)
        #expect(update(device(serverAt: proxy, rx: 0, tx: 30), at: 31).isEmpty)
        #expect(update(device(serverAt: proxy, rx: 0, tx: 40), at: 60).isEmpty)
        #expect(update(device(serverAt: proxy, rx: 0, tx: 50), at: 61) == [PeerUpdate(publicKey: fixture.serverKey, action: .updateOnly, endpoint: external)])
        #expect(manager.proxy(for: fixture.serverKey) == nil)
        // Held off: still silent, but the relays are not tried again before 361 s.
        #expect(update(device(serverAt: external, rx: 0, tx: 60), at: 62).isEmpty)
        #expect(update(device(serverAt: external, rx: 0, tx: 70), at: 200).isEmpty)
        #expect(update(device(serverAt: external, rx: 0, tx: 80), at: 360).isEmpty)
        #expect(update(device(serverAt: external, rx: 0, tx: 90), at: 361).first.map { RelayClientEngine.isProxy($0.endpoint!) } == true)
    }

    @Test func withoutAUsableRelayTheServerStaysAtItsEndpoint() throws {
        let (manager, _) = try manager()
        var route = ServerRoute(server: fixture.config.server)
        let external = fixture.config.server.externalEndpoint
        let none = RelayEngineStatus(links: [:], routes: [:], discovered: [], grantedChannels: [], now: 0)
        #expect(route.update(device: device(serverAt: external, tx: 10), ownNat: .udpBlocked, relay: manager, status: none, now: 0).peers.isEmpty)
        #expect(route.update(device: device(serverAt: external, tx: 20), ownNat: .udpBlocked, relay: manager, status: none, now: 40).peers.isEmpty)
        #expect(route.update(device: device(serverAt: external, tx: 30), ownNat: .udpBlocked, relay: nil, status: nil, now: 80).peers.isEmpty)
        #expect(manager.proxy(for: fixture.serverKey) == nil)
        #expect(route.current == external)
    }
}
