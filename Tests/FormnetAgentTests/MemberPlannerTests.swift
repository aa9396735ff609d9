import Foundation
import FormnetKit
import FormnetTraversal
import GeoIP
import Logging
import Testing
import WireGuard
@testable import FormnetAgent
@testable import RelayClient

/// The daemon's whole pass, from a fixed clock: what one step asks of WireGuard and of the
/// relay engine for each kind of path, given what the daemon observed.
@Suite struct MemberPlannerTests {
    let fixture = Fixture()
    let peerKey = PrivateKey.generate().publicKey
    let relayKeys = [PrivateKey.generate().publicKey, PrivateKey.generate().publicKey]
    let peerEndpoint = Endpoint("198.51.100.3:40000")!
    let proxy = Endpoint("127.0.0.1:40001")!

    func state(peerNat: NatType) -> CheckedState {
        var peer = fixture.peer(3, "bob", "10.66.1.3", key: peerKey, endpoint: "\(peerEndpoint)")
        peer.natType = peerNat
        peer.relays = relayKeys
        let own = fixture.peer(2, "me", "10.66.1.2", key: fixture.ownKey.publicKey, endpoint: "203.0.113.1:51820")
        return CheckedState(state: API.State(peers: [own, peer], cidrs: fixture.cidrs), pins: [:], conflicts: [], previousEndpoints: [:])
    }

    func planner(relayed: Bool = true) -> MemberPlanner {
        let routes = relayed ? RelayRoutes(status: engine()) : nil
        let logger = Logger(label: "test")
        return MemberPlanner(
            network: "evilcorp", config: fixture.config, ownKey: fixture.ownKey.publicKey, cachedState: nil,
            paths: PathPlanner(network: "evilcorp", options: TraversalOptions(), cache: ConnectionCache(), relay: routes, logger: logger),
            relayChoice: relayed ? RelayChoice(network: "evilcorp", locator: GeoLocator(database: nil), logger: logger) : nil,
            rememberedNat: .unknown, engineWireGuardPort: 51820, logger: logger)
    }

    var records: [RelayRecord] {
        var registry = RelayRegistry()
        registry.mergeServerList(relayKeys.enumerated().map { index, key in
            NetworkRelay(publicKey: key, endpoint: Endpoint("192.0.2.\(10 + index):51821")!, capacity: 10, load: index,
                         peerId: Int64(10 + index), lastSeen: Date(timeIntervalSince1970: 0))
        }, network: "evilcorp")
        return registry.relays(for: "evilcorp")
    }

    /// The engine's status: the given relays usable, and bob's route once its proxy is open.
    func engine(usable: [PublicKey] = [], routed: Bool = false, channel: Endpoint? = nil, sentVia: PublicKey? = nil,
                transport: RelayLinkMachine.Transport = .udp) -> RelayEngineStatus {
        let links = usable.enumerated().map { index, key in
            (key, RelayEngineStatus.Link(target: RelayTarget(key: key, endpoint: Endpoint("192.0.2.\(10 + index):51821")!),
                                         transport: transport, phase: .registered(since: 0), usable: true, rttSamples: [0.02],
                                         observedAddress: nil, info: nil))
        }
        let route = RelayEngineStatus.Route(peer: peerKey, proxy: proxy, preferences: relayKeys, automatic: false, lastSentVia: sentVia,
                                            packetsIn: 0, packetsOut: 0, packetsDropped: 0, channel: channel,
                                            channelVia: channel == nil ? nil : usable.first)
        return RelayEngineStatus(links: Dictionary(uniqueKeysWithValues: links), routes: routed ? [peerKey: route] : [:],
                                 discovered: [], grantedChannels: channel.map { [$0] } ?? [], now: 0)
    }

    func device(_ peers: Peer...) -> Device {
        Device(name: "evilcorp", listenPort: 51820,
               peers: [Peer(publicKey: fixture.serverKey, endpoint: fixture.config.server.externalEndpoint,
                            allowedIPs: [IPNetwork("10.66.0.1/32")!], persistentKeepalive: 25)] + peers)
    }

