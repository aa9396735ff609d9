/// The client's connection to one relay, as a pure state machine: when to register, over which
/// transport, when to ping, when the relay counts as gone. The engine feeds it the clock (seconds,
/// monotonic) and what the relay answered; it answers with what to send. See the client state
/// machine in docs/relay-protocol.md.
///
/// Differences from the document's minimum, and why:
/// - Pings every second while registered, not every 25 s: a relay that stops answering must be
///   noticed within the 3 s a relayed pair may be without its path, and 18 bytes a second is
///   nothing. The relay counts pings as activity, so they also keep the registration and the NAT
///   binding toward the relay alive.
/// - UDP first, TCP after `tcpFallbackAfter` without an answer (or at once when the caller
///   knows UDP is blocked): a member behind a UDP-blocking firewall gets a path within a few
///   hundred milliseconds instead of after the whole retry schedule.
/// - It never gives up: a relay that restarts is registered with again by the same retries.
public struct RelayLinkMachine: Sendable, Equatable {
    public enum Transport: String, Sendable, Codable {
        case udp, tcp
    }

    public enum Phase: Sendable, Equatable {
        case registering(since: Double, attempt: Int, lastSent: Double)
        case registered(since: Double)
        /// Refused (not allowed, full): left alone until `retryAt`.
        case refused(RelayErrorCode, retryAt: Double)
    }

    public enum Action: Sendable, Equatable {
        /// Open (or reopen) the TCP connection; later frames go over it.
        case connectTCP
        case closeTCP
        case register(Transport)
        case ping(echo: UInt64)
        case infoRequest
        case discoveryQuery
    }

    public struct Timing: Sendable, Equatable {
        /// Gaps between register frames while no answer comes; the last repeats.
        public var registerRetry: [Double] = [0.25, 0.5, 1, 2, 4, 8]
        public var tcpFallbackAfter: Double = 0.3
        public var pingInterval: Double = 1
        /// Without a pong for this long a registered relay is unusable and registered again.
        public var deadAfter: Double = 2.5
        /// The same while the link carries data (`active`): a relay that dies under traffic is
        /// noticed in 1–1.5 s rather than 1.5–2.5 s, for 2 pings a second on busy links only.
        public var activePingInterval: Double = 0.5
        public var activeDeadAfter: Double = 1.5
        public var infoInterval: Double = 60
        public var discoveryInterval: Double = 300
        public var notAllowedRetry: Double = 300
        public var fullRetry: Double = 60
        public init() {}
    }

    public let timing: Timing
    /// Whether the link carried data lately; the engine sets it.
    public var active = false
    public private(set) var phase: Phase
    public private(set) var transport: Transport
    /// Round-trip times in seconds, most recent last (bounded).
    public private(set) var rttSamples: [Double] = []
    public private(set) var lastPong: Double?
    /// Register frames sent without an answer since the last registration (for status).
    public private(set) var unanswered = 0
    private var pings: [UInt64: Double] = [:]
    private var nextEcho: UInt64 = 1
    private var lastPing: Double = -.infinity
    private var lastInfo: Double = -.infinity
    private var lastDiscovery: Double = -.infinity
    private var staleRetried = false
    /// A relay that answered over UDP once is not abandoned for TCP when it stops answering:
    /// it is more likely down than the network newly blocking UDP.
    private var udpWorked = false

    static let maxSamples = 16
    static let maxOutstandingPings = 8

    /// Starts registering: over TCP at once when `udpBlocked`, else over UDP.
    public init(now: Double, udpBlocked: Bool, timing: Timing = Timing()) {
        self.timing = timing
        transport = udpBlocked ? .tcp : .udp
        phase = .registering(since: now, attempt: 0, lastSent: now)
    }

    /// The first frames to send.
    public var initialActions: [Action] {
        transport == .tcp ? [.connectTCP, .register(.tcp)] : [.register(.udp)]
    }

    public func isUsable(now: Double) -> Bool {
        guard case .registered = phase, let lastPong else { return false }
        return now - lastPong < deadAfter
    }

    private var deadAfter: Double { active ? timing.activeDeadAfter : timing.deadAfter }
    private var pingInterval: Double { active ? timing.activePingInterval : timing.pingInterval }

