import Foundation
import Testing
@testable import WireGuard

@Suite struct UAPITests {
    let privateHex = "e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a"
    let peerHex = "b85996fecc9c7f1fc6d2572a76eda11d59bcd20be8e543b15ce4bd85a8e75a33"
    let pskHex = "188515093e952f5f22e865cef3012e72f8b5f0b598ac0309d5dacce3b70fcf52"

    /// The reply wireguard-go gives for one configured peer (keys from the UAPI documentation).
    var getReply: String {
        """
        private_key=\(privateHex)
        listen_port=51820
        fwmark=0
        public_key=\(peerHex)
        preshared_key=\(pskHex)
        protocol_version=1
        endpoint=[abcd:23::33%2]:51820
        last_handshake_time_sec=1700000000
        last_handshake_time_nsec=500000000
        tx_bytes=38333
        rx_bytes=2224
        persistent_keepalive_interval=25
        allowed_ip=192.168.4.4/32
        allowed_ip=fd00::/64
        public_key=58402e695ba1772b1cc9309755f043251ea77fdcf10fbe63989ceb7e19321376
        preshared_key=0000000000000000000000000000000000000000000000000000000000000000
        protocol_version=1
        last_handshake_time_sec=0
        last_handshake_time_nsec=0
        tx_bytes=0
        rx_bytes=0
        persistent_keepalive_interval=0
        errno=0


        """
    }

    @Test func parsesGetReply() throws {
        // The scoped-address endpoint is not an Endpoint formnet accepts; use a plain one.
        let reply = getReply.replacingOccurrences(of: "[abcd:23::33%2]:51820", with: "[abcd:23::33]:51820")
        let device = try UAPI.parseGet(reply, name: "wg0")
        #expect(device.privateKey?.hex == privateHex)
        #expect(device.publicKey == PrivateKey(hex: privateHex)?.publicKey)
        #expect(device.listenPort == 51820)
        #expect(device.fwmark == 0)
        #expect(device.peers.count == 2)
        let first = device.peers[0]
        #expect(first.publicKey.hex == peerHex)
        #expect(first.presharedKey?.hex == pskHex)
        #expect(first.endpoint == Endpoint("[abcd:23::33]:51820"))
        #expect(first.lastHandshake == Date(timeIntervalSince1970: 1_700_000_000.5))
        #expect(first.txBytes == 38333)
        #expect(first.rxBytes == 2224)
        #expect(first.persistentKeepalive == 25)
        #expect(first.allowedIPs == [IPNetwork("192.168.4.4/32")!, IPNetwork("fd00::/64")!])
        let second = device.peers[1]
        #expect(second.presharedKey == nil)
        #expect(second.endpoint == nil)
        #expect(second.lastHandshake == nil)
        #expect(second.allowedIPs.isEmpty)
    }

