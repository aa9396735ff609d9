import FormnetKit
import Foundation
import Hummingbird
import Logging
import WireGuard

/// The HTTP side of the API: binds one address, reads the caller's IP, the server-key header
/// and a bounded body, and hands them to `APIService`. Everything else is the service's.
public enum APIServer {
    /// No request of this API comes near it; a larger body is refused with 413 before parsing.
    public static let maxBodyBytes = 64 * 1024
    static let serverKeyField = API.serverKeyHeader.lowercased()

    /// An application serving `service` on `address` only (the server's tunnel address).
    /// `onListening` gets the bound port (useful when `address.port` is 0).
    public static func application(
        service: APIService, address: Endpoint, logger: Logger, changes: StateChanges = StateChanges(),
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
            configuration: ApplicationConfiguration(address: .hostname(address.address.description, port: Int(address.port))),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
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
