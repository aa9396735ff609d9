import Glibc
import WireGuard

/// A blocking UDP socket with receive timeouts, for the few datagrams of STUN probing and
/// answering (the relay has its own batched I/O for bulk traffic).
public final class DatagramSocket: @unchecked Sendable {
    // The descriptor is set once; the kernel serialises concurrent calls on it.
    let fd: Int32

    /// Binds to `port` (0: any) on every address of `family` (AF_INET or AF_INET6).
    public init(family: Int32 = AF_INET, port: UInt16 = 0) throws {
        fd = socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw WireGuardError.system(operation: "UDP socket", errno: errno) }
        let any = family == AF_INET ? IPAddress.v4(0) : IPAddress.v6(0, 0)
        let address = SocketAddress.bytes(of: Endpoint(address: any, port: port))
        let rc = address.withUnsafeBytes {
            bind(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t($0.count))
        }
        guard rc == 0 else {
            let error = errno
            close(fd)
            throw WireGuardError.system(operation: "bind UDP port \(port)", errno: error)
        }
    }

    deinit { close(fd) }

    public var localPort: UInt16 {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let bytes = withUnsafeBytes(of: storage) { Array($0.prefix(Int(length))) }
        return SocketAddress.endpoint(from: bytes)?.port ?? 0
    }

    public func send(_ datagram: [UInt8], to endpoint: Endpoint) throws {
        let address = SocketAddress.bytes(of: endpoint)
        let sent = datagram.withUnsafeBytes { payload in
            address.withUnsafeBytes {
                sendto(fd, payload.baseAddress, payload.count, 0,
                       $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t($0.count))
            }
        }
        guard sent == datagram.count else { throw WireGuardError.system(operation: "send to \(endpoint)", errno: errno) }
    }

    /// The next datagram and its sender, or nil when none arrives within `timeout` seconds.
    public func receive(timeout: Double, maxLength: Int = 2048) throws -> ([UInt8], Endpoint)? {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&poller, 1, Int32(max(0, timeout * 1000)))
        guard ready > 0 else {
            if ready < 0 && errno != EINTR { throw WireGuardError.system(operation: "poll", errno: errno) }
            return nil
        }
        var buffer = [UInt8](repeating: 0, count: maxLength)
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let count = buffer.withUnsafeMutableBytes { raw in
            withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, raw.baseAddress, raw.count, 0, $0, &length) }
            }
        }
        guard count >= 0 else { throw WireGuardError.system(operation: "receive", errno: errno) }
        let from = withUnsafeBytes(of: storage) { Array($0.prefix(Int(length))) }
        guard let sender = SocketAddress.endpoint(from: from) else { return nil }
        return (Array(buffer.prefix(count)), sender)
    }
}
