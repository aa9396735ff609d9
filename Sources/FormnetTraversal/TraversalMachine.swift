import FormnetKit
/// The direct-path attempts for one peer, as a pure state machine: the agent feeds it the
/// candidates, both sides' NAT types, the clock and the peer's latest handshake time; it answers
/// with what to do. Time is seconds on any monotonic-enough scale (tests use a fake clock).
public struct TraversalMachine: Sendable, Equatable {
    public enum Reason: Sendable, Equatable {
        /// The NAT types rule a direct path out; no attempt was made.
        case natTypes(NatType, NatType)
        /// Every candidate was tried and none answered.
        case exhausted
        case noCandidates
        /// The connection cache says every candidate failed recently: relayed at once instead
        /// of replaying the slow path; background trials still look for a direct one.
        case failedRecently
        /// The direct path stopped carrying packets while connected (the agent's
        /// `ProbedPathWatch`): WireGuard sent and nothing came back, probes included.
        case pathLost
    }

    public enum Phase: Sendable, Equatable {
        case idle
        case attempting(index: Int, started: Double)
        case connected(Candidate, since: Double)
        case unreachable(Reason, retryAt: Double)
    }

    public enum Action: Sendable, Equatable {
        /// Point the peer at this endpoint and re-add it, so WireGuard's handshake rate limit
        /// (one initiation per 5 s per peer) does not delay the attempt.
        case attempt(Candidate)
        case connected(Candidate, after: Double)
        case failed(Candidate)
        case unreachable(Reason)
    }

    public struct Timing: Sendable, Equatable {
        /// How long one candidate gets to complete a handshake.
        public var attemptTimeout: Double = 1.0
        /// A connected peer with no handshake for this long is lost (WireGuard re-handshakes
        /// every 2 minutes on a live session with keepalives).
        public var staleAfter: Double = 180
        /// Waits before trying again after all candidates failed, growing per failed round.
        public var retryBackoff: [Double] = [5, 15, 30, 60]
        /// Wait before re-checking a pair whose NAT types ruled it out (NATs can change).
        public var natRetry: Double = 60
        public init() {}
    }

    public private(set) var phase: Phase = .idle

    /// When the attempt under way began; nil when none is.
    public var attemptStarted: Double? {
        if case .attempting(_, let started) = phase { started } else { nil }
    }
    public private(set) var candidates: [Candidate] = []
    private var failedRounds = 0
    /// When the phase became unreachable: a handshake after it is a path that works.
    private var unreachableSince = -Double.infinity
    private var natTypes: (NatType, NatType) = (.unknown, .unknown)
    public let timing: Timing

    public init(timing: Timing = Timing()) {
        self.timing = timing
    }

    public static func == (a: TraversalMachine, b: TraversalMachine) -> Bool {
        a.phase == b.phase && a.candidates == b.candidates && a.failedRounds == b.failedRounds
            && a.natTypes == b.natTypes && a.timing == b.timing
    }

    /// (Re)starts with ordered candidates. A connected peer whose endpoint is still among them
    /// stays connected: new information must not interrupt a working path. Nor does it restart
    /// an attempt whose candidate leads the new order (a NAT type learned a moment after the
    /// start, or a candidate list that changed behind it): the re-add would end a handshake under
    /// way, a round trip or more on a WAN (a double NAT 450 ms away lost one that way to the
    /// peer's NAT type arriving through the server).
    public mutating func start(candidates ordered: [Candidate], local: NatType, peer: NatType, now: Double) -> [Action] {
        let previous = candidates
        candidates = ordered
        natTypes = (local, peer)
        if case .connected(let current, _) = phase, ordered.contains(current) { return [] }
        if case .attempting(let index, let started) = phase, NatType.directPossible(local, peer) {
            if ordered == previous { return [] }
            if index < previous.count, ordered.first == previous[index] {
                phase = .attempting(index: 0, started: started)
                return []
            }
        }
        guard NatType.directPossible(local, peer) else {
            becomeUnreachable(.natTypes(local, peer), retryAt: now + timing.natRetry, now: now)
            return [.unreachable(.natTypes(local, peer))]
        }
        guard let first = ordered.first else {
            becomeUnreachable(.noCandidates, retryAt: now + timing.natRetry, now: now)
            return [.unreachable(.noCandidates)]
        }
        phase = .attempting(index: 0, started: now)
        return [.attempt(first)]
    }

