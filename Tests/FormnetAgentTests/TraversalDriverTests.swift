import Foundation
import FormnetKit
import FormnetTraversal
import Logging
import Testing
import WireGuard
@testable import FormnetAgent
@testable import RelayClient

@Suite struct TraversalDriverTests {
    let fixture = Fixture()
    let peerKey = PrivateKey.generate().publicKey

    func state(peerEndpoint: String, peerCandidates: [String] = [], peerNat: NatType? = nil,
               ownEndpoint: String = "203.0.113.1:51820") -> API.State {
        var peer = fixture.peer(3, "bob", "10.66.1.3", key: peerKey, endpoint: peerEndpoint)
        peer.candidates = peerCandidates.compactMap(Endpoint.init)
        peer.natType = peerNat
        return API.State(peers: [fixture.peer(2, "me", "10.66.1.2", key: fixture.ownKey.publicKey, endpoint: ownEndpoint), peer],
                         cidrs: fixture.cidrs)
    }

    func driver(_ directory: String) -> TraversalDriver {
        TraversalDriver(network: "evilcorp", options: TraversalOptions(),
                        paths: Paths(configDir: directory, dataDir: directory), relay: nil, logger: Logger(label: "test"))
    }

    func desired(_ state: API.State) -> [DesiredPeer] {
        DesiredPeer.from(state: state, config: fixture.config, ownKey: fixture.ownKey.publicKey)
            .filter { $0.publicKey != fixture.serverKey }
    }

