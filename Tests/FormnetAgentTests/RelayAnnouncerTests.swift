import Foundation
import FormnetKit
import Logging
import NIOCore
import Testing
import WireGuard
@testable import FormnetAgent

@Suite struct RelayAnnouncementClientTests {
    let serverKey = PrivateKey.generate().publicKey

    func client(_ port: UInt16) -> APIClient {
        APIClient(endpoint: Endpoint(address: IPAddress("127.0.0.1")!, port: port), serverKey: serverKey)
    }

    /// JSONEncoder writes "/" as "\/", and a base64 key may contain "/".
    func escaped(_ key: PublicKey) -> String { key.base64.replacingOccurrences(of: "/", with: "\\/") }

    @Test func announceAndWithdraw() throws {
        let relayKey = PrivateKey.generate().publicKey
        let announcing = try LoopbackHTTPServer(response: "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        try client(announcing.port).announceRelay(API.RelayAnnouncement(publicKey: relayKey, port: 51821, capacity: 100, load: 3))
        let announcement = announcing.receivedRequest()
        #expect(announcement.hasPrefix("POST \(API.Path.relay) HTTP/1.1"))
        #expect(announcement.hasSuffix(#"{"capacity":100,"load":3,"port":51821,"publicKey":"\#(escaped(relayKey))"}"#))

        let withdrawing = try LoopbackHTTPServer(response: "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        try client(withdrawing.port).withdrawRelay()
        #expect(withdrawing.receivedRequest().hasPrefix("DELETE \(API.Path.relay) HTTP/1.1"))
    }

    @Test func candidatesCarryRelaysOnlyWhenGiven() throws {
        let home = PrivateKey.generate().publicKey
        let with = try LoopbackHTTPServer(response: "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        try client(with.port).reportCandidates([], natType: .symmetric, relays: [home])
        #expect(with.receivedRequest().hasSuffix(#"{"candidates":[],"natType":"symmetric","relays":["\#(escaped(home))"]}"#))
        let without = try LoopbackHTTPServer(response: "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        try client(without.port).reportCandidates([])
        #expect(without.receivedRequest().hasSuffix(#"{"candidates":[]}"#))
    }
}

@Suite struct RelayAnnouncerTests {
    let relayKey = PrivateKey.generate().publicKey

    func config(port: UInt16) -> InterfaceConfig {
        InterfaceConfig(
            interface: .init(networkName: "evilcorp", address: IPNetwork("10.66.1.2/16")!, privateKey: PrivateKey.generate().base64),
            server: .init(publicKey: PrivateKey.generate().publicKey, externalEndpoint: Endpoint("192.0.2.7:51820")!,
                          internalEndpoint: Endpoint(address: IPAddress("127.0.0.1")!, port: port)))
    }

    func announcer(port: UInt16, load: @escaping @Sendable () -> Int?) -> RelayAnnouncer {
        RelayAnnouncer(network: "evilcorp", config: config(port: port),
                       relay: API.RelayAnnouncement(publicKey: relayKey, port: 51821, endpoint: Endpoint("203.0.113.9:51821"),
                                                    capacity: 100, load: 0),
                       interval: .milliseconds(200), logger: Logger(label: "test"), load: load)
    }

    @Test func announcesOnceServingThenEveryIntervalAndWithdrawsOnStop() throws {
        let server = try RecordingHTTPServer()
        let load = LockedLoad()
        let announcer = announcer(port: server.port) { load.value }
        announcer.start()
        // Not serving yet: nothing is announced.
        Thread.sleep(forTimeInterval: 0.4)
        #expect(server.requests().isEmpty)
        load.value = 3
        Thread.sleep(forTimeInterval: 0.3)
        load.value = 5
        Thread.sleep(forTimeInterval: 0.5)
        let start = ContinuousClock.now
        announcer.stop()
        #expect(ContinuousClock.now - start < .seconds(2))

        let requests = server.requests()
        let posts = requests.filter { $0.hasPrefix("POST \(API.Path.relay) ") }
        #expect(posts.count >= 3)
        #expect(posts.first?.contains(#""load":3"#) == true)
        #expect(posts.last?.contains(#""load":5"#) == true)
        #expect(posts.allSatisfy { $0.contains(#""endpoint":"203.0.113.9:51821""#) && $0.contains(#""capacity":100"#) })
        #expect(requests.last?.hasPrefix("DELETE \(API.Path.relay) ") == true)
        // Stopped: no announcement follows the withdrawal.
        Thread.sleep(forTimeInterval: 0.4)
        #expect(server.requests().count == requests.count)
    }

    @Test func anUnreachableServerDelaysStoppingByTwoSecondsAtMost() throws {
        let silent = try LoopbackHTTPServer(response: nil)
        let announcer = announcer(port: silent.port) { 1 }
        announcer.start()
        Thread.sleep(forTimeInterval: 0.2)
        let start = ContinuousClock.now
        announcer.stop()
        #expect(ContinuousClock.now - start < .milliseconds(2200))
    }

    @Test func theAnnouncementCarriesTheLoad() {
        let announcement = announcer(port: 1) { nil }.announcement(load: 42)
        #expect(announcement == API.RelayAnnouncement(publicKey: relayKey, port: 51821, endpoint: Endpoint("203.0.113.9:51821"),
                                                      capacity: 100, load: 42))
    }
}

final class LockedLoad: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Int?
    var value: Int? {
        get { lock.withLock { current } }
        set { lock.withLock { current = newValue } }
    }
}

/// An HTTP server on 127.0.0.1 that answers every request 204 and keeps them, in order, until
/// it is released (shutting the listening socket down ends its thread's accept).
final class RecordingHTTPServer: Sendable {
    final class Log: @unchecked Sendable {
        private let lock = NSLock()
        private var requests: [String] = []
        func append(_ request: String) { lock.withLock { requests.append(request) } }
        var all: [String] { lock.withLock { requests } }
    }

    let port: UInt16
    private let fd: Int32
    private let log = Log()

    init() throws {
        let (fd, port) = try LoopbackHTTPServer.listen(backlog: 16)
        self.fd = fd
        self.port = port
        let log = log
        Thread.detachNewThread {
            while true {
                let client = accept(fd, nil, nil)
                guard client >= 0 else { return }
                Self.serve(client, into: log)
            }
        }
    }

    /// One request per connection, as the answer's `Connection: close` tells the client.
    private static func serve(_ client: Int32, into log: Log) {
        defer { close(client) }
        var buffer = [UInt8](repeating: 0, count: 65536)
        var text = ""
        while !complete(text) {
            let n = read(client, &buffer, buffer.count)
            if n <= 0 { return }
            text += String(decoding: buffer[..<n], as: UTF8.self)
        }
        log.append(text)
        let answer = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
        _ = Array(answer.utf8).withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
    }

    private static func complete(_ text: String) -> Bool {
        guard let range = text.range(of: "\r\n\r\n") else { return false }
        let head = text[..<range.lowerBound].lowercased()
        guard let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
              let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) else { return true }
        return text[range.upperBound...].utf8.count >= length
    }

    func requests() -> [String] { log.all }

    deinit {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}
