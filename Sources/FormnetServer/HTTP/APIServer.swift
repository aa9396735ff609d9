import FormnetKit
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import WireGuard

/// The HTTP side of the API: binds one address, reads the caller's IP, the server-key header
/// and a bounded body, and hands them to `APIService`. Everything else is the service's.
public enum APIServer {
    /// No request of this API comes near it; a larger body is refused with 413 before parsing.
    public static let maxBodyBytes = 64 * 1024
    static let serverKeyField = API.serverKeyHeader.lowercased()
    /// Connections open at once; past it the server stops accepting until one closes. Above the
    /// long polls of a thousand members, below the descriptors the server has (it raises its
    /// limit to the hard one, which the units set to 65536).
    public static let maxConnections = 4096
    /// A connection that sits between requests, or takes longer than this to send one, is
    /// closed: a request that trickles in holds nothing for long. A held long poll is not idle.
    public static let idleTimeout: TimeAmount = .seconds(30)
    /// No request of this API has large headers; these bound what one connection can make the
    /// parser hold.
    static let headerLimits = HTTP1Channel.Configuration.DecoderConfiguration(
        maxHeaderFieldSize: 8 * 1024, maxHeaderListSize: 16 * 1024, maxHeaderFieldCount: 64)

    /// An application serving `service` on `address` only (the server's tunnel address), and,
    /// given `interface`, only to connections that came in through it: Linux delivers packets
    /// for a local address whatever interface they arrive on, so without it anyone who routes
    /// to the tunnel address through the public one reaches the API. Through the WireGuard
    /// interface only peers come: WireGuard admits a packet only from its peer's allowed IPs.
    /// A connection from elsewhere is reset by the kernel, before any HTTP.
    /// `onListening` gets the bound port (useful when `address.port` is 0).
    public static func application(
        service: APIService, address: Endpoint, interface: String? = nil, logger: Logger, changes: StateChanges = StateChanges(),
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router(context: PeerRequestContext.self)
        router.add(middleware: ErrorBodyMiddleware())
        for route in APIService.routes {
            router.on(RouterPath(route.path), method: HTTPRequest.Method(rawValue: route.method) ?? .get) { request, context in
                var request = request
                let body = try await request.collectBody(upTo: maxBodyBytes)
                let apiRequest = APIRequest(
                    callerIP: context.callerIP,
                    serverKey: request.headers.first { $0.name.canonicalName == serverKeyField }?.value,
                    body: Data(body.readableBytesView),
                    pathID: context.parameters.get("id"))
                let handler = route.handler(service)
                if route.path == API.Path.state {
                    let wait = request.uri.queryParameters.get(API.stateWaitQuery, as: Int.self) ?? 0
                    return await heldState(handler, apiRequest, wait: min(max(wait, 0), API.maxStateWait),
                                           ifNoneMatch: request.headers[.ifNoneMatch], changes: changes)
                }
                let answer = handler(apiRequest)
                if route.method != "GET" && answer.status < 300 { changes.signal() }
                return response(answer)
            }
        }
        return Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: idleTimeout, httpDecoderConfiguration: headerLimits)),
            configuration: ApplicationConfiguration(address: .hostname(address.address.description, port: Int(address.port)),
                                                    availableConnectionsDelegate: MaximumAvailableConnections(maxConnections)),
            onServerRunning: { channel in
                if let interface {
                    do {
                        try await bind(channel, toDevice: interface)
                    } catch {
                        logger.critical("API not served: it cannot be kept to \(interface): \(error)")
                        try? await channel.close()
                        return
                    }
                }
                await onListening(channel.localAddress?.port ?? 0)
            },
            logger: logger)
    }

    /// SO_BINDTODEVICE on the listening socket: a SYN that came in through another interface
    /// finds no listener. Hummingbird binds and listens before it can be set: a connection in
    /// that first moment of serving is taken as before.
    static func bind(_ channel: any Channel, toDevice interface: String) async throws {
        guard let socket = channel as? SocketOptionProvider else { throw APIServerError.noSocketOptions }
        guard let name = InterfaceName(interface) else { throw APIServerError.interfaceName(interface) }
        try await socket.unsafeSetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_BINDTODEVICE), value: name).get()
    }

    /// GET state, held for up to `wait` seconds while the caller's view still has the ETag it
    /// sent: answered 200 with a new ETag as soon as it differs, or 304 when the wait ends.
    static func heldState(_ handler: (APIRequest) -> APIResponse, _ request: APIRequest, wait: Int,
                          ifNoneMatch: String?, changes: StateChanges) async -> Response {
        let deadline = ContinuousClock.now + .seconds(wait)
        while true {
            let generation = changes.generation
            let answer = handler(request)
            guard answer.status == 200, let tag = answer.etag else { return response(answer) }
            if tag != ifNoneMatch { return response(answer) }
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return Response(status: .notModified, headers: [.eTag: tag]) }
            await changes.wait(after: generation, timeout: left)
        }
    }

    static func response(_ answer: APIResponse) -> Response {
        var headers = HTTPFields()
        if let etag = answer.etag { headers[.eTag] = etag }
        if !answer.body.isEmpty { headers[.contentType] = "application/json" }
        return Response(
            status: HTTPResponse.Status(code: answer.status),
            headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: answer.body)))
    }
}

enum APIServerError: Error, CustomStringConvertible {
    case noSocketOptions
    case interfaceName(String)

    var description: String {
        switch self {
        case .noSocketOptions: "the listening channel has no socket options"
        case .interfaceName(let name): "'\(name)' is not an interface name"
        }
    }
}

/// An interface name as SO_BINDTODEVICE takes it: IFNAMSIZ bytes, NUL-terminated.
struct InterfaceName: Sendable {
    private(set) var bytes: (UInt64, UInt64) = (0, 0)

    /// Nil when `name` is empty or does not fit with its NUL.
    init?(_ name: String) {
        let utf8 = Array(name.utf8)
        guard !utf8.isEmpty, utf8.count < MemoryLayout<(UInt64, UInt64)>.size, !utf8.contains(0) else { return nil }
        withUnsafeMutableBytes(of: &bytes) { $0.copyBytes(from: utf8) }
    }
}
