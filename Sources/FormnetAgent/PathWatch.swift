import WireGuard

/// Whether WireGuard's packets to one endpoint get answers: WireGuard sent since it last
/// received, and nothing came for `silence`. Two paths are watched with it. A relay channel
/// whose packets a firewall in front of the relay drops (its `--channel-ports` not opened) is
/// silent both ways, and the relay, which never sees them, cannot withdraw it; the agent moves
/// the peer back to the relay's proxy. And the server's path (`ServerRoute`): a member that
/// takes itself for UDP-blocked moves the server onto its relays only when the direct path is
/// silent, and back when the relayed one is.
struct PathWatch: Equatable {
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
            self = PathWatch(endpoint: endpoint, rx: rx, tx: tx, now: now)
            return false
        }
        return tx > self.tx && now - since >= Self.silence
    }
}
