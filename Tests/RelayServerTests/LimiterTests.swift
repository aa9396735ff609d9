import RelayWire
import RelayServer
import RelayClient
import Testing
import WireGuard

@Suite struct LimiterTests {
    @Test func tokenBucketSpendsItsBurstThenRefillsAtItsRate() {
        var bucket = TokenBucket(ratePerSecond: 1000, burst: 100, now: 0)
        let taken = [
            bucket.take(100, now: 0),
            bucket.take(1, now: 0),
            bucket.take(11, now: 10_000_000),
            bucket.take(10, now: 10_000_000),
        ]
        #expect(taken == [true, false, false, true])
        let refilled = bucket.available(now: 10_000_000_000)
        #expect(refilled == 100)
        let overBurst = bucket.take(101, now: 10_000_000_000)
        #expect(!overBurst)
    }

    @Test func tokenBucketDoesNotOverflowOnHugeRatesOrGaps() {
        var huge = TokenBucket(ratePerSecond: .max, burst: .max, now: 0)
        var slow = TokenBucket(ratePerSecond: 1, burst: 1, now: 0)
        let taken = [
            huge.take(1_000_000, now: UInt64.max),
            slow.take(1, now: 0),
            slow.take(1, now: UInt64.max),
            slow.take(.max, now: UInt64.max),
        ]
        #expect(taken == [true, true, true, false])
    }

    @Test func tokenBucketIgnoresAClockThatGoesBack() {
        var bucket = TokenBucket(ratePerSecond: 1, burst: 1, now: 1_000_000_000)
        let taken = [bucket.take(1, now: 1_000_000_000), bucket.take(1, now: 0)]
        #expect(taken == [true, false])
    }

    @Test func addressRateLimitIsPerIPNotPerPort() {
        var limiter = AddressRateLimiter(ratePerSecond: 10, burst: 5, now: 0)
        let a = RelayAddress(Endpoint("192.0.2.1:1000")!)
        var sameHost = a
        sameHost.port = 2000
        let b = RelayAddress(Endpoint("192.0.2.2:1000")!)
        let burst = (0..<5).map { _ in limiter.allow(a, now: 0) }
        #expect(burst == Array(repeating: true, count: 5))
        let later = [
            limiter.allow(sameHost, now: 0),
            limiter.allow(b, now: 0),
            limiter.allow(a, now: 100_000_000),
            limiter.allow(a, now: 100_000_000),
        ]
        #expect(later == [false, true, true, false])
    }

