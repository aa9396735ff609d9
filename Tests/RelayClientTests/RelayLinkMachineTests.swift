import Testing
@testable import RelayWire
@testable import RelayClient

@Suite struct RelayLinkMachineTests {
    /// The TCP connection opens with the first UDP register, and the fallback registers on it.
    @Test func registersOverUDPAndFallsBackToTCPWithoutAnAnswer() {
        var machine = RelayLinkMachine(now: 0, udpBlocked: false)
        #expect(machine.initialActions == [.register(.udp), .connectTCP])
        #expect(machine.tick(now: 0.1) == [])
        #expect(machine.tick(now: 0.26) == [.register(.udp)])
        #expect(machine.tick(now: 0.31) == [.register(.tcp)])
        #expect(machine.transport == .tcp)
        #expect(machine.isUsable(now: 0.31) == false)
    }

    /// The engine wakes for the fallback and each register retry, not at its next 100 ms poll.
    @Test func itsRegisteringDeadlineIsTheFallbackThenEachRetry() {
        var machine = RelayLinkMachine(now: 0, udpBlocked: false)
        #expect(machine.registeringDeadline == 0.25)
        #expect(machine.tick(now: 0.25) == [.register(.udp)])
        #expect(machine.registeringDeadline == 0.3)
        #expect(machine.tick(now: 0.3) == [.register(.tcp)])
        #expect(machine.registeringDeadline == 0.55)
        _ = machine.registered(now: 0.4, over: .tcp)
        #expect(machine.registeringDeadline == nil)
        #expect(RelayClientEngine.pollTimeout(until: nil, now: 5) == 100)
        #expect(RelayClientEngine.pollTimeout(until: 5.0125, now: 5) == 13)
        #expect(RelayClientEngine.pollTimeout(until: 4.9, now: 5) == 0)
        #expect(RelayClientEngine.pollTimeout(until: 9, now: 5) == 100)
    }

    /// The connection opened ahead is up with no UDP answer: UDP gets half that round trip
    /// more (at least the margin), not the whole `tcpFallbackAfter`.
    @Test func theFallbackComesHalfARoundTripAfterTheConnectionAhead() {
        func close(_ a: Double?, _ b: Double) -> Bool { a.map { abs($0 - b) < 1e-9 } ?? false }
        var machine = RelayLinkMachine(now: 0, udpBlocked: false)
        machine.tcpConnected(now: 0.12)
        #expect(close(machine.registeringDeadline, 0.18))
        #expect(machine.tick(now: 0.179) == [])
        #expect(machine.tick(now: 0.18) == [.register(.tcp)])
        #expect(machine.transport == .tcp)
        // On a near relay the margin holds: 50 ms.
        var near = RelayLinkMachine(now: 0, udpBlocked: false)
        near.tcpConnected(now: 0.001)
        #expect(close(near.registeringDeadline, 0.051))
        // A far one never waits longer than `tcpFallbackAfter`.
        var far = RelayLinkMachine(now: 0, udpBlocked: false)
        far.tcpConnected(now: 0.25)
        #expect(close(far.registeringDeadline, 0.25))
        #expect(far.tick(now: 0.25) == [.register(.udp)])
        #expect(close(far.registeringDeadline, 0.3))
        // UDP answered first: the connection is closed and the link stays on UDP.
        var answered = RelayLinkMachine(now: 0, udpBlocked: false)
        #expect(answered.cookie(now: 0.07, over: .udp) == [.closeTCP, .register(.udp)])
        answered.tcpConnected(now: 0.08)
        #expect(answered.tick(now: 0.2) == [])
        #expect(answered.transport == .udp)
    }

