import FormnetKit
import Foundation
import WireGuard

/// One API call as the handlers see it, with nothing of HTTP or sockets in it.
public struct APIRequest: Sendable {
    /// The TCP source address: on the tunnel it identifies the calling peer.
    public var callerIP: IPAddress?
    /// The value of `API.serverKeyHeader`, if sent.
    public var serverKey: String?
    public var body: Data
    /// The `{id}` segment of routes that name one record.
    public var pathID: String?

    public init(callerIP: IPAddress?, serverKey: String?, body: Data = Data(), pathID: String? = nil) {
        self.callerIP = callerIP
        self.serverKey = serverKey
        self.body = body
        self.pathID = pathID
    }
}

/// A handler's answer: a status and a JSON body (empty for 204). Every error carries an
/// `API.ErrorBody` whose reason says what was wrong.
public struct APIResponse: Sendable, Equatable {
    public let status: Int
    public let body: Data
    /// The state's entity tag (`StateTag`), which held state requests compare.
    public let etag: String?

    public init(status: Int, body: Data, etag: String? = nil) {
        self.status = status
        self.body = body
        self.etag = etag
    }

    public static let noContent = APIResponse(status: 204, body: Data())

    public static func json(_ value: some Encodable, status: Int = 200) -> APIResponse {
        do {
            return APIResponse(status: status, body: try API.encoder().encode(value))
        } catch {
            return .error(500, "could not encode the response: \(error)")
        }
    }

    public static func error(_ status: Int, _ reason: String) -> APIResponse {
        let body = (try? API.encoder().encode(API.ErrorBody(error: reason))) ?? Data()
        return APIResponse(status: status, body: body)
    }

    /// The reason of an error answer, or nil for a success.
    public var errorReason: String? {
        guard status >= 400 else { return nil }
        return (try? API.decoder().decode(API.ErrorBody.self, from: body))?.error
    }
}

/// A request the handlers refuse before touching the store: an unreadable body or id.
struct BadRequest: Error {
    let reason: String
}
