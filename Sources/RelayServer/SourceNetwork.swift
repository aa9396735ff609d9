import RelayWire

/// What the relay counts as one source when it shares a resource out: an IPv4 address, or an
/// IPv6 /64 — whoever has one IPv6 address usually has the whole /64 to send from.
public struct SourceNetwork: Hashable, Sendable {
    var high: UInt64
    var low: UInt64

    public init(_ address: RelayAddress) {
        high = address.high
        low = address.isIPv4 ? address.low : 0
    }
}