    /// Fallen back to TCP, and the relay refuses TCP: the link asks over UDP again each time
    /// the connection fails, and a UDP answer takes it back; a link that started on TCP (UDP
    /// known blocked) does not.
    @Test func aLinkStuckOnARefusedTCPAsksOverUDPAgain() {
        var machine = RelayLinkMachine(now: 0, udpBlocked: false)
        #expect(machine.transportFailed(now: 0.1) == [])
        #expect(machine.tick(now: 0.31) == [.connectTCP, .register(.tcp)])
        #expect(machine.transportFailed(now: 0.4) == [.register(.udp)])
        #expect(machine.cookie(now: 0.5, over: .udp) == [.closeTCP, .register(.udp)])
        #expect(machine.transport == .udp)
        var blocked = RelayLinkMachine(now: 0, udpBlocked: true)
        #expect(blocked.transportFailed(now: 0.1) == [])
    }

    /// The connection opened ahead failed (the relay takes no TCP, or not yet): the fallback
    /// opens a new one.
    @Test func aFailedConnectionAheadIsOpenedAgainAtTheFallback() {
        var machine = RelayLinkMachine(now: 0, udpBlocked: false)
        #expect(machine.transportFailed(now: 0.1) == [])
        #expect(machine.transport == .udp)
        #expect(machine.tick(now: 0.31) == [.connectTCP, .register(.tcp)])
    }

    @Test func aCookieOverUDPIsAnsweredAtOnceAndKeepsTheLinkOnUDP() {
        var machine = RelayLinkMachine(now: 0, udpBlocked: false)
        // UDP answered: the connection opened ahead is closed.
        #expect(machine.cookie(now: 0.2, over: .udp) == [.closeTCP, .register(.udp)])
        // The second frame's answer may take longer than the TCP fallback: UDP has answered.
        #expect(machine.tick(now: 0.35) == [])
        #expect(machine.transport == .udp)
        #expect(machine.registered(now: 0.4, over: .udp).contains(.ping(echo: 1)))
        // A late cookie for an older frame asks for nothing once registered.
        #expect(machine.cookie(now: 0.5, over: .udp) == [])
    }

    /// A relay 400 ms away answers UDP after the fallback to TCP has begun: the link goes back
    /// to UDP at once and stays there (the WAN lab: it spent seconds on TCP, with no channels).
    @Test func aLateCookieOverUDPTakesTheLinkBackFromTCP() {
        var machine = RelayLinkMachine(now: 0, udpBlocked: false)
        #expect(machine.tick(now: 0.31) == [.register(.tcp)])
        #expect(machine.cookie(now: 0.4, over: .udp) == [.closeTCP, .register(.udp)])
        #expect(machine.transport == .udp)
        #expect(machine.tick(now: 1.5).contains(.connectTCP) == false)
        // The TCP frame's own cookie, arriving after, is not followed back to TCP.
        #expect(machine.cookie(now: 0.6, over: .tcp) == [])
        #expect(machine.registered(now: 0.8, over: .udp).contains(.ping(echo: 1)))
        #expect(machine.transport == .udp)
    }

    @Test func startsOnTCPWhenUDPIsKnownBlocked() {
        let machine = RelayLinkMachine(now: 0, udpBlocked: true)
        #expect(machine.transport == .tcp)
        #expect(machine.initialActions == [.connectTCP, .register(.tcp)])
    }

    @Test func pingsEverySecondAndMeasuresRoundTrips() {
        var machine = RelayLinkMachine(now: 0, udpBlocked: false)
        let first = machine.registered(now: 0.05, over: .udp)
        #expect(first == [.closeTCP, .ping(echo: 1), .infoRequest, .discoveryQuery])
        #expect(machine.isUsable(now: 0.05))
        #expect(machine.pong(echo: 1, stillRegistered: true, now: 0.07) == [])
        #expect(abs(machine.rttSamples[0] - 0.02) < 1e-9)
        #expect(machine.tick(now: 0.5) == [])
        #expect(machine.tick(now: 1.06) == [.ping(echo: 2)])
        // An answer to nothing we sent moves the clock of liveness but adds no sample.
        #expect(machine.pong(echo: 99, stillRegistered: true, now: 1.1) == [])
        #expect(machine.rttSamples.count == 1)
    }

