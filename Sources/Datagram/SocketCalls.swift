import Glibc

/// The socket calls that take an address, for every UDP socket of the package (and the relay
/// client's TCP socket), so that each goes through `SocketAddressConversion`.
public enum SocketCalls {
    /// Binds `fd` to `address`; an all-zero address is the wildcard of the family.
    public static func bind(_ fd: Int32, family: Int32, to address: DatagramAddress) -> Bool {
        // The all-zero address is IPv6's wildcard as it is; IPv4's is 0.0.0.0, which is not ::ffff:0.0.0.0.
        let address = family == AF_INET && address.high == 0 && address.low == 0 ? DatagramAddress(ipv4: 0, port: address.port) : address
        return SocketAddressConversion.withSocketAddress(address, family: family) { Glibc.bind(fd, $0, $1) } == 0
    }

    /// connect(2); its result, -1 (with errno EAFNOSUPPORT) when the family cannot reach the address.
    public static func connect(_ fd: Int32, family: Int32, to address: DatagramAddress) -> Int32 {
        guard let rc = SocketAddressConversion.withSocketAddress(address, family: family, { Glibc.connect(fd, $0, $1) }) else {
            errno = EAFNOSUPPORT
            return -1
        }
        return rc
    }

    /// The address the socket is bound to.
    public static func localAddress(of fd: Int32) -> DatagramAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        guard rc == 0 else { return nil }
        return withUnsafeBytes(of: &storage) { $0.baseAddress.flatMap { SocketAddressConversion.address(from: $0) } }
    }

    /// One datagram from any thread; the kernel serialises sends on a socket.
    @discardableResult
    public static func send(_ datagram: UnsafeRawBufferPointer, to address: DatagramAddress, family: Int32, on fd: Int32, flags: Int32 = 0) -> Bool {
        SocketAddressConversion.withSocketAddress(address, family: family) {
            sendto(fd, datagram.baseAddress, datagram.count, flags, $0, $1) == datagram.count
        } ?? false
    }

    /// One datagram into `buffer`: its length (-1 on an error, errno says which) and its sender
    /// (nil for a family other than IPv4/IPv6).
    public static func receive(into buffer: UnsafeMutableRawBufferPointer, on fd: Int32, flags: Int32 = 0) -> (count: Int, from: DatagramAddress?) {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let count = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, buffer.baseAddress, buffer.count, flags, $0, &length) }
        }
        guard count >= 0 else { return (count, nil) }
        return (count, withUnsafeBytes(of: &storage) { $0.baseAddress.flatMap { SocketAddressConversion.address(from: $0) } })
    }

    /// Explicit, large socket buffers: the default (about 200 KiB) overflows within a millisecond
    /// at the rates a relay forwards. SO_*BUFFORCE passes the sysctl cap when running as root.
    public static func setBufferSizes(_ fd: Int32, bytes: Int32) {
        var size = bytes
        let length = socklen_t(MemoryLayout<Int32>.size)
        if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, length) != 0 { setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, length) }
        if setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, length) != 0 { setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, length) }
    }
}
