import Datagram
import WireGuard

/// A UDP source or destination as the relay keeps it: the datagram layer's address, so that the
/// forwarding loops compare and store what recvmmsg reported without converting it.
public typealias RelayAddress = DatagramAddress

extension DatagramAddress: CustomStringConvertible {
    public var description: String { endpoint.description }
}

extension RelayAddress {
    /// Offsets within the 19-byte address format of the protocol doc.
    enum Layout {
        static let family = 0
        static let address = 1
        static let ipv4Padding = 5
        static let ipv4PaddingTail = 13
        static let ipv6Low = 9
        static let port = 17
        static let ipv4PaddingLength = 12
    }

    /// The 19-byte address format of the protocol doc.
    public func encode(into bytes: inout [UInt8]) {
        if isIPv4 {
            bytes.append(4)
            BigEndian.append(ipv4, to: &bytes)
            bytes.append(contentsOf: repeatElement(0, count: Layout.ipv4PaddingLength))
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
        let port = BigEndian.readU16(buffer, at: offset + Layout.port)
        switch buffer[offset + Layout.family] {
        case 4:
            guard BigEndian.readU64(buffer, at: offset + Layout.ipv4Padding) == 0,
                  BigEndian.readU32(buffer, at: offset + Layout.ipv4PaddingTail) == 0 else { return nil }
            return RelayAddress(ipv4: BigEndian.readU32(buffer, at: offset + Layout.address), port: port)
        case 6:
            return RelayAddress(high: BigEndian.readU64(buffer, at: offset + Layout.address),
                                low: BigEndian.readU64(buffer, at: offset + Layout.ipv6Low), port: port)
        default:
            return nil
        }
    }

    /// "Unspecified IPv4 address": in an announcement it means "the datagram's source address".
    public var isUnspecifiedIPv4: Bool { isIPv4 && ipv4 == 0 }
}
