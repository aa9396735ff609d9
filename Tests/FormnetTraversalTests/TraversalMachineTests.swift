import FormnetKit
import Testing
import WireGuard
@testable import FormnetTraversal

@Suite struct TraversalMachineTests {
    let lan = Candidate(endpoint: Endpoint("192.168.1.7:51820")!, kind: .private)
    let reflexive = Candidate(endpoint: Endpoint("198.18.0.21:51820")!, kind: .serverReflexive)

    @Test func connectsOnTheFirstCandidateWhenItAnswers() {
        var m = TraversalMachine()
        #expect(m.start(candidates: [reflexive, lan], local: .portPreserving, peer: .portPreserving, now: 100) == [.attempt(reflexive)])
        #expect(m.tick(now: 100.3, lastHandshake: nil) == [])
        // A handshake from before the attempt (a stale session) does not count.
        #expect(m.tick(now: 100.4, lastHandshake: 99) == [])
        #expect(m.tick(now: 100.5, lastHandshake: 100.25) == [.connected(reflexive, after: 0.25)])
        #expect(m.phase == .connected(reflexive, since: 100.25))
    }

    @Test func adoptedLiveSessionIsKeptAndGoesStaleLikeAnyOther() {
        var m = TraversalMachine()
        m.adopt(reflexive, candidates: [lan, reflexive], local: .portPreserving, peer: .portPreserving, lastHandshake: 90)
        #expect(m.phase == .connected(reflexive, since: 90))
        #expect(m.start(candidates: [lan, reflexive], local: .portPreserving, peer: .portPreserving, now: 100) == [])
        #expect(m.tick(now: 200, lastHandshake: 90) == [])
        #expect(m.tick(now: 271, lastHandshake: 90) == [.attempt(lan)])
    }

    /// A connected path that stops carrying packets is unreachable at once, not 180 s after its
    /// last handshake, and tried again after the first backoff wait.
    @Test func aLostPathIsUnreachableAtOnceAndRetriedAfterTheFirstWait() {
        var m = TraversalMachine()
        #expect(m.pathLost(now: 99) == [])
        _ = m.start(candidates: [reflexive, lan], local: .portPreserving, peer: .portPreserving, now: 100)
        _ = m.tick(now: 100.5, lastHandshake: 100.25)
        #expect(m.pathLost(now: 130) == [.failed(reflexive), .unreachable(.pathLost)])
        #expect(m.phase == .unreachable(.pathLost, retryAt: 130 + m.timing.retryBackoff[0]))
        #expect(m.tick(now: 130 + m.timing.retryBackoff[0], lastHandshake: 100.25) == [.attempt(reflexive)])
    }

    @Test func movesToTheNextCandidateAfterTheAttemptTimeout() {
        var m = TraversalMachine()
        _ = m.start(candidates: [lan, reflexive], local: .portPreserving, peer: .portPreserving, now: 0)
        #expect(m.tick(now: 0.99, lastHandshake: nil) == [])
        #expect(m.tick(now: 1.0, lastHandshake: nil) == [.failed(lan), .attempt(reflexive)])
        #expect(m.tick(now: 1.75, lastHandshake: 1.5) == [.connected(reflexive, after: 0.5)])
    }

    @Test func exhaustedCandidatesBackOffThenRetry() {
        var timing = TraversalMachine.Timing()
        timing.retryBackoff = [5, 15]
        var m = TraversalMachine(timing: timing)
        _ = m.start(candidates: [reflexive], local: .endpointIndependent, peer: .portPreserving, now: 0)
        #expect(m.tick(now: 1, lastHandshake: nil) == [.failed(reflexive), .unreachable(.exhausted)])
        #expect(m.phase == .unreachable(.exhausted, retryAt: 6))
        #expect(m.tick(now: 5.9, lastHandshake: nil) == [])
        #expect(m.tick(now: 6, lastHandshake: nil) == [.attempt(reflexive)])
        #expect(m.tick(now: 7, lastHandshake: nil) == [.failed(reflexive), .unreachable(.exhausted)])
        // The second failed round waits longer, and the wait stops growing at the last step.
        #expect(m.phase == .unreachable(.exhausted, retryAt: 22))
        _ = m.tick(now: 22, lastHandshake: nil)
        _ = m.tick(now: 23, lastHandshake: nil)
        #expect(m.phase == .unreachable(.exhausted, retryAt: 38))
    }

    /// The last candidate timed out a moment before the peer's handshake completed: a handshake
    /// while unreachable is a working path, taken at once rather than ended by the retry's re-add.
    @Test func aHandshakeWhileUnreachableConnects() {
        var m = TraversalMachine()
        _ = m.start(candidates: [reflexive], local: .portPreserving, peer: .portPreserving, now: 0)
        #expect(m.tick(now: 1, lastHandshake: nil) == [.failed(reflexive), .unreachable(.exhausted)])
        // The handshake before the phase began is not one.
        #expect(m.tick(now: 1.1, lastHandshake: 0.9) == [])
        #expect(m.tick(now: 1.2, lastHandshake: 1.15) == [.connected(reflexive, after: 0)])
        #expect(m.phase == .connected(reflexive, since: 1.15))
    }

