import WireGuard

/// The two STUN messages (RFC 5389) formnet uses to learn how a NAT maps a member: a Binding
/// request, and a Binding success response carrying XOR-MAPPED-ADDRESS. Being plain STUN, any
/// public STUN server can act as an extra observer. Parsing is bounded and total: anything
/// malformed is nil, never a crash.
public enum STUNMessage {
    public static let headerLength = 20
    public static let magicCookie: UInt32 = 0x2112_A442
    static let bindingRequest: UInt16 = 0x0001
    static let bindingSuccess: UInt16 = 0x0101
    static let xorMappedAddress: UInt16 = 0x0020
    static let mappedAddress: UInt16 = 0x0001
    /// Larger datagrams are not STUN we sent or expect.
    public static let maxLength = 548

    public typealias TransactionID = [UInt8]

    public static func request(transaction: TransactionID) -> [UInt8] {
        precondition(transaction.count == 12)
        return header(type: bindingRequest, length: 0, transaction: transaction)
    }

    /// The response that tells the sender at `observed` what it looks like from here.
    public static func response(transaction: TransactionID, observed: Endpoint) -> [UInt8] {
        let address = observed.address.bytes
        var value: [UInt8] = [0, observed.address.isIPv4 ? 0x01 : 0x02]
        let xport = observed.port ^ UInt16(magicCookie >> 16)
        value += [UInt8(xport >> 8), UInt8(xport & 0xFF)]
        let mask = cookieBytes + transaction
        value += address.enumerated().map { $0.element ^ mask[$0.offset] }
        let attribute = [UInt8(xorMappedAddress >> 8), UInt8(xorMappedAddress & 0xFF), 0, UInt8(value.count)] + value
        return header(type: bindingSuccess, length: UInt16(attribute.count), transaction: transaction) + attribute
    }

    /// The transaction id of a well-formed Binding request.
    public static func parseRequest(_ bytes: some Collection<UInt8>) -> TransactionID? {
        guard let (type, transaction, _) = parseHeader(Array(bytes)), type == bindingRequest else { return nil }
        return transaction
    }

    /// The mapped address in a Binding success response for `transaction`.
    public static func parseResponse(_ bytes: some Collection<UInt8>, transaction: TransactionID) -> Endpoint? {
        let message = Array(bytes)
        guard let (type, id, body) = parseHeader(message), type == bindingSuccess, id == transaction else { return nil }
        var plain: Endpoint?
        var offset = 0
        while offset + 4 <= body.count {
            let attrType = UInt16(body[offset]) << 8 | UInt16(body[offset + 1])
            let length = Int(UInt16(body[offset + 2]) << 8 | UInt16(body[offset + 3]))
            let start = offset + 4
            guard start + length <= body.count else { return nil }
            let value = Array(body[start..<start + length])
            if attrType == xorMappedAddress, let endpoint = address(value, xorWith: cookieBytes + transaction) {
                return endpoint
            }
            if attrType == mappedAddress { plain = address(value, xorWith: nil) }
            offset = start + (length + 3) / 4 * 4
        }
        return plain
    }

    private static var cookieBytes: [UInt8] {
        [UInt8(magicCookie >> 24), UInt8(magicCookie >> 16 & 0xFF), UInt8(magicCookie >> 8 & 0xFF), UInt8(magicCookie & 0xFF)]
    }

    private static func header(type: UInt16, length: UInt16, transaction: TransactionID) -> [UInt8] {
        [UInt8(type >> 8), UInt8(type & 0xFF), UInt8(length >> 8), UInt8(length & 0xFF)] + cookieBytes + transaction
    }

    private static func parseHeader(_ m: [UInt8]) -> (UInt16, TransactionID, [UInt8])? {
        guard m.count >= headerLength, m.count <= maxLength, m[0] & 0xC0 == 0 else { return nil }
        let length = Int(UInt16(m[2]) << 8 | UInt16(m[3]))
        guard length % 4 == 0, headerLength + length == m.count, Array(m[4..<8]) == cookieBytes else { return nil }
        return (UInt16(m[0]) << 8 | UInt16(m[1]), Array(m[8..<20]), Array(m[20...]))
    }

    private static func address(_ value: [UInt8], xorWith mask: [UInt8]?) -> Endpoint? {
        guard value.count >= 4 else { return nil }
        let family = value[1]
        let count = family == 0x01 ? 4 : family == 0x02 ? 16 : 0
        guard count > 0, value.count == 4 + count else { return nil }
        var port = UInt16(value[2]) << 8 | UInt16(value[3])
        var raw = Array(value[4...])
        if let mask {
            port ^= UInt16(magicCookie >> 16)
            raw = raw.enumerated().map { $0.element ^ mask[$0.offset] }
        }
        guard let ip = IPAddress(bytes: raw) else { return nil }
        return Endpoint(address: ip, port: port)
    }
}
