import RelayWire
import RelayServer
import RelayClient
import Testing
import WireGuard

/// The relay's decisions, frame by frame, through the same entry point the sockets use.
@Suite struct RelayStateTests {
    final class Harness {
        var state: RelayState
        var now = Fixture.now
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: RelayWire.maxFrame, alignment: 16)
        var lastReply: [UInt8] = []

        init(configure: (inout RelayConfiguration) -> Void = { _ in }, policy: AccessPolicy = .open,
             channelPorts: (any ChannelPorts)? = nil) {
            var configuration = RelayConfiguration()
            // Cookies after a start have tests of their own (RegistrationCookieTests).
            configuration.cookiesAfterStartMillis = 0
            configure(&configuration)
            state = RelayState(relayKey: Fixture.relayKey, configuration: configuration, policy: policy, now: Fixture.now,
                               channelPorts: channelPorts)
        }

        deinit { buffer.deallocate() }

        func send(_ frame: [UInt8], from address: RelayAddress) -> RelayOutcome {
            send(frame, from: .udp(address), observed: address)
        }

        func send(_ frame: [UInt8], from binding: Binding, observed: RelayAddress) -> RelayOutcome {
            frame.withUnsafeBytes { buffer.copyMemory(from: $0) }
            let outcome = state.handle(buffer, length: frame.count, from: binding, observed: observed, now: now)
            switch outcome {
            case .reply(let n), .forward(_, let n): lastReply = Array(buffer[0..<n])
            case .forwardRaw(_, _, let n): lastReply = Array(buffer[DataFrameHeader.length..<DataFrameHeader.length + n])
            default: lastReply = []
            }
            return outcome
        }

        /// Registers `key` from `address` and returns the client protocol, now holding a session.
        func register(_ key: PrivateKey, from address: RelayAddress) -> RelayClientProtocol {
            register(key, from: .udp(address), observed: address)
        }

        func register(_ key: PrivateKey, from binding: Binding, observed: RelayAddress) -> RelayClientProtocol {
            var client = RelayClientProtocol(clientKey: key, relayKey: Fixture.relayKey.publicKey)
            let outcome = send(client.makeRegister(nowMillis: now.wallMillis), from: binding, observed: observed)
            #expect(outcome == .reply(length: 77))
            let event = lastReply.withUnsafeBytes { client.receive($0, nowMillis: now.wallMillis) }
            #expect(event != .ignored)
            return client
        }

