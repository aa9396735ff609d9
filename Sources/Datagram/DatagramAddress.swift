/// A UDP source or destination as the datagram loops keep it: 16 address bytes (IPv4 as
/// ::ffff:a.b.c.d, the form a dual-stack socket reports) and a port, in two words plus a port so
/// that comparing a datagram's source with a binding costs three integer compares.
public struct DatagramAddress: Hashable, Sendable {
    /// Address bytes 0–7 and 8–15, read big-endian.
    public var high: UInt64
    public var low: UInt64
    public var port: UInt16

    public static let v4MappedHigh: UInt64 = 0
    public static let v4MappedLowPrefix: UInt64 = 0x0000_FFFF_0000_0000

    @inlinable
    public init(high: UInt64, low: UInt64, port: UInt16) {
        self.high = high
        self.low = low
        self.port = port
    }

    /// `address` in host byte order.
    @inlinable
    public init(ipv4 address: UInt32, port: UInt16) {
        self.init(high: Self.v4MappedHigh, low: Self.v4MappedLowPrefix | UInt64(address), port: port)
    }

    @inlinable
    public var isIPv4: Bool { high == Self.v4MappedHigh && low & 0xFFFF_FFFF_0000_0000 == Self.v4MappedLowPrefix }

    /// The IPv4 address in host byte order; meaningful only when `isIPv4`.
    @inlinable
    public var ipv4: UInt32 { UInt32(truncatingIfNeeded: low) }
}