    @Test func aRegisterFramesAnswerIsARoundTripSample() {
        var machine = RelayLinkMachine(now: 0, udpBlocked: false)
        machine.answered(roundTrip: 0.3)
        machine.answered(roundTrip: nil)
        #expect(machine.rttSamples == [0.3])
        _ = machine.registered(now: 0.6, over: .udp)
        _ = machine.pong(echo: 1, stillRegistered: true, now: 0.9)
        #expect(machine.rttSamples.count == 2)
        #expect(abs(machine.rttSamples[1] - 0.3) < 1e-9)
    }

    @Test func aSilentRelayIsUnusableAfterDeadAfterAndRegisteredAgainOverUDP() {
        var machine = RelayLinkMachine(now: 0, udpBlocked: false)
        _ = machine.registered(now: 0, over: .udp)
        #expect(machine.tick(now: 1) == [.ping(echo: 2)])
        #expect(machine.tick(now: 2) == [.ping(echo: 3)])
        #expect(machine.isUsable(now: 2.4))
        #expect(!machine.isUsable(now: 2.5))
        #expect(machine.tick(now: 2.5) == [.register(.udp)])
        // UDP worked before, so the relay is presumed down rather than UDP blocked: no TCP.
        #expect(machine.tick(now: 3.0).contains(.connectTCP) == false)
        #expect(machine.transport == .udp)
    }

    /// Two pings lost in a row, or a pong late by less than twice the RTT, on a lossy WAN: the
    /// link stays usable; only a third overdue ping ends it.
    @Test func aRelayIsDeadOnlyAfterThreeOverduePings() {
        var machine = RelayLinkMachine(now: 0, udpBlocked: false)
        _ = machine.registered(now: 0, over: .udp)
        machine.active = true
        _ = machine.pong(echo: 1, stillRegistered: true, now: 0.25)
        #expect(machine.tick(now: 0.5) == [.ping(echo: 2)])
        #expect(machine.tick(now: 1) == [.ping(echo: 3)])
        #expect(machine.tick(now: 1.5) == [.ping(echo: 4)])
        // 1.5 s without a pong, two pings lost: past the active limit of time, not of pings.
        #expect(machine.isUsable(now: 1.75))
        #expect(machine.tick(now: 1.75) == [])
        // The third is overdue twice the RTT (0.5 s) after it left.
        #expect(machine.isUsable(now: 1.9375))
        #expect(!machine.isUsable(now: 2))
        #expect(machine.tick(now: 2) == [.register(.udp)])
    }

