import RelayWire
import RelayServer
import RelayClient
import Testing
import WireGuard

@Suite struct RegistrationTests {
    let relayPublic = Fixture.relayKey.publicKey

    private func register(_ client: PrivateKey, to relay: PublicKey, at timestamp: UInt64, nonce: [UInt8] = RelayBox.randomNonce()) -> [UInt8] {
        RelayClientProtocol.registerFrame(clientKey: client, relayKey: relay, timestamp: timestamp, nonce: nonce)
    }

    @Test func validRegistrationIsAcceptedAndTheAnswerProvesTheRelay() {
        var handler = RegistrationHandler(relayKey: Fixture.relayKey)
        var client = RelayClientProtocol(clientKey: Fixture.aliceKey, relayKey: relayPublic)
        let frame = client.makeRegister(nowMillis: Fixture.now.wallMillis)
        let result = frame.withUnsafeBytes { handler.verifyRegister($0, nowMillis: Fixture.now.wallMillis) }
        guard case .success(let accepted) = result else { Issue.record("refused: \(result)"); return }
        #expect(accepted.clientKey == Fixture.aliceKey.publicKey)
        #expect(accepted.timestamp == Fixture.now.wallMillis)
        let answer = handler.registeredFrame(for: accepted.clientKey, sessionID: 77, echoedTimestamp: accepted.timestamp, observedAddress: Fixture.aliceAddress)
        #expect(answer.count == 77)
        let event = answer.withUnsafeBytes { client.receive($0, nowMillis: Fixture.now.wallMillis) }
        #expect(event == .registered(RegisteredPayload(sessionID: 77, echoedTimestamp: Fixture.now.wallMillis, observedAddress: Fixture.aliceAddress)))
        #expect(client.sessionID == 77)
        #expect(client.observedAddress == Fixture.aliceAddress)
    }

