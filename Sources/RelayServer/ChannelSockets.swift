import CEpoll
import Datagram
import Foundation
import Logging
import NIOConcurrencyHelpers
import RelayWire
import Synchronization

/// The sockets behind the relay's channels and the thread that forwards what arrives on them.
///
/// One epoll set holds every channel socket. For each ready socket the loop takes a batch with
/// recvmmsg into preallocated slots, leaving the first `RelayWire.dataHeaderLength` bytes of
/// each slot free so a packet for a peer without a channel becomes a data frame in place,
/// decides the whole batch under one acquisition of the state lock, and sends runs of packets
/// bound for the same socket with one sendmmsg each — the loop of `UDPRelaySocket`, with one
/// more socket per channel.
public final class ChannelSockets: ChannelPorts {
    static let batchSize = 64
    static let socketBufferBytes: Int32 = 4 << 20
    /// A closed channel's descriptor is released this long after: a thread that read it under
    /// the state lock may still be sending on it, and the number must not name a new socket by then.
    static let closeGraceSeconds = 1.0

    private let epoll: Int32
    private let family: Int32
    private let bindAddress: RelayAddress
    private let ports: ClosedRange<UInt16>
    private let pendingClose = Mutex<[(descriptor: Int32, at: Double)]>([])
    private let stopping = Atomic<Bool>(false)

    /// Channel sockets bind the main socket's address and family, on a free port of `ports`.
    public init(like main: UDPRelaySocket, ports: ClosedRange<UInt16>) throws {
        let fd = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard fd >= 0 else { throw RelaySocketError("epoll_create1") }
        epoll = fd
        family = main.family
        bindAddress = RelayAddress(high: main.bindAddress.high, low: main.bindAddress.low, port: 0)
        self.ports = ports
    }

    deinit {
        for (descriptor, _) in pendingClose.withLock({ $0 }) { Glibc.close(descriptor) }
        Glibc.close(epoll)
    }

    public func open() -> (descriptor: Int32, port: UInt16)? {
        let fd = socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        var off: Int32 = 0
        if family == AF_INET6 { setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &off, socklen_t(MemoryLayout<Int32>.size)) }
        SocketCalls.setBufferSizes(fd, bytes: Self.socketBufferBytes)
        guard let port = bindFreePort(fd) else {
            Glibc.close(fd)
            return nil
        }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.fd = fd
        guard epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) == 0 else {
            Glibc.close(fd)
            return nil
        }
        return (fd, port)
    }

    /// A free port of the range, found from a random one on: a port a stranger cannot guess
    /// from the ones it was given.
    private func bindFreePort(_ fd: Int32) -> UInt16? {
        let count = Int(ports.upperBound) - Int(ports.lowerBound) + 1
        let start = Int.random(in: 0..<count)
        for step in 0..<count {
            var address = bindAddress
            address.port = UInt16(Int(ports.lowerBound) + (start + step) % count)
            if SocketCalls.bind(fd, family: family, to: address) { return address.port }
        }
        return nil
    }

    public func close(_ descriptor: Int32) {
        var unused = epoll_event()
        epoll_ctl(epoll, EPOLL_CTL_DEL, descriptor, &unused)
        pendingClose.withLock { $0.append((descriptor, RelayClock.monotonicSeconds())) }
    }

    public func stop() { stopping.store(true, ordering: .relaxed) }

    private func releaseClosed(force: Bool = false) {
        let now = RelayClock.monotonicSeconds()
        let due = pendingClose.withLock { pending -> [Int32] in
            let due = pending.filter { force || now - $0.at >= Self.closeGraceSeconds }.map(\.descriptor)
            pending.removeAll { force || now - $0.at >= Self.closeGraceSeconds }
            return due
        }
        for descriptor in due { Glibc.close(descriptor) }
    }

    /// Runs until `stop()`; call on a dedicated thread. Data frames for peers without a channel
    /// leave through `main`; those for TCP registrations go to `toTCP`.
    public func runForwardingLoop(state: NIOLockedValueBox<RelayState>, main: UDPRelaySocket,
                                  toTCP: @escaping (UInt64, UnsafeRawBufferPointer) -> Bool, logger: Logger) {
        guard let batch = ForwardingBatch(capacity: Self.batchSize, family: family, toTCP: toTCP) else {
            logger.critical("recvmmsg/sendmmsg not found in the C library")
            return
        }
        let headerLength = DataFrameHeader.length
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: Self.batchSize)
        events.initialize(repeating: epoll_event(), count: Self.batchSize)
        defer {
            events.deallocate()
            releaseClosed(force: true)
        }
        while !stopping.load(ordering: .relaxed) {
            releaseClosed()
            let ready = Int(epoll_wait(epoll, events, Int32(Self.batchSize), 200))
            guard ready > 0 else { continue }
            for e in 0..<ready {
                let fd = events[e].data.fd
                var received = Self.batchSize
                // A socket is read until it has less than a batch queued, so one busy channel
                // cannot wait behind the epoll round of all the others.
                while received == Self.batchSize {
                    // Each packet lands after a data header's room, so a packet for a peer without a
                    // channel becomes a data frame in place.
                    received = batch.datagrams.receive(on: fd, offset: headerLength, flags: Int32(MSG_DONTWAIT))
                    guard received > 0 else { break }
                    let now = RelayClock.now()
                    batch.forward(received, state: state) { state, slot, length, source in
                        switch state.handleChannelPacket(slot, length: length, descriptor: fd, from: source, now: now) {
                        case .drop, .consumed, .reply: return .none
                        case .forwardRaw(let out, let address, let n): return .udp(socket: out, to: address, start: headerLength, length: n)
                        case .forward(.udp(let address), let n): return .udp(socket: main.descriptor, to: address, start: 0, length: n)
                        case .forward(.tcp(let connection, _), let n): return .tcp(connection: connection, length: n)
                        }
                    }
                }
            }
        }
    }
}
