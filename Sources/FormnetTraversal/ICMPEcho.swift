/// ICMP echo messages (RFC 792, RFC 4443) as the tunnel prober sends them on raw sockets and
/// reads the replies: IPv4 raw sockets deliver the IP header with the message, ICMPv6 raw
/// sockets do not, and the kernel fills in the ICMPv6 checksum itself.
public struct ICMPEcho: Equatable, Sendable {
    public var identifier: UInt16
    public var sequence: UInt16
    public var payload: [UInt8]

    static let requestV4: UInt8 = 8
    static let replyV4: UInt8 = 0
    static let requestV6: UInt8 = 128
    static let replyV6: UInt8 = 129
    static let headerLength = 8

    public init(identifier: UInt16, sequence: UInt16, payload: [UInt8] = []) {
        self.identifier = identifier
        self.sequence = sequence
        self.payload = payload
    }

    public func request(ipv6: Bool) -> [UInt8] {
        var bytes: [UInt8] = [ipv6 ? Self.requestV6 : Self.requestV4, 0, 0, 0,
                              UInt8(identifier >> 8), UInt8(identifier & 0xFF), UInt8(sequence >> 8), UInt8(sequence & 0xFF)]
        bytes += payload
        if !ipv6 {
            let sum = Self.checksum(bytes)
            bytes[2] = UInt8(sum >> 8)
            bytes[3] = UInt8(sum & 0xFF)
        }
        return bytes
    }

    /// The echo reply in what a raw socket returned, or nil for anything else (other ICMP
    /// types, truncated or malformed datagrams, a bad IPv4 checksum).
    public static func reply(in datagram: [UInt8], ipv6: Bool) -> ICMPEcho? {
        var start = 0
        if !ipv6 {
            guard datagram.count >= 20, datagram[0] >> 4 == 4 else { return nil }
            start = Int(datagram[0] & 0x0F) * 4
            guard start >= 20 else { return nil }
        }
        guard datagram.count - start >= headerLength else { return nil }
        let message = Array(datagram[start...])
        guard message[0] == (ipv6 ? replyV6 : replyV4), message[1] == 0 else { return nil }
        if !ipv6, checksum(message) != 0 { return nil }
        return ICMPEcho(identifier: UInt16(message[4]) << 8 | UInt16(message[5]),
                        sequence: UInt16(message[6]) << 8 | UInt16(message[7]),
                        payload: Array(message[headerLength...]))
    }

    /// The Internet checksum (RFC 1071); 0 over a message that carries a correct one.
    static func checksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var index = 0
        while index + 1 < bytes.count {
            sum += UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
            index += 2
        }
        if index < bytes.count { sum += UInt32(bytes[index]) << 8 }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }
}
