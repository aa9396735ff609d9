import Datagram
import Glibc
import Logging
import NIOConcurrencyHelpers
import NIOCore
import RelayWire

/// One TCP client: reads its frames off the stream into `RelayState`, writes the answers and
/// the frames forwarded to it, and closes it when it breaks a bound of `TCPRelayServer.Limits`.
final class RelayTCPConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let connection: UInt64
    private let peer: RelayAddress
    private let limits: TCPRelayServer.Limits
    private let state: NIOLockedValueBox<RelayState>
    private let udp: UDPRelaySocket
    private let connections: NIOLockedValueBox<[UInt64: Channel]>
    private let logger: Logger
    private var reader = StreamFrameReader()
    /// Set once the connection is being closed: what still arrives before the close is ignored.
    private var closing = false
    private var closeReason: RelayCounters.TCPClose?
    private var openedAt = NIODeadline.now()
    private var lastReadAt = NIODeadline.now()
    private var registered = false
    /// When the unfinished frame now in `reader` began.
    private var partialSince: NIODeadline?
    /// When the client's unread output went past the high-water mark.
    private var unwritableSince: NIODeadline?
    private var check: Scheduled<Void>?
    /// Reading paused until then: the client sent past its source's frame rate.
    private var throttledUntil: NIODeadline?
    private var resume: Scheduled<Void>?
    /// Answers written during the read being handled, flushed after it.
    private var unflushed = false
    /// One frame-sized scratch buffer per connection, reused for every frame on it.
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: RelayWire.maxFrame, alignment: 16)

    init(connection: UInt64, peer: RelayAddress, limits: TCPRelayServer.Limits, state: NIOLockedValueBox<RelayState>,
         udp: UDPRelaySocket, connections: NIOLockedValueBox<[UInt64: Channel]>, logger: Logger) {
        self.connection = connection
        self.peer = peer
        self.limits = limits
        self.state = state
        self.udp = udp
        self.connections = connections
        self.logger = logger
    }

    deinit { scratch.deallocate() }

    func channelActive(context: ChannelHandlerContext) {
        openedAt = .now()
        lastReadAt = openedAt
        let channel = context.channel
        connections.withLockedValue { $0[connection] = channel }
        state.withLockedValue { $0.tcpConnectionOpened() }
        scheduleCheck(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        check?.cancel()
        resume?.cancel()
        connections.withLockedValue { $0[connection] = nil }
        let (id, reason) = (connection, closeReason)
        state.withLockedValue { $0.tcpConnectionClosed(id, reason: reason) }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        lastReadAt = .now()
        let bytes = Self.unwrapInboundIn(data)
        bytes.withUnsafeReadableBytes { reader.append($0) }
        var rateLimited = false
        do {
            // The rest of a read that went past the rate is dropped unread: handling each frame
            // would cost the lock and the checks only to drop it for the same reason.
            try reader.drain { frame in
                guard !rateLimited else { return }
                rateLimited = handle(frame, context: context)
            }
        } catch {
            state.withLockedValue { $0.countMalformed() }
            close(context: context, reason: .malformed, detail: "\(error)")
            return
        }
        if reader.pending == 0 {
            partialSince = nil
        } else if partialSince == nil {
            partialSince = lastReadAt
        }
        if unflushed {
            unflushed = false
            context.flush()
        }
        if rateLimited { throttle(context: context) }
    }

    /// Stops reading from a client that sends faster than its source may for `throttle`: its
    /// frames wait in the kernel and TCP slows it down, instead of the relay's one TCP thread
    /// reading and dropping them while other clients wait.
    private func throttle(context: ChannelHandlerContext) {
        guard resume == nil else { return }
        throttledUntil = .now() + limits.throttle
        updateReading(context: context)
        resume = context.eventLoop.assumeIsolated().scheduleTask(in: limits.throttle) { [self] in
            resume = nil
            throttledUntil = nil
            updateReading(context: context)
        }
    }

    /// Reads while the client's output has room and it is not throttled. Reading resumes on the
    /// next turn of the loop: turned on at once, NIO reads at once, and a change of writability
    /// while a read is being handled would hand this handler a read inside that one.
    private func updateReading(context: ChannelHandlerContext) {
        guard context.channel.isWritable && throttledUntil == nil else {
            context.channel.setOption(.autoRead, value: false).whenFailure { _ in }
            return
        }
        context.eventLoop.assumeIsolated().execute { [self] in
            guard context.channel.isWritable && throttledUntil == nil else { return }
            context.channel.setOption(.autoRead, value: true).whenFailure { _ in }
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // While the client's output is full, its input waits in the kernel: reading it would
        // only queue more answers that cannot be sent.
        unwritableSince = context.channel.isWritable ? nil : (unwritableSince ?? .now())
        updateReading(context: context)
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        close(context: context, reason: nil, detail: "\(error)")
    }

    /// Writes `frame`, framed, unless `channel`'s unread output is already at its bound: then
    /// the frame is dropped like a datagram a full socket buffer refuses. Any thread.
    static func write(_ frame: UnsafeRawBufferPointer, to channel: Channel, state: NIOLockedValueBox<RelayState>) {
        guard channel.isWritable else {
            state.withLockedValue { $0.countSlowReaderDrop() }
            return
        }
        channel.writeAndFlush(framed(frame, allocator: channel.allocator), promise: nil)
    }

    /// Whether the frame was dropped for its source's frame rate.
    private func handle(_ frame: UnsafeRawBufferPointer, context: ChannelHandlerContext) -> Bool {
        scratch.copyMemory(from: frame)
        let binding = Binding.tcp(connection: connection, peer: peer)
        let outcome = state.withLockedValue { $0.handle(scratch, length: frame.count, from: binding, observed: peer, now: RelayClock.now()) }
        switch outcome {
        case .drop(let reason):
            return reason == .rateLimited
        case .consumed:
            break
        case .reply(let n):
            // Flushed once the read is handled: a flush can make NIO read from the socket and
            // hand this handler a read while it is still taking this one apart.
            guard context.channel.isWritable else {
                state.withLockedValue { $0.countSlowReaderDrop() }
                break
            }
            context.write(Self.wrapOutboundOut(framed(UnsafeRawBufferPointer(rebasing: scratch[0..<n]), allocator: context.channel.allocator)),
                          promise: nil)
            unflushed = true
        case .forward(.udp(let address), let n):
            if !udp.send(UnsafeRawBufferPointer(rebasing: scratch[0..<n]), to: address) { state.withLockedValue { $0.countSendFailure() } }
        case .forwardRaw(let socket, let address, let n):
            let packet = UnsafeRawBufferPointer(rebasing: scratch[DataFrameHeader.length..<DataFrameHeader.length + n])
            if !SocketCalls.send(packet, to: address, family: udp.family, on: socket) { state.withLockedValue { $0.countSendFailure() } }
        case .forward(.tcp(let target, _), let n):
            if let channel = connections.withLockedValue({ $0[target] }) {
                Self.write(UnsafeRawBufferPointer(rebasing: scratch[0..<n]), to: channel, state: state)
            } else {
                state.withLockedValue { $0.countSendFailure() }
            }
        }
        return false
    }

    private func scheduleCheck(context: ChannelHandlerContext) {
        check = context.eventLoop.assumeIsolated().scheduleTask(in: limits.checkInterval) { [self] in
            checkDeadlines(context: context)
        }
    }

    /// Closes the connection when it broke a deadline, else looks again after `checkInterval`.
    private func checkDeadlines(context: ChannelHandlerContext) {
        guard !closing else { return }
        let now = NIODeadline.now()
        if let since = partialSince, now - since >= limits.frameTimeout {
            return close(context: context, reason: .incompleteFrame, detail: "a frame unfinished for \(limits.frameTimeout)")
        }
        if let since = unwritableSince, now - since >= limits.slowReaderTimeout {
            return close(context: context, reason: .slowReader, detail: "its output unread for \(limits.slowReaderTimeout)")
        }
        if !registered {
            let id = connection
            registered = state.withLockedValue { $0.hasSession(onConnection: id) }
            if !registered, now - openedAt >= limits.frameTimeout {
                return close(context: context, reason: .unregistered, detail: "not registered within \(limits.frameTimeout)")
            }
        }
        if now - lastReadAt >= limits.idleTimeout {
            return close(context: context, reason: .idle, detail: "nothing read for \(limits.idleTimeout)")
        }
        scheduleCheck(context: context)
    }

    private func close(context: ChannelHandlerContext, reason: RelayCounters.TCPClose?, detail: String) {
        guard !closing else { return }
        closing = true
        closeReason = reason
        logger.debug("closing TCP connection", metadata: ["peer": "\(peer)", "reason": "\(detail)"])
        // Reset rather than a FIN behind the unsent output: a client that does not read would
        // never take the FIN, and the kernel would hold the connection and its buffers for it.
        if reason != nil, let socket = context.channel as? SocketOptionProvider {
            socket.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenFailure { _ in }
        }
        context.close(promise: nil)
    }
}
