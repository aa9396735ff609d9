import Foundation
import FormnetKit
import FormnetTraversal
import Logging
import Testing
import WireGuard
@testable import FormnetAgent
@testable import RelayClient

@Suite struct PathPlannerTests {
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

    func driver() -> PathPlanner {
        PathPlanner(network: "evilcorp", options: TraversalOptions(), cache: ConnectionCache(), relay: nil, logger: Logger(label: "test"))
    }

    func desired(_ state: API.State) -> [DesiredPeer] {
        DesiredPeer.from(state: state, config: fixture.config, ownKey: fixture.ownKey.publicKey)
            .filter { $0.publicKey != fixture.serverKey }
    }

    @Test func attemptReAddsThePeerAtTheFirstCandidate() throws {
        var driver = driver()
        let s = state(peerEndpoint: "198.51.100.3:40000", peerCandidates: ["192.168.1.3:40000"])
        let update = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving, device: nil, now: 100)
        #expect(update.peers.map(\.action) == [.remove, .addOrUpdate])
        #expect(update.peers[1].endpoint == Endpoint("198.51.100.3:40000"))
        #expect(update.peers[1].allowedIPs == [IPNetwork("10.66.1.3/32")!])
        #expect(update.peers[1].persistentKeepalive == 25)
        #expect(driver.isAttempting)
    }

    /// A peer key that the fixture's own key leads, or follows (`PairRoles`).
    func peerKey(ownLeads: Bool) -> PublicKey {
        while true {
            let key = PrivateKey.generate().publicKey
            if PairRoles.leads(fixture.ownKey.publicKey, peer: key) == ownLeads { return key }
        }
    }

    /// A planner attempting a peer it leads at 198.51.100.3:40000 since 100.
    func leaderAttempting() -> (PathPlanner, PublicKey) {
        var driver = driver()
        let key = peerKey(ownLeads: true)
        var s = state(peerEndpoint: "198.51.100.3:40000")
        s.peers[1].publicKey = key
        _ = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving, device: nil, now: 100)
        return (driver, key)
    }

    @Test func theLeaderResendsItsInitiationOnceWithinTheAttempt() throws {
        var (driver, key) = leaderAttempting()
        let device = Device(name: "evilcorp", peers: [Peer(publicKey: key, endpoint: Endpoint("198.51.100.3:40000"))])
        #expect(driver.tick(device: device, now: 100.2).peers.isEmpty)
        let again = driver.tick(device: device, now: 100.5)
        #expect(again.peers.map(\.action) == [.remove, .addOrUpdate])
        #expect(again.peers[1].endpoint == Endpoint("198.51.100.3:40000"))
        #expect(driver.tick(device: device, now: 100.6).peers.isEmpty)
    }

    /// The follower's initiation crossed ours: WireGuard answered it (its receive counter rose,
    /// no handshake), which ended ours, so the leader re-sends at once rather than at its pace.
    @Test func theLeaderResendsAtOnceWhenTheInitiationsCross() throws {
        var (driver, key) = leaderAttempting()
        func device(rx: UInt64) -> Device {
            Device(name: "evilcorp", peers: [Peer(publicKey: key, endpoint: Endpoint("198.51.100.3:40000"), rxBytes: rx)])
        }
        // The first pass after the re-add records the counter; a rise after it is the crossing.
        #expect(driver.tick(device: device(rx: 0), now: 100.1).peers.isEmpty)
        #expect(driver.tick(device: device(rx: 148), now: 100.2).peers.map(\.action) == [.remove, .addOrUpdate])
        // Read before the re-add took effect, the old counter is the new baseline, not a crossing.
        #expect(driver.tick(device: device(rx: 148), now: 100.3).peers.isEmpty)
        #expect(driver.tick(device: device(rx: 0), now: 100.4).peers.isEmpty)
    }

    /// The peer's initiation came from another port than its candidate's (its NAT mapped it
    /// elsewhere), and WireGuard roamed there: the leader's re-sends go where it came from.
    @Test func theLeaderResendsToWhereTheCrossingCameFrom() throws {
        var (driver, key) = leaderAttempting()
        func device(rx: UInt64, at endpoint: String) -> Device {
            Device(name: "evilcorp", peers: [Peer(publicKey: key, endpoint: Endpoint(endpoint), rxBytes: rx)])
        }
        _ = driver.tick(device: device(rx: 0, at: "198.51.100.3:40000"), now: 100.1)
        let again = driver.tick(device: device(rx: 148, at: "198.51.100.3:40999"), now: 100.2)
        #expect(again.peers.map(\.action) == [.remove, .addOrUpdate])
        #expect(again.peers.last?.endpoint == Endpoint("198.51.100.3:40999"))
        // The pace's re-send in the same attempt goes there too.
        _ = driver.tick(device: device(rx: 0, at: "198.51.100.3:40999"), now: 100.3)
        let paced = driver.tick(device: device(rx: 0, at: "198.51.100.3:40999"), now: 100.7)
        #expect(paced.peers.last?.endpoint == Endpoint("198.51.100.3:40999"))
    }

    /// The leader's initiation reached the follower (the counter rose): the follower's attempt
    /// waits twice as long for the leader's re-send instead of giving up at its own pace.
    @Test func theFollowerWaitsForTheLeaderOnceItsInitiationArrived() throws {
        var driver = driver()
        let key = peerKey(ownLeads: false)
        var s = state(peerEndpoint: "198.51.100.3:40000")
        s.peers[1].publicKey = key
        _ = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving, device: nil, now: 100)
        func device(rx: UInt64) -> Device {
            Device(name: "evilcorp", peers: [Peer(publicKey: key, endpoint: Endpoint("198.51.100.3:40000"), rxBytes: rx)])
        }
        _ = driver.tick(device: device(rx: 0), now: 100.1)
        _ = driver.tick(device: device(rx: 148), now: 100.5)
        _ = driver.tick(device: device(rx: 148), now: 101.1)
        #expect(driver.status.peers[key.base64]?.path == .connecting)
        _ = driver.tick(device: device(rx: 148), now: 102.1)
        #expect(driver.status.peers[key.base64]?.path != .connecting)

        // Without it, the attempt ends at the usual timeout.
        var alone = self.driver()
        _ = alone.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving, device: nil, now: 100)
        _ = alone.tick(device: device(rx: 0), now: 100.1)
        _ = alone.tick(device: device(rx: 0), now: 101.1)
        #expect(alone.status.peers[key.base64]?.path != .connecting)
    }

    /// The peer's initiation came through a relay during the attempt and WireGuard answered it
    /// there: the leader does not re-send, which would end that session.
    @Test func theLeaderDoesNotResendOnceWireGuardAnswersThroughARelay() throws {
        var (driver, key) = leaderAttempting()
        let roamed = Device(name: "evilcorp", peers: [Peer(publicKey: key, endpoint: Endpoint("127.0.0.1:40007"))])
        #expect(driver.tick(device: roamed, now: 100.2).peers.isEmpty)
        #expect(driver.tick(device: roamed, now: 100.5).peers.isEmpty)
    }

    /// The register frame's answer (`RelayLinkMachine.answered`) paces the first attempts, a
    /// round before the registration completes; a link given up (refused) does not count.
    @Test func aRelayStillRegisteringGivesTheRoundTripEstimate() {
        let registering = PrivateKey.generate().publicKey, refused = PrivateKey.generate().publicKey
        func link(_ key: PublicKey, _ phase: RelayLinkMachine.Phase, rtt: Double) -> RelayEngineStatus.Link {
            RelayEngineStatus.Link(target: RelayTarget(key: key, endpoint: Endpoint("192.0.2.10:51821")!), transport: .udp, phase: phase,
                                   usable: false, rttSamples: [rtt], observedAddress: nil, info: nil)
        }
        let status = RelayEngineStatus(links: [registering: link(registering, .registering(since: 0, attempt: 1, lastSent: 0.3), rtt: 0.3),
                                               refused: link(refused, .refused(.relayFull, retryAt: 60), rtt: 0.01)],
                                       routes: [:], discovered: [], grantedChannels: [], now: 0.3)
        let driver = PathPlanner(network: "evilcorp", options: TraversalOptions(), cache: ConnectionCache(), relay: RelayRoutes(status: status),
                                 logger: Logger(label: "test"))
        #expect(driver.pathRTTEstimate == 0.6)
    }

    /// Paced by the path's round trip: on a 450 ms path (relays 225 ms away) a 0.4 s pace ended
    /// every handshake before its response came back.
    @Test func reSentInitiationsAndAttemptsStretchWithTheRoundTrip() throws {
        #expect(PathPlanner.rekickInterval(pathRTT: nil) == 0.4)
        #expect(PathPlanner.rekickInterval(pathRTT: 0.04) == 0.4)
        #expect(abs(PathPlanner.rekickInterval(pathRTT: 0.45) - 0.9) < 1e-9)
        #expect(PathPlanner.attemptTimeout(pathRTT: nil) == 1.0)
        #expect(PathPlanner.attemptTimeout(pathRTT: 0.2) == 1.0)
        #expect(abs(PathPlanner.attemptTimeout(pathRTT: 0.45) - 1.575) < 1e-9)
        #expect(abs(PathPlanner.attemptTimeout(pathRTT: 0.45, crossed: true) - 3.15) < 1e-9)

        let relays = [PrivateKey.generate().publicKey]
        var routes = RelayRoutes(status: usable(relays, rtt: 0.225))
        routes.ranked = relays
        var driver = PathPlanner(network: "evilcorp", options: TraversalOptions(), cache: ConnectionCache(), relay: routes,
                                 logger: Logger(label: "test"))
        #expect(driver.pathRTTEstimate == 0.45)
        let key = peerKey(ownLeads: true)
        var s = state(peerEndpoint: "198.51.100.3:40000", peerCandidates: ["192.168.1.3:40000"])
        s.peers[1].publicKey = key
        _ = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving, device: nil, now: 100)
        let device = Device(name: "evilcorp", peers: [Peer(publicKey: key, endpoint: Endpoint("198.51.100.3:40000"))])
        #expect(driver.tick(device: device, now: 100.5).peers.isEmpty)
        #expect(driver.tick(device: device, now: 100.8).peers.isEmpty)
        #expect(driver.tick(device: device, now: 100.9).peers.map(\.action) == [.remove, .addOrUpdate])
        #expect(driver.tick(device: device, now: 101.5).peers.isEmpty)
        let next = driver.tick(device: device, now: 101.6)
        #expect(next.peers.last?.endpoint == Endpoint("192.168.1.3:40000"))
    }

    /// The follower's one initiation per candidate opens its NAT; a second would cross the
    /// leader's re-sent one, and a re-add would end a handshake the leader's started.
    @Test func theFollowerSendsOneInitiationPerCandidate() throws {
        var driver = driver()
        let key = peerKey(ownLeads: false)
        var s = state(peerEndpoint: "198.51.100.3:40000", peerCandidates: ["192.168.1.3:40000"])
        s.peers[1].publicKey = key
        let first = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving, device: nil, now: 100)
        #expect(first.peers.map(\.action) == [.remove, .addOrUpdate])
        let device = Device(name: "evilcorp", peers: [Peer(publicKey: key, endpoint: Endpoint("198.51.100.3:40000"))])
        for now in stride(from: 100.1, to: 100.95, by: 0.1) { #expect(driver.tick(device: device, now: now).peers.isEmpty) }
        let next = driver.tick(device: device, now: 101.0)
        #expect(next.peers.map(\.action) == [.remove, .addOrUpdate])
        #expect(next.peers[1].endpoint == Endpoint("192.168.1.3:40000"))
    }

    @Test func aPeerWhoseCandidatesAllFailedRecentlyIsNotAttemptedWhenARelayCanCarryIt() throws {
        var cache = ConnectionCache()
        for endpoint in ["198.51.100.3:40000", "192.168.1.3:40000"] {
            cache.update(peer: peerKey, endpoint: Endpoint(endpoint)!, kind: .serverReflexive, now: 50) { $0.recordFailure(at: 50) }
        }
        let s = state(peerEndpoint: "198.51.100.3:40000", peerCandidates: ["192.168.1.3:40000"])
        let routes = RelayRoutes(status: RelayEngineStatus(links: [:], routes: [:], discovered: [], grantedChannels: [], now: 0))
        var withRelay = PathPlanner(network: "evilcorp", options: TraversalOptions(), cache: cache, relay: routes, logger: Logger(label: "test"))
        let update = withRelay.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving,
                                    device: nil, now: 100)
        #expect(update.peers.isEmpty)
        #expect(withRelay.peers[peerKey]?.machine.phase == .unreachable(.failedRecently, retryAt: 105))
        #expect(withRelay.status.peers[peerKey.base64]?.reason == "every candidate failed recently")

        // Without a relay, or when the failures are old, the candidates are tried as usual.
        var withoutRelay = PathPlanner(network: "evilcorp", options: TraversalOptions(), cache: cache, relay: nil, logger: Logger(label: "test"))
        #expect(withoutRelay.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving,
                                  device: nil, now: 100).peers.map(\.action) == [.remove, .addOrUpdate])
        var later = PathPlanner(network: "evilcorp", options: TraversalOptions(), cache: cache, relay: routes, logger: Logger(label: "test"))
        #expect(later.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving,
                           device: nil, now: 50 + PathPlanner.recentFailureWindow).peers.map(\.action) == [.remove, .addOrUpdate])
    }

    @Test func exhaustedPeerIsPointedBackAtItsBestCandidate() throws {
        var driver = driver()
        let s = state(peerEndpoint: "198.51.100.3:40000", peerCandidates: ["192.168.1.3:40000"])
        _ = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving, device: nil, now: 100)
        let device = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: Endpoint("192.168.1.3:40000"))])
        _ = driver.tick(device: device, now: 101.1)
        let last = driver.tick(device: device, now: 102.2)
        #expect(last.peers.last == PeerUpdate(publicKey: peerKey, action: .updateOnly, endpoint: Endpoint("198.51.100.3:40000")))
        #expect(driver.status.peers[peerKey.base64]?.path == .unreachableDirect)
    }

    @Test func liveSessionFromBeforeARestartIsAdoptedNotReAdded() throws {
        var driver = driver()
        let s = state(peerEndpoint: "198.51.100.3:40000")
        let device = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: Endpoint("198.51.100.3:40000"),
                                                           lastHandshake: Date(timeIntervalSince1970: 60))])
        let update = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving,
                                 device: device, now: 100)
        #expect(update.peers.isEmpty)
        #expect(!driver.isAttempting)
        #expect(driver.status.peers[peerKey.base64]?.path == .direct)
    }

    @Test func sameStateDoesNotRestartAttempts() throws {
        var driver = driver()
        let s = state(peerEndpoint: "198.51.100.3:40000")
        _ = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving, device: nil, now: 100)
        let again = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving, device: nil, now: 100.2)
        #expect(again.peers.isEmpty)
    }

    @Test func sameLanPairTriesThePrivateAddressFirst() throws {
        var driver = driver()
        let s = state(peerEndpoint: "203.0.113.1:40000", peerCandidates: ["192.168.1.3:40000"])
        let update = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving, device: nil, now: 100)
        #expect(update.peers[1].endpoint == Endpoint("192.168.1.3:40000"))
    }

    @Test func handshakeMakesThePathDirectAndIsRecorded() throws {
        var driver = driver()
        let s = state(peerEndpoint: "198.51.100.3:40000")
        _ = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving, device: nil, now: 100)
        let device = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: Endpoint("198.51.100.3:40000"),
                                                           lastHandshake: Date(timeIntervalSince1970: 100.3))])
        #expect(driver.tick(device: device, now: 100.4).peers.isEmpty)
        #expect(!driver.isAttempting)
        #expect(driver.status.natType == .portPreserving)
        #expect(driver.status.peers[peerKey.base64]?.path == .direct)
        #expect(driver.cache.stats(for: peerKey)[Endpoint("198.51.100.3:40000")!]?.successes == 1)
    }

    @Test func symmetricPeerIsUnreachableDirectWithoutAttempts() throws {
        var driver = driver()
        let s = state(peerEndpoint: "198.51.100.3:40000", peerNat: .symmetric)
        let update = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving, device: nil, now: 100)
        #expect(update.peers.isEmpty)
        #expect(driver.status.peers[peerKey.base64]?.path == .unreachableDirect)
    }

    /// Registered relays, each usable; a route for the peer when `proxy` is given.
    func usable(_ relays: [PublicKey], proxy: Endpoint? = nil, channel: Endpoint? = nil, rtt: Double? = nil) -> RelayEngineStatus {
        let links = relays.enumerated().map { index, key in
            (key, RelayEngineStatus.Link(target: RelayTarget(key: key, endpoint: Endpoint("192.0.2.\(10 + index):51821")!), transport: .udp,
                                         phase: .registered(since: 0), usable: true, rttSamples: rtt.map { [$0] } ?? [],
                                         observedAddress: nil, info: nil))
        }
        let route = proxy.map {
            RelayEngineStatus.Route(peer: peerKey, proxy: $0, preferences: relays, automatic: false, packetsIn: 0, packetsOut: 0,
                                    packetsDropped: 0, channel: channel, channelVia: channel == nil ? nil : relays.first)
        }
        return RelayEngineStatus(links: Dictionary(uniqueKeysWithValues: links), routes: route.map { [peerKey: $0] } ?? [:],
                                 discovered: [], grantedChannels: channel.map { [$0] } ?? [], now: 0)
    }

    func relayedPlanner(_ relays: [PublicKey]) -> PathPlanner {
        var routes = RelayRoutes(status: usable(relays))
        routes.ranked = relays
        return PathPlanner(network: "evilcorp", options: TraversalOptions(), cache: ConnectionCache(), relay: routes,
                           logger: Logger(label: "test"))
    }

    /// After a restart, WireGuard may still send through a relay channel the old engine was
    /// granted (the new one does not know it): that is no direct path to adopt (the soak saw a
    /// pair taken for direct there, and unreachable for 15 s once the peer's NAT forgot its side).
    /// A member on the relay's host, at one of its own candidates there, is adopted.
    @Test func aRelayChannelFromBeforeARestartIsNotAdoptedAsDirect() throws {
        let relayKey = PrivateKey.generate().publicKey
        var driver = relayedPlanner([relayKey])
        let s = state(peerEndpoint: "198.51.100.3:40000", peerNat: .symmetric)
        let oldChannel = Endpoint("192.0.2.10:52689")!
        let onChannel = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: oldChannel,
                                                              lastHandshake: Date(timeIntervalSince1970: 95))])
        let update = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .symmetric,
                                 device: onChannel, now: 100)
        #expect(driver.isRelayed(oldChannel))
        #expect(driver.status.peers[peerKey.base64]?.path != .direct)
        #expect(!update.peers.isEmpty)

        var onHost = relayedPlanner([relayKey])
        let h = state(peerEndpoint: "192.0.2.10:51820")
        let direct = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: Endpoint("192.0.2.10:51820"),
                                                           lastHandshake: Date(timeIntervalSince1970: 95))])
        #expect(onHost.plan(state: h, desired: desired(h), ownKey: fixture.ownKey.publicKey, ownNat: .symmetric,
                            device: direct, now: 100).peers.isEmpty)
        #expect(onHost.status.peers[peerKey.base64]?.path == .direct)
    }

    /// A peer relayed to us moves its home: our route to it follows its new list, as it would
    /// had we routed it now (the lab saw a sender keep the old home for good).
    @Test func relayedPeerIsReachedThroughItsNewHome() throws {
        let relays = [PrivateKey.generate().publicKey, PrivateKey.generate().publicKey]
        var driver = relayedPlanner(relays)
        func state(relays: [PublicKey]) -> API.State {
            var s = self.state(peerEndpoint: "198.51.100.3:40000", peerNat: .symmetric)
            s.peers[1].relays = relays
            return s
        }
        let before = state(relays: [relays[0], relays[1]])
        _ = driver.plan(state: before, desired: desired(before), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving,
                        device: nil, now: 100)
        let device = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: Endpoint("198.51.100.3:40000"))])
        let routed = driver.tick(device: device, now: 100.1)
        // Until the engine has opened the proxy, the update names the pending one.
        #expect(routed.peers.last?.endpoint == MemberPlan.pendingProxy)
        #expect(driver.relay?.take() == [.route(peerKey, preferring: [relays[0], relays[1]], peerRelays: [relays[0], relays[1]])])

        let proxy = Endpoint("127.0.0.1:40001")!
        driver.relay?.begin(status: usable(relays, proxy: proxy))
        #expect(driver.relay?.proxy(for: peerKey) == proxy)
        let after = state(relays: [relays[1], relays[0]])
        let update = driver.plan(state: after, desired: desired(after), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving,
                                 device: device, now: 101)
        #expect(update.peers.isEmpty)
        #expect(driver.relay?.take() == [.route(peerKey, preferring: [relays[1], relays[0]], peerRelays: [relays[1], relays[0]])])
        #expect(driver.relay?.proxy(for: peerKey) == proxy)
    }

    /// A channel the agent gave up stays given up while the engine's status, taken before the
    /// engine applied the command, still shows it: WireGuard went back onto the silent channel.
    @Test func aRefusedChannelIsNotUsedWhileTheStatusStillShowsIt() {
        let relays = [PrivateKey.generate().publicKey]
        let proxy = Endpoint("127.0.0.1:40001")!
        let channel = Endpoint("192.0.2.10:52000")!
        var routes = RelayRoutes(status: usable(relays, proxy: proxy, channel: channel))
        _ = routes.route(peerKey, peerRelays: relays)
        #expect(routes.wireGuardEndpoint(for: peerKey) == channel)
        routes.refuseChannel(of: peerKey)
        #expect(routes.wireGuardEndpoint(for: peerKey) == proxy)
        routes.begin(status: usable(relays, proxy: proxy, channel: channel))
        #expect(routes.wireGuardEndpoint(for: peerKey) == proxy)
        routes.begin(status: usable(relays, proxy: proxy))
        #expect(routes.wireGuardEndpoint(for: peerKey) == proxy)
        // A channel granted later (the hold over) is used again.
        routes.begin(status: usable(relays, proxy: proxy, channel: channel))
        #expect(routes.wireGuardEndpoint(for: peerKey) == channel)
    }

    /// Both NAT types arrive after a pair was relayed for NAT types that ruled direct out: the
    /// peer stays on its route, not re-added (which ended the handshake under way through the
    /// relay, and on a WAN cost the pair 5 s).
    @Test func aRelayedPeerIsNotReAddedWhenTheReasonIsLearnedAgain() throws {
        let relays = [PrivateKey.generate().publicKey]
        var driver = relayedPlanner(relays)
        let before = state(peerEndpoint: "198.51.100.3:40000", peerNat: .symmetric)
        let first = driver.plan(state: before, desired: desired(before), ownKey: fixture.ownKey.publicKey, ownNat: .unknown,
                                device: nil, now: 100)
        #expect(first.peers.map(\.action) == [.remove, .addOrUpdate])
        let proxy = Endpoint("127.0.0.1:40001")!
        driver.relay?.begin(status: usable(relays, proxy: proxy))
        let device = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: proxy)])
        let learned = driver.plan(state: before, desired: desired(before), ownKey: fixture.ownKey.publicKey, ownNat: .symmetric,
                                  device: device, now: 100.3)
        #expect(!learned.peers.contains { $0.action == .remove })
        #expect(driver.relay?.proxy(for: peerKey) == proxy)
        #expect(driver.status.peers[peerKey.base64]?.reason?.contains("symmetric and symmetric") == true)
    }

    /// When WireGuard moves onto a relay channel, its keepalive goes off and on again in the same
    /// update: WireGuard then sends at once through the channel, and the relay learns where it
    /// sends from before the peer's packets arrive through the proxy and roam it back there. On
    /// the channel the keepalive is `channelKeepalive`, and the network's again off it.
    @Test func movingOntoAChannelMakesWireGuardSendThroughItAtOnce() throws {
        let relayKey = PrivateKey.generate().publicKey
        var driver = relayedPlanner([relayKey])
        let s = state(peerEndpoint: "198.51.100.3:40000", peerNat: .symmetric)
        _ = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .symmetric, device: nil, now: 100)
        let device = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: Endpoint("198.51.100.3:40000"))])
        #expect(driver.tick(device: device, now: 100.1).peers.last?.endpoint == MemberPlan.pendingProxy)
        let proxy = Endpoint("127.0.0.1:40001")!

        let channel = Endpoint("198.51.100.9:40000")!
        driver.relay?.begin(status: usable([relayKey], proxy: proxy, channel: channel))
        let onProxy = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: proxy, persistentKeepalive: 25)])
        let moved = driver.tick(device: onProxy, now: 100.2).peers
        #expect(moved.map(\.persistentKeepalive) == [0, PathPlanner.channelKeepalive])
        #expect(moved.map(\.endpoint) == [nil, channel])
        #expect(moved.allSatisfy { $0.action == .updateOnly && $0.publicKey == peerKey })
        // Back to the proxy (the channel is gone): the endpoint, and the network's keepalive.
        driver.relay?.begin(status: usable([relayKey], proxy: proxy))
        let onChannel = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: channel,
                                                              persistentKeepalive: PathPlanner.channelKeepalive)])
        #expect(driver.tick(device: onChannel, now: 100.3).peers
            == [PeerUpdate(publicKey: peerKey, action: .updateOnly, endpoint: proxy),
                PeerUpdate(publicKey: peerKey, action: .updateOnly, persistentKeepalive: 25)])
        // Then the device holds what it was given: nothing more to change.
        driver.relay?.begin(status: usable([relayKey], proxy: proxy))
        let backOnProxy = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: proxy, persistentKeepalive: 25)])
        #expect(driver.tick(device: backOnProxy, now: 100.4).peers.isEmpty)
    }

    /// The peer relayed first: its initiation came through the relay (the engine opened a route
    /// for it) and WireGuard, roamed to that proxy, answered. Relaying the peer from this side
    /// keeps that handshake: no re-add (at 300 ms a pp <-> symmetric pair shook hands twice).
    @Test func aPeerWhoseInitiationCameThroughTheRelayIsNotReAdded() throws {
        let relayKey = PrivateKey.generate().publicKey
        let proxy = Endpoint("127.0.0.1:40001")!
        var driver = relayedPlanner([relayKey])
        driver.relay?.begin(status: usable([relayKey], proxy: proxy))
        let s = state(peerEndpoint: "198.51.100.3:40000", peerNat: .symmetric)
        let answered = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: proxy, persistentKeepalive: 25)])
        let planned = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .symmetric,
                                  device: answered, now: 100)
        #expect(planned.peers.isEmpty)
        #expect(driver.relay?.proxy(for: peerKey) == proxy)
        #expect(driver.status.peers[peerKey.base64]?.path == .relayConnecting)
        #expect(driver.relay?.take().contains { if case .route(let key, _, _) = $0 { key == peerKey } else { false } } == true)

        // WireGuard answered through the channel of the route the engine made for the peer's
        // packets: not re-added either.
        let channel = Endpoint("198.51.100.9:40000")!
        var onChannel = relayedPlanner([relayKey])
        onChannel.relay?.begin(status: usable([relayKey], proxy: proxy, channel: channel))
        let answeredThroughChannel = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: channel, persistentKeepalive: 5)])
        #expect(onChannel.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .symmetric,
                               device: answeredThroughChannel, now: 100).peers.isEmpty)
        #expect(onChannel.relay?.proxy(for: peerKey) == proxy)

        // Elsewhere (a candidate of an attempt before): re-added at the proxy, so that an
        // initiation leaves at once.
        var other = relayedPlanner([relayKey])
        other.relay?.begin(status: usable([relayKey], proxy: proxy))
        let attempting = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: Endpoint("198.51.100.3:40000"), persistentKeepalive: 25)])
        let readded = other.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .symmetric,
                                 device: attempting, now: 100)
        #expect(readded.peers.map(\.action) == [.remove, .addOrUpdate])
        #expect(readded.peers.last?.endpoint == proxy)
    }

    /// The peer's packets keep roaming WireGuard off the route's channel (the two ends' engines
    /// still on different relays): it is pointed back at most once per `channelRepointHold`,
    /// not on every planner pass (a one-way cut saw it swapped every 3 ms for 0.9 s).
    @Test func wireGuardRoamedOffTheChannelIsPointedBackAtMostOncePerHold() throws {
        let relayKey = PrivateKey.generate().publicKey
        var driver = relayedPlanner([relayKey])
        let s = state(peerEndpoint: "198.51.100.3:40000", peerNat: .symmetric)
        _ = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .symmetric, device: nil, now: 100)
        _ = driver.tick(device: Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: Endpoint("198.51.100.3:40000"))]), now: 100.1)
        let proxy = Endpoint("127.0.0.1:40001")!
        let channel = Endpoint("198.51.100.9:40000")!
        driver.relay?.begin(status: usable([relayKey], proxy: proxy, channel: channel))
        let onProxy = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: proxy, persistentKeepalive: 25)])
        #expect(driver.tick(device: onProxy, now: 100.2).peers.last?.endpoint == channel)
        driver.relay?.begin(status: usable([relayKey], proxy: proxy, channel: channel))
        #expect(driver.tick(device: onProxy, now: 100.3).peers.isEmpty)
        driver.relay?.begin(status: usable([relayKey], proxy: proxy, channel: channel))
        #expect(driver.tick(device: onProxy, now: 100.2 + PathPlanner.channelRepointHold - 0.01).peers.isEmpty)
        driver.relay?.begin(status: usable([relayKey], proxy: proxy, channel: channel))
        #expect(driver.tick(device: onProxy, now: 100.2 + PathPlanner.channelRepointHold).peers.last?.endpoint == channel)
    }

    /// WireGuard on the route's relay channel sends data and nothing comes back: the channel is
    /// probed, urgently once suspect; an answered probe clears the losses before it, and three
    /// lost in a row send WireGuard back to the relay's proxy with the channel refused. Counters
    /// alone gave a channel that carried traffic up on a WAN.
    @Test func aChannelThatCarriesNothingBackIsGivenUpAfterThreeLostProbes() throws {
        let relayKey = PrivateKey.generate().publicKey
        var driver = relayedPlanner([relayKey])
        let s = state(peerEndpoint: "198.51.100.3:40000", peerNat: .symmetric)
        _ = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .symmetric, device: nil, now: 100)
        let proxy = Endpoint("127.0.0.1:40001")!
        let channel = Endpoint("198.51.100.9:40000")!
        driver.relay?.begin(status: usable([relayKey], proxy: proxy, channel: channel))
        _ = driver.relay?.take()
        func device(rx: UInt64, tx: UInt64) -> Device {
            Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: channel, persistentKeepalive: PathPlanner.channelKeepalive,
                                                  lastHandshake: Date(timeIntervalSince1970: 100.2), rxBytes: rx, txBytes: tx)])
        }
        #expect(driver.tick(device: device(rx: 500, tx: 500), now: 100.4).peers.isEmpty)
        #expect(driver.probeTargets(device: device(rx: 500, tx: 500)).map(\.endpoint) == [channel])
        #expect(driver.probeTargets(device: device(rx: 500, tx: 500)).map(\.urgent) == [false])
        // Data leaves, nothing comes back for a second: checked.
        #expect(driver.tick(device: device(rx: 500, tx: 4000), now: 101.5).peers.isEmpty)
        #expect(driver.needsFastTick(now: 101.5))
        #expect(driver.probeTargets(device: device(rx: 500, tx: 4000)).map(\.urgent) == [true])
        let lost = TunnelProbeBook.Outcome(peer: peerKey, endpoint: channel, rtt: nil)
        let answered = TunnelProbeBook.Outcome(peer: peerKey, endpoint: channel, rtt: 0.3)
        driver.record([lost, lost, answered, lost, lost], now: 103)
        #expect(driver.tick(device: device(rx: 500, tx: 5000), now: 103.1).peers.isEmpty)
        driver.record([lost], now: 103.4)
        #expect(driver.tick(device: device(rx: 500, tx: 5000), now: 103.5).peers
            == [PeerUpdate(publicKey: peerKey, action: .updateOnly, endpoint: proxy),
                PeerUpdate(publicKey: peerKey, action: .updateOnly, persistentKeepalive: 25)])
        #expect(driver.relay?.take() == [.refuseChannel(peerKey)])
        // What the prober measured through the relay is not a candidate of the peer's.
        #expect(driver.cache.stats(for: peerKey)[channel] == nil)
    }

    /// A direct path that stops carrying packets is relayed within seconds (issue 16: it was
    /// 160 s, every packet lost, while `show` said direct).
    @Test func aDirectPathThatStopsCarryingPacketsIsRelayed() throws {
        let relayKey = PrivateKey.generate().publicKey
        var driver = relayedPlanner([relayKey])
        let s = state(peerEndpoint: "198.51.100.3:40000")
        _ = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving, device: nil, now: 100)
        func device(rx: UInt64, tx: UInt64) -> Device {
            Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: Endpoint("198.51.100.3:40000"), persistentKeepalive: 25,
                                                  lastHandshake: Date(timeIntervalSince1970: 100.3), rxBytes: rx, txBytes: tx)])
        }
        #expect(driver.tick(device: device(rx: 500, tx: 500), now: 100.4).peers.isEmpty)
        #expect(driver.status.peers[peerKey.base64]?.path == .direct)
        #expect(driver.probeTargets(device: device(rx: 500, tx: 500)).map(\.urgent) == [false])
        // Traffic flows both ways, then the path dies: data leaves, nothing comes back.
        #expect(driver.tick(device: device(rx: 9000, tx: 9000), now: 110).peers.isEmpty)
        #expect(driver.tick(device: device(rx: 9000, tx: 12000), now: 110.5).peers.isEmpty)
        #expect(!driver.needsFastTick(now: 110.5))
        #expect(driver.tick(device: device(rx: 9000, tx: 14000), now: 111).peers.isEmpty)
        #expect(driver.needsFastTick(now: 111))
        #expect(driver.probeTargets(device: device(rx: 9000, tx: 14000)).map(\.urgent) == [true])
        let endpoint = Endpoint("198.51.100.3:40000")!
        let lost = TunnelProbeBook.Outcome(peer: peerKey, endpoint: endpoint, rtt: nil)
        driver.record([lost, lost], now: 112)
        #expect(driver.tick(device: device(rx: 9000, tx: 15000), now: 112.1).peers.isEmpty)
        driver.record([lost], now: 112.4)
        let relayed = driver.tick(device: device(rx: 9000, tx: 15000), now: 112.5)
        #expect(relayed.peers.last?.endpoint == MemberPlan.pendingProxy)
        #expect(driver.relay?.take() == [.route(peerKey, preferring: [relayKey], peerRelays: [])])
        #expect(driver.status.peers[peerKey.base64]?.path == .relayConnecting)
        #expect(driver.status.peers[peerKey.base64]?.reason == "no handshake through the relay yet; the direct path stopped carrying packets")
        #expect(driver.cache.stats(for: peerKey)[endpoint]?.failures == 1)
    }

    /// The other end found the path dead first and relays to us: WireGuard roamed to the relay's
    /// proxy, and this end routes the peer through the relays too, rather than showing direct.
    @Test func aConnectedPeerWhosePacketsArriveThroughARelayIsFollowedThere() throws {
        let relayKey = PrivateKey.generate().publicKey
        var driver = relayedPlanner([relayKey])
        let s = state(peerEndpoint: "198.51.100.3:40000")
        _ = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving, device: nil, now: 100)
        let direct = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: Endpoint("198.51.100.3:40000"),
                                                           lastHandshake: Date(timeIntervalSince1970: 100.3))])
        _ = driver.tick(device: direct, now: 100.4)
        #expect(driver.status.peers[peerKey.base64]?.path == .direct)
        let automatic = Endpoint("127.0.0.1:40007")!
        let roamed = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: automatic,
                                                           lastHandshake: Date(timeIntervalSince1970: 100.3), rxBytes: 5000)])
        driver.relay?.begin(status: usable([relayKey], proxy: automatic))
        // A moment through the relay (a trial the two ends ended differently) is not followed,
        // but `show` says where WireGuard sends, and direct again when the packets come back.
        #expect(driver.tick(device: roamed, now: 110).peers.isEmpty)
        #expect(driver.relay?.take() == [])
        #expect(driver.status.peers[peerKey.base64]?.path == .relayed)
        #expect(driver.status.peers[peerKey.base64]?.reason == PathPlanner.peerRelaysToUs)
        driver.relay?.begin(status: usable([relayKey], proxy: automatic))
        _ = driver.tick(device: direct, now: 111)
        #expect(driver.status.peers[peerKey.base64]?.path == .direct)
        #expect(driver.status.peers[peerKey.base64]?.endpoint == Endpoint("198.51.100.3:40000"))
        driver.relay?.begin(status: usable([relayKey], proxy: automatic))
        #expect(driver.tick(device: roamed, now: 120).peers.isEmpty)
        #expect(driver.status.peers[peerKey.base64]?.path == .relayed)
        driver.relay?.begin(status: usable([relayKey], proxy: automatic))
        #expect(driver.tick(device: roamed, now: 120 + PathPlanner.followRelayAfter).peers.isEmpty)
        #expect(driver.relay?.take() == [.route(peerKey, preferring: [relayKey], peerRelays: [])])
        #expect(driver.relay?.proxy(for: peerKey) == automatic)
        // Followed, it stays relayed: its packets have come through the relay all along.
        #expect(driver.status.peers[peerKey.base64]?.path == .relayed)
        #expect(driver.peers[peerKey]?.relayReason == "the peer relays to us")
        driver.relay?.begin(status: usable([relayKey], proxy: automatic))
        _ = driver.tick(device: roamed, now: 121 + PathPlanner.followRelayAfter)
        #expect(driver.status.peers[peerKey.base64]?.path == .relayed)
    }

    /// A relayed planner whose peer is routed through `relayKey` with `channel`, WireGuard on it.
    func relayedPeer(relayKey: PublicKey, ownNat: NatType, peerNat: NatType, channel: Endpoint,
                     peerCandidates: [String] = []) -> PathPlanner {
        var driver = relayedPlanner([relayKey])
        let s = state(peerEndpoint: "198.51.100.3:40000", peerCandidates: peerCandidates, peerNat: peerNat)
        _ = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: ownNat, device: nil, now: 100)
        let nowhere = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: Endpoint("198.51.100.3:40000"))])
        var now = 100.0
        while driver.relay?.proxy(for: peerKey) == nil && now < 200 {
            now += 0.5
            if driver.tick(device: nowhere, now: now).peers.last?.endpoint == MemberPlan.pendingProxy {
                break
            }
        }
        driver.relay?.begin(status: usable([relayKey], proxy: Endpoint("127.0.0.1:40001")!, channel: channel))
        return driver
    }

    /// The peer's trial reached us: its initiation came directly and WireGuard roamed there.
    /// The handshake is left to complete (WireGuard is not pointed back at the channel, no trial
    /// of ours re-adds the peer), and then the pair is direct (the regions lab saw a public
    /// member answer through the relay instead, and the pair stay relayed for minutes).
    @Test func aRelayedPeerWhoseInitiationCameDirectlyIsLeftToCompleteTheHandshake() throws {
        let relayKey = PrivateKey.generate().publicKey
        let channel = Endpoint("198.51.100.9:40000")!
        var driver = relayedPeer(relayKey: relayKey, ownNat: .symmetric, peerNat: .symmetric, channel: channel)
        #expect(driver.relay?.proxy(for: peerKey) != nil)
        _ = driver.relay?.take()
        let direct = Endpoint("198.51.100.3:41000")!
        let old = Date(timeIntervalSince1970: 50)
        let onChannel = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: channel, persistentKeepalive: PathPlanner.channelKeepalive,
                                                              lastHandshake: old)])
        #expect(driver.tick(device: onChannel, now: 299).peers.isEmpty)
        let roamed = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: direct, persistentKeepalive: 25, lastHandshake: old)])
        #expect(driver.tick(device: roamed, now: 300).peers.isEmpty)
        #expect(driver.tick(device: roamed, now: 300 + PathPlanner.directArrivalGrace - 0.5).peers.isEmpty)
        let shaken = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: direct, persistentKeepalive: 25,
                                                           lastHandshake: Date(timeIntervalSince1970: 301))])
        #expect(driver.tick(device: shaken, now: 301.5).peers.isEmpty)
        #expect(driver.relay?.take() == [.unroute(peerKey)])
        #expect(driver.status.peers[peerKey.base64]?.path == .direct)
        #expect(driver.status.peers[peerKey.base64]?.endpoint == direct)
    }

    /// The grace is once: a peer whose direct packets reach us while ours do not reach it (a path
    /// cut one way) is answered through the relay's channel after it, and not given another at once.
    @Test func aDirectArrivalWithoutAHandshakeGoesBackToTheChannelAfterTheGrace() throws {
        let relayKey = PrivateKey.generate().publicKey
        let channel = Endpoint("198.51.100.9:40000")!
        var driver = relayedPeer(relayKey: relayKey, ownNat: .symmetric, peerNat: .symmetric, channel: channel)
        let roamed = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: Endpoint("198.51.100.3:41000"),
                                                           persistentKeepalive: 25, lastHandshake: Date(timeIntervalSince1970: 50))])
        let onChannel = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: channel, persistentKeepalive: 25,
                                                              lastHandshake: Date(timeIntervalSince1970: 50))])
        _ = driver.tick(device: onChannel, now: 299)
        #expect(driver.tick(device: roamed, now: 300).peers.isEmpty)
        let back = driver.tick(device: roamed, now: 300 + PathPlanner.directArrivalGrace).peers
        #expect(back.last?.endpoint == channel)
        _ = driver.tick(device: onChannel, now: 304)
        #expect(driver.tick(device: roamed, now: 305).peers.last?.endpoint == channel)
    }

    /// With no NAT here and a symmetric one at the peer, only the peer's initiations can open a
    /// direct path: this end's background trials never re-add the peer (which ended the session
    /// the peer's trial had just made); a pair that can open it from both ends does try.
    @Test func anOpenMemberLeavesTrialsWithASymmetricPeerToThePeer() throws {
        func removals(ownNat: NatType, peerNat: NatType) -> Int {
            let relayKey = PrivateKey.generate().publicKey
            let channel = Endpoint("198.51.100.9:40000")!
            var driver = relayedPeer(relayKey: relayKey, ownNat: ownNat, peerNat: peerNat, channel: channel)
            #expect(driver.relay?.proxy(for: peerKey) != nil)
            let onChannel = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: channel, persistentKeepalive: 25)])
            var count = 0
            for step in 0..<400 {
                let updates = driver.tick(device: onChannel, now: 200 + Double(step) * 0.5).peers
                count += updates.filter { $0.action == .remove }.count
                if driver.relay?.proxy(for: peerKey) == nil {
                    driver.relay?.begin(status: usable([relayKey], proxy: Endpoint("127.0.0.1:40001")!, channel: channel))
                }
            }
            return count
        }
        #expect(removals(ownNat: .open, peerNat: .symmetric) == 0)
        #expect(removals(ownNat: .portPreserving, peerNat: .portPreserving) > 0)
    }

    /// A peer that reached us directly reports its new candidates a moment later: the fresh
    /// session is kept, not ended by a new round of attempts.
    @Test func newCandidatesWithAFreshDirectSessionDoNotRestartAttempts() throws {
        let relayKey = PrivateKey.generate().publicKey
        let channel = Endpoint("198.51.100.9:40000")!
        var driver = relayedPeer(relayKey: relayKey, ownNat: .open, peerNat: .symmetric, channel: channel)
        _ = driver.relay?.take()
        let direct = Endpoint("198.51.100.3:41000")!
        let live = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: direct, persistentKeepalive: 25,
                                                         lastHandshake: Date(timeIntervalSince1970: 299))])
        let moved = state(peerEndpoint: "198.51.100.3:40000", peerCandidates: ["192.168.1.3:40000"], peerNat: .symmetric)
        let update = driver.plan(state: moved, desired: desired(moved), ownKey: fixture.ownKey.publicKey, ownNat: .open,
                                 device: live, now: 300)
        #expect(update.peers.isEmpty)
        #expect(driver.relay?.take() == [.unroute(peerKey)])
        #expect(driver.status.peers[peerKey.base64]?.path == .direct)
        #expect(!driver.isAttempting)
    }

    /// WireGuard roamed to a relay channel that is not the route's (the peer's packets come
    /// straight through it), or received through the route's own: the engine is told which
    /// channel, so that the following end follows.
    @Test func aChannelThatIsNotTheRoutesIsReportedToTheEngine() throws {
        let relays = [PrivateKey.generate().publicKey, PrivateKey.generate().publicKey]
        var driver = relayedPlanner(relays)
        let s = state(peerEndpoint: "198.51.100.3:40000", peerNat: .symmetric)
        _ = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .symmetric, device: nil, now: 100)
        _ = driver.tick(device: Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: Endpoint("198.51.100.3:40000"))]), now: 100.1)
        let proxy = Endpoint("127.0.0.1:40001")!
        let routeChannel = Endpoint("192.0.2.10:52000")!
        let olderChannel = Endpoint("192.0.2.11:52001")!
        var status = usable(relays, proxy: proxy, channel: routeChannel)
        status.grantedChannels = [routeChannel, olderChannel]
        driver.relay?.begin(status: status)
        let roamed = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: olderChannel, persistentKeepalive: 25)])
        _ = driver.tick(device: roamed, now: 101)
        #expect(driver.relay?.take().first == .channelInbound(peerKey, olderChannel))
        // On the route's own channel, or the proxy, nothing is reported.
        driver.relay?.begin(status: status)
        _ = driver.tick(device: Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: routeChannel, persistentKeepalive: 25)]), now: 102)
        #expect(driver.relay?.take() == [])
        // Packets received there since: the peer's packets come through the route's channel, and
        // the engine, whose last inbound relay is another (a failover's), is told.
        driver.relay?.begin(status: status)
        let received = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: routeChannel, persistentKeepalive: 25,
                                                             rxBytes: 500)])
        _ = driver.tick(device: received, now: 103)
        #expect(driver.relay?.take() == [.channelInbound(peerKey, routeChannel)])
        // Once the engine has it, nothing more is said.
        status.routes[peerKey]?.lastInboundVia = relays[0]
        driver.relay?.begin(status: status)
        let more = Device(name: "evilcorp", peers: [Peer(publicKey: peerKey, endpoint: routeChannel, persistentKeepalive: 25,
                                                         rxBytes: 900)])
        _ = driver.tick(device: more, now: 104)
        #expect(driver.relay?.take() == [])
    }

    @Test func removedPeerIsForgotten() throws {
        var driver = driver()
        let s = state(peerEndpoint: "198.51.100.3:40000")
        _ = driver.plan(state: s, desired: desired(s), ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving, device: nil, now: 100)
        _ = driver.plan(state: s, desired: [], ownKey: fixture.ownKey.publicKey, ownNat: .portPreserving, device: nil, now: 101)
        #expect(driver.peers.isEmpty)
        #expect(driver.status.peers.isEmpty)
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

    /// The server (both STUN observers) down: the probe hears nothing and says udp-blocked, but a
    /// relay answering over UDP refutes it (issue 16: a member restarted then logged udp-blocked
    /// and moved its relay links to TCP).
    @Test func aRelayAnsweringOverUDPRefutesUDPBlocked() {
        #expect(NatDetection.effective(probed: .udpBlocked, remembered: .symmetric,
                                       relayAnswersOverUDP: true, relayAnswersOverTCP: false) == .symmetric)
        #expect(NatDetection.effective(probed: .udpBlocked, remembered: .udpBlocked,
                                       relayAnswersOverUDP: true, relayAnswersOverTCP: false) == .unknown)
        #expect(NatDetection.effective(probed: .udpBlocked, remembered: .symmetric,
                                       relayAnswersOverUDP: false, relayAnswersOverTCP: true) == .udpBlocked)
        #expect(NatDetection.refuted(.udpBlocked, relayAnswersOverUDP: true) == .unknown)
        #expect(NatDetection.refuted(.symmetric, relayAnswersOverUDP: true) == .symmetric)
    }

    /// A probe that lost an answer after a definite one is probed again before it counts; the
    /// first probe, and a definite new type, count at once.
    @Test func aProbeThatHeardLessThanTheLastIsHeardAgain() {
        #expect(NatDetection.mustConfirm(.unknown, after: .symmetric))
        #expect(NatDetection.mustConfirm(.udpBlocked, after: .portPreserving))
        #expect(!NatDetection.mustConfirm(.portPreserving, after: .symmetric))
        #expect(!NatDetection.mustConfirm(.unknown, after: .unknown))
        #expect(!NatDetection.mustConfirm(.udpBlocked, after: .unknown))
        #expect(!NatDetection.mustConfirm(.unknown, after: .udpBlocked))
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
