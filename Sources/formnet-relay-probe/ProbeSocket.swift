import Datagram
import Foundation
import RelayWire

/// A blocking UDP or TCP socket toward the relay, from loopback: enough for test clients that
/// send a frame and wait for the next one with a timeout.
// Each socket is used by one thread at a time; the flood check hands whole sockets to threads.
final class ProbeSocket: @unchecked Sendable {
    let fd: Int32
    let tcp: Bool
    private var stream = StreamFrameReader()
    /// Frames read off the TCP stream and not yet returned.
    private var frames: [[UInt8]] = []

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ what: String) { description = "\(what): \(String(cString: strerror(errno)))" }
    }

    /// Connected to `relay` (connect also fixes the UDP peer, so only the relay's datagrams arrive),
    /// from `source` (any port) when given.
    init(relay: RelayAddress, tcp: Bool, source: RelayAddress? = nil) throws {
        self.tcp = tcp
        let family = relay.isIPv4 ? AF_INET : AF_INET6
        fd = socket(family, Int32(tcp ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket") }
        var size: Int32 = 4 << 20
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        if let source, !SocketCalls.bind(fd, family: family, to: source) { throw Failure("bind") }
        let rc = SocketCalls.connect(fd, family: family, to: relay)
        guard rc == 0 else { throw Failure("connect") }
    }

    deinit { close(fd) }

    var localPort: UInt16 { SocketCalls.localAddress(of: fd)?.port ?? 0 }

    func send(_ frame: [UInt8]) {
        if tcp {
            var writer = StreamFrameWriter()
            _ = frame.withUnsafeBytes { writer.append($0) }
            _ = writer.pending.withUnsafeBytes { Foundation.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        } else {
            _ = frame.withUnsafeBytes { Foundation.send(fd, $0.baseAddress, $0.count, 0) }
        }
    }

    /// The next frame, or nil after `timeout` seconds.
    func receive(timeout: Double) -> [UInt8]? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if tcp, !frames.isEmpty { return frames.removeFirst() }
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { return nil }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, Int32(max(1, remaining * 1000))) > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 65_536)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { if tcp && n == 0 { return nil }; continue }
            if !tcp { return Array(buffer[0..<n]) }
            buffer.withUnsafeBytes { stream.append(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            do { try stream.drain { frames.append(Array($0)) } } catch { return nil }
        }
    }

    /// Everything that arrives within `timeout` seconds.
    func drain(timeout: Double) -> [[UInt8]] {
        var frames = [[UInt8]]()
        let deadline = Date().addingTimeInterval(timeout)
        while deadline.timeIntervalSinceNow > 0, let frame = receive(timeout: deadline.timeIntervalSinceNow) { frames.append(frame) }
        return frames
    }
}