    @Test func refusesMalformedGetReplies() {
        #expect(throws: WireGuardError.malformedReply("no errno line in reply")) {
            try UAPI.parseGet("listen_port=1\n\n", name: "wg0")
        }
        #expect(throws: WireGuardError.self) { try UAPI.parseGet("listen_port=99999\nerrno=0\n\n", name: "wg0") }
        #expect(throws: WireGuardError.self) { try UAPI.parseGet("public_key=zz\nerrno=0\n\n", name: "wg0") }
        #expect(throws: WireGuardError.self) { try UAPI.parseGet("garbage\nerrno=0\n\n", name: "wg0") }
        #expect(throws: WireGuardError.uapi(operation: "get wg0", errno: 22)) {
            try UAPI.parseGet("errno=-22\n\n", name: "wg0")
        }
    }

    @Test func encodesSetRequest() throws {
        let peer = try #require(PublicKey(hex: peerHex))
        let gone = try #require(PublicKey(hex: "58402e695ba1772b1cc9309755f043251ea77fdcf10fbe63989ceb7e19321376"))
        let update = DeviceUpdate(
            privateKey: PrivateKey(hex: privateHex), listenPort: 51820, fwmark: 0, replacePeers: true,
            peers: [
                PeerUpdate(publicKey: peer, presharedKey: PresharedKey(hex: pskHex),
                           endpoint: Endpoint("10.0.0.1:51820"), persistentKeepalive: 25,
                           replaceAllowedIPs: true, allowedIPs: [IPNetwork("10.1.2.3/16")!, IPNetwork("fd00::1/64")!]),
                .remove(gone),
                .setAllowedIPs(peer, []),
            ])
        #expect(UAPI.setRequest(update) == """
            set=1
            private_key=\(privateHex)
            listen_port=51820
            fwmark=0
            replace_peers=true
            public_key=\(peerHex)
            preshared_key=\(pskHex)
            endpoint=10.0.0.1:51820
            persistent_keepalive_interval=25
            replace_allowed_ips=true
            allowed_ip=10.1.0.0/16
            allowed_ip=fd00::/64
            public_key=58402e695ba1772b1cc9309755f043251ea77fdcf10fbe63989ceb7e19321376
            remove=true
            public_key=\(peerHex)
            update_only=true
            replace_allowed_ips=true


            """)
        #expect(UAPI.setRequest(DeviceUpdate()) == "set=1\n\n")
    }

    @Test func getAndSetRoundTripThroughASocket() throws {
        let daemon = try FakeUAPIDaemon(interface: "fn-test0", replies: [getReply.replacingOccurrences(of: "%2", with: ""), "errno=0\n\n", "errno=-22\n\n"])
        defer { daemon.stop() }
        let backend = UserspaceBackend(socketDirectory: daemon.directory)

        let device = try backend.device(named: "fn-test0")
        #expect(device.peers.map(\.publicKey.hex).first == peerHex)

        let update = DeviceUpdate(listenPort: 4242)
        try backend.apply(update, to: "fn-test0")

        #expect(throws: WireGuardError.uapi(operation: "configure fn-test0", errno: 22)) {
            try backend.apply(DeviceUpdate(listenPort: 1), to: "fn-test0")
        }
        #expect(daemon.requests() == [UAPI.getRequest, "set=1\nlisten_port=4242\n\n", "set=1\nlisten_port=1\n\n"])
        #expect(try backend.interfaces() == ["fn-test0"])
        #expect(throws: WireGuardError.interfaceNotFound("absent0")) { try backend.device(named: "absent0") }
    }

    @Test func truncatedReplyIsAnError() throws {
        let daemon = try FakeUAPIDaemon(interface: "fn-test1", replies: ["listen_port=1\n"])
        defer { daemon.stop() }
        let backend = UserspaceBackend(socketDirectory: daemon.directory)
        #expect(throws: WireGuardError.malformedReply("UAPI reply ended before its blank line")) {
            try backend.device(named: "fn-test1")
        }
    }

    @Test func netAdminCapabilityIsReadFromProcStatus() {
        #expect(Capabilities.netAdmin(inProcStatus: "Name:\tx\nCapEff:\t0000000000001000\n"))
        #expect(!Capabilities.netAdmin(inProcStatus: "CapEff:\t0000000000000000\n"))
        #expect(Capabilities.netAdmin(inProcStatus: "CapEff:\t000001ffffffffff\n"))
        #expect(!Capabilities.netAdmin(inProcStatus: "CapPrm:\t000001ffffffffff\n"))
    }
}

/// A stand-in for wireguard-go's UAPI listener: accepts one connection per canned reply,
/// records each request up to its blank line, answers, and closes.
final class FakeUAPIDaemon: @unchecked Sendable {
    let directory: String
    private let listener: Int32
    private let lock = NSLock()
    private var received: [String] = []
    private let thread: Thread

    init(interface: String, replies: [String]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("formnet-uapi-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = "\(directory)/\(interface).sock"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0, listen(fd, 8) == 0 else { throw WireGuardError.system(operation: "fake daemon", errno: errno) }
        listener = fd
        let box = RequestLog()
        thread = Thread {
            for reply in replies {
                let conn = accept(fd, nil, nil)
                if conn < 0 { return }
                var bytes = [UInt8]()
                var buffer = [UInt8](repeating: 0, count: 4096)
                while !(bytes.count >= 2 && bytes.suffix(2) == [10, 10]) {
                    let n = read(conn, &buffer, buffer.count)
                    if n <= 0 { break }
                    bytes += buffer[0..<n]
                }
                box.append(String(decoding: bytes, as: UTF8.self))
                _ = reply.withCString { write(conn, $0, strlen($0)) }
                close(conn)
            }
        }
        requestLog = box
        thread.start()
    }

    private let requestLog: RequestLog

    func requests() -> [String] { requestLog.all() }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        try? FileManager.default.removeItem(atPath: directory)
    }
}

final class RequestLog: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func append(_ s: String) { lock.withLock { items.append(s) } }
    func all() -> [String] { lock.withLock { items } }
}