    @Test func relayDropsFramesOverTheAddressRate() {
        var configuration = RelayConfiguration()
        configuration.rateLimit = 3
        var state = RelayState(relayKey: Fixture.relayKey, configuration: configuration, policy: .open, now: Fixture.now)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: RelayWire.maxFrame, alignment: 16)
        defer { buffer.deallocate() }
        let ping = EchoFrame.ping(sessionID: 0, echo: 1).encode()
        var outcomes = [RelayOutcome]()
        for _ in 0..<7 {
            ping.withUnsafeBytes { buffer.copyMemory(from: $0) }
            outcomes.append(state.handle(buffer, length: ping.count, from: .udp(Fixture.aliceAddress), observed: Fixture.aliceAddress, now: Fixture.now))
        }
        #expect(outcomes.filter { $0 == .reply(length: 18) }.count == 6)
        #expect(outcomes.last == .drop(.rateLimited))
        #expect(state.counters.drops(.rateLimited) == 1)
    }

    @Test func registrationsHaveTheirOwnStricterRate() {
        var configuration = RelayConfiguration()
        configuration.registrationBurst = 2
        configuration.cookiesAfterStartMillis = 0
        var state = RelayState(relayKey: Fixture.relayKey, configuration: configuration, policy: .open, now: Fixture.now)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: RelayWire.maxFrame, alignment: 16)
        defer { buffer.deallocate() }
        var outcomes = [RelayOutcome]()
        for _ in 0..<3 {
            var client = RelayClientProtocol(clientKey: .generate(), relayKey: Fixture.relayKey.publicKey)
            let frame = client.makeRegister(nowMillis: Fixture.now.wallMillis)
            frame.withUnsafeBytes { buffer.copyMemory(from: $0) }
            outcomes.append(state.handle(buffer, length: frame.count, from: .udp(Fixture.aliceAddress), observed: Fixture.aliceAddress, now: Fixture.now))
        }
        #expect(outcomes == [.reply(length: 77), .reply(length: 77), .drop(.registrationRateLimited)])
    }

    @Test func aFloodSpendsOnlyTheUpperHalfOfTheGlobalBudgetAndProvenClientsTheRest() {
        var configuration = RelayConfiguration()
        configuration.registrationsPerSecondTotal = 2
        configuration.cookiesAfterStartMillis = 0
        var state = RelayState(relayKey: Fixture.relayKey, configuration: configuration, policy: .open, now: Fixture.now)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: RelayWire.maxFrame, alignment: 16)
        defer { buffer.deallocate() }
        func register(_ client: inout RelayClientProtocol, from source: RelayAddress) -> RelayOutcome {
            let frame = client.makeRegister(nowMillis: Fixture.now.wallMillis)
            frame.withUnsafeBytes { buffer.copyMemory(from: $0) }
            let outcome = state.handle(buffer, length: frame.count, from: .udp(source), observed: source, now: Fixture.now)
            if case .reply(let n) = outcome { _ = client.receive(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), nowMillis: Fixture.now.wallMillis) }
            return outcome
        }
        let sources = (1...5).map { RelayAddress(Endpoint("192.0.2.\($0):1000")!) }
        var clients = sources.map { _ in RelayClientProtocol(clientKey: .generate(), relayKey: Fixture.relayKey.publicKey) }
        // Burst 4: two without a cookie take it down to half; then each is asked for a cookie.
        let first = (0..<5).map { register(&clients[$0], from: sources[$0]) }
        #expect(first == [.reply(length: 77), .reply(length: 77), .reply(length: CookieFrame.length), .reply(length: CookieFrame.length),
                          .reply(length: CookieFrame.length)])
        #expect(state.counters.cookiesSent == 3)
        // The half kept back is for frames whose cookie proves their address.
        #expect(register(&clients[2], from: sources[2]) == .reply(length: 77))
        #expect(register(&clients[3], from: sources[3]) == .reply(length: 77))
        #expect(register(&clients[4], from: sources[4]) == .drop(.registrationRateLimited))
        #expect(state.sessions.count == 4)
    }

    @Test func aCookieIsGoodOnlyFromTheAddressItWasGivenTo() {
        var configuration = RelayConfiguration()
        configuration.cookiesAfterStartMillis = 60_000
        var state = RelayState(relayKey: Fixture.relayKey, configuration: configuration, policy: .open, now: Fixture.now)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: RelayWire.maxFrame, alignment: 16)
        defer { buffer.deallocate() }
        var client = RelayClientProtocol(clientKey: .generate(), relayKey: Fixture.relayKey.publicKey)
        func send(from source: RelayAddress) -> RelayOutcome {
            let frame = client.makeRegister(nowMillis: Fixture.now.wallMillis)
            frame.withUnsafeBytes { buffer.copyMemory(from: $0) }
            let outcome = state.handle(buffer, length: frame.count, from: .udp(source), observed: source, now: Fixture.now)
            if case .reply(let n) = outcome { _ = client.receive(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), nowMillis: Fixture.now.wallMillis) }
            return outcome
        }
        #expect(send(from: Fixture.aliceAddress) == .reply(length: CookieFrame.length))
        var elsewhere = Fixture.aliceAddress
        elsewhere.port += 1
        #expect(send(from: elsewhere) == .reply(length: CookieFrame.length))
        #expect(send(from: elsewhere) == .reply(length: 77))
        #expect(client.isRegistered)
    }
}
