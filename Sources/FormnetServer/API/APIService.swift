import FormnetKit
import Foundation
import WireGuard

/// The API's handlers over one network's store. Each handler is a plain function of the
/// request, so every answer, errors included, is tested without a socket; `APIServer` only
/// carries requests here and answers back.
public final class APIService: Sendable {
    public let store: Store
    public let serverKey: PublicKey
    /// The server's own tunnel address; requests from it are refused, since any local user of
    /// the server host could send them and would be taken for the server's admin peer.
    public let serverAddress: IPAddress
    /// The STUN observers the server runs on its public address, advertised in capabilities.
    public let stunObservers: [Endpoint]
    let now: @Sendable () -> Date
    let onRedeem: @Sendable (RedeemedKey) -> Void

    public init(store: Store, serverKey: PublicKey, serverAddress: IPAddress, stunObservers: [Endpoint] = [],
                now: @escaping @Sendable () -> Date = { Date() },
                onRedeem: @escaping @Sendable (RedeemedKey) -> Void = { _ in }) {
        self.store = store
        self.serverKey = serverKey
        self.serverAddress = serverAddress
        self.stunObservers = stunObservers
        self.now = now
        self.onRedeem = onRedeem
    }

    /// Who may call a route.
    enum Access {
        /// Any enabled peer, including one that has not redeemed its invitation yet.
        case invitee
        /// An enabled peer that has redeemed its invitation.
        case member
        /// A member that is an admin.
        case admin
    }

    /// Authenticates the caller, runs `body` for it, and turns every failure into an answer.
    func handle(_ request: APIRequest, _ access: Access, _ body: (NetworkPeer) throws -> APIResponse) -> APIResponse {
        do {
            switch try authenticate(request, access) {
            case .refused(let refusal): return refusal
            case .caller(let caller): return try body(caller)
            }
        } catch let error as StoreError {
            switch error.kind {
            case .invalid: return .error(400, error.description)
            case .conflict: return .error(409, error.description)
            case .notFound: return .error(404, error.description)
            }
        } catch let error as BadRequest {
            return .error(400, error.reason)
        } catch {
            return .error(500, "internal error: \(error)")
        }
    }

    func authenticate(_ request: APIRequest, _ access: Access) throws -> Authentication {
        guard let presented = request.serverKey else {
            return .refused(.error(401, "missing \(API.serverKeyHeader) header"))
        }
        guard presented.trimmingCharacters(in: .whitespaces) == serverKey.base64 else {
            return .refused(.error(401, "\(API.serverKeyHeader) does not match this server's public key"))
        }
        guard let ip = request.callerIP else {
            return .refused(.error(401, "the caller's address is unknown"))
        }
        guard ip != serverAddress else {
            return .refused(.error(401, "requests from the server's own address \(ip) are not served"))
        }
        guard let caller = try store.peer(ip: ip) else {
            return .refused(.error(401, "no peer of this network has the tunnel IP \(ip)"))
        }
        guard !caller.isDisabled else {
            return .refused(.error(401, "peer '\(caller.name)' is disabled"))
        }
        if !caller.isRedeemed {
            if let expires = caller.inviteExpires, expires <= now() {
                return .refused(.error(401, "the invitation of peer '\(caller.name)' expired at \(expires.ISO8601Format())"))
            }
            guard access == .invitee else {
                return .refused(.error(403, "peer '\(caller.name)' has not redeemed its invitation yet"))
            }
        }
        if access == .admin, !caller.isAdmin {
            return .refused(.error(403, "peer '\(caller.name)' is not an admin"))
        }
        return .caller(caller)
    }

    enum Authentication {
        case caller(NetworkPeer)
        case refused(APIResponse)
    }

    func decode<T: Decodable>(_ type: T.Type, from body: Data) throws -> T {
        do {
            return try API.decoder().decode(type, from: body)
        } catch let error as DecodingError {
            throw BadRequest(reason: "invalid \(T.self) body: \(Self.describe(error))")
        } catch {
            throw BadRequest(reason: "invalid \(T.self) body: \(error)")
        }
    }

    func id(_ request: APIRequest) throws -> Int64 {
        guard let text = request.pathID, let id = Int64(text) else {
            throw BadRequest(reason: "'\(request.pathID ?? "")' is not a numeric id")
        }
        return id
    }

    /// The infrastructure CIDR is the one the server's own peer lives in.
    func infrastructureCidrID(in snapshot: NetworkSnapshot) -> Int64? {
        snapshot.peers.first { $0.ip == serverAddress }?.cidrId
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, _): return "missing key '\(key.stringValue)'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "'\(path)': \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}

/// A redeemed invitation's key change, which the WireGuard device must follow once the
/// answer has reached the member (see `RedeemTransitions`).
public struct RedeemedKey: Sendable, Equatable {
    public let oldKey: PublicKey
    public let newKey: PublicKey

    public init(oldKey: PublicKey, newKey: PublicKey) {
        self.oldKey = oldKey
        self.newKey = newKey
    }
}
