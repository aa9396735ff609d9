import AsyncHTTPClient
import Foundation
import FormnetKit
import NIOCore
import NIOHTTP1
import WireGuard

/// The server's HTTP API, reached over the tunnel at the config's internal endpoint.
///
/// Calls block the calling thread until the answer or the deadline: the CLI and the daemon
/// loop are sequential, and WireGuard backends block too. Connecting is bounded by `timeout`
/// and the whole exchange by twice that, so a server that does not answer costs seconds, not
/// minutes, and the error names the address; a connect timeout is told apart from a request
/// that may have reached the server.
public final class APIClient {
    public static let defaultTimeout: TimeAmount = .seconds(5)

    private let endpoint: Endpoint
    private let serverKey: PublicKey
    private let timeout: TimeAmount
    private let http: HTTPClient

    /// - Parameter readTimeout: how long an answer may take once connected (default: `timeout`);
    ///   long enough for the server to hold a long-polled state request.
    public init(endpoint: Endpoint, serverKey: PublicKey, timeout: TimeAmount = APIClient.defaultTimeout,
                readTimeout: TimeAmount? = nil) {
        self.endpoint = endpoint
        self.serverKey = serverKey
        self.timeout = timeout
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: timeout, read: readTimeout ?? timeout)
        configuration.redirectConfiguration = .disallow
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public convenience init(config: InterfaceConfig, timeout: TimeAmount = APIClient.defaultTimeout,
                            readTimeout: TimeAmount? = nil) {
        self.init(endpoint: config.server.internalEndpoint, serverKey: config.server.publicKey, timeout: timeout,
                  readTimeout: readTimeout)
    }

    deinit {
        try? http.syncShutdown()
    }

    public func state() throws -> API.State { try decode(send(.GET, API.Path.state)) }
    public func redeem(_ key: PublicKey) throws { _ = try send(.POST, API.Path.redeem, API.RedeemRequest(publicKey: key)) }
    public func overrideEndpoint(_ endpoint: Endpoint?) throws {
        _ = try send(.PUT, API.Path.endpoint, API.EndpointOverride(endpoint: endpoint))
    }
    /// - Parameter relays: the relays this member is registered with, home first; nil leaves
    ///   the ones the server has as they are.
    public func reportCandidates(_ candidates: [Endpoint], natType: NatType? = nil, relays: [PublicKey]? = nil) throws {
        _ = try send(.PUT, API.Path.candidates, API.Candidates(candidates: candidates, natType: natType, relays: relays))
    }
    public func announceRelay(_ announcement: API.RelayAnnouncement) throws { _ = try send(.POST, API.Path.relay, announcement) }
    public func withdrawRelay() throws { _ = try send(.DELETE, API.Path.relay) }
    public func capabilities() throws -> API.Capabilities { try decode(send(.GET, API.Path.capabilities)) }

    /// The state once it differs from the one tagged `etag`, held by the server for up to `wait`
    /// seconds; nil when it did not change in that time. Needs a read timeout above `wait`.
    public func waitForState(changedFrom etag: String?, wait: Int) throws -> (state: API.State, etag: String?)? {
        var headers: [(String, String)] = []
        if let etag { headers.append(("If-None-Match", etag)) }
        let (status, answerHeaders, data) = try exchange(.GET, "\(API.Path.state)?\(API.stateWaitQuery)=\(wait)", body: nil,
                                                         headers: headers, allowNotModified: true,
                                                         deadline: .seconds(Int64(wait)) + timeout * 2)
        guard status != 304 else { return nil }
        return (try decode(data), answerHeaders.first(name: "ETag"))
    }

    public func peers() throws -> [NetworkPeer] { try decode(send(.GET, API.Path.adminPeers)) }
    public func addPeer(_ peer: API.PeerContents) throws -> NetworkPeer { try decode(send(.POST, API.Path.adminPeers, peer)) }
    public func updatePeer(_ id: Int64, _ peer: API.PeerContents) throws { _ = try send(.PUT, API.Path.adminPeer(id), peer) }

    public func cidrs() throws -> [Cidr] { try decode(send(.GET, API.Path.adminCidrs)) }
    public func addCidr(_ cidr: API.CidrContents) throws -> Cidr { try decode(send(.POST, API.Path.adminCidrs, cidr)) }
    public func deleteCidr(_ id: Int64) throws { _ = try send(.DELETE, API.Path.adminCidr(id)) }

    public func associations() throws -> [Association] { try decode(send(.GET, API.Path.adminAssociations)) }
    public func addAssociation(_ association: API.AssociationContents) throws -> Association {
        try decode(send(.POST, API.Path.adminAssociations, association))
    }
    public func deleteAssociation(_ id: Int64) throws { _ = try send(.DELETE, API.Path.adminAssociation(id)) }

    private func send(_ method: HTTPMethod, _ path: String) throws -> Data {
        try exchange(method, path, body: nil).data
    }

    private func send<Body: Encodable>(_ method: HTTPMethod, _ path: String, _ body: Body) throws -> Data {
        try exchange(method, path, body: try API.encoder().encode(body)).data
    }

    private func exchange(_ method: HTTPMethod, _ path: String, body: Data?, headers: [(String, String)] = [],
                          allowNotModified: Bool = false, deadline: TimeAmount? = nil)
        throws -> (status: UInt, headers: HTTPHeaders, data: Data) {
        let host = endpoint.address.isIPv4 ? "\(endpoint.address)" : "[\(endpoint.address)]"
        var request = try HTTPClient.Request(url: "http://\(host):\(endpoint.port)\(path)", method: method)
        request.headers.add(name: API.serverKeyHeader, value: serverKey.base64)
        request.headers.add(name: "Accept", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(body)
        }
        let response: HTTPClient.Response
        do {
            response = try http.execute(request: request, deadline: .now() + (deadline ?? timeout * 2)).wait()
        } catch {
            throw AgentError.serverUnreachable(endpoint: endpoint, detail: Self.describe(error, timeout: timeout),
                                               connected: !Self.isConnectFailure(error))
        }
        let data = response.body.map { Data($0.readableBytesView) } ?? Data()
        if allowNotModified && response.status == .notModified { return (response.status.code, response.headers, data) }
        guard (200..<300).contains(response.status.code) else {
            let message = (try? API.decoder().decode(API.ErrorBody.self, from: data).error)
                ?? (data.isEmpty ? response.status.reasonPhrase : String(decoding: data.prefix(500), as: UTF8.self))
            throw AgentError.server(status: Int(response.status.code), message: message)
        }
        return (response.status.code, response.headers, data)
    }

    private func decode<T: Decodable>(_ data: Data) throws -> T {
        do {
            return try API.decoder().decode(T.self, from: data)
        } catch {
            throw AgentError.malformedResponse("\(error)")
        }
    }

    /// Failures before a connection existed, so the request certainly never reached the server.
    static func isConnectFailure(_ error: any Error) -> Bool {
        (error as? HTTPClientError) == .connectTimeout
    }

    static func describe(_ error: any Error, timeout: TimeAmount) -> String {
        let seconds = timeout.nanoseconds / 1_000_000_000
        switch error {
        case let error as HTTPClientError where error == .connectTimeout:
            return "no connection within \(seconds) s (is the interface up and the server running?)"
        case let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout:
            return "connected, but no answer within \(seconds * 2) s"
        default:
            return "\(error)"
        }
    }
}
