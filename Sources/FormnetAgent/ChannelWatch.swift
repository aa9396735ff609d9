import WireGuard

/// Whether WireGuard's packets through a relay channel get answers. A channel whose packets a
/// firewall in front of the relay drops (its `--channel-ports` not opened) is silent both ways,
/// and the relay, which never sees them, cannot withdraw it; the agent sees WireGuard send and
/// hear nothing, and moves the peer back to the relay's proxy (data frames on the relay's port).
struct ChannelWatch: Equatable {
    /// Longer than WireGuard's persistent keepalive (25 s) and the keepalive it sends 10 s after
    /// receiving data: a working channel with a live peer brings something back within it.
    static let silence = 30.0

    private(set) var endpoint: Endpoint
    private var rx: UInt64
    /// The peer's transmit counter when rx last grew (or the watch started), and when.
    private var tx: UInt64
    private var since: Double

    init(endpoint: Endpoint, rx: UInt64, tx: UInt64, now: Double) {
        self.endpoint = endpoint
        self.rx = rx
        self.tx = tx
        since = now
    }

    /// Takes the peer's counters; true when WireGuard sent since the last packet it received
    /// and nothing came for `silence`.
    mutating func isSilent(endpoint: Endpoint, rx: UInt64, tx: UInt64, now: Double) -> Bool {
        guard endpoint == self.endpoint, rx == self.rx else {
            self = ChannelWatch(endpoint: endpoint, rx: rx, tx: tx, now: now)
            return false
        }
        return tx > self.tx && now - since >= Self.silence
    }
}
