import FormnetKit
import Foundation
import Testing
import WireGuard
@testable import FormnetServer

/// The Hummingbird layer on loopback: the caller is told apart by its TCP source address,
/// and Hummingbird's own refusals carry an ErrorBody. 127.0.0.0/8 stands in for the tunnel.
@Suite struct APIServerLoopbackTests {
    @Test func sourceAddressIdentifiesTheCaller() async throws {
        let net = try TestNetwork(root: "127.0.0.0/8", serverIP: "127.0.0.1")
        try net.peer("alice", "127.0.0.2", in: net.root)
        let ports = AsyncStream.makeStream(of: Int.self)
        let app = APIServer.application(service: net.service(), address: Endpoint("127.0.0.1:0")!, logger: ServerLog.logger()) { port in
            ports.continuation.yield(port)
        }
        let server = Task { try await app.run() }
        defer { server.cancel() }
        var iterator = ports.stream.makeAsyncIterator()
        let port = try #require(await iterator.next())
        let key = net.serverKey.base64

        let fromAlice = try RawHTTP.send("GET \(API.Path.capabilities)", headers: ["X-Formnet-Server-Key: \(key)"], from: "127.0.0.2", port: port)
        #expect(fromAlice.status == 200)
        #expect(try API.decoder().decode(API.Capabilities.self, from: fromAlice.body).version == API.version)

        let fromStranger = try RawHTTP.send("GET \(API.Path.capabilities)", headers: ["X-Formnet-Server-Key: \(key)"], from: "127.0.0.3", port: port)
        #expect(fromStranger.status == 401)
        #expect(try API.decoder().decode(API.ErrorBody.self, from: fromStranger.body).error == "no peer of this network has the tunnel IP 127.0.0.3")

        let unknown = try RawHTTP.send("GET /v1/nothing", headers: [], from: "127.0.0.2", port: port)
        #expect(unknown.status == 404)
        #expect(try API.decoder().decode(API.ErrorBody.self, from: unknown.body).error == "no route GET /v1/nothing")

        let huge = String(repeating: "x", count: APIServer.maxBodyBytes + 1)
        let tooLarge = try RawHTTP.send("PUT \(API.Path.candidates)", headers: ["X-Formnet-Server-Key: \(key)"], body: huge, from: "127.0.0.2", port: port)
        #expect(tooLarge.status == 413)
        #expect((try? API.decoder().decode(API.ErrorBody.self, from: tooLarge.body)) != nil)
    }
}

/// A minimal HTTP/1.1 client over a socket bound to a chosen loopback source address, which
/// no URL loading API lets a caller pick.
enum RawHTTP {
    struct Failure: Error { let step: String }

    static func send(_ requestLine: String, headers: [String], body: String = "", from source: String, port: Int) throws -> (status: Int, body: Data) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(step: "socket") }
        defer { close(fd) }
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, source, &local.sin_addr)
        var remote = sockaddr_in()
        remote.sin_family = sa_family_t(AF_INET)
        remote.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr)
        let size = socklen_t(MemoryLayout<sockaddr_in>.size)
        guard withUnsafePointer(to: &local, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) } }) == 0 else {
            throw Failure(step: "bind \(source)")
        }
        guard withUnsafePointer(to: &remote, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, size) } }) == 0 else {
            throw Failure(step: "connect")
        }
        let text = "\(requestLine) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: \(body.utf8.count)\r\n"
            + headers.map { "\($0)\r\n" }.joined() + "\r\n" + body
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }
            sent += n
        }
        var response = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            response.append(contentsOf: buffer[0..<n])
        }
        guard let split = response.range(of: Data("\r\n\r\n".utf8)),
              let statusLine = String(data: response[..<split.lowerBound], encoding: .utf8)?.split(separator: " "),
              statusLine.count > 1, let status = Int(statusLine[1]) else {
            throw Failure(step: "parse response")
        }
        return (status, Data(response[split.upperBound...]))
    }
}
