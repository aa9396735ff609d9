import Datagram
import Glibc

/// The bytes of a struct sockaddr_in or sockaddr_in6 for an endpoint, and back: what netlink's
/// WGPEER_A_ENDPOINT carries and what sendto/recvfrom take. The conversion itself is the
/// datagram layer's; this only moves between it and `Endpoint`.
public enum SocketAddress {
    static let inet4Length = MemoryLayout<sockaddr_in>.size
    static let inet6Length = MemoryLayout<sockaddr_in6>.size

    public static func bytes(of endpoint: Endpoint) -> [UInt8] {
        var storage = sockaddr_storage()
        let length = withUnsafeMutableBytes(of: &storage) { raw in
            SocketAddressConversion.write(DatagramAddress(endpoint), family: endpoint.address.family, to: raw.baseAddress!) ?? 0
        }
        return withUnsafeBytes(of: &storage) { Array($0.prefix(Int(length))) }
    }

    /// Nil unless the bytes are exactly a sockaddr_in or sockaddr_in6 of the family they claim.
    public static func endpoint(from bytes: [UInt8]) -> Endpoint? {
        guard bytes.count >= MemoryLayout<sa_family_t>.size else { return nil }
        let family = Int32(bytes.withUnsafeBytes { $0.loadUnaligned(as: sa_family_t.self) })
        switch (family, bytes.count) {
        case (AF_INET, inet4Length), (AF_INET6, inet6Length):
            return address(in: bytes).map { endpoint($0, family: family) }
        default:
            return nil
        }
    }

    /// The endpoint a sockaddr of `family` names: an IPv4-mapped address read from an IPv6
    /// sockaddr stays IPv6, as the kernel reported it.
    public static func endpoint(_ address: DatagramAddress, family: Int32) -> Endpoint {
        Endpoint(address: family == AF_INET ? .v4(address.ipv4) : .v6(address.high, address.low), port: address.port)
    }

    /// Callers check that `bytes` holds a whole sockaddr of its family first.
    private static func address(in bytes: [UInt8]) -> DatagramAddress? {
        bytes.withUnsafeBytes { SocketAddressConversion.address(from: $0.baseAddress!) }
    }
}

extension DatagramAddress {
    public init(_ endpoint: Endpoint) {
        switch endpoint.address {
        case .v4(let a): self.init(ipv4: a, port: endpoint.port)
        case .v6(let hi, let lo): self.init(high: hi, low: lo, port: endpoint.port)
        }
    }

    /// IPv4-mapped addresses come back as IPv4, the family a dual-stack socket's peer really has.
    public var endpoint: Endpoint { Endpoint(self) }
}

extension Endpoint {
    public init(_ address: DatagramAddress) {
        self.init(address: address.isIPv4 ? .v4(address.ipv4) : .v6(address.high, address.low), port: address.port)
    }
}
