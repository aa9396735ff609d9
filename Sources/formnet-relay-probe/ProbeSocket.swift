import Foundation
import FormnetRelay

/// A blocking UDP or TCP socket toward the relay, from loopback: enough for test clients that
/// send a frame and wait for the next one with a timeout.
// Each socket is used by one thread at a time; the flood check hands whole sockets to threads.
final class ProbeSocket: @unchecked Sendable {
    let fd: Int32
    let tcp: Bool
    private var stream: [UInt8] = []

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ what: String) { description = "\(what): \(String(cString: strerror(errno)))" }
    }

    /// Connected to `relay` (connect also fixes the UDP peer, so only the relay's datagrams arrive).
    init(relay: RelayAddress, tcp: Bool) throws {
        self.tcp = tcp
        let family = relay.isIPv4 ? AF_INET : AF_INET6
        fd = socket(family, Int32(tcp ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket") }
        var size: Int32 = 4 << 20
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var storage = sockaddr_storage()
        let length: socklen_t
        if relay.isIPv4 {
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = relay.port.bigEndian
            sin.sin_addr.s_addr = UInt32(truncatingIfNeeded: relay.low).bigEndian
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: sin, as: sockaddr_in.self) }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
        } else {
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = relay.port.bigEndian
            withUnsafeMutableBytes(of: &sin6.sin6_addr) {
                $0.storeBytes(of: relay.high.bigEndian, toByteOffset: 0, as: UInt64.self)
                $0.storeBytes(of: relay.low.bigEndian, toByteOffset: 8, as: UInt64.self)
            }
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: sin6, as: sockaddr_in6.self) }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        }
        let rc = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) } }
        guard rc == 0 else { throw Failure("connect") }
    }

    deinit { close(fd) }

    var localPort: UInt16 {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return withUnsafeBytes(of: &storage) { raw in
            UInt16(bigEndian: raw.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
        }
    }

    func send(_ frame: [UInt8]) {
        if tcp {
            var prefixed = [UInt8(frame.count >> 8), UInt8(frame.count & 0xFF)]
            prefixed.append(contentsOf: frame)
            _ = prefixed.withUnsafeBytes { Foundation.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        } else {
            _ = frame.withUnsafeBytes { Foundation.send(fd, $0.baseAddress, $0.count, 0) }
        }
    }

    /// The next frame, or nil after `timeout` seconds.
    func receive(timeout: Double) -> [UInt8]? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if tcp, let frame = takeStreamFrame() { return frame }
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { return nil }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, Int32(max(1, remaining * 1000))) > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 65_536)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { if tcp && n == 0 { return nil }; continue }
            if !tcp { return Array(buffer[0..<n]) }
            stream.append(contentsOf: buffer[0..<n])
        }
    }

    /// Everything that arrives within `timeout` seconds.
    func drain(timeout: Double) -> [[UInt8]] {
        var frames = [[UInt8]]()
        let deadline = Date().addingTimeInterval(timeout)
        while deadline.timeIntervalSinceNow > 0, let frame = receive(timeout: deadline.timeIntervalSinceNow) { frames.append(frame) }
        return frames
    }

    private func takeStreamFrame() -> [UInt8]? {
        guard stream.count >= 2 else { return nil }
        let length = Int(stream[0]) << 8 | Int(stream[1])
        guard stream.count >= 2 + length else { return nil }
        let frame = Array(stream[2..<2 + length])
        stream.removeFirst(2 + length)
        return frame
    }
}
