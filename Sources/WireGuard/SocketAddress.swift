import Glibc

/// The bytes of a struct sockaddr_in or sockaddr_in6 for an endpoint, and back: what netlink's
/// WGPEER_A_ENDPOINT carries and what sendto/recvfrom take. The family is in host byte order,
/// the port and address in network byte order, everything else zero.
public enum SocketAddress {
    static let inet4Length = MemoryLayout<sockaddr_in>.size
    static let inet6Length = MemoryLayout<sockaddr_in6>.size

    public static func bytes(of endpoint: Endpoint) -> [UInt8] {
        let family = withUnsafeBytes(of: sa_family_t(endpoint.address.family)) { Array($0) }
        let port = [UInt8(endpoint.port >> 8), UInt8(endpoint.port & 0xFF)]
        let address = endpoint.address.bytes
        if endpoint.address.isIPv4 {
            return family + port + address + [UInt8](repeating: 0, count: 8)
        }
        let flowInfo = [UInt8](repeating: 0, count: 4)
        let scopeID = [UInt8](repeating: 0, count: 4)
        return family + port + flowInfo + address + scopeID
    }

    /// Nil unless the bytes are exactly a sockaddr_in or sockaddr_in6 of the family they claim.
    public static func endpoint(from bytes: [UInt8]) -> Endpoint? {
        guard bytes.count >= 4, let family = Netlink.integer(sa_family_t.self, bytes[0..<2]) else { return nil }
        let port = UInt16(bytes[2]) << 8 | UInt16(bytes[3])
        switch (Int32(family), bytes.count) {
        case (AF_INET, inet4Length):
            return IPAddress(bytes: Array(bytes[4..<8])).map { Endpoint(address: $0, port: port) }
        case (AF_INET6, inet6Length):
            return IPAddress(bytes: Array(bytes[8..<24])).map { Endpoint(address: $0, port: port) }
        default:
            return nil
        }
    }
}