    func bob(at endpoint: Endpoint?, handshake: Double? = nil, rx: UInt64 = 0, tx: UInt64 = 0) -> Peer {
        Peer(publicKey: peerKey, endpoint: endpoint, allowedIPs: [IPNetwork("10.66.1.3/32")!], persistentKeepalive: 25,
             lastHandshake: handshake.map { Date(timeIntervalSince1970: $0) }, rxBytes: rx, txBytes: tx)
    }

    func at(_ seconds: Double) -> Date { Date(timeIntervalSince1970: seconds) }

    /// A new state adds bob, and the traversal tries his endpoint at once in the same update:
    /// added without an endpoint (traversal owns it), then re-added at the candidate.
    @Test func direct() {
        var planner = planner(relayed: false)
        let first = planner.step(.init(state: state(peerNat: .portPreserving), device: device(), probedNat: .portPreserving, now: at(100)))
        #expect(first.device.peers.map(\.action) == [.addOrUpdate, .remove, .addOrUpdate])
        #expect(first.device.peers[0].endpoint == nil)
        #expect(first.device.peers[2].endpoint == peerEndpoint)
        #expect(first.device.peers[2].allowedIPs == [IPNetwork("10.66.1.3/32")!])
        #expect(first.relay.isEmpty)
        #expect(planner.needsFastTick(now: at(100)))

        let connected = planner.step(.init(device: device(bob(at: peerEndpoint, handshake: 100.3)), probedNat: .portPreserving, now: at(100.4)))
        #expect(connected.device.peers.isEmpty)
        #expect(planner.paths?.status.peers[peerKey.base64]?.path == .direct)
        #expect(connected.probeTargets == [TunnelProbeBook.Target(peer: peerKey, address: IPAddress("10.66.1.3")!, endpoint: peerEndpoint)])
        #expect(!planner.needsFastTick(now: at(100.4)))
    }

    /// Both ends behind symmetric NATs: no attempt; the relays are chosen and bob is routed
    /// through his relays, re-added at the proxy the engine opens.
    @Test func relayed() {
        var planner = planner()
        let plan = planner.step(.init(state: state(peerNat: .symmetric), device: device(), relays: engine(usable: relayKeys),
                                      relayRecords: records, probedNat: .symmetric, now: at(100)))
        #expect(plan.relay.count == 2)
        guard case .setRelays(let targets, udpBlocked: false, known: let known) = plan.relay.first else {
            Issue.record("no setRelays first: \(plan.relay)")
            return
        }
        #expect(Set(targets.map(\.key)) == Set(relayKeys))
        #expect(Set(known.map(\.key)) == Set(records.map(\.key)))
        // The state has bob report both relays: they lead the preferences, and the engine may
        // register with them on demand.
        #expect(plan.relay.last == .route(peerKey, preferring: planner.reportedRelays, peerRelays: relayKeys))
        #expect(Set(planner.reportedRelays) == Set(relayKeys))
        let update = plan.resolving(proxies: [peerKey: proxy])
        #expect(update.peers.suffix(2).map(\.action) == [.remove, .addOrUpdate])
        #expect(update.peers.last?.endpoint == proxy)
        // The route failed to open: bob stays on the device, and no endpoint is said for him.
        let failed = plan.resolving(proxies: [:])
        #expect(failed.peers.count == update.peers.count)
        #expect(failed.peers.last?.action == .addOrUpdate)
        #expect(failed.peers.last?.endpoint == nil)
        // No handshake through the relay yet: show says it is connecting, and why.
        #expect(planner.paths?.status.peers[peerKey.base64]?.path == .relayConnecting)
        #expect(planner.paths?.status.peers[peerKey.base64]?.reason?.hasPrefix("no handshake through the relay yet") == true)
        #expect(plan.relayStatus?.relays.count == 2)
        #expect(plan.relayStatus?.relays.first?.home == true)
        #expect(plan.relayStatus?.relays.map(\.registration) == [.standing, .standing])

        // A handshake from before the route (a direct one) proves nothing; one after it does.
        _ = planner.step(.init(device: device(bob(at: proxy, handshake: 98)), relays: engine(usable: relayKeys, routed: true, sentVia: relayKeys[0]),
                               relayRecords: records, probedNat: .symmetric, now: at(101)))
        #expect(planner.paths?.status.peers[peerKey.base64]?.path == .relayConnecting)
        _ = planner.step(.init(device: device(bob(at: proxy, handshake: 101.5)), relays: engine(usable: relayKeys, routed: true, sentVia: relayKeys[0]),
                               relayRecords: records, probedNat: .symmetric, now: at(102)))
        #expect(planner.paths?.status.peers[peerKey.base64]?.path == .relayed)
        #expect(planner.paths?.status.peers[peerKey.base64]?.relay == relayKeys[0].base64)
        // Handshakes stop (WireGuard gives a session up after 180 s): connecting again, with the reason.
        _ = planner.step(.init(device: device(bob(at: proxy, handshake: 101.5)), relays: engine(usable: relayKeys, routed: true, sentVia: relayKeys[0]),
                               relayRecords: records, probedNat: .symmetric, now: at(101.5 + PathPlanner.relayedHandshakeFresh)))
        #expect(planner.paths?.status.peers[peerKey.base64]?.path == .relayConnecting)
        #expect(planner.paths?.status.peers[peerKey.base64]?.reason?.hasPrefix("handshakes through the relay stopped") == true)
    }

