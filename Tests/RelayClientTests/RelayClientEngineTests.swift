import Foundation
import Logging
import NIOConcurrencyHelpers
import Testing
import FormnetTraversal
import WireGuard
@testable import RelayWire
@testable import RelayServer
@testable import RelayClient

/// Two engines and a relay on loopback, with a plain UDP socket standing in for each side's
/// WireGuard: what one "WireGuard" sends to its proxy arrives at the other, and the answer
/// comes back the same way.
@Suite(.serialized) struct RelayClientEngineTests {
    final class LoopbackRelay: Sendable {
        let socket: UDPRelaySocket
        let key = PrivateKey.generate()
        let state: NIOLockedValueBox<RelayState>
        let channels: ChannelSockets?
        let done = DispatchSemaphore(value: 0)

        /// With `channelPorts`, the relay grants channels on those ports, as `start-relay` does.
        init(channelPorts: ClosedRange<UInt16>? = nil) throws {
            let socket = try UDPRelaySocket(port: 0, host: "127.0.0.1")
            let channels = try channelPorts.map { try ChannelSockets(like: socket, ports: $0) }
            self.socket = socket
            self.channels = channels
            state = NIOLockedValueBox(RelayState(relayKey: key, configuration: RelayConfiguration(), policy: .open, now: RelayClock.now(),
                                                 channelPorts: channels))
            Thread { [socket, state, done] in
                socket.runForwardingLoop(state: state, toTCP: { _, _ in false }, logger: Logger(label: "test.relay"))
                done.signal()
            }.start()
            if let channels {
                Thread { [socket, state, done] in
                    channels.runForwardingLoop(state: state, main: socket, toTCP: { _, _ in false }, logger: Logger(label: "test.channels"))
                    done.signal()
                }.start()
            }
        }

        /// Two adjacent ports nobody on this host holds now, for the relay's channels.
        static func freePortPair() throws -> ClosedRange<UInt16> {
            // A socket closes when released (UDPRelaySocket's deinit): each probe is gone by the next line.
            for _ in 0..<50 {
                let low = try UDPRelaySocket(port: 0, host: "127.0.0.1").boundPort
                guard low < UInt16.max, (try? UDPRelaySocket(port: low + 1, host: "127.0.0.1")) != nil else { continue }
                return low...(low + 1)
            }
            throw RelaySocketError("no two adjacent free ports")
        }

        var target: RelayTarget { RelayTarget(key: key.publicKey, endpoint: Endpoint(address: .v4(0x7F00_0001), port: socket.boundPort)) }

        func stop() {
            socket.stop()
            done.wait()
            if let channels {
                channels.stop()
                done.wait()
            }
        }
    }

    /// Two engines, each with a plain UDP socket standing in for its WireGuard.
    struct EnginePair {
        let wireGuardA: DatagramSocket, wireGuardB: DatagramSocket
        let keyA: PrivateKey, keyB: PrivateKey
        let engineA: RelayClientEngine, engineB: RelayClientEngine

        /// With `lesserKeyFirst`, A has the lesser key: it leads the pair, B follows.
        init(lesserKeyFirst: Bool = false) throws {
            let keys = [PrivateKey.generate(), PrivateKey.generate()]
            let ordered = lesserKeyFirst ? keys.sorted { $0.publicKey.bytes.lexicographicallyPrecedes($1.publicKey.bytes) } : keys
            (keyA, keyB) = (ordered[0], ordered[1])
            wireGuardA = try DatagramSocket(port: 0)
            wireGuardB = try DatagramSocket(port: 0)
            engineA = try RelayClientEngine(clientKey: keyA, wireGuardPort: wireGuardA.localPort, logger: Logger(label: "a"))
            engineB = try RelayClientEngine(clientKey: keyB, wireGuardPort: wireGuardB.localPort, logger: Logger(label: "b"))
        }

        func stop() {
            engineA.stop()
            engineB.stop()
        }
    }

