import Foundation
import FormnetKit
import Logging
import Testing
import WireGuard
@testable import FormnetAgent
@testable import FormnetRelay

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

    func device(serverAt endpoint: Endpoint) -> Device {
        Device(name: "evilcorp", peers: [Peer(publicKey: fixture.serverKey, endpoint: endpoint)])
    }

    @Test func udpBlockedGoesThroughTheRelaysAndComesBack() throws {
        let (manager, usable) = try manager()
        var route = ServerRoute(server: fixture.config.server)
        let external = fixture.config.server.externalEndpoint
        #expect(route.current == external)

        let toRelay = route.update(device: device(serverAt: external), ownNat: .udpBlocked, relay: manager, status: usable)
        let proxy = try #require(manager.proxy(for: fixture.serverKey))
        #expect(RelayManager.isLoopback(proxy))
        #expect(toRelay.peers == [PeerUpdate(publicKey: fixture.serverKey, action: .updateOnly, endpoint: proxy)])
        #expect(route.current == proxy)
        #expect(manager.engine.status().routes[fixture.serverKey]?.preferences == Array(usable.links.keys))
        // Already there: nothing to change.
        #expect(route.update(device: device(serverAt: proxy), ownNat: .udpBlocked, relay: manager, status: usable).peers.isEmpty)

        let back = route.update(device: device(serverAt: proxy), ownNat: .portPreserving, relay: manager, status: usable)
        #expect(back.peers == [PeerUpdate(publicKey: fixture.serverKey, action: .updateOnly, endpoint: external)])
        #expect(manager.proxy(for: fixture.serverKey) == nil)
        #expect(manager.engine.status().routes[fixture.serverKey] == nil)
        #expect(route.current == external)
    }

    @Test func withoutAUsableRelayTheServerStaysAtItsEndpoint() throws {
        let (manager, _) = try manager()
        var route = ServerRoute(server: fixture.config.server)
        let external = fixture.config.server.externalEndpoint
        let none = RelayEngineStatus(links: [:], routes: [:], discovered: [], grantedChannels: [], now: 0)
        #expect(route.update(device: device(serverAt: external), ownNat: .udpBlocked, relay: manager, status: none).peers.isEmpty)
        #expect(route.update(device: device(serverAt: external), ownNat: .udpBlocked, relay: nil, status: nil).peers.isEmpty)
        #expect(manager.proxy(for: fixture.serverKey) == nil)
        #expect(route.current == external)
    }
}
