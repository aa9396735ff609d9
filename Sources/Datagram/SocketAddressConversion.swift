import Glibc

/// Between the kernel's sockaddr structures and `DatagramAddress`, without allocating: the only
/// place in the package that reads or writes a sockaddr_in or sockaddr_in6.
public enum SocketAddressConversion {
    /// Nil for a family other than IPv4/IPv6.
    @inlinable
    public static func address(from storage: UnsafeRawPointer) -> DatagramAddress? {
        switch Int32(storage.loadUnaligned(as: sa_family_t.self)) {
        case AF_INET6:
            let sin6 = storage.loadUnaligned(as: sockaddr_in6.self)
            return withUnsafeBytes(of: sin6.sin6_addr) { raw in
                DatagramAddress(high: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                                low: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                                port: UInt16(bigEndian: sin6.sin6_port))
            }
        case AF_INET:
            let sin = storage.loadUnaligned(as: sockaddr_in.self)
            return DatagramAddress(ipv4: UInt32(bigEndian: sin.sin_addr.s_addr), port: UInt16(bigEndian: sin.sin_port))
        default:
            return nil
        }
    }

    /// Writes `address` as a socket of `family` expects; returns the length, or nil when an IPv4
    /// socket is asked to reach an IPv6 address.
    @inlinable
    public static func write(_ address: DatagramAddress, family: Int32, to storage: UnsafeMutableRawPointer) -> socklen_t? {
        if family == AF_INET6 {
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = address.port.bigEndian
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { raw in
                raw.storeBytes(of: address.high.bigEndian, toByteOffset: 0, as: UInt64.self)
                raw.storeBytes(of: address.low.bigEndian, toByteOffset: 8, as: UInt64.self)
            }
            storage.storeBytes(of: sin6, as: sockaddr_in6.self)
            return socklen_t(MemoryLayout<sockaddr_in6>.size)
        }
        guard address.isIPv4 else { return nil }
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = address.port.bigEndian
        sin.sin_addr.s_addr = address.ipv4.bigEndian
        storage.storeBytes(of: sin, as: sockaddr_in.self)
        return socklen_t(MemoryLayout<sockaddr_in>.size)
    }

    /// Calls `body` with `address` as a sockaddr of `family` and its length; nil when the family cannot reach it.
    @inlinable
    public static func withSocketAddress<Result>(_ address: DatagramAddress, family: Int32,
                                                 _ body: (UnsafePointer<sockaddr>, socklen_t) -> Result) -> Result? {
        var storage = sockaddr_storage()
        return withUnsafeMutableBytes(of: &storage) { raw -> Result? in
            guard let base = raw.baseAddress, let length = write(address, family: family, to: base) else { return nil }
            return body(base.assumingMemoryBound(to: sockaddr.self), length)
        }
    }
}
