import Glibc

/// One address of one of this host's interfaces, as getifaddrs(3) lists them: what members
/// report as host candidates and what the server offers as its own external address.
public struct InterfaceAddress: Sendable, Equatable {
    public var interface: String
    public var address: IPAddress
    public var isLoopback: Bool
    public var isUp: Bool

    public init(interface: String, address: IPAddress, isLoopback: Bool = false, isUp: Bool = true) {
        self.interface = interface
        self.address = address
        self.isLoopback = isLoopback
        self.isUp = isUp
    }

    /// Every IPv4 and IPv6 address of every interface; empty when the list cannot be read.
    public static func all() -> [InterfaceAddress] {
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0, let first = head else { return [] }
        defer { freeifaddrs(head) }
        var result: [InterfaceAddress] = []
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let sockaddr = entry.pointee.ifa_addr, let address = ipAddress(sockaddr) else { continue }
            let flags = entry.pointee.ifa_flags
            result.append(InterfaceAddress(interface: String(cString: entry.pointee.ifa_name), address: address,
                                           isLoopback: flags & UInt32(IFF_LOOPBACK) != 0,
                                           isUp: flags & UInt32(IFF_UP) != 0))
        }
        return result
    }

    private static func ipAddress(_ pointer: UnsafeMutablePointer<sockaddr>) -> IPAddress? {
        switch Int32(pointer.pointee.sa_family) {
        case AF_INET:
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                IPAddress.v4(UInt32(bigEndian: $0.pointee.sin_addr.s_addr))
            }
        case AF_INET6:
            return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                withUnsafeBytes(of: $0.pointee.sin6_addr) { IPAddress(bytes: Array($0)) }
            }
        default:
            return nil
        }
    }
}
