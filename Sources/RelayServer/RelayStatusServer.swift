import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import RelayWire
import WireGuard

/// HTTP for the relay's operator: /status, /peers, /peers/KEY, /metrics. Bound to loopback
/// by default because peer keys and addresses are for the host's operator and its scraper.
public final class RelayStatusServer: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let channel: Channel

    public init(host: String, port: Int, state: NIOLockedValueBox<RelayState>, startedAt: RelayInstant) throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                child.pipeline.configureHTTPServerPipeline().flatMapThrowing {
                    try child.pipeline.syncOperations.addHandler(StatusHTTPHandler(state: state, startedAt: startedAt))
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
    public static func respond(to path: String, state: RelayState, uptimeSeconds: Double, nowMillis: UInt64) -> (HTTPResponseStatus, String, [UInt8]) {
        let json = "application/json"
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

    init(state: NIOLockedValueBox<RelayState>, startedAt: RelayInstant) {
        self.state = state
        self.startedAt = startedAt
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
                ? state.withLockedValue { RelayStatusServer.respond(to: requested, state: $0, uptimeSeconds: uptime, nowMillis: now.wallMillis) }
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