    /// Relayed through the first relay; the engine moves the packets to the second (the first
    /// stopped answering): the status follows, with no change to WireGuard.
    @Test func failover() {
        var planner = relayedPlanner()
        let moved = planner.step(.init(device: device(bob(at: proxy)), relays: engine(usable: [relayKeys[1]], routed: true, sentVia: relayKeys[1]),
                                       relayRecords: records, probedNat: .symmetric, now: at(102)))
        #expect(moved.device.peers.isEmpty)
        #expect(planner.paths?.status.peers[peerKey.base64]?.relay == relayKeys[1].base64)
        #expect(planner.paths?.status.peers[peerKey.base64]?.endpoint == Endpoint("192.0.2.10:51821"))
    }

    /// A granted channel: WireGuard moves onto it (keepalive nudge). It then carries nothing
    /// back for 30 s while WireGuard sends data: the channel is refused and WireGuard goes back
    /// to the proxy.
    @Test func channelRelease() {
        var planner = relayedPlanner()
        let channel = Endpoint("192.0.2.10:51830")!
        let granted = engine(usable: relayKeys, routed: true, channel: channel, sentVia: relayKeys[0])
        let onto = planner.step(.init(device: device(bob(at: proxy)), relays: granted, relayRecords: records, probedNat: .symmetric, now: at(102)))
        #expect(onto.device.peers.map(\.endpoint) == [nil, channel])
        #expect(onto.device.peers.map(\.persistentKeepalive) == [0, PathPlanner.channelKeepalive])
        #expect(onto.relay.isEmpty)

        var now = 103.0
        func step(rx: UInt64, tx: UInt64) -> MemberPlan {
            defer { now += 10 }
            return planner.step(.init(device: device(bob(at: channel, handshake: 101, rx: rx, tx: tx)), relays: granted,
                                      relayRecords: records, probedNat: .symmetric, now: at(now)))
        }
        #expect(step(rx: 100, tx: 100).relay.isEmpty)
        #expect(step(rx: 100, tx: 2000).relay.isEmpty)
        #expect(step(rx: 100, tx: 4000).relay.isEmpty)
        let released = step(rx: 100, tx: 6000)
        #expect(released.relay == [.refuseChannel(peerKey)])
        #expect(released.device.peers == [PeerUpdate(publicKey: peerKey, action: .updateOnly, endpoint: proxy)])
    }

