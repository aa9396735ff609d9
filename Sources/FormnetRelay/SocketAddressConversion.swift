import Foundation

/// Between the kernel's sockaddr structures and RelayAddress, without allocating.
enum SocketAddressConversion {
    /// Nil for a family other than IPv4/IPv6.
    @inline(__always)
    static func relayAddress(from storage: UnsafeRawPointer) -> RelayAddress? {
        switch Int32(storage.load(as: sa_family_t.self)) {
        case AF_INET6:
            let sin6 = storage.loadUnaligned(as: sockaddr_in6.self)
            return withUnsafeBytes(of: sin6.sin6_addr) { raw in
                RelayAddress(high: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                             low: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                             port: UInt16(bigEndian: sin6.sin6_port))
            }
        case AF_INET:
            let sin = storage.loadUnaligned(as: sockaddr_in.self)
            return RelayAddress(high: 0, low: RelayAddress.v4MappedLowPrefix | UInt64(UInt32(bigEndian: sin.sin_addr.s_addr)),
                                port: UInt16(bigEndian: sin.sin_port))
        default:
            return nil
        }
    }

    /// Writes `address` as the socket's family expects; returns the length, or nil when an IPv4
    /// socket is asked to reach an IPv6 address.
    @inline(__always)
    static func write(_ address: RelayAddress, family: Int32, to storage: UnsafeMutableRawPointer) -> socklen_t? {
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
        sin.sin_addr.s_addr = UInt32(truncatingIfNeeded: address.low).bigEndian
        storage.storeBytes(of: sin, as: sockaddr_in.self)
        return socklen_t(MemoryLayout<sockaddr_in>.size)
    }
}
