import Datagram
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayWire

/// The same frames over TCP for clients whose network blocks UDP, each behind a u16 length.
///
/// SwiftNIO rather than a second hand-written poll loop: TCP is the fallback path (few clients,
/// each a stream that needs partial-read reassembly, write buffering and backpressure), which
/// is exactly what NIO's channel pipeline already does correctly. The per-frame cost of NIO's
/// buffers is acceptable there; the UDP path, which carries the volume, stays on recvmmsg.
public final class TCPRelayServer: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let channel: Channel
    private let connections: NIOLockedValueBox<[UInt64: Channel]>

    /// A connection that sends nothing for this long is closed: registrations expire after
    /// 120 s idle anyway, and clients ping every 25 s.
    public static let idleTimeout = TimeAmount.seconds(150)

    /// `maxConnections` bounds open TCP connections, registered or not, so that opening sockets
    /// cannot exhaust the relay's descriptors or memory.
    public init(host: String, port: Int, maxConnections: Int, state: NIOLockedValueBox<RelayState>, udp: UDPRelaySocket, logger: Logger) throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let connections = NIOLockedValueBox<[UInt64: Channel]>([:])
        let nextConnection = NIOLockedValueBox<UInt64>(0)
        let openConnections = NIOLockedValueBox(0)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { child in
                let id = nextConnection.withLockedValue { $0 += 1; return $0 }
                // Counted here, not when the channel becomes active, so that a burst of accepts
                // cannot all pass the check before any of them is counted.
                let admitted = openConnections.withLockedValue { open in
                    guard open < maxConnections else { return false }
                    open += 1
                    return true
                }
                guard admitted else {
                    logger.debug("TCP connection refused: too many open")
                    return child.close()
                }
                child.closeFuture.whenComplete { _ in openConnections.withLockedValue { $0 -= 1 } }
                return child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: Self.idleTimeout))
                    try child.pipeline.syncOperations.addHandler(
                        RelayTCPConnectionHandler(connection: id, state: state, udp: udp, connections: connections, logger: logger))
                }
            }
        do {
            channel = try bootstrap.bind(host: host, port: port).wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
        self.group = group
        self.connections = connections
    }

    /// Sends a frame to a TCP-registered client from any thread; false if the connection is gone.
    public func send(_ frame: UnsafeRawBufferPointer, toConnection id: UInt64) -> Bool {
        guard let target = connections.withLockedValue({ $0[id] }) else { return false }
        target.writeAndFlush(framed(frame, allocator: target.allocator), promise: nil)
        return true
    }

    public func shutdown() {
        try? channel.close().wait()
        for child in connections.withLockedValue({ Array($0.values) }) { try? child.close().wait() }
        try? group.syncShutdownGracefully()
    }
}

/// `frame` behind its stream length, in a buffer of its own.
func framed(_ frame: UnsafeRawBufferPointer, allocator: ByteBufferAllocator) -> ByteBuffer {
    var buffer = allocator.buffer(capacity: StreamFrameWriter.prefixLength + frame.count)
    buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: StreamFrameWriter.prefixLength + frame.count) {
        StreamFrameWriter.write(frame, into: $0)
    }
    return buffer
}

final class RelayTCPConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let connection: UInt64
    private let state: NIOLockedValueBox<RelayState>
    private let udp: UDPRelaySocket
    private let connections: NIOLockedValueBox<[UInt64: Channel]>
    private let logger: Logger
    private var peer = RelayAddress(high: 0, low: 0, port: 0)
    private var reader = StreamFrameReader()
    /// Set once the stream broke the framing: what still arrives before the close is ignored.
    private var failed = false
    /// One frame-sized scratch buffer per connection, reused for every frame on it.
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: RelayWire.maxFrame, alignment: 16)

    init(connection: UInt64, state: NIOLockedValueBox<RelayState>, udp: UDPRelaySocket,
         connections: NIOLockedValueBox<[UInt64: Channel]>, logger: Logger) {
        self.connection = connection
        self.state = state
        self.udp = udp
        self.connections = connections
        self.logger = logger
    }

    deinit { scratch.deallocate() }

    func channelActive(context: ChannelHandlerContext) {
        if let remote = context.remoteAddress, let ip = remote.ipAddress, let port = remote.port,
           let address = IPAddressText.relayAddress(ip, port: UInt16(clamping: port)) {
            peer = address
        }
        let channel = context.channel
        connections.withLockedValue { $0[connection] = channel }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        connections.withLockedValue { $0[connection] = nil }
        let id = connection
        state.withLockedValue { $0.connectionClosed(id) }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        let bytes = Self.unwrapInboundIn(data)
        bytes.withUnsafeReadableBytes { reader.append($0) }
        do {
            try reader.drain { handle($0, context: context) }
        } catch {
            failed = true
            state.withLockedValue { $0.countMalformed() }
            logger.debug("closing TCP connection", metadata: ["peer": "\(peer)", "error": "\(error)"])
            context.close(promise: nil)
        }
    }

    private func handle(_ frame: UnsafeRawBufferPointer, context: ChannelHandlerContext) {
        scratch.copyMemory(from: frame)
        let binding = Binding.tcp(connection: connection, peer: peer)
        let outcome = state.withLockedValue { $0.handle(scratch, length: frame.count, from: binding, observed: peer, now: RelayClock.now()) }
        switch outcome {
        case .drop, .consumed:
            return
        case .reply(let n):
            context.writeAndFlush(Self.wrapOutboundOut(framed(UnsafeRawBufferPointer(rebasing: scratch[0..<n]), allocator: context.channel.allocator)),
                                  promise: nil)
        case .forward(.udp(let address), let n):
            if !udp.send(UnsafeRawBufferPointer(rebasing: scratch[0..<n]), to: address) { state.withLockedValue { $0.countSendFailure() } }
        case .forwardRaw(let socket, let address, let n):
            let packet = UnsafeRawBufferPointer(rebasing: scratch[DataFrameHeader.length..<DataFrameHeader.length + n])
            if !SocketCalls.send(packet, to: address, family: udp.family, on: socket) { state.withLockedValue { $0.countSendFailure() } }
        case .forward(.tcp(let target, _), let n):
            guard let channel = connections.withLockedValue({ $0[target] }) else {
                state.withLockedValue { $0.countSendFailure() }
                return
            }
            channel.writeAndFlush(framed(UnsafeRawBufferPointer(rebasing: scratch[0..<n]), allocator: channel.allocator), promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.debug("closing TCP connection", metadata: ["peer": "\(peer)", "error": "\(error)"])
        context.close(promise: nil)
    }
}