        func drops(_ reason: DropReason) -> UInt64 { state.counters.drops(reason) }
    }

    let alice = Fixture.aliceKey, bob = Fixture.bobKey

    @Test func forwardsWithTheSourceKeyAndReceiversSessionInPlace() {
        let h = Harness()
        let a = h.register(alice, from: Fixture.aliceAddress)
        var b = h.register(bob, from: Fixture.bobAddress)
        let frame = a.wrap([9, 8, 7], to: bob.publicKey, nowMillis: h.now.wallMillis)
        #expect(h.send(frame, from: Fixture.aliceAddress) == .forward(to: .udp(Fixture.bobAddress), length: frame.count))
        let expected = DataFrameHeader(peer: alice.publicKey, sessionID: b.sessionID, timestamp: h.now.wallMillis).wrap([9, 8, 7])
        #expect(h.lastReply == expected)
        let event = h.lastReply.withUnsafeBytes { b.receive($0, nowMillis: h.now.wallMillis) }
        guard case .data(let source, _, let payload) = event else { Issue.record("not delivered: \(event)"); return }
        #expect(source == alice.publicKey)
        #expect(Array(h.lastReply[payload]) == [9, 8, 7])
        #expect(h.state.counters.framesForwarded == 1)
    }

    @Test func sessionIsBoundToItsSourceAddress() {
        let h = Harness()
        let a = h.register(alice, from: Fixture.aliceAddress)
        _ = h.register(bob, from: Fixture.bobAddress)
        let frame = a.wrap([1], to: bob.publicKey, nowMillis: h.now.wallMillis)
        var otherPort = Fixture.aliceAddress
        otherPort.port += 1
        #expect(h.send(frame, from: otherPort) == .drop(.spoofedSession))
        #expect(h.send(frame, from: Fixture.bobAddress) == .drop(.spoofedSession))
        #expect(h.send(frame, from: .tcp(connection: 1, peer: Fixture.aliceAddress), observed: Fixture.aliceAddress) == .drop(.spoofedSession))
        #expect(h.drops(.spoofedSession) == 3)
        #expect(h.state.counters.framesForwarded == 0)
    }

    @Test func unknownSessionStaleTimestampAndSelfAreDropped() {
        let h = Harness()
        let a = h.register(alice, from: Fixture.aliceAddress)
        _ = h.register(bob, from: Fixture.bobAddress)
        let forged = DataFrameHeader(peer: bob.publicKey, sessionID: a.sessionID &+ 1, timestamp: h.now.wallMillis).wrap([1])
        #expect(h.send(forged, from: Fixture.aliceAddress) == .drop(.unknownSession))
        let zero = DataFrameHeader(peer: bob.publicKey, sessionID: 0, timestamp: h.now.wallMillis).wrap([1])
        #expect(h.send(zero, from: Fixture.aliceAddress) == .drop(.unknownSession))
        let stale = DataFrameHeader(peer: bob.publicKey, sessionID: a.sessionID, timestamp: h.now.wallMillis - 30_001).wrap([1])
        #expect(h.send(stale, from: Fixture.aliceAddress) == .drop(.staleTimestamp))
        let future = DataFrameHeader(peer: bob.publicKey, sessionID: a.sessionID, timestamp: h.now.wallMillis + 30_001).wrap([1])
        #expect(h.send(future, from: Fixture.aliceAddress) == .drop(.staleTimestamp))
        #expect(h.send(a.wrap([1], to: alice.publicKey, nowMillis: h.now.wallMillis), from: Fixture.aliceAddress) == .drop(.selfDestination))
        #expect(h.send(Array(a.wrap([1], to: bob.publicKey, nowMillis: h.now.wallMillis).prefix(51)), from: Fixture.aliceAddress) == .drop(.malformed))
    }

    @Test func unknownDestinationGetsPeerUnknown() {
        let h = Harness()
        let a = h.register(alice, from: Fixture.aliceAddress)
        #expect(h.send(a.wrap([1, 2, 3], to: Fixture.keyB, nowMillis: h.now.wallMillis), from: Fixture.aliceAddress) == .reply(length: 34))
        #expect(h.lastReply == PeerUnknownFrame(peer: Fixture.keyB).encode())
        #expect(h.drops(.peerUnknown) == 1)
    }

    @Test func reRegistrationFromANewAddressTakesOver() {
        let h = Harness()
        let old = h.register(alice, from: Fixture.aliceAddress)
        let b = h.register(bob, from: Fixture.bobAddress)
        var moved = Fixture.aliceAddress
        moved.port = 50_000
        let new = h.register(alice, from: moved)
        #expect(new.sessionID != old.sessionID)
        #expect(h.state.sessions.count == 2)
        #expect(h.send(old.wrap([1], to: bob.publicKey, nowMillis: h.now.wallMillis), from: Fixture.aliceAddress) == .drop(.unknownSession))
        let toAlice = b.wrap([2], to: alice.publicKey, nowMillis: h.now.wallMillis)
        #expect(h.send(toAlice, from: Fixture.bobAddress) == .forward(to: .udp(moved), length: toAlice.count))
    }

    @Test func tunnelsPerDeviceLimit() {
        let h = Harness { $0.maxTunnelsPerDevice = 1 }
        let a = h.register(alice, from: Fixture.aliceAddress)
        _ = h.register(bob, from: Fixture.bobAddress)
        let carol = PrivateKey(bytes: [UInt8](repeating: 0x44, count: 32))!
        _ = h.register(carol, from: RelayAddress(Endpoint("203.0.113.5:1")!))
        #expect(h.send(a.wrap([1], to: bob.publicKey, nowMillis: h.now.wallMillis), from: Fixture.aliceAddress) != .drop(.tooManyTunnels))
        #expect(h.send(a.wrap([1], to: carol.publicKey, nowMillis: h.now.wallMillis), from: Fixture.aliceAddress) == .reply(length: 11))
        #expect(h.lastReply.withUnsafeBytes { ErrorFrame.decode($0) }?.code == .tooManyTunnels)
        #expect(h.state.counters.limitHits[RelayCounters.Limit.tunnels.rawValue] == 1)
        // The limit is on destinations at once: bob's tunnel, idle a minute, gives carol its place.
        h.now.monotonicNanos += SessionTable.tunnelIdleReuse - 1
        let toCarol = a.wrap([1], to: carol.publicKey, nowMillis: h.now.wallMillis)
        #expect(h.send(toCarol, from: Fixture.aliceAddress) == .reply(length: 11))
        h.now.monotonicNanos += 1
        #expect(h.send(toCarol, from: Fixture.aliceAddress) == .forward(to: .udp(RelayAddress(Endpoint("203.0.113.5:1")!)), length: toCarol.count))
        #expect(h.send(a.wrap([1], to: bob.publicKey, nowMillis: h.now.wallMillis), from: Fixture.aliceAddress) == .reply(length: 11))
        #expect(h.state.sessions.slots.map(\.tunnels.count).max() == 1)
    }

    @Test func bandwidthPerTunnelIsEnforcedAndRefills() {
        let h = Harness { $0.maxBandwidthKBps = 8 }
        let a = h.register(alice, from: Fixture.aliceAddress)
        _ = h.register(bob, from: Fixture.bobAddress)
        let frame = a.wrap([UInt8](repeating: 0, count: 973), to: bob.publicKey, nowMillis: h.now.wallMillis)
        #expect(frame.count == 1024)
        for _ in 0..<8 { #expect(h.send(frame, from: Fixture.aliceAddress) != .drop(.bandwidth)) }
        #expect(h.send(frame, from: Fixture.aliceAddress) == .drop(.bandwidth))
        h.now.monotonicNanos += 125_000_000
        #expect(h.send(frame, from: Fixture.aliceAddress) != .drop(.bandwidth))
        #expect(h.send(frame, from: Fixture.aliceAddress) == .drop(.bandwidth))
    }

    @Test func accessPolicyAndCapacity() {
        let h = Harness(configure: { $0.maxConnections = 1 }, policy: .keys([alice.publicKey, bob.publicKey]))
        let outsider = PrivateKey(bytes: [UInt8](repeating: 0x55, count: 32))!
        var client = RelayClientProtocol(clientKey: outsider, relayKey: Fixture.relayKey.publicKey)
        #expect(h.send(client.makeRegister(nowMillis: h.now.wallMillis), from: Fixture.bobAddress) == .reply(length: 11))
        #expect(h.lastReply.withUnsafeBytes { ErrorFrame.decode($0) }?.code == .notAllowed)
        _ = h.register(alice, from: Fixture.aliceAddress)
        var bobClient = RelayClientProtocol(clientKey: bob, relayKey: Fixture.relayKey.publicKey)
        #expect(h.send(bobClient.makeRegister(nowMillis: h.now.wallMillis), from: Fixture.bobAddress) == .reply(length: 11))
        #expect(h.lastReply.withUnsafeBytes { ErrorFrame.decode($0) }?.code == .relayFull)
        _ = h.register(alice, from: Fixture.bobAddress)
        h.state.replacePolicy(.keys([bob.publicKey]))
        #expect(h.state.sessions.count == 0)
    }

    @Test func anOpenRelaySharesRegistrationsOutBySource() {
        let h = Harness(configure: { $0.maxSessionsPerAddress = 3 })
        let keys = (0..<4).map { _ in PrivateKey.generate() }
        let nat = { (port: UInt16) in RelayAddress(Endpoint("198.51.100.7:\(port)")!) }
        _ = h.register(keys[0], from: nat(40_000))
        _ = h.register(keys[1], from: nat(40_001))
        h.state.tcpConnectionOpened()
        _ = h.register(keys[2], from: .tcp(connection: 7, peer: nat(50_000)), observed: nat(50_000))
        var fourth = RelayClientProtocol(clientKey: keys[3], relayKey: Fixture.relayKey.publicKey)
        #expect(h.send(fourth.makeRegister(nowMillis: h.now.wallMillis), from: nat(40_010)) == .reply(length: 11))
        #expect(h.lastReply.withUnsafeBytes { ErrorFrame.decode($0) }?.code == .relayFull)
        #expect(h.drops(.sessionsPerAddress) == 1)
        // A key already counted there may register again from another port of it.
        _ = h.register(keys[0], from: nat(40_020))
        _ = h.register(keys[3], from: Fixture.bobAddress)
        #expect(h.state.sessions.count(from: nat(1)) == 3)
        #expect(h.state.sessions.count(from: Fixture.bobAddress) == 1)
        // One leaving makes room, and a key moving in leaves its old source.
        h.state.tcpConnectionClosed(7, reason: nil)
        _ = h.register(keys[3], from: nat(40_010))
        #expect(h.state.sessions.count(from: nat(1)) == 3)
        #expect(h.state.sessions.count(from: Fixture.bobAddress) == 0)
        #expect(h.drops(.sessionsPerAddress) == 1)
    }

    @Test func aRelayWithAKeyListDoesNotShareBySource() {
        let h = Harness(configure: { $0.maxSessionsPerAddress = 1 }, policy: .keys([alice.publicKey, bob.publicKey]))
        _ = h.register(alice, from: Fixture.aliceAddress)
        _ = h.register(bob, from: RelayAddress(Endpoint("198.51.100.7:40001")!))
        #expect(h.state.sessions.count(from: Fixture.aliceAddress) == 2)
    }

    @Test func pingAnswersAndTellsWhetherTheSessionIsValidHere() {
        let h = Harness()
        let a = h.register(alice, from: Fixture.aliceAddress)
        #expect(h.send(a.makePing(echo: 5), from: Fixture.aliceAddress) == .reply(length: 18))
        #expect(h.lastReply == EchoFrame.pong(sessionID: a.sessionID, echo: 5).encode())
        #expect(h.send(a.makePing(echo: 6), from: Fixture.bobAddress) == .reply(length: 18))
        #expect(h.lastReply == EchoFrame.pong(sessionID: 0, echo: 6).encode())
    }

    @Test func idleSessionsExpireAndClosedTCPConnectionsAreRemoved() {
        let h = Harness()
        _ = h.register(alice, from: Fixture.aliceAddress)
        _ = h.register(bob, from: .tcp(connection: 9, peer: Fixture.bobAddress), observed: Fixture.bobAddress)
        h.state.tcpConnectionOpened()
        #expect(h.state.hasSession(onConnection: 9))
        #expect(!h.state.hasSession(onConnection: 8))
        h.state.tcpConnectionClosed(9, reason: .idle)
        #expect(h.state.sessions.session(forKey: bob.publicKey) == nil)
        #expect(!h.state.hasSession(onConnection: 9))
        #expect(h.state.counters.tcpOpen == 0)
        #expect(h.state.counters.tcpClosed[RelayCounters.TCPClose.idle.rawValue] == 1)
        h.now.wallMillis += RelayWire.sessionIdleMillis + 1
        h.state.expireIdle(now: h.now)
        #expect(h.state.sessions.count == 0)
    }

    @Test func relayToClientTypesAndGarbageAreDroppedByReason() {
        let h = Harness()
        #expect(h.send(EchoFrame.pong(sessionID: 0, echo: 0).encode(), from: Fixture.aliceAddress) == .drop(.unexpectedType))
        #expect(h.send([0x02, 0x03, 0, 0], from: Fixture.aliceAddress) == .drop(.badVersion))
        #expect(h.send([0x01, 0x7F], from: Fixture.aliceAddress) == .drop(.unknownType))
        #expect(h.send([0x01], from: Fixture.aliceAddress) == .drop(.malformed))
        #expect(h.send([0x01, 0x08, 0, 0], from: Fixture.aliceAddress) == .drop(.malformed))
    }

    @Test func infoAndDiscoveryAnswers() {
        let peer = KnownRelay(key: Fixture.keyA, endpoint: Fixture.bobAddress, location: .unknown)
        let h = Harness { $0.peerRelays = [peer] }
        #expect(h.send(PaddedRequestFrame.infoRequest(echo: 1).encode(), from: Fixture.aliceAddress) == .reply(length: 60 + 5))
        #expect(h.lastReply.withUnsafeBytes { InfoResponseFrame.decode($0) }?.relayKey == Fixture.relayKey.publicKey)
        #expect(h.send(PaddedRequestFrame.discoveryQuery(echo: 2).encode(), from: Fixture.aliceAddress) == .reply(length: 11 + 59))
        #expect(h.lastReply.withUnsafeBytes { DiscoveryResponseFrame.decode($0) }?.relays == [peer])
    }

    @Test func announcementFromAConfiguredPeerIsListed() {
        let announcer = Fixture.bobKey
        let h = Harness { $0.peerRelays = [KnownRelay(key: announcer.publicKey, endpoint: Fixture.bobAddress, location: .unknown)] }
        let payload = AnnouncePayload(timestamp: h.now.wallMillis, endpoint: RelayAddress(high: 0, low: 0x0000_FFFF_0000_0000, port: 51821),
                                      location: RelayLocation(latitudeMicrodegrees: 1, longitudeMicrodegrees: 2))
        let nonce = RelayBox.randomNonce()
        let frame = AnnounceFrame(announcerKey: announcer.publicKey, nonce: nonce,
                                  sealedPayload: RelayBox.seal(payload.encode(), nonce: nonce, to: Fixture.relayKey.publicKey, from: announcer)).encode()
        let source = RelayAddress(Endpoint("203.0.113.9:4000")!)
        #expect(h.send(frame, from: source) == .consumed)
        #expect(h.send(frame, from: source) == .drop(.replayedNonce))
        #expect(h.send(PaddedRequestFrame.discoveryQuery(echo: 2).encode(), from: Fixture.aliceAddress) == .reply(length: 11 + 59))
        #expect(h.lastReply.withUnsafeBytes { DiscoveryResponseFrame.decode($0) }?.relays.first?.endpoint == Fixture.bobAddress)
    }
}
