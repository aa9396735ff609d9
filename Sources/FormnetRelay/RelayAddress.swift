import WireGuard

/// A UDP source or destination as the relay keeps it: 16 address bytes (IPv4 as ::ffff:a.b.c.d,
/// the form a dual-stack socket reports) and a port, in two words plus a port so that comparing
/// a datagram's source with a session's binding costs three integer compares.
public struct RelayAddress: Hashable, Sendable, CustomStringConvertible {
    /// Address bytes 0–7 and 8–15, read big-endian.
    public var high: UInt64
    public var low: UInt64
    public var port: UInt16

    static let v4MappedHigh: UInt64 = 0
    static let v4MappedLowPrefix: UInt64 = 0x0000_FFFF_0000_0000

    public init(high: UInt64, low: UInt64, port: UInt16) {
        self.high = high
        self.low = low
        self.port = port
    }

    public init(_ endpoint: Endpoint) {
        switch endpoint.address {
        case .v4(let a): self.init(high: 0, low: Self.v4MappedLowPrefix | UInt64(a), port: endpoint.port)
        case .v6(let hi, let lo): self.init(high: hi, low: lo, port: endpoint.port)
        }
    }

    public var isIPv4: Bool { high == Self.v4MappedHigh && low & 0xFFFF_FFFF_0000_0000 == Self.v4MappedLowPrefix }

    public var endpoint: Endpoint {
        let address: IPAddress = isIPv4 ? .v4(UInt32(truncatingIfNeeded: low)) : .v6(high, low)
        return Endpoint(address: address, port: port)
    }

    public var description: String { endpoint.description }

    /// The 19-byte address format of the protocol doc.
    public func encode(into bytes: inout [UInt8]) {
        if isIPv4 {
            bytes.append(4)
            BigEndian.append(UInt32(truncatingIfNeeded: low), to: &bytes)
            bytes.append(contentsOf: repeatElement(0, count: 12))
        } else {
            bytes.append(6)
            BigEndian.append(high, to: &bytes)
            BigEndian.append(low, to: &bytes)
        }
        BigEndian.append(port, to: &bytes)
    }

    /// Decodes the 19-byte address format; nil for an unknown family or non-zero IPv4 padding.
    public static func decode(_ buffer: UnsafeRawBufferPointer, at offset: Int) -> RelayAddress? {
        guard offset >= 0, buffer.count - offset >= RelayWire.addressLength else { return nil }
        let port = BigEndian.readU16(buffer, at: offset + 17)
        switch buffer[offset] {
        case 4:
            guard BigEndian.readU64(buffer, at: offset + 5) == 0, BigEndian.readU32(buffer, at: offset + 13) == 0 else { return nil }
            let a = BigEndian.readU32(buffer, at: offset + 1)
            return RelayAddress(high: 0, low: v4MappedLowPrefix | UInt64(a), port: port)
        case 6:
            return RelayAddress(high: BigEndian.readU64(buffer, at: offset + 1), low: BigEndian.readU64(buffer, at: offset + 9), port: port)
        default:
            return nil
        }
    }

    /// "Unspecified IPv4 address": in an announcement it means "the datagram's source address".
    public var isUnspecifiedIPv4: Bool { isIPv4 && UInt32(truncatingIfNeeded: low) == 0 }
}
