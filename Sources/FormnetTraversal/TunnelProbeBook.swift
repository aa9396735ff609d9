import WireGuard

/// The bookkeeping of RTT and loss probes through the tunnel (ICMP echo to a peer's tunnel IP):
/// when each peer is due, which probes are outstanding, and what each one came to. Pure, so
/// that the timing rules are tested with a fake clock; `TunnelProber` does the sending.
///
/// A probe measures the path WireGuard uses at that moment, so its outcome is filed under the
/// endpoint the peer had when it was sent. Loss counts only for a peer that has answered within
/// `answerMemory`: a host that drops ICMP would otherwise look like a lossy path. Answering is
/// the peer's, not the path's, so it is remembered while the peer is not a target: a relayed
/// peer leaves the targets while it is on the relay's proxy, and when it came back onto a channel
/// (that a firewall dropped) its lost probes counted for nothing, and the channel was left only
/// after 30 s of silence.
///
/// An urgent target (the agent suspects its direct path: WireGuard sent data and nothing came
/// back) is probed every `urgentInterval` with up to `urgentOutstanding` probes out, each lost
/// after `urgentTimeout`, so that a dead path is known within seconds (`ProbedPathWatch`).
public struct TunnelProbeBook: Sendable {
    public struct Outcome: Equatable, Sendable {
        public var peer: PublicKey
        public var endpoint: Endpoint
        /// Seconds; nil when lost.
        public var rtt: Double?
        public var lost: Bool { rtt == nil }

        public init(peer: PublicKey, endpoint: Endpoint, rtt: Double?) {
            self.peer = peer
            self.endpoint = endpoint
            self.rtt = rtt
        }
    }

    public struct Target: Equatable, Sendable {
        public var peer: PublicKey
        public var address: IPAddress
        public var endpoint: Endpoint
        public var urgent: Bool

        public init(peer: PublicKey, address: IPAddress, endpoint: Endpoint, urgent: Bool = false) {
            self.peer = peer
            self.address = address
            self.endpoint = endpoint
            self.urgent = urgent
        }
    }

    struct Outstanding {
        var target: Target
        var sentAt: Double
        var timeout: Double
    }

    public static let urgentInterval = 0.3
    public static let urgentOutstanding = 3
    /// Three round trips of a 300 ms path.
    public static let urgentTimeout = 1.0

    public let interval: Double
    public let timeout: Double
    private var outstanding: [UInt16: Outstanding] = [:]
    private var lastSent: [PublicKey: Double] = [:]
    /// When each peer last answered; forgotten after `answerMemory`, which bounds it.
    private var answeredAt: [PublicKey: Double] = [:]
    public static let answerMemory = 600.0
    private var nextSequence: UInt16 = 0

    public init(interval: Double = 10, timeout: Double = 2) {
        self.interval = interval
        self.timeout = timeout
    }

    /// The targets to probe now, each with the sequence number to send; recorded as sent.
    public mutating func due(_ targets: [Target], now: Double) -> [(Target, UInt16)] {
        var probes: [(Target, UInt16)] = []
        for target in targets where lastSent[target.peer].map({ now - $0 >= (target.urgent ? Self.urgentInterval : interval) }) ?? true {
            // One outstanding probe per peer (a few when urgent): a slow answer must not be
            // mistaken for a later one's.
            let out = outstanding.values.filter { $0.target.peer == target.peer }.count
            guard out < (target.urgent ? Self.urgentOutstanding : 1) else { continue }
            let sequence = nextSequence
            nextSequence &+= 1
            outstanding[sequence] = Outstanding(target: target, sentAt: now, timeout: target.urgent ? Self.urgentTimeout : timeout)
            lastSent[target.peer] = now
            probes.append((target, sequence))
        }
        let current = Set(targets.map(\.peer))
        lastSent = lastSent.filter { current.contains($0.key) }
        answeredAt = answeredAt.filter { now - $0.value < Self.answerMemory }
        return probes
    }

    /// A reply: its outcome, or nil when it answers no outstanding probe (late, or someone else's)
    /// or comes from another address than the one probed.
    public mutating func reply(sequence: UInt16, from address: IPAddress, now: Double) -> Outcome? {
        guard let probe = outstanding[sequence], probe.target.address == address else { return nil }
        outstanding[sequence] = nil
        answeredAt[probe.target.peer] = now
        return Outcome(peer: probe.target.peer, endpoint: probe.target.endpoint, rtt: max(0, now - probe.sentAt))
    }

    /// Probes unanswered for `timeout`: lost, for peers that answered before; dropped otherwise.
    public mutating func expire(now: Double) -> [Outcome] {
        var lost: [Outcome] = []
        for (sequence, probe) in outstanding where now - probe.sentAt >= probe.timeout {
            outstanding[sequence] = nil
            if answeredAt[probe.target.peer] != nil {
                lost.append(Outcome(peer: probe.target.peer, endpoint: probe.target.endpoint, rtt: nil))
            }
        }
        return lost.sorted { $0.peer.base64 < $1.peer.base64 }
    }

    /// When the next probe is due or the next outstanding one times out, for the prober's wait.
    public func nextDeadline(_ targets: [Target]) -> Double? {
        let sends = targets.map { target in lastSent[target.peer].map { $0 + (target.urgent ? Self.urgentInterval : interval) } ?? 0 }
        let timeouts = outstanding.values.map { $0.sentAt + $0.timeout }
        return (sends + timeouts).min()
    }
}
