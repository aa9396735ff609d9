import Datagram
import Foundation
import Logging
import RelayWire
import WireGuard

/// The engine's connection to one relay: its policy (`machine`), its protocol state (`proto`)
/// and its sockets, a connected UDP socket and, when the machine asks, a TCP connection
/// carrying the same frames behind their stream lengths. Touched only under the engine's lock.
final class RelayLink: RouteLink {
    var target: RelayTarget
    var machine: RelayLinkMachine
    var proto: RelayClientProtocol
    var info: InfoResponseFrame?
    /// Engine clock of the last data sent through the link.
    var lastDataSent = -Double.infinity
    /// The session under which the relay last said this member talks to too many peers through
    /// it: said once a registration, not once a packet.
    var warnedTooManyTunnels: UInt64?
    private(set) var udp: Int32 = -1
    private(set) var tcp: Int32 = -1
    private(set) var tcpConnected = false
    private var reader = StreamFrameReader()
    private var writer = StreamFrameWriter(limit: RelayLink.maxTCPBacklog)
    private let logger: Logger

    /// A TCP link buffers at most this much unsent; beyond it packets are dropped, as a full
    /// UDP socket buffer would drop them.
    static let maxTCPBacklog = 4 << 20

    init(target: RelayTarget, machine: RelayLinkMachine, proto: RelayClientProtocol, logger: Logger) {
        self.target = target
        self.machine = machine
        self.proto = proto
        self.logger = logger
    }

    var relayKey: PublicKey { target.key }
    var relayAddress: IPAddress { target.endpoint.address }
    var transport: RelayLinkMachine.Transport { machine.transport }
    var sessionID: UInt64 { proto.sessionID }
    var observedAddress: IPAddress? { proto.observedAddress?.endpoint.address }
    func isUsable(now: Double) -> Bool { machine.isUsable(now: now) }
    var registeringSince: Double? {
        if case .registering(let since, _, _) = machine.phase { since } else { nil }
    }

    /// The events to poll the TCP connection for: writable while connecting or while frames wait.
    var tcpPollEvents: Int16 { Int16(POLLIN) | (!tcpConnected || !writer.pending.isEmpty ? Int16(POLLOUT) : 0) }

    // MARK: sending

    /// Sends one whole frame over `transport`, opening its socket first if needed.
    func send(_ frame: [UInt8], over transport: RelayLinkMachine.Transport) {
        switch transport {
        case .udp:
            if udp < 0 { openUDP() }
            guard udp >= 0 else { return }
            _ = frame.withUnsafeBytes { Glibc.send(udp, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        case .tcp:
            if tcp < 0 { openTCP() }
            frame.withUnsafeBytes { queueTCP($0) }
            flushTCP()
        }
    }

    /// Queues a frame for the TCP connection; dropped beyond `maxTCPBacklog`.
    func queueTCP(_ frame: UnsafeRawBufferPointer) {
        writer.append(frame)
    }

    /// Writes what the connection takes of the queued frames.
    func flushTCP() {
        guard tcpConnected, tcp >= 0, !writer.pending.isEmpty else { return }
        let written = writer.pending.withUnsafeBytes { Glibc.send(tcp, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
        if written > 0 { writer.removeSent(written) }
    }

    // MARK: the TCP connection

    enum TCPEvent {
        /// Whole frames that arrived, in order.
        case frames([[UInt8]])
        case nothing
        /// The connection failed or broke the framing; it is closed.
        case failed
    }

    /// Handles the connection's poll events, reading into `scratch`.
    func serviceTCP(events: Int16, scratch: UnsafeMutableRawBufferPointer) -> TCPEvent {
        if !tcpConnected, events & Int16(POLLOUT | POLLERR | POLLHUP) != 0 {
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(tcp, SOL_SOCKET, SO_ERROR, &error, &length)
            guard error == 0 else { return failTCP() }
            tcpConnected = true
        }
        var event = TCPEvent.nothing
        if events & Int16(POLLIN) != 0 {
            let n = read(tcp, scratch.baseAddress, scratch.count)
            if n <= 0 {
                if n == 0 || (errno != EAGAIN && errno != EINTR) { return failTCP() }
            } else {
                reader.append(UnsafeRawBufferPointer(rebasing: scratch[0..<n]))
                // Frames are taken out of the reader before any is handled: handling one may
                // replace the connection, and with it the reader (a relay restart answered by
                // re-registering), which must not happen while the reader is being read.
                var frames: [[UInt8]] = []
                do {
                    try reader.drain { frames.append(Array($0)) }
                } catch {
                    logger.warning("relay \(target.key) over TCP: \(error)")
                    return failTCP()
                }
                event = .frames(frames)
            }
        } else if events & Int16(POLLERR | POLLHUP) != 0 {
            return failTCP()
        }
        if tcpConnected { flushTCP() }
        return event
    }

    private func failTCP() -> TCPEvent {
        closeTCP()
        return .failed
    }

    func openTCP() {
        let family = target.endpoint.address.family
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return logger.warning("relay TCP socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let rc = SocketCalls.connect(fd, family: family, to: DatagramAddress(target.endpoint))
        guard rc == 0 || errno == EINPROGRESS else {
            logger.debug("relay \(target.endpoint) over TCP: \(String(cString: strerror(errno)))")
            Glibc.close(fd)
            return
        }
        tcp = fd
        tcpConnected = rc == 0
    }

    func closeTCP() {
        if tcp >= 0 { Glibc.close(tcp) }
        tcp = -1
        tcpConnected = false
        writer.removeAll()
        reader = StreamFrameReader()
    }

    // MARK: the UDP socket

    private func openUDP() {
        let family = target.endpoint.address.family
        let fd = socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return logger.warning("relay UDP socket: \(String(cString: strerror(errno)))") }
        SocketCalls.setBufferSizes(fd, bytes: LoopbackProxySocket.bufferBytes)
        guard SocketCalls.connect(fd, family: family, to: DatagramAddress(target.endpoint)) == 0 else {
            logger.warning("relay \(target.endpoint): \(String(cString: strerror(errno)))")
            Glibc.close(fd)
            return
        }
        udp = fd
    }

    func close() {
        if udp >= 0 { Glibc.close(udp) }
        udp = -1
        closeTCP()
    }
}