    /// On a relay channel WireGuard keeps a short keepalive (`PathPlanner.channelKeepalive`):
    /// a state that arrives meanwhile does not set the network's back (the soak: an end that
    /// only received through the channel taught the relay its new NAT mapping 15 s late).
    @Test func aStateLeavesTheChannelsKeepaliveShort() {
        var planner = relayedPlanner()
        let channel = Endpoint("192.0.2.10:51830")!
        let granted = engine(usable: relayKeys, routed: true, channel: channel, sentVia: relayKeys[0])
        _ = planner.step(.init(device: device(bob(at: proxy)), relays: granted, relayRecords: records, probedNat: .symmetric, now: at(102)))
        var onChannel = bob(at: channel, handshake: 102)
        onChannel.persistentKeepalive = PathPlanner.channelKeepalive
        let fetched = planner.step(.init(state: state(peerNat: .symmetric), device: device(onChannel), relays: granted,
                                         relayRecords: records, probedNat: .symmetric, now: at(103)))
        #expect(fetched.device.peers.isEmpty)
        // Set back by something else (`formnet fetch` applies the state's): shortened again.
        let reset = planner.step(.init(device: device(bob(at: channel, handshake: 102)), relays: granted,
                                       relayRecords: records, probedNat: .symmetric, now: at(104)))
        #expect(reset.device.peers == [PeerUpdate(publicKey: peerKey, action: .updateOnly, persistentKeepalive: PathPlanner.channelKeepalive)])
    }

    /// Bob's packets start arriving directly (his side found a path): the route closes and the
    /// path is direct.
    @Test func backToDirect() {
        var planner = relayedPlanner()
        let direct = planner.step(.init(device: device(bob(at: peerEndpoint, handshake: 101.5)), relays: engine(usable: relayKeys, routed: true),
                                        relayRecords: records, probedNat: .symmetric, now: at(102)))
        #expect(direct.relay == [.unroute(peerKey)])
        #expect(direct.device.peers.isEmpty)
        #expect(planner.paths?.status.peers[peerKey.base64]?.path == .direct)
        #expect(planner.paths?.relay?.proxy(for: peerKey) == nil)
    }

    /// UDP blocked (the relays answer over TCP only): the server's direct path goes silent
    /// for 30 s and the server moves onto the relays.
    @Test func serverThroughRelays() {
        var planner = planner()
        let tcp = engine(usable: relayKeys, transport: .tcp)
        func device(rx: UInt64, tx: UInt64) -> Device {
            var device = self.device()
            device.peers[0].rxBytes = rx
            device.peers[0].txBytes = tx
            return device
        }
        let first = planner.step(.init(state: state(peerNat: .portPreserving), device: device(rx: 0, tx: 100), relays: tcp,
                                       relayRecords: records, now: at(100)))
        #expect(first.relay.first == .setRelays(planner.relayChoice?.targets ?? [], udpBlocked: true, known: planner.relayChoice?.known ?? []))
        #expect(!first.relay.contains(.route(fixture.serverKey, preferring: planner.reportedRelays, peerRelays: [])))
        let moved = planner.step(.init(device: device(rx: 0, tx: 5000), relays: tcp, relayRecords: records, now: at(130)))
        #expect(moved.relay.contains(.route(fixture.serverKey, preferring: planner.reportedRelays, peerRelays: [])))
        #expect(moved.resolving(proxies: [fixture.serverKey: proxy]).peers.contains(
            PeerUpdate(publicKey: fixture.serverKey, action: .updateOnly, endpoint: proxy)))
    }

    /// A planner whose pair is relayed through the first relay, its proxy open.
    func relayedPlanner() -> MemberPlanner {
        var planner = planner()
        _ = planner.step(.init(state: state(peerNat: .symmetric), device: device(), relays: engine(usable: relayKeys),
                               relayRecords: records, probedNat: .symmetric, now: at(100)))
        _ = planner.step(.init(device: device(bob(at: proxy)), relays: engine(usable: relayKeys, routed: true, sentVia: relayKeys[0]),
                               relayRecords: records, probedNat: .symmetric, now: at(101)))
        return planner
    }
}
