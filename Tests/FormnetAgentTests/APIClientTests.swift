import Foundation
import FormnetKit
import NIOCore
import Testing
import WireGuard
@testable import FormnetAgent

@Suite struct APIClientTests {
    let serverKey = PrivateKey.generate().publicKey

    func client(_ port: UInt16, timeout: TimeAmount = .seconds(5)) -> APIClient {
        APIClient(endpoint: Endpoint(address: IPAddress("127.0.0.1")!, port: port), serverKey: serverKey, timeout: timeout)
    }

    @Test func sendsTheServerKeyAndDecodesTheState() throws {
        let state = API.State(peers: [], cidrs: [Cidr(id: 1, name: "evilcorp", cidr: IPNetwork("10.66.0.0/16")!, parent: nil)])
        let json = String(decoding: try API.encoder().encode(state), as: UTF8.self)
        let server = try LoopbackHTTPServer(response: LoopbackHTTPServer.response(status: "200 OK", json: json))
        #expect(try client(server.port).state() == state)
        let request = server.receivedRequest()
        #expect(request.hasPrefix("GET \(API.Path.state) HTTP/1.1\r\n"))
        #expect(request.lowercased().contains("\(API.serverKeyHeader.lowercased()): \(serverKey.base64.lowercased())"))
    }

    @Test func surfacesTheServersErrorBody() throws {
        let server = try LoopbackHTTPServer(response: LoopbackHTTPServer.response(
            status: "403 Forbidden", json: #"{"error":"peer 'b' is not an admin"}"#))
        #expect(throws: AgentError.server(status: 403, message: "peer 'b' is not an admin")) {
            try client(server.port).deleteCidr(7)
        }
        #expect(server.receivedRequest().hasPrefix("DELETE \(API.Path.adminCidr(7)) HTTP/1.1"))
    }

    @Test func sendsJSONBodies() throws {
        let server = try LoopbackHTTPServer(response: "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        let key = PrivateKey.generate().publicKey
        try client(server.port).redeem(key)
        let request = server.receivedRequest()
        #expect(request.hasPrefix("POST \(API.Path.redeem) HTTP/1.1"))
        // JSONEncoder writes "/" as "\/", and a base64 key may contain "/".
        #expect(request.hasSuffix(#"{"publicKey":"\#(key.base64.replacingOccurrences(of: "/", with: "\\/"))"}"#))
    }

    @Test func aServerThatNeverAnswersCostsABoundedTimeAndIsNamed() throws {
        let silent = try LoopbackHTTPServer(response: nil)
        let start = ContinuousClock.now
        do {
            _ = try client(silent.port, timeout: .milliseconds(200)).state()
            Issue.record("expected a timeout")
        } catch let error as AgentError {
            guard case .serverUnreachable(let endpoint, _, let connected) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(endpoint == Endpoint("127.0.0.1:\(silent.port)"))
            #expect(connected)
            #expect(error.description.hasPrefix("the formnet server at 127.0.0.1:\(silent.port) did not answer"))
        }
        #expect(ContinuousClock.now - start < .seconds(3))
    }

    @Test func aRefusedConnectionIsUnreachable() throws {
        let port = try LoopbackHTTPServer(response: nil).port
        #expect(throws: AgentError.self) { try client(port, timeout: .milliseconds(500)).state() }
    }
}
