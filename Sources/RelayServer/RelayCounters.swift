import RelayWire

/// What `/metrics` reports. Plain integers mutated under the relay state's lock — the hot path
/// already holds it once per batch, so counting costs an add, not an atomic per frame.
public struct RelayCounters: Sendable {
    public enum Limit: Int, CaseIterable, Sendable {
        case connections, tunnels, bandwidth, rate, registrationRate

        public var label: String {
            switch self {
            case .connections: "connections"
            case .tunnels: "tunnels-per-device"
            case .bandwidth: "bandwidth"
            case .rate: "rate"
            case .registrationRate: "registration-rate"
            }
        }
    }

    /// Why the relay refused or closed a TCP connection; each is a label of
    /// `formnet_relay_tcp_closed_total`.
    public enum TCPClose: Int, CaseIterable, Sendable {
        case full, sourceShare, incompleteFrame, unregistered, slowReader, idle, malformed

        public var label: String {
            switch self {
            case .full: "full"
            case .sourceShare: "source-share"
            case .incompleteFrame: "incomplete-frame"
            case .unregistered: "unregistered"
            case .slowReader: "slow-reader"
            case .idle: "idle"
            case .malformed: "malformed"
            }
        }
    }

    public var framesReceived = [UInt64](repeating: 0, count: 256)
    public var bytesReceived: UInt64 = 0
    public var framesForwarded: UInt64 = 0
    public var bytesForwarded: UInt64 = 0
    /// WireGuard packets that arrived on channel ports (not counted in `framesReceived`).
    public var channelPacketsReceived: UInt64 = 0
    /// Packets sent out of channel ports, without a header (counted in `framesForwarded` too).
    public var channelPacketsSent: UInt64 = 0
    public var drops = [UInt64](repeating: 0, count: DropReason.allCases.count)
    public var registrations: UInt64 = 0
    /// Cookie frames sent: register frames asked to prove their address first.
    public var cookiesSent: UInt64 = 0
    public var limitHits = [UInt64](repeating: 0, count: Limit.allCases.count)
    public var tcpClosed = [UInt64](repeating: 0, count: TCPClose.allCases.count)
    /// TCP connections open now.
    public var tcpOpen = 0

    @inline(__always)
    mutating func drop(_ reason: DropReason) {
        drops[reason.rawValue] &+= 1
        switch reason {
        case .relayFull: limitHits[Limit.connections.rawValue] &+= 1
        case .tooManyTunnels: limitHits[Limit.tunnels.rawValue] &+= 1
        case .bandwidth: limitHits[Limit.bandwidth.rawValue] &+= 1
        case .rateLimited: limitHits[Limit.rate.rawValue] &+= 1
        case .registrationRateLimited: limitHits[Limit.registrationRate.rawValue] &+= 1
        default: break
        }
    }

    public func drops(_ reason: DropReason) -> UInt64 { drops[reason.rawValue] }
}
