import Foundation
import Logging
import NIOConcurrencyHelpers
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
        Self.sizeBuffers(fd)
        // A receive timeout lets the loop notice shutdown without another wake-up mechanism.
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let bindAddress = host.flatMap { IPAddressText.relayAddress($0, port: port) } ?? RelayAddress(high: 0, low: 0, port: port)
        guard Self.bind(fd, family: family, to: bindAddress) else {
            let error = RelaySocketError("bind UDP port \(port)")
            close(fd)
            throw error
        }
        descriptor = fd
        self.family = family
        self.bindAddress = bindAddress
    }

    /// Binds `fd` to `address`; an all-zero address is the wildcard of the family.
    static func bind(_ fd: Int32, family: Int32, to address: RelayAddress) -> Bool {
        var storage = sockaddr_storage()
        let length = withUnsafeMutableBytes(of: &storage) { raw -> socklen_t? in
            if family == AF_INET, address.high == 0, address.low == 0 {
                var sin = sockaddr_in()
                sin.sin_family = sa_family_t(AF_INET)
                sin.sin_port = address.port.bigEndian
                raw.baseAddress?.storeBytes(of: sin, as: sockaddr_in.self)
                return socklen_t(MemoryLayout<sockaddr_in>.size)
            }
            return raw.baseAddress.flatMap { SocketAddressConversion.write(address, family: family, to: $0) }
        }
        guard let length else { return false }
        return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, length) } } == 0
    }

    /// Explicit, large socket buffers: the default (about 200 KiB) overflows within a millisecond
    /// at the rates a relay forwards. SO_*BUFFORCE passes the sysctl cap when running as root.
    static func sizeBuffers(_ fd: Int32, bytes: Int32 = socketBufferBytes) {
        var size = bytes
        let length = socklen_t(MemoryLayout<Int32>.size)
        if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, length) != 0 { setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, length) }
        if setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, length) != 0 { setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, length) }
    }

    public var boundPort: UInt16 {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) } }
        return withUnsafeBytes(of: &storage) { $0.baseAddress.flatMap { SocketAddressConversion.relayAddress(from: $0) }?.port } ?? 0
    }

    /// One datagram, from any thread: the TCP side and the announcer use it. The kernel
    /// serialises sends on a socket, so this needs no coordination with the loop.
    @discardableResult
    public func send(_ frame: UnsafeRawBufferPointer, to address: RelayAddress) -> Bool {
        Self.send(frame, to: address, family: family, on: descriptor)
    }

    /// One datagram on any of the relay's UDP sockets (the main one or a channel's, which share its family).
    @discardableResult
    static func send(_ frame: UnsafeRawBufferPointer, to address: RelayAddress, family: Int32, on descriptor: Int32) -> Bool {
        var storage = sockaddr_storage()
        return withUnsafeMutableBytes(of: &storage) { raw -> Bool in
            guard let base = raw.baseAddress, let length = SocketAddressConversion.write(address, family: family, to: base) else { return false }
            return sendto(descriptor, frame.baseAddress, frame.count, 0, base.assumingMemoryBound(to: sockaddr.self), length) == frame.count
        }
    }

    public func stop() { stopping.store(true, ordering: .relaxed) }

    deinit { close(descriptor) }

    /// Runs until `stop()`; call on a dedicated thread. `toTCP` receives frames whose destination
    /// is a TCP registration.
    public func runForwardingLoop(state: NIOLockedValueBox<RelayState>, toTCP: @escaping (UInt64, UnsafeRawBufferPointer) -> Bool,
                                  logger: Logger) {
        guard let receive = BatchedDatagramIO.receive, let send = BatchedDatagramIO.send else {
            logger.critical("recvmmsg/sendmmsg not found in the C library")
            return
        }
        let batch = Self.batchSize
        let frameSize = RelayWire.maxFrame
        let buffers = UnsafeMutableRawBufferPointer.allocate(byteCount: batch * frameSize, alignment: 16)
        let receiveNames = UnsafeMutablePointer<sockaddr_storage>.allocate(capacity: batch)
        let receiveVectors = UnsafeMutablePointer<iovec>.allocate(capacity: batch)
        let receiveHeaders = UnsafeMutablePointer<MultipleMessageHeader>.allocate(capacity: batch)
        let sendNames = UnsafeMutablePointer<sockaddr_storage>.allocate(capacity: batch)
        let sendVectors = UnsafeMutablePointer<iovec>.allocate(capacity: batch)
        let sendHeaders = UnsafeMutablePointer<MultipleMessageHeader>.allocate(capacity: batch)
        defer {
            buffers.deallocate()
            receiveNames.deallocate(); receiveVectors.deallocate(); receiveHeaders.deallocate()
            sendNames.deallocate(); sendVectors.deallocate(); sendHeaders.deallocate()
        }
        receiveNames.initialize(repeating: sockaddr_storage(), count: batch)
        sendNames.initialize(repeating: sockaddr_storage(), count: batch)
        sendVectors.initialize(repeating: iovec(), count: batch)
        sendHeaders.initialize(repeating: MultipleMessageHeader(), count: batch)
        for i in 0..<batch {
            receiveVectors[i] = iovec(iov_base: buffers.baseAddress! + i * frameSize, iov_len: frameSize)
        }
        receiveHeaders.initialize(repeating: MultipleMessageHeader(), count: batch)

        var tcpFrames: [(connection: UInt64, slot: Int, length: Int)] = []
        tcpFrames.reserveCapacity(batch)
        var sendFailures = 0
        while !stopping.load(ordering: .relaxed) {
            for i in 0..<batch {
                receiveHeaders[i].header.msg_name = UnsafeMutableRawPointer(receiveNames + i)
                receiveHeaders[i].header.msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
                receiveHeaders[i].header.msg_iov = receiveVectors + i
                receiveHeaders[i].header.msg_iovlen = 1
            }
            let received = Int(receive(descriptor, receiveHeaders, UInt32(batch), BatchedDatagramIO.waitForOne, nil))
            if received <= 0 { continue }
            let now = RelayClock.now()
            var toSend = 0
            tcpFrames.removeAll(keepingCapacity: true)
            state.withLockedValue { state in
                for _ in 0..<sendFailures { state.countSendFailure() }
                for i in 0..<received {
                    guard let source = SocketAddressConversion.relayAddress(from: receiveNames + i) else { continue }
                    let slot = UnsafeMutableRawBufferPointer(start: buffers.baseAddress! + i * frameSize, count: frameSize)
                    let destination: RelayAddress
                    let length: Int
                    switch state.handle(slot, length: Int(receiveHeaders[i].length), from: .udp(source), observed: source, now: now) {
                    case .drop, .consumed: continue
                    case .reply(let n): (destination, length) = (source, n)
                    case .forward(.udp(let address), let n): (destination, length) = (address, n)
                    case .forward(.tcp(let connection, _), let n):
                        tcpFrames.append((connection, i, n))
                        continue
                    case .forwardRaw(let socket, let address, let n):
                        // A data frame for a peer whose WireGuard uses a channel: rare on this
                        // socket (senders on channels send there), so one datagram at a time.
                        let packet = UnsafeRawBufferPointer(start: slot.baseAddress! + DataFrameHeader.length, count: n)
                        if !Self.send(packet, to: address, family: family, on: socket) { state.countSendFailure() }
                        continue
                    }
                    guard let nameLength = SocketAddressConversion.write(destination, family: family, to: sendNames + toSend) else {
                        state.countSendFailure()
                        continue
                    }
                    sendVectors[toSend] = iovec(iov_base: slot.baseAddress, iov_len: length)
                    sendHeaders[toSend].header.msg_name = UnsafeMutableRawPointer(sendNames + toSend)
                    sendHeaders[toSend].header.msg_namelen = nameLength
                    sendHeaders[toSend].header.msg_iov = sendVectors + toSend
                    sendHeaders[toSend].header.msg_iovlen = 1
                    toSend += 1
                }
            }
            sendFailures = 0
            var sent = 0
            while sent < toSend {
                let n = Int(send(descriptor, sendHeaders + sent, UInt32(toSend - sent), 0))
                if n > 0 {
                    sent += n
                } else if errno != EINTR {
                    // The first message failed (unreachable destination, full buffer): skip it, keep the rest.
                    sendFailures += 1
                    sent += 1
                }
            }
            for (connection, slot, length) in tcpFrames {
                let frame = UnsafeRawBufferPointer(start: buffers.baseAddress! + slot * frameSize, count: length)
                if !toTCP(connection, frame) { sendFailures += 1 }
            }
        }
    }
}
