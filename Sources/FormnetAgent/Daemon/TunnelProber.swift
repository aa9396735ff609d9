import Datagram
import Foundation
import RelayWire
import FormnetTraversal
import Glibc
import Logging
import Synchronization
import WireGuard

/// Measures the round-trip time and loss through the tunnel of each directly connected peer, and
/// of each relayed one whose WireGuard sends through a relay channel, with ICMP echo to its
/// tunnel IP (`TunnelProbeBook` decides when and files the outcomes): real traffic over the path
/// WireGuard is using, crypto included, which the connection cache scores and the path watches
/// (`ProbedPathWatch`) read.
///
/// Raw ICMP sockets (CAP_NET_RAW) bound to the interface, on a thread of their own, so that a
/// reply is timed when it arrives rather than at the fetch loop's next tick.
final class TunnelProber: Sendable {
    private struct Shared {
        var targets: [TunnelProbeBook.Target] = []
        var outcomes: [TunnelProbeBook.Outcome] = []
        var stopped = false
    }

    /// Bounds what waits for the fetch loop if it stalls.
    static let maxQueuedOutcomes = 1024

    private let shared = Mutex(Shared())
    private let ipv4: Int32
    private let ipv6: Int32
    /// A pipe that wakes the probing thread when a target turns urgent: it waits up to half a
    /// second between deadlines, and that wait came on top of the 3 s a dead path takes to find.
    private let wake: (read: Int32, write: Int32)
    private let identifier = UInt16.random(in: 1...UInt16.max)

    /// Nil, after a warning, when no raw ICMP socket can be opened (no CAP_NET_RAW): the cache
    /// then scores endpoints by handshakes alone.
    init?(interface: String, interval: Double, logger: Logger) {
        ipv4 = Self.openRaw(family: AF_INET, protocol: Int32(IPPROTO_ICMP), interface: interface)
        ipv6 = Self.openRaw(family: AF_INET6, protocol: Int32(IPPROTO_ICMPV6), interface: interface)
        guard ipv4 >= 0 || ipv6 >= 0 else {
            let reason = String(cString: strerror(errno))
            logger.warning("\(interface): no RTT or loss measurement through the tunnel: raw ICMP socket on the interface: \(reason) (needs CAP_NET_RAW)")
            return nil
        }
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) == 0 {
            for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        }
        wake = (fds[0], fds[1])
        let book = TunnelProbeBook(interval: interval)
        Thread.detachNewThread { [self] in run(book) }
    }

    deinit {
        for fd in [ipv4, ipv6, wake.read, wake.write] where fd >= 0 { close(fd) }
    }

    func setTargets(_ targets: [TunnelProbeBook.Target]) {
        let newlyUrgent = shared.withLock { state in
            let before = Set(state.targets.filter(\.urgent).map(\.peer))
            state.targets = targets
            return targets.contains { $0.urgent && !before.contains($0.peer) }
        }
        if newlyUrgent, wake.write >= 0 {
            var byte: UInt8 = 1
            _ = write(wake.write, &byte, 1)
        }
    }

    /// The outcomes since the last call.
    func drain() -> [TunnelProbeBook.Outcome] {
        shared.withLock { state in
            defer { state.outcomes = [] }
            return state.outcomes
        }
    }

    func stop() { shared.withLock { $0.stopped = true } }

    private func run(_ initial: TunnelProbeBook) {
        var book = initial
        var buffer = [UInt8](repeating: 0, count: 1500)
        while true {
            let (targets, stopped) = shared.withLock { ($0.targets, $0.stopped) }
            if stopped { return }
            let now = RelayClock.monotonicSeconds()
            for (target, sequence) in book.due(targets, now: now) {
                send(ICMPEcho(identifier: identifier, sequence: sequence), to: target.address)
            }
            var outcomes = book.expire(now: now)
            let wait = min(0.5, max(0.01, (book.nextDeadline(targets) ?? now + 0.5) - now))
            var polled = [ipv4, ipv6, wake.read].filter { $0 >= 0 }.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if poll(&polled, nfds_t(polled.count), Int32(wait * 1000)) > 0 {
                for entry in polled where entry.revents & Int16(POLLIN) != 0 {
                    if entry.fd == wake.read {
                        while read(wake.read, &buffer, buffer.count) > 0 {}
                    } else {
                        outcomes += receive(on: entry.fd, into: &buffer, book: &book)
                    }
                }
            }
            if !outcomes.isEmpty {
                shared.withLock { state in
                    state.outcomes = Array((state.outcomes + outcomes).suffix(Self.maxQueuedOutcomes))
                }
            }
        }
    }

    private func send(_ echo: ICMPEcho, to address: IPAddress) {
        let fd = address.isIPv4 ? ipv4 : ipv6
        guard fd >= 0 else { return }
        let datagram = echo.request(ipv6: !address.isIPv4)
        let family = address.isIPv4 ? AF_INET : AF_INET6
        // A failed send (no route yet) is a probe that will time out: nothing else to do.
        _ = datagram.withUnsafeBytes {
            SocketCalls.send($0, to: DatagramAddress(Endpoint(address: address, port: 0)), family: family, on: fd, flags: Int32(MSG_DONTWAIT))
        }
    }

    /// Reads every datagram waiting on `fd`; raw sockets see all ICMP on the interface, so
    /// anything but a reply to this prober is skipped.
    private func receive(on fd: Int32, into buffer: inout [UInt8], book: inout TunnelProbeBook) -> [TunnelProbeBook.Outcome] {
        var outcomes: [TunnelProbeBook.Outcome] = []
        while true {
            let (count, from) = buffer.withUnsafeMutableBytes { SocketCalls.receive(into: $0, on: fd, flags: Int32(MSG_DONTWAIT)) }
            guard count > 0 else { return outcomes }
            let now = RelayClock.monotonicSeconds()
            guard let from,
                  let echo = ICMPEcho.reply(in: Array(buffer.prefix(count)), ipv6: fd == ipv6),
                  echo.identifier == identifier,
                  let outcome = book.reply(sequence: echo.sequence, from: SocketAddress.endpoint(from, family: fd == ipv6 ? AF_INET6 : AF_INET).address, now: now) else { continue }
            outcomes.append(outcome)
        }
    }

    private static func openRaw(family: Int32, protocol: Int32, interface: String) -> Int32 {
        let fd = socket(family, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), `protocol`)
        guard fd >= 0 else { return -1 }
        let bound = interface.withCString { name in
            setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, socklen_t(strlen(name) + 1))
        }
        guard bound == 0 else {
            close(fd)
            return -1
        }
        return fd
    }
}