    public mutating func tick(now: Double) -> [Action] {
        switch phase {
        case .refused(_, let retryAt):
            guard now >= retryAt else { return [] }
            return restart(now: now)
        case .registering(let since, let attempt, let lastSent):
            if transport == .udp, !udpWorked, now - since >= timing.tcpFallbackAfter {
                transport = .tcp
                phase = .registering(since: now, attempt: 0, lastSent: now)
                unanswered += 1
                return [.connectTCP, .register(.tcp)]
            }
            let gap = timing.registerRetry[min(attempt, timing.registerRetry.count - 1)]
            guard now - lastSent >= gap else { return [] }
            phase = .registering(since: since, attempt: attempt + 1, lastSent: now)
            unanswered += 1
            // A TCP connection that has not produced an answer is replaced rather than trusted.
            return transport == .tcp && attempt >= 2 ? [.connectTCP, .register(.tcp)] : [.register(transport)]
        case .registered:
            if let lastPong, now - lastPong >= deadAfter {
                return restart(now: now)
            }
            var actions: [Action] = []
            if now - lastPing >= pingInterval {
                lastPing = now
                let echo = nextEcho
                nextEcho &+= 1
                if pings.count >= Self.maxOutstandingPings, let oldest = pings.min(by: { $0.value < $1.value }) {
                    pings[oldest.key] = nil
                }
                pings[echo] = now
                actions.append(.ping(echo: echo))
            }
            if now - lastInfo >= timing.infoInterval {
                lastInfo = now
                actions.append(.infoRequest)
            }
            if now - lastDiscovery >= timing.discoveryInterval {
                lastDiscovery = now
                actions.append(.discoveryQuery)
            }
            return actions
        }
    }

    /// The relay accepted a registration (the protocol checked the box and the echo).
    public mutating func registered(now: Double) -> [Action] {
        phase = .registered(since: now)
        if transport == .udp { udpWorked = true }
        lastPong = now
        unanswered = 0
        staleRetried = false
        pings = [:]
        lastPing = -.infinity
        return tick(now: now)
    }

    /// A pong: an RTT sample when it answers one of ours; re-registers when the relay says the
    /// session is not valid any more (relay restart, idle expiry, NAT rebinding).
    public mutating func pong(echo: UInt64, stillRegistered: Bool, now: Double) -> [Action] {
        guard case .registered = phase else { return [] }
        guard stillRegistered else { return restart(now: now) }
        lastPong = now
        if let sent = pings.removeValue(forKey: echo) {
            rttSamples.append(now - sent)
            if rttSamples.count > Self.maxSamples { rttSamples.removeFirst(rttSamples.count - Self.maxSamples) }
        }
        return []
    }

    public mutating func error(_ code: RelayErrorCode, now: Double) -> [Action] {
        switch code {
        case .staleTimestamp:
            // The protocol has taken the relay's clock; one immediate retry, then the schedule.
            guard !staleRetried else { return [] }
            staleRetried = true
            return [.register(transport)]
        case .notAllowed:
            phase = .refused(code, retryAt: now + timing.notAllowedRetry)
            return transport == .tcp ? [.closeTCP] : []
        case .relayFull:
            phase = .refused(code, retryAt: now + timing.fullRetry)
            return transport == .tcp ? [.closeTCP] : []
        case .tooManyTunnels:
            return []
        }
    }

    /// The TCP connection closed or failed. A registered link registers again over a new one at
    /// once; a link still registering waits for its next retry (which opens a new connection), so
    /// that a relay refusing connections is not reconnected to in a busy loop.
    public mutating func transportFailed(now: Double) -> [Action] {
        guard transport == .tcp else { return [] }
        switch phase {
        case .refused, .registering:
            return []
        case .registered:
            phase = .registering(since: now, attempt: 0, lastSent: now)
            return [.connectTCP, .register(.tcp)]
        }
    }

    private mutating func restart(now: Double) -> [Action] {
        phase = .registering(since: now, attempt: 0, lastSent: now)
        staleRetried = false
        return transport == .tcp ? [.connectTCP, .register(.tcp)] : [.register(.udp)]
    }
}