    /// A relay 300 ms away answers the first frame after the client sent a retry (0.25 s) and a
    /// frame over TCP (the fallback, 0.3 s): the answer to any of the last four frames counts.
    @Test func theAnswerToAnEarlierFrameCountsAfterARetry() {
        var handler = RegistrationHandler(relayKey: Fixture.relayKey)
        var client = RelayClientProtocol(clientKey: Fixture.aliceKey, relayKey: relayPublic)
        let first = client.makeRegister(nowMillis: Fixture.now.wallMillis)
        for retry in 1...3 { _ = client.makeRegister(nowMillis: Fixture.now.wallMillis + UInt64(retry) * 250) }
        guard case .success(let accepted) = first.withUnsafeBytes({ handler.verifyRegister($0, nowMillis: Fixture.now.wallMillis + 300) }) else {
            Issue.record("refused"); return
        }
        let answer = handler.registeredFrame(for: accepted.clientKey, sessionID: 9, echoedTimestamp: accepted.timestamp, observedAddress: Fixture.aliceAddress)
        #expect(answer.withUnsafeBytes { client.receive($0, nowMillis: Fixture.now.wallMillis + 1_000) }
            == .registered(RegisteredPayload(sessionID: 9, echoedTimestamp: Fixture.now.wallMillis, observedAddress: Fixture.aliceAddress)))
        #expect(client.sessionID == 9)
        #expect(client.answerRoundTrip == 1.0)
        // Answered: a copy of the answer is not taken again.
        #expect(answer.withUnsafeBytes { client.receive($0, nowMillis: Fixture.now.wallMillis + 1_000) } == .ignored)
        // The relay took the last retry too, after the first: its session is the one it keeps.
        let last = handler.registeredFrame(for: Fixture.aliceKey.publicKey, sessionID: 10, echoedTimestamp: Fixture.now.wallMillis + 750,
                                           observedAddress: Fixture.aliceAddress)
        #expect(last.withUnsafeBytes { client.receive($0, nowMillis: Fixture.now.wallMillis + 1_100) } != .ignored)
        #expect(client.sessionID == 10)
        // An answer to a frame older than the one answered is stale.
        let older = handler.registeredFrame(for: Fixture.aliceKey.publicKey, sessionID: 11, echoedTimestamp: Fixture.now.wallMillis + 250,
                                            observedAddress: Fixture.aliceAddress)
        #expect(older.withUnsafeBytes { client.receive($0, nowMillis: Fixture.now.wallMillis + 1_200) } == .ignored)
        #expect(client.sessionID == 10)
    }

    /// A frame left outstanding is answered for 10 s only.
    @Test func theAnswerToAFrameOlderThanTenSecondsIsIgnored() {
        let handler = RegistrationHandler(relayKey: Fixture.relayKey)
        var client = RelayClientProtocol(clientKey: Fixture.aliceKey, relayKey: relayPublic)
        _ = client.makeRegister(nowMillis: Fixture.now.wallMillis)
        let answer = handler.registeredFrame(for: Fixture.aliceKey.publicKey, sessionID: 9, echoedTimestamp: Fixture.now.wallMillis,
                                             observedAddress: Fixture.aliceAddress)
        #expect(answer.withUnsafeBytes { client.receive($0, nowMillis: Fixture.now.wallMillis + 10_001) } == .ignored)
        #expect(answer.withUnsafeBytes { client.receive($0, nowMillis: Fixture.now.wallMillis + 10_000) } != .ignored)
    }

    /// Bounded: the answer to a frame four frames old is no longer accepted.
    @Test func theAnswerToAFrameOlderThanTheLastFourIsIgnored() {
        let handler = RegistrationHandler(relayKey: Fixture.relayKey)
        var client = RelayClientProtocol(clientKey: Fixture.aliceKey, relayKey: relayPublic)
        for sent in 0...4 { _ = client.makeRegister(nowMillis: Fixture.now.wallMillis + UInt64(sent) * 250) }
        let oldest = handler.registeredFrame(for: Fixture.aliceKey.publicKey, sessionID: 9, echoedTimestamp: Fixture.now.wallMillis,
                                             observedAddress: Fixture.aliceAddress)
        #expect(oldest.withUnsafeBytes { client.receive($0, nowMillis: Fixture.now.wallMillis + 2_000) } == .ignored)
        let second = handler.registeredFrame(for: Fixture.aliceKey.publicKey, sessionID: 9, echoedTimestamp: Fixture.now.wallMillis + 250,
                                             observedAddress: Fixture.aliceAddress)
        #expect(second.withUnsafeBytes { client.receive($0, nowMillis: Fixture.now.wallMillis + 2_000) } != .ignored)
    }

    /// A TCP link's UDP probe is a session-0 ping; its pong (session 0) must not read as "you
    /// are not registered here", which would drop the TCP registration it was meant to keep.
    @Test func aProbesPongLeavesTheSessionAlone() {
        let h = RelayStateTests.Harness()
        var client = h.register(Fixture.aliceKey, from: Fixture.aliceAddress)
        let session = client.sessionID
        func receive(_ frame: EchoFrame) -> RelayClientProtocol.Event {
            frame.encode().withUnsafeBytes { client.receive($0, nowMillis: h.now.wallMillis) }
        }
        #expect(receive(.pong(sessionID: 0, echo: RelayLinkMachine.udpProbeEchoes | 3)) == .udpProbeAnswered)
        #expect(client.sessionID == session)
        #expect(receive(.pong(sessionID: session, echo: 4)) == .pong(echo: 4, stillRegistered: true))
        #expect(receive(.pong(sessionID: 0, echo: 5)) == .pong(echo: 5, stillRegistered: false))
        // Whether that is about this session is the link's call (the echo's registration).
        #expect(client.sessionID == session)
        client.forgetSession()
        #expect(!client.isRegistered)
    }

    @Test func answerFromAnotherRelayKeyOrForAnotherRegistrationIsIgnored() {
        let impostor = RegistrationHandler(relayKey: Fixture.bobKey)
        var client = RelayClientProtocol(clientKey: Fixture.aliceKey, relayKey: relayPublic)
        _ = client.makeRegister(nowMillis: Fixture.now.wallMillis)
        let forged = impostor.registeredFrame(for: Fixture.aliceKey.publicKey, sessionID: 5, echoedTimestamp: Fixture.now.wallMillis, observedAddress: Fixture.aliceAddress)
        #expect(forged.withUnsafeBytes { client.receive($0, nowMillis: Fixture.now.wallMillis) } == .ignored)
        let genuineButOld = RegistrationHandler(relayKey: Fixture.relayKey)
            .registeredFrame(for: Fixture.aliceKey.publicKey, sessionID: 5, echoedTimestamp: Fixture.now.wallMillis - 1, observedAddress: Fixture.aliceAddress)
        #expect(genuineButOld.withUnsafeBytes { client.receive($0, nowMillis: Fixture.now.wallMillis) } == .ignored)
        #expect(!client.isRegistered)
    }

    @Test func staleTimestampsAreRefusedWithTheRelayClock() {
        var handler = RegistrationHandler(relayKey: Fixture.relayKey)
        let now = Fixture.now.wallMillis
        for skew in [Int64(-30_001), 30_001, -3_600_000] {
            let frame = register(Fixture.aliceKey, to: relayPublic, at: UInt64(Int64(now) + skew))
            let result = frame.withUnsafeBytes { handler.verifyRegister($0, nowMillis: now) }
            #expect(result == .failure(.init(reason: .staleTimestamp, reply: ErrorFrame(code: .staleTimestamp, relayClockMillis: now))))
        }
        for skew in [Int64(-30_000), 30_000] {
            let frame = register(Fixture.aliceKey, to: relayPublic, at: UInt64(Int64(now) + skew))
            #expect((try? frame.withUnsafeBytes { handler.verifyRegister($0, nowMillis: now) }.get()) != nil)
        }
    }

    @Test func clientCorrectsItsClockFromTheStaleError() {
        var client = RelayClientProtocol(clientKey: Fixture.aliceKey, relayKey: relayPublic)
        let relayClock = Fixture.now.wallMillis + 90_000
        let error = ErrorFrame(code: .staleTimestamp, relayClockMillis: relayClock).encode()
        _ = error.withUnsafeBytes { client.receive($0, nowMillis: Fixture.now.wallMillis) }
        #expect(client.clockOffsetMillis == 90_000)
        #expect(client.relayTime(Fixture.now.wallMillis) == relayClock)
    }

    @Test func replayedNonceIsRefusedEvenWithinTheWindow() {
        var handler = RegistrationHandler(relayKey: Fixture.relayKey)
        let frame = register(Fixture.aliceKey, to: relayPublic, at: Fixture.now.wallMillis, nonce: Fixture.nonce)
        #expect((try? frame.withUnsafeBytes { handler.verifyRegister($0, nowMillis: Fixture.now.wallMillis) }.get()) != nil)
        let again = frame.withUnsafeBytes { handler.verifyRegister($0, nowMillis: Fixture.now.wallMillis + 1_000) }
        #expect(again == .failure(.init(reason: .replayedNonce, reply: nil)))
        let sameNonceNewTime = register(Fixture.aliceKey, to: relayPublic, at: Fixture.now.wallMillis + 2_000, nonce: Fixture.nonce)
        #expect(sameNonceNewTime.withUnsafeBytes { handler.verifyRegister($0, nowMillis: Fixture.now.wallMillis + 2_000) }
            == .failure(.init(reason: .replayedNonce, reply: nil)))
    }

    @Test func boxForAnotherRelayOrFromAnotherKeyIsABadBox() {
        var handler = RegistrationHandler(relayKey: Fixture.relayKey)
        let wrongRelay = register(Fixture.aliceKey, to: Fixture.bobKey.publicKey, at: Fixture.now.wallMillis)
        #expect(wrongRelay.withUnsafeBytes { handler.verifyRegister($0, nowMillis: Fixture.now.wallMillis) } == .failure(.init(reason: .badBox, reply: nil)))
        var claimsAlice = register(Fixture.bobKey, to: relayPublic, at: Fixture.now.wallMillis)
        claimsAlice.replaceSubrange(2..<34, with: Fixture.aliceKey.publicKey.bytes)
        #expect(claimsAlice.withUnsafeBytes { handler.verifyRegister($0, nowMillis: Fixture.now.wallMillis) } == .failure(.init(reason: .badBox, reply: nil)))
        var tampered = register(Fixture.aliceKey, to: relayPublic, at: Fixture.now.wallMillis)
        tampered[70] ^= 1
        #expect(tampered.withUnsafeBytes { handler.verifyRegister($0, nowMillis: Fixture.now.wallMillis) } == .failure(.init(reason: .badBox, reply: nil)))
    }

    @Test func replayCacheForgetsOnlyAfterTwiceTheWindowAndRefusesWhenFull() {
        var cache = ReplayCache(capacity: 2, retentionMillis: 60_000)
        let a = [UInt8](repeating: 1, count: 24), b = [UInt8](repeating: 2, count: 24), c = [UInt8](repeating: 3, count: 24)
        #expect(cache.insert(a, now: 0) == .fresh)
        #expect(cache.insert(a, now: 59_999) == .replayed)
        #expect(cache.insert(b, now: 10_000) == .fresh)
        #expect(cache.insert(c, now: 20_000) == .full)
        #expect(cache.insert(c, now: 60_000) == .fresh)
        #expect(cache.insert(a, now: 60_001) == .full)
        #expect(cache.insert(a, now: 70_000) == .fresh)
    }
}
