import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import RelayWire
import WireGuard

/// HTTP for the relay's operator: /status and /metrics, and with `peerDetail` /peers and
/// /peers/KEY. Bound to loopback by default because it is for the host's operator and its
/// scraper; every local user can still connect, so members' keys and addresses are served only
/// when the operator asks for them. A request has `requestTimeout` from accept to its answer and
/// at most `maxConnections` are open: a local program cannot hold the port.
public final class RelayStatusServer: Sendable {
    public static let maxConnections = 64
    public static let requestTimeout = TimeAmount.seconds(5)

    private let group: MultiThreadedEventLoopGroup
    private let channel: Channel

    public init(host: String, port: Int, state: NIOLockedValueBox<RelayState>, startedAt: RelayInstant, peerDetail: Bool) throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let open = NIOLockedValueBox(0)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                guard open.withLockedValue({ count in
                    guard count < Self.maxConnections else { return false }
                    count += 1
                    return true
                }) else { return child.close() }
                // From accept, not from the last byte: a client sending a byte now and then
                // would outlive any idle timeout.
                let timeout = child.eventLoop.scheduleTask(in: Self.requestTimeout) { child.close(promise: nil) }
                child.closeFuture.whenComplete { _ in
                    timeout.cancel()
                    open.withLockedValue { $0 -= 1 }
                }
                return child.pipeline.configureHTTPServerPipeline().flatMapThrowing {
                    try child.pipeline.syncOperations.addHandler(StatusHTTPHandler(state: state, startedAt: startedAt, peerDetail: peerDetail))
                }
            }
        do {
            channel = try bootstrap.bind(host: host, port: port).wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
        self.group = group
    }

    public func shutdown() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }

    /// The answer to a GET of `path`: status code, content type and body.
    public static func respond(to path: String, state: RelayState, uptimeSeconds: Double, nowMillis: UInt64,
                               peerDetail: Bool) -> (HTTPResponseStatus, String, [UInt8]) {
        let json = "application/json"
        if !peerDetail, path == "/peers" || path.hasPrefix("/peers/") {
            return (.forbidden, json, Array("{\"error\":\"per-peer detail is off: start the relay with --status-peers\"}\n".utf8))
        }
        switch path {
        case "/status", "/":
            return (.ok, json, RelayStatusReport.status(state, uptimeSeconds: uptimeSeconds))
        case "/peers":
            return (.ok, json, RelayStatusReport.peers(state))
        case "/metrics":
            let text = PrometheusText.render(state.counters, sessions: state.sessions.count, tunnels: state.sessions.tunnelCount, channels: state.channels.count, uptimeSeconds: uptimeSeconds)
            return (.ok, "text/plain; version=0.0.4", Array(text.utf8))
        default:
            if path.hasPrefix("/peers/") {
                let encoded = String(path.dropFirst("/peers/".count))
                let text = (encoded.removingPercentEncoding ?? encoded).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
                guard let key = PublicKey(base64: text) else { return (.badRequest, json, Array("{\"error\":\"not a base64 key\"}\n".utf8)) }
                if let body = RelayStatusReport.peer(key, in: state, nowMillis: nowMillis) { return (.ok, json, body) }
                return (.notFound, json, Array("{\"error\":\"not registered\"}\n".utf8))
            }
            return (.notFound, json, Array("{\"error\":\"not found\"}\n".utf8))
        }
    }
}

final class StatusHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let state: NIOLockedValueBox<RelayState>
    private let startedAt: RelayInstant
    private var path: String?
    private var method: HTTPMethod = .GET
    private let peerDetail: Bool

    init(state: NIOLockedValueBox<RelayState>, startedAt: RelayInstant, peerDetail: Bool) {
        self.state = state
        self.startedAt = startedAt
        self.peerDetail = peerDetail
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let head):
            path = String(head.uri.split(separator: "?", maxSplits: 1).first ?? "/")
            method = head.method
        case .body:
            break
        case .end:
            let now = RelayClock.now()
            let uptime = Double(now.monotonicNanos &- startedAt.monotonicNanos) / 1e9
            let requested = path ?? "/"
            let (status, type, body): (HTTPResponseStatus, String, [UInt8]) = method == .GET || method == .HEAD
                ? state.withLockedValue { RelayStatusServer.respond(to: requested, state: $0, uptimeSeconds: uptime, nowMillis: now.wallMillis, peerDetail: peerDetail) }
                : (.methodNotAllowed, "text/plain", Array("GET only\n".utf8))
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: type)
            headers.add(name: "Content-Length", value: "\(body.count)")
            headers.add(name: "Connection", value: "close")
            context.write(Self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
            if method != .HEAD {
                var buffer = context.channel.allocator.buffer(capacity: body.count)
                buffer.writeBytes(body)
                context.write(Self.wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            }
            let channel = context.channel
            context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