    static func waitFor(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    @Test func carriesPacketsBothWaysThroughTheRelay() throws {
        let relay = try LoopbackRelay()
        defer { relay.stop() }
        let pair = try EnginePair()
        defer { pair.stop() }
        let (wireGuardA, wireGuardB, keyA, keyB, engineA, engineB) = (pair.wireGuardA, pair.wireGuardB, pair.keyA, pair.keyB, pair.engineA, pair.engineB)
        engineA.setRelays([relay.target], udpBlocked: false)
        engineB.setRelays([relay.target], udpBlocked: false)
        #expect(Self.waitFor(3) {
            engineA.status().links[relay.target.key]?.usable == true && engineB.status().links[relay.target.key]?.usable == true
        })
        let link = try #require(engineA.status().links[relay.target.key])
        #expect(link.transport == .udp)
        #expect(link.observedAddress?.address == .v4(0x7F00_0001))

        let proxyForB = try engineA.route(keyB.publicKey, preferring: [relay.target.key])
        #expect(proxyForB.address == .v4(0x7F00_0001))
        try wireGuardA.send(Array("handshake initiation".utf8), to: proxyForB)
        let (atB, fromProxy) = try #require(try wireGuardB.receive(timeout: 2))
        #expect(String(decoding: atB, as: UTF8.self) == "handshake initiation")
        #expect(fromProxy.address == .v4(0x7F00_0001))
        // B never asked: its engine made a route for A when A's packet arrived.
        let routeAtB = try #require(engineB.status().routes[keyA.publicKey])
        #expect(routeAtB.automatic)
        #expect(routeAtB.proxy == fromProxy)
        #expect(routeAtB.lastInboundVia == relay.target.key)

