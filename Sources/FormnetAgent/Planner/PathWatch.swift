import WireGuard

/// Whether WireGuard's packets to one endpoint get answers: WireGuard sent since it last
/// received, and nothing came for `silence`. The server's path is watched with it
/// (`ServerRoute`): a member that takes itself for UDP-blocked moves the server onto its relays
/// only when the direct path is silent, and back when the relayed one is. Peers' paths are
/// watched with probes as well (`ProbedPathWatch`), which uses this counting.
///
/// Keepalives do not count as sending. On an idle pair only one end sends them: WireGuard's
/// persistent-keepalive timer restarts on every packet sent or received, so the end whose timer
/// fires first sends one every interval and the other, receiving it, never sends its own. That
/// end sends and hears nothing, on a path that works; counting its keepalives made every idle
/// relayed pair give its channels up after 30 s (the relayed lab under load saw it).
struct PathWatch: Equatable {
    /// Longer than WireGuard's persistent keepalive (25 s) and the keepalive it sends 10 s after
    /// receiving data: a working channel with a live peer brings something back within it.
    static let silence = 30.0
    /// What one keepalive adds to WireGuard's transmit counter: a transport message with no
    /// payload (16-byte header, 16-byte tag).
    static let keepaliveBytes: UInt64 = 32

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

    /// Watches WireGuard's `peer` at `endpoint`, starting a watch when there is none.
    static func isSilent(_ watch: inout PathWatch?, peer: Peer, at endpoint: Endpoint, now: Double) -> Bool {
        var current = watch ?? PathWatch(endpoint: endpoint, rx: peer.rxBytes, tx: peer.txBytes, now: now)
        defer { watch = current }
        return current.isSilent(endpoint: endpoint, rx: peer.rxBytes, tx: peer.txBytes, keepalive: peer.persistentKeepalive, now: now)
    }

    /// Takes the peer's counters and its persistent-keepalive interval (seconds, 0 for none);
    /// true when WireGuard sent more than its keepalives since the last packet it received and
    /// nothing came for `silence`.
    mutating func isSilent(endpoint: Endpoint, rx: UInt64, tx: UInt64, keepalive: UInt16, now: Double) -> Bool {
        guard endpoint == self.endpoint, rx == self.rx else {
            self = PathWatch(endpoint: endpoint, rx: rx, tx: tx, now: now)
            return false
        }
        let elapsed = now - since
        return elapsed >= Self.silence && Self.sentData(from: self.tx, to: tx, over: elapsed, keepalive: keepalive)
    }

    /// Whether the transmit counter grew by more than the keepalives WireGuard sends in `elapsed`
    /// seconds (`keepalive`: its persistent-keepalive interval, 0 for none).
    static func sentData(from before: UInt64, to tx: UInt64, over elapsed: Double, keepalive: UInt16) -> Bool {
        let keepalives = keepalive == 0 ? 0 : UInt64(elapsed / Double(keepalive)) + 1
        return tx > before && tx - before > keepalives * keepaliveBytes
    }
}
