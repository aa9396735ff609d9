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
/// after the first lost packet. An answered probe, once it arrives, makes it carrying again.
/// One-way traffic with nothing to answer it is checked too, and passes: the probes are answered.
///
/// Once checking, what arrives from the peer does not end the check; only the probes do. Packets
/// the peer starts (its own probes, its keepalives) prove the path toward us, not ours toward it:
/// with a path cut one way, the peer's probes every 0.3 s kept restarting this end's watch, and
/// the pair stayed on the dead path until the peer, which had sent nothing but a probe every
/// 10 s, found it dead (4 to 5 s; the relayed test's limit is 5). A peer that has not answered a
/// probe within `outcomeWait` of the check's start (it drops ICMP) is judged by what arrives.
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
        /// Data went out into silence; probing since `since`, and the probes decide.
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
    /// How long a check waits for a first probe outcome before packets from the peer end it
    /// anyway: the first urgent probe's timeout, and the prober's wake-up, with room.
    static let outcomeWait = 2.0

    private(set) var endpoint: Endpoint
    private var rx: UInt64
    /// The transmit counter when rx last grew (or the watch started), and when.
    private var tx: UInt64
    private var rxSince: Double
    private(set) var lost = 0
    /// When the current check began; nil while the path counts as carrying.
    private var checkingSince: Double?
    /// Whether a probe was answered during the current check.
    private var answered = false
    var checking: Bool { checkingSince != nil }

    init(endpoint: Endpoint, rx: UInt64, tx: UInt64, now: Double) {
        self.endpoint = endpoint
        self.rx = rx
        self.tx = tx
        rxSince = now
    }

    /// Takes the peer's counters, endpoint and persistent-keepalive interval (seconds, 0 for none).
    mutating func observe(endpoint: Endpoint, rx: UInt64, tx: UInt64, keepalive: UInt16, now: Double) -> Verdict {
        guard endpoint == self.endpoint else {
            self = ProbedPathWatch(endpoint: endpoint, rx: rx, tx: tx, now: now)
            return .carrying
        }
        if rx != self.rx {
            self.rx = rx
            self.tx = tx
            rxSince = now
            if let since = checkingSince, lost > 0 || (!answered && now - since < Self.outcomeWait) {
                return lost >= Self.lostProbes ? .dead : .checking(since: since)
            }
            checkingSince = nil
            answered = false
            lost = 0
            return .carrying
        }
        let elapsed = now - rxSince
        if let since = checkingSince {
            return lost >= Self.lostProbes || elapsed >= PathWatch.silence ? .dead : .checking(since: since)
        }
        guard PathWatch.sentData(from: self.tx, to: tx, over: elapsed, keepalive: keepalive), elapsed >= Self.quiet else {
            return .carrying
        }
        checkingSince = now
        return .checking(since: now)
    }

    /// Whether WireGuard received from the peer since the last observation, at the same endpoint:
    /// with WireGuard roaming to wherever the peer's packets come from, they came through it.
    func received(endpoint: Endpoint, rx: UInt64) -> Bool { endpoint == self.endpoint && rx > self.rx }

    /// An urgent probe's outcome for this path: an answer clears the losses (and the check ends
    /// with the answer's arrival), a loss counts.
    mutating func probe(lost: Bool) {
        guard checking else { return }
        self.lost = lost ? self.lost + 1 : 0
        if !lost { answered = true }
    }

    /// Why it is dead, for the log.
    func reason(now: Double) -> String {
        guard lost >= Self.lostProbes else { return "nothing received for \(Int(now - rxSince)) s while sending" }
        guard let since = checkingSince, rxSince > since else {
            return "nothing received for \(Int(now - rxSince)) s while sending, \(lost) probes unanswered"
        }
        return "\(lost) probes unanswered while the peer's packets still arrive: cut one way"
    }
}