    /// Starts as unreachable without an attempt (`Reason.failedRecently`): for a peer the agent
    /// can relay at once. The usual retry follows after the first back-off step.
    public mutating func startWithoutAttempt(candidates ordered: [Candidate], local: NatType, peer: NatType,
                                             now: Double) -> [Action] {
        candidates = ordered
        natTypes = (local, peer)
        becomeUnreachable(.failedRecently, retryAt: now + timing.retryBackoff[0], now: now)
        return [.unreachable(.failedRecently)]
    }

    /// Takes over a peer that already has a live session (the agent restarted while the
    /// interface stayed up): connected at `current`, so no attempt interrupts it.
    public mutating func adopt(_ current: Candidate, candidates ordered: [Candidate], local: NatType, peer: NatType,
                               lastHandshake: Double) {
        candidates = ordered.contains(current) ? ordered : [current] + ordered
        natTypes = (local, peer)
        phase = .connected(current, since: lastHandshake)
    }

    /// Advances with the clock and the peer's latest handshake (nil: none yet). `attemptTimeout`
    /// replaces the timing's when given: the planner stretches it to the path's round trip.
    public mutating func tick(now: Double, lastHandshake: Double?, attemptTimeout: Double? = nil) -> [Action] {
        switch phase {
        case .idle:
            return []
        case .attempting(let index, let started):
            let candidate = candidates[index]
            if let handshake = lastHandshake, handshake >= started {
                phase = .connected(candidate, since: handshake)
                failedRounds = 0
                return [.connected(candidate, after: max(0, handshake - started))]
            }
            guard now - started >= attemptTimeout ?? timing.attemptTimeout else { return [] }
            var actions: [Action] = [.failed(candidate)]
            if index + 1 < candidates.count {
                phase = .attempting(index: index + 1, started: now)
                actions.append(.attempt(candidates[index + 1]))
            } else {
                let wait = timing.retryBackoff[min(failedRounds, timing.retryBackoff.count - 1)]
                failedRounds += 1
                becomeUnreachable(.exhausted, retryAt: now + wait, now: now)
                actions.append(.unreachable(.exhausted))
            }
            return actions
        case .connected(_, let since):
            let latest = max(since, lastHandshake ?? since)
            guard now - latest >= timing.staleAfter else {
                if latest > since, case .connected(let c, _) = phase { phase = .connected(c, since: latest) }
                return []
            }
            return restart(now: now)
        case .unreachable(_, let retryAt):
            // A handshake since (the peer's initiation got through, or the keepalives sent to the
            // likeliest candidate completed one): the path works. Waiting for the retry, which
            // re-adds the peer and ends that session, left a pp <-> double-NAT pair on a WAN
            // unconnected on this side for 30 s after its last attempt timed out 0.15 s before
            // the peer's handshake completed.
            if let handshake = lastHandshake, handshake > unreachableSince, let candidate = candidates.first {
                phase = .connected(candidate, since: handshake)
                failedRounds = 0
                return [.connected(candidate, after: 0)]
            }
            guard now >= retryAt else { return [] }
            return restart(now: now)
        }
    }

    /// The connected path stopped carrying packets: unreachable now, not `staleAfter` after the
    /// last handshake (a cut path dropped all traffic for minutes), and tried again after the
    /// first backoff wait (a relayed peer is tried in the background instead). The candidate
    /// counts as failed, so the connection cache ranks it down.
    public mutating func pathLost(now: Double) -> [Action] {
        guard case .connected(let candidate, _) = phase else { return [] }
        becomeUnreachable(.pathLost, retryAt: now + timing.retryBackoff[0], now: now)
        return [.failed(candidate), .unreachable(.pathLost)]
    }

    /// Tries the candidates again now, whatever the phase: a relayed pair's background trial
    /// of a direct path (`DirectTrialSchedule`). Pairs whose NAT types rule direct out make no
    /// attempt, as in `start`.
    public mutating func retryDirect(now: Double) -> [Action] {
        restart(now: now)
    }

    /// Whether a direct attempt could succeed: NAT types that allow it, and a candidate to try.
    public var directPossible: Bool {
        NatType.directPossible(natTypes.0, natTypes.1) && !candidates.isEmpty
    }

    private mutating func becomeUnreachable(_ reason: Reason, retryAt: Double, now: Double) {
        phase = .unreachable(reason, retryAt: retryAt)
        unreachableSince = now
    }

    private mutating func restart(now: Double) -> [Action] {
        phase = .idle
        return start(candidates: candidates, local: natTypes.0, peer: natTypes.1, now: now)
    }
}
