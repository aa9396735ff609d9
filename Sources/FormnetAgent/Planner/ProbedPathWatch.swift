import WireGuard

/// Whether the path WireGuard sends a peer's packets on still carries them, from what the agent
/// measures anyway: WireGuard's counters for the peer, read every tick, and the tunnel probes
/// (`TunnelProbeBook`). Two paths are watched with it: a direct one, and a relay channel.
///
/// A path that dies gives no error: WireGuard keeps sending into it, re-handshakes only after
/// 15 s without an answer, and the traversal machine counted a direct path as lost only after
/// 180 s without a handshake, so every packet was lost for minutes while `show` said direct. A
/// relay channel whose ports a firewall in front of the relay drops is silent both ways, and the
/// relay, which never sees the packets, cannot withdraw it. Here, once WireGuard has sent data
/// (more than its keepalives) and nothing has come back for `quiet`, the path is `checking`: the
/// agent probes the peer every 0.3 s, and `lostProbes` lost in a row make it dead, about 3 s
/// after the first lost packet. An answer, or anything received, makes it carrying again. One-way
/// traffic with nothing to answer it is checked too, and passes: the probes are answered.
///
/// Counters alone were not enough on a WAN: a relay channel that carried a pair's traffic was
/// given up as silent ("nothing came back for 30 s") while it worked; a probe answered through it
/// settles the question.
///
/// A peer that has not answered a probe for 10 minutes (it drops ICMP, or this agent has no raw
/// socket; `TunnelProbeBook.answerMemory`) reports no losses; for it, `PathWatch.silence` of
/// sending into silence is dead.
struct ProbedPathWatch: Equatable {
    enum Verdict: Equatable {
        case carrying
        /// Nothing received since `since` while data went out: probes decide.
        case checking(since: Double)
        case dead
    }

    /// Nothing received this long while data went out makes the path suspect. The peer's
    /// transport acknowledgements and answers come within a round trip; a second covers a
    /// 300 ms path and a busy host.
    static let quiet = 1.0
    /// Urgent probes lost in a row that make the path dead: at 5% loss, three in a row are lost
    /// by chance once in 8,000 checks.
    static let lostProbes = 3

    private(set) var endpoint: Endpoint
    private var rx: UInt64
    /// The transmit counter when rx last grew (or the watch started), and when.
    private var tx: UInt64
    private var rxSince: Double
    private(set) var lost = 0
    private(set) var checking = false

    init(endpoint: Endpoint, rx: UInt64, tx: UInt64, now: Double) {
        self.endpoint = endpoint
        self.rx = rx
        self.tx = tx
        rxSince = now
    }

    /// Takes the peer's counters, endpoint and persistent-keepalive interval (seconds, 0 for none).
    mutating func observe(endpoint: Endpoint, rx: UInt64, tx: UInt64, keepalive: UInt16, now: Double) -> Verdict {
        guard endpoint == self.endpoint, rx == self.rx else {
            self = ProbedPathWatch(endpoint: endpoint, rx: rx, tx: tx, now: now)
            return .carrying
        }
        let elapsed = now - rxSince
        guard PathWatch.sentData(from: self.tx, to: tx, over: elapsed, keepalive: keepalive), elapsed >= Self.quiet else {
            checking = false
            return .carrying
        }
        checking = true
        if lost >= Self.lostProbes || elapsed >= PathWatch.silence { return .dead }
        return .checking(since: rxSince)
    }

    /// Whether WireGuard received from the peer since the last observation, at the same endpoint:
    /// with WireGuard roaming to wherever the peer's packets come from, they came through it.
    func received(endpoint: Endpoint, rx: UInt64) -> Bool { endpoint == self.endpoint && rx > self.rx }

    /// An urgent probe's outcome for this path: an answer clears the losses.
    mutating func probe(lost: Bool) {
        guard checking else { return }
        self.lost = lost ? self.lost + 1 : 0
    }

    /// Why it is dead, for the log.
    func reason(now: Double) -> String {
        lost >= Self.lostProbes
            ? "nothing received for \(Int(now - rxSince)) s while sending, \(lost) probes unanswered"
            : "nothing received for \(Int(now - rxSince)) s while sending"
    }
}
