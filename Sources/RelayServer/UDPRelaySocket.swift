import Datagram
import Foundation
import Logging
import NIOConcurrencyHelpers
import RelayWire
import Synchronization

public struct RelaySocketError: Error, CustomStringConvertible {
    public let description: String
    init(_ what: String) { description = "\(what): \(String(cString: strerror(errno)))" }
}

/// The relay's UDP socket and its forwarding loop: one dedicated thread doing recvmmsg into
/// preallocated buffers, handling the whole batch under one acquisition of the state lock, and
/// sending the results with sendmmsg straight from the buffers they arrived in. Nothing is
/// allocated per datagram unless it goes to a TCP client or is a control answer.
public final class UDPRelaySocket: Sendable {
    public static let batchSize = 64
    public static let socketBufferBytes: Int32 = 8 << 20

    public let descriptor: Int32
    public let family: Int32
    /// The address bound (the port as asked, 0 for any); channel sockets bind the same address.
    public let bindAddress: RelayAddress
    private let stopping = Atomic<Bool>(false)

    /// Binds [::]:port dual-stack (IPv4 clients appear as ::ffff:a.b.c.d), or 0.0.0.0:port when
    /// the host has no IPv6. `host` narrows it (tests bind loopback).
    public init(port: UInt16, host: String? = nil) throws {
        let v6 = host.map { $0.contains(":") } ?? true
        var fd = socket(v6 ? AF_INET6 : AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var family = v6 ? AF_INET6 : AF_INET
        if fd < 0, host == nil {
            fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            family = AF_INET
        }
        guard fd >= 0 else { throw RelaySocketError("socket") }
        var off: Int32 = 0
        if family == AF_INET6 { setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &off, socklen_t(MemoryLayout<Int32>.size)) }
        SocketCalls.setBufferSizes(fd, bytes: Self.socketBufferBytes)
        // A receive timeout lets the loop notice shutdown without another wake-up mechanism.
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let bindAddress = host.flatMap { IPAddressText.relayAddress($0, port: port) } ?? RelayAddress(high: 0, low: 0, port: port)
        guard SocketCalls.bind(fd, family: family, to: bindAddress) else {
            let error = RelaySocketError("bind UDP port \(port)")
            close(fd)
            throw error
        }
        descriptor = fd
        self.family = family
        self.bindAddress = bindAddress
    }

    public var boundPort: UInt16 { SocketCalls.localAddress(of: descriptor)?.port ?? 0 }

    /// One datagram, from any thread: the TCP side and the announcer use it. The kernel
    /// serialises sends on a socket, so this needs no coordination with the loop.
    @discardableResult
    public func send(_ frame: UnsafeRawBufferPointer, to address: RelayAddress) -> Bool {
        SocketCalls.send(frame, to: address, family: family, on: descriptor)
    }

    public func stop() { stopping.store(true, ordering: .relaxed) }

    deinit { close(descriptor) }

    /// Runs until `stop()`; call on a dedicated thread. `toTCP` receives frames whose destination
    /// is a TCP registration.
    public func runForwardingLoop(state: NIOLockedValueBox<RelayState>, toTCP: @escaping (UInt64, UnsafeRawBufferPointer) -> Bool,
                                  logger: Logger) {
        guard let batch = ForwardingBatch(capacity: Self.batchSize, family: family, toTCP: toTCP) else {
            logger.critical("recvmmsg/sendmmsg not found in the C library")
            return
        }
        let (descriptor, family) = (descriptor, family)
        while !stopping.load(ordering: .relaxed) {
            let received = batch.datagrams.receive(on: descriptor, flags: DatagramBatch.waitForOne)
            if received == 0 { continue }
            let now = RelayClock.now()
            batch.forward(received, state: state) { state, slot, length, source in
                switch state.handle(slot, length: length, from: .udp(source), observed: source, now: now) {
                case .drop, .consumed: return .none
                case .reply(let n): return .udp(socket: descriptor, to: source, start: 0, length: n)
                case .forward(.udp(let address), let n): return .udp(socket: descriptor, to: address, start: 0, length: n)
                case .forward(.tcp(let connection, _), let n): return .tcp(connection: connection, length: n)
                case .forwardRaw(let socket, let address, let n):
                    // A data frame for a peer whose WireGuard uses a channel: rare on this
                    // socket (senders on channels send there), so one datagram at a time.
                    let packet = UnsafeRawBufferPointer(start: slot.baseAddress! + DataFrameHeader.length, count: n)
                    if !SocketCalls.send(packet, to: address, family: family, on: socket) { state.countSendFailure() }
                    return .none
                }
            }
        }
    }
}