        try wireGuardB.send(Array("handshake response".utf8), to: fromProxy)
        let (atA, from) = try #require(try wireGuardA.receive(timeout: 2))
        #expect(String(decoding: atA, as: UTF8.self) == "handshake response")
        #expect(from == proxyForB)
        let routeAtA = try #require(engineA.status().routes[keyB.publicKey])
        #expect(routeAtA.packetsOut == 1)
        #expect(routeAtA.packetsIn == 1)
        #expect(routeAtA.lastSentVia == relay.target.key)
        #expect(Self.waitFor(2) { engineA.status().links[relay.target.key]?.rttSamples.isEmpty == false })
    }

    /// Each end prefers the other's home relay; the pair still ends up on one relay (the one the
    /// lesser key sends through), so channels there can carry it both ways.
    @Test func bothEndsOfAPairSettleOnOneRelay() throws {
        let relay1 = try LoopbackRelay(), relay2 = try LoopbackRelay()
        defer { relay1.stop(); relay2.stop() }
        let pair = try EnginePair(lesserKeyFirst: true)
        defer { pair.stop() }
        let (wireGuardLow, wireGuardHigh, keyLow, keyHigh) = (pair.wireGuardA, pair.wireGuardB, pair.keyA, pair.keyB)
        let (low, high) = (pair.engineA, pair.engineB)
        for engine in [low, high] { engine.setRelays([relay1.target, relay2.target], udpBlocked: false) }
        #expect(Self.waitFor(3) {
            [low, high].allSatisfy { engine in [relay1, relay2].allSatisfy { engine.status().links[$0.target.key]?.usable == true } }
        })
        let highAtLow = try low.route(keyHigh.publicKey, preferring: [relay2.target.key])
        let lowAtHigh = try high.route(keyLow.publicKey, preferring: [relay1.target.key])

        // The greater key speaks first, through its preference.
        try wireGuardHigh.send(Array("initiation".utf8), to: lowAtHigh)
        let (first, fromLowsProxy) = try #require(try wireGuardLow.receive(timeout: 2))
        #expect(String(decoding: first, as: UTF8.self) == "initiation")
        #expect(high.status().routes[keyLow.publicKey]?.lastSentVia == relay1.target.key)
        #expect(low.status().routes[keyHigh.publicKey]?.lastInboundVia == relay1.target.key)
        #expect(fromLowsProxy == highAtLow)

        // The lesser key keeps to its own preference...
        try wireGuardLow.send(Array("response".utf8), to: highAtLow)
        _ = try #require(try wireGuardHigh.receive(timeout: 2))
        #expect(low.status().routes[keyHigh.publicKey]?.lastSentVia == relay2.target.key)
        #expect(high.status().routes[keyLow.publicKey]?.lastInboundVia == relay2.target.key)

        // ...and the greater key answers through the relay that carried it.
        try wireGuardHigh.send(Array("data".utf8), to: lowAtHigh)
        _ = try #require(try wireGuardLow.receive(timeout: 2))
        #expect(high.status().routes[keyLow.publicKey]?.lastSentVia == relay2.target.key)
        #expect(low.status().routes[keyHigh.publicKey]?.lastInboundVia == relay2.target.key)
    }

    /// Members far apart hold no relay in common: the end that leads (the lesser key) registers
    /// on demand with its peer's relay, and the pair meets there; `status` marks that link
    /// on demand, and the follower needs none of its own.
    @Test func aPairWithNoRelayInCommonMeetsOnTheFollowersRelay() throws {
        let relay1 = try LoopbackRelay(), relay2 = try LoopbackRelay()
        defer { relay1.stop(); relay2.stop() }
        let pair = try EnginePair(lesserKeyFirst: true)
        defer { pair.stop() }
        let (wireGuardLow, wireGuardHigh, keyLow, keyHigh) = (pair.wireGuardA, pair.wireGuardB, pair.keyA, pair.keyB)
        let (low, high) = (pair.engineA, pair.engineB)
        let known = [relay1.target, relay2.target]
        low.setRelays([relay1.target], udpBlocked: false, known: known)
        high.setRelays([relay2.target], udpBlocked: false, known: known)
        #expect(Self.waitFor(3) {
            low.status().links[relay1.target.key]?.usable == true && high.status().links[relay2.target.key]?.usable == true
        })
        let highAtLow = try low.route(keyHigh.publicKey, preferring: [relay2.target.key, relay1.target.key],
                                      peerRelays: [relay2.target.key])
        let lowAtHigh = try high.route(keyLow.publicKey, preferring: [relay1.target.key, relay2.target.key],
                                       peerRelays: [relay1.target.key])
        #expect(Self.waitFor(3) { low.status().links[relay2.target.key]?.usable == true })
        #expect(low.status().links[relay2.target.key]?.onDemand == true)
        #expect(low.status().links[relay1.target.key]?.onDemand == false)

        try wireGuardLow.send(Array("initiation".utf8), to: highAtLow)
        let (first, fromHighsProxy) = try #require(try wireGuardHigh.receive(timeout: 2))
        #expect(String(decoding: first, as: UTF8.self) == "initiation")
        #expect(fromHighsProxy == lowAtHigh)
        #expect(low.status().routes[keyHigh.publicKey]?.lastSentVia == relay2.target.key)
        try wireGuardHigh.send(Array("response".utf8), to: lowAtHigh)
        let (answer, _) = try #require(try wireGuardLow.receive(timeout: 2))
        #expect(String(decoding: answer, as: UTF8.self) == "response")
        #expect(high.status().routes[keyLow.publicKey]?.lastSentVia == relay2.target.key)
    }

    /// WireGuard's first handshake initiation often leaves before the relay registration is
    /// done; held, it goes out when the registration is, instead of 5 s later as WireGuard's retry.
    @Test func holdsPacketsUntilARelayCanCarryThem() throws {
        let relay = try LoopbackRelay()
        defer { relay.stop() }
        let pair = try EnginePair()
        defer { pair.stop() }
        let (wireGuardA, wireGuardB, keyB, engineA, engineB) = (pair.wireGuardA, pair.wireGuardB, pair.keyB, pair.engineA, pair.engineB)
        engineB.setRelays([relay.target], udpBlocked: false)
        #expect(Self.waitFor(3) { engineB.status().links[relay.target.key]?.usable == true })
        let proxyForB = try engineA.route(keyB.publicKey, preferring: [relay.target.key])
        try wireGuardA.send(Array("handshake initiation".utf8), to: proxyForB)
        #expect(Self.waitFor(1) { engineA.status().routes[keyB.publicKey] != nil })
        usleep(200_000)
        #expect(try wireGuardB.receive(timeout: 0.05).map { _ in true } == nil)
        engineA.setRelays([relay.target], udpBlocked: false)
        let (atB, _) = try #require(try wireGuardB.receive(timeout: 2))
        #expect(String(decoding: atB, as: UTF8.self) == "handshake initiation")
        #expect(engineA.status().routes[keyB.publicKey]?.packetsOut == 1)
        #expect(engineA.status().routes[keyB.publicKey]?.packetsDropped == 0)
    }

    @Test func dropsWhatNoRelayCanCarryAndCountsIt() throws {
        let wireGuard = try DatagramSocket(port: 0)
        let engine = try RelayClientEngine(clientKey: PrivateKey.generate(), wireGuardPort: wireGuard.localPort, logger: Logger(label: "a"))
        defer { engine.stop() }
        let peer = PrivateKey.generate().publicKey
        let proxy = try engine.route(peer, preferring: [PrivateKey.generate().publicKey])
        try wireGuard.send([1, 2, 3], to: proxy)
        #expect(Self.waitFor(2) { engine.status().routes[peer]?.packetsDropped == 1 })
        engine.unroute(peer)
        #expect(engine.status().routes[peer] == nil)
    }

    /// The agent gives a channel up (nothing came back through it): the engine releases it at
    /// the relay, which closes the pair's channels and tells the other end, so that both ends'
    /// packets go through their proxies from then on.
    @Test func aRefusedChannelIsReleasedAtTheRelay() throws {
        let relay = try LoopbackRelay(channelPorts: try LoopbackRelay.freePortPair())
        defer { relay.stop() }
        let pair = try EnginePair()
        defer { pair.stop() }
        let (wireGuardA, wireGuardB, keyA, keyB, engineA, engineB) = (pair.wireGuardA, pair.wireGuardB, pair.keyA, pair.keyB, pair.engineA, pair.engineB)
        for engine in [engineA, engineB] { engine.setRelays([relay.target], udpBlocked: false) }
        let proxyForB = try engineA.route(keyB.publicKey, preferring: [relay.target.key])
        let proxyForA = try engineB.route(keyA.publicKey, preferring: [relay.target.key])
        // A channel is asked for once the peer's packets came through the relay.
        #expect(Self.waitFor(3) { [engineA, engineB].allSatisfy { $0.status().links[relay.target.key]?.usable == true } })
        try wireGuardA.send(Array("first".utf8), to: proxyForB)
        _ = try #require(try wireGuardB.receive(timeout: 2))
        try wireGuardB.send(Array("answer".utf8), to: proxyForA)
        _ = try #require(try wireGuardA.receive(timeout: 2))
        #expect(Self.waitFor(5) {
            engineA.status().routes[keyB.publicKey]?.channel != nil && engineB.status().routes[keyA.publicKey]?.channel != nil
        })
        let channelOfB = try #require(engineB.status().routes[keyA.publicKey]?.channel)
        let channelOfA = try #require(engineA.status().routes[keyB.publicKey]?.channel)
        #expect(relay.state.withLockedValue { $0.channels.count } == 2)

        // A handshake through the channels: the relay learns where each WireGuard sends from
        // (B's response names A's index).
        try wireGuardA.send(WireGuardPacket.initiation, to: channelOfA)
        #expect(try wireGuardB.receive(timeout: 2)?.0 == WireGuardPacket.initiation)
        try wireGuardB.send(WireGuardPacket.response, to: channelOfB)
        let raw = try #require(try wireGuardA.receive(timeout: 2))
        #expect(raw.0 == WireGuardPacket.response)
        #expect(raw.1 == channelOfA)

        engineA.refuseChannel(of: keyB.publicKey)
        #expect(Self.waitFor(3) { relay.state.withLockedValue { $0.channels.count } == 0 })
        #expect(engineA.status().routes[keyB.publicKey]?.channel == nil)
        #expect(Self.waitFor(2) { engineB.status().routes[keyA.publicKey]?.channel == nil })
        // B's next packet, sent to its proxy now, reaches A's WireGuard from A's proxy for B.
        try wireGuardB.send(WireGuardPacket.transport(16), to: proxyForA)
        let framed = try #require(try wireGuardA.receive(timeout: 2))
        #expect(framed.0 == WireGuardPacket.transport(16))
        #expect(framed.1 == proxyForB)
    }
}