    @Test func attemptReAddsThePeerAtTheFirstCandidate() throws {
        let directory = try fixture.temporaryDirectory()
        var driver = driver(directory)
        let s = state(peerEndpoint: "198.51.100.3:40000", peerCandidates: ["192.168.1.3:40000"])
        let update = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving, device: nil, now: 100)
        #expect(update.peers.map(\.action) == [.remove, .addOrUpdate])
        #expect(update.peers[1].endpoint == Endpoint("198.51.100.3:40000"))
        #expect(update.peers[1].allowedIPs == [IPNetwork("10.66.1.3/32")!])
        #expect(update.peers[1].persistentKeepalive == 25)
        #expect(driver.isAttempting)
    }

    @Test func attemptWithoutHandshakeIsResentOnceWithinItsSecond() throws {
        var driver = driver(try fixture.temporaryDirectory())
        let s = state(peerEndpoint: "198.51.100.3:40000")
        _ = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving, device: nil, now: 100)
        let device = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: Endpoint("198.51.100.3:40000"))])
        #expect(driver.tick(device: device, now: 100.2).peers.isEmpty)
        let again = driver.tick(device: device, now: 100.5)
        #expect(again.peers.map(\.action) == [.remove, .addOrUpdate])
        #expect(again.peers[1].endpoint == Endpoint("198.51.100.3:40000"))
        #expect(driver.tick(device: device, now: 100.6).peers.isEmpty)
    }

    @Test func aPeerWhoseCandidatesAllFailedRecentlyIsNotAttemptedWhenARelayCanCarryIt() throws {
        let directory = try fixture.temporaryDirectory()
        let paths = Paths(configDir: directory, dataDir: directory)
        var cache = ConnectionCache()
        for endpoint in ["198.51.100.3:40000", "192.168.1.3:40000"] {
            cache.update(peer: peerKey, endpoint: Endpoint(endpoint)!, kind: .serverReflexive, now: 50) { $0.recordFailure(at: 50) }
        }
        try cache.save(to: paths.connectionCache("evilcorp"))
        let s = state(peerEndpoint: "198.51.100.3:40000", peerCandidates: ["192.168.1.3:40000"])
        let relay = try RelayManager(network: "evilcorp", paths: paths, clientKey: PrivateKey.generate(), wireGuardPort: 9,
                                     geoDatabase: nil, logger: Logger(label: "test"))
        var withRelay = TraversalDriver(network: "evilcorp", options: TraversalOptions(), paths: paths, relay: relay,
                                        logger: Logger(label: "test"))
        let update = withRelay.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving,
                                    device: nil, now: 100)
        #expect(update.peers.isEmpty)
        #expect(withRelay.peers[peerKey]?.machine.phase == .unreachable(.failedRecently, retryAt: 105))
        #expect(withRelay.snapshot.1.peers[peerKey.base64]?.reason == "every candidate failed recently")

        // Without a relay, or when the failures are old, the candidates are tried as usual.
        var withoutRelay = driver(directory)
        #expect(withoutRelay.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving,
                                  device: nil, now: 100).peers.map(\.action) == [.remove, .addOrUpdate])
        var later = TraversalDriver(network: "evilcorp", options: TraversalOptions(), paths: paths, relay: relay,
                                    logger: Logger(label: "test"))
        #expect(later.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving,
                           device: nil, now: 50 + TraversalDriver.recentFailureWindow).peers.map(\.action) == [.remove, .addOrUpdate])
    }

    @Test func exhaustedPeerIsPointedBackAtItsBestCandidate() throws {
        var driver = driver(try fixture.temporaryDirectory())
        let s = state(peerEndpoint: "198.51.100.3:40000", peerCandidates: ["192.168.1.3:40000"])
        _ = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving, device: nil, now: 100)
        let device = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: Endpoint("192.168.1.3:40000"))])
        _ = driver.tick(device: device, now: 101.1)
        let last = driver.tick(device: device, now: 102.2)
        #expect(last.peers.last == PeerUpdate(publicKey: peerKey, action: .updateOnly, endpoint: Endpoint("198.51.100.3:40000")))
        #expect(driver.snapshot.1.peers[peerKey.base64]?.path == .unreachableDirect)
    }

    @Test func liveSessionFromBeforeARestartIsAdoptedNotReAdded() throws {
        var driver = driver(try fixture.temporaryDirectory())
        let s = state(peerEndpoint: "198.51.100.3:40000")
        let device = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: Endpoint("198.51.100.3:40000"),
                                                           lastHandshake: Date(timeIntervalSince1970: 60))])
        let update = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving,
                                 device: device, now: 100)
        #expect(update.peers.isEmpty)
        #expect(!driver.isAttempting)
        #expect(driver.snapshot.1.peers[peerKey.base64]?.path == .direct)
    }

    @Test func sameStateDoesNotRestartAttempts() throws {
        var driver = driver(try fixture.temporaryDirectory())
        let s = state(peerEndpoint: "198.51.100.3:40000")
        _ = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving, device: nil, now: 100)
        let again = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving, device: nil, now: 100.2)
        #expect(again.peers.isEmpty)
    }

    @Test func sameLanPairTriesThePrivateAddressFirst() throws {
        var driver = driver(try fixture.temporaryDirectory())
        let s = state(peerEndpoint: "203.0.113.1:40000", peerCandidates: ["192.168.1.3:40000"])
        let update = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving, device: nil, now: 100)
        #expect(update.peers[1].endpoint == Endpoint("192.168.1.3:40000"))
    }

    @Test func handshakeMakesThePathDirectAndIsPersisted() throws {
        let directory = try fixture.temporaryDirectory()
        var driver = driver(directory)
        let s = state(peerEndpoint: "198.51.100.3:40000")
        _ = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving, device: nil, now: 100)
        let before = driver.snapshot
        let device = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: Endpoint("198.51.100.3:40000"),
                                                           lastHandshake: Date(timeIntervalSince1970: 100.3))])
        #expect(driver.tick(device: device, now: 100.4).peers.isEmpty)
        #expect(!driver.isAttempting)
        driver.persist(previousCache: before.0, previousStatus: before.1)
        let status = try #require(TraversalStatus.load(from: "\(directory)/evilcorp.traversal.json"))
        #expect(status.natType == .portPreserving)
        #expect(status.peers[peerKey.base64]?.path == .direct)
        let cache = ConnectionCache.load(from: "\(directory)/evilcorp.connections.json") { Issue.record("\($0)") }
        #expect(cache.stats(for: peerKey)[Endpoint("198.51.100.3:40000")!]?.successes == 1)
    }

    @Test func symmetricPeerIsUnreachableDirectWithoutAttempts() throws {
        var driver = driver(try fixture.temporaryDirectory())
        let s = state(peerEndpoint: "198.51.100.3:40000", peerNat: .symmetric)
        let update = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving, device: nil, now: 100)
        #expect(update.peers.isEmpty)
        #expect(driver.snapshot.1.peers[peerKey.base64]?.path == .unreachableDirect)
    }

    /// A peer relayed to us moves its home: our route to it follows its new list, as it would
    /// had we routed it now (the lab saw a sender keep the old home for good).
    @Test func relayedPeerIsReachedThroughItsNewHome() throws {
        let relays = [PrivateKey.generate().publicKey, PrivateKey.generate().publicKey]
        let directory = try fixture.temporaryDirectory()
        let paths = Paths(configDir: directory, dataDir: directory)
        let manager = try RelayManager(network: "evilcorp", paths: paths, clientKey: PrivateKey.generate(), wireGuardPort: 0,
                                       geoDatabase: nil, logger: Logger(label: "test"))
        // Loopback targets: the registrations go nowhere, and the test needs none.
        let offers = relays.enumerated().map { index, key in
            NetworkRelay(publicKey: key, endpoint: Endpoint("127.0.0.1:\(9 + index)")!, capacity: 10, load: 0, peerId: Int64(10 + index),
                         lastSeen: Date())
        }
        manager.refresh(serverRelays: offers, ownNat: .portPreserving, ownAddress: nil, status: manager.engine.status())
        var driver = TraversalDriver(network: "evilcorp", options: TraversalOptions(), paths: paths, relay: manager,
                                     logger: Logger(label: "test"))
        func state(relays: [PublicKey]) -> API.State {
            var s = self.state(peerEndpoint: "198.51.100.3:40000", peerNat: .symmetric)
            s.peers[1].relays = relays
            return s
        }
        let before = state(relays: [relays[0], relays[1]])
        _ = driver.plan(state: before, desired: desired(before), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving,
                        device: nil, now: 100)
        let usable = RelayEngineStatus(
            links: Dictionary(uniqueKeysWithValues: offers.map { offer in
                (offer.publicKey, RelayEngineStatus.Link(target: RelayTarget(key: offer.publicKey, endpoint: offer.endpoint), transport: .udp,
                                                   phase: .registered(since: 0), usable: true, rttSamples: [],
                                                   observedAddress: nil, info: nil))
            }),
            routes: [:], discovered: [], grantedChannels: [], now: 0)
        let device = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: Endpoint("198.51.100.3:40000"))])
        let routed = driver.tick(device: device, now: 100.1, relays: usable)
        #expect(routed.peers.last?.endpoint.map(RelayClientEngine.isProxy) == true)
        #expect(manager.engine.status().routes[peerKey]?.preferences == [relays[0], relays[1]])

        let after = state(relays: [relays[1], relays[0]])
        let update = driver.plan(state: after, desired: desired(after), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving,
                                 device: device, now: 101)
        #expect(update.peers.isEmpty)
        #expect(manager.engine.status().routes[peerKey]?.preferences == [relays[1], relays[0]])
        #expect(manager.proxy(for: peerKey) == routed.peers.last?.endpoint)
    }

    /// When WireGuard moves onto a relay channel, its keepalive goes off and on again in the same
    /// update: WireGuard then sends at once through the channel, and the relay learns where it
    /// sends from before the peer's packets arrive through the proxy and roam it back there.
    @Test func movingOntoAChannelMakesWireGuardSendThroughItAtOnce() throws {
        let relayKey = PrivateKey.generate().publicKey
        let directory = try fixture.temporaryDirectory()
        let paths = Paths(configDir: directory, dataDir: directory)
        let manager = try RelayManager(network: "evilcorp", paths: paths, clientKey: PrivateKey.generate(), wireGuardPort: 0,
                                       geoDatabase: nil, logger: Logger(label: "test"))
        let offer = NetworkRelay(publicKey: relayKey, endpoint: Endpoint("127.0.0.1:9")!, capacity: 10, load: 0, peerId: 10, lastSeen: Date())
        manager.refresh(serverRelays: [offer], ownNat: .portPreserving, ownAddress: nil, status: manager.engine.status())
        var driver = TraversalDriver(network: "evilcorp", options: TraversalOptions(), paths: paths, relay: manager,
                                     logger: Logger(label: "test"))
        let s = state(peerEndpoint: "198.51.100.3:40000", peerNat: .symmetric)
        _ = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .symmetric, device: nil, now: 100)
        let link = RelayEngineStatus.Link(target: RelayTarget(key: relayKey, endpoint: offer.endpoint), transport: .udp,
                                          phase: .registered(since: 0), usable: true, rttSamples: [], observedAddress: nil, info: nil)
        func status(channel: Endpoint?) -> RelayEngineStatus {
            let route = RelayEngineStatus.Route(peer: peerKey, proxy: manager.proxy(for: peerKey) ?? Endpoint("127.0.0.1:1")!, preferences: [relayKey],
                                                automatic: false, packetsIn: 0, packetsOut: 0, packetsDropped: 0, channel: channel,
                                                channelVia: channel == nil ? nil : relayKey)
            return RelayEngineStatus(links: [relayKey: link], routes: [peerKey: route], discovered: [], grantedChannels: [], now: 0)
        }
        let device = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: Endpoint("198.51.100.3:40000"))])
        let routed = driver.tick(device: device, now: 100.1, relays: status(channel: nil))
        let proxy = try #require(manager.proxy(for: peerKey))
        #expect(routed.peers.last?.endpoint == proxy)

        let channel = Endpoint("198.51.100.9:40000")!
        let onProxy = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: proxy, persistentKeepalive: 25)])
        let moved = driver.tick(device: onProxy, now: 100.2, relays: status(channel: channel)).peers
        #expect(moved.map(\.persistentKeepalive) == [0, 25])
        #expect(moved.map(\.endpoint) == [nil, channel])
        #expect(moved.allSatisfy { $0.action == .updateOnly && $0.publicKey == peerKey })
        // Back to the proxy (the channel is gone): only the endpoint changes.
        let onChannel = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: channel, persistentKeepalive: 25)])
        #expect(driver.tick(device: onChannel, now: 100.3, relays: status(channel: nil)).peers
            == [PeerUpdate(publicKey: peerKey, action: .updateOnly, endpoint: proxy)])
    }

    @Test func removedPeerIsForgotten() throws {
        var driver = driver(try fixture.temporaryDirectory())
        let s = state(peerEndpoint: "198.51.100.3:40000")
        _ = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving, device: nil, now: 100)
        _ = driver.plan(state: s, desired: [], ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving, device: nil, now: 101)
        #expect(driver.peers.isEmpty)
        #expect(driver.snapshot.1.peers.isEmpty)
    }
}

