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
        let (port, server) = try await serveOnLoopback(net)
        defer { server.cancel() }
        let key = net.serverKey.base64

        let fromAlice = try await offPool { try RawHTTP.send("GET \(API.Path.capabilities)", headers: ["X-Formnet-Server-Key: \(key)"], from: "127.0.0.2", port: port) }
        #expect(fromAlice.status == 200)
        #expect(try API.decoder().decode(API.Capabilities.self, from: fromAlice.body).version == API.version)

        let fromStranger = try await offPool { try RawHTTP.send("GET \(API.Path.capabilities)", headers: ["X-Formnet-Server-Key: \(key)"], from: "127.0.0.3", port: port) }
        #expect(fromStranger.status == 401)
        #expect(try API.decoder().decode(API.ErrorBody.self, from: fromStranger.body).error == "no peer of this network has the tunnel IP 127.0.0.3")

        let unknown = try await offPool { try RawHTTP.send("GET /v1/nothing", headers: [], from: "127.0.0.2", port: port) }
        #expect(unknown.status == 404)
        #expect(try API.decoder().decode(API.ErrorBody.self, from: unknown.body).error == "no route GET /v1/nothing")

        let huge = String(repeating: "x", count: APIServer.maxBodyBytes + 1)
        let tooLarge = try await offPool { try RawHTTP.send("PUT \(API.Path.candidates)", headers: ["X-Formnet-Server-Key: \(key)"], body: huge, from: "127.0.0.2", port: port) }
        #expect(tooLarge.status == 413)
        #expect((try? API.decoder().decode(API.ErrorBody.self, from: tooLarge.body)) != nil)
    }
}

/// GET state held until the caller's view changes (`?wait=` with `If-None-Match`).
@Suite struct StateLongPollTests {
    @Test func heldStateAnswersWhenTheViewChanges() async throws {
        let net = try TestNetwork(root: "127.0.0.0/8", serverIP: "127.0.0.1")
        try net.peer("alice", "127.0.0.2", in: net.root, admin: true)
        let (port, server) = try await serveOnLoopback(net)
        defer { server.cancel() }
        let key = "X-Formnet-Server-Key: \(net.serverKey.base64)"

        let first = try await offPool { try RawHTTP.send("GET \(API.Path.state)", headers: [key], from: "127.0.0.2", port: port) }
        #expect(first.status == 200)
        let tag = try #require(first.headers["etag"])

        // Nothing changes during the wait: 304 with the same tag.
        let unchanged = try await offPool { try RawHTTP.send("GET \(API.Path.state)?wait=1", headers: [key, "If-None-Match: \(tag)"], from: "127.0.0.2", port: port) }
        #expect(unchanged.status == 304)
        #expect(unchanged.headers["etag"] == tag)

        // A stale tag is answered at once with the current state.
        let stale = try await offPool { try RawHTTP.send("GET \(API.Path.state)?wait=30", headers: [key, "If-None-Match: \"0\""], from: "127.0.0.2", port: port) }
        #expect(stale.status == 200 && stale.headers["etag"] == tag)

        // A held request returns as soon as an API write changes what alice sees.
        let held = Task {
            try await offPool { try RawHTTP.send("GET \(API.Path.state)?wait=30", headers: [key, "If-None-Match: \(tag)"], from: "127.0.0.2", port: port) }
        }
        try await Task.sleep(for: .milliseconds(300))
        let bob = API.PeerContents(name: "bob", ip: IPAddress("127.0.0.3")!, cidrId: net.root.id,
                                   publicKey: PrivateKey.generate().publicKey, isRedeemed: true)
        let body = String(decoding: json(bob), as: UTF8.self)
        let added = try await offPool {
            try RawHTTP.send("POST \(API.Path.adminPeers)", headers: [key, "Content-Type: application/json"], body: body, from: "127.0.0.2", port: port)
        }
        #expect(added.status == 201)
        let answer = try await held.value
        #expect(answer.status == 200)
        #expect(answer.headers["etag"] != tag)
        #expect(try API.decoder().decode(API.State.self, from: answer.body).peers.map(\.name).contains("bob"))
    }
}

@Suite struct StateChangesTests {
    @Test func aSignalBeforeTheWaitStillCounts() async {
        let changes = StateChanges()
        let seen = changes.generation
        changes.signal()
        await changes.wait(after: seen, timeout: .seconds(60))
        #expect(changes.generation == seen + 1)
    }

    @Test func waitersWakeOnSignalAndOnTimeout() async {
        let changes = StateChanges()
        let seen = changes.generation
        let waiter = Task { await changes.wait(after: seen, timeout: .seconds(60)) }
        try? await Task.sleep(for: .milliseconds(50))
        changes.signal()
        await waiter.value
        await changes.wait(after: changes.generation, timeout: .milliseconds(10))
        #expect(changes.generation == seen + 1)
    }
}

/// The API of `net` on 127.0.0.1 at a free port; cancel the task to stop it.
func serveOnLoopback(_ net: TestNetwork) async throws -> (port: Int, server: Task<Void, any Error>) {
    let ports = AsyncStream.makeStream(of: Int.self)
    let app = APIServer.application(service: net.service(), address: Endpoint("127.0.0.1:0")!, logger: ServerLog.logger()) { port in
        ports.continuation.yield(port)
    }
    let server = Task { try await app.run() }
    var iterator = ports.stream.makeAsyncIterator()
    guard let port = await iterator.next() else {
        server.cancel()
        throw RawHTTP.Failure(step: "start the API server")
    }
    return (port, server)
}

/// Runs a blocking call on a thread of its own: blocking the few threads of Swift's
/// cooperative pool would starve the server under test, whose handlers run there too.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

/// A minimal HTTP/1.1 client over a socket bound to a chosen loopback source address, which
/// no URL loading API lets a caller pick.
enum RawHTTP {
    struct Failure: Error { let step: String }

    static func send(_ requestLine: String, headers: [String], body: String = "", from source: String, port: Int) throws
        -> (status: Int, body: Data, headers: [String: String]) {
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
        let headerLines = String(decoding: response[..<split.lowerBound], as: UTF8.self).split(separator: "\r\n").dropFirst()
        var fields: [String: String] = [:]
        for line in headerLines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return (status, Data(response[split.upperBound...]), fields)
    }
}
