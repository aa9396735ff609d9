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
    /// What one TCP connection may hold of the relay. A stranger can open connections without
    /// registering, so each bound is one a hostile client meets, not only a courtesy.
    public struct Limits: Sendable {
        public var maxConnections: Int
        /// Connections from one IPv4 address or IPv6 /64 (`ConnectionAdmission`).
        public var perSource: Int
        /// A frame must arrive whole, and a new connection must register, within this: nothing
        /// the protocol does takes longer, and a byte now and then no longer holds a connection.
        public var frameTimeout: TimeAmount = .seconds(6)
        /// A registered connection that sends nothing for this long is closed: registrations
        /// expire after 120 s idle anyway, and clients ping every 25 s.
        public var idleTimeout: TimeAmount = .seconds(150)
        /// Output waiting for a client that does not read. Past `writeBufferHigh` bytes, frames
        /// for it are dropped and the relay stops reading from it (its own pings would only queue
        /// more pongs); unread for `slowReaderTimeout`, it is closed.
        public var writeBufferHigh = 64 * 1024
        public var writeBufferLow = 16 * 1024
        public var slowReaderTimeout: TimeAmount = .seconds(10)
        /// How long a client that sent past its source's frame rate is not read from.
        public var throttle: TimeAmount = .milliseconds(100)
        /// How often each connection's deadlines are looked at.
        public var checkInterval: TimeAmount = .seconds(1)

        public init(maxConnections: Int, perSource: Int) {
            self.maxConnections = maxConnections
            self.perSource = perSource
        }
    }

    private let group: MultiThreadedEventLoopGroup
    private let channel: Channel
    private let connections: NIOLockedValueBox<[UInt64: Channel]>
    private let state: NIOLockedValueBox<RelayState>

    public init(host: String, port: Int, limits: Limits, state: NIOLockedValueBox<RelayState>, udp: UDPRelaySocket, logger: Logger) throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let connections = NIOLockedValueBox<[UInt64: Channel]>([:])
        let nextConnection = NIOLockedValueBox<UInt64>(0)
        let admission = NIOLockedValueBox(ConnectionAdmission(total: limits.maxConnections, perSource: limits.perSource))
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // Every waiting connection accepted on each turn of the loop (NIO takes 4 by
            // default): under a flood a turn can take a good part of a second, and a connection
            // past its source's share must be refused, and a client's registered, at once.
            .serverChannelOption(.maxMessagesPerRead, value: 256)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: limits.writeBufferLow, high: limits.writeBufferHigh))
            // One read of at most 16 KiB per connection per turn of the loop: a few clients
            // flooding frames cannot hold the one TCP thread while others wait to be accepted,
            // answered or timed out. 16 KiB is ten full data frames.
            .childChannelOption(.maxMessagesPerRead, value: 1)
            .childChannelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 16 * 1024))
            .childChannelInitializer { child in
                let id = nextConnection.withLockedValue { $0 += 1; return $0 }
                let remote = child.remoteAddress.flatMap { address in
                    address.ipAddress.flatMap { IPAddressText.relayAddress($0, port: UInt16(clamping: address.port ?? 0)) }
                } ?? RelayAddress(high: 0, low: 0, port: 0)
                // Counted here, not when the channel becomes active, so that a burst of accepts
                // cannot all pass the check before any of them is counted.
                if let refusal = admission.withLockedValue({ $0.admit(remote) }) {
                    let reason: RelayCounters.TCPClose = refusal == .full ? .full : .sourceShare
                    state.withLockedValue { $0.countTCPRefused(reason) }
                    logger.debug("TCP connection refused", metadata: ["peer": "\(remote)", "reason": "\(reason.label)"])
                    return child.close()
                }
                child.closeFuture.whenComplete { _ in admission.withLockedValue { $0.release(remote) } }
                return child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(
                        RelayTCPConnectionHandler(connection: id, peer: remote, limits: limits, state: state, udp: udp,
                                                  connections: connections, logger: logger))
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
        self.state = state
    }

    /// Sends a frame to a TCP-registered client from any thread; false if the connection is gone.
    /// A frame for a client whose unread output is at its bound is dropped (and counted).
    public func send(_ frame: UnsafeRawBufferPointer, toConnection id: UInt64) -> Bool {
        guard let target = connections.withLockedValue({ $0[id] }) else { return false }
        RelayTCPConnectionHandler.write(frame, to: target, state: state)
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
