import Datagram
import Glibc
import WireGuard

/// A blocking UDP socket with receive timeouts, for the few datagrams of STUN probing and
/// answering (bulk traffic goes through `DatagramBatch`).
public final class DatagramSocket: @unchecked Sendable {
    // The descriptor is set once; the kernel serialises concurrent calls on it.
    let fd: Int32
    let family: Int32

    /// Binds to `port` (0: any) on every address of `family` (AF_INET or AF_INET6).
    public init(family: Int32 = AF_INET, port: UInt16 = 0) throws {
        fd = socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw WireGuardError.system(operation: "UDP socket", errno: errno) }
        self.family = family
        guard SocketCalls.bind(fd, family: family, to: DatagramAddress(high: 0, low: 0, port: port)) else {
            let error = errno
            close(fd)
            throw WireGuardError.system(operation: "bind UDP port \(port)", errno: error)
        }
    }

    deinit { close(fd) }

    public var localPort: UInt16 { SocketCalls.localAddress(of: fd)?.port ?? 0 }

    public func send(_ datagram: [UInt8], to endpoint: Endpoint) throws {
        let sent = datagram.withUnsafeBytes { SocketCalls.send($0, to: DatagramAddress(endpoint), family: endpoint.address.family, on: fd) }
        guard sent else { throw WireGuardError.system(operation: "send to \(endpoint)", errno: errno) }
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
        let (count, sender) = buffer.withUnsafeMutableBytes { SocketCalls.receive(into: $0, on: fd) }
        guard count >= 0 else { throw WireGuardError.system(operation: "receive", errno: errno) }
        guard let sender else { return nil }
        return (Array(buffer.prefix(count)), SocketAddress.endpoint(sender, family: family))
    }
}