    /// 1.5 s after the last pong of an active link (the old limit), the last ping is out for less
    /// than twice the RTT: not overdue, so the link is kept, and its pong arrives in time.
    @Test func aPingOutForLessThanTwiceTheRoundTripIsNotOverdue() {
        var machine = RelayLinkMachine(now: 0, udpBlocked: false)
        _ = machine.registered(now: 0, over: .udp)
        machine.active = true
        _ = machine.pong(echo: 1, stillRegistered: true, now: 0.25)
        for (at, echo) in [(0.5, 2), (1, 3), (1.5, 4)] as [(Double, UInt64)] { #expect(machine.tick(now: at) == [.ping(echo: echo)]) }
        #expect(machine.isUsable(now: 1.875))
        #expect(machine.tick(now: 1.875) == [])
        _ = machine.pong(echo: 4, stillRegistered: true, now: 1.875)
        #expect(machine.isUsable(now: 2.5))
        #expect(machine.lastPong == 1.875)
    }

    @Test func relayRestartIsNoticedByAPongWithoutSession() {
        var machine = RelayLinkMachine(now: 0, udpBlocked: false)
        _ = machine.registered(now: 0, over: .udp)
        #expect(machine.pong(echo: 1, stillRegistered: false, now: 0.5) == [.register(.udp)])
        if case .registering = machine.phase {} else { Issue.record("expected registering, got \(machine.phase)") }
    }

    /// A retry's answer replaced the session (the relay registers every frame it takes): the
    /// "not registered" pong to a ping of the session before is stale, not a reason to register again.
    @Test func aNotRegisteredPongToAPingOfAnEarlierRegistrationIsIgnored() {
        var machine = RelayLinkMachine(now: 0, udpBlocked: false)
        #expect(machine.registered(now: 0.3, over: .udp).contains(.ping(echo: 1)))
        #expect(machine.registered(now: 0.55, over: .udp).contains(.ping(echo: 2)))
        #expect(machine.pong(echo: 1, stillRegistered: false, now: 0.6) == [])
        #expect(machine.isUsable(now: 0.6))
        #expect(machine.pong(echo: 2, stillRegistered: false, now: 0.85) == [.register(.udp)])
    }

    /// Once a round trip is known, register frames are not repeated within twice it.
    @Test func registerRetriesWaitTwiceTheKnownRoundTrip() {
        var machine = RelayLinkMachine(now: 0, udpBlocked: false)
        #expect(machine.tick(now: 0.25) == [.register(.udp)])
        machine.answered(roundTrip: 0.3)
        _ = machine.cookie(now: 0.3, over: .udp)
        #expect(abs((machine.registeringDeadline ?? 0) - 0.9) < 1e-9)
        #expect(machine.tick(now: 0.89) == [])
        #expect(machine.tick(now: 0.9) == [.register(.udp)])
    }

    @Test func errorsChangeWhatHappensNext() {
        var machine = RelayLinkMachine(now: 0, udpBlocked: false)
        #expect(machine.error(.staleTimestamp, now: 0.1) == [.register(.udp)])
        #expect(machine.error(.staleTimestamp, now: 0.2) == [])
        #expect(machine.error(.notAllowed, now: 1) == [.closeTCP])
        #expect(machine.phase == .refused(.notAllowed, retryAt: 301))
        #expect(machine.tick(now: 300) == [])
        #expect(machine.tick(now: 301) == [.register(.udp)])
        var full = RelayLinkMachine(now: 0, udpBlocked: true)
        #expect(full.error(.relayFull, now: 1) == [.closeTCP])
        #expect(full.phase == .refused(.relayFull, retryAt: 61))
    }

    @Test func aClosedTCPConnectionIsReplaced() {
        var machine = RelayLinkMachine(now: 0, udpBlocked: true)
        _ = machine.registered(now: 0.1, over: .tcp)
        #expect(machine.transportFailed(now: 5) == [.connectTCP, .register(.tcp)])
        #expect(!machine.isUsable(now: 5))
    }

    static func probes(_ actions: [RelayLinkMachine.Action]) -> [UInt64] {
        actions.compactMap { if case .probeUDP(let echo) = $0 { echo } else { nil } }
    }

    /// On TCP, the link asks now and then whether UDP works, and moves to UDP when it does.
    @Test func aTCPLinkProbesUDPAndMovesThereWhenItAnswers() {
        var machine = RelayLinkMachine(now: 0, udpBlocked: true)
        #expect(machine.registered(now: 0.1, over: .tcp) == [.ping(echo: 1), .infoRequest, .discoveryQuery])
        func probesAt(_ now: Double) -> [UInt64] {
            _ = machine.pong(echo: 0, stillRegistered: true, now: now)
            return Self.probes(machine.tick(now: now))
        }
        let probe = RelayLinkMachine.udpProbeEchoes
        #expect(probesAt(2.0) == [])
        #expect(probesAt(2.2) == [probe | 1])
        #expect(probesAt(7.0) == [])
        #expect(probesAt(7.3) == [probe | 2])
        // The probe's pong: a UDP registration, and no TCP pings until it is answered.
        #expect(machine.udpProbeAnswered(now: 7.4) == [.register(.udp)])
        #expect(machine.udpProbeAnswered(now: 7.45) == [])
        #expect(machine.tick(now: 8.0) == [])
        #expect(machine.isUsable(now: 8.0))
        #expect(machine.registered(now: 8.05, over: .udp) == [.closeTCP, .ping(echo: 4)])
        #expect(machine.transport == .udp)
        #expect(probesAt(60) == [])
        _ = machine.tick(now: 61)
        _ = machine.tick(now: 62)
        // Now that UDP has worked, a silent relay is registered with again over UDP, not TCP.
        #expect(machine.tick(now: 70) == [.register(.udp)])
    }

    @Test func anUnansweredMoveToUDPLeavesTheLinkOnTCP() {
        var machine = RelayLinkMachine(now: 0, udpBlocked: false)
        #expect(machine.tick(now: 0.3) == [.register(.tcp)])
        _ = machine.registered(now: 0.4, over: .tcp)
        _ = machine.pong(echo: 1, stillRegistered: true, now: 2.5)
        #expect(Self.probes(machine.tick(now: 2.5)) == [RelayLinkMachine.udpProbeEchoes | 1])
        #expect(machine.udpProbeAnswered(now: 2.6) == [.register(.udp)])
        #expect(machine.tick(now: 3.5) == [])
        // After `upgradeTimeout` the TCP pings resume; the relay has kept the TCP registration.
        #expect(machine.tick(now: 3.6) == [.ping(echo: 3)])
        #expect(machine.transport == .tcp)
        #expect(machine.isUsable(now: 3.6))
        // A registration answered over TCP leaves the transport as it is.
        #expect(machine.registered(now: 3.7, over: .tcp).contains(.closeTCP) == false)
        #expect(machine.transport == .tcp)
    }

    @Test func aLinkCarryingDataPingsFasterAndIsGivenUpSooner() {
        var machine = RelayLinkMachine(now: 0, udpBlocked: false)
        _ = machine.registered(now: 0, over: .udp)
        machine.active = true
        #expect(machine.tick(now: 0.4).isEmpty)
        #expect(machine.tick(now: 0.5) == [.ping(echo: 2)])
        #expect(machine.tick(now: 1.0) == [.ping(echo: 3)])
        #expect(machine.isUsable(now: 1.49))
        #expect(!machine.isUsable(now: 1.5))
        // Idle, the same silence is still within the slower cadence's limit.
        machine.active = false
        #expect(machine.isUsable(now: 1.5))
        #expect(!machine.isUsable(now: 2.5))
        machine.active = true
        #expect(machine.tick(now: 1.6) == [.register(.udp)])
    }

    @Test func aRelayRefusingConnectionsIsRetriedOnTheScheduleNotInALoop() {
        var machine = RelayLinkMachine(now: 0, udpBlocked: true)
        #expect(machine.initialActions == [.connectTCP, .register(.tcp)])
        // Refused at once: nothing until the first retry gap (0.25 s) has passed.
        #expect(machine.transportFailed(now: 0.001) == [])
        #expect(machine.transportFailed(now: 0.002) == [])
        #expect(machine.tick(now: 0.1) == [])
        #expect(machine.tick(now: 0.25) == [.register(.tcp)])
        #expect(machine.transportFailed(now: 0.251) == [])
        #expect(machine.tick(now: 0.5) == [])
        #expect(machine.tick(now: 0.75) == [.register(.tcp)])
        // From the third retry on, the engine is told to replace the connection.
        #expect(machine.tick(now: 1.75) == [.connectTCP, .register(.tcp)])
    }
}

@Suite struct StreamFrameReaderTests {
    @Test func reassemblesFramesSplitAcrossReads() throws {
        var reader = StreamFrameReader()
        let stream: [UInt8] = [0, 3, 1, 2, 3, 0, 2, 9, 8]
        var frames: [[UInt8]] = []
        for chunk in [Array(stream[0..<1]), Array(stream[1..<4]), Array(stream[4..<8]), Array(stream[8...])] {
            chunk.withUnsafeBytes { reader.append($0) }
            try reader.drain { frames.append(Array($0)) }
        }
        #expect(frames == [[1, 2, 3], [9, 8]])
        #expect(reader.pending == 0)
    }

    @Test func refusesZeroAndOversizedLengths() {
        for bad: [UInt8] in [[0, 0, 1], [0x08, 0x01]] {
            var reader = StreamFrameReader()
            bad.withUnsafeBytes { reader.append($0) }
            #expect(throws: StreamFrameReader.Failure.self) { try reader.drain { _ in } }
        }
    }
}