@Suite struct NatDetectionTests {
    @Test func beforeTheProbeAnswersRelaysAndTheLastRunDecide() {
        // The probe's answer wins.
        #expect(NatDetection.effective(probed: .symmetric, remembered: .portPreserving,
                                       relayAnswersOverUDP: false, relayAnswersOverTCP: true) == .symmetric)
        // Relays that answer over TCP only: UDP is blocked, whatever the last run found.
        #expect(NatDetection.effective(probed: .unknown, remembered: .portPreserving,
                                       relayAnswersOverUDP: false, relayAnswersOverTCP: true) == .udpBlocked)
        // One relay over UDP proves UDP passes, even if another fell back to TCP.
        #expect(NatDetection.effective(probed: .unknown, remembered: .symmetric,
                                       relayAnswersOverUDP: true, relayAnswersOverTCP: true) == .symmetric)
        #expect(NatDetection.effective(probed: .unknown, remembered: .unknown,
                                       relayAnswersOverUDP: false, relayAnswersOverTCP: false) == .unknown)
    }

    @Test func serverViewOfTheWireGuardPortConfirmsPortPreservation() {
        #expect(NatDetection.confirm(.endpointIndependent, wireGuardPort: 51820,
                                     serverObserved: Endpoint("198.51.100.3:51820")) == .portPreserving)
        #expect(NatDetection.confirm(.portPreserving, wireGuardPort: 51820,
                                     serverObserved: Endpoint("198.51.100.3:1024")) == .endpointIndependent)
        #expect(NatDetection.confirm(.symmetric, wireGuardPort: 51820,
                                     serverObserved: Endpoint("198.51.100.3:51820")) == .symmetric)
        #expect(NatDetection.confirm(.portPreserving, wireGuardPort: 51820, serverObserved: nil) == .portPreserving)
    }

    @Test func noObserversMeansUnknown() {
        #expect(NatDetection.probe(observers: [], localAddresses: []) == .unknown)
    }
}
