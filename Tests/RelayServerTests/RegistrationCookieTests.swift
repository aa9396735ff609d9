import RelayClient
import RelayServer
import RelayWire
import Testing
import WireGuard

/// Registration cookies: a relay that has just started takes no register frame that did not
/// prove its address, so a frame captured before the restart cannot be replayed after it.
@Suite final class RegistrationCookieTests {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: RelayWire.maxFrame, alignment: 16)

    deinit { buffer.deallocate() }

    private func send(_ frame: [UInt8], to state: inout RelayState, from source: RelayAddress, at now: RelayInstant) -> (RelayOutcome, [UInt8]) {
        frame.withUnsafeBytes { buffer.copyMemory(from: $0) }
        let outcome = state.handle(buffer, length: frame.count, from: .udp(source), observed: source, now: now)
        if case .reply(let n) = outcome { return (outcome, Array(buffer[0..<n])) }
        return (outcome, [])
    }

    private func later(_ millis: UInt64) -> RelayInstant {
        RelayInstant(wallMillis: Fixture.now.wallMillis + millis, monotonicNanos: Fixture.now.monotonicNanos + millis * 1_000_000)
    }

    @Test func aFrameCapturedBeforeARestartIsNotTakenAfterIt() {
        var before = RelayState(relayKey: Fixture.relayKey, configuration: RelayConfiguration(), policy: .open, now: Fixture.now)
        var alice = RelayClientProtocol(clientKey: Fixture.aliceKey, relayKey: Fixture.relayKey.publicKey)
        // Just started: the first frame gets a cookie, the second (beginning with it) registers.
        var frame = alice.makeRegister(nowMillis: Fixture.now.wallMillis)
        var (outcome, reply) = send(frame, to: &before, from: Fixture.aliceAddress, at: Fixture.now)
        #expect(outcome == .reply(length: CookieFrame.length))
        #expect(reply.withUnsafeBytes { CookieFrame.decode($0) }?.nonce == Array(frame[RegisterFrame.nonceOffset..<RegisterFrame.nonceOffset + 24]))
        #expect(reply.withUnsafeBytes { alice.receive($0, nowMillis: Fixture.now.wallMillis) } == .cookie)
        frame = alice.makeRegister(nowMillis: Fixture.now.wallMillis)
        (outcome, reply) = send(frame, to: &before, from: Fixture.aliceAddress, at: Fixture.now)
        #expect(outcome == .reply(length: 77))
        let captured = frame

        // The relay restarts 5 s later with the same key: a new cookie key, an empty replay cache.
        let restart = later(5_000)
        var after = RelayState(relayKey: Fixture.relayKey, configuration: RelayConfiguration(), policy: .open, now: restart)
        var attacker = Fixture.aliceAddress
        attacker.port = 666
        for (source, at) in [(attacker, later(6_000)), (Fixture.aliceAddress, later(6_000)), (attacker, later(59_000))] {
            (outcome, _) = send(captured, to: &after, from: source, at: at)
            #expect(outcome == .reply(length: CookieFrame.length), "replay from \(source)")
        }
        #expect(after.sessions.count == 0)
        #expect(after.counters.registrations == 0)
        // Two windows after the start, the frame is stale by the clock alone.
        (outcome, _) = send(captured, to: &after, from: attacker, at: later(66_000))
        #expect(outcome == .reply(length: ErrorFrame.length))
        #expect(after.counters.drops(.staleTimestamp) == 1)
        #expect(after.sessions.count == 0)
    }

    @Test func aClientAnswersOnlyTheCookieForItsOwnFrame() {
        var alice = RelayClientProtocol(clientKey: Fixture.aliceKey, relayKey: Fixture.relayKey.publicKey)
        let frame = alice.makeRegister(nowMillis: Fixture.now.wallMillis)
        let cookie = [UInt8](repeating: 7, count: RelayWire.cookieLength)
        let forged = CookieFrame(nonce: RelayBox.randomNonce(), cookie: cookie).encode()
        #expect(forged.withUnsafeBytes { alice.receive($0, nowMillis: Fixture.now.wallMillis) } == .ignored)
        let genuine = CookieFrame(nonce: Array(frame[RegisterFrame.nonceOffset..<RegisterFrame.nonceOffset + 24]), cookie: cookie).encode()
        #expect(genuine.withUnsafeBytes { alice.receive($0, nowMillis: Fixture.now.wallMillis) } == .cookie)
        // A second copy of it is not an answer to the next frame.
        #expect(genuine.withUnsafeBytes { alice.receive($0, nowMillis: Fixture.now.wallMillis) } == .ignored)
        let next = alice.makeRegister(nowMillis: Fixture.now.wallMillis + 1_000)
        #expect(Array(next[RegisterFrame.nonceOffset..<RegisterFrame.nonceOffset + RelayWire.cookieLength]) == cookie)
        // Past its use, the client goes back to random nonces and the relay asks again if it must.
        let stale = alice.makeRegister(nowMillis: Fixture.now.wallMillis + RelayWire.cookieUseMillis)
        #expect(Array(stale[RegisterFrame.nonceOffset..<RegisterFrame.nonceOffset + RelayWire.cookieLength]) != cookie)
    }

    /// The cookie for the first frame arrives after a retry left: it is still the answer.
    @Test func theCookieForAnEarlierFrameIsTakenAfterARetry() {
        var alice = RelayClientProtocol(clientKey: Fixture.aliceKey, relayKey: Fixture.relayKey.publicKey)
        let first = alice.makeRegister(nowMillis: Fixture.now.wallMillis)
        let retry = alice.makeRegister(nowMillis: Fixture.now.wallMillis + 250)
        let cookie = [UInt8](repeating: 9, count: RelayWire.cookieLength)
        let answer = CookieFrame(nonce: Array(first[RegisterFrame.nonceOffset..<RegisterFrame.nonceOffset + 24]), cookie: cookie).encode()
        #expect(answer.withUnsafeBytes { alice.receive($0, nowMillis: Fixture.now.wallMillis + 300) } == .cookie)
        // Measured from the frame it answers, not from the retry.
        #expect(alice.answerRoundTrip == 0.3)
        let next = alice.makeRegister(nowMillis: Fixture.now.wallMillis + 300)
        #expect(Array(next[RegisterFrame.nonceOffset..<RegisterFrame.nonceOffset + RelayWire.cookieLength]) == cookie)
        // The cookie for the retry, sent without one, is no answer to the frame that carries it.
        let late = CookieFrame(nonce: Array(retry[RegisterFrame.nonceOffset..<RegisterFrame.nonceOffset + 24]), cookie: cookie).encode()
        #expect(late.withUnsafeBytes { alice.receive($0, nowMillis: Fixture.now.wallMillis + 550) } == .ignored)
    }

    @Test func cookiesLiveOneToTwoRotations() {
        var cookies = RegistrationCookies(now: 0)
        let address = Fixture.aliceAddress
        let rotation = RegistrationCookies.rotationNanos
        var nonce = cookies.cookie(for: address, now: 0) + [UInt8](repeating: 0, count: 8)
        func accepted(at now: UInt64) -> Bool { nonce.withUnsafeBytes { cookies.accepts(nonce: $0, from: address, now: now) } }
        #expect(accepted(at: rotation - 1))
        #expect(accepted(at: rotation + 1))
        #expect(!accepted(at: 2 * rotation + 1))
        // After a quiet spell longer than two rotations, nothing old is taken.
        nonce = cookies.cookie(for: address, now: 2 * rotation + 1) + [UInt8](repeating: 0, count: 8)
        #expect(!accepted(at: 5 * rotation))
        var other = address
        other.port += 1
        nonce = cookies.cookie(for: address, now: 5 * rotation) + [UInt8](repeating: 0, count: 8)
        #expect(!nonce.withUnsafeBytes { cookies.accepts(nonce: $0, from: other, now: 5 * rotation) })
    }
}