    @Test(arguments: [
        (NatType.symmetric, NatType.portPreserving),
        (.portPreserving, .udpBlocked),
        (.symmetric, .symmetric),
        (.udpBlocked, .open),
    ])
    func hopelessNatPairsMakeNoAttempt(local: NatType, peer: NatType) {
        var m = TraversalMachine()
        #expect(m.start(candidates: [reflexive], local: local, peer: peer, now: 0) == [.unreachable(.natTypes(local, peer))])
        #expect(m.tick(now: 59, lastHandshake: nil) == [])
    }

    @Test func symmetricReachesAnOpenPeer() {
        var m = TraversalMachine()
        #expect(m.start(candidates: [reflexive], local: .symmetric, peer: .open, now: 0) == [.attempt(reflexive)])
    }

    @Test func aLostConnectionStartsOver() {
        var m = TraversalMachine()
        _ = m.start(candidates: [reflexive], local: .portPreserving, peer: .portPreserving, now: 0)
        _ = m.tick(now: 0.1, lastHandshake: 0.05)
        // Handshakes keep coming: still connected, and the staleness clock follows the newest.
        #expect(m.tick(now: 170, lastHandshake: 120) == [])
        #expect(m.tick(now: 299, lastHandshake: 120) == [])
        // Then they stop for staleAfter: the machine tries again from the top.
        #expect(m.tick(now: 300, lastHandshake: 120) == [.attempt(reflexive)])
    }

    @Test func newInformationDoesNotInterruptAWorkingPath() {
        var m = TraversalMachine()
        _ = m.start(candidates: [reflexive], local: .portPreserving, peer: .portPreserving, now: 0)
        _ = m.tick(now: 0.1, lastHandshake: 0.05)
        #expect(m.start(candidates: [lan, reflexive], local: .portPreserving, peer: .portPreserving, now: 5) == [])
        // The working endpoint disappeared from the peer's candidates: attempts start again.
        #expect(m.start(candidates: [lan], local: .portPreserving, peer: .portPreserving, now: 6) == [.attempt(lan)])
    }

    /// Both NAT types arrive a moment after the first attempt began (each end's STUN probe, then
    /// the peer's report through the server): the attempt goes on, its handshake not cut short.
    @Test func aNatTypeLearnedDuringAnAttemptThroughTheSameCandidatesDoesNotRestartIt() {
        var m = TraversalMachine()
        #expect(m.start(candidates: [lan, reflexive], local: .unknown, peer: .unknown, now: 0) == [.attempt(lan)])
        #expect(m.start(candidates: [lan, reflexive], local: .portPreserving, peer: .unknown, now: 0.3) == [])
        #expect(m.start(candidates: [lan, reflexive], local: .portPreserving, peer: .portPreserving, now: 0.5) == [])
        #expect(m.phase == .attempting(index: 0, started: 0))
        #expect(m.tick(now: 0.6, lastHandshake: 0.55) == [.connected(lan, after: 0.55)])
        // New candidates start over, and NAT types that rule a direct path out end the attempt.
        var n = TraversalMachine()
        _ = n.start(candidates: [lan], local: .unknown, peer: .unknown, now: 0)
        #expect(n.start(candidates: [reflexive, lan], local: .unknown, peer: .unknown, now: 0.2) == [.attempt(reflexive)])
        #expect(n.start(candidates: [reflexive, lan], local: .symmetric, peer: .symmetric, now: 0.4)
            == [.unreachable(.natTypes(.symmetric, .symmetric))])
    }

    /// The candidates change behind the one under attempt, which leads the new order: the attempt
    /// goes on from where it started, then the rest in the new order.
    @Test func anAttemptWhoseCandidateLeadsTheNewOrderGoesOn() {
        let third = Candidate(endpoint: Endpoint("203.0.113.9:51820")!, kind: .serverReflexive)
        var m = TraversalMachine()
        #expect(m.start(candidates: [reflexive, lan], local: .unknown, peer: .unknown, now: 0) == [.attempt(reflexive)])
        #expect(m.start(candidates: [reflexive, third, lan], local: .portPreserving, peer: .portPreserving, now: 0.6) == [])
        #expect(m.phase == .attempting(index: 0, started: 0))
        #expect(m.tick(now: 1.0, lastHandshake: nil) == [.failed(reflexive), .attempt(third)])
        // The second candidate under attempt, and it leads a new order: it goes on too.
        #expect(m.start(candidates: [third, reflexive], local: .portPreserving, peer: .portPreserving, now: 1.2) == [])
        #expect(m.phase == .attempting(index: 0, started: 1.0))
        // The same list again while its second candidate is under attempt: that attempt goes on.
        #expect(m.tick(now: 2.2, lastHandshake: nil) == [.failed(third), .attempt(reflexive)])
        #expect(m.start(candidates: [third, reflexive], local: .portPreserving, peer: .portPreserving, now: 2.4) == [])
        #expect(m.phase == .attempting(index: 1, started: 2.2))
    }

    @Test func noCandidatesIsReported() {
        var m = TraversalMachine()
        #expect(m.start(candidates: [], local: .portPreserving, peer: .portPreserving, now: 0) == [.unreachable(.noCandidates)])
    }
}
