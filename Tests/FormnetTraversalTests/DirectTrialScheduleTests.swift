import Testing
import WireGuard
@testable import FormnetTraversal

@Suite struct DirectTrialScheduleTests {
    static func key(_ n: UInt8) -> PublicKey { PublicKey(bytes: [UInt8](repeating: n, count: 32))! }
    let a = key(1), b = key(2), c = key(3)

    @Test func bothHostsOfAPairComputeTheSameSlots() {
        #expect(DirectTrialSchedule.offset(a, b) == DirectTrialSchedule.offset(b, a))
        for now in stride(from: 1_700_000_000.0, to: 1_700_000_300, by: 7.3) {
            #expect(DirectTrialSchedule.slot(now: now, a, b) == DirectTrialSchedule.slot(now: now, b, a))
        }
    }

    @Test func offsetsStayInThePeriodAndSpreadPairs() {
        let offsets = (1...40).map { DirectTrialSchedule.offset(Self.key(0), Self.key(UInt8($0))) }
        #expect(offsets.allSatisfy { $0 >= 0 && $0 < DirectTrialSchedule.period })
        #expect(Set(offsets.map { Int($0) }).count > 20)
        #expect(DirectTrialSchedule.offset(a, b) != DirectTrialSchedule.offset(a, c))
    }

    @Test func slotsChangeOncePerPeriodAtTheOffset() {
        let offset = DirectTrialSchedule.offset(a, b)
        let start = 1_700_000_040.0 + offset
        let base = DirectTrialSchedule.slot(now: start, a, b)
        #expect(DirectTrialSchedule.slot(now: start - 0.001, a, b) == base - 1)
        #expect(DirectTrialSchedule.slot(now: start + 59.999, a, b) == base)
        #expect(DirectTrialSchedule.slot(now: start + 60, a, b) == base + 1)
        #expect(abs(DirectTrialSchedule.untilNextSlot(now: start + 10, a, b) - 50) < 1e-6)
    }

    @Test func failedTrialsSpaceTheNextOnesOutUpToSixteenSlots() {
        #expect((100..<104).filter { DirectTrialSchedule.tries(slot: $0, afterFailures: 0) } == [100, 101, 102, 103])
        #expect((100..<104).filter { DirectTrialSchedule.tries(slot: $0, afterFailures: 2) } == [100, 101, 102, 103])
        #expect((100..<104).filter { DirectTrialSchedule.tries(slot: $0, afterFailures: 3) } == [100, 102])
        #expect((100..<108).filter { DirectTrialSchedule.tries(slot: $0, afterFailures: 4) } == [100, 104])
        #expect((0..<64).filter { DirectTrialSchedule.tries(slot: $0, afterFailures: 30) } == [0, 16, 32, 48])
        #expect(DirectTrialSchedule.tries(slot: -16, afterFailures: 6))
        #expect(!DirectTrialSchedule.tries(slot: -3, afterFailures: 6))
    }

    @Test func aPairRelayedJustBeforeASlotWaitsForTheOneAfter() {
        let start = 1_700_000_040.0 + DirectTrialSchedule.offset(a, b)
        let base = DirectTrialSchedule.slot(now: start, a, b)
        #expect(DirectTrialSchedule.firstTrialSlot(relayedAt: start + 1, a, b) == base + 1)
        #expect(DirectTrialSchedule.firstTrialSlot(relayedAt: start + 50, a, b) == base + 2)
    }
}

@Suite struct RetryDirectTests {
    let x = Candidate(endpoint: Endpoint("198.51.100.1:51820")!, kind: .serverReflexive)

    @Test func aRelayedPeerTriesItsCandidatesAgainWhateverItsPhase() {
        var machine = TraversalMachine()
        _ = machine.start(candidates: [x], local: .portPreserving, peer: .portPreserving, now: 0)
        _ = machine.tick(now: 0.5, lastHandshake: 0.2)
        #expect(machine.phase == .connected(x, since: 0.2))
        #expect(machine.directPossible)
        #expect(machine.retryDirect(now: 100) == [.attempt(x)])
        #expect(machine.phase == .attempting(index: 0, started: 100))
    }

    @Test func pairsTheNatTypesRuleOutMakeNoTrial() {
        var machine = TraversalMachine()
        _ = machine.start(candidates: [x], local: .symmetric, peer: .symmetric, now: 0)
        #expect(!machine.directPossible)
        #expect(machine.retryDirect(now: 100) == [.unreachable(.natTypes(.symmetric, .symmetric))])
        var empty = TraversalMachine()
        _ = empty.start(candidates: [], local: .portPreserving, peer: .portPreserving, now: 0)
        #expect(!empty.directPossible)
    }
}
