import FormnetKit
import Hummingbird

/// Gives the errors Hummingbird raises itself (no such route, body too large) the same
/// `API.ErrorBody` every handler answers with, so a client reads one error shape.
struct ErrorBodyMiddleware: RouterMiddleware {
    typealias Context = PeerRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as any HTTPResponseError {
            let reason = error.status == .notFound
                ? "no route \(request.method) \(request.uri.path)"
                : "\(error.status.code) \(error.status.reasonPhrase)"
            return APIServer.response(.error(error.status.code, reason))
        }
    }
}
