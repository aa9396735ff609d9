import ArgumentParser
import Datagram
import Foundation
import RelayWire
import WireGuard

/// A hostile TCP client: many connections from one source address that never register, and
/// either flood pings without reading the pongs, send nothing, or trickle one frame a byte at a
/// time. It measures how many connections the relay let it hold and when the relay closed them.
struct TCPAttack: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tcp-attack",
        abstract: "Hold TCP connections to the relay from one source address; check the relay's bounds.")

    enum Mode: String, ExpressibleByArgument, CaseIterable {
        /// Session-0 pings as fast as the socket takes them; the pongs are never read.
        case pings
        /// Nothing at all after connecting.
        case silent
        /// Registered first, then one frame a byte a second, never finished.
        case trickle
    }

    @OptionGroup var options: RelayOptions
    @Option(help: "pings, silent or trickle.") var mode: Mode = .pings
    @Option(help: "Connections to open.") var connections = 8
    @Option(help: "Source IPv4 address to connect from (any loopback address works).") var from = "127.0.0.1"
    @Option(help: "Seconds to keep attacking.") var seconds = 12.0
    @Option(help: "Pass only if at most this many connections are still open 2 s after opening.") var maxHeld: Int?
    @Option(help: "Pass only if the relay closed every held connection within this many seconds.") var closedWithin: Double?

    func run() throws {
        let (relay, relayKey) = try options.resolved()
        guard relay.isIPv4, let source = IPAddress(from), source.isIPv4 else { throw ValidationError("--relay and --from: IPv4 addresses") }
        let start = Date()
        var sockets: [Int32] = []
        var registered: [ProbeClient] = []
        for _ in 0..<connections where mode == .trickle {
            let client = try ProbeClient(relay: relay, relayKey: relayKey, tcp: true,
                                         source: DatagramAddress(Endpoint(address: source, port: 0)))
            try client.register()
            _ = fcntl(client.socket.fd, F_SETFL, fcntl(client.socket.fd, F_GETFL) | O_NONBLOCK)
            sockets.append(client.socket.fd)
            registered.append(client)
        }
        for _ in 0..<(mode == .trickle ? 0 : connections) {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0,
                  SocketCalls.bind(fd, family: AF_INET, to: DatagramAddress(Endpoint(address: source, port: 0))),
                  SocketCalls.connect(fd, family: AF_INET, to: relay) == 0 else {
                throw ValidationError("connect from \(from): \(String(cString: strerror(errno)))")
            }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            sockets.append(fd)
        }
        defer { sockets.dropFirst(registered.count).forEach { close($0) } }
        var closedAt = [Double?](repeating: nil, count: sockets.count)
        let pings = Self.pingBatch()
        var pingsSent = 0
        var lastTrickle = -1.0
        var trickled = 0
        while true {
            let now = Date().timeIntervalSince(start)
            if now >= seconds || closedAt.allSatisfy({ $0 != nil }) { break }
            let trickleNow = mode == .trickle && now - lastTrickle >= 1
            if trickleNow { lastTrickle = now }
            var polled = sockets.map { pollfd(fd: $0, events: Self.pollReadHangUp | (mode == .pings ? Int16(POLLOUT) : 0), revents: 0) }
            _ = poll(&polled, nfds_t(polled.count), 50)
            for (index, entry) in polled.enumerated() where closedAt[index] == nil {
                if entry.revents & (Self.pollReadHangUp | Int16(POLLHUP) | Int16(POLLERR)) != 0 {
                    closedAt[index] = Date().timeIntervalSince(start)
                    continue
                }
                if mode == .pings, entry.revents & Int16(POLLOUT) != 0 {
                    let sent = pings.withUnsafeBytes { send(entry.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
                    if sent > 0 { pingsSent += sent / (StreamFrameWriter.prefixLength + EchoFrame.length) }
                }
                // A ping frame a byte a second, its last byte never: the frame stays unfinished.
                if trickleNow, trickled < StreamFrameWriter.prefixLength + EchoFrame.length - 1 {
                    let byte = pings[trickled]
                    _ = withUnsafeBytes(of: byte) { send(entry.fd, $0.baseAddress, 1, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
                }
            }
            if trickleNow { trickled += 1 }
        }
        let refused = closedAt.filter { ($0 ?? .infinity) < 2 }.count
        let held = sockets.count - refused
        let heldClosedAt = closedAt.compactMap { $0 }.filter { $0 >= 2 }
        let stillOpen = closedAt.filter { $0 == nil }.count
        var message = String(format: "from %@, %@: %d connections, %d closed within 2 s, %d held", from, mode.rawValue,
                             sockets.count, refused, held)
        message += stillOpen > 0 ? String(format: ", %d still open after %.0f s", stillOpen, seconds)
                                 : String(format: ", the last closed by the relay at %.1f s", heldClosedAt.max() ?? 0)
        if mode == .pings { message += ", \(pingsSent) pings sent" }
        var ok = true
        if let maxHeld, held > maxHeld {
            ok = false
            message += " (at most \(maxHeld) expected)"
        }
        if let closedWithin, stillOpen > 0 || (heldClosedAt.max() ?? 0) > closedWithin {
            ok = false
            message += String(format: " (all closed within %.0f s expected)", closedWithin)
        }
        try verdict(ok, message)
    }

    /// POLLRDHUP (the peer closed its side), which Glibc's module leaves out: it is a GNU extension.
    static let pollReadHangUp: Int16 = 0x2000

    /// 256 framed session-0 pings, ready to send.
    static func pingBatch() -> [UInt8] {
        var writer = StreamFrameWriter()
        for echo in 0..<256 {
            _ = EchoFrame.ping(sessionID: 0, echo: UInt64(echo)).encode().withUnsafeBytes { writer.append($0) }
        }
        return writer.pending
    }
}

/// A client registered over TCP that stops reading while another sends to it: the relay must
/// drop what it cannot queue for it and close it, not buffer without end.
struct SlowReader: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slow-reader",
        abstract: "A TCP client that never reads what is sent to it is closed; the relay's queue for it stays bounded.")
    @OptionGroup var options: RelayOptions
    @Option(help: "Frames per second the sender sends to the slow reader.") var rate = 5_000
    @Option(help: "Seconds to keep sending.") var seconds = 25.0
    @Option(help: "Pass only if the relay closed the reader within this many seconds.") var closedWithin = 25.0

    func run() throws {
        let sender = try options.client()
        let reader = try options.client(tcp: true)
        try sender.register()
        try reader.register()
        let start = Date()
        var closedAt: Double?
        var sent = 0
        paced(rate: rate, seconds: seconds) { i in
            guard closedAt == nil else { return }
            sender.send(payload(0x51, i, size: 1000), to: reader.publicKey)
            sent += 1
            if i % 100 == 0 {
                var polled = pollfd(fd: reader.socket.fd, events: TCPAttack.pollReadHangUp, revents: 0)
                if poll(&polled, 1, 0) > 0, polled.revents & (TCPAttack.pollReadHangUp | Int16(POLLHUP) | Int16(POLLERR)) != 0 {
                    closedAt = Date().timeIntervalSince(start)
                }
            }
        }
        let message = closedAt.map { String(format: "slow reader closed by the relay at %.1f s; %d frames of 1000 bytes sent to it", $0, sent) }
            ?? String(format: "slow reader still open after %.0f s; %d frames sent to it", seconds, sent)
        try verdict((closedAt ?? .infinity) <= closedWithin, message)
    }
}
