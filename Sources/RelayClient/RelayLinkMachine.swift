import RelayWire

/// The client's connection to one relay, as a pure state machine: when to register, over which
/// transport, when to ping, when the relay counts as gone. The engine feeds it the clock (seconds,
/// monotonic) and what the relay answered; it answers with what to send. See the client state
/// machine in docs/relay-protocol.md.
///
/// Differences from the document's minimum, and why:
/// - Pings every second while registered, not every 25 s: a relay that stops answering must be
///   noticed within the 3 s a relayed pair may be without its path (a link carrying data, which
///   pings twice a second, notices in about 1.5 s + 2 x RTT; an idle one in about 3 s + 2 x RTT),
///   and 18 bytes a second is nothing. The relay counts pings as activity, so they also keep the
///   registration and the NAT binding toward the relay alive.
/// - UDP first, TCP after `tcpFallbackAfter` without an answer (or at once when the caller
///   knows UDP is blocked): a member behind a UDP-blocking firewall gets a path within a few
///   hundred milliseconds instead of after the whole retry schedule. The TCP connection is
///   opened with the first UDP register and closed when UDP answers, so that the fallback
///   registers on a connection already made: a round trip to the relay sooner (the WAN lab's
///   UDP-blocked members missed their first-packet goal by about that). Once that connection is
///   up, the fallback comes half its round trip later if that is sooner (`tcpConnected`).
/// - It never gives up: a relay that restarts is registered with again by the same retries.
/// - A link on TCP keeps asking whether UDP works (a session-0 ping over UDP, `udpRetry`) and
///   moves to UDP when it does: a member whose first UDP answer came late, or whose network
///   stopped blocking UDP, would otherwise stay on TCP, be taken for UDP-blocked, and get no
///   channels. The probe leaves the TCP registration alone; only a UDP pong starts the move,
///   which is a UDP registration that replaces the TCP one at the relay.
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
        /// A ping with session 0 over UDP while the link is on TCP (`udpProbeEchoes`).
        case probeUDP(echo: UInt64)
        case infoRequest
        case discoveryQuery
    }

    public struct Timing: Sendable, Equatable {
        /// Gaps between register frames while no answer comes; the last repeats.
        public var registerRetry: [Double] = [0.25, 0.5, 1, 2, 4, 8]
        public var tcpFallbackAfter: Double = 0.3
        /// Once the connection opened ahead is up, UDP gets half the connection's round trip
        /// more, and at least this, before the link falls back (`tcpConnected`).
        public var tcpAheadMargin: Double = 0.05
        public var pingInterval: Double = 1
        /// Without a pong for this long a registered relay is unusable and registered again, once
        /// `deadPings` pings are overdue too.
        public var deadAfter: Double = 2.5
        /// The same while the link carries data (`active`): a relay that dies under traffic is
        /// noticed about a second sooner, for 2 pings a second on busy links only.
        public var activePingInterval: Double = 0.5
        public var activeDeadAfter: Double = 1.5
        /// Pings sent since the last pong and unanswered for twice the link's RTT (at least
        /// `pongWaitMinimum`) before the relay counts as dead. Time alone gave it up after two
        /// lost pings, or one lost and one a little late: at 5% loss that is every few minutes,
        /// and on the WAN lab a member's home moved away from a relay that was fine, for good.
        public var deadPings = 3
        public var pongWaitMinimum: Double = 0.25
        public var infoInterval: Double = 60
        public var discoveryInterval: Double = 300
        public var notAllowedRetry: Double = 300
        public var fullRetry: Double = 60
        /// Gaps between UDP probes while registered over TCP; the last repeats.
        public var udpRetry: [Double] = [2, 5, 10, 30]
        /// A UDP registration that replaces the TCP one is given this long to be answered.
        public var upgradeTimeout: Double = 1
        public init() {}
    }

    /// Echo values of UDP probes have the top bit set, so that their pongs are told from the
    /// answers to the link's own pings (`RelayClientProtocol` returns them as `udpProbeAnswered`).
    public static let udpProbeEchoes: UInt64 = 1 << 63

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
    private var udpProbes = 0
    private var lastUDPProbe: Double = -.infinity
    /// When the UDP registration that moves a TCP link to UDP was sent.
    private var upgradeSent: Double?
    /// A TCP connection is open ahead of the fallback (`initialActions`).
    private var tcpAhead: Bool
    /// When the link falls back to TCP, if sooner than `tcpFallbackAfter` (`tcpConnected`).
    private var fallbackAt: Double?
    /// The caller knew UDP was blocked: the link never asks over UDP while it registers.
    private let startedOnTCP: Bool

    static let maxSamples = 16
    static let maxOutstandingPings = 8

    /// Starts registering: over TCP at once when `udpBlocked`, else over UDP.
    public init(now: Double, udpBlocked: Bool, timing: Timing = Timing()) {
        self.timing = timing
        transport = udpBlocked ? .tcp : .udp
        tcpAhead = !udpBlocked
        startedOnTCP = udpBlocked
        phase = .registering(since: now, attempt: 0, lastSent: now)
    }

    /// The first frames to send, and the TCP connection to open: registered on at once when UDP
    /// is known to be blocked, else only if UDP has not answered by `tcpFallbackAfter`.
    public var initialActions: [Action] {
        transport == .tcp ? [.connectTCP, .register(.tcp)] : [.register(.udp), .connectTCP]
    }

    /// The connection opened ahead is up and UDP has not answered. The UDP register left with
    /// the connection's first segment and its answer takes about the same round trip, so UDP is
    /// given half that round trip more: a UDP-blocked member 75 ms from its relay falls back
    /// after 0.13 s instead of `tcpFallbackAfter` (the WAN lab's UDP-blocked members missed
    /// their first-packet goal by less than the difference). A UDP answer that comes later
    /// still takes the link back (`cookie`).
    public mutating func tcpConnected(now: Double) {
        guard tcpAhead, transport == .udp, !udpWorked, case .registering(let since, _, _) = phase else { return }
        fallbackAt = min(since + timing.tcpFallbackAfter, now + max(timing.tcpAheadMargin, (now - since) / 2))
    }

    private func fallbackDue(since: Double) -> Double {
        fallbackAt ?? since + timing.tcpFallbackAfter
    }

    /// Closes the connection opened ahead: UDP answered.
    private mutating func closeTCPAhead() -> [Action] {
        fallbackAt = nil
        guard tcpAhead else { return [] }
        tcpAhead = false
        return transport == .udp ? [.closeTCP] : []
    }

    /// When `tick` next sends something while registering (the fallback to TCP, the next
    /// register frame), for the engine to wake then rather than at its next poll timeout: on a
    /// WAN a UDP-blocked member's registration came up to 100 ms after its fallback was due. Nil
    /// once registered or refused, whose ticks are paced in seconds.
    public var registeringDeadline: Double? {
        guard case .registering(let since, let attempt, let lastSent) = phase else { return nil }
        let retry = lastSent + registerGap(attempt: attempt)
        guard transport == .udp, !udpWorked else { return retry }
        return min(retry, fallbackDue(since: since))
    }

    public func isUsable(now: Double) -> Bool {
        guard case .registered = phase else { return false }
        return !isSilent(now: now)
    }

    /// No pong for `deadAfter`, and `deadPings` pings sent since then overdue.
    private func isSilent(now: Double) -> Bool {
        guard let lastPong else { return true }
        guard now - lastPong >= deadAfter else { return false }
        let wait = pongWait
        return pings.values.count { $0 >= lastPong && now - $0 >= wait } >= timing.deadPings
    }

    /// The schedule's gap, and at least twice the round trip once one is known: the relay
    /// registers each frame it takes under a new session, so a retry that leaves before the
    /// answer to the frame before it replaces the session that answer brings.
    private func registerGap(attempt: Int) -> Double {
        let scheduled = timing.registerRetry[min(attempt, timing.registerRetry.count - 1)]
        return rttSamples.isEmpty ? scheduled : max(scheduled, pongWait)
    }

    /// Twice the smoothed round trip: a late pong is not a lost one.
    private var pongWait: Double {
        max(timing.pongWaitMinimum, 2 * (Self.smoothedRTT(rttSamples) ?? 0))
    }

    /// The median of the last `window` samples (nil without any): one late or early pong does
    /// not move it. The agent's relay ranking reads RTTs through it too.
    public static func smoothedRTT(_ samples: [Double], window: Int = 3) -> Double? {
        guard !samples.isEmpty else { return nil }
        let recent = samples.suffix(window).sorted()
        let middle = recent.count / 2
        return recent.count % 2 == 1 ? recent[middle] : (recent[middle - 1] + recent[middle]) / 2
    }

    private var deadAfter: Double { active ? timing.activeDeadAfter : timing.deadAfter }
    private var pingInterval: Double { active ? timing.activePingInterval : timing.pingInterval }

    public mutating func tick(now: Double) -> [Action] {
        switch phase {
        case .refused(_, let retryAt):
            guard now >= retryAt else { return [] }
            return restart(now: now)
        case .registering(let since, let attempt, let lastSent):
            if transport == .udp, !udpWorked, now >= fallbackDue(since: since) {
                transport = .tcp
                phase = .registering(since: now, attempt: 0, lastSent: now)
                unanswered += 1
                fallbackAt = nil
                defer { tcpAhead = false }
                return tcpAhead ? [.register(.tcp)] : [.connectTCP, .register(.tcp)]
            }
            guard now - lastSent >= registerGap(attempt: attempt) else { return [] }
            phase = .registering(since: since, attempt: attempt + 1, lastSent: now)
            unanswered += 1
            // A TCP connection that has not produced an answer is replaced rather than trusted.
            return transport == .tcp && attempt >= 2 ? [.connectTCP, .register(.tcp)] : [.register(transport)]
        case .registered:
            if isSilent(now: now) {
                return restart(now: now)
            }
            var actions: [Action] = []
            if let sent = upgradeSent {
                // No pings over TCP meanwhile: once the relay has taken the UDP registration, it
                // answers them "not registered", and the link would register over TCP again.
                guard now - sent >= timing.upgradeTimeout else { return [] }
                upgradeSent = nil
            }
            if transport == .tcp, now - lastUDPProbe >= timing.udpRetry[min(udpProbes, timing.udpRetry.count - 1)] {
                lastUDPProbe = now
                udpProbes += 1
                actions.append(.probeUDP(echo: Self.udpProbeEchoes | UInt64(udpProbes)))
            }
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

    /// The round trip of a register frame to its answer (`RelayClientProtocol.answerRoundTrip`):
    /// a sample like a pong's. The agent's first direct attempts are paced by the round trip to
    /// the nearest relay, and before this their re-sends left every 0.4 s, each ending the
    /// handshake of the one before on pairs 450 ms apart.
    public mutating func answered(roundTrip: Double?) {
        guard let roundTrip else { return }
        addSample(roundTrip)
    }

    private mutating func addSample(_ rtt: Double) {
        rttSamples.append(rtt)
        if rttSamples.count > Self.maxSamples { rttSamples.removeFirst(rttSamples.count - Self.maxSamples) }
    }

    /// The relay accepted a registration (the protocol checked the box and the echo), and the
    /// answer came `over` this transport.
    public mutating func registered(now: Double, over arrived: Transport) -> [Action] {
        var actions: [Action] = arrived == .udp ? closeTCPAhead() : []
        if arrived == .udp, transport == .tcp {
            transport = .udp
            actions.append(.closeTCP)
        }
        upgradeSent = nil
        phase = .registered(since: now)
        if transport == .udp { udpWorked = true }
        if case .tcp = transport, udpProbes == 0 { lastUDPProbe = now }
        lastPong = now
        unanswered = 0
        staleRetried = false
        pings = [:]
        lastPing = -.infinity
        return actions + tick(now: now)
    }

    /// The relay asked a register frame sent `over` this transport to prove its address: the
    /// protocol holds the cookie now, so register again at once. An answer over UDP also shows
    /// that UDP works, so it is not given up for TCP while the second frame is on its way.
    public mutating func cookie(now: Double, over arrived: Transport) -> [Action] {
        var closing: [Action] = []
        if arrived == .udp {
            udpWorked = true
            closing = closeTCPAhead()
        }
        switch phase {
        case .registering(let since, let attempt, _):
            if arrived == .udp, transport == .tcp {
                // The UDP answer came after the fallback: a relay far away or a UDP packet
                // lost, not a network that blocks UDP. Back to UDP at once, rather than through the
                // TCP registration and a UDP probe seconds later (and no channels meanwhile).
                transport = .udp
                phase = .registering(since: since, attempt: attempt, lastSent: now)
                return [.closeTCP, .register(.udp)]
            }
            guard arrived == transport else { return closing }
            phase = .registering(since: since, attempt: attempt, lastSent: now)
            return closing + [.register(arrived)]
        case .registered: return arrived == .udp && upgradeSent != nil ? [.register(.udp)] : []
        case .refused: return []
        }
    }

    /// A pong to a UDP probe: UDP reaches the relay both ways, so a TCP link registers over UDP.
    public mutating func udpProbeAnswered(now: Double) -> [Action] {
        guard transport == .tcp, case .registered = phase, upgradeSent == nil else { return [] }
        upgradeSent = now
        lastPong = now
        return [.register(.udp)]
    }

    /// A pong: an RTT sample when it answers one of ours; re-registers when the relay says the
    /// session is not valid any more (relay restart, idle expiry, NAT rebinding).
    public mutating func pong(echo: UInt64, stillRegistered: Bool, now: Double) -> [Action] {
        guard case .registered = phase else { return [] }
        guard let sent = pings.removeValue(forKey: echo) else {
            // Not a ping of this registration: "not registered" may be about the session a
            // later frame's answer replaced (a retry that crossed the first answer), and
            // registering again for it looped on the WAN lab, eight times in two seconds.
            if stillRegistered { lastPong = now }
            return []
        }
        guard stillRegistered else { return restart(now: now) }
        lastPong = now
        addSample(now - sent)
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
            return transport == .tcp ? [.closeTCP] : closeTCPAhead()
        case .relayFull:
            phase = .refused(code, retryAt: now + timing.fullRetry)
            return transport == .tcp ? [.closeTCP] : closeTCPAhead()
        case .tooManyTunnels:
            return []
        }
    }

    /// The TCP connection closed or failed. A registered link registers again over a new one at
    /// once; a link still registering waits for its next retry (which opens a new connection), so
    /// that a relay refusing connections is not reconnected to in a busy loop.
    public mutating func transportFailed(now: Double) -> [Action] {
        guard transport == .tcp else {
            // The connection opened ahead failed: the fallback opens a new one, when it is due.
            tcpAhead = false
            fallbackAt = nil
            return []
        }
        switch phase {
        case .refused:
            return []
        case .registering:
            // The fallback's connection failed too: the UDP answers may have been lost rather
            // than blocked, and a relay that takes no TCP (or none through this network) left
            // the link registering over TCP for good (the WAN lab's relay-selection once saw a
            // relay unreachable all run). Asked again over UDP, an answer takes it back (`cookie`).
            return startedOnTCP ? [] : [.register(.udp)]
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
